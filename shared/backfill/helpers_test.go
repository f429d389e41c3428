package backfill_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/state"
)

const stateBucket = "auditwarden-state"

var fastRetry = cloud.RetryPolicy{MaxAttempts: 20, Base: time.Millisecond, Cap: 5 * time.Millisecond}

// queue is an Invoker that keeps the requests for the test to run, as FC would run them.
type queue struct {
	mu    sync.Mutex
	reqs  []backfill.StepRequest
	calls int
	fn    string
}

func (q *queue) InvokeAsync(_ context.Context, function string, payload []byte) error {
	req, err := backfill.ParseStepRequest(payload)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reqs = append(q.reqs, req)
	q.calls++
	q.fn = function
	return nil
}

func (q *queue) take() []backfill.StepRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.reqs
	q.reqs = nil
	return out
}

// peek is the requests waiting, left in place.
func (q *queue) peek() []backfill.StepRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.reqs)
}

func (q *queue) push(r backfill.StepRequest) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reqs = append(q.reqs, r)
}

type fixture struct {
	srv     *localcloud.Server
	clock   *core.ManualClock // nil: the wall clock
	t0      time.Time         // world time when the fixture started: seeded history is older
	sess    *cloud.Session
	store   *state.Store
	pol     *policy.Policy
	q       *queue
	mgmt    string
	members []string // active members, sorted
	opts    []backfill.Option
	log     zerolog.Logger
}

type setup struct {
	opts       localcloud.Options
	manual     bool // a manual world clock, moved by the runner's waits
	realLimits bool // keep cloud's LookupEvents limit (2/s per account)
	method     string
	days       int
}

func start(t *testing.T, s setup) *fixture {
	t.Helper()
	o := s.opts
	o.NoTLS = true
	f := &fixture{q: &queue{}, log: zerolog.Nop()}
	if testing.Verbose() && debugLogs {
		f.log = zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
	}
	if s.manual {
		f.clock = core.NewManualClock(time.Now().UTC().Truncate(time.Second))
		o.Clock = f.clock
	}
	srv, err := localcloud.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f.srv = srv
	f.t0 = srv.World.Now()
	info := srv.CloudInfo()
	f.mgmt = info.ManagementAccountID
	limits := map[string]cloud.Limit{"": {}, "actiontrail": {}, "sts": {}, "ram": {}, "resourcemanager": {}, "sls": {}, "oss": {}}
	if !s.realLimits {
		limits["actiontrail:LookupEvents"] = cloud.Limit{}
	}
	sopts := []cloud.Option{cloud.WithRetryPolicy(fastRetry), cloud.WithLimits(limits), cloud.WithSLSRetryTimeout(time.Second)}
	if f.clock != nil {
		sopts = append(sopts, cloud.WithClock(f.clock))
	}
	f.sess, err = info.Session(sopts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.OSS.CreateBucket(f.mgmt, stateBucket, "private"); err != nil {
		t.Fatal(err)
	}
	ossClient, err := f.sess.OSS()
	if err != nil {
		t.Fatal(err)
	}
	stOpts := []state.Option{state.WithRetrier(f.sess.Retrier())}
	if f.clock != nil {
		stOpts = append(stOpts, state.WithClock(f.clock))
	}
	f.store = state.New(ossClient, stateBucket, "aw", stOpts...)

	f.pol = policy.Default(f.mgmt, info.Region)
	if s.method != "" {
		f.pol.Backfill.Method = s.method
	}
	if s.days != 0 {
		f.pol.Backfill.Days = s.days
	}
	if err := logstore.New(f.sess).CreateProject(context.Background(), f.pol.Backfill.Project, "central audit"); err != nil {
		t.Fatal(err)
	}
	for _, m := range srv.Seeded.Members {
		if m.Status == "CreateSuccess" || m.Status == "InviteSuccess" {
			f.members = append(f.members, m.AccountID)
		}
	}
	sort.Strings(f.members)

	f.opts = []backfill.Option{backfill.WithReserve(0, 0), backfill.WithPollInterval(time.Second), backfill.WithFunction("backfill")}
	if f.clock != nil {
		f.opts = append(f.opts, backfill.WithClock(f.clock), backfill.WithSleep(func(ctx context.Context, d time.Duration) error {
			f.clock.Advance(d)
			return ctx.Err()
		}))
	}
	return f
}

func (f *fixture) runner(extra ...backfill.Option) *backfill.Runner {
	return backfill.New(f.sess, f.store, f.pol, f.q, f.log, append(append([]backfill.Option{}, f.opts...), extra...)...)
}

// drain runs the queued invocations, each round's side by side as FC would, until none is left.
// mk makes each invocation's Runner; onErr sees each step's error and says whether FC retries it.
func (f *fixture) drain(t *testing.T, mk func() *backfill.Runner, onErr func(backfill.StepRequest, error) bool) int {
	t.Helper()
	steps := 0
	for round := 0; ; round++ {
		reqs := f.q.take()
		if len(reqs) == 0 {
			return steps
		}
		if round > 500 {
			t.Fatalf("the step chain does not end: %d rounds", round)
		}
		var wg sync.WaitGroup
		for _, req := range reqs {
			steps++
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				_, err := mk().Step(ctx, req)
				if err == nil {
					return
				}
				if onErr != nil && onErr(req, err) {
					f.q.push(req) // FC retries a failed async invocation
					return
				}
				t.Errorf("step %v: %v", req.Accounts, err)
			}()
		}
		wg.Wait()
	}
}

