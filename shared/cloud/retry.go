package cloud

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// RetryPolicy bounds Do's retries: at most MaxAttempts calls, sleeping a random time in
// [0, min(Cap, Base*2^(attempt-1))] between them ("full jitter"), and never past ctx's deadline.
type RetryPolicy struct {
	MaxAttempts int
	Base        time.Duration
	Cap         time.Duration
}

// DefaultRetryPolicy: 8 attempts, 100 ms base, 5 s cap (about 12 s of sleep at worst).
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 8, Base: 100 * time.Millisecond, Cap: 5 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetryPolicy.Base
	}
	if p.Cap < p.Base {
		p.Cap = max(p.Base, DefaultRetryPolicy.Cap)
	}
	return p
}

// Backoff is the upper bound of the sleep after the given failed attempt (1-based).
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	exp := math.Min(float64(p.Base)*math.Pow(2, float64(attempt-1)), float64(p.Cap))
	return time.Duration(exp)
}

// Limit is a token bucket: PerSecond sustained, Burst at once. PerSecond <= 0 means unlimited.
type Limit struct {
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"`
}

// DefaultLimits is the rate table Do applies, keyed by API key prefix. Each distinct API key
// gets its own bucket; its rate comes from the longest ':'-separated prefix in the table
// ("" is the fallback). Put the account in the key ("actiontrail:LookupEvents:<account>") to get
// one bucket per account, as ActionTrail's 2 calls/s LookupEvents limit is per account.
//
//	""                          20/s  burst 20   anything not listed
//	resourcemanager             20/s  burst 20
//	actiontrail                 20/s  burst 20
//	actiontrail:LookupEvents     2/s  burst 1    per account: key actiontrail:LookupEvents:<account>
//	sts                         50/s  burst 50
//	ram                         20/s  burst 20
//	logaudit                     5/s  burst 5
//	sls                        100/s  burst 100
//	oss                        100/s  burst 100
func DefaultLimits() map[string]Limit {
	return map[string]Limit{
		"":                         {20, 20},
		"resourcemanager":          {20, 20},
		"actiontrail":              {20, 20},
		"actiontrail:LookupEvents": {2, 1},
		"sts":                      {50, 50},
		"ram":                      {20, 20},
		"logaudit":                 {5, 5},
		"sls":                      {100, 100},
		"oss":                      {100, 100},
	}
}

// Retrier is Do: per-API rate limits, retries with backoff, and counters. Safe for concurrent
// use; a Session and every member session derived from it share one.
type Retrier struct {
	policy  RetryPolicy
	limits  map[string]Limit
	log     zerolog.Logger
	metrics *Metrics
	jitter  func(n int64) int64

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRetrier makes a Retrier; WithRetryPolicy, WithLimits and WithLogger apply.
func NewRetrier(opts ...Option) *Retrier {
	cfg := newConfig(opts)
	return newRetrier(cfg)
}

func newRetrier(cfg *config) *Retrier {
	return &Retrier{
		policy:  cfg.retry.withDefaults(),
		limits:  cfg.limits,
		log:     cfg.log,
		metrics: &Metrics{byAPI: map[string]*CallStats{}},
		jitter:  rand.Int64N,
		buckets: map[string]*rate.Limiter{},
	}
}

// Metrics returns the counters of every call made through this Retrier.
func (r *Retrier) Metrics() *Metrics { return r.metrics }

// LimitFor is the rate applied to an API key.
func (r *Retrier) LimitFor(api string) Limit {
	key := api
	for {
		if l, ok := r.limits[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, ':')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return r.limits[""]
}

func (r *Retrier) bucket(api string) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.buckets[api]
	if !ok {
		l := r.LimitFor(api)
		if l.PerSecond <= 0 {
			b = rate.NewLimiter(rate.Inf, 1)
		} else {
			b = rate.NewLimiter(rate.Limit(l.PerSecond), max(1, l.Burst))
		}
		r.buckets[api] = b
	}
	return b
}

// Do calls fn until it succeeds, fails with an error that retrying cannot fix, runs out of
// attempts, or would outlive ctx. Every attempt first takes a token from api's bucket. api is
// "<product>:<Action>[:<account>]", e.g. "resourcemanager:ListAccounts" (see DefaultLimits).
//
// A permanent error comes back as fn returned it. When Do gives up on a retryable error, the
// error wraps the last one (errors.As still finds the SDK error) and, if ctx ended or its
// deadline was too near for another attempt, ctx's error too.
func (r *Retrier) Do(ctx context.Context, api string, fn func() error) error {
	stats := r.metrics.begin(api)
	lim := r.bucket(api)
	var last error
	for attempt := 1; ; attempt++ {
		waitStart := time.Now()
		if err := lim.Wait(ctx); err != nil {
			stats.add(func(s *CallStats) { s.Failed++ })
			return giveUp(api, attempt-1, last, fmt.Errorf("waiting for the %s rate limiter: %w", api, ctxErr(ctx)))
		}
		if w := time.Since(waitStart); w > time.Millisecond {
			stats.add(func(s *CallStats) { s.LimiterWait += w })
		}
		err := fn()
		class := Classify(err)
		stats.add(func(s *CallStats) {
			s.Attempts++
			if attempt > 1 {
				s.Retries++
			}
			if class == Throttled {
				s.Throttled++
			}
		})
		if err == nil {
			return nil
		}
		last = err
		if !class.ShouldRetry() || ctx.Err() != nil {
			stats.add(func(s *CallStats) { s.Failed++ })
			if ctx.Err() != nil && class.ShouldRetry() {
				return giveUp(api, attempt, last, ctx.Err())
			}
			return err
		}
		if attempt >= r.policy.MaxAttempts {
			stats.add(func(s *CallStats) { s.Failed++ })
			return giveUp(api, attempt, last, nil)
		}
		delay := r.delay(attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			stats.add(func(s *CallStats) { s.Failed++ })
			return giveUp(api, attempt, last, context.DeadlineExceeded)
		}
		r.log.Debug().Str("api", api).Int("attempt", attempt).Str("code", Code(err)).
			Stringer("class", class).Dur("backoff", delay).Msg("retrying")
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			stats.add(func(s *CallStats) { s.Failed++ })
			return giveUp(api, attempt, last, ctx.Err())
		case <-t.C:
		}
	}
}

