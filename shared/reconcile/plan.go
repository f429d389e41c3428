package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/auditwarden/auditwarden/shared/archive"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// Finding is a deviation the plan cannot or must not fix by itself; the report shows it.
type Finding struct {
	Control  Control  `json:"control"`
	Resource string   `json:"resource"`
	Members  []string `json:"members,omitempty"`
	Message  string   `json:"message"`
}

// Action ids, stable across runs so reports can be compared.
const (
	idProject          = "sls/project"
	idBackfillLogstore = "sls/backfill-logstore"
	idTrailLogstore    = "sls/trail-logstore"
	idBucketCreate     = "oss/create"
	idTrailCreate      = "trail/create"
	idTrailUpdate      = "trail/update"
	idTrailStart       = "trail/start-logging"
	idLogAudit         = "logaudit/write"
	idInnerLogstore    = "sls/inner-logstore"
)

// Plan turns an observation into actions (what apply will do) and findings (what it will not).
// It is a pure function of the policy and the observation: a dry run shows exactly this.
func (r *Reconciler) Plan(obs *Observed) (*Plan, []Finding) {
	pl := &Plan{}
	var findings []Finding
	p := r.Policy
	whole := obs.Scope.orgResources()

	for _, m := range obs.Members {
		if m.Pending() {
			findings = append(findings, Finding{Control: ControlLogAudit, Resource: "member/" + m.AccountID, Members: []string{m.AccountID},
				Message: fmt.Sprintf("member is %s: skipped, retried by the next run", m.Status)})
		}
	}

	// SLS project and Logstores (retention, CIS 2.23).
	var projectDeps []string
	if whole && r.slsInCentral() && obs.OK("project") && !obs.ProjectExists {
		pl.Add(Action{ID: idProject, Kind: "CreateProject", Control: ControlRetention,
			Resource: "sls/" + p.Destinations.SLS.Project, Drift: "project does not exist",
			apply: func(ctx context.Context) error {
				return r.Logstores.CreateProject(ctx, p.Destinations.SLS.Project, "auditwarden: ActionTrail and backfilled events")
			}})
		projectDeps = []string{idProject}
	}
	if whole && r.backfillLogstoreWanted() && obs.OK("backfillLogstore") {
		spec := logstore.LogstoreSpec{Project: p.Backfill.Project, Name: p.Backfill.Logstore, TTLDays: p.Backfill.TTLDays,
			Shards: 2, AutoSplit: true, IndexKeys: logstore.ActionTrailIndexKeys}
		r.planLogstore(pl, idBackfillLogstore, ControlBackfill, spec, obs.BackfillLogstore, true, depsIf(p.Backfill.Project == p.Destinations.SLS.Project, projectDeps))
	}

	// Archive bucket (CIS 2.2, 5.1, 5.3, 5.4, 5.8).
	var bucketDeps []string
	if whole && p.Destinations.OSS.Enabled && obs.OK("bucket") {
		bucketDeps = r.planBucket(pl, &findings, obs.Bucket)
	}

	// The trail (CIS 2.1).
	var trailDeps []string
	if obs.OK("trail") {
		trailDeps = r.planTrail(pl, &findings, obs, append(append([]string{}, projectDeps...), bucketDeps...))
	}
	if whole && r.slsInCentral() && obs.OK("trailLogstore") {
		spec := logstore.LogstoreSpec{Project: p.Destinations.SLS.Project, Name: p.TrailLogstore(), TTLDays: p.Destinations.SLS.TTLDays,
			IndexKeys: logstore.ActionTrailIndexKeys}
		// ActionTrail creates actiontrail_<name> itself; we only harden it, after the trail exists.
		st := obs.TrailLogstore
		if !st.Exists && !pl.Has(idTrailCreate) && obs.Trail.Exists {
			findings = append(findings, Finding{Control: ControlRetention, Resource: "sls/" + spec.Project + "/" + spec.Name,
				Message: "the trail exists but its Logstore does not: ActionTrail recreates it when the trail delivers; hardened next run"})
		} else {
			r.planLogstore(pl, idTrailLogstore, ControlRetention, spec, st, false, trailDeps)
		}
	}

	// Inner-ActionTrail has no public API to enable it (it needs allow-listing); when its Logstore
	// exists, its retention is held to the policy because enabling the feature resets it to 180 days.
	if whole && p.InnerActionTrail.Enabled && obs.OK("innerLogstore") {
		spec := logstore.LogstoreSpec{Project: p.InnerActionTrail.Project, Name: p.InnerTrailLogstore(), TTLDays: p.InnerActionTrail.TTLDays}
		if obs.InnerLogstore.Exists {
			r.planLogstore(pl, idInnerLogstore, ControlRetention, spec, obs.InnerLogstore, false, nil)
		} else {
			findings = append(findings, Finding{Control: ControlRetention, Resource: "sls/" + spec.Project + "/" + spec.Name,
				Message: "innerActionTrail is enabled but its Logstore does not exist: enable Inner-ActionTrail in the Simple Log Service console (it needs allow-listing); auditwarden then holds its retention"})
		}
	}

	// Members' own single-account trails, each after the destination it delivers to exists.
	if p.MemberTrails.Enabled && obs.OK("directory") {
		deps := projectDeps
		if p.MemberTrails.Destination == policy.DestinationOSS {
			deps = bucketDeps
		}
		r.planMemberTrails(pl, &findings, obs, deps)
	}

	// Log Audit multi-account collection (CIS 2.3).
	if p.LogAudit.Enabled && obs.OK("logaudit") && obs.OK("directory") {
		r.planLogAudit(pl, &findings, obs)
	}
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Resource < findings[j].Resource })
	return pl, findings
}

