package backfill_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/actiontrail"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// crashPlan kills steps in order: at the nth time (over all steps) the point is reached after
// the kill before.
type crashPlan []struct {
	point string
	nth   int
}

// TestFailedDeliveryJobNeverDuplicates: a data backfill job that fails after delivering part of
// its window into the trail's Logstore is never followed by a second job (which would deliver
// that part again). Method auto copies the window with lookup, writing only what is in neither
// Logstore, even across killed steps; method delivery-job fails, saying why; a job that failed
// before delivering anything is retried as before.
func TestFailedDeliveryJobNeverDuplicates(t *testing.T) {
	const historyDays, perDay = 5, 4 // 20 events an account
	cases := []struct {
		name    string
		method  string
		days    int // the backfill window
		members int
		failAt  int // events each failing job delivers (localcloud FailNextJobsAfter)
		crash   crashPlan
		// vanish: the job fails partway and is gone (404) by the first poll.
		vanish bool

		wantState   string
		wantMethod  string
		wantJobs    int64  // CreateDeliveryHistoryJob calls
		wantInTrail int    // seeded events of the window in the trail's Logstore, per account
		wantAll     int    // seeded events of the window, per account (lookup)
		wantErr     string // in the failed job's error
	}{
		{name: "auto: partway, lookup copies the rest", method: policy.MethodAuto, days: 10, members: 2, failAt: 7,
			wantState: backfill.StateDone, wantMethod: policy.MethodLookup, wantJobs: 2, wantInTrail: 7, wantAll: 20},
		{name: "auto: the whole window delivered before failing", method: policy.MethodAuto, days: 10, members: 2, failAt: 1000,
			wantState: backfill.StateDone, wantMethod: policy.MethodLookup, wantJobs: 2, wantInTrail: 20, wantAll: 20},
		{name: "auto: what was delivered lies before the window", method: policy.MethodAuto, days: 3, members: 2, failAt: 7,
			wantState: backfill.StateDone, wantMethod: policy.MethodLookup, wantJobs: 2, wantInTrail: 0, wantAll: 3 * perDay},
		{name: "auto: killed during the lookup", method: policy.MethodAuto, days: 10, members: 2, failAt: 7,
			crash:     crashPlan{{"partly-delivered", 1}, {"looked-up", 1}, {"written", 3}, {"checked", 2}, {"checkpointed", 2}},
			wantState: backfill.StateDone, wantMethod: policy.MethodLookup, wantJobs: 2, wantInTrail: 7, wantAll: 20},
		{name: "auto: the job vanishes after delivering part", method: policy.MethodAuto, days: 10, members: 1, failAt: 7, vanish: true,
			wantState: backfill.StateDone, wantMethod: policy.MethodLookup, wantJobs: 1, wantInTrail: 7, wantAll: 20},
		{name: "auto: nothing delivered, a new job", method: policy.MethodAuto, days: 10, members: 1, failAt: 0,
			wantState: backfill.StateDone, wantMethod: policy.MethodDeliveryJob, wantJobs: 2},
		{name: "delivery-job: nothing delivered, a new job", method: policy.MethodDeliveryJob, days: 10, members: 1, failAt: 0,
			wantState: backfill.StateDone, wantMethod: policy.MethodDeliveryJob, wantJobs: 2},
		{name: "delivery-job: partway, the job fails", method: policy.MethodDeliveryJob, days: 10, members: 2, failAt: 7,
			wantState: backfill.StateFailed, wantMethod: policy.MethodDeliveryJob, wantJobs: 2,
			wantErr: "delivered 7 events into actiontrail_auditwarden-backfill before failing; a new job would deliver them again"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, setup{
				opts:   localcloud.Options{Members: tc.members, HistoryDays: historyDays, HistoryPerDay: perDay, Seed: int64(30 + i), LookupRatePerSecond: -1},
				manual: true, method: tc.method, days: tc.days,
			})
			ctx := context.Background()
			// Every account's first job fails; with a single failing job per account, which
			// account creates its job first does not matter.
			f.srv.ActionTrail.FailNextJobsAfter(tc.members, tc.failAt)
			var mu sync.Mutex
			seen, next, reached, kills := map[string]int{}, 0, 0, 0
			mk := func() *backfill.Runner {
				r := f.runner()
				backfill.SetCrashHook(r, func(point string) bool {
					mu.Lock()
					defer mu.Unlock()
					seen[point]++
					if tc.vanish && point == "job-created" && seen[point] == 1 {
						// The job runs to its failure before the first poll, which then finds no job.
						f.clock.Advance(10 * time.Second)
						f.srv.ActionTrail.Tick()
						f.srv.World.Faults.Script(core.FaultRule{Product: "Actiontrail", Action: "GetDeliveryHistoryJob", Count: 1,
							Status: 404, Code: "DeliveryHistoryJobNotFound", Message: "The data backfill job does not exist."})
					}
					if next >= len(tc.crash) || point != tc.crash[next].point {
						return false
					}
					if reached++; reached < tc.crash[next].nth {
						return false
					}
					next, reached = next+1, 0
					kills++
					t.Logf("killed at %s", point)
					return true
				})
				return r
			}
			if _, err := f.runner().Start(ctx, f.members); err != nil {
				t.Fatal(err)
			}
			f.drain(t, mk, func(_ backfill.StepRequest, err error) bool { return isKilled(err) })
			if kills != len(tc.crash) {
				t.Fatalf("%d of the %d planned kills happened (points reached: %v)", kills, len(tc.crash), seen)
			}
			if jobs, _, _ := f.srv.World.Stats.Sum("Actiontrail", "CreateDeliveryHistoryJob"); jobs != tc.wantJobs {
				t.Errorf("%d CreateDeliveryHistoryJob calls, want %d", jobs, tc.wantJobs)
			}
			status, err := f.runner().Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, account := range f.members {
				p := progressOf(t, status, account)
				if p.State != tc.wantState || p.Method != tc.wantMethod || !strings.Contains(p.Error, tc.wantErr) {
					t.Errorf("account %s: %+v, want %s by %s, error containing %q", account, p, tc.wantState, tc.wantMethod, tc.wantErr)
				}
			}
			switch {
			case tc.wantState == backfill.StateFailed:
				f.checkFailedPartway(t, tc.wantJobs)
			case tc.wantMethod == policy.MethodLookup:
				f.checkUnionExact(t, status, tc.wantInTrail, tc.wantAll)
			default:
				f.checkDeliveredExact(t, status)
			}
		})
	}
}

