// Package reconcile observes an organization's audit logging, plans typed actions against the
// policy, and applies them idempotently. The same code serves the whole directory (timer), one
// member (event path) and a dry run (HTTP plan).
package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Control names what an action or finding protects; the report groups by it.
type Control string

const (
	ControlTrail     Control = "trail"     // CIS 2.1: multi-account trail, all regions, all events, logging
	ControlLogAudit  Control = "logaudit"  // CIS 2.3: Log Audit multi-account collection
	ControlRetention Control = "retention" // CIS 2.23: Logstore retention >= 365 days, indexed
	ControlArchive   Control = "archive"   // CIS 2.2/5.1/5.3/5.4/5.8: the archive bucket hardened
	ControlBackfill  Control = "backfill"  // the 90 days before coverage copied
	// ControlMemberTrail is policy memberTrails: each active member's own single-account trail.
	ControlMemberTrail Control = "memberTrail"
)

// Action is one change the plan makes, with the drift that caused it.
type Action struct {
	ID        string   `json:"id"`   // stable and unique in a plan: kind/resource
	Kind      string   `json:"kind"` // CreateTrail, UpdateLogstore, PutBucketEncryption, ...
	Control   Control  `json:"control"`
	Resource  string   `json:"resource"` // trail/<name>, sls/<project>/<logstore>, oss/<bucket>, logaudit/<uid>
	Drift     string   `json:"drift"`    // what was observed that differs from the policy
	Members   []string `json:"members,omitempty"`
	DependsOn []string `json:"dependsOn,omitempty"`
	// Write is false only for actions that merely verify; apply of a converged plan makes no writes.
	apply func(ctx context.Context) error
}

// Plan is an ordered list of actions; order only breaks ties, dependencies decide.
type Plan struct {
	Actions []Action `json:"actions"`
}

// Add appends an action; ids must be unique.
func (p *Plan) Add(a Action) {
	p.Actions = append(p.Actions, a)
}

// Has reports whether an action id is planned.
func (p *Plan) Has(id string) bool {
	for _, a := range p.Actions {
		if a.ID == id {
			return true
		}
	}
	return false
}

// Validate checks ids are unique and every dependency exists and there is no cycle.
func (p *Plan) Validate() error {
	idx := map[string]int{}
	for i, a := range p.Actions {
		if _, dup := idx[a.ID]; dup {
			return fmt.Errorf("plan: duplicate action id %q", a.ID)
		}
		idx[a.ID] = i
	}
	for _, a := range p.Actions {
		for _, d := range a.DependsOn {
			if _, ok := idx[d]; !ok {
				return fmt.Errorf("plan: action %q depends on unknown action %q", a.ID, d)
			}
		}
	}
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("plan: dependency cycle through %q", id)
		case 2:
			return nil
		}
		state[id] = 1
		for _, d := range p.Actions[idx[id]].DependsOn {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[id] = 2
		return nil
	}
	for _, a := range p.Actions {
		if err := visit(a.ID); err != nil {
			return err
		}
	}
	return nil
}

// Outcome of one action.
type Outcome string

const (
	Applied Outcome = "applied"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped" // a dependency failed or was skipped
)

// ActionResult is what happened to one action.
type ActionResult struct {
	Action
	Outcome  Outcome       `json:"outcome"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs"`
	Cause    string        `json:"cause,omitempty"` // for skipped: the failed dependency
}

// Apply runs the plan: independent actions concurrently (at most parallel at once), each after its
// dependencies succeeded; an action whose dependency failed is skipped, never run.
func Apply(ctx context.Context, p *Plan, parallel int) []ActionResult {
	if parallel < 1 {
		parallel = 1
	}
	n := len(p.Actions)
	results := make([]ActionResult, n)
	idx := make(map[string]int, n)
	for i, a := range p.Actions {
		idx[a.ID] = i
		results[i].Action = a
	}
	dependents := make([][]int, n)
	waiting := make([]int, n)
	for i, a := range p.Actions {
		waiting[i] = len(a.DependsOn)
		for _, d := range a.DependsOn {
			dependents[idx[d]] = append(dependents[idx[d]], i)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	var finish func(i int)
	var start func(i int)
	// skipDependents marks the whole subtree below a failed action skipped.
	var skip func(i int, cause string)
	skip = func(i int, cause string) {
		for _, d := range dependents[i] {
			if results[d].Outcome == "" {
				results[d].Outcome, results[d].Cause = Skipped, cause
				skip(d, cause)
			}
		}
	}
	finish = func(i int) {
		mu.Lock()
		var ready []int
		if results[i].Outcome == Applied {
			for _, d := range dependents[i] {
				waiting[d]--
				if waiting[d] == 0 && results[d].Outcome == "" {
					ready = append(ready, d)
				}
			}
		} else {
			skip(i, p.Actions[i].ID)
		}
		mu.Unlock()
		for _, d := range ready {
			start(d)
		}
	}
	start = func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			a := p.Actions[i]
			t0 := time.Now()
			var err error
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if a.apply != nil {
				err = a.apply(ctx)
			}
			<-sem
			mu.Lock()
			results[i].Duration = time.Since(t0)
			if err != nil {
				results[i].Outcome, results[i].Error = Failed, err.Error()
			} else {
				results[i].Outcome = Applied
			}
			mu.Unlock()
			finish(i)
		}()
	}
	var roots []int
	for i := range p.Actions {
		if waiting[i] == 0 {
			roots = append(roots, i)
		}
	}
	for _, i := range roots {
		start(i)
	}
	wg.Wait()
	return results
}

// summarize counts outcomes.
func summarize(rs []ActionResult) (applied, failed, skipped int) {
	for _, r := range rs {
		switch r.Outcome {
		case Applied:
			applied++
		case Failed:
			failed++
		case Skipped:
			skipped++
		}
	}
	return
}

// String renders a plan as an aligned table for logs and the CLI.
func (p *Plan) String() string {
	if len(p.Actions) == 0 {
		return "no changes: the organization matches the policy\n"
	}
	rows := append([]Action(nil), p.Actions...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Control < rows[j].Control })
	var b strings.Builder
	fmt.Fprintf(&b, "%d change(s):\n", len(rows))
	for _, a := range rows {
		fmt.Fprintf(&b, "  %-10s %-24s %-40s %s\n", a.Control, a.Kind, a.Resource, a.Drift)
	}
	return b.String()
}
