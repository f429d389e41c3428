package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// Member trails (policy memberTrails): a single-account trail in every active member, made
// through the member's access role, delivering to the central destination through a central
// role that ActionTrail assumes. Each member's actions depend only on organization resources
// (the project or bucket, the delivery role), never on another member's, so one member failing
// leaves the others alone. Departed members keep their trails (their data is kept too).

const (
	idDeliveryRole = "membertrail/delivery-role"
	// memberObserveParallel bounds concurrent member reads when Reconciler.MemberParallel is unset.
	memberObserveParallel = 16
	// slsLogstoreQuota is SLS's default number of Logstores per project: each member trail
	// delivering to SLS gets its own actiontrail_<name> Logstore there.
	slsLogstoreQuota = 200
)

func memberTrailID(accountID, step string) string { return "membertrail/" + accountID + "/" + step }

// MemberTrail is one member's own trail as observed.
type MemberTrail struct {
	Trail trail.State `json:"trail"`
	// Logstore is the trail's actiontrail_<name> Logstore in the central project; runs that read
	// the organization's resources read it (LogstoreRead) when the trail delivers there.
	Logstore     logstore.LogstoreState `json:"logstore"`
	LogstoreRead bool                   `json:"logstoreRead,omitempty"`
}

// memberTrailWanted reports whether a member gets a member trail now: active members other
// than the central account, which holds the multi-account trail. Pending members are retried
// by the next run.
func (r *Reconciler) memberTrailWanted(m directory.Member) bool {
	return r.Policy.MemberTrails.Enabled && m.Active() && m.AccountID != r.Policy.Central.AccountID
}

func (r *Reconciler) deliveryRoleName() string {
	if r.DeliveryRole != "" {
		return r.DeliveryRole
	}
	return trail.DeliveryRoleName
}

// deliveryRoleManaged reports whether member trails deliver through auditwarden's own central
// role: the policy names no role for the destination, which is then in the central account.
func (r *Reconciler) deliveryRoleManaged() bool {
	d := r.Policy.Destinations
	if r.Policy.MemberTrails.Destination == policy.DestinationOSS {
		return d.OSS.RoleArn == ""
	}
	return d.SLS.RoleArn == ""
}

// deliveryRolePolicies are the system policies the delivery role needs for the destination.
func (r *Reconciler) deliveryRolePolicies() []string {
	if r.Policy.MemberTrails.Destination == policy.DestinationOSS {
		return []string{trail.PolicyOSSWrite}
	}
	return []string{trail.PolicyLogWrite}
}

// MemberTrailSpec is the single-account trail the policy wants in a member: its name from the
// template, memberTrails' eventRW and trailRegion, delivering to the central destination with
// the policy's role for it or else auditwarden's delivery role.
func (r *Reconciler) MemberTrailSpec(accountID string) trail.Spec {
	p := r.Policy
	mt := p.MemberTrails
	s := trail.Spec{Name: p.MemberTrailName(accountID), EventRW: mt.EventRW, TrailRegion: mt.TrailRegion}
	role := trail.RoleARN(p.Central.AccountID, r.deliveryRoleName())
	if mt.Destination == policy.DestinationOSS {
		d := p.Destinations.OSS
		s.OSSBucket, s.OSSKeyPrefix, s.OSSWriteRoleARN = d.Bucket, d.Prefix, d.RoleArn
		if s.OSSWriteRoleARN == "" {
			s.OSSWriteRoleARN = role
		}
		return s
	}
	s.SLSProjectARN, s.SLSWriteRoleARN = p.SLSProjectArn(), p.Destinations.SLS.RoleArn
	if s.SLSWriteRoleARN == "" {
		s.SLSWriteRoleARN = role
	}
	return s
}

// memberTrailLogstore is the Logstore ActionTrail makes for a member's trail in the central
// project; ok is false when the trail does not deliver to a project of the central account.
func (r *Reconciler) memberTrailLogstore(accountID string) (spec logstore.LogstoreSpec, ok bool) {
	p := r.Policy
	if p.MemberTrails.Destination != policy.DestinationSLS || !r.slsInCentral() {
		return logstore.LogstoreSpec{}, false
	}
	return logstore.LogstoreSpec{Project: p.Destinations.SLS.Project, Name: "actiontrail_" + p.MemberTrailName(accountID),
		TTLDays: p.Destinations.SLS.TTLDays, IndexKeys: logstore.ActionTrailIndexKeys}, true
}

