package cloud_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// whoami is one GetCallerIdentity through Do.
func whoami(ctx context.Context, s *cloud.Session) error {
	c, err := s.STS()
	if err != nil {
		return err
	}
	return s.Do(ctx, "sts:GetCallerIdentity", func() error {
		_, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		return err
	})
}

func statsFor(s *cloud.Session, api string) cloud.CallStats {
	for _, r := range s.Metrics().Snapshot() {
		if r.API == api {
			return r
		}
	}
	return cloud.CallStats{API: api}
}

func TestDoRidesOutAThrottlingStorm(t *testing.T) {
	f := newWorld(t, 0)
	s := f.session(t)
	f.w.Faults.Script(core.FaultRule{Action: "GetCallerIdentity", Count: 5, Status: 400, Code: "Throttling.User"})
	if err := whoami(context.Background(), s); err != nil {
		t.Fatalf("Do gave up: %v", err)
	}
	calls, errs, throttled := f.w.Stats.Sum("Sts", "GetCallerIdentity")
	if calls != 6 || errs != 5 || throttled != 5 {
		t.Fatalf("server saw calls=%d errors=%d throttled=%d, want 6/5/5", calls, errs, throttled)
	}
	got := statsFor(s, "sts:GetCallerIdentity")
	want := cloud.CallStats{API: "sts:GetCallerIdentity", Calls: 1, Attempts: 6, Retries: 5, Throttled: 5}
	got.LimiterWait = 0
	if got != want {
		t.Fatalf("metrics = %+v, want %+v", got, want)
	}
	if bp := s.Metrics().ByProduct(); len(bp) != 1 || bp[0].API != "sts" || bp[0].Attempts != 6 || bp[0].Throttled != 5 {
		t.Fatalf("by product = %+v", bp)
	}
}

func TestDoRetriesServerFaultsAndTimeouts(t *testing.T) {
	cases := []struct {
		name  string
		cfg   core.FaultConfig
		calls int64
	}{
		{"503 ServiceUnavailable", core.FaultConfig{Scripts: []core.FaultRule{{Action: "GetCallerIdentity", Count: 2, Status: 503, Code: "ServiceUnavailable"}}}, 3},
		{"500 InternalError", core.FaultConfig{Scripts: []core.FaultRule{{Action: "GetCallerIdentity", Count: 1, Status: 500, Code: "InternalError"}}}, 2},
		{"409 LimitExceeded.Frequency", core.FaultConfig{Scripts: []core.FaultRule{{Action: "GetCallerIdentity", Count: 2, Status: 409, Code: "LimitExceeded.Frequency"}}}, 3},
		{"dropped connection", core.FaultConfig{TimeoutHoldMs: 5, Scripts: []core.FaultRule{{Action: "GetCallerIdentity", Count: 2, Timeout: true}}}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newWorld(t, 0)
			f.w.Faults.Set(tc.cfg)
			s := f.session(t)
			if err := whoami(context.Background(), s); err != nil {
				t.Fatalf("Do gave up: %v", err)
			}
			if got := f.calls("Sts", "GetCallerIdentity"); got != tc.calls {
				t.Fatalf("server calls = %d, want %d", got, tc.calls)
			}
		})
	}
}

func TestDoGivesUpAtOnceOnPermanentErrors(t *testing.T) {
	cases := []struct {
		name string
		rule core.FaultRule
		code string
	}{
		{"invalid parameter", core.FaultRule{Action: "GetCallerIdentity", Count: 1, Status: 400, Code: "InvalidParameter"}, "InvalidParameter"},
		{"forbidden", core.FaultRule{Action: "GetCallerIdentity", Count: 1, Status: 403, Code: "Forbidden.RAM"}, "Forbidden.RAM"},
		{"not found", core.FaultRule{Action: "GetCallerIdentity", Count: 1, Status: 404, Code: "EntityNotExist.Role"}, "EntityNotExist.Role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newWorld(t, 0)
			f.w.Faults.Script(tc.rule)
			s := f.session(t)
			err := whoami(context.Background(), s)
			var se *sdkerrors.ServerError
			if !errors.As(err, &se) || se.ErrorCode() != tc.code {
				t.Fatalf("err = %v, want the SDK's ServerError %s", err, tc.code)
			}
			var gu *cloud.GiveUpError
			if errors.As(err, &gu) {
				t.Fatalf("a permanent error came back wrapped: %v", err)
			}
			if got := f.calls("Sts", "GetCallerIdentity"); got != 1 {
				t.Fatalf("server calls = %d, want exactly 1", got)
			}
			if m := statsFor(s, "sts:GetCallerIdentity"); m.Attempts != 1 || m.Failed != 1 || m.Retries != 0 {
				t.Fatalf("metrics = %+v", m)
			}
		})
	}
}

func TestDoStopsAtMaxAttempts(t *testing.T) {
	f := newWorld(t, 0)
	f.w.Faults.Script(core.FaultRule{Action: "GetCallerIdentity", Count: -1, Status: 500, Code: "InternalError"})
	s := f.session(t, cloud.WithRetryPolicy(cloud.RetryPolicy{MaxAttempts: 3, Base: time.Millisecond, Cap: time.Millisecond}))
	err := whoami(context.Background(), s)
	var gu *cloud.GiveUpError
	if !errors.As(err, &gu) || gu.Attempts != 3 || gu.Cause != nil {
		t.Fatalf("err = %v, want GiveUpError after 3 attempts", err)
	}
	if cloud.Code(err) != "InternalError" || cloud.Classify(err) != cloud.Retryable {
		t.Fatalf("the last SDK error is not visible through the wrapper: code %q class %v", cloud.Code(err), cloud.Classify(err))
	}
	if got := f.calls("Sts", "GetCallerIdentity"); got != 3 {
		t.Fatalf("server calls = %d", got)
	}
}

