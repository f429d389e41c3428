package sls

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
)

func TestProjectLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.client()

	if _, err := c.CreateProjectV2("audit-central", "central audit", "ZRS"); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	p, err := c.GetProject("audit-central")
	if err != nil {
		t.Fatalf("GetProject: %v", err)
	}
	timeRe := regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)
	if p.Name != "audit-central" || p.Description != "central audit" || p.Status != "Normal" ||
		p.Owner != e.owner || p.Region != "cn-hangzhou" || p.DataRedundancyType != "ZRS" ||
		!timeRe.MatchString(p.CreateTime) || !timeRe.MatchString(p.LastModifyTime) {
		t.Fatalf("GetProject = %+v", p)
	}
	if want := testStart.In(projectTimeZone).Format(projectTimeLayout); p.CreateTime != want {
		t.Fatalf("createTime %q, want %q (world clock, CST)", p.CreateTime, want)
	}

	ok, err := c.CheckProjectExist("audit-central")
	if err != nil || !ok {
		t.Fatalf("CheckProjectExist(existing) = %v, %v", ok, err)
	}
	ok, err = c.CheckProjectExist("no-such-project")
	if err != nil || ok {
		t.Fatalf("CheckProjectExist(missing) = %v, %v", ok, err)
	}

	_, err = c.CreateProject("audit-central", "again")
	slsErr(t, err, 400, "ProjectAlreadyExist")
	// The name space is shared by every account.
	_, err = e.otherClient().CreateProject("audit-central", "theirs")
	slsErr(t, err, 400, "ProjectAlreadyExist")

	if _, err := e.otherClient().CreateProject("other-proj", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject("second-proj", ""); err != nil {
		t.Fatal(err)
	}
	names, err := c.ListProject()
	if err != nil || strings.Join(names, ",") != "audit-central,second-proj" {
		t.Fatalf("ListProject = %v, %v (only the caller's projects, by name)", names, err)
	}
	projects, count, total, err := c.ListProjectV2(1, 1)
	if err != nil || count != 1 || total != 2 || len(projects) != 1 || projects[0].Name != "second-proj" {
		t.Fatalf("ListProjectV2(1,1) = %v %d %d %v", projects, count, total, err)
	}

	e.clock.Advance(time.Hour)
	if _, err := c.UpdateProject("audit-central", "renamed"); err != nil {
		t.Fatal(err)
	}
	p, _ = c.GetProject("audit-central")
	if p.Description != "renamed" || p.LastModifyTime == p.CreateTime {
		t.Fatalf("after UpdateProject: %+v", p)
	}

	if err := c.DeleteProject("second-proj"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProject("second-proj")
	slsErr(t, err, 404, "ProjectNotExist")
	err = c.DeleteProject("second-proj")
	slsErr(t, err, 404, "ProjectNotExist")
}

func TestProjectValidation(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, name := range []string{"ab", "Upper-case", "-lead", "trail-", "under_score", strings.Repeat("a", 64), "dot.ted"} {
		t.Run(name, func(t *testing.T) {
			_, err := c.CreateProject(name, "")
			slsErr(t, err, 400, "ParameterInvalid")
		})
	}
	for _, name := range []string{"abc", "a-1", strings.Repeat("a", 63), "0lead-digit9"} {
		if _, err := c.CreateProject(name, ""); err != nil {
			t.Fatalf("CreateProject(%q): %v", name, err)
		}
	}
	_, err := c.CreateProjectV2("bad-redundancy", "", "XRS")
	slsErr(t, err, 400, "ParameterInvalid")
	_, err = c.CreateProject("long-desc", strings.Repeat("d", 65))
	slsErr(t, err, 400, "ParameterInvalid")
}

func TestLogstoreLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-ls", "", 0)

	if err := c.CreateLogStore("p-ls", "trail_logs", 365, 2, true, 16); err != nil {
		t.Fatalf("CreateLogStore: %v", err)
	}
	ls, err := c.GetLogStore("p-ls", "trail_logs")
	if err != nil {
		t.Fatalf("GetLogStore: %v", err)
	}
	if ls.Name != "trail_logs" || ls.TTL != 365 || ls.ShardCount != 2 || !ls.AutoSplit || ls.MaxSplitShard != 16 ||
		ls.Mode != "standard" || ls.TelemetryType != "None" || ls.CreateTime != uint32(testStart.Unix()) {
		t.Fatalf("GetLogStore = %+v", ls)
	}

	enc := &slssdk.EncryptConf{Enable: true, EncryptType: "default"}
	if err := c.CreateLogStoreV2("p-ls", &slssdk.LogStore{Name: "enc_store", TTL: 3650, ShardCount: 1, HotTTL: 30, Mode: "query", EncryptConf: enc, AppendMeta: true}); err != nil {
		t.Fatalf("CreateLogStoreV2: %v", err)
	}
	got, err := c.GetLogStore("p-ls", "enc_store")
	if err != nil || got.EncryptConf == nil || !got.EncryptConf.Enable || got.EncryptConf.EncryptType != "default" ||
		got.HotTTL != 30 || got.Mode != "query" || !got.AppendMeta || got.TTL != 3650 {
		t.Fatalf("GetLogStore(enc_store) = %+v %+v, %v", got, got.EncryptConf, err)
	}

	names, err := c.ListLogStore("p-ls")
	if err != nil || strings.Join(names, ",") != "enc_store,trail_logs" {
		t.Fatalf("ListLogStore = %v, %v", names, err)
	}
	names, err = c.ListLogStoreV2("p-ls", 0, 1, "")
	if err != nil || strings.Join(names, ",") != "enc_store" {
		t.Fatalf("ListLogStoreV2(0,1) = %v, %v", names, err)
	}

	e.clock.Advance(time.Minute)
	if err := c.UpdateLogStore("p-ls", "trail_logs", 30, 2); err != nil {
		t.Fatalf("UpdateLogStore: %v", err)
	}
	ls, _ = c.GetLogStore("p-ls", "trail_logs")
	if ls.TTL != 30 || !ls.AutoSplit || ls.LastModifyTime != uint32(testStart.Add(time.Minute).Unix()) {
		t.Fatalf("after UpdateLogStore: %+v", ls)
	}
	info, ok := e.s.Logstore("p-ls", "trail_logs")
	if !ok || info.TTL != 30 || info.ShardCount != 2 || info.HasIndex || info.ServiceManaged {
		t.Fatalf("Logstore accessor = %+v, %v", info, ok)
	}

	// Refused updates change nothing.
	got.EncryptConf = &slssdk.EncryptConf{Enable: true, EncryptType: "sm4_gcm"}
	got.TTL = 100
	err = c.UpdateLogStoreV2("p-ls", got)
	slsErr(t, err, 400, "ParameterInvalid")
	if info, _ := e.s.Logstore("p-ls", "enc_store"); info.TTL != 3650 || info.Encryption.EncryptType != "default" {
		t.Fatalf("a refused update changed the Logstore: %+v", info)
	}
	got.EncryptConf = &slssdk.EncryptConf{Enable: false, EncryptType: "default"}
	if err := c.UpdateLogStoreV2("p-ls", got); err != nil {
		t.Fatalf("disabling encryption: %v", err)
	}
	if info, _ := e.s.Logstore("p-ls", "enc_store"); info.TTL != 100 || info.Encryption.Enable {
		t.Fatalf("after UpdateLogStoreV2: %+v", info)
	}

	ok, err = c.CheckLogstoreExist("p-ls", "trail_logs")
	if err != nil || !ok {
		t.Fatalf("CheckLogstoreExist = %v %v", ok, err)
	}
	ok, err = c.CheckLogstoreExist("p-ls", "nope_store")
	if err != nil || ok {
		t.Fatalf("CheckLogstoreExist(missing) = %v %v", ok, err)
	}
	if err := c.DeleteLogStore("p-ls", "trail_logs"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLogStore("p-ls", "trail_logs")
	slsErr(t, err, 404, "LogStoreNotExist")
}

func TestLogstoreValidation(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-val", "", 0)
	tests := []struct {
		name   string
		store  string
		ttl    int
		shards int
		auto   bool
		max    int
		status int
		code   string
	}{
		{"ok", "good_store-1", 1, 1, false, 0, 200, ""},
		{"ttl max", "ttl_max", 3650, 1, false, 0, 200, ""},
		{"ttl zero", "ttl_zero", 0, 1, false, 0, 400, "ParameterInvalid"},
		{"ttl over", "ttl_over", 3651, 1, false, 0, 400, "ParameterInvalid"},
		{"no shards", "no_shards", 30, 0, false, 0, 400, "ParameterInvalid"},
		{"too many shards", "many_shards", 30, 257, false, 0, 400, "ParameterInvalid"},
		{"split max over", "split_max", 30, 1, true, 257, 400, "ParameterInvalid"},
		{"short name", "ab", 30, 1, false, 0, 400, "ParameterInvalid"},
		{"upper name", "Upper", 30, 1, false, 0, 400, "ParameterInvalid"},
		{"lead underscore", "_lead", 30, 1, false, 0, 400, "ParameterInvalid"},
		{"duplicate", "good_store-1", 30, 1, false, 0, 400, "LogStoreAlreadyExist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CreateLogStore("p-val", tc.store, tc.ttl, tc.shards, tc.auto, tc.max)
			if tc.status == 200 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			slsErr(t, err, tc.status, tc.code)
		})
	}
	err := c.CreateLogStore("missing-proj", "abc", 30, 1, false, 0)
	slsErr(t, err, 404, "ProjectNotExist")
	err = c.UpdateLogStore("p-val", "good_store-1", 0, 1)
	slsErr(t, err, 400, "ParameterInvalid")
	err = c.UpdateLogStore("p-val", "absent_store", 30, 1)
	slsErr(t, err, 404, "LogStoreNotExist")
	err = c.CreateLogStoreV2("p-val", &slssdk.LogStore{Name: "bad_enc", TTL: 30, ShardCount: 1, EncryptConf: &slssdk.EncryptConf{Enable: true, EncryptType: "rot13"}})
	slsErr(t, err, 400, "ParameterInvalid")
}