// checkUnionExact: for each member, the trail's Logstore (within the window) and the backfill
// Logstore together hold every event of the window once, inTrail of them in the trail's; the
// count says so; the backfill trail is gone.
func (f *fixture) checkUnionExact(t *testing.T, status []backfill.Progress, inTrail, wantAll int) {
	t.Helper()
	ctx := context.Background()
	b := f.pol.Backfill
	byTopic := f.stored(t, b.Project, b.Logstore, "")
	delivered := f.stored(t, b.Project, "actiontrail_"+b.TrailName, "recipientAccountId")
	for _, account := range f.members {
		p := progressOf(t, status, account)
		want := f.recorded(account, p.WindowFrom, p.WindowTo)
		all := f.recorded(account, time.Time{}, f.srv.World.Now().Add(time.Hour))
		var union []string
		trailN := 0
		for _, id := range delivered[account] {
			if !all[id] {
				t.Errorf("account %s: the trail's Logstore holds %s, which the account never made", account, id)
			}
			if want[id] {
				union = append(union, id)
				trailN++
			}
		}
		if trailN != inTrail {
			t.Errorf("account %s: %d events of the window in the trail's Logstore, want %d", account, trailN, inTrail)
		}
		if len(byTopic[account]) != len(want)-inTrail {
			t.Errorf("account %s: %d events in the backfill Logstore, want %d", account, len(byTopic[account]), len(want)-inTrail)
		}
		union = append(union, byTopic[account]...)
		// No event in both, none twice, none missing, nothing from outside the window.
		exact(t, account, union, want)
		if len(want) != wantAll || p.EventsCopied != int64(len(want)) {
			t.Errorf("account %s: %d events copied, %d in the window; want %d", account, p.EventsCopied, len(want), wantAll)
		}
		f.checkTrailGone(t, ctx, account)
	}
}

// checkDeliveredExact: the jobs' windows are in the trail's Logstore once each (a job that
// failed before delivering anything adds nothing), and nothing in the backfill Logstore.
func (f *fixture) checkDeliveredExact(t *testing.T, status []backfill.Progress) {
	t.Helper()
	b := f.pol.Backfill
	delivered := f.stored(t, b.Project, "actiontrail_"+b.TrailName, "recipientAccountId")
	byTopic := f.stored(t, b.Project, b.Logstore, "")
	for _, account := range f.members {
		p := progressOf(t, status, account)
		want := f.recorded(account, p.WindowFrom, p.WindowTo)
		var inWindow []string
		for _, id := range delivered[account] {
			if want[id] {
				inWindow = append(inWindow, id)
			}
		}
		exact(t, account, inWindow, want)
		if p.EventsCopied != int64(len(want)) || len(byTopic[account]) != 0 {
			t.Errorf("account %s: %d events copied for %d in the job window, %d in the backfill Logstore", account, p.EventsCopied, len(want), len(byTopic[account]))
		}
	}
}

