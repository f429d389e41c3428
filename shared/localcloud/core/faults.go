package core

import (
	"math/rand"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// FaultRule is a scripted failure: "fail the next Count calls of Action with Code".
type FaultRule struct {
	Product string `json:"product,omitempty"` // empty matches any product
	Action  string `json:"action,omitempty"`  // empty matches any action
	Account string `json:"account,omitempty"` // empty matches any caller
	Count   int    `json:"count"`             // remaining; negative means forever
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Timeout bool   `json:"timeout,omitempty"` // hold the request, then drop the connection
}

// RateLimit is a token bucket; PerAccount gives each caller account its own bucket.
type RateLimit struct {
	Product    string  `json:"product,omitempty"`
	Action     string  `json:"action,omitempty"`
	PerSecond  float64 `json:"perSecond"`
	Burst      int     `json:"burst,omitempty"`
	PerAccount bool    `json:"perAccount,omitempty"`
}

// FaultConfig is everything an operator or a test can set; it is also the JSON of POST /faults.
type FaultConfig struct {
	LatencyMs       int            `json:"latencyMs,omitempty"`
	ActionLatencyMs map[string]int `json:"actionLatencyMs,omitempty"`
	ErrorRate       float64        `json:"errorRate,omitempty"`   // share of calls answered with a 5xx
	TimeoutRate     float64        `json:"timeoutRate,omitempty"` // share of calls dropped without an answer
	ThrottleRate    float64        `json:"throttleRate,omitempty"`
	RateLimits      []RateLimit    `json:"rateLimits,omitempty"`
	Scripts         []FaultRule    `json:"scripts,omitempty"`
	Seed            int64          `json:"seed,omitempty"`
	// TimeoutHold is how long a dropped call is held first; short by default so tests stay fast.
	TimeoutHoldMs int `json:"timeoutHoldMs,omitempty"`
}

// Decision is what the fault layer says about one call before it runs.
type Decision struct {
	Latency   time.Duration
	Throttled bool
	Timeout   bool
	Hold      time.Duration
	Status    int
	Code      string
	Message   string
}

// Failed reports whether the call must not run.
func (d Decision) Failed() bool { return d.Throttled || d.Timeout || d.Code != "" || d.Status != 0 }

// Faults holds the configured latency, limits and failures. Safe for concurrent use.
type Faults struct {
	mu       sync.Mutex
	cfg      FaultConfig
	rnd      *rand.Rand
	limiters map[string]*rate.Limiter
}

func NewFaults() *Faults {
	return &Faults{rnd: rand.New(rand.NewSource(1)), limiters: map[string]*rate.Limiter{}}
}

// Set replaces the whole configuration (buckets start full again).
func (f *Faults) Set(cfg FaultConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = cfg
	f.limiters = map[string]*rate.Limiter{}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	f.rnd = rand.New(rand.NewSource(seed))
}

// Config returns a copy of the configuration with the scripts' remaining counts.
func (f *Faults) Config() FaultConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cfg
	c.Scripts = append([]FaultRule(nil), f.cfg.Scripts...)
	return c
}

// Script appends a scripted failure.
func (f *Faults) Script(r FaultRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg.Scripts = append(f.cfg.Scripts, r)
}

// AddRateLimit appends a token bucket.
func (f *Faults) AddRateLimit(l RateLimit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg.RateLimits = append(f.cfg.RateLimits, l)
}

func matches(pattern, v string) bool { return pattern == "" || strings.EqualFold(pattern, v) }

