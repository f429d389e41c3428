package bench

import (
	"strings"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// RateLimit is one row of the bench's rate table: a published API limit, enforced by localcloud
// and mirrored by the client so that it paces instead of being throttled.
type RateLimit struct {
	Name    string `json:"name"`
	Product string `json:"product"`          // localcloud's product name (its stats and fault layer)
	Action  string `json:"action,omitempty"` // empty: every action of the product
	// API is the client's rate-table key (cloud.DefaultLimits): each distinct API key, i.e. each
	// action, gets its own bucket, as Alibaba Cloud throttles per API.
	API       string  `json:"api"`
	PerSecond float64 `json:"perSecond"`
	Burst     int     `json:"burst"` // the client's burst; localcloud allows one call more (see ServerRateLimits)
	// PerAccount: the client keeps one bucket per account (ActionTrail, whose trail client keys
	// each action by the account it acts in, and LookupEvents). localcloud always counts per caller
	// account, as the cloud does; elsewhere the client's shared bucket is the stricter of the two.
	PerAccount bool `json:"perAccount,omitempty"`
	// Enforced: localcloud answers Throttling.User beyond the rate. SLS and OSS are only paced by
	// the client (their real limits are per shard throughput and thousands of requests a second).
	Enforced bool `json:"enforced"`
}

// Limits is the documented rate table. The rows mirror cloud.DefaultLimits (a test keeps them equal),
// so the function binaries, which use the defaults, pace exactly as localcloud enforces.
var Limits = []RateLimit{
	{Name: "Resource Manager", Product: "ResourceManager", API: "resourcemanager", PerSecond: 20, Burst: 20, Enforced: true},
	{Name: "ActionTrail", Product: "Actiontrail", API: "actiontrail", PerSecond: 20, Burst: 20, PerAccount: true, Enforced: true},
	{Name: "ActionTrail LookupEvents", Product: "Actiontrail", Action: "LookupEvents", API: "actiontrail:LookupEvents", PerSecond: 2, Burst: 1, PerAccount: true, Enforced: true},
	{Name: "STS", Product: "Sts", API: "sts", PerSecond: 50, Burst: 50, Enforced: true},
	{Name: "RAM", Product: "Ram", API: "ram", PerSecond: 20, Burst: 20, Enforced: true},
	{Name: "Log Audit", Product: "Sls", API: "logaudit", PerSecond: 5, Burst: 5, Enforced: true},
	{Name: "SLS", Product: "log", API: "sls", PerSecond: 100, Burst: 100},
	{Name: "OSS", Product: "oss", API: "oss", PerSecond: 100, Burst: 100},
}

// fallbackLimit is what the client applies to an API missing from its table (cloud.DefaultLimits "").
var fallbackLimit = RateLimit{Name: "other", API: "", PerSecond: 20, Burst: 20}

// ServerRateLimits are localcloud's token buckets for the enforced rows, one per caller account
// and action. Each allows one call more than the client's burst: the client's and localcloud's
// buckets see the same calls a few scheduler ticks apart, and without that slack a call sent on
// time would now and then arrive "early" and be throttled. LookupEvents is left to ActionTrail's
// own limiter (localcloud.Options.LookupRatePerSecond, 2 calls/s per account, burst 2).
func ServerRateLimits(table []RateLimit) []core.RateLimit {
	var out []core.RateLimit
	for _, l := range table {
		if !l.Enforced || (l.Product == "Actiontrail" && l.Action == "LookupEvents") {
			continue
		}
		out = append(out, core.RateLimit{Product: l.Product, Action: l.Action, PerSecond: l.PerSecond, Burst: l.Burst + 1, PerAccount: true})
	}
	return out
}

// ClientLimits is the table as a cloud.WithLimits argument.
func ClientLimits(table []RateLimit) map[string]cloud.Limit {
	out := map[string]cloud.Limit{}
	for _, l := range table {
		out[l.API] = cloud.Limit{PerSecond: l.PerSecond, Burst: l.Burst}
	}
	return out
}

// limitFor is the row that governs one call: the row naming the action, else the product's row,
// else the client's fallback.
func limitFor(table []RateLimit, product, action string) RateLimit {
	var byProduct *RateLimit
	for i := range table {
		l := &table[i]
		if !strings.EqualFold(l.Product, product) {
			continue
		}
		if l.Action != "" && strings.EqualFold(l.Action, action) {
			return *l
		}
		if l.Action == "" && byProduct == nil {
			byProduct = l
		}
	}
	if byProduct != nil {
		return *byProduct
	}
	return fallbackLimit
}
