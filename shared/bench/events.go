package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/fchost"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
)

// eventTimeout is how long one event may take before the bench counts it lost.
const eventTimeout = 30 * time.Second

// eventsCase runs the member-events function on fchost, subscribed to localcloud's EventBridge
// exactly as s.yaml's trigger is, and times n members one after another from the
// CreateResourceAccount call to the member being in the Log Audit list.
func (w *world) eventsCase(ctx context.Context, n int) *Result {
	r := &Result{Name: fmt.Sprintf("events/%d", w.members), Members: w.members,
		Summary: fmt.Sprintf("event path on a converged %d-member directory: CreateResourceAccount -> ActionTrail record -> EventBridge -> member-events (fchost, async) -> Log Audit list; %d members, one after another", w.members, n)}
	var failed atomic.Int64
	h, err := w.host(ctx, []string{"member-events"}, w.policy(false), true, func(rec fchost.Record) {
		if rec.Err != nil {
			failed.Add(1)
		}
	})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer h.Close()
	pid, perr := w.instance(ctx, "member-events")

	// A Log Audit write is the moment a member can appear in the list: wake the waiter then rather
	// than polling a 10,000-member list in a tight loop.
	wake := make(chan struct{}, 1)
	w.srv.World.Recorder.OnRecord(func(ev *core.Event) {
		if ev.EventName == "AnalyzeAppLog" {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	rm, err := resourcemanager.NewClientWithAccessKey(w.info.Region, w.info.AccessKeyID, w.info.AccessKeySecret)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	rm.Domain = w.info.Endpoints.RPC

	w.quiet()
	began := time.Now()
	var lat []time.Duration
	lost := 0
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			r.Error = ctx.Err().Error()
			return r
		}
		t0 := time.Now()
		id, err := createAccount(rm, fmt.Sprintf("bench-event-%d", i))
		if err != nil {
			r.Error = err.Error()
			return r
		}
		d, ok := w.waitListed(ctx, id, t0, wake)
		if !ok {
			lost++
		}
		lat = append(lat, d)
	}
	total := time.Since(began)
	// Let the last invocations finish (verify read, dedupe marker) before counting calls.
	time.Sleep(time.Second)
	rows := w.srv.World.Stats.Snapshot()
	r.absorbStats(rows)
	r.discount("ResourceManager:CreateResourceAccount", int64(n), true) // the bench's, not the function's
	r.WallSeconds = total.Seconds()
	if perr == nil {
		if rss, err := peakRSS(pid); err == nil {
			r.PeakRSSMB = float64(rss) / (1 << 20)
		}
		if cpu, err := cpuTime(pid); err == nil {
			r.CPUSeconds = cpu.Seconds()
			r.metric("cpuSecondsPerEvent", round2(cpu.Seconds()/float64(n)))
		}
	}
	var fnRows []core.StatRow
	for _, row := range rows {
		if row.Action != "CreateResourceAccount" {
			fnRows = append(fnRows, row)
		}
	}
	floor := ComputeFloor(NeededCalls(fnRows), Limits)
	r.Floor = &floor
	if floor.Seconds > 0 {
		r.Ratio = r.WallSeconds / floor.Seconds
	}
	p50, p90, p99 := Percentile(lat, 50), Percentile(lat, 90), Percentile(lat, 99)
	r.metric("events", float64(n))
	r.metric("lost", float64(lost))
	r.metric("failedInvocations", float64(failed.Load()))
	r.metric("p50Ms", ms(p50))
	r.metric("p90Ms", ms(p90))
	r.metric("p99Ms", ms(p99))
	r.metric("maxMs", ms(Percentile(lat, 100)))
	r.metric("firstMs", ms(lat[0]))
	r.metric("callsPerEvent", round2(float64(r.Calls)/float64(n)))
	r.metric("logAuditWritesPerEvent", round2(float64(r.CallsByAction["Sls:AnalyzeAppLog"])/float64(n)))
	r.target("every event collected", fmt.Sprintf("%d of %d in the list", n, n), fmt.Sprintf("%d", n-lost), lost == 0)
	r.target("event p99", "< 1 s", fmt.Sprintf("%.0f ms (p50 %.0f ms)", ms(p99), ms(p50)), p99 < maxEventP99)
	return r
}

// waitListed waits until id is in the Log Audit list and returns the time since t0.
func (w *world) waitListed(ctx context.Context, id string, t0 time.Time, wake <-chan struct{}) (time.Duration, bool) {
	listed := func() bool {
		_, uids := lclogaudit.Members(w.srv.World, w.info.ManagementAccountID)
		for i := len(uids) - 1; i >= 0; i-- {
			if uids[i] == id {
				return true
			}
		}
		return false
	}
	deadline := time.NewTimer(eventTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond) // a backstop; the wake-up is the fast path
	defer tick.Stop()
	for {
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline.C:
			return time.Since(t0), false
		case <-ctx.Done():
			return time.Since(t0), false
		}
		now := time.Now()
		if listed() {
			return now.Sub(t0), true
		}
	}
}

func ms(d time.Duration) float64 { return round2(float64(d) / float64(time.Millisecond)) }
