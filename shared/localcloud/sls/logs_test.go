package sls

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/gogo/protobuf/proto"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

func TestPutLogsCompression(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-put", "events", 30)
	c := e.client()
	for i, ct := range []int{slssdk.Compress_LZ4, slssdk.Compress_ZSTD, slssdk.Compress_None} {
		lg := mkGroup("topic-"+strconv.Itoa(ct), "10.0.0.1", mkLog(testStart.Add(time.Duration(i)*time.Second), "compress", strconv.Itoa(ct), "msg", strings.Repeat("payload ", 50)))
		lg.LogTags = []*slssdk.LogTag{{Key: proto.String("host"), Value: proto.String("h1")}}
		if err := c.PutLogsWithCompressType("p-put", "events", lg, ct); err != nil {
			t.Fatalf("PutLogs compress %d: %v", ct, err)
		}
	}
	// The producer's path: /shards/route?key=...; and the raw-bytes path.
	key := "7f000000000000000000000000000000"
	if err := c.PostLogStoreLogs("p-put", "events", mkGroup("", "", mkLog(testStart.Add(3*time.Second), "compress", "route")), &key); err != nil {
		t.Fatalf("PostLogStoreLogs: %v", err)
	}
	raw, _ := proto.Marshal(mkGroup("", "", mkLog(testStart.Add(4*time.Second), "compress", "raw")))
	if err := c.PutRawLogWithCompressType("p-put", "events", raw, slssdk.Compress_LZ4); err != nil {
		t.Fatalf("PutRawLog: %v", err)
	}
	// deflate is accepted too (hand-built: the Go SDK does not send it).
	var zb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	raw, _ = proto.Marshal(mkGroup("", "", mkLog(testStart.Add(5*time.Second), "compress", "deflate")))
	zw.Write(raw)
	zw.Close()
	e.do(rawRequest{Method: "POST", Host: "p-put." + TestEndpoint, Path: "/logstores/events/shards/lb", Body: zb.Bytes(),
		Header: map[string]string{"x-log-compresstype": "deflate", "x-log-bodyrawsize": strconv.Itoa(len(raw))}}).want(t, 200, "")

	resp, err := c.GetLogs("p-put", "events", "", testStart.Unix(), testStart.Unix()+60, "", 100, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range resp.Logs {
		got = append(got, l["compress"])
	}
	if strings.Join(got, ",") != "0,2,1,route,raw,deflate" {
		t.Fatalf("logs in time order = %v", got)
	}
	first := resp.Logs[0]
	if first["__topic__"] != "topic-0" || first["__source__"] != "10.0.0.1" || first["__tag__:host"] != "h1" ||
		first["__time__"] != strconv.FormatInt(testStart.Unix(), 10) || first["msg"] != strings.Repeat("payload ", 50) {
		t.Fatalf("first log = %s", fieldsString(first))
	}
	// An empty source becomes the client's address, as the service fills __source__.
	if resp.Logs[3]["__source__"] != "127.0.0.1" {
		t.Fatalf("source of a log written without one = %q", resp.Logs[3]["__source__"])
	}
	stored := e.s.Logs("p-put", "events")
	if len(stored) != 6 || stored[0].Topic != "topic-0" || stored[0].Tags[0] != [2]string{"host", "h1"} {
		t.Fatalf("Logs accessor = %+v", stored)
	}
	if v, ok := stored[0].Get("compress"); !ok || v != "0" {
		t.Fatalf("StoredLog.Get = %q %v", v, ok)
	}
}

func TestAppendMeta(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-meta", "", 0)
	c := e.client()
	if err := c.CreateLogStoreV2("p-meta", &slssdk.LogStore{Name: "with_meta", TTL: 30, ShardCount: 1, AppendMeta: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateIndex("p-meta", "with_meta", *slssdk.CreateDefaultIndex()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(90 * time.Second)
	if err := c.PutLogs("p-meta", "with_meta", mkGroup("", "", mkLog(testStart, "k", "v"))); err != nil {
		t.Fatal(err)
	}
	resp, err := c.GetLogs("p-meta", "with_meta", "", testStart.Unix(), testStart.Unix()+1, "__tag__:__client_ip__: 127.0.0.1", 10, 0, false)
	if err != nil || len(resp.Logs) != 1 || resp.Logs[0]["__tag__:__receive_time__"] != strconv.FormatInt(testStart.Unix()+90, 10) {
		t.Fatalf("appendMeta tags = %+v, %v", resp, err)
	}
}

func TestPutLogsBodyChecks(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-body", "events", 30)
	host := "p-body." + TestEndpoint
	raw, _ := proto.Marshal(mkGroup("t", "s", mkLog(testStart, "k", strings.Repeat("v", 200))))
	block := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, _ := lz4.CompressBlock(raw, block, nil)
	block = block[:n]
	zenc, _ := zstd.NewWriter(nil)
	zframe := zenc.EncodeAll(raw, nil)
	reserved, _ := proto.Marshal(mkGroup("", "", mkLog(testStart, "__time__", "1")))
	noContents, _ := proto.Marshal(mkGroup("", "", &slssdk.Log{Time: proto.Uint32(1)}))
	badUTF8, _ := proto.Marshal(mkGroup("", "", mkLog(testStart, "k", "\xff\xfe")))
	size := strconv.Itoa(len(raw))
	post := func(body []byte, hdr map[string]string) rawRequest {
		return rawRequest{Method: "POST", Host: host, Path: "/logstores/events", Body: body, Header: hdr}
	}
	tests := []struct {
		name   string
		rr     rawRequest
		status int
		code   string
	}{
		{"lz4 ok", post(block, map[string]string{"x-log-compresstype": "lz4", "x-log-bodyrawsize": size}), 200, ""},
		{"zstd ok", post(zframe, map[string]string{"x-log-compresstype": "zstd", "x-log-bodyrawsize": size}), 200, ""},
		{"none ok", post(raw, nil), 200, ""},
		{"none, rawsize differs", post(raw, map[string]string{"x-log-bodyrawsize": strconv.Itoa(len(raw) + 1)}), 400, "InvalidBodyRawSize"},
		{"lz4, rawsize too small", post(block, map[string]string{"x-log-compresstype": "lz4", "x-log-bodyrawsize": strconv.Itoa(len(raw) - 1)}), 400, "PostBodyUncompressError"},
		{"lz4, rawsize too big", post(block, map[string]string{"x-log-compresstype": "lz4", "x-log-bodyrawsize": strconv.Itoa(len(raw) + 10)}), 400, "PostBodyUncompressError"},
		{"zstd, rawsize differs", post(zframe, map[string]string{"x-log-compresstype": "zstd", "x-log-bodyrawsize": strconv.Itoa(len(raw) - 1)}), 400, "PostBodyUncompressError"},
		{"lz4 garbage", post([]byte("not lz4 at all"), map[string]string{"x-log-compresstype": "lz4", "x-log-bodyrawsize": "100"}), 400, "PostBodyUncompressError"},
		{"no rawsize", post(raw, map[string]string{"x-log-bodyrawsize": ""}), 400, "MissingBodyRawSize"},
		{"rawsize not a number", post(raw, map[string]string{"x-log-bodyrawsize": "ten"}), 400, "InvalidBodyRawSize"},
		{"rawsize too large", post(block, map[string]string{"x-log-compresstype": "lz4", "x-log-bodyrawsize": strconv.Itoa(maxRawBodyBytes + 1)}), 400, "PostBodyTooLarge"},
		{"unknown compression", post(raw, map[string]string{"x-log-compresstype": "snappy"}), 400, "InvalidCompressType"},
		{"md5 mismatch", post(raw, map[string]string{"Content-MD5": "00000000000000000000000000000000"}), 400, "InvalidContentMD5"},
		{"not protobuf", post([]byte{0xff, 0xff, 0xff}, nil), 400, "PostBodyInvalid"},
		{"empty group", post([]byte{}, map[string]string{"Content-Type": "application/x-protobuf"}), 400, "PostBodyInvalid"},
		{"log without contents", post(noContents, nil), 400, "PostBodyInvalid"},
		{"reserved key", post(reserved, nil), 400, "InvalidKey"},
		{"not utf-8", post(badUTF8, nil), 400, "InvalidEncoding"},
		{"missing logstore wins over a bad body", rawRequest{Method: "POST", Host: host, Path: "/logstores/nothere", Body: []byte{0xff}}, 404, "LogStoreNotExist"},
		{"route without key", rawRequest{Method: "POST", Host: host, Path: "/logstores/events/shards/route", Body: raw}, 400, "ParameterInvalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.rr).want(t, tc.status, tc.code)
		})
	}
	if n := len(e.s.Logs("p-body", "events")); n != 3 {
		t.Fatalf("stored %d logs, want the 3 accepted ones", n)
	}
}

func TestServiceLogstores(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-svc", "", 0)
	c := e.client()
	if err := e.s.EnsureServiceLogstore("p-svc", "actiontrail_org-trail", 0); err != nil {
		t.Fatal(err)
	}
	info, ok := e.s.Logstore("p-svc", "actiontrail_org-trail")
	if !ok || !info.ServiceManaged || !info.HasIndex || info.TTL != 180 {
		t.Fatalf("service logstore = %+v", info)
	}
	// Callers cannot write it, whatever the compression or route.
	err := c.PutLogs("p-svc", "actiontrail_org-trail", mkGroup("", "", mkLog(testStart, "event", "{}")))
	slsErr(t, err, 401, "Unauthorized")
	key := "00000000000000000000000000000001"
	err = c.PostLogStoreLogs("p-svc", "actiontrail_org-trail", mkGroup("", "", mkLog(testStart, "event", "{}")), &key)
	slsErr(t, err, 401, "Unauthorized")

	ev := `{"eventName":"CreateTrail","userIdentity":{"accountId":"` + e.owner + `"}}`
	if err := e.s.ServiceWrite("p-svc", "actiontrail_org-trail", "actiontrail_audit_event", "actiontrail", []core.ServiceLog{
		{Time: testStart, Contents: [][2]string{{"event", ev}}},
		{Time: testStart.Add(time.Second), Contents: [][2]string{{"event", `{"eventName":"StopLogging"}`}}},
	}); err != nil {
		t.Fatalf("ServiceWrite: %v", err)
	}
	resp, err := c.GetLogs("p-svc", "actiontrail_org-trail", "", testStart.Unix(), testStart.Unix()+10, "event.eventName: CreateTrail", 10, 0, false)
	if err != nil || resp.Count != 1 || resp.Logs[0]["event"] != ev || resp.Logs[0]["__topic__"] != "actiontrail_audit_event" {
		t.Fatalf("GetLogs on the service logstore = %+v, %v", resp, err)
	}
	// Callers may still change its retention; ensuring again with a TTL resets it.
	if err := c.UpdateLogStore("p-svc", "actiontrail_org-trail", 365, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.s.EnsureServiceLogstore("p-svc", "actiontrail_org-trail", 90); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.s.Logstore("p-svc", "actiontrail_org-trail"); info.TTL != 90 {
		t.Fatalf("TTL after ensure(90) = %d", info.TTL)
	}
	// The prefix alone protects a Logstore, and innertrail_* is protected the same way.
	if err := c.CreateLogStore("p-svc", "innertrail_oss", 30, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	err = c.PutLogs("p-svc", "innertrail_oss", mkGroup("", "", mkLog(testStart, "k", "v")))
	slsErr(t, err, 401, "Unauthorized")

	errsTests := []struct {
		name string
		err  error
		want error
	}{
		{"ensure in missing project", e.s.EnsureServiceLogstore("nope-proj", "actiontrail_x", 0), ErrProjectNotExist},
		{"ensure bad ttl", e.s.EnsureServiceLogstore("p-svc", "actiontrail_x", 4000), ErrInvalid},
		{"write missing logstore", e.s.ServiceWrite("p-svc", "absent", "", "", []core.ServiceLog{{Contents: [][2]string{{"k", "v"}}}}), ErrLogStoreNotExist},
		{"write reserved key", e.s.ServiceWrite("p-svc", "innertrail_oss", "", "", []core.ServiceLog{{Contents: [][2]string{{"__topic__", "v"}}}}), ErrInvalid},
		{"service project of another owner", e.s.CreateServiceProject(e.other, "p-svc", ""), ErrProjectAlreadyExist},
	}
	for _, tc := range errsTests {
		if !errorsIs(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := e.s.CreateServiceProject(e.other, "log-audit-central", "cn-shanghai"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.CreateServiceProject(e.other, "log-audit-central", ""); err != nil {
		t.Fatalf("CreateServiceProject is not idempotent: %v", err)
	}
	if p, ok := e.s.Project("log-audit-central"); !ok || p.Owner != e.other || p.Region != "cn-shanghai" {
		t.Fatalf("service project = %+v", p)
	}
	var backend core.SLSBackend = e.s
	if owner, ok := backend.ProjectOwner("log-audit-central"); !ok || owner != e.other {
		t.Fatalf("ProjectOwner = %s %v", owner, ok)
	}
	if e.w.SLS != backend {
		t.Fatal("New did not register the server as the world's SLS backend")
	}
}

// seedQueryLogs writes ten logs one second apart; odd ones fail, topics alternate a/b.
func seedQueryLogs(t *testing.T, e *env, project, logstore string) {
	t.Helper()
	c := e.client()
	for i := 0; i < 10; i++ {
		status := "200"
		if i%2 == 1 {
			status = "500"
		}
		topic := "a"
		if i%3 == 0 {
			topic = "b"
		}
		lg := mkGroup(topic, "src", mkLog(testStart.Add(time.Duration(i)*time.Second), "n", strconv.Itoa(i), "status", status, "user", fmt.Sprintf("user%d", i%3)))
		if err := c.PutLogs(project, logstore, lg); err != nil {
			t.Fatal(err)
		}
	}
}

func ns(resp *slssdk.GetLogsResponse) string {
	var out []string
	for _, l := range resp.Logs {
		out = append(out, l["n"])
	}
	return strings.Join(out, ",")
}

func TestGetLogs(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-q", "events", 30)
	seedQueryLogs(t, e, "p-q", "events")
	c := e.client()
	from, to := testStart.Unix(), testStart.Unix()+10
	tests := []struct {
		name    string
		topic   string
		from    int64
		to      int64
		query   string
		line    int64
		offset  int64
		reverse bool
		want    string
	}{
		{"all", "", from, to, "", 100, 0, false, "0,1,2,3,4,5,6,7,8,9"},
		{"star", "", from, to, "*", 100, 0, false, "0,1,2,3,4,5,6,7,8,9"},
		{"to is exclusive", "", from, from + 3, "", 100, 0, false, "0,1,2"},
		{"from is inclusive", "", from + 8, to + 100, "", 100, 0, false, "8,9"},
		{"field search", "", from, to, "status: 500", 100, 0, false, "1,3,5,7,9"},
		{"and/not", "", from, to, "status: 500 and not user: user0", 100, 0, false, "1,5,7"},
		{"full text", "", from, to, "user2", 100, 0, false, "2,5,8"},
		{"topic parameter", "b", from, to, "", 100, 0, false, "0,3,6,9"},
		{"topic in query", "", from, to, "__topic__: b and status: 200", 100, 0, false, "0,6"},
		{"line", "", from, to, "", 3, 0, false, "0,1,2"},
		{"offset", "", from, to, "", 3, 3, false, "3,4,5"},
		{"offset past end", "", from, to, "", 3, 30, false, ""},
		{"reverse", "", from, to, "", 3, 0, true, "9,8,7"},
		{"reverse offset", "", from, to, "", 3, 3, true, "6,5,4"},
		{"line 0 means 100", "", from, to, "", 0, 0, false, "0,1,2,3,4,5,6,7,8,9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.GetLogs("p-q", "events", tc.topic, tc.from, tc.to, tc.query, tc.line, tc.offset, tc.reverse)
			if err != nil {
				t.Fatal(err)
			}
			if got := ns(resp); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if resp.Progress != "Complete" || resp.Count != int64(len(resp.Logs)) || resp.HasSQL {
				t.Fatalf("meta: progress %q count %d hasSQL %v", resp.Progress, resp.Count, resp.HasSQL)
			}
		})
	}

	t.Run("sql", func(t *testing.T) {
		resp, err := c.GetLogs("p-q", "events", "", from, to, "status: 500 | select user, count(*) as n group by user order by user", 100, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		if !resp.HasSQL || len(resp.Logs) != 3 || resp.Logs[0]["user"] != "user0" || resp.Logs[0]["n"] != "2" || resp.Logs[2]["n"] != "1" {
			t.Fatalf("sql result = %+v", resp.Logs)
		}
		v3, err := c.GetLogsV3("p-q", "events", &slssdk.GetLogRequest{From: from, To: to, Query: "* | select count(*) as total"})
		if err != nil || v3.Logs[0]["total"] != "10" || strings.Join(v3.Meta.Keys, ",") != "total" || v3.Meta.AggQuery != "select count(*) as total" {
			t.Fatalf("GetLogsV3 = %+v, %v", v3, err)
		}
	})
	t.Run("nanosecond range", func(t *testing.T) {
		resp, err := c.GetLogsByNano("p-q", "events", "", from*1e9, (from+2)*1e9, "", 100, 0, false)
		if err != nil || ns(resp) != "0,1" {
			t.Fatalf("GetLogsByNano = %v, %v", resp, err)
		}
	})
	t.Run("old GET form", func(t *testing.T) {
		q := url.Values{"type": {"log"}, "from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}, "query": {"status: 200"}, "line": {"2"}, "reverse": {"true"}}
		r := e.do(rawRequest{Method: "GET", Host: "p-q." + TestEndpoint, Path: "/logstores/events?" + q.Encode()})
		r.want(t, 200, "")
		var logs []map[string]string
		if err := json.Unmarshal(r.Body, &logs); err != nil || len(logs) != 2 || logs[0]["n"] != "8" {
			t.Fatalf("GET type=log body %s", r.Body)
		}
		if r.Header.Get("X-Log-Progress") != "Complete" || r.Header.Get("X-Log-Count") != "2" {
			t.Fatalf("GET type=log headers %v", r.Header)
		}
	})

	errTests := []struct {
		name     string
		store    string
		from, to int64
		query    string
		line     int64
		status   int
		code     string
	}{
		{"empty range", "events", from, from, "", 10, 400, "InvalidTimeRange"},
		{"reversed range", "events", to, from, "", 10, 400, "InvalidTimeRange"},
		{"bad query", "events", from, to, "status: (", 10, 400, "InvalidQueryString"},
		{"too many lines", "events", from, to, "", 101, 400, "ParameterInvalid"},
		{"no logstore", "absent", from, to, "", 10, 404, "LogStoreNotExist"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetLogs("p-q", tc.store, "", tc.from, tc.to, tc.query, tc.line, 0, false)
			slsErr(t, err, tc.status, tc.code)
		})
	}
	t.Run("no index", func(t *testing.T) {
		if err := c.CreateLogStore("p-q", "unindexed", 30, 1, false, 0); err != nil {
			t.Fatal(err)
		}
		_, err := c.GetLogs("p-q", "unindexed", "", from, to, "", 10, 0, false)
		slsErr(t, err, 400, "IndexConfigNotExist")
	})
}

func TestHistograms(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-h", "events", 30)
	seedQueryLogs(t, e, "p-h", "events")
	c := e.client()
	from := testStart.Unix()
	resp, err := c.GetHistogramsV2("p-h", "events", &slssdk.GetHistogramRequest{From: from, To: from + 10, Query: "status: 500", Interval: 5})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Progress != "Complete" || resp.Count != 5 || len(resp.Histograms) != 2 ||
		resp.Histograms[0].From != from || resp.Histograms[0].To != from+5 || resp.Histograms[0].Count != 2 ||
		resp.Histograms[1].Count != 3 || resp.Histograms[1].Progress != "Complete" {
		t.Fatalf("GetHistograms = %+v", resp)
	}
	// Without an interval, buckets of a nice width cover [from, to), the last one clipped.
	resp, err = c.GetHistograms("p-h", "events", "b", from, from+125, "")
	if err != nil || resp.Count != 4 || len(resp.Histograms) != 25 || resp.Histograms[24].From != from+120 || resp.Histograms[24].To != from+125 {
		t.Fatalf("auto buckets = %d buckets, count %d, %v", len(resp.Histograms), resp.Count, err)
	}
	_, err = c.GetHistograms("p-h", "events", "", from, from+10, "* | select count(*)")
	slsErr(t, err, 400, "InvalidQueryString")
	_, err = c.GetHistograms("p-h", "events", "", from+10, from, "")
	slsErr(t, err, 400, "InvalidTimeRange")
	_, err = c.GetHistograms("p-h", "events", "", -5, from, "")
	slsErr(t, err, 400, "InvalidTimeRange")
	// An interval wider than the range gives one bucket, clipped to [from, to).
	resp, err = c.GetHistogramsV2("p-h", "events", &slssdk.GetHistogramRequest{From: from, To: from + 10, Interval: 1 << 30})
	if err != nil || len(resp.Histograms) != 1 || resp.Histograms[0].To != from+10 || resp.Count != 10 {
		t.Fatalf("one wide bucket = %+v, %v", resp, err)
	}
}

func TestTTLExpiry(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-ttl", "short", 1)
	c := e.client()
	// One log already two days old, one written now.
	if err := c.PutLogs("p-ttl", "short", mkGroup("", "", mkLog(testStart.Add(-48*time.Hour), "age", "old"), mkLog(testStart, "age", "new"))); err != nil {
		t.Fatal(err)
	}
	query := func() string {
		resp, err := c.GetLogs("p-ttl", "short", "", testStart.Unix()-3*86400, testStart.Unix()+3*86400, "", 100, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range resp.Logs {
			out = append(out, l["age"])
		}
		return strings.Join(out, ",")
	}
	if got := query(); got != "new" {
		t.Fatalf("inside retention: %q", got)
	}
	if n := len(e.s.Logs("p-ttl", "short")); n != 1 {
		t.Fatalf("Logs accessor: %d", n)
	}
	e.clock.Advance(25 * time.Hour)
	if got := query(); got != "" {
		t.Fatalf("after the TTL: %q", got)
	}
	if n := len(e.s.Logs("p-ttl", "short")); n != 0 {
		t.Fatalf("Logs accessor after TTL: %d", n)
	}
	// Pulling the shard skips expired logs too.
	for sh := 0; sh < 2; sh++ {
		cur, _ := c.GetCursor("p-ttl", "short", sh, "begin")
		gl, _, err := c.PullLogs("p-ttl", "short", sh, cur, "", 100)
		if err != nil || len(gl.LogGroups) != 0 {
			t.Fatalf("PullLogs after TTL on shard %d: %v, %v", sh, gl, err)
		}
	}
}

func TestPullLogs(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-pull", "", 0)
	c := e.client()
	if err := c.CreateLogStore("p-pull", "stream", 30, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	begin, err := c.GetCursor("p-pull", "stream", 0, "begin")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.clock.Advance(time.Second)
		lg := mkGroup("t", "s", mkLog(e.w.Now(), "i", strconv.Itoa(i)), mkLog(e.w.Now(), "j", strconv.Itoa(i)))
		if err := c.PutLogs("p-pull", "stream", lg); err != nil {
			t.Fatal(err)
		}
	}
	end, _ := c.GetCursor("p-pull", "stream", 0, "end")
	if begin == end {
		t.Fatal("begin and end cursors are equal after writes")
	}
	byTime, _ := c.GetCursor("p-pull", "stream", 0, strconv.FormatInt(testStart.Unix()+3, 10))

	for _, compress := range []int{slssdk.Compress_LZ4, slssdk.Compress_ZSTD} {
		gl, meta, err := c.PullLogsWithQuery(&slssdk.PullLogRequest{Project: "p-pull", Logstore: "stream", ShardID: 0, Cursor: begin, LogGroupMaxCount: 3, CompressType: compress})
		if err != nil {
			t.Fatalf("PullLogs (compress %d): %v", compress, err)
		}
		if len(gl.LogGroups) != 3 || meta.Count != 3 || gl.LogGroups[0].Logs[0].Contents[0].GetValue() != "0" || len(gl.LogGroups[0].Logs) != 2 ||
			gl.LogGroups[0].GetTopic() != "t" || gl.LogGroups[0].GetCursor() != begin {
			t.Fatalf("first pull = %v %+v", gl, meta)
		}
		gl2, next, err := c.PullLogs("p-pull", "stream", 0, meta.NextCursor, "", 100)
		if err != nil || len(gl2.LogGroups) != 2 || next != end || gl2.LogGroups[1].Logs[0].Contents[0].GetValue() != "4" {
			t.Fatalf("second pull = %v %s %v", gl2, next, err)
		}
	}
	gl, next, err := c.PullLogs("p-pull", "stream", 0, end, "", 100)
	if err != nil || len(gl.LogGroups) != 0 || next != end {
		t.Fatalf("pull at end = %v %s %v", gl, next, err)
	}
	gl, _, err = c.PullLogs("p-pull", "stream", 0, byTime, "", 100)
	if err != nil || len(gl.LogGroups) != 3 || gl.LogGroups[0].Logs[0].Contents[0].GetValue() != "2" {
		t.Fatalf("pull from a time cursor = %v %v", gl, err)
	}
	gl, _, err = c.PullLogs("p-pull", "stream", 0, begin, byTime, 100)
	if err != nil || len(gl.LogGroups) != 2 {
		t.Fatalf("pull up to an end cursor = %v %v", gl, err)
	}
	ct, err := c.GetCursorTime("p-pull", "stream", 0, byTime)
	if err != nil || ct.Unix() != testStart.Unix()+3 {
		t.Fatalf("GetCursorTime = %v %v", ct, err)
	}
	if _, _, err := c.PullLogs("p-pull", "stream", 0, "!!notbase64", "", 100); err == nil || !strings.Contains(err.Error(), "ParameterInvalid") {
		t.Fatalf("invalid cursor: %v", err)
	}
	if _, _, err := c.PullLogs("p-pull", "stream", 0, encodeCursor(99), "", 100); err == nil || !strings.Contains(err.Error(), "InvalidCursor") {
		t.Fatalf("cursor past the end: %v", err)
	}
	if _, err := c.GetCursor("p-pull", "stream", 7, "begin"); err == nil || !strings.Contains(err.Error(), "ShardNotExist") {
		t.Fatalf("missing shard: %v", err)
	}
	if _, err := c.GetCursor("p-pull", "stream", 0, "yesterday"); err == nil || !strings.Contains(err.Error(), "ParameterInvalid") {
		t.Fatalf("bad from: %v", err)
	}
}

func TestLZ4Literals(t *testing.T) {
	for _, n := range []int{0, 1, 14, 15, 16, 269, 270, 271, 1000} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*7919 + i/3) // poorly compressible
		}
		block := lz4Block(raw)
		out := make([]byte, n)
		got, err := lz4.UncompressBlock(block, out)
		if n == 0 {
			continue
		}
		if err != nil || got != n || !bytes.Equal(out, raw) {
			t.Fatalf("n=%d: %d %v", n, got, err)
		}
	}
}

func errorsIs(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