func depsIf(cond bool, deps []string) []string {
	if cond {
		return deps
	}
	return nil
}

// planLogstore creates a missing Logstore (when create) or hardens an existing one: TTL and index.
// For a Logstore another service creates (actiontrail_*), the action waits for that service.
func (r *Reconciler) planLogstore(pl *Plan, id string, control Control, spec logstore.LogstoreSpec, st logstore.LogstoreState, create bool, deps []string) {
	res := "sls/" + spec.Project + "/" + spec.Name
	switch {
	case !st.Exists && create:
		pl.Add(Action{ID: id, Kind: "CreateLogstore", Control: control, Resource: res, DependsOn: deps,
			Drift: fmt.Sprintf("logstore does not exist (wanted: ttl %d days, indexed)", spec.TTLDays),
			apply: func(ctx context.Context) error { return r.Logstores.CreateLogstore(ctx, spec) }})
	case !st.Exists:
		if len(deps) == 0 {
			return // nothing will create it this run; the trail section reports why
		}
		pl.Add(Action{ID: id, Kind: "HardenLogstore", Control: control, Resource: res, DependsOn: deps,
			Drift: fmt.Sprintf("created by ActionTrail with its default retention; set ttl %d days and index", spec.TTLDays),
			apply: func(ctx context.Context) error { return r.hardenLogstore(ctx, spec) }})
	default:
		var drift []string
		if st.TTLDays != spec.TTLDays {
			drift = append(drift, fmt.Sprintf("ttl is %d days, policy wants %d", st.TTLDays, spec.TTLDays))
		}
		if !st.IndexExists {
			drift = append(drift, "no index")
		} else if missing := spec.MissingIndexKeys(st); len(missing) > 0 {
			drift = append(drift, "index lacks "+strings.Join(missing, ", "))
		}
		if len(drift) == 0 {
			return
		}
		pl.Add(Action{ID: id, Kind: "HardenLogstore", Control: control, Resource: res, DependsOn: deps,
			Drift: strings.Join(drift, "; "),
			apply: func(ctx context.Context) error { return r.hardenLogstore(ctx, spec) }})
	}
}

// hardenLogstore re-reads the Logstore at apply time and writes only what still differs.
func (r *Reconciler) hardenLogstore(ctx context.Context, spec logstore.LogstoreSpec) error {
	st, err := r.Logstores.ObserveLogstore(ctx, spec.Project, spec.Name)
	if err != nil {
		return err
	}
	if !st.Exists {
		return fmt.Errorf("logstore %s/%s does not exist yet (ActionTrail creates it): retried next run", spec.Project, spec.Name)
	}
	if st.TTLDays != spec.TTLDays {
		if err := r.Logstores.UpdateLogstore(ctx, spec); err != nil {
			return err
		}
	}
	_, err = r.Logstores.EnsureIndex(ctx, spec)
	return err
}

// BucketSpec is the archive bucket the policy wants.
func (r *Reconciler) BucketSpec() archive.BucketSpec {
	o := r.Policy.Destinations.OSS
	enc := o.Encryption
	if enc == policy.EncryptionNone {
		enc = ""
	}
	spec := archive.BucketSpec{
		Name: o.Bucket, Create: o.Create, ACL: "private", Encryption: enc, KMSKeyID: o.KMSKeyID,
		RetentionDays: o.RetentionDays, SecureTransport: o.SecureTransport, BlockPublicAccess: o.BlockPublicAccess,
		Lifecycle: archive.Lifecycle{TransitionToIADays: o.Lifecycle.TransitionToIADays,
			TransitionToArchiveDays: o.Lifecycle.TransitionToArchiveDays, ExpireDays: o.Lifecycle.ExpireDays},
	}
	if o.AccessLogging.Enabled {
		spec.LoggingBucket, spec.LoggingPrefix = o.AccessLogging.TargetBucket, o.AccessLogging.TargetPrefix
	}
	return spec
}

