package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/app"
	"github.com/auditwarden/auditwarden/shared/fchost"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
)

// functionTimeout is the reconcile function's timeout in s.yaml: a run must fit one invocation.
const functionTimeout = 600 * time.Second

// Target thresholds from the issue.
const (
	maxRatio     = 1.25
	maxRSSBytes  = 256 << 20
	minFloorSecs = 1.0 // below this the ratio measures latency, not pacing: judged n/a
	maxEventP99  = time.Second
	minLookupEff = 0.90
)

// invocation is one function invocation measured through fchost.
type invocation struct {
	result   []byte
	err      error
	wall     time.Duration // the invocation's own duration (fchost's record), excluding queueing
	peakRSS  int64
	cpu      time.Duration
	procNote string
}

// fire starts a host with the reconcile function only, fires one of its timers and measures the
// invocation: duration, and the instance's peak RSS and CPU time (a fresh process per case, so
// the high-water mark is this run's).
func (w *world) fire(ctx context.Context, trigger string, before func()) invocation {
	var mu sync.Mutex
	var rec *fchost.Record
	h, err := w.host(ctx, []string{"reconcile"}, w.policy(true), false, func(r fchost.Record) {
		if r.Function == "reconcile" {
			mu.Lock()
			rec = &r
			mu.Unlock()
		}
	})
	if err != nil {
		return invocation{err: err}
	}
	defer h.Close()
	pid, perr := w.instance(ctx, "reconcile")
	if before != nil {
		before()
	}
	started := time.Now()
	out, err := h.FireTimer(ctx, "reconcile", trigger)
	inv := invocation{result: out, err: err, wall: time.Since(started)}
	mu.Lock()
	if rec != nil && rec.Duration > 0 {
		inv.wall = rec.Duration
	}
	mu.Unlock()
	if perr != nil {
		inv.procNote = "peak RSS not measured: " + perr.Error()
		return inv
	}
	if inv.peakRSS, perr = peakRSS(pid); perr != nil {
		inv.procNote = "peak RSS not measured: " + perr.Error()
	}
	inv.cpu, _ = cpuTime(pid)
	return inv
}

// reconcileCase runs the reconcile function's full run and judges it.
func (w *world) reconcileCase(ctx context.Context, state string) *Result {
	r := &Result{Name: fmt.Sprintf("reconcile/full/%d/%s", w.members, state), Members: w.members}
	if state == "empty" {
		r.Summary = fmt.Sprintf("full reconcile of %d members from an empty organization (no trail, Logstores, archive bucket or Log Audit list)", w.members)
	} else {
		r.Summary = fmt.Sprintf("full reconcile of %d members, already converged", w.members)
	}
	if w.memberTrails {
		r.Name = fmt.Sprintf("reconcile/membertrails/%d/%s", w.members, state)
		r.Summary += ", with memberTrails: a trail of its own in every active member (a fresh instance: every member's role assumed)"
	}
	inv := w.fire(ctx, "full-hourly", w.quiet)
	w.judgeReconcile(r, inv)
	if r.Error != "" {
		return r
	}
	r.target("fits one invocation", "< 600 s (the function's timeout)", fmt.Sprintf("%.1f s", r.WallSeconds), inv.wall < functionTimeout)
	switch {
	case r.Floor == nil:
	case r.Floor.Seconds < minFloorSecs:
		r.targetNA("wall / API floor", fmt.Sprintf("<= %.2f", maxRatio), fmt.Sprintf("%.2f", r.Ratio), fmt.Sprintf("floor %.2f s < 1 s", r.Floor.Seconds))
	default:
		r.target("wall / API floor", fmt.Sprintf("<= %.2f", maxRatio), fmt.Sprintf("%.2f", r.Ratio), r.Ratio <= maxRatio)
	}
	if inv.peakRSS > 0 {
		r.target("peak RSS", "< 256 MB", fmt.Sprintf("%.0f MB", r.PeakRSSMB), inv.peakRSS < maxRSSBytes)
	} else {
		r.targetNA("peak RSS", "< 256 MB", "not measured", inv.procNote)
	}
	if state == "converged" {
		r.target("converged run writes nothing", "0 write calls", fmt.Sprintf("%d", r.ConfigWrites), r.ConfigWrites == 0)
	}
	return r
}

