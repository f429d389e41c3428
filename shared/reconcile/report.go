package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/policy"
)

// Status of one control, for one member or the organization.
type Status string

const (
	StatusOK       Status = "ok"       // holds, nothing done
	StatusFixed    Status = "fixed"    // drifted and healed this run
	StatusDrift    Status = "drift"    // drifted; planned (dry run) or left as a finding
	StatusFailed   Status = "failed"   // the fix failed or was skipped
	StatusPending  Status = "pending"  // the member is still being created/promoted
	StatusExcluded Status = "excluded" // the policy leaves this member out
	StatusUnknown  Status = "unknown"  // could not be observed
	StatusNA       Status = "n/a"      // the policy does not ask for it
)

// ControlStatus is a control's status with the reason.
type ControlStatus struct {
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// MemberReport is one member's row: every control.
type MemberReport struct {
	AccountID   string                    `json:"accountId"`
	DisplayName string                    `json:"displayName"`
	Status      string                    `json:"status"`
	Controls    map[Control]ControlStatus `json:"controls"`
}

// Report is what a run saw, planned, did and left.
type Report struct {
	Mode         string                    `json:"mode"`
	DryRun       bool                      `json:"dryRun"`
	Scope        Scope                     `json:"scope"`
	StartedAt    time.Time                 `json:"startedAt"`
	FinishedAt   time.Time                 `json:"finishedAt"`
	Plan         []Action                  `json:"plan"`
	Results      []ActionResult            `json:"results,omitempty"`
	Findings     []Finding                 `json:"findings,omitempty"`
	Problems     []Problem                 `json:"problems,omitempty"`
	Organization map[Control]ControlStatus `json:"organization"`
	Members      []MemberReport            `json:"members"`
	Compliance   []policy.CISCheck         `json:"compliance"`
	Summary      Summary                   `json:"summary"`

	memberSets map[string]map[string]bool
}

// Summary counts for dashboards and exit codes.
type Summary struct {
	Members   int `json:"members"`
	Compliant int `json:"compliant"` // every control ok or fixed (or n/a / excluded)
	Pending   int `json:"pending"`
	Planned   int `json:"planned"`
	Applied   int `json:"applied"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	Findings  int `json:"findings"`
	Problems  int `json:"problems"`
}

// Converged reports whether nothing is left to do or fix.
func (r *Report) Converged() bool {
	if r.Summary.Failed > 0 || r.Summary.Skipped > 0 || r.Summary.Problems > 0 {
		return false
	}
	if r.DryRun {
		return r.Summary.Planned == 0
	}
	return true
}

// actionNames reports whether an action concerns a member, through a set built once per action.
func (rep *Report) actionNames(a Action, member string) bool {
	if rep.memberSets == nil {
		rep.memberSets = map[string]map[string]bool{}
	}
	set, ok := rep.memberSets[a.ID]
	if !ok {
		set = make(map[string]bool, len(a.Members))
		for _, m := range a.Members {
			set[m] = true
		}
		rep.memberSets[a.ID] = set
	}
	return set[member]
}

// controlOutcome folds the plan's actions for a control into a status: for the organization
// (member "") every action of the control, for a member those naming it or no one.
func (rep *Report) controlOutcome(c Control, member string) (Status, string) {
	return rep.outcome(c, member, false)
}

// outcome folds the actions, findings and problems of control c into a status. strict keeps
// only what concerns exactly that scope: for a member, what names it; for the organization
// (member ""), what names no member.
func (rep *Report) outcome(c Control, member string, strict bool) (Status, string) {
	var drift []string
	status := StatusOK
	consider := func(a Action, outcome Outcome, errText string) {
		if a.Control != c {
			return
		}
		switch {
		case strict && member == "" && len(a.Members) > 0:
			return
		case strict && member != "" && !rep.actionNames(a, member):
			return
		case member != "" && len(a.Members) > 0 && !rep.actionNames(a, member):
			return
		}
		// A member's row names the action; the organization's row carries the whole drift (an
		// action for 10,000 members would otherwise be copied into 10,000 rows).
		what := a.Drift
		if member != "" {
			what = a.Kind
		}
		switch {
		case rep.DryRun:
			status = StatusDrift
			drift = append(drift, "planned: "+what)
		case outcome == Applied && status != StatusFailed:
			status = StatusFixed
			drift = append(drift, what)
		case outcome == Failed || outcome == Skipped:
			status = StatusFailed
			drift = append(drift, a.Kind+": "+errText)
		}
	}
	if rep.DryRun {
		for _, a := range rep.Plan {
			consider(a, "", "")
		}
	} else {
		for _, res := range rep.Results {
			msg := res.Error
			if res.Outcome == Skipped {
				msg = "skipped: " + res.Cause + " failed"
			}
			consider(res.Action, res.Outcome, msg)
		}
	}
	for _, f := range rep.Findings {
		if f.Control == c && (member == "" && len(f.Members) == 0 || member != "" && slices.Contains(f.Members, member)) && status == StatusOK {
			status = StatusDrift
			drift = append(drift, f.Message)
		}
	}
	for _, p := range rep.Problems {
		mine := p.Member == member || !strict && p.Member == ""
		if p.Control == c && mine && status == StatusOK {
			status = StatusUnknown
			drift = append(drift, p.Error)
		}
	}
	return status, strings.Join(drift, "; ")
}

func (rep *Report) build(r *Reconciler, obs *Observed) {
	p := r.Policy
	rep.Organization = map[Control]ControlStatus{}
	orgControls := []Control{ControlTrail, ControlRetention, ControlArchive, ControlLogAudit}
	for _, c := range orgControls {
		s, d := rep.controlOutcome(c, "")
		rep.Organization[c] = ControlStatus{s, d}
	}
	if !p.Destinations.OSS.Enabled {
		rep.Organization[ControlArchive] = ControlStatus{Status: StatusNA}
	}
	if !p.LogAudit.Enabled {
		rep.Organization[ControlLogAudit] = ControlStatus{Status: StatusNA}
	}
	collected := map[string]bool{}
	for _, m := range obs.LogAudit.Members {
		collected[m] = true
	}
	for _, m := range obs.Members {
		mr := MemberReport{AccountID: m.AccountID, DisplayName: m.DisplayName, Status: m.Status, Controls: map[Control]ControlStatus{}}
		if m.Pending() {
			for _, c := range []Control{ControlTrail, ControlLogAudit, ControlRetention, ControlArchive, ControlBackfill, ControlMemberTrail} {
				mr.Controls[c] = ControlStatus{StatusPending, "member is " + m.Status}
			}
			rep.Members = append(rep.Members, mr)
			continue
		}
		// Trail, retention and archive are organization-wide: a member inherits their status (the
		// detail is under Organization once, not copied into every row).
		for _, c := range []Control{ControlTrail, ControlRetention, ControlArchive} {
			mr.Controls[c] = ControlStatus{Status: rep.Organization[c].Status}
		}
		if !p.Trail.Organization {
			mr.Controls[ControlTrail] = ControlStatus{StatusDrift, "the trail is not organization-wide"}
		}
		mr.Controls[ControlLogAudit] = rep.memberLogAudit(r, obs, m.AccountID, collected[m.AccountID], r.memberSelected(m))
		mr.Controls[ControlMemberTrail] = rep.memberTrailStatus(r, obs, m)
		mr.Controls[ControlBackfill] = ControlStatus{Status: StatusNA, Detail: "backfill status is reported by the backfill worker"}
		if !p.Backfill.Enabled {
			mr.Controls[ControlBackfill] = ControlStatus{Status: StatusNA}
		}
		rep.Members = append(rep.Members, mr)
	}
	sort.Slice(rep.Members, func(i, j int) bool { return rep.Members[i].AccountID < rep.Members[j].AccountID })
	rep.Organization[ControlMemberTrail] = rep.memberTrailSummary(r)
	s := &rep.Summary
	s.Members = len(rep.Members)
	for _, m := range rep.Members {
		ok, pending := true, false
		for _, cs := range m.Controls {
			switch cs.Status {
			case StatusPending:
				pending = true
			case StatusDrift, StatusFailed, StatusUnknown:
				ok = false
			}
		}
		if pending {
			s.Pending++
		} else if ok {
			s.Compliant++
		}
	}
	s.Planned = len(rep.Plan)
	s.Applied, s.Failed, s.Skipped = summarize(rep.Results)
	s.Findings, s.Problems = len(rep.Findings), len(rep.Problems)
}

func (rep *Report) memberLogAudit(r *Reconciler, obs *Observed, id string, listed, selected bool) ControlStatus {
	p := r.Policy
	if !p.LogAudit.Enabled {
		return ControlStatus{Status: StatusNA}
	}
	if p.LogAudit.Mode == policy.ModeResourceDirectory && p.LogAudit.ResourceDirectory.Members == policy.MembersCustom && !selected {
		return ControlStatus{StatusExcluded, "not selected by logAudit.resourceDirectory include/exclude"}
	}
	st, detail := rep.controlOutcome(ControlLogAudit, id)
	if st != StatusOK {
		return ControlStatus{st, detail}
	}
	cur := obs.LogAudit
	switch {
	case !obs.LogAuditExists:
		return ControlStatus{StatusDrift, "Log Audit is not configured"}
	case cur.Mode == logaudit.ModeResourceDirectory && cur.RDType == policy.MembersAll:
		return ControlStatus{StatusOK, "resource directory mode, all members"}
	case listed:
		return ControlStatus{StatusOK, "in the " + cur.Mode + " member list"}
	}
	return ControlStatus{StatusDrift, "not in the Log Audit member list"}
}

// Table renders the report for people: the organization's controls, then members × controls.
func (rep *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "auditwarden %s run%s: %d member(s), %d compliant, %d pending; %d planned, %d applied, %d failed, %d skipped\n",
		rep.Mode, map[bool]string{true: " (dry run)", false: ""}[rep.DryRun], rep.Summary.Members, rep.Summary.Compliant,
		rep.Summary.Pending, rep.Summary.Planned, rep.Summary.Applied, rep.Summary.Failed, rep.Summary.Skipped)
	tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ORGANIZATION\tSTATUS\tDETAIL")
	for _, c := range []Control{ControlTrail, ControlRetention, ControlArchive, ControlLogAudit, ControlMemberTrail} {
		cs := rep.Organization[c]
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c, cs.Status, clip(cs.Detail, 100))
	}
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tNAME\tSTATE\tTRAIL\tLOGAUDIT\tRETENTION\tARCHIVE\tBACKFILL\tMEMBERTRAIL")
	for _, m := range rep.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.AccountID, clip(m.DisplayName, 24), m.Status,
			m.Controls[ControlTrail].Status, m.Controls[ControlLogAudit].Status, m.Controls[ControlRetention].Status,
			m.Controls[ControlArchive].Status, m.Controls[ControlBackfill].Status, m.Controls[ControlMemberTrail].Status)
	}
	tw.Flush()
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "finding  %-9s %s: %s\n", f.Control, f.Resource, f.Message)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "problem  %-9s %s: %s\n", p.Control, p.Resource, p.Error)
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
