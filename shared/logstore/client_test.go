package logstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/logstore"
)

func spec(project, name string, ttl int) logstore.LogstoreSpec {
	return logstore.LogstoreSpec{Project: project, Name: name, TTLDays: ttl, Shards: 2, AutoSplit: true,
		IndexKeys: logstore.ActionTrailIndexKeys}
}

func TestProjectCreateIsVerifiedAndIdempotent(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := logstore.New(f.s)

	ok, err := c.ProjectExists(ctx, "audit-central")
	if err != nil || ok {
		t.Fatalf("ProjectExists before create = %v, %v; want false, nil", ok, err)
	}
	if err := c.CreateProject(ctx, "audit-central", "auditwarden"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.ProjectExists(ctx, "audit-central"); err != nil || !ok {
		t.Fatalf("ProjectExists after create = %v, %v; want true, nil", ok, err)
	}
	// A second create meets ProjectAlreadyExist and verifies the project is ours.
	before := f.calls("GetProject")
	if err := c.CreateProject(ctx, "audit-central", "auditwarden"); err != nil {
		t.Fatalf("second CreateProject: %v", err)
	}
	if got := f.calls("GetProject") - before; got != 1 {
		t.Errorf("second CreateProject read the project %d times; want 1 (the verification)", got)
	}

	// Project names are global: another account's project of that name is refused, by name.
	other := logstore.New(f.otherAccount(t))
	err = other.CreateProject(ctx, "audit-central", "mine")
	if err == nil || !strings.Contains(err.Error(), "audit-central") || !strings.Contains(err.Error(), "global") {
		t.Fatalf("CreateProject of a taken name = %v; want an error naming the project and saying names are global", err)
	}
	if _, err := other.ProjectExists(ctx, "audit-central"); err == nil {
		t.Error("ProjectExists on another account's project = nil error; want the refusal, not false")
	}
}

func TestLogstoreLifecycle(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := logstore.New(f.s)
	const project = "audit-ls"

	// Missing project and missing Logstore both observe as absent, without an error.
	st, err := c.ObserveLogstore(ctx, project, "backfill")
	if err != nil || st.Exists {
		t.Fatalf("observe in a missing project = %+v, %v; want absent", st, err)
	}
	if err := c.CreateProject(ctx, project, ""); err != nil {
		t.Fatal(err)
	}
	if st, err = c.ObserveLogstore(ctx, project, "backfill"); err != nil || st.Exists {
		t.Fatalf("observe a missing Logstore = %+v, %v; want absent", st, err)
	}

	sp := spec(project, "backfill", 365)
	if err := c.CreateLogstore(ctx, sp); err != nil {
		t.Fatal(err)
	}
	st, err = c.ObserveLogstore(ctx, project, "backfill")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.TTLDays != 365 || st.Shards != 2 || !st.IndexExists {
		t.Fatalf("after create: %+v; want exists, ttl 365, 2 shards, indexed", st)
	}
	if missing := sp.MissingIndexKeys(st); len(missing) > 0 {
		t.Fatalf("after create the index lacks %v", missing)
	}

	// A second create is verified (the Logstore is read) and writes nothing but the refused create.
	w0, idx0 := f.writes(), f.calls("CreateIndex")+f.calls("UpdateIndex")
	if err := c.CreateLogstore(ctx, sp); err != nil {
		t.Fatalf("second CreateLogstore: %v", err)
	}
	if got := f.writes() - w0; got != 1 {
		t.Errorf("second CreateLogstore made %d write calls; want 1 (the CreateLogStore that SLS refuses)", got)
	}
	if got := f.calls("CreateIndex") + f.calls("UpdateIndex") - idx0; got != 0 {
		t.Errorf("second CreateLogstore wrote the index %d times; want 0", got)
	}

	// Someone lowers the TTL and turns on web tracking out of band; UpdateLogstore heals the TTL
	// and keeps web tracking (read-modify-write).
	raw := f.s.SLS()
	ls, err := raw.GetLogStore(project, "backfill")
	if err != nil {
		t.Fatal(err)
	}
	ls.TTL, ls.WebTracking = 30, true
	if err := raw.UpdateLogStoreV2(project, ls); err != nil {
		t.Fatal(err)
	}
	if st, _ = c.ObserveLogstore(ctx, project, "backfill"); st.TTLDays != 30 {
		t.Fatalf("out-of-band TTL change not visible: %+v", st)
	}
	if err := c.UpdateLogstore(ctx, sp); err != nil {
		t.Fatal(err)
	}
	ls, err = raw.GetLogStore(project, "backfill")
	if err != nil {
		t.Fatal(err)
	}
	if ls.TTL != 365 || !ls.WebTracking || !ls.AutoSplit || !ls.AppendMeta {
		t.Errorf("after UpdateLogstore: ttl %d, webTracking %v, autoSplit %v, appendMeta %v; want 365 and the other settings kept",
			ls.TTL, ls.WebTracking, ls.AutoSplit, ls.AppendMeta)
	}
	// At the wanted TTL, UpdateLogstore does not write.
	w0 = f.writes()
	if err := c.UpdateLogstore(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if got := f.writes() - w0; got != 0 {
		t.Errorf("UpdateLogstore at the wanted TTL made %d write calls; want 0", got)
	}

	bad := sp
	bad.TTLDays = 0
	if err := c.UpdateLogstore(ctx, bad); err == nil || !strings.Contains(err.Error(), "TTLDays") {
		t.Errorf("UpdateLogstore with TTLDays 0 = %v; want an error naming TTLDays", err)
	}
}

func TestEnsureIndexCreatesExtendsAndLeavesComplete(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := logstore.New(f.s)
	const project = "audit-idx"
	if err := c.CreateProject(ctx, project, ""); err != nil {
		t.Fatal(err)
	}
	raw := f.s.SLS()
	if err := raw.CreateLogStore(project, "events", 90, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	sp := spec(project, "events", 90)

	// No index: created.
	changed, err := c.EnsureIndex(ctx, sp)
	if err != nil || !changed {
		t.Fatalf("EnsureIndex without an index = %v, %v; want changed", changed, err)
	}
	if got := f.calls("CreateIndex"); got != 1 {
		t.Errorf("CreateIndex calls = %d; want 1", got)
	}

	// An index someone replaced with one lacking most keys but holding a key of their own:
	// extended, their key kept.
	foreign := `{"line":{"token":[","," "],"caseSensitive":false},"keys":{"user":{"type":"long"},` +
		`"event":{"type":"json","token":[","],"caseSensitive":false,"index_all":true,"max_depth":3,` +
		`"json_keys":{"eventName":{"type":"text","doc_value":true},"custom.path":{"type":"long"}}}}}`
	if err := raw.UpdateIndexString(project, "events", foreign); err != nil {
		t.Fatal(err)
	}
	st, err := c.ObserveLogstore(ctx, project, "events")
	if err != nil {
		t.Fatal(err)
	}
	if missing := sp.MissingIndexKeys(st); len(missing) != len(logstore.ActionTrailIndexKeys)-1 {
		t.Fatalf("observed missing keys %v; want all but event.eventName", missing)
	}
	changed, err = c.EnsureIndex(ctx, sp)
	if err != nil || !changed {
		t.Fatalf("EnsureIndex with missing keys = %v, %v; want changed", changed, err)
	}
	if got := f.calls("UpdateIndex"); got != 2 { // the out-of-band one and ours
		t.Errorf("UpdateIndex calls = %d; want 2", got)
	}
	idx, err := raw.GetIndexString(project, "events")
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{`"user":{"type":"long"}`, `"max_depth":3`, `"custom.path":{"type":"long"}`, `"index_all":true`} {
		if !strings.Contains(idx, keep) {
			t.Errorf("index after EnsureIndex lost %s: %s", keep, idx)
		}
	}
	st, _ = c.ObserveLogstore(ctx, project, "events")
	if missing := sp.MissingIndexKeys(st); len(missing) > 0 {
		t.Errorf("after EnsureIndex the index still lacks %v", missing)
	}

	// Complete: no write at all.
	w0 := f.writes()
	changed, err = c.EnsureIndex(ctx, sp)
	if err != nil || changed {
		t.Fatalf("EnsureIndex on a complete index = %v, %v; want unchanged", changed, err)
	}
	if got := f.writes() - w0; got != 0 {
		t.Errorf("EnsureIndex on a complete index made %d write calls; want 0", got)
	}
}

// ActionTrail's own Logstores already index every key auditwarden needs, so hardening one
// never rewrites the service's index.
func TestActionTrailLogstoreNeedsNoIndexWrite(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := logstore.New(f.s)
	if err := c.CreateProject(ctx, "audit-at", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.SLS.EnsureServiceLogstore("audit-at", "actiontrail_org", 180); err != nil {
		t.Fatal(err)
	}
	sp := spec("audit-at", "actiontrail_org", 365)
	st, err := c.ObserveLogstore(ctx, "audit-at", "actiontrail_org")
	if err != nil {
		t.Fatal(err)
	}
	if missing := sp.MissingIndexKeys(st); len(missing) > 0 {
		t.Fatalf("the service index lacks %v", missing)
	}
	w0 := f.writes()
	if changed, err := c.EnsureIndex(ctx, sp); err != nil || changed {
		t.Fatalf("EnsureIndex = %v, %v; want unchanged", changed, err)
	}
	if err := c.UpdateLogstore(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if got := f.writes() - w0; got != 1 {
		t.Errorf("hardening actiontrail_org made %d write calls; want 1 (the TTL)", got)
	}
	if st, _ = c.ObserveLogstore(ctx, "audit-at", "actiontrail_org"); st.TTLDays != 365 {
		t.Errorf("ttl = %d; want 365", st.TTLDays)
	}
}

func str(s string) *string { return &s }

// putEvents writes n ActionTrail-shaped logs (field "event" holding the record) one second
// apart from start, every third one a StopLogging.
func putEvents(t *testing.T, raw sls.ClientInterface, project, ls string, start time.Time, n int) {
	t.Helper()
	var logs []*sls.Log
	for i := 0; i < n; i++ {
		name := "DescribeTrails"
		if i%3 == 0 {
			name = "StopLogging"
		}
		ts := uint32(start.Add(time.Duration(i) * time.Second).Unix())
		ev := fmt.Sprintf(`{"eventId":"ev-%04d","eventName":"%s","recipientAccountId":"1000"}`, i, name)
		logs = append(logs, &sls.Log{Time: &ts, Contents: []*sls.LogContent{{Key: str("event"), Value: str(ev)}}})
	}
	if err := raw.PutLogs(project, ls, &sls.LogGroup{Topic: str("actiontrail_audit_event"), Logs: logs}); err != nil {
		t.Fatal(err)
	}
}

func TestQueryPagesByOffset(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := logstore.New(f.s)
	if err := c.CreateProject(ctx, "audit-q", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateLogstore(ctx, spec("audit-q", "backfill", 365)); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	putEvents(t, f.s.SLS(), "audit-q", "backfill", t0, 250)
	from, to := t0.Add(-time.Minute), time.Now().Add(time.Minute)

	cases := []struct {
		name      string
		query     string
		limit     int
		wantLogs  int
		wantCalls int64
	}{
		{"all, three pages", "", 0, 250, 3},
		{"limit inside the second page", "*", 120, 120, 2},
		{"limit on a page boundary", "*", 100, 100, 1},
		{"filter on a JSON key", "event.eventName: StopLogging", 0, 84, 1},
		{"analytic query in one call", "* | select count(*) as n", 0, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.calls("GetLogs")
			logs, err := c.Query(ctx, "audit-q", "backfill", from, to, tc.query, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(logs) != tc.wantLogs {
				t.Fatalf("got %d logs; want %d", len(logs), tc.wantLogs)
			}
			if got := f.calls("GetLogs") - before; got != tc.wantCalls {
				t.Errorf("GetLogs calls = %d; want %d", got, tc.wantCalls)
			}
			if strings.Contains(tc.query, "select") {
				if logs[0]["n"] != "250" {
					t.Errorf("count = %q; want 250", logs[0]["n"])
				}
				return
			}
			// Oldest first, no duplicates across pages.
			seen := map[string]bool{}
			var times []string
			for _, l := range logs {
				if seen[l["event"]] {
					t.Fatalf("duplicate log across pages: %s", l["event"])
				}
				seen[l["event"]] = true
				times = append(times, fmt.Sprintf("%012s", l["__time__"]))
			}
			if !slices.IsSorted(times) {
				t.Error("logs are not oldest first")
			}
		})
	}

	for _, bad := range []struct {
		name     string
		from, to time.Time
		limit    int
		want     string
	}{
		{"empty range", to, to, 0, "before"},
		{"negative limit", from, to, -1, "limit"},
	} {
		if _, err := c.Query(ctx, "audit-q", "backfill", bad.from, bad.to, "*", bad.limit); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v; want one mentioning %q", bad.name, err, bad.want)
		}
	}
}

// A storm of throttling (403 WriteQuotaExceed / ReadQuotaExceed) on every SLS call still converges.
func TestThrottlingStormConverges(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.srv.World.Faults.Set(core.FaultConfig{ThrottleRate: 0.5, Seed: 42})
	c := logstore.New(f.s)
	sp := spec("audit-storm", "backfill", 365)
	if err := c.CreateProject(ctx, sp.Project, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateLogstore(ctx, sp); err != nil {
		t.Fatal(err)
	}
	st, err := c.ObserveLogstore(ctx, sp.Project, sp.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.TTLDays != 365 || len(sp.MissingIndexKeys(st)) > 0 {
		t.Fatalf("after the storm: %+v", st)
	}
	_, _, throttled := f.srv.World.Stats.Sum("log", "")
	if throttled == 0 {
		t.Fatal("no call was throttled: the storm did not happen")
	}
	t.Logf("%d SLS calls throttled on the way", throttled)
}