// judgeReconcile fills the common figures of a reconcile invocation.
func (w *world) judgeReconcile(r *Result, inv invocation) {
	rows := w.srv.World.Stats.Snapshot()
	if inv.err != nil {
		r.Error = inv.err.Error()
		return
	}
	var res app.ReconcileResult
	if err := json.Unmarshal(inv.result, &res); err != nil {
		r.Error = fmt.Sprintf("the function returned %q: %v", inv.result, err)
		return
	}
	r.WallSeconds = inv.wall.Seconds()
	r.PeakRSSMB = float64(inv.peakRSS) / (1 << 20)
	r.CPUSeconds = inv.cpu.Seconds()
	r.absorbStats(rows)
	floor := ComputeFloor(NeededCalls(rows), Limits)
	r.Floor = &floor
	if floor.Seconds > 0 {
		r.Ratio = r.WallSeconds / floor.Seconds
	}
	r.metric("applied", float64(res.Summary.Applied))
	r.metric("failed", float64(res.Summary.Failed+res.Summary.Skipped))
	r.metric("members", float64(res.Summary.Members))
	r.metric("compliant", float64(res.Summary.Compliant))
	r.metric("cpuSeconds", round2(inv.cpu.Seconds()))
	if inv.procNote != "" {
		r.note("%s", inv.procNote)
	}
	if res.Summary.Failed+res.Summary.Skipped > 0 || res.Summary.Problems > 0 {
		r.note("the run did not converge: %d failed, %d skipped, %d problems (see the bench log)", res.Summary.Failed, res.Summary.Skipped, res.Summary.Problems)
	}
	r.target("run succeeds", "0 failed actions, 0 problems", fmt.Sprintf("%d failed, %d problems", res.Summary.Failed+res.Summary.Skipped, res.Summary.Problems),
		res.Summary.Failed+res.Summary.Skipped == 0 && res.Summary.Problems == 0)
}

// incrementalCase changes the converged directory (members join) and runs the reconcile function's
// incremental mode, which reads the trail's own records instead of listing the directory.
func (w *world) incrementalCase(ctx context.Context, changes int) *Result {
	r := &Result{Name: fmt.Sprintf("reconcile/incremental/%d", w.members), Members: w.members,
		Summary: fmt.Sprintf("incremental reconcile of a converged %d-member directory after %d members joined", w.members, changes)}
	ids, err := w.createAccounts(changes, "bench-incr")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	// The records reach the trail's Logstore on ActionTrail's next delivery; do not wait for the tick.
	w.srv.ActionTrail.Flush()
	inv := w.fire(ctx, "incremental-5m", w.quiet)
	w.judgeReconcile(r, inv)
	if r.Error != "" {
		return r
	}
	_, listed := lclogaudit.Members(w.srv.World, w.info.ManagementAccountID)
	have := map[string]bool{}
	for _, id := range listed {
		have[id] = true
	}
	enrolled := 0
	for _, id := range ids {
		if have[id] {
			enrolled++
		}
	}
	r.metric("changes", float64(changes))
	r.metric("enrolled", float64(enrolled))
	r.target("every change handled", fmt.Sprintf("%d new members collected", changes), fmt.Sprintf("%d", enrolled), enrolled == changes)
	list := r.CallsByAction["ResourceManager:ListAccounts"]
	r.target("no directory listing", "0 ListAccounts", fmt.Sprintf("%d", list), list == 0)
	if r.Floor != nil && r.Floor.Seconds < minFloorSecs {
		r.note("API floor %.2f s: the run is bound by call latency (%d calls of %d ms, partly in sequence), not by rate limits", r.Floor.Seconds, r.Calls, w.s.o.LatencyMs)
	}
	return r
}

// quietPeriod lets localcloud's token buckets refill (the slowest, Log Audit's, needs 6 / 5 s)
// before a case, as they are when a timer fires after minutes of quiet. Without it a fresh
// process, whose own buckets start full, meets buckets the previous case drained, and is throttled.
const quietPeriod = 1500 * time.Millisecond

// quiet waits out quietPeriod, then zeroes localcloud's counters: the case starts now.
func (w *world) quiet() {
	time.Sleep(quietPeriod)
	w.srv.World.Stats.Reset()
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
