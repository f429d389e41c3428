package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/policy"
)

// defaultApplyParallel is Reconciler.Parallel's default.
const defaultApplyParallel = 32

// Reconciler holds the policy and the adapters. One value serves concurrent runs.
type Reconciler struct {
	Policy    *policy.Policy
	Directory Directory
	Trails    Trails
	// MemberTrails reaches members' own trails (policy memberTrails); unused when it is disabled.
	MemberTrails MemberTrails
	Logstores    Logstores
	Archive      Archive
	LogAudit     LogAudit
	// Lock serializes Log Audit writers; nil means a process-local lock (fine for one process only).
	Lock Locker
	// Parallel bounds concurrent apply (default 32). Calls wait for their API's rate limit anyway;
	// the bound keeps many members' actions (member trails) from waiting on call latency one by one.
	Parallel int
	// MemberParallel bounds concurrent reads of members' trails (default 16).
	MemberParallel int
	// DeliveryRole names the central role member trails deliver through when the policy names
	// none (default trail.DeliveryRoleName, the role backfill's trails use too).
	DeliveryRole string
	Log          zerolog.Logger
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time

	laBatch    laBatcher
	laObserved observeFlight
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Reconciler) locker() Locker {
	if r.Lock == nil {
		r.Lock = NewLocalLocker()
	}
	return r.Lock
}

func (r *Reconciler) slsInCentral() bool {
	s := r.Policy.Destinations.SLS
	return s.Enabled && (s.ProjectArn == "" || strings.Contains(s.ProjectArn, ":"+r.Policy.Central.AccountID+":"))
}

func (r *Reconciler) backfillLogstoreWanted() bool {
	b := r.Policy.Backfill
	return b.Enabled && b.Project != "" && b.Method != policy.MethodDeliveryJob
}

// Mode of a run, for the report.
const (
	ModeFull        = "full"
	ModeMember      = "member"
	ModeIncremental = "incremental"
)

// Run observes, plans and (unless dryRun) applies for scope, and reports.
func (r *Reconciler) Run(ctx context.Context, scope Scope, dryRun bool) (*Report, error) {
	if r.Policy == nil {
		return nil, fmt.Errorf("reconcile: no policy")
	}
	started := r.now()
	obs := r.Observe(ctx, scope)
	plan, findings := r.Plan(obs)
	if err := plan.Validate(); err != nil {
		return nil, err // a planner bug; never apply a malformed plan
	}
	rep := &Report{
		Mode: modeOf(scope), DryRun: dryRun, StartedAt: started, Scope: scope,
		Plan: plan.Actions, Findings: findings, Problems: obs.Problems,
		Compliance: r.Policy.Compliance(),
	}
	if !dryRun && len(plan.Actions) > 0 {
		parallel := r.Parallel
		if parallel <= 0 {
			parallel = defaultApplyParallel
		}
		rep.Results = Apply(ctx, plan, parallel)
		for _, res := range rep.Results {
			ev := r.Log.Info()
			if res.Outcome != Applied {
				ev = r.Log.Warn()
			}
			ev.Str("action", res.Kind).Str("resource", res.Resource).Str("outcome", string(res.Outcome)).
				Str("drift", clip(res.Drift, 500)).Str("error", res.Error).Int("members", len(res.Members)).Msg("apply")
		}
	}
	rep.FinishedAt = r.now()
	rep.build(r, obs)
	return rep, nil
}

func modeOf(s Scope) string {
	switch {
	case s.Member != "":
		return ModeMember
	case s.Incremental:
		return ModeIncremental
	}
	return ModeFull
}