// counted asks SLS through GetLogs, as any user would, how many logs match query in [from, to)
// and how many distinct event ids they hold.
func (f *fixture) counted(t *testing.T, project, store, query string, from, to time.Time) (n, distinct int64) {
	t.Helper()
	rows, err := logstore.New(f.sess).Query(context.Background(), project, store, from, to,
		query+` | select count(*) as n, count(distinct "event.eventId") as d`, 0)
	if err != nil || len(rows) != 1 {
		t.Fatalf("count query: %v %v", rows, err)
	}
	n, err1 := strconv.ParseInt(rows[0]["n"], 10, 64)
	distinct, err2 := strconv.ParseInt(rows[0]["d"], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("count query answered %v", rows[0])
	}
	return n, distinct
}

// stored is every event id in a Logstore by topic, read with localcloud's accessor (GetLogs
// pages of 100 would take seconds for the tens of thousands of logs the big tests write).
// field is the JSON key holding the member id when the topic does not (delivery jobs).
func (f *fixture) stored(t *testing.T, project, store, field string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, l := range f.srv.SLS.Logs(project, store) {
		raw, ok := l.Get("event")
		var ev struct {
			EventID            string `json:"eventId"`
			RecipientAccountID string `json:"recipientAccountId"`
		}
		if !ok || json.Unmarshal([]byte(raw), &ev) != nil || ev.EventID == "" {
			t.Fatalf("a log without an event record: %+v", l)
		}
		key := l.Topic
		if field == "recipientAccountId" {
			key = ev.RecipientAccountID
		}
		out[key] = append(out[key], ev.EventID)
	}
	return out
}

// recorded is the account's history in [from, to) as localcloud holds it.
func (f *fixture) recorded(account string, from, to time.Time) map[string]bool {
	out := map[string]bool{}
	for _, ev := range f.srv.World.Recorder.Window(account, from, to) {
		out[ev.EventID] = true
	}
	return out
}

// exact checks that ids hold each of want once and nothing else.
func exact(t *testing.T, account string, ids []string, want map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	var dups, extra, missing int
	for id, n := range seen {
		if n > 1 {
			dups++
		}
		if !want[id] {
			extra++
		}
	}
	for id := range want {
		if seen[id] == 0 {
			missing++
		}
	}
	if dups+extra+missing > 0 || len(ids) != len(want) {
		t.Errorf("account %s: %d logs for %d events: %d duplicated, %d unexpected, %d missing", account, len(ids), len(want), dups, extra, missing)
	}
}

func progressOf(t *testing.T, ps []backfill.Progress, account string) backfill.Progress {
	t.Helper()
	for _, p := range ps {
		if p.AccountID == account {
			return p
		}
	}
	t.Fatalf("no progress for account %s in %+v", account, ps)
	return backfill.Progress{}
}

func isKilled(err error) bool { return errors.Is(err, backfill.ErrKilled) }

// settle waits for localcloud's counters to catch up: it counts a call after answering it.
func (f *fixture) settle() {
	total := func() int64 { c, _, _ := f.srv.World.Stats.Sum("", ""); return c }
	prev := total()
	for i := 0; i < 100; i++ {
		time.Sleep(2 * time.Millisecond)
		cur := total()
		if cur == prev {
			return
		}
		prev = cur
	}
}

// writes counts the write calls localcloud served: RPC writes and object PUTs and deletes.
func (f *fixture) writes() int64 {
	puts, _, _ := f.srv.World.Stats.Sum("oss", "PutObject")
	dels, _, _ := f.srv.World.Stats.Sum("oss", "DeleteMultipleObjects")
	return f.srv.World.Stats.WriteCalls() + puts + dels
}

var debugLogs = false