func memberTrailResource(accountID, name string) string {
	return "member/" + accountID + "/trail/" + name
}

// observeMemberTrails reads the trail of every member in scope that should have one, at most
// MemberParallel at once. A member that cannot be read (its role refused, or the calls failed)
// becomes a Problem of that member alone: nothing is planned for it this run.
func (r *Reconciler) observeMemberTrails(ctx context.Context, scope Scope, members []directory.Member) (map[string]MemberTrail, []Problem) {
	var want []string
	for _, m := range members {
		if r.memberTrailWanted(m) {
			want = append(want, m.AccountID)
		}
	}
	out := make(map[string]MemberTrail, len(want))
	if len(want) == 0 {
		return out, nil
	}
	if r.MemberTrails == nil {
		return out, []Problem{{Control: ControlMemberTrail, Resource: "memberTrails", Error: "the reconciler has no member trail adapter (Reconciler.MemberTrails)"}}
	}
	n := r.MemberParallel
	if n <= 0 {
		n = memberObserveParallel
	}
	got := make([]MemberTrail, len(want))
	idx := make([]int, len(want))
	for i := range idx {
		idx[i] = i
	}
	errs := cloud.Parallel(ctx, n, idx, func(ctx context.Context, i int) error {
		id := want[i]
		name := r.Policy.MemberTrailName(id)
		tr, err := r.MemberTrails.In(ctx, id)
		if err != nil {
			return err
		}
		st, err := tr.Observe(ctx, name)
		if err != nil {
			return err
		}
		if st.Exists && st.Organization && st.OwnerAccountID != id {
			// Another account's multi-account trail of that name covers the member; its own is missing.
			st = trail.State{Spec: trail.Spec{Name: name}}
		}
		mt := MemberTrail{Trail: st}
		if spec, ok := r.memberTrailLogstore(id); ok && scope.orgResources() {
			ls, err := r.Logstores.ObserveLogstore(ctx, spec.Project, spec.Name)
			if err != nil {
				return err
			}
			mt.Logstore, mt.LogstoreRead = ls, true
		}
		got[i] = mt
		return nil
	})
	var problems []Problem
	for i, id := range want {
		if errs[i] == nil {
			out[id] = got[i]
			continue
		}
		msg := errs[i].Error()
		var are *cloud.AssumeRoleError
		if errors.As(errs[i], &are) {
			msg = "member unreachable, skipped and retried by the next run: " + msg
		}
		problems = append(problems, Problem{Control: ControlMemberTrail, Resource: memberTrailResource(id, r.Policy.MemberTrailName(id)), Member: id, Error: msg})
	}
	return out, problems
}