func (r *Reconciler) planBucket(pl *Plan, findings *[]Finding, st archive.BucketState) []string {
	spec := r.BucketSpec()
	res := "oss/" + spec.Name
	var deps []string
	if !st.Exists {
		if !spec.Create {
			*findings = append(*findings, Finding{Control: ControlArchive, Resource: res,
				Message: "bucket does not exist and the policy says create: false; the trail cannot deliver to OSS"})
			return nil
		}
		pl.Add(Action{ID: idBucketCreate, Kind: "CreateBucket", Control: ControlArchive, Resource: res,
			Drift: "bucket does not exist", apply: func(ctx context.Context) error { return r.Archive.Create(ctx, spec) }})
		deps = []string{idBucketCreate}
		// A bucket created now starts private and unencrypted: plan each hardening step against that.
		st = archive.BucketState{Exists: true, ACL: "private"}
	}
	for _, f := range spec.Drift(st) {
		f := f
		id := "oss/" + f.Field
		drift := fmt.Sprintf("%s is %q, policy wants %q", f.Field, f.Got, f.Want)
		if f.CIS != "" {
			drift += " (CIS " + f.CIS + ")"
		}
		pl.Add(Action{ID: id, Kind: "Fix" + f.Field, Control: ControlArchive, Resource: res, DependsOn: deps, Drift: drift,
			apply: func(ctx context.Context) error { return r.Archive.Fix(ctx, spec, f) }})
	}
	return deps
}

// TrailSpec is the multi-account trail the policy wants.
func (r *Reconciler) TrailSpec() trail.Spec {
	p := r.Policy
	s := trail.Spec{Name: p.Trail.Name, EventRW: p.Trail.EventRW, TrailRegion: p.Trail.TrailRegion, Organization: p.Trail.Organization}
	if d := p.Destinations.SLS; d.Enabled {
		s.SLSProjectARN, s.SLSWriteRoleARN = p.SLSProjectArn(), d.RoleArn
	}
	if d := p.Destinations.OSS; d.Enabled {
		s.OSSBucket, s.OSSKeyPrefix, s.OSSWriteRoleARN = d.Bucket, d.Prefix, d.RoleArn
	}
	if d := p.Destinations.MaxCompute; d.Enabled {
		s.MaxComputeProjectARN, s.MaxComputeWriteRoleARN = d.Project, d.RoleArn
		if !strings.HasPrefix(d.Project, "acs:odps:") {
			s.MaxComputeProjectARN = fmt.Sprintf("acs:odps:%s:%s:project/%s", d.Region, p.Central.AccountID, d.Project)
		}
	}
	return s
}

func (r *Reconciler) planTrail(pl *Plan, findings *[]Finding, obs *Observed, deps []string) []string {
	spec := r.TrailSpec()
	st := obs.Trail
	res := "trail/" + spec.Name
	var after []string
	switch {
	case !st.Exists:
		pl.Add(Action{ID: idTrailCreate, Kind: "CreateTrail", Control: ControlTrail, Resource: res, DependsOn: deps,
			Drift: "trail does not exist", apply: func(ctx context.Context) error { return r.Trails.Create(ctx, spec) }})
		after = []string{idTrailCreate}
	case st.Organization != spec.Organization:
		*findings = append(*findings, Finding{Control: ControlTrail, Resource: res,
			Message: fmt.Sprintf("IsOrganizationTrail is %v but the policy wants %v: ActionTrail cannot change it; delete the trail to let auditwarden re-create it", st.Organization, spec.Organization)})
	default:
		if drift := spec.Drift(st); len(drift) > 0 {
			pl.Add(Action{ID: idTrailUpdate, Kind: "UpdateTrail", Control: ControlTrail, Resource: res, DependsOn: deps,
				Drift: strings.Join(drift, "; "), apply: func(ctx context.Context) error { return r.Trails.Update(ctx, spec) }})
			after = []string{idTrailUpdate}
		}
	}
	if !st.Exists || !st.Logging {
		drift := "trail is not logging (status " + st.Status + ")"
		if !st.Exists {
			drift = "a new trail is Fresh until StartLogging"
		}
		pl.Add(Action{ID: idTrailStart, Kind: "StartLogging", Control: ControlTrail, Resource: res, DependsOn: after,
			Drift: drift, apply: func(ctx context.Context) error { return r.Trails.StartLogging(ctx, spec.Name) }})
		after = append(after, idTrailStart)
	}
	if st.Exists && st.LatestDeliveryError != "" {
		*findings = append(*findings, Finding{Control: ControlTrail, Resource: res, Message: "OSS delivery error: " + st.LatestDeliveryError})
	}
	if st.Exists && st.LatestDeliveryLogServiceError != "" {
		*findings = append(*findings, Finding{Control: ControlTrail, Resource: res, Message: "SLS delivery error: " + st.LatestDeliveryLogServiceError})
	}
	return after
}

// memberSelected applies the policy's include/exclude to a member.
func (r *Reconciler) memberSelected(m directory.Member) bool {
	return r.Policy.MemberSelected(policy.Member{AccountID: m.AccountID, FolderPath: m.FolderPath, Tags: m.Tags})
}
