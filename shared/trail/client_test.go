package trail_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// fastRetry keeps throttling storms quick: 20 attempts make a call fail at 50% throttling
// about once in a million.
var fastRetry = cloud.RetryPolicy{MaxAttempts: 20, Base: time.Millisecond, Cap: 5 * time.Millisecond}

type env struct {
	srv    *localcloud.Server
	s      *cloud.Session
	mgmt   string
	region string
}

func start(t *testing.T, opts localcloud.Options, sessionOpts ...cloud.Option) *env {
	t.Helper()
	srv, err := localcloud.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	info := srv.CloudInfo()
	sessionOpts = append([]cloud.Option{cloud.WithRetryPolicy(fastRetry),
		cloud.WithLimits(map[string]cloud.Limit{"actiontrail": {}, "sts": {}})}, sessionOpts...)
	s, err := info.Session(sessionOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, s: s, mgmt: info.ManagementAccountID, region: info.Region}
}

// project makes an SLS project owned by the account, as the central project would be.
func (e *env) project(t *testing.T, owner, name string) string {
	t.Helper()
	if err := e.srv.SLS.CreateServiceProject(owner, name, e.region); err != nil {
		t.Fatal(err)
	}
	return trail.SLSProjectARN(e.region, owner, name)
}

func (e *env) calls(action string) int64 {
	n, _, _ := e.srv.World.Stats.Sum("Actiontrail", action)
	return n
}