func TestDoRespectsContextDeadline(t *testing.T) {
	f := newWorld(t, 0)
	f.w.Faults.Script(core.FaultRule{Action: "GetCallerIdentity", Count: -1, Status: 400, Code: "Throttling.User"})
	s := f.session(t, cloud.WithRetryPolicy(cloud.RetryPolicy{MaxAttempts: 1 << 20, Base: 5 * time.Millisecond, Cap: 20 * time.Millisecond}))
	const budget = 150 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	err := whoami(ctx, s)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if cloud.Classify(err) != cloud.Throttled || cloud.Code(err) != "Throttling.User" {
		t.Fatalf("class %v code %q: the last error should show through", cloud.Classify(err), cloud.Code(err))
	}
	if elapsed > budget+100*time.Millisecond {
		t.Fatalf("Do ran %v past a %v deadline", elapsed, budget)
	}
	if calls := f.calls("Sts", "GetCallerIdentity"); calls < 3 {
		t.Fatalf("only %d attempts in %v", calls, elapsed)
	}

	// A context already over makes no call at all.
	before := f.calls("Sts", "GetCallerIdentity")
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := whoami(done, s); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if f.calls("Sts", "GetCallerIdentity") != before {
		t.Fatal("a call was made with a cancelled context")
	}
}

func TestLimitTable(t *testing.T) {
	r := cloud.NewRetrier(cloud.WithLimits(map[string]cloud.Limit{"sls:PutLogs": {PerSecond: 0}}))
	cases := []struct {
		api  string
		want cloud.Limit
	}{
		{"actiontrail:LookupEvents:1234567890123456", cloud.Limit{PerSecond: 2, Burst: 1}},
		{"actiontrail:LookupEvents", cloud.Limit{PerSecond: 2, Burst: 1}},
		{"actiontrail:DescribeTrails", cloud.Limit{PerSecond: 20, Burst: 20}},
		{"resourcemanager:ListAccounts", cloud.Limit{PerSecond: 20, Burst: 20}},
		{"sts:AssumeRole", cloud.Limit{PerSecond: 50, Burst: 50}},
		{"logaudit:AnalyzeAppLog", cloud.Limit{PerSecond: 5, Burst: 5}},
		{"sls:GetLogStore:p1", cloud.Limit{PerSecond: 100, Burst: 100}},
		{"sls:PutLogs", cloud.Limit{}},
		{"oss:PutObject", cloud.Limit{PerSecond: 100, Burst: 100}},
		{"somethingelse:X", cloud.Limit{PerSecond: 20, Burst: 20}},
		{"actiontrailx:LookupEvents", cloud.Limit{PerSecond: 20, Burst: 20}}, // prefixes match whole segments only
	}
	for _, tc := range cases {
		if got := r.LimitFor(tc.api); got != tc.want {
			t.Errorf("LimitFor(%q) = %+v, want %+v", tc.api, got, tc.want)
		}
	}
}

func TestLimiterKeepsBurstUnderRate(t *testing.T) {
	const perSecond, burst, n = 100.0, 5, 30
	r := cloud.NewRetrier(cloud.WithLimits(map[string]cloud.Limit{"t": {PerSecond: perSecond, Burst: burst}}))
	var mu sync.Mutex
	var at []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.Do(context.Background(), "t:Call", func() error {
				mu.Lock()
				at = append(at, time.Now())
				mu.Unlock()
				return nil
			})
		}()
	}
	wg.Wait()
	// By any time t after the start at most burst + rate*t calls may have begun. (Scheduler
	// stalls can only make calls late, never early, so this bound is exact, not statistical.)
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for k, ts := range at {
		earliest := time.Duration(float64(k+1-burst) / perSecond * float64(time.Second))
		if got := ts.Sub(start); got < earliest-2*time.Millisecond {
			t.Fatalf("call %d began %v after the start; the rate allows it no sooner than %v", k+1, got, earliest)
		}
	}
	if wait := r.Metrics().Total().LimiterWait; wait == 0 {
		t.Fatal("limiter waits were not counted")
	}
}

func TestLimiterBucketsArePerKey(t *testing.T) {
	// LookupEvents-like: 1 token, slow refill, one bucket per account in the key.
	r := cloud.NewRetrier(cloud.WithLimits(map[string]cloud.Limit{"x:Lookup": {PerSecond: 10, Burst: 1}}))
	ctx := context.Background()
	nop := func() error { return nil }
	start := time.Now()
	for _, acct := range []string{"111", "222", "333"} {
		if err := r.Do(ctx, "x:Lookup:"+acct, nop); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("first calls for three accounts took %v: buckets are shared", d)
	}
	start = time.Now()
	if err := r.Do(ctx, "x:Lookup:111", nop); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 70*time.Millisecond {
		t.Fatalf("second call for one account waited only %v at 10/s", d)
	}
	// A deadline the limiter cannot meet fails fast without calling fn.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	called := false
	_ = r.Do(ctx, "x:Lookup:222", nop) // drain 222's token
	err := r.Do(short, "x:Lookup:222", func() error { called = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || called {
		t.Fatalf("err = %v, called = %v", err, called)
	}
}

func TestBackoffGrowsToCap(t *testing.T) {
	p := cloud.RetryPolicy{MaxAttempts: 8, Base: 100 * time.Millisecond, Cap: 5 * time.Second}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := p.Backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if d := cloud.DefaultRetryPolicy; d.MaxAttempts != 8 || d.Base != 100*time.Millisecond || d.Cap != 5*time.Second {
		t.Errorf("DefaultRetryPolicy = %+v", d)
	}
}
