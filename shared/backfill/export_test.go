package backfill

import "time"

// SetCrashHook makes the Runner's steps die (as if the process were killed: nothing released,
// nothing parked, no re-invocation) at every point where hook returns true. The hook may also
// act on the world, returning false, to inject other failures.
func SetCrashHook(r *Runner, hook func(point string) bool) { r.crash = hook }

// ErrKilled is what a step killed by the hook returns.
var ErrKilled = errKilled

// Window exposes the window computation for table tests.
func (r *Runner) Window(trailStart, joined, now time.Time, organization bool, account string) (from, to time.Time, why string) {
	return r.window(coverage{start: trailStart, organization: organization, name: r.p.Trail.Name}, account, joined, now)
}
