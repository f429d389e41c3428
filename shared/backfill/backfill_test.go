package backfill_test

import (
	"context"
	"errors"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// TestLookupCopiesEveryMemberExactlyOnce: 20 members (and the central account) with 90 days of
// history each; every event of each window lands in the backfill Logstore once, under the
// member's topic, and the job's count says so.
func TestLookupCopiesEveryMemberExactlyOnce(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 20, HistoryDays: 90, HistoryPerDay: 8, Seed: 11, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodLookup,
	})
	ctx := context.Background()
	mk := func() *backfill.Runner { return f.runner(backfill.WithSliceLength(30 * 24 * time.Hour)) }
	started, err := mk().Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// One step per 10 accounts (the Runner's parallelism), every account in exactly one of them.
	if len(started) != len(f.members)+1 || f.q.calls != 3 || f.q.fn != "backfill" {
		t.Fatalf("Start: %d jobs for %d members + central, %d invocations of %q; want 3 (21 accounts, 10 a step)", len(started), len(f.members), f.q.calls, f.q.fn)
	}
	enqueued := map[string]int{}
	for _, req := range f.q.peek() {
		if len(req.Accounts) > 10 {
			t.Errorf("a step of %d accounts; at most 10", len(req.Accounts))
		}
		for _, a := range req.Accounts {
			enqueued[a]++
		}
	}
	for _, a := range append([]string{f.mgmt}, f.members...) {
		if enqueued[a] != 1 {
			t.Errorf("account %s enqueued %d times; want once", a, enqueued[a])
		}
	}
	for _, p := range started {
		if p.State != backfill.StateQueued || p.Method != policy.MethodLookup {
			t.Fatalf("a new job: %+v", p)
		}
	}
	f.drain(t, mk, nil)

	status, err := mk().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := f.pol.Backfill
	byTopic := f.stored(t, b.Project, b.Logstore, "")
	for _, account := range append([]string{f.mgmt}, f.members...) {
		p := progressOf(t, status, account)
		want := f.recorded(account, p.WindowFrom, p.WindowTo)
		if account != f.mgmt && len(want) != 90*8 {
			t.Fatalf("member %s has %d seeded events in the window, want %d", account, len(want), 90*8)
		}
		if p.State != backfill.StateDone || p.EventsCopied != int64(len(want)) || !p.CoveredUntil.Equal(p.WindowTo) || p.ETA != 0 {
			t.Errorf("account %s: %+v, want done with %d events", account, p, len(want))
		}
		exact(t, account, byTopic[account], want)
		n, distinct := f.counted(t, b.Project, b.Logstore, `__topic__: "`+account+`"`, p.WindowFrom, p.WindowTo)
		if n != int64(len(want)) || distinct != n {
			t.Errorf("account %s: SLS counts %d logs, %d distinct event ids; want %d", account, n, distinct, len(want))
		}
	}
	if len(byTopic) != len(f.members)+1 {
		t.Errorf("the backfill Logstore has %d topics, want one per account (%d)", len(byTopic), len(f.members)+1)
	}
	if _, _, throttled := f.srv.World.Stats.Sum("Actiontrail", "LookupEvents"); throttled != 0 {
		t.Errorf("LookupEvents throttled %d times", throttled)
	}
}