func TestLogstoreQuota(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-quota", "", 0)
	for i := 0; i < maxLogstoresPerProject; i++ {
		if err := c.CreateLogStore("p-quota", fmt.Sprintf("store_%03d", i), 1, 1, false, 0); err != nil {
			t.Fatalf("logstore %d: %v", i, err)
		}
	}
	err := c.CreateLogStore("p-quota", "store_200", 1, 1, false, 0)
	slsErr(t, err, 400, "QuotaExceed")
	names, err := c.ListLogStoreV2("p-quota", 0, 500, "")
	if err != nil || len(names) != maxLogstoresPerProject {
		t.Fatalf("ListLogStoreV2 returned %d names, %v", len(names), err)
	}
}

func TestIndex(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-idx", "", 0)
	if err := c.CreateLogStore("p-idx", "events", 90, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetIndex("p-idx", "events")
	slsErr(t, err, 404, "IndexConfigNotExist")

	idx := slssdk.Index{
		Keys: map[string]slssdk.IndexKey{"eventName": {Type: "text", Token: []string{","}, DocValue: true}},
		Line: &slssdk.IndexLine{Token: []string{",", " "}},
	}
	if err := c.CreateIndex("p-idx", "events", idx); err != nil {
		t.Fatalf("CreateIndex: %v", err)
	}
	err = c.CreateIndex("p-idx", "events", idx)
	slsErr(t, err, 400, "IndexAlreadyExist")
	got, err := c.GetIndex("p-idx", "events")
	if err != nil || got.Keys["eventName"].Type != "text" || !got.Keys["eventName"].DocValue || got.Ttl != 90 || got.Line == nil {
		t.Fatalf("GetIndex = %+v, %v", got, err)
	}
	raw, err := c.GetIndexString("p-idx", "events")
	var doc map[string]any
	if err != nil || json.Unmarshal([]byte(raw), &doc) != nil || doc["index_mode"] != "v2" || doc["storage"] != "pg" {
		t.Fatalf("GetIndexString = %s, %v", raw, err)
	}

	idx.Keys["errorCode"] = slssdk.IndexKey{Type: "long"}
	if err := c.UpdateIndex("p-idx", "events", idx); err != nil {
		t.Fatalf("UpdateIndex: %v", err)
	}
	if got, ok := e.s.Index("p-idx", "events"); !ok || got["keys"].(map[string]any)["errorCode"] == nil {
		t.Fatalf("Index accessor after update = %v %v", got, ok)
	}
	err = c.UpdateIndexString("p-idx", "events", `{"keys":{"x":{"type":"blob"}}}`)
	slsErr(t, err, 400, "ParameterInvalid")
	err = c.UpdateIndexString("p-idx", "events", `{"ttl":30}`)
	slsErr(t, err, 400, "ParameterInvalid")
	err = c.UpdateIndexString("p-idx", "events", `not json`)
	slsErr(t, err, 400, "ParameterInvalid")

	if err := c.DeleteIndex("p-idx", "events"); err != nil {
		t.Fatalf("DeleteIndex: %v", err)
	}
	err = c.DeleteIndex("p-idx", "events")
	slsErr(t, err, 404, "IndexConfigNotExist")
	err = c.UpdateIndex("p-idx", "events", idx)
	slsErr(t, err, 404, "IndexConfigNotExist")
	err = c.CreateIndex("p-idx", "missing_ls", idx)
	slsErr(t, err, 404, "LogStoreNotExist")
}

func TestDashboards(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-dash", "", 0)
	chart := slssdk.Chart{Title: "events", Type: "linepro", Search: slssdk.ChartSearch{Logstore: "ls", Query: "* | select count(*)", Start: "-86400s", End: "now"},
		Display: slssdk.ChartDisplay{XPosition: 0, YPosition: 0, Width: 5, Height: 5, DisplayName: "Events"}}
	d := slssdk.Dashboard{DashboardName: "audit", DisplayName: "Audit", Description: "d", ChartList: []slssdk.Chart{chart}}
	if err := c.CreateDashboard("p-dash", d); err != nil {
		t.Fatalf("CreateDashboard: %v", err)
	}
	err := c.CreateDashboard("p-dash", d)
	slsErr(t, err, 400, "DashboardAlreadyExist")
	if err := c.CreateDashboardString("p-dash", `{"dashboardName":"second","displayName":"Second","charts":[]}`); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetDashboard("p-dash", "audit")
	if err != nil || got.DisplayName != "Audit" || len(got.ChartList) != 1 || got.ChartList[0].Search.Query != chart.Search.Query {
		t.Fatalf("GetDashboard = %+v, %v", got, err)
	}
	list, count, total, err := c.ListDashboard("p-dash", "", 0, 10)
	if err != nil || strings.Join(list, ",") != "audit,second" || count != 2 || total != 2 {
		t.Fatalf("ListDashboard = %v %d %d %v", list, count, total, err)
	}
	list, items, _, total, err := c.ListDashboardV2("p-dash", "sec", 0, 10)
	if err != nil || strings.Join(list, ",") != "second" || total != 1 || items[0].DisplayName != "Second" {
		t.Fatalf("ListDashboardV2(filter) = %v %v %d %v", list, items, total, err)
	}

	chart2 := chart
	chart2.Title = "errors"
	if err := c.CreateChart("p-dash", "audit", chart2); err != nil {
		t.Fatalf("CreateChart: %v", err)
	}
	err = c.CreateChart("p-dash", "audit", chart2)
	slsErr(t, err, 400, "ChartAlreadyExist")
	gc, err := c.GetChart("p-dash", "audit", "errors")
	if err != nil || gc.Title != "errors" {
		t.Fatalf("GetChart = %+v %v", gc, err)
	}
	chart2.Type = "table"
	if err := c.UpdateChart("p-dash", "audit", chart2); err != nil {
		t.Fatalf("UpdateChart: %v", err)
	}
	if gc, _ := c.GetChart("p-dash", "audit", "errors"); gc.Type != "table" {
		t.Fatalf("after UpdateChart: %+v", gc)
	}
	missing := chart2
	missing.Title = "absent"
	err = c.UpdateChart("p-dash", "audit", missing)
	slsErr(t, err, 404, "ChartNotExist")
	if err := c.DeleteChart("p-dash", "audit", "errors"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetChart("p-dash", "audit", "errors")
	slsErr(t, err, 404, "ChartNotExist")

	d.Description = "updated"
	if err := c.UpdateDashboard("p-dash", d); err != nil {
		t.Fatalf("UpdateDashboard: %v", err)
	}
	if got, _ := c.GetDashboard("p-dash", "audit"); got.Description != "updated" {
		t.Fatalf("after update: %+v", got)
	}
	if err := c.DeleteDashboard("p-dash", "audit"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDashboard("p-dash", "audit")
	slsErr(t, err, 404, "DashboardNotExist")
	err = c.CreateDashboardString("p-dash", `{"dashboardName":"bad name!"}`)
	slsErr(t, err, 400, "ParameterInvalid")
	err = c.CreateDashboardString("p-dash", `{"dashboardName":"x","charts":[{"type":"table"}]}`)
	slsErr(t, err, 400, "ParameterInvalid")
}

func TestShards(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-shard", "", 0)
	if err := c.CreateLogStore("p-shard", "sharded", 30, 2, false, 0); err != nil {
		t.Fatal(err)
	}
	shards, err := c.ListShards("p-shard", "sharded")
	if err != nil || len(shards) != 2 {
		t.Fatalf("ListShards = %v, %v", shards, err)
	}
	want := []slssdk.Shard{
		{ShardID: 0, Status: "readwrite", InclusiveBeginKey: "00000000000000000000000000000000", ExclusiveBeginKey: "80000000000000000000000000000000", CreateTime: int(testStart.Unix())},
		{ShardID: 1, Status: "readwrite", InclusiveBeginKey: "80000000000000000000000000000000", ExclusiveBeginKey: "ffffffffffffffffffffffffffffffff", CreateTime: int(testStart.Unix())},
	}
	for i := range want {
		if *shards[i] != want[i] {
			t.Fatalf("shard %d = %+v, want %+v", i, *shards[i], want[i])
		}
	}

	// Hash keys route writes to the shard whose range holds them.
	for _, k := range []string{"10000000000000000000000000000000", "f0000000000000000000000000000000"} {
		key := k
		if err := c.PostLogStoreLogs("p-shard", "sharded", mkGroup("", "", mkLog(testStart, "k", key)), &key); err != nil {
			t.Fatalf("PostLogStoreLogs(%s): %v", key, err)
		}
	}
	logs := e.s.Logs("p-shard", "sharded")
	if len(logs) != 2 || logs[0].Shard != 0 || logs[1].Shard != 1 {
		t.Fatalf("routed logs = %+v", logs)
	}

	split, err := c.SplitShard("p-shard", "sharded", 0, "40000000000000000000000000000000")
	if err != nil || len(split) != 3 || split[0].Status != "readonly" || split[1].ShardID != 2 ||
		split[1].ExclusiveBeginKey != "40000000000000000000000000000000" || split[2].InclusiveBeginKey != "40000000000000000000000000000000" {
		t.Fatalf("SplitShard = %+v, %v", split, err)
	}
	if info, _ := e.s.Logstore("p-shard", "sharded"); info.ShardCount != 3 {
		t.Fatalf("readwrite shards after split: %d", info.ShardCount)
	}
	_, err = c.SplitShard("p-shard", "sharded", 0, "40000000000000000000000000000000")
	if err == nil {
		t.Fatal("splitting a readonly shard succeeded")
	}
	merged, err := c.MergeShards("p-shard", "sharded", 2)
	if err != nil || len(merged) != 3 || merged[0].InclusiveBeginKey != "00000000000000000000000000000000" ||
		merged[0].ExclusiveBeginKey != "80000000000000000000000000000000" || merged[0].Status != "readwrite" {
		t.Fatalf("MergeShards = %+v, %v", merged, err)
	}
	shards, _ = c.ListShards("p-shard", "sharded")
	if len(shards) != 5 {
		t.Fatalf("after split and merge: %d shards", len(shards))
	}
	// Reads still see the logs of readonly shards.
	if n := len(e.s.Logs("p-shard", "sharded")); n != 2 {
		t.Fatalf("logs after resharding: %d", n)
	}
	_, err = c.ListShards("p-shard", "nope_store")
	slsErr(t, err, 404, "LogStoreNotExist")
}

func TestConsumerGroups(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	e.mustProject("p-cg", "stream", 30)
	cg := slssdk.ConsumerGroup{ConsumerGroupName: "readers", Timeout: 60, InOrder: true}
	if err := c.CreateConsumerGroup("p-cg", "stream", cg); err != nil {
		t.Fatal(err)
	}
	err := c.CreateConsumerGroup("p-cg", "stream", cg)
	slsErr(t, err, 400, "ConsumerGroupAlreadyExist")
	list, err := c.ListConsumerGroup("p-cg", "stream")
	if err != nil || len(list) != 1 || list[0].ConsumerGroupName != "readers" || list[0].Timeout != 60 || !list[0].InOrder {
		t.Fatalf("ListConsumerGroup = %+v %v", list, err)
	}
	cg.Timeout, cg.InOrder = 30, false
	if err := c.UpdateConsumerGroup("p-cg", "stream", cg); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.ListConsumerGroup("p-cg", "stream"); list[0].Timeout != 30 || list[0].InOrder {
		t.Fatalf("after update: %+v", list[0])
	}

	// Two consumers split two shards; a third arriving gets nothing until one leaves.
	a, err := c.HeartBeat("p-cg", "stream", "readers", "a", nil)
	if err != nil || fmt.Sprint(a) != "[0 1]" {
		t.Fatalf("heartbeat a = %v %v", a, err)
	}
	b, err := c.HeartBeat("p-cg", "stream", "readers", "b", nil)
	if err != nil || fmt.Sprint(b) != "[]" {
		t.Fatalf("heartbeat b while a holds both = %v %v", b, err)
	}
	a, _ = c.HeartBeat("p-cg", "stream", "readers", "a", a)
	if fmt.Sprint(a) != "[0]" {
		t.Fatalf("a should give shard 1 up, got %v", a)
	}
	a, _ = c.HeartBeat("p-cg", "stream", "readers", "a", a)
	b, _ = c.HeartBeat("p-cg", "stream", "readers", "b", b)
	if fmt.Sprint(a) != "[0]" || fmt.Sprint(b) != "[1]" {
		t.Fatalf("balanced: a=%v b=%v", a, b)
	}
	// b stops heart-beating; after the timeout a takes everything.
	e.clock.Advance(31 * time.Second)
	a, _ = c.HeartBeat("p-cg", "stream", "readers", "a", a)
	if fmt.Sprint(a) != "[0 1]" {
		t.Fatalf("after b timed out a = %v", a)
	}

	cur, _ := c.GetCursor("p-cg", "stream", 0, "begin")
	if err := c.UpdateCheckpoint("p-cg", "stream", "readers", "a", 0, cur, false); err != nil {
		t.Fatal(err)
	}
	err = c.UpdateCheckpoint("p-cg", "stream", "readers", "b", 1, cur, false)
	slsErr(t, err, 400, "ConsumerNotMatch")
	err = c.UpdateCheckpoint("p-cg", "stream", "readers", "a", 0, "%%%", false)
	slsErr(t, err, 400, "InvalidShardCheckPoint")
	cps, err := c.GetCheckpoint("p-cg", "stream", "readers")
	if err != nil || len(cps) != 1 || cps[0].ShardID != 0 || cps[0].CheckPoint != cur || cps[0].Consumer != "a" || cps[0].UpdateTime == 0 {
		t.Fatalf("GetCheckpoint = %+v %v", cps, err)
	}
	if err := c.DeleteConsumerGroup("p-cg", "stream", "readers"); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeartBeat("p-cg", "stream", "readers", "a", nil)
	slsErr(t, err, 404, "ConsumerGroupNotExist")
}