// planMemberTrails plans each member's trail like the organization trail (create, update,
// start logging), the hardening of its Logstore in the central project, and the delivery role
// they all deliver through. orgDeps are the actions making the destination (project or bucket).
func (r *Reconciler) planMemberTrails(pl *Plan, findings *[]Finding, obs *Observed, orgDeps []string) {
	p := r.Policy
	managed := r.deliveryRoleManaged()
	roleName := r.deliveryRoleName()
	var actions []Action
	wanted, needRole := 0, false
	for _, m := range obs.Members {
		if !r.memberTrailWanted(m) {
			continue
		}
		wanted++
		mt, ok := obs.MemberTrails[m.AccountID]
		if !ok {
			continue // not observed: a Problem says why
		}
		id := m.AccountID
		spec := r.MemberTrailSpec(id)
		st := mt.Trail
		res := memberTrailResource(id, spec.Name)
		members := []string{id}
		deps := append([]string{}, orgDeps...)
		if managed {
			deps = append(deps, idDeliveryRole)
		}
		var after []string
		if !st.Exists {
			needRole = true
			actions = append(actions, Action{ID: memberTrailID(id, "create"), Kind: "CreateTrail", Control: ControlMemberTrail,
				Resource: res, Members: members, DependsOn: deps, Drift: "member trail does not exist",
				apply: func(ctx context.Context) error { return r.createMemberTrail(ctx, id, spec) }})
			after = []string{memberTrailID(id, "create")}
		} else if drift := spec.Drift(st); len(drift) > 0 {
			needRole = true
			actions = append(actions, Action{ID: memberTrailID(id, "update"), Kind: "UpdateTrail", Control: ControlMemberTrail,
				Resource: res, Members: members, DependsOn: deps, Drift: strings.Join(drift, "; "),
				apply: func(ctx context.Context) error {
					tr, err := r.MemberTrails.In(ctx, id)
					if err != nil {
						return err
					}
					return tr.Update(ctx, spec)
				}})
			after = []string{memberTrailID(id, "update")}
		}
		made := slices.Clone(after) // the Logstore waits for the trail, not for its logging
		if !st.Exists || !st.Logging {
			drift := "member trail is not logging (status " + st.Status + ")"
			if !st.Exists {
				drift = "a new trail is Fresh until StartLogging"
			}
			actions = append(actions, Action{ID: memberTrailID(id, "start-logging"), Kind: "StartLogging", Control: ControlMemberTrail,
				Resource: res, Members: members, DependsOn: after, Drift: drift,
				apply: func(ctx context.Context) error {
					tr, err := r.MemberTrails.In(ctx, id)
					if err != nil {
						return err
					}
					return tr.StartLogging(ctx, spec.Name)
				}})
			after = append(after, memberTrailID(id, "start-logging"))
		}
		if lspec, ok := r.memberTrailLogstore(id); ok {
			// ActionTrail makes the Logstore with its own default retention: hold it to the
			// policy's (CIS 2.23) once the trail exists, and whenever a full run sees it drift.
			var ls Plan
			switch {
			case mt.LogstoreRead:
				r.planLogstore(&ls, memberTrailID(id, "logstore"), ControlMemberTrail, lspec, mt.Logstore, false, made)
			case !st.Exists:
				r.planLogstore(&ls, memberTrailID(id, "logstore"), ControlMemberTrail, lspec, logstore.LogstoreState{}, false, made)
			}
			for _, a := range ls.Actions {
				a.Members = members
				actions = append(actions, a)
			}
		}
		if st.Exists && st.LatestDeliveryError != "" {
			*findings = append(*findings, Finding{Control: ControlMemberTrail, Resource: res, Members: members, Message: "OSS delivery error: " + st.LatestDeliveryError})
		}
		if st.Exists && st.LatestDeliveryLogServiceError != "" {
			*findings = append(*findings, Finding{Control: ControlMemberTrail, Resource: res, Members: members, Message: "SLS delivery error: " + st.LatestDeliveryLogServiceError})
		}
	}

	// The delivery role: planned when a full run finds it missing or short of a policy, and
	// whenever a member trail is created or changed without having read it this run (apply
	// reads it first and writes only what is missing).
	planRole := false
	if managed {
		roleRes := "ram/role/" + roleName
		policies := r.deliveryRolePolicies()
		var drift []string
		observed := obs.OK("deliveryRole")
		if role := obs.DeliveryRole; observed {
			switch {
			case !role.Exists:
				drift = append(drift, "delivery role does not exist")
			case !role.Trusted:
				*findings = append(*findings, Finding{Control: ControlMemberTrail, Resource: roleRes,
					Message: fmt.Sprintf("the role exists but does not trust %s, so member trails cannot deliver through it: fix its trust policy (auditwarden does not rewrite a role it did not make)", trail.ActionTrailService)})
			default:
				if missing := role.Missing(policies); len(missing) > 0 {
					drift = append(drift, "delivery role lacks system policy "+strings.Join(missing, ", "))
				}
			}
		}
		if len(drift) == 0 && needRole && (!observed || !obs.DeliveryRole.Exists || !obs.DeliveryRole.Trusted) {
			drift = append(drift, "member trails deliver through it: verified before they are created or changed")
		}
		if len(drift) > 0 {
			planRole = true
			pl.Add(Action{ID: idDeliveryRole, Kind: "EnsureDeliveryRole", Control: ControlMemberTrail, Resource: roleRes,
				Drift: strings.Join(drift, "; "), apply: func(ctx context.Context) error {
					_, err := r.MemberTrails.EnsureDeliveryRole(ctx, roleName, policies)
					return err
				}})
		}
	}
	for _, a := range actions {
		if !planRole {
			a.DependsOn = slices.DeleteFunc(a.DependsOn, func(d string) bool { return d == idDeliveryRole })
		}
		pl.Add(a)
	}
	if _, ok := r.memberTrailLogstore(""); ok && obs.Scope.Whole() && wanted > slsLogstoreQuota-10 {
		*findings = append(*findings, Finding{Control: ControlMemberTrail, Resource: "sls/" + p.Destinations.SLS.Project,
			Message: fmt.Sprintf("%d members get a member trail, each with its own Logstore in %s; SLS allows %d Logstores per project by default: raise the project's quota or use memberTrails.destination: oss",
				wanted, p.Destinations.SLS.Project, slsLogstoreQuota)})
	}
}