// TestDeliveryJobCopiesEveryMemberExactlyOnce: the same organization through data backfill
// jobs: a trail in each member delivering to the central project through the delivery role,
// one job per account, polled to completion; the trail's Logstore then holds each account's
// window once, and the backfill trails are gone again.
func TestDeliveryJobCopiesEveryMemberExactlyOnce(t *testing.T) {
	f := start(t, setup{
		// Three events a day: localcloud answers the per-member searches of one shared Logstore
		// by reading every record's JSON, so the history is kept lean.
		opts:   localcloud.Options{Members: 20, HistoryDays: 90, HistoryPerDay: 3, Seed: 12},
		manual: true, method: policy.MethodDeliveryJob,
	})
	ctx := context.Background()
	if _, err := f.runner().Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)

	status, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := f.pol.Backfill
	store := "actiontrail_" + b.TrailName
	byMember := f.stored(t, b.Project, store, "recipientAccountId")
	for i, account := range append([]string{f.mgmt}, f.members...) {
		p := progressOf(t, status, account)
		if p.State != backfill.StateDone || p.Method != policy.MethodDeliveryJob {
			t.Fatalf("account %s: %+v", account, p)
		}
		// The job copies ActionTrail's window: 90 days up to when the trail took effect. That is
		// the seeded history plus auditwarden's own CreateTrail, made before the trail started.
		want := f.recorded(account, p.WindowFrom, p.WindowTo)
		seeded := f.recorded(account, p.WindowFrom, f.t0)
		if account != f.mgmt && len(seeded) != 90*3 {
			t.Errorf("member %s: %d seeded events in the job window %s..%s, want %d", account, len(seeded), p.WindowFrom, p.WindowTo, 90*3)
		}
		for _, ev := range f.srv.World.Recorder.Window(account, f.t0, p.WindowTo) {
			// Members: only the trail's creation; the central account also holds the test's
			// and the runner's own setup calls (CreateProject, CreateRole, AssumeRole, ...).
			if !strings.Contains(ev.UserAgent, "auditwarden") || (account != f.mgmt && ev.EventName != "CreateTrail") {
				t.Errorf("account %s: the job window holds %s by %q, not seeded history nor auditwarden's own setup", account, ev.EventName, ev.UserAgent)
			}
		}
		if p.EventsCopied != int64(len(want)) {
			t.Errorf("account %s: %d events copied, want %d", account, p.EventsCopied, len(want))
		}
		var inWindow []string
		for _, id := range byMember[account] {
			if want[id] {
				inWindow = append(inWindow, id)
			}
		}
		exact(t, account, inWindow, want)
		if i < 4 {
			// And as a user would ask SLS (a few accounts: localcloud reads every record's
			// JSON for each such search of the shared Logstore).
			n, distinct := f.counted(t, b.Project, store, `event.recipientAccountId: "`+account+`"`, p.WindowFrom, p.WindowTo)
			if n != int64(len(want)) || distinct != n {
				t.Errorf("account %s: SLS counts %d logs, %d distinct event ids; want %d", account, n, distinct, len(want))
			}
		}
	}
	// Nothing in the Logstore twice, the live records of the backfill trails included.
	for account, ids := range byMember {
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("account %s: event %s delivered twice", account, id)
			}
			seen[id] = true
		}
	}
	jobs, _, _ := f.srv.World.Stats.Sum("Actiontrail", "CreateDeliveryHistoryJob")
	trails, _, _ := f.srv.World.Stats.Sum("Actiontrail", "DeleteTrail")
	if jobs != int64(len(f.members)+1) || trails != jobs {
		t.Errorf("%d delivery jobs and %d trail deletions for %d accounts", jobs, trails, len(f.members)+1)
	}
	roles, _, _ := f.srv.World.Stats.Sum("Ram", "CreateRole")
	attached, _, _ := f.srv.World.Stats.Sum("Ram", "AttachPolicyToRole")
	if roles != 1 || attached != 1 {
		t.Errorf("CreateRole called %d times, AttachPolicyToRole %d: want once each for the delivery role", roles, attached)
	}
	// Start on a finished organization reads and writes nothing, in the cloud or the state bucket.
	f.settle()
	writes := f.writes()
	if ps, err := f.runner().Start(ctx, nil); err != nil || len(ps) != len(f.members)+1 || len(f.q.take()) != 0 {
		t.Fatalf("Start when all is done: %d jobs, %v", len(ps), err)
	}
	f.settle()
	if after := f.writes(); after != writes {
		t.Errorf("Start when all is done made %d write calls", after-writes)
	}
}