// Decide says what happens to one call of product/action by account.
func (f *Faults) Decide(product, action, account string) Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d Decision
	d.Latency = time.Duration(f.cfg.LatencyMs) * time.Millisecond
	if ms, ok := f.cfg.ActionLatencyMs[action]; ok {
		d.Latency = time.Duration(ms) * time.Millisecond
	}
	d.Hold = time.Duration(f.cfg.TimeoutHoldMs) * time.Millisecond
	if d.Hold == 0 {
		d.Hold = 200 * time.Millisecond
	}
	for i := range f.cfg.Scripts {
		r := &f.cfg.Scripts[i]
		if r.Count == 0 || !matches(r.Product, product) || !matches(r.Action, action) || !matches(r.Account, account) {
			continue
		}
		if r.Count > 0 {
			r.Count--
		}
		if r.Timeout {
			d.Timeout = true
			return d
		}
		d.Status, d.Code, d.Message = r.Status, r.Code, r.Message
		if strings.Contains(r.Code, "Throttling") || r.Code == "LimitExceeded.Frequency" {
			d.Throttled = true
		}
		return d
	}
	for i, l := range f.cfg.RateLimits {
		if !matches(l.Product, product) || !matches(l.Action, action) {
			continue
		}
		key := strings.Join([]string{string(rune('0' + i%10)), product, action}, "|")
		if l.PerAccount {
			key += "|" + account
		}
		lim, ok := f.limiters[key]
		if !ok {
			burst := l.Burst
			if burst <= 0 {
				burst = max(1, int(l.PerSecond))
			}
			lim = rate.NewLimiter(rate.Limit(l.PerSecond), burst)
			f.limiters[key] = lim
		}
		if !lim.Allow() {
			d.Throttled = true
			return d
		}
	}
	if f.cfg.ThrottleRate > 0 && f.rnd.Float64() < f.cfg.ThrottleRate {
		d.Throttled = true
		return d
	}
	if f.cfg.TimeoutRate > 0 && f.rnd.Float64() < f.cfg.TimeoutRate {
		d.Timeout = true
		return d
	}
	if f.cfg.ErrorRate > 0 && f.rnd.Float64() < f.cfg.ErrorRate {
		if f.rnd.Intn(2) == 0 {
			d.Status, d.Code, d.Message = 500, "InternalError", "The request processing has failed due to some unknown error."
		} else {
			d.Status, d.Code, d.Message = 503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
		}
	}
	return d
}

// StatKey identifies one counter row.
type StatKey struct {
	Product string `json:"product"`
	Action  string `json:"action"`
	Account string `json:"account"`
}

// StatRow is one row of GET /stats.
type StatRow struct {
	StatKey
	Write     bool  `json:"write"`
	Calls     int64 `json:"calls"`
	Errors    int64 `json:"errors"`
	Throttled int64 `json:"throttled"`
}

// Stats counts calls per product, action and caller account.
type Stats struct {
	mu   sync.Mutex
	rows map[StatKey]*StatRow
}

func NewStats() *Stats { return &Stats{rows: map[StatKey]*StatRow{}} }

// Add counts one call; status is the HTTP status answered.
func (s *Stats) Add(product, action, account string, write bool, status int, throttled bool) {
	k := StatKey{product, action, account}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[k]
	if !ok {
		r = &StatRow{StatKey: k, Write: write}
		s.rows[k] = r
	}
	r.Calls++
	if status >= 300 {
		r.Errors++
	}
	if throttled {
		r.Throttled++
	}
}

// Snapshot returns every row, ordered.
func (s *Stats) Snapshot() []StatRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StatRow, 0, len(s.rows))
	for _, r := range s.rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].StatKey, out[j].StatKey
		if a.Product != b.Product {
			return a.Product < b.Product
		}
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		return a.Account < b.Account
	})
	return out
}

// Reset clears every counter.
func (s *Stats) Reset() {
	s.mu.Lock()
	s.rows = map[StatKey]*StatRow{}
	s.mu.Unlock()
}

// Sum adds the rows matching product and action (empty matches all).
func (s *Stats) Sum(product, action string) (calls, errors, throttled int64) {
	for _, r := range s.Snapshot() {
		if matches(product, r.Product) && matches(action, r.Action) {
			calls += r.Calls
			errors += r.Errors
			throttled += r.Throttled
		}
	}
	return
}

// WriteCalls counts calls of write actions (successful or not).
func (s *Stats) WriteCalls() int64 {
	var n int64
	for _, r := range s.Snapshot() {
		if r.Write {
			n += r.Calls
		}
	}
	return n
}