// delay draws the full-jitter sleep after a failed attempt.
func (r *Retrier) delay(attempt int) time.Duration {
	upper := r.policy.Backoff(attempt)
	if upper <= 0 {
		return 0
	}
	return time.Duration(r.jitter(int64(upper) + 1))
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// rate.Limiter refuses to wait past the deadline before the deadline arrives.
	return context.DeadlineExceeded
}

// GiveUpError is what Do returns when it stops retrying a retryable error.
type GiveUpError struct {
	API      string
	Attempts int
	Last     error // the last error fn returned; nil if fn never ran
	Cause    error // ctx's error when ctx ended it, else nil
}

func (e *GiveUpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: gave up after %d attempt(s)", e.API, e.Attempts)
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	if e.Last != nil {
		fmt.Fprintf(&b, ": last error: %v", e.Last)
	}
	return b.String()
}

// Unwrap exposes both the last SDK error and ctx's error to errors.Is/As.
func (e *GiveUpError) Unwrap() []error {
	var out []error
	if e.Last != nil {
		out = append(out, e.Last)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

func giveUp(api string, attempts int, last, cause error) error {
	return &GiveUpError{API: api, Attempts: attempts, Last: last, Cause: cause}
}

// CallStats counts the calls made through Do for one API key.
type CallStats struct {
	API         string        `json:"api"`
	Calls       int64         `json:"calls"`       // Do invocations
	Attempts    int64         `json:"attempts"`    // fn invocations
	Retries     int64         `json:"retries"`     // attempts after the first
	Throttled   int64         `json:"throttled"`   // attempts answered with a throttling code
	Failed      int64         `json:"failed"`      // Do invocations that returned an error
	LimiterWait time.Duration `json:"limiterWait"` // time spent waiting for the client-side rate limiter
}

// Metrics holds CallStats per API key. Safe for concurrent use.
type Metrics struct {
	mu    sync.Mutex
	byAPI map[string]*CallStats
}

type statsHandle struct {
	m *Metrics
	s *CallStats
}

func (m *Metrics) begin(api string) statsHandle {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byAPI[api]
	if !ok {
		s = &CallStats{API: api}
		m.byAPI[api] = s
	}
	s.Calls++
	return statsHandle{m, s}
}

func (h statsHandle) add(f func(*CallStats)) {
	h.m.mu.Lock()
	f(h.s)
	h.m.mu.Unlock()
}

// Snapshot returns a copy of every row, ordered by API key.
func (m *Metrics) Snapshot() []CallStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]CallStats, 0, len(m.byAPI))
	for _, s := range m.byAPI {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].API < out[j].API })
	return out
}

// Total adds every row up (API is empty).
func (m *Metrics) Total() CallStats {
	var t CallStats
	for _, s := range m.Snapshot() {
		t.merge(s)
	}
	return t
}

func (t *CallStats) merge(s CallStats) {
	t.Calls += s.Calls
	t.Attempts += s.Attempts
	t.Retries += s.Retries
	t.Throttled += s.Throttled
	t.Failed += s.Failed
	t.LimiterWait += s.LimiterWait
}

// ByProduct folds rows by their first key segment ("sts", "actiontrail", ...), which keeps a
// report short when API keys carry account ids.
func (m *Metrics) ByProduct() []CallStats {
	acc := map[string]*CallStats{}
	for _, s := range m.Snapshot() {
		p, _, _ := strings.Cut(s.API, ":")
		t, ok := acc[p]
		if !ok {
			t = &CallStats{API: p}
			acc[p] = t
		}
		t.merge(s)
	}
	out := make([]CallStats, 0, len(acc))
	for _, t := range acc {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].API < out[j].API })
	return out
}