// TestKilledAtRandomPointsStillExact kills the worker 50 times, as a process is killed: at a
// chosen point of a step nothing more happens (no lease released, no checkpoint, no
// re-invocation), and FC runs the invocation again. Every kind of point is hit, the one between
// a page's write and its checkpoint included; the result is still every event exactly once.
func TestKilledAtRandomPointsStillExact(t *testing.T) {
	f := start(t, setup{
		// Enough pages that 50 kills fit before the accounts, sharing steps, are done.
		opts:   localcloud.Options{Members: 3, HistoryDays: 60, HistoryPerDay: 5, Seed: 13, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodLookup, days: 60,
	})
	ctx := context.Background()
	points := []string{"leased", "unparked", "looked-up", "checked", "written", "checkpointed", "reinvoke"}
	const wantKills = 50
	var mu sync.Mutex
	rnd := rand.New(rand.NewSource(42))
	kills := 0
	killedAt := map[string]int{}
	mk := func() *backfill.Runner {
		mu.Lock()
		// nth within what a step reaches, so nearly every step dies until the 50th kill.
		target, limit := points[rnd.Intn(len(points))], 1+rnd.Intn(3)
		nth := 1
		if target != "leased" && target != "unparked" && target != "reinvoke" {
			nth = 1 + rnd.Intn(limit)
		}
		mu.Unlock()
		r := f.runner(backfill.WithSliceLength(24*time.Hour), backfill.WithPageLimit(limit))
		seen := 0
		backfill.SetCrashHook(r, func(p string) bool {
			mu.Lock()
			defer mu.Unlock()
			if kills >= wantKills || p != target {
				return false
			}
			if seen++; seen < nth {
				return false
			}
			kills++
			killedAt[p]++
			return true
		})
		return r
	}
	if _, err := mk().Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	steps := f.drain(t, mk, func(_ backfill.StepRequest, err error) bool { return isKilled(err) })
	if kills != wantKills {
		t.Fatalf("%d kills in %d steps, want %d", kills, steps, wantKills)
	}
	for _, p := range points {
		if killedAt[p] == 0 {
			t.Errorf("no kill at %q (kills: %v)", p, killedAt)
		}
	}
	t.Logf("%d steps, kills by point: %v", steps, killedAt)

	status, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := f.pol.Backfill
	byTopic := f.stored(t, b.Project, b.Logstore, "")
	for _, account := range append([]string{f.mgmt}, f.members...) {
		p := progressOf(t, status, account)
		want := f.recorded(account, p.WindowFrom, p.WindowTo)
		if account != f.mgmt && len(want) != 60*5 {
			t.Fatalf("member %s has %d seeded events in the window, want %d", account, len(want), 60*5)
		}
		if p.State != backfill.StateDone || p.EventsCopied != int64(len(want)) {
			t.Errorf("account %s: %+v, want done with %d events", account, p, len(want))
		}
		exact(t, account, byTopic[account], want)
	}
}

// TestLookupKeepsUnderTwoCallsPerSecond runs against ActionTrail's real limit (localcloud's own
// 2 calls/s per account) with cloud's limiter as it ships: four accounts page side by side and
// localcloud never throttles one of them.
func TestLookupKeepsUnderTwoCallsPerSecond(t *testing.T) {
	f := start(t, setup{
		opts:       localcloud.Options{Members: 3, HistoryDays: 2, HistoryPerDay: 150, Seed: 14},
		realLimits: true, method: policy.MethodLookup, days: 3,
	})
	ctx := context.Background()
	mk := func() *backfill.Runner { return f.runner() }
	began := time.Now()
	if _, err := mk().Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f.drain(t, mk, nil)
	took := time.Since(began)

	calls, _, throttled := f.srv.World.Stats.Sum("Actiontrail", "LookupEvents")
	if throttled != 0 {
		t.Errorf("localcloud throttled %d of %d LookupEvents calls", throttled, calls)
	}
	accounts := append([]string{f.mgmt}, f.members...)
	if calls < int64(6*len(accounts)) {
		t.Fatalf("only %d LookupEvents calls for %d accounts: the test does not exercise the limit", calls, len(accounts))
	}
	// Each account's calls are spaced 500 ms apart: the slowest account bounds the run from below.
	var most int64
	for _, row := range f.srv.World.Stats.Snapshot() {
		if row.Product == "Actiontrail" && row.Action == "LookupEvents" {
			most = max(most, row.Calls)
		}
	}
	if min := time.Duration(most-1) * 500 * time.Millisecond; took < min {
		t.Errorf("%d calls from one account in %v: faster than 2 calls/s", most, took)
	}
	status, err := mk().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := f.pol.Backfill
	byTopic := f.stored(t, b.Project, b.Logstore, "")
	for _, account := range accounts {
		p := progressOf(t, status, account)
		want := f.recorded(account, p.WindowFrom, p.WindowTo)
		if p.State != backfill.StateDone || p.EventsCopied != int64(len(want)) {
			t.Errorf("account %s: %+v, want done with %d events", account, p, len(want))
		}
		exact(t, account, byTopic[account], want)
	}
}

// TestAutoFallsBackToLookup: method auto uses a delivery job where the account may, and lookup
// where ActionTrail refuses the job (an account not allow-listed), removing the trail it made.
func TestAutoFallsBackToLookup(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 3, HistoryDays: 5, HistoryPerDay: 4, Seed: 15, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodAuto, days: 10,
	})
	ctx := context.Background()
	refused := f.members[1]
	f.srv.World.Faults.Script(core.FaultRule{Product: "Actiontrail", Action: "CreateDeliveryHistoryJob", Account: refused, Count: -1,
		Status: 403, Code: "NotSupportDeliveryHistoryJob", Message: "Your account does not allow you to use deliveryHistoryJob feature."})
	if _, err := f.runner().Start(ctx, f.members); err != nil {
		t.Fatal(err)
	}
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)
	status, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := f.pol.Backfill
	byTopic := f.stored(t, b.Project, b.Logstore, "")
	for _, account := range f.members {
		p := progressOf(t, status, account)
		wantMethod := policy.MethodDeliveryJob
		if account == refused {
			wantMethod = policy.MethodLookup
			want := f.recorded(account, p.WindowFrom, p.WindowTo)
			exact(t, account, byTopic[account], want)
			if p.EventsCopied != int64(len(want)) || len(want) != 5*4 {
				t.Errorf("account %s: %d events copied, %d in the window, want %d", account, p.EventsCopied, len(want), 5*4)
			}
		} else if len(byTopic[account]) != 0 {
			t.Errorf("account %s used a delivery job, yet has %d logs in the backfill Logstore", account, len(byTopic[account]))
		}
		if p.State != backfill.StateDone || p.Method != wantMethod {
			t.Errorf("account %s: %+v, want done by %s", account, p, wantMethod)
		}
		member, err := f.sess.ForAccount(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := trail.New(member).Observe(ctx, b.TrailName); err != nil || st.Exists {
			t.Errorf("account %s: the backfill trail is still there (%v)", account, err)
		}
	}
}

