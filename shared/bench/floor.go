package bench

import (
	"math"
	"sort"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// CallCount is how often one caller account called one action.
type CallCount struct {
	Product string `json:"product"`
	Action  string `json:"action"`
	Account string `json:"account,omitempty"`
	Calls   int64  `json:"calls"`
}

// NeededCalls turns localcloud's counters into the calls a run needed: every answered call,
// except the ones throttled (a paced client makes none, and a retry after one is counted again).
func NeededCalls(rows []core.StatRow) []CallCount {
	out := make([]CallCount, 0, len(rows))
	for _, r := range rows {
		if n := r.Calls - r.Throttled; n > 0 {
			out = append(out, CallCount{Product: r.Product, Action: r.Action, Account: r.Account, Calls: n})
		}
	}
	return out
}

// Bucket is one rate-limit bucket's share of the floor.
type Bucket struct {
	Key       string  `json:"key"` // product:action, plus :account for per-account limits
	Calls     int64   `json:"calls"`
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"`
	Seconds   float64 `json:"seconds"` // calls / rate
}

// Floor is the least wall time the calls allow under the rate table.
type Floor struct {
	Seconds    float64 `json:"seconds"`
	Bottleneck string  `json:"bottleneck,omitempty"`
	// BurstSeconds is the same floor counting each bucket's initial burst as free
	// ((calls - burst) / rate): the absolute least a fresh client could take.
	BurstSeconds float64  `json:"burstSeconds"`
	Buckets      []Bucket `json:"buckets,omitempty"` // slowest first, at most 5
}

// ComputeFloor is the API floor: every call to an API the table limits (the Enforced rows) belongs
// to one rate-limit bucket (product and action, and the account where the client limits per
// account, as for LookupEvents); a bucket needs
// calls / rate seconds; buckets refill independently and may run side by side, so the floor is
// the slowest bucket. It ignores each bucket's initial burst (so a run can beat its floor by at
// most burst / rate; BurstSeconds counts it) and the latency of calls that must follow one another.
func ComputeFloor(calls []CallCount, table []RateLimit) Floor {
	type acc struct {
		calls int64
		rate  float64
		burst int
	}
	buckets := map[string]*acc{}
	for _, c := range calls {
		l := limitFor(table, c.Product, c.Action)
		if !l.Enforced || l.PerSecond <= 0 {
			continue // only the cloud's limits make a floor; the client's own pacing (SLS, OSS) does not
		}
		key := c.Product + ":" + c.Action
		if l.PerAccount {
			key += ":" + c.Account
		}
		b := buckets[key]
		if b == nil {
			b = &acc{rate: l.PerSecond, burst: l.Burst}
			buckets[key] = b
		}
		b.calls += c.Calls
	}
	var all []Bucket
	for k, b := range buckets {
		all = append(all, Bucket{Key: k, Calls: b.calls, PerSecond: b.rate, Burst: b.burst, Seconds: float64(b.calls) / b.rate})
	}
	var f Floor
	for _, b := range all {
		f.BurstSeconds = max(f.BurstSeconds, float64(max(0, b.Calls-int64(b.Burst)))/b.PerSecond)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Seconds != all[j].Seconds {
			return all[i].Seconds > all[j].Seconds
		}
		return all[i].Key < all[j].Key
	})
	if len(all) > 0 {
		f.Seconds, f.Bottleneck = all[0].Seconds, all[0].Key
	}
	if len(all) > 5 {
		all = all[:5]
	}
	f.Buckets = all
	return f
}

// Percentile is the nearest-rank percentile (0 < p <= 100) of the samples; 0 for none.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 || p <= 0 {
		return 0
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}
