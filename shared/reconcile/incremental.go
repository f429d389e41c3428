package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

// recordLag is how late ActionTrail may record an action (within 10 minutes) plus delivery slack:
// incremental reads start this much before the previous run.
const recordLag = 15 * time.Minute

// membershipEvents change who is in the directory or how the policy selects them.
var membershipEvents = []string{
	"CreateResourceAccount", "CreateCloudAccount", "AcceptHandshake", "PromoteResourceAccount",
	"RemoveCloudAccount", "DeleteAccount", "MoveAccount", "UpdateAccount", "TagResources", "UntagResources",
}

// organizationEvents tamper with the bucket or the Logstores; trail records need no entry because
// every scope re-reads the trail (two calls).
var organizationEvents = []string{
	"PutBucketAcl", "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketEncryption", "DeleteBucketEncryption",
	"PutBucketLogging", "DeleteBucketLogging", "PutBucketLifecycle", "DeleteBucketLifecycle",
	"DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "AbortBucketWorm", "DeleteBucket",
	"UpdateLogStore", "DeleteLogStore", "UpdateIndex", "DeleteIndex", "DeleteProject",
}

// trailEvents change a trail. The organization trail is re-read by every run; a member's own
// trail only when the member is in scope, so records of these naming a member trail bring the
// member into the run (memberTrails.enabled only: otherwise the query is unchanged).
var trailEvents = []string{"StopLogging", "DeleteTrail", "UpdateTrail"}

// ChangedSince is incremental mode's observation of what to look at: the members named by
// membership records and the organization resources touched by tampering records in the trail's
// own Logstore since the last run, plus any member that was collected then (known) and is missing
// from the Log Audit list now. The full scan stays the backstop for what no record shows.
func (r *Reconciler) ChangedSince(ctx context.Context, since time.Time, known []string) (Scope, error) {
	p := r.Policy
	if !r.slsInCentral() {
		return Scope{}, fmt.Errorf("incremental mode reads the trail's Logstore in the central account; the policy delivers elsewhere")
	}
	names := append(append([]string{}, membershipEvents...), organizationEvents...)
	if p.MemberTrails.Enabled {
		names = append(names, trailEvents...)
	}
	terms := make([]string, len(names))
	for i, n := range names {
		terms[i] = "event.eventName: " + n
	}
	rows, err := r.Logstores.Query(ctx, p.Destinations.SLS.Project, p.TrailLogstore(), since.Add(-recordLag), r.now().Add(time.Minute),
		strings.Join(terms, " or "), 0)
	if err != nil {
		return Scope{}, fmt.Errorf("read changes from %s/%s: %w", p.Destinations.SLS.Project, p.TrailLogstore(), err)
	}
	scope := Scope{Incremental: true}
	members := map[string]bool{}
	org := map[string]bool{}
	for _, n := range organizationEvents {
		org[n] = true
	}
	for _, row := range rows {
		ev, err := recordEvent(row["event"])
		if err != nil {
			r.Log.Warn().Err(err).Msg("incremental: unreadable record skipped")
			continue
		}
		if org[ev.Data.EventName] && ev.Data.ErrorCode == "" {
			scope.Organization = true
			continue
		}
		if slices.Contains(trailEvents, ev.Data.EventName) {
			if id := r.memberTrailOf(ev.Data); id != "" {
				members[id] = true
			}
			continue
		}
		intent, err := fcevent.MembershipIntent(ev)
		if err != nil || intent.Kind == fcevent.Ignore {
			continue
		}
		for _, id := range intent.AccountIDs {
			members[id] = true
		}
	}
	if len(known) > 0 {
		cfg, ok, err := r.LogAudit.Observe(ctx)
		if err != nil {
			return Scope{}, fmt.Errorf("read log audit configuration: %w", err)
		}
		listed := map[string]bool{}
		for _, m := range cfg.Members {
			listed[m] = true
		}
		allMode := ok && cfg.RDType == "all"
		for _, id := range known {
			if !allMode && !listed[id] {
				members[id] = true
			}
		}
	}
	for id := range members {
		scope.Members = append(scope.Members, id)
	}
	sort.Strings(scope.Members)
	return scope, nil
}

// recordEvent wraps a stored ActionTrail record in the envelope EventBridge would deliver, so the
// event path's decoder and membership rules serve the incremental path too.
func recordEvent(record string) (fcevent.CloudEvent, error) {
	var probe struct {
		EventID     string `json:"eventId"`
		EventSource string `json:"eventSource"`
	}
	if err := json.Unmarshal([]byte(record), &probe); err != nil {
		return fcevent.CloudEvent{}, fmt.Errorf("record: %w", err)
	}
	service, _, _ := strings.Cut(probe.EventSource, ".")
	if service == "" {
		service = "unknown"
	}
	envelope := fmt.Sprintf(`{"id":%q,"source":"acs.actiontrail","specversion":"1.0","type":"%s:ActionTrail:ApiCall","data":%s}`,
		probe.EventID, service, record)
	return fcevent.DecodeCloudEvent([]byte(envelope))
}

// memberTrailOf returns the member whose own trail a trail record changed, or "" (the
// organization trail, someone else's trail, a refused call). The record is the member's: its
// recipient account is the member, and the trail's name is the one memberTrails gives it.
func (r *Reconciler) memberTrailOf(rec fcevent.Record) string {
	if !r.Policy.MemberTrails.Enabled || rec.ErrorCode != "" {
		return ""
	}
	id := rec.RecipientAccountID
	if id == "" || id == r.Policy.Central.AccountID {
		return ""
	}
	name, _ := rec.RequestParameters["Name"].(string)
	if name == "" {
		name = rec.ResourceName
	}
	if name != r.Policy.MemberTrailName(id) {
		return ""
	}
	return id
}