// TestDeliveryJobRetriesAndAdopts: a step dies right after ActionTrail created the job but
// before the job id was recorded, and the job's trail is deleted meanwhile. The next step adopts
// that job instead of starting a second; the job fails (no trail to deliver through), and the
// runner makes the trail again and a new job, which completes.
func TestDeliveryJobRetriesAndAdopts(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 1, HistoryDays: 5, HistoryPerDay: 4, Seed: 16},
		manual: true, method: policy.MethodDeliveryJob,
	})
	ctx := context.Background()
	account := f.members[0]
	var killed bool
	mk := func() *backfill.Runner {
		r := f.runner()
		backfill.SetCrashHook(r, func(point string) bool {
			if point != "job-answered" || killed {
				return false
			}
			killed = true
			// The step dies with the job created and unrecorded, and the job's trail goes too.
			member, err := f.sess.ForAccount(ctx, account)
			if err == nil {
				err = trail.New(member).Delete(ctx, f.pol.Backfill.TrailName)
			}
			if err != nil {
				t.Errorf("deleting the trail under the job: %v", err)
			}
			return true
		})
		return r
	}
	if _, err := mk().Start(ctx, []string{account}); err != nil {
		t.Fatal(err)
	}
	f.drain(t, mk, func(_ backfill.StepRequest, err error) bool { return isKilled(err) })
	if !killed {
		t.Fatal("the step was never killed after CreateDeliveryHistoryJob")
	}
	status, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := progressOf(t, status, account)
	want := f.recorded(account, p.WindowFrom, p.WindowTo)
	if p.State != backfill.StateDone || p.EventsCopied != int64(len(want)) || len(want) < 5*4 {
		t.Errorf("%+v: want done with the %d events of the job window", p, len(want))
	}
	// One job adopted after the kill, one after the failure: two in all, never two at once.
	if jobs, _, _ := f.srv.World.Stats.Sum("Actiontrail", "CreateDeliveryHistoryJob"); jobs != 2 {
		t.Errorf("%d CreateDeliveryHistoryJob calls, want 2", jobs)
	}
	b := f.pol.Backfill
	ids := f.stored(t, b.Project, "actiontrail_"+b.TrailName, "recipientAccountId")[account]
	var inWindow []string
	for _, id := range ids {
		if want[id] {
			inWindow = append(inWindow, id)
		}
	}
	exact(t, account, inWindow, want)
}