// checkFailedPartway: nothing reached the backfill Logstore and the trail is gone; Start
// re-queues the failed jobs, which fail again without a new job while the policy says
// delivery-job, and finish exactly with lookup once it says auto.
func (f *fixture) checkFailedPartway(t *testing.T, jobs int64) {
	t.Helper()
	ctx := context.Background()
	b := f.pol.Backfill
	if n := len(f.stored(t, b.Project, b.Logstore, "")); n != 0 {
		t.Errorf("the backfill Logstore has %d topics after delivery-job jobs", n)
	}
	for _, account := range f.members {
		f.checkTrailGone(t, ctx, account)
	}
	if _, err := f.runner().Start(ctx, f.members); err != nil {
		t.Fatal(err)
	}
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)
	status, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, account := range f.members {
		if p := progressOf(t, status, account); p.State != backfill.StateFailed || !strings.Contains(p.Error, "use method auto or lookup") {
			t.Errorf("account %s re-queued under delivery-job: %+v, want failed again", account, p)
		}
	}
	if n, _, _ := f.srv.World.Stats.Sum("Actiontrail", "CreateDeliveryHistoryJob"); n != jobs {
		t.Errorf("re-queued under delivery-job: %d CreateDeliveryHistoryJob calls, want still %d", n, jobs)
	}

	f.pol.Backfill.Method = policy.MethodAuto
	if _, err := f.runner().Start(ctx, f.members); err != nil {
		t.Fatal(err)
	}
	f.drain(t, func() *backfill.Runner { return f.runner() }, nil)
	status, err = f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, account := range f.members {
		if p := progressOf(t, status, account); p.State != backfill.StateDone || p.Method != policy.MethodLookup {
			t.Errorf("account %s re-queued under auto: %+v, want done by lookup", account, p)
		}
	}
	if n, _, _ := f.srv.World.Stats.Sum("Actiontrail", "CreateDeliveryHistoryJob"); n != jobs {
		t.Errorf("re-queued under auto: %d CreateDeliveryHistoryJob calls, want still %d", n, jobs)
	}
	f.checkUnionExact(t, status, 7, 5*4)
}

func (f *fixture) checkTrailGone(t *testing.T, ctx context.Context, account string) {
	t.Helper()
	member, err := f.sess.ForAccount(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := trail.New(member).Observe(ctx, f.pol.Backfill.TrailName); err != nil || st.Exists {
		t.Errorf("account %s: the backfill trail is still there (%v)", account, err)
	}
}

// TestLateSearchableDeliveryIsNotDuplicated: the failed job's logs become searchable only after
// the failure was seen (real SLS indexes shortly after a write), so the first count finds
// nothing; the count made again when the retry is due finds them, and no second job is made.
func TestLateSearchableDeliveryIsNotDuplicated(t *testing.T) {
	f := start(t, setup{
		opts:   localcloud.Options{Members: 1, HistoryDays: 5, HistoryPerDay: 4, Seed: 41, LookupRatePerSecond: -1},
		manual: true, method: policy.MethodAuto, days: 10,
	})
	ctx := context.Background()
	f.srv.ActionTrail.FailNextJobsAfter(1, 0)
	account := f.members[0]
	late := 0
	mk := func() *backfill.Runner {
		r := f.runner()
		backfill.SetCrashHook(r, func(point string) bool {
			if point != "retry-due" || late > 0 {
				return false
			}
			// What the failed job wrote, searchable only now.
			evs := f.srv.World.Recorder.Window(account, f.t0.Add(-10*24*time.Hour), f.t0)[:5]
			logs := make([]core.ServiceLog, len(evs))
			for i, ev := range evs {
				body, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				logs[i] = core.ServiceLog{Time: ev.Time, Contents: [][2]string{{"event", string(body)}}}
			}
			if err := f.srv.SLS.ServiceWrite(f.pol.Backfill.Project, "actiontrail_"+f.pol.Backfill.TrailName, actiontrail.SLSTopic, actiontrail.SLSSource, logs); err != nil {
				t.Fatal(err)
			}
			late = len(logs)
			return false
		})
		return r
	}
	if _, err := f.runner().Start(ctx, f.members); err != nil {
		t.Fatal(err)
	}
	f.drain(t, mk, nil)
	if late != 5 {
		t.Fatalf("the retry was never due (%d late logs written)", late)
	}
	if jobs, _, _ := f.srv.World.Stats.Sum("Actiontrail", "CreateDeliveryHistoryJob"); jobs != 1 {
		t.Errorf("%d CreateDeliveryHistoryJob calls; want 1: a second job would deliver the late logs again", jobs)
	}
	status, err := f.runner().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := progressOf(t, status, account); p.State != backfill.StateDone || p.Method != policy.MethodLookup {
		t.Fatalf("job %+v; want done by lookup", p)
	}
	f.checkUnionExact(t, status, 5, 20)
}