// createMemberTrail makes a member's trail. A trail of that name that already exists with other
// settings (made by hand, or changed since it was observed) is ours by name: it is updated.
func (r *Reconciler) createMemberTrail(ctx context.Context, accountID string, spec trail.Spec) error {
	tr, err := r.MemberTrails.In(ctx, accountID)
	if err != nil {
		return err
	}
	err = tr.Create(ctx, spec)
	if errors.Is(err, trail.ErrDiffers) {
		err = tr.Update(ctx, spec)
	}
	return err
}

// memberTrailStatus is a member's row for the member trail control.
func (rep *Report) memberTrailStatus(r *Reconciler, obs *Observed, m directory.Member) ControlStatus {
	switch {
	case !r.Policy.MemberTrails.Enabled:
		return ControlStatus{Status: StatusNA}
	case m.AccountID == r.Policy.Central.AccountID:
		return ControlStatus{StatusNA, "the central account holds the multi-account trail"}
	case !m.Active():
		return ControlStatus{StatusNA, "member is " + m.Status}
	}
	st, detail := rep.outcome(ControlMemberTrail, m.AccountID, true)
	if st != StatusOK {
		return ControlStatus{st, detail}
	}
	if _, ok := obs.MemberTrails[m.AccountID]; !ok {
		return ControlStatus{StatusUnknown, "not observed"}
	}
	return ControlStatus{Status: StatusOK}
}

// memberTrailSummary is the organization's row for member trails: the delivery role and what
// the organization as a whole is told, then a count of the members by status (never each
// member's detail: that is in its own row).
func (rep *Report) memberTrailSummary(r *Reconciler) ControlStatus {
	if !r.Policy.MemberTrails.Enabled {
		return ControlStatus{Status: StatusNA}
	}
	status, detail := rep.outcome(ControlMemberTrail, "", true)
	count := map[Status]int{}
	total := 0
	for _, m := range rep.Members {
		cs, ok := m.Controls[ControlMemberTrail]
		if !ok || cs.Status == StatusNA || cs.Status == StatusPending {
			continue
		}
		total++
		count[cs.Status]++
		if worse(cs.Status, status) {
			status = cs.Status
		}
	}
	var parts []string
	for _, s := range []Status{StatusOK, StatusFixed, StatusDrift, StatusFailed, StatusUnknown} {
		if count[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
		}
	}
	summary := fmt.Sprintf("%d member trail(s)", total)
	if len(parts) > 0 {
		summary += ": " + strings.Join(parts, ", ")
	}
	if detail != "" {
		summary += "; " + detail
	}
	return ControlStatus{status, summary}
}

// worse orders statuses for a summary: failed, unknown, drift, fixed, ok.
func worse(a, b Status) bool {
	rank := map[Status]int{StatusOK: 0, StatusFixed: 1, StatusDrift: 2, StatusUnknown: 3, StatusFailed: 4}
	return rank[a] > rank[b]
}