// TestStartIsIdempotent: Start makes one job per account and enqueues it once; calling it again
// changes nothing while the job is fresh, kicks it when nobody has touched it for too long,
// leaves a finished job alone, and re-queues a failed one from its checkpoint.
func TestStartIsIdempotent(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 2, HistoryDays: 2, HistoryPerDay: 3, Seed: 17, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodLookup, days: 3,
	})
	ctx := context.Background()
	account := f.members[0]
	r := f.runner(backfill.WithStaleAfter(time.Hour))
	for i := 0; i < 2; i++ {
		ps, err := r.Start(ctx, []string{account, account})
		if err != nil || len(ps) != 1 || ps[0].State != backfill.StateQueued {
			t.Fatalf("Start #%d: %+v %v", i+1, ps, err)
		}
	}
	if n := len(f.q.take()); n != 1 {
		t.Fatalf("two Starts enqueued %d invocations, want 1", n)
	}
	f.clock.Advance(2 * time.Hour)
	if _, err := r.Start(ctx, []string{account}); err != nil {
		t.Fatal(err)
	}
	if reqs := f.q.take(); len(reqs) != 1 || reqs[0].Accounts[0] != account {
		t.Fatalf("a job idle for 2h was not enqueued again: %+v", reqs)
	}

	// A failing Logstore write fails the job (the project's Logstore is refused to the writer),
	// Start re-queues it, and it then completes where it left off.
	f.q.push(backfill.StepRequest{Accounts: []string{account}})
	f.srv.World.Faults.Script(core.FaultRule{Product: "log", Action: "CreateLogStore", Count: 1, Status: 403, Code: "Unauthorized", Message: "denied"})
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)
	ps, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := progressOf(t, ps, account); p.State != backfill.StateFailed || !strings.Contains(p.Error, "Unauthorized") {
		t.Fatalf("after a refused Logstore: %+v, want failed naming the error", p)
	}
	ps, err = r.Start(ctx, []string{account})
	if err != nil || ps[0].State != backfill.StateQueued || ps[0].Error != "" {
		t.Fatalf("Start of a failed job: %+v %v", ps, err)
	}
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)
	ps, err = r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := progressOf(t, ps, account)
	if want := f.recorded(account, p.WindowFrom, p.WindowTo); p.State != backfill.StateDone || p.EventsCopied != int64(len(want)) || len(want) == 0 {
		t.Fatalf("the re-queued job: %+v, want done with %d events", p, len(want))
	}
	if ps, err := r.Start(ctx, []string{account}); err != nil || ps[0].State != backfill.StateDone || len(f.q.take()) != 0 {
		t.Fatalf("Start of a finished job: %+v %v", ps, err)
	}
	if _, err := r.Start(ctx, []string{"12x"}); err == nil || !strings.Contains(err.Error(), "accounts[0]") {
		t.Errorf("a bad account id: %v", err)
	}
	if _, err := r.Start(ctx, []string{"1999999999999999"}); err == nil {
		t.Error("Start accepted an account outside the directory")
	}
	f.pol.Backfill.Enabled = false
	if _, err := f.runner().Start(ctx, nil); !errors.Is(err, backfill.ErrDisabled) {
		t.Errorf("Start with backfill disabled: %v", err)
	}
}

