package actiontrail

import (
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func TestSeedHistoryShapesRealisticHistory(t *testing.T) {
	clock := core.NewManualClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	w := core.NewWorld("cn-hangzhou", clock)
	accounts := []string{core.NewAccountID(), core.NewAccountID()}
	SeedHistory(w, accounts, 30, 40, rand.New(rand.NewSource(1)))
	now := clock.Now()
	for _, a := range accounts {
		evs := w.Recorder.Window(a, now.Add(-31*24*time.Hour), now.Add(time.Second))
		if len(evs) != 30*40 || w.Recorder.Count(a) != 30*40 {
			t.Fatalf("account %s: %d events, want %d", a, len(evs), 30*40)
		}
		services, users, rw, types := map[string]bool{}, map[string]bool{}, map[string]int{}, map[string]bool{}
		errs := 0
		perDay := map[int]int{}
		for _, ev := range evs {
			if ev.RecipientAccountID != a || ev.UserIdentity.AccountID != a || ev.EventID == "" || ev.EventTime == "" || ev.RequestID == "" ||
				ev.SourceIPAddress == "" || ev.UserAgent == "" || ev.EventSource == "" || ev.AcsRegion == "" {
				t.Fatalf("incomplete event %+v", ev)
			}
			if ev.Time.After(now) || ev.Time.Before(now.Add(-30*24*time.Hour)) {
				t.Fatalf("event at %v outside the 30 days before %v", ev.Time, now)
			}
			services[ev.ServiceName] = true
			users[ev.UserIdentity.Type+"/"+ev.UserIdentity.UserName+ev.UserIdentity.SessionName] = true
			rw[ev.EventRW]++
			types[ev.EventType] = true
			perDay[int(now.Sub(ev.Time)/(24*time.Hour))]++
			if ev.ErrorCode != "" {
				errs++
			}
		}
		for _, s := range []string{"Ecs", "Oss", "Ram", "Vpc", "ResourceManager"} {
			if !services[s] {
				t.Fatalf("no %s events among %v", s, services)
			}
		}
		if len(users) < 5 || rw["Read"] < rw["Write"] || rw["Write"] == 0 || !types["ConsoleSignin"] || !types["ApiCall"] || errs == 0 {
			t.Fatalf("mix: users %v rw %v types %v errors %d", users, rw, types, errs)
		}
		for d := 0; d < 30; d++ {
			if perDay[d] != 40 {
				t.Fatalf("day %d has %d events", d, perDay[d])
			}
		}
	}
	// Deterministic for a seed.
	w2 := core.NewWorld("cn-hangzhou", clock)
	SeedHistory(w2, accounts[:1], 30, 40, rand.New(rand.NewSource(1)))
	a := w.Recorder.Window(accounts[0], time.Time{}, now.Add(time.Second))
	b := w2.Recorder.Window(accounts[0], time.Time{}, now.Add(time.Second))
	for i := range a {
		if a[i].EventID != b[i].EventID || a[i].EventName != b[i].EventName {
			t.Fatalf("not deterministic at %d", i)
		}
	}
}

func TestSeedHistoryIsNotDeliveredByTrails(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	r := createReq("live-only")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	r.EventRW = "All"
	startTrail(t, f, f.mgmt, r)
	SeedHistory(f.w, []string{mgmt}, 3, 10, rand.New(rand.NewSource(2)))
	f.svc.Flush()
	if n := len(f.sls.written("audit-central", "actiontrail_live-only")); n != 1 { // StartLogging only
		t.Fatalf("%d logs: seeded history was delivered live", n)
	}
}

func TestSeedHistoryIsFast(t *testing.T) {
	if raceEnabled {
		t.Skip("timing is meaningless under the race detector")
	}
	w := core.NewWorld("cn-hangzhou", nil)
	accounts := make([]string, 100)
	for i := range accounts {
		accounts[i] = core.NewAccountID()
	}
	// CPU time, not wall time: shared CI machines are often loaded.
	start := cpuTime(t)
	SeedHistory(w, accounts, 90, 20, rand.New(rand.NewSource(3)))
	took := cpuTime(t) - start
	if w.Recorder.Count(accounts[99]) != 90*20 {
		t.Fatalf("count %d", w.Recorder.Count(accounts[99]))
	}
	if took > time.Second {
		t.Fatalf("100 accounts x 90 days x 20/day took %v of CPU, want well under a second", took)
	}
	t.Logf("seeded 180000 events in %v of CPU", took)
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkSeedHistory(b *testing.B) {
	accounts := make([]string, 100)
	for i := range accounts {
		accounts[i] = core.NewAccountID()
	}
	for i := 0; i < b.N; i++ {
		w := core.NewWorld("cn-hangzhou", nil)
		SeedHistory(w, accounts, 90, 20, rand.New(rand.NewSource(int64(i))))
	}
}