func TestTrailLifecycle(t *testing.T) {
	e := start(t, localcloud.Options{Members: 3})
	ctx := context.Background()
	c := trail.New(e.s)
	spec := trail.Spec{
		Name: "aw-org-trail", EventRW: "Write", TrailRegion: "All", Organization: true,
		SLSProjectARN: e.project(t, e.mgmt, "aw-central-audit"),
	}

	st, err := c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Exists {
		t.Fatalf("Observe before Create: Exists = true")
	}

	if err := c.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	slr := trail.RoleARN(e.mgmt, trail.ServiceLinkedRole)
	wantSpec := spec
	wantSpec.SLSWriteRoleARN = slr // filled by ActionTrail for a project in the trail's own account
	if !st.Exists || st.Status != "Fresh" || st.Logging || st.Spec != wantSpec {
		t.Fatalf("after Create: Exists %v Status %q Logging %v Spec %+v; want a Fresh, not logging trail with %+v", st.Exists, st.Status, st.Logging, st.Spec, wantSpec)
	}
	if st.HomeRegion != e.region || st.OwnerAccountID != e.mgmt || st.OrganizationID != e.srv.World.Directory.ResourceDirectoryID ||
		st.ARN != "acs:actiontrail:"+e.region+":"+e.mgmt+":trail/"+spec.Name || st.CreateTime.IsZero() || !st.StartLoggingTime.IsZero() {
		t.Errorf("after Create: %+v", st)
	}

	// Create again, identical: verified, not an error, no second trail.
	if err := c.Create(ctx, spec); err != nil {
		t.Fatalf("second identical Create: %v", err)
	}
	// Create again, differing: an error naming the difference.
	other := spec
	other.EventRW = "Read"
	err = c.Create(ctx, other)
	if !errors.Is(err, trail.ErrDiffers) || !strings.Contains(err.Error(), "EventRW") {
		t.Fatalf("Create with another EventRW: error %v, want ErrDiffers naming EventRW", err)
	}

	if err := c.StartLogging(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "Enable" || !st.Logging || st.StartLoggingTime.IsZero() {
		t.Fatalf("after StartLogging: Status %q Logging %v StartLoggingTime %v", st.Status, st.Logging, st.StartLoggingTime)
	}

	// Update EventRW; then the trail matches and a second Update writes nothing.
	spec.EventRW = "All"
	if err := c.Update(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	norm, err := c.Normalize(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d := norm.Drift(st); len(d) != 0 || st.EventRW != "All" {
		t.Fatalf("after Update: EventRW %q, drift %v", st.EventRW, d)
	}
	before := e.srv.World.Stats.WriteCalls()
	if err := c.Update(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.World.Stats.WriteCalls() - before; n != 0 {
		t.Errorf("Update of a matching trail made %d write calls, want 0", n)
	}
	org := spec
	org.Organization = false
	if err := c.Update(ctx, org); err == nil || !strings.Contains(err.Error(), "IsOrganizationTrail") {
		t.Errorf("Update changing IsOrganizationTrail: error %v, want one naming IsOrganizationTrail", err)
	}

	// A member sees the multi-account trail, and cannot delete it (it is not the member's).
	member, err := e.s.ForAccount(ctx, e.srv.Seeded.Members[0].AccountID)
	if err != nil {
		t.Fatal(err)
	}
	mst, err := trail.New(member).Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !mst.Exists || !mst.Organization || mst.OwnerAccountID != e.mgmt || !mst.Logging {
		t.Errorf("member's view of the organization trail: %+v", mst)
	}
	if err := trail.New(member).Delete(ctx, spec.Name); err != nil {
		t.Errorf("member Delete of the management account's trail: %v, want nil (it has no such trail)", err)
	}

	if err := c.StopLogging(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "Disable" || st.Logging || st.StopLoggingTime.IsZero() {
		t.Fatalf("after StopLogging: Status %q Logging %v StopLoggingTime %v", st.Status, st.Logging, st.StopLoggingTime)
	}

	if err := c.Delete(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Observe(ctx, spec.Name); err != nil || st.Exists {
		t.Fatalf("after Delete: Exists %v, err %v", st.Exists, err)
	}
	e.srv.World.Stats.Reset()
	if err := c.Delete(ctx, spec.Name); err != nil {
		t.Fatalf("Delete of a missing trail: %v, want nil", err)
	}
	if n := e.calls("DescribeTrails"); n != 1 {
		t.Errorf("Delete of a missing trail verified with %d DescribeTrails, want 1", n)
	}
	for _, op := range []func(context.Context, string) error{c.StartLogging, c.StopLogging} {
		if err := op(ctx, spec.Name); !errors.Is(err, trail.ErrNotFound) {
			t.Errorf("StartLogging/StopLogging of a missing trail: %v, want ErrNotFound", err)
		}
	}
	if err := c.Update(ctx, spec); !errors.Is(err, trail.ErrNotFound) {
		t.Errorf("Update of a missing trail: %v, want ErrNotFound", err)
	}
}

func TestTrailDestinations(t *testing.T) {
	e := start(t, localcloud.Options{})
	ctx := context.Background()
	c := trail.New(e.s)
	if err := e.srv.OSS.CreateBucket(e.mgmt, "aw-archive-bucket", "private"); err != nil {
		t.Fatal(err)
	}
	slr := trail.RoleARN(e.mgmt, trail.ServiceLinkedRole)
	spec := trail.Spec{
		Name: "aw-archive", EventRW: "All", TrailRegion: "All",
		SLSProjectARN: e.project(t, e.mgmt, "aw-archive-proj"),
		OSSBucket:     "aw-archive-bucket", OSSKeyPrefix: "audit/actiontrail",
		MaxComputeProjectARN: "acs:odps:" + e.region + ":" + e.mgmt + ":project/actiontrail_aw",
	}
	if err := c.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st, err := c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	want := spec
	want.SLSWriteRoleARN, want.OSSWriteRoleARN = slr, slr
	if st.Spec != want {
		t.Fatalf("Observe:\n got %+v\nwant %+v", st.Spec, want)
	}

	// Dropping OSS and MaxCompute from the spec removes them from the trail.
	spec.OSSBucket, spec.OSSKeyPrefix, spec.MaxComputeProjectARN = "", "", ""
	if err := c.Update(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	want = spec
	want.SLSWriteRoleARN = slr
	if st.Spec != want {
		t.Fatalf("after removing destinations:\n got %+v\nwant %+v", st.Spec, want)
	}
}

func TestSpecValidate(t *testing.T) {
	arn := trail.SLSProjectARN("cn-hangzhou", "1234567890123456", "aw-central")
	for _, tc := range []struct {
		name  string
		spec  trail.Spec
		field string
	}{
		{"short name", trail.Spec{Name: "aw", SLSProjectARN: arn}, "name"},
		{"upper-case name", trail.Spec{Name: "AW-trail", SLSProjectARN: arn}, "name"},
		{"EventRW", trail.Spec{Name: "aw-trail", EventRW: "Both", SLSProjectARN: arn}, "EventRW"},
		{"TrailRegion", trail.Spec{Name: "aw-trail", TrailRegion: "everywhere", SLSProjectARN: arn}, "TrailRegion"},
		{"no destination", trail.Spec{Name: "aw-trail"}, "destination"},
		{"SLS ARN", trail.Spec{Name: "aw-trail", SLSProjectARN: "acs:log:cn-hangzhou:1:aw"}, "SLSProjectARN"},
		{"SLS role", trail.Spec{Name: "aw-trail", SLSProjectARN: arn, SLSWriteRoleARN: "role/x"}, "SLSWriteRoleARN"},
		{"bucket", trail.Spec{Name: "aw-trail", OSSBucket: "Bad_Bucket"}, "OSSBucket"},
		{"prefix", trail.Spec{Name: "aw-trail", OSSBucket: "aw-bucket", OSSKeyPrefix: "1ab"}, "OSSKeyPrefix"},
		{"prefix without bucket", trail.Spec{Name: "aw-trail", SLSProjectARN: arn, OSSKeyPrefix: "audit-logs"}, "without OSSBucket"},
		{"MaxCompute", trail.Spec{Name: "aw-trail", MaxComputeProjectARN: "acs:log:x"}, "MaxComputeProjectARN"},
	} {
		err := tc.spec.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tc.name, err, tc.field)
		}
	}
	if err := (trail.Spec{Name: "aw-trail", SLSProjectARN: arn}).Validate(); err != nil {
		t.Errorf("a valid spec: %v", err)
	}
}

func TestTrailThrottlingStorm(t *testing.T) {
	e := start(t, localcloud.Options{Members: 1})
	ctx := context.Background()
	c := trail.New(e.s)
	spec := trail.Spec{Name: "aw-storm-trail", EventRW: "All", TrailRegion: "All", SLSProjectARN: e.project(t, e.mgmt, "aw-storm")}
	e.srv.World.Faults.Set(core.FaultConfig{ThrottleRate: 0.5, Seed: 5})
	steps := []struct {
		name string
		run  func() error
	}{
		{"Create", func() error { return c.Create(ctx, spec) }},
		{"Create again", func() error { return c.Create(ctx, spec) }},
		{"StartLogging", func() error { return c.StartLogging(ctx, spec.Name) }},
		{"Update", func() error { s := spec; s.EventRW = "Write"; return c.Update(ctx, s) }},
		{"StopLogging", func() error { return c.StopLogging(ctx, spec.Name) }},
		{"Delete", func() error { return c.Delete(ctx, spec.Name) }},
		{"Delete again", func() error { return c.Delete(ctx, spec.Name) }},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s under 50%% throttling: %v", st.name, err)
		}
	}
	if _, _, throttled := e.srv.World.Stats.Sum("Actiontrail", ""); throttled == 0 {
		t.Error("no call was throttled: the storm did not happen")
	}
	e.srv.World.Faults.Set(core.FaultConfig{})
	if st, err := c.Observe(ctx, spec.Name); err != nil || st.Exists {
		t.Errorf("after the storm: Exists %v, err %v; want the trail deleted", st.Exists, err)
	}
}

func TestLookupEventsPaging(t *testing.T) {
	e := start(t, localcloud.Options{Members: 2, HistoryDays: 3, HistoryPerDay: 12, LookupRatePerSecond: -1, Seed: 4},
		cloud.WithLimits(map[string]cloud.Limit{"actiontrail:LookupEvents": {}}))
	ctx := context.Background()
	member := e.srv.Seeded.Members[0].AccountID
	end := time.Now().UTC().Add(-time.Minute).Truncate(time.Second) // before any live record of this test
	start := end.Add(-60 * time.Hour)

	ms, err := e.s.ForAccount(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		s       *cloud.Session
		account string
		attrs   map[string]string
		pageMax int
	}{
		{"management, pages of 7", e.s, e.mgmt, nil, 7},
		{"member, pages of 50", ms, member, nil, 0},
		{"member, write events, pages of 5", ms, member, map[string]string{"EventRW": "Write"}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []*core.Event
			for _, ev := range e.srv.World.Recorder.Window(tc.account, start, end.Add(time.Second)) {
				if tc.attrs == nil || strings.EqualFold(ev.EventRW, tc.attrs["EventRW"]) {
					want = append(want, ev)
				}
			}
			if len(want) == 0 {
				t.Fatal("no seeded history in the window")
			}
			per := tc.pageMax
			if per == 0 {
				per = trail.LookupMaxResults
			}
			e.srv.World.Stats.Reset()
			c := trail.New(tc.s)
			q := trail.LookupQuery{Start: start, End: end, MaxResults: tc.pageMax, Attributes: tc.attrs}
			var ids []string
			var last time.Time
			for {
				page, err := c.LookupEvents(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Events) > per {
					t.Fatalf("a page has %d events, more than MaxResults %d", len(page.Events), per)
				}
				for _, raw := range page.Events {
					var ev struct {
						EventID   string `json:"eventId"`
						EventTime string `json:"eventTime"`
						Recipient string `json:"recipientAccountId"`
					}
					if err := json.Unmarshal(raw, &ev); err != nil {
						t.Fatal(err)
					}
					at, err := time.Parse(time.RFC3339, ev.EventTime)
					if err != nil {
						t.Fatal(err)
					}
					if !last.IsZero() && at.After(last) {
						t.Fatalf("events are not newest first: %s after %s", at, last)
					}
					last = at
					if ev.Recipient != tc.account {
						t.Fatalf("event %s belongs to %s, not %s", ev.EventID, ev.Recipient, tc.account)
					}
					ids = append(ids, ev.EventID)
				}
				if page.NextToken == "" {
					break
				}
				q.NextToken = page.NextToken
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("event %s returned twice", id)
				}
				seen[id] = true
			}
			if len(ids) != len(want) {
				t.Fatalf("LookupEvents returned %d events, want %d", len(ids), len(want))
			}
			for _, ev := range want {
				if !seen[ev.EventID] {
					t.Fatalf("event %s of the window is missing", ev.EventID)
				}
			}
			wantPages := int64((len(want) + per - 1) / per)
			if n, _, _ := e.srv.World.Stats.Sum("Actiontrail", "LookupEvents"); n != wantPages {
				t.Errorf("LookupEvents calls = %d, want %d", n, wantPages)
			}
		})
	}

	keys := map[string]bool{}
	for _, row := range e.s.Metrics().Snapshot() {
		keys[row.API] = true
	}
	for _, k := range []string{"actiontrail:LookupEvents:" + e.mgmt, "actiontrail:LookupEvents:" + member} {
		if !keys[k] {
			t.Errorf("no calls under the per-account limiter key %s (keys %v)", k, keys)
		}
	}
}

// With ActionTrail's own 2 calls/s per account and the client's default limiter, paging is
// paced by the client and never throttled by the service.
func TestLookupEventsStaysUnderServiceLimit(t *testing.T) {
	e := start(t, localcloud.Options{HistoryDays: 1, HistoryPerDay: 20, Seed: 2})
	ctx := context.Background()
	c := trail.New(e.s)
	q := trail.LookupQuery{MaxResults: 6} // the last 7 days: 20 events, 4 pages
	pages := 0
	for {
		page, err := c.LookupEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if page.NextToken == "" {
			break
		}
		q.NextToken = page.NextToken
	}
	calls, _, throttled := e.srv.World.Stats.Sum("Actiontrail", "LookupEvents")
	if pages != 4 || calls != 4 || throttled != 0 {
		t.Errorf("pages %d, calls %d, throttled %d; want 4, 4, 0", pages, calls, throttled)
	}
}

func TestLookupQueryValidation(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := trail.New(e.s)
	now := time.Now()
	for _, tc := range []struct {
		name string
		q    trail.LookupQuery
		want string
	}{
		{"start without end", trail.LookupQuery{Start: now}, "together"},
		{"start after end", trail.LookupQuery{Start: now, End: now.Add(-time.Hour)}, "after"},
		{"too many results", trail.LookupQuery{MaxResults: 51}, "MaxResults"},
		{"unknown attribute", trail.LookupQuery{Attributes: map[string]string{"Colour": "red"}}, "Colour"},
		{"three attributes", trail.LookupQuery{Attributes: map[string]string{"EventRW": "Write", "User": "x", "EventName": "y"}}, "at most 2"},
	} {
		if _, err := c.LookupEvents(context.Background(), tc.q); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if n, _, _ := e.srv.World.Stats.Sum("Actiontrail", "LookupEvents"); n != 0 {
		t.Errorf("invalid queries reached the service %d times", n)
	}
}

func TestDeliveryHistoryJobs(t *testing.T) {
	clk := core.NewManualClock(time.Now())
	e := start(t, localcloud.Options{Clock: clk, HistoryDays: 2, HistoryPerDay: 5})
	ctx := context.Background()
	c := trail.New(e.s)
	spec := trail.Spec{Name: "aw-backfill", EventRW: "All", SLSProjectARN: e.project(t, e.mgmt, "aw-backfill-proj")}
	if err := c.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateDeliveryHistoryJob(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	j, err := c.DeliveryHistoryJob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := trail.JobState{ID: id, TrailName: spec.Name, HomeRegion: e.region, Status: trail.JobInitializing,
		Regions: map[string]int{e.region: trail.JobInitializing}}
	if j.ID != want.ID || j.TrailName != want.TrailName || j.HomeRegion != want.HomeRegion || j.Status != want.Status ||
		!reflect.DeepEqual(j.Regions, want.Regions) || j.Created.IsZero() || j.Start.IsZero() || j.Done() {
		t.Fatalf("new job = %+v, want %+v", j, want)
	}
	// One running job per account.
	if _, err := c.CreateDeliveryHistoryJob(ctx, spec.Name); err == nil || cloud.Code(err) != "DeliveryHistoryJobRunningException" {
		t.Fatalf("second running job: error %v, want DeliveryHistoryJobRunningException", err)
	}

	clk.Advance(time.Minute)
	if j, err = c.DeliveryHistoryJob(ctx, id); err != nil {
		t.Fatal(err)
	}
	if j.Status != trail.JobComplete || !j.Done() || j.Regions[e.region] != trail.JobComplete {
		t.Fatalf("job after a minute = %+v, want complete", j)
	}
	id2, err := c.CreateDeliveryHistoryJob(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListDeliveryHistoryJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != id2 || list[1].ID != id || list[1].Status != trail.JobComplete || list[0].Status != trail.JobInitializing {
		t.Fatalf("ListDeliveryHistoryJobs = %+v, want jobs %d (initializing) then %d (complete)", list, id2, id)
	}
	if _, err := c.DeliveryHistoryJob(ctx, 0); err == nil {
		t.Error("DeliveryHistoryJob(0): no error")
	}
}