// TestStepSplitsAndReinvokes: a step given more accounts than it runs at once hands the rest to
// invocations of their own, and a step that must stop early re-invokes itself with the
// accounts still running, each checkpointed and parked.
func TestStepSplitsAndReinvokes(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 5, HistoryDays: 3, HistoryPerDay: 60, Seed: 18, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodLookup, days: 3,
	})
	ctx := context.Background()
	accounts := append([]string{f.mgmt}, f.members...)
	if _, err := f.runner().Start(ctx, accounts); err != nil {
		t.Fatal(err)
	}
	f.q.take()
	r := f.runner(backfill.WithParallel(2), backfill.WithPageLimit(1))
	res, err := r.Step(ctx, backfill.StepRequest{Accounts: accounts, Hop: 3})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.q.take()
	if len(reqs) != 3 { // the 4 others in 2 invocations of 2, and this step's 2 continuing in one
		t.Fatalf("invocations after the step: %+v", reqs)
	}
	if !res.Reinvoked || len(res.Continuing) != 2 || len(res.Progress) != 2 {
		t.Fatalf("step result: %+v", res)
	}
	for _, p := range res.Progress {
		if p.State != backfill.StateRunning || p.EventsCopied == 0 || p.EventsCopied > 50 || p.ETA <= 0 {
			t.Errorf("after one page: %+v", p)
		}
	}
	last := reqs[len(reqs)-1]
	if last.Hop != 4 || len(last.Accounts) != 2 {
		t.Errorf("the continuation: %+v, want hop 4 with 2 accounts", last)
	}
	if _, err := r.Step(ctx, backfill.StepRequest{}); err == nil || !strings.Contains(err.Error(), "accounts") {
		t.Errorf("an empty step request: %v", err)
	}
}

// TestStepLeavesAJobHeldByAnother: a step finding the account's lease held waits for it; when
// the holder renews it (alive) the step leaves the job to it, and when the holder stays silent
// beyond the step's budget the step hands the job to its continuation rather than dropping it.
func TestStepLeavesAJobHeldByAnother(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 1, HistoryDays: 1, HistoryPerDay: 3, Seed: 19, LookupRatePerSecond: -1},
		method: policy.MethodLookup, days: 2,
	})
	ctx := context.Background()
	account := f.members[0]
	if _, err := f.runner().Start(ctx, []string{account}); err != nil {
		t.Fatal(err)
	}
	f.q.take()
	ghost, err := f.store.Acquire(ctx, "backfill/"+account, "ghost", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	step := func(r *backfill.Runner, within time.Duration) backfill.StepResult {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		res, err := r.Step(sctx, backfill.StepRequest{Accounts: []string{account}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	renewing := f.runner(backfill.WithSleep(func(ctx context.Context, d time.Duration) error {
		return ghost.Renew(ctx, time.Hour) // the holder is alive
	}))
	if res := step(renewing, time.Minute); res.Reinvoked || len(res.Progress) != 1 || res.Progress[0].State != backfill.StateQueued {
		t.Errorf("with a live holder: %+v, want the job left alone", res)
	}
	if res := step(f.runner(backfill.WithReserve(500*time.Millisecond, 0)), 2*time.Second); !res.Reinvoked || len(res.Continuing) != 1 {
		t.Errorf("with a silent holder: %+v, want the job continued in another step", res)
	}
	if reqs := f.q.take(); len(reqs) != 1 || reqs[0].Hop != 1 {
		t.Errorf("continuations: %+v", reqs)
	}
	if err := ghost.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if res := step(f.runner(), time.Minute); res.Reinvoked || res.Progress[0].State != backfill.StateDone {
		t.Errorf("once released: %+v, want the job done", res)
	}
}

// TestPageWriteRetried: PutLogs refused for quota twice; the page is read back and written
// again, once, and the job carries on.
func TestPageWriteRetried(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 1, HistoryDays: 3, HistoryPerDay: 20, Seed: 20, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodLookup, days: 3,
	})
	ctx := context.Background()
	account := f.members[0]
	f.srv.World.Faults.Script(core.FaultRule{Product: "log", Action: "PutLogs", Account: f.mgmt, Count: 2, Status: 403,
		Code: "WriteQuotaExceed", Message: "Write quota is exceeded."})
	if _, err := f.runner().Start(ctx, []string{account}); err != nil {
		t.Fatal(err)
	}
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)
	_, failed, _ := f.srv.World.Stats.Sum("log", "PutLogs")
	if failed != 2 {
		t.Fatalf("%d PutLogs failed, want the 2 scripted", failed)
	}
	ps, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := progressOf(t, ps, account)
	want := f.recorded(account, p.WindowFrom, p.WindowTo)
	b := f.pol.Backfill
	exact(t, account, f.stored(t, b.Project, b.Logstore, "")[account], want)
	if p.State != backfill.StateDone || p.EventsCopied != int64(len(want)) || len(want) != 3*20 {
		t.Errorf("%+v, want done with %d events", p, len(want))
	}
}

// TestStartCostsOneStateWritePerNewAccount: Start for a whole directory lists the job streams once
// and then costs each new account one create-only write and nothing else in the state bucket
// (no lease, no index), so 10,000 members fit one api invocation; a second Start, racing
// nothing, finds every job and writes nothing; Status finds them all through the same listing.
func TestStartCostsOneStateWritePerNewAccount(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 60, HistoryDays: 5, HistoryPerDay: 1, Seed: 17, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodLookup,
	})
	ctx := context.Background()
	oss := func(action string) int64 { n, _, _ := f.srv.World.Stats.Sum("oss", action); return n }
	puts0, lists0, gets0 := oss("PutObject"), oss("ListObjectsV2"), oss("GetObject")
	started, err := f.runner().Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	accounts := len(f.members) + 1
	if len(started) != accounts {
		t.Fatalf("Start made %d jobs for %d accounts", len(started), accounts)
	}
	puts, lists, gets := oss("PutObject")-puts0, oss("ListObjectsV2")-lists0, oss("GetObject")-gets0
	if puts != int64(accounts) || lists != 1 || gets != 0 {
		t.Errorf("Start for %d new accounts: %d PutObject, %d ListObjectsV2, %d GetObject; want %d, 1, 0",
			accounts, puts, lists, gets, accounts)
	}
	if reqs := f.q.take(); len(reqs) != (accounts+9)/10 {
		t.Errorf("%d step invocations for %d accounts; want one per 10", len(reqs), accounts)
	}

	puts0 = oss("PutObject")
	again, err := f.runner().Start(ctx, nil)
	if err != nil || len(again) != accounts {
		t.Fatalf("second Start: %d jobs, %v", len(again), err)
	}
	if puts := oss("PutObject") - puts0; puts != 0 || len(f.q.take()) != 0 {
		t.Errorf("second Start wrote %d objects and enqueued steps: jobs were duplicated", puts)
	}
	for i, p := range again {
		first := started[i]
		if p.AccountID != first.AccountID || p.State != backfill.StateQueued || !p.UpdatedAt.Equal(first.UpdatedAt) || !p.WindowTo.Equal(first.WindowTo) {
			t.Errorf("second Start reports %+v; want the first Start's job %+v, queued", p, first)
		}
	}
	status, err := f.runner().Status(ctx)
	if err != nil || len(status) != accounts {
		t.Fatalf("Status: %d jobs, %v", len(status), err)
	}
	if !slices.IsSortedFunc(status, func(a, b backfill.Progress) int { return strings.Compare(a.AccountID, b.AccountID) }) {
		t.Error("Status is not ordered by account")
	}

	// Page by page, 25 at a time: the same jobs in the same order, each page one listing.
	var paged []backfill.Progress
	after, pages := "", 0
	for {
		lists0 := oss("ListObjectsV2")
		page, next, err := f.runner().StatusPage(ctx, after, 25)
		if err != nil {
			t.Fatal(err)
		}
		// One listing for the page, plus one per job to find its newest entry.
		if lists := oss("ListObjectsV2") - lists0; lists != int64(1+len(page)) {
			t.Errorf("page %d: %d list calls for %d jobs", pages, lists, len(page))
		}
		if pages++; len(page) > 25 || pages > 4 {
			t.Fatalf("page %d has %d jobs", pages, len(page))
		}
		paged = append(paged, page...)
		if next == "" {
			break
		}
		if next != page[len(page)-1].AccountID {
			t.Fatalf("next = %q, want the page's last account %s", next, page[len(page)-1].AccountID)
		}
		after = next
	}
	if pages != 3 || len(paged) != accounts {
		t.Fatalf("%d pages, %d jobs; want 3 pages of %d jobs in all", pages, len(paged), accounts)
	}
	for i := range paged {
		if paged[i].AccountID != status[i].AccountID {
			t.Fatalf("paged job %d is %s, Status has %s", i, paged[i].AccountID, status[i].AccountID)
		}
	}
	if _, _, err := f.runner().StatusPage(ctx, "12x", 10); err == nil || !strings.Contains(err.Error(), "after") {
		t.Errorf("StatusPage after a bad account: %v", err)
	}
}
