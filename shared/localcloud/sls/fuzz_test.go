package sls

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/gogo/protobuf/proto"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

func seedBodies() (raw, lz4Body, zstdBody, deflateBody []byte) {
	raw, _ = proto.Marshal(mkGroup("topic", "source", mkLog(testStart, "k", "v", "event", `{"a":1}`), mkLog(testStart, "x", "y")))
	block := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, _ := lz4.CompressBlock(raw, block, nil)
	lz4Body = lz4Block(raw)
	if n > 0 {
		lz4Body = block[:n]
	}
	enc, _ := zstd.NewWriter(nil)
	zstdBody = enc.EncodeAll(raw, nil)
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(raw)
	zw.Close()
	return raw, lz4Body, zstdBody, b.Bytes()
}

// FuzzDecodeLogGroup: the PutLogs body decoder never panics, and whatever it accepts is a
// non-empty log group of UTF-8 logs with non-reserved keys.
func FuzzDecodeLogGroup(f *testing.F) {
	raw, l, z, d := seedBodies()
	size := strconv.Itoa(len(raw))
	f.Add(raw, "", size)
	f.Add(l, "lz4", size)
	f.Add(z, "zstd", size)
	f.Add(d, "deflate", size)
	f.Add(l, "lz4", "999999999")
	f.Add([]byte{0x0a, 0x00}, "", "2")
	f.Add([]byte{}, "zstd", "0")
	f.Fuzz(func(t *testing.T, body []byte, compress, rawSize string) {
		lg, err := decodeLogGroup(body, compress, rawSize)
		if err != nil {
			if lg != nil || err.Status != 400 || err.Code == "" || err.Message == "" {
				t.Fatalf("bad error: %v %+v", lg, err)
			}
			return
		}
		if len(lg.Logs) == 0 {
			t.Fatal("accepted an empty log group")
		}
		for _, lo := range lg.Logs {
			if len(lo.Contents) == 0 {
				t.Fatal("accepted a log without contents")
			}
			for _, kv := range lo.Contents {
				if kv.GetKey() == "" || reservedKeys[kv.GetKey()] || !utf8.ValidString(kv.GetKey()) || !utf8.ValidString(kv.GetValue()) {
					t.Fatalf("accepted content %q=%q", kv.GetKey(), kv.GetValue())
				}
			}
		}
	})
}

// projectServer is a server in a world of its own, on clock, with one project owned by the
// management account, and that account's key.
func projectServer(tb testing.TB, clock *core.ManualClock, project string) (*Server, *core.AccessKey) {
	tb.Helper()
	w := core.NewWorld("cn-hangzhou", clock)
	w.Mu.Lock()
	owner := core.NewAccountID()
	w.EnableDirectoryLocked(owner, "mgmt")
	key := w.NewAccessKeyLocked(owner, "")
	w.Mu.Unlock()
	s := New(w)
	if err := s.CreateServiceProject(owner, project, ""); err != nil {
		tb.Fatal(err)
	}
	return s, key
}

// fuzzServer is a server with one project, Logstore (indexed, with logs) and the owner's key.
func fuzzServer(tb testing.TB) (*Server, *core.AccessKey) {
	s, key := projectServer(tb, core.NewManualClock(testStart), "fzz")
	if err := s.EnsureServiceLogstore("fzz", "actiontrail_t", 30); err != nil {
		tb.Fatal(err)
	}
	send(s, key, "POST", "fzz."+TestEndpoint, "/logstores", []byte(`{"logstoreName":"events","ttl":30,"shardCount":2}`), nil)
	send(s, key, "POST", "fzz."+TestEndpoint, "/logstores/events/index", []byte(`{"line":{"token":[" "]}}`), nil)
	_ = s.ServiceWrite("fzz", "events", "t", "s", []core.ServiceLog{
		{Time: testStart, Contents: [][2]string{{"status", "200"}, {"user", "alice"}}},
		{Time: testStart.Add(time.Second), Contents: [][2]string{{"status", "500"}, {"user", "bob"}}},
	})
	return s, key
}

// send serves one v1-signed request in process; nil when the request cannot be built.
func send(s *Server, key *core.AccessKey, method, host, target string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	req, err := http.NewRequest(method, "http://"+host+target, bytes.NewReader(body))
	if err != nil {
		return nil
	}
	req.Host = host
	req.Header.Set("x-log-apiversion", "0.6.0")
	req.Header.Set("x-log-bodyrawsize", strconv.Itoa(len(body)))
	req.Header.Set("x-log-signaturemethod", "hmac-sha1")
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
		sum := md5.Sum(body)
		req.Header.Set("Content-MD5", strings.ToUpper(hex.EncodeToString(sum[:])))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	mac := hmac.New(sha1.New, []byte(key.Secret))
	mac.Write([]byte(V1StringToSign(req)))
	req.Header.Set("Authorization", "LOG "+key.ID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// checkAnswer: every answer is 200, or an SLS JSON error with a request id.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Header().Get("x-log-requestid") == "" {
		t.Fatalf("answer %d without x-log-requestid", rec.Code)
	}
	if rec.Code == 200 {
		return
	}
	var e struct {
		Code string `json:"errorCode"`
		Msg  string `json:"errorMessage"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" {
		t.Fatalf("error answer %d is not SLS JSON: %q", rec.Code, rec.Body.String())
	}
	if rec.Code >= 500 {
		t.Fatalf("server error %d %s: %s", rec.Code, e.Code, e.Msg)
	}
}

// FuzzServeHTTP: any signed request, on any route, gets a well-formed answer and no panic.
func FuzzServeHTTP(f *testing.F) {
	s, key := fuzzServer(f)
	raw, l, _, _ := seedBodies()
	f.Add("GET", "fzz.cn-hangzhou.log.aliyuncs.com", "/", "", []byte(nil), "", "")
	f.Add("GET", "cn-hangzhou.log.aliyuncs.com", "/", "offset=1&size=2", []byte(nil), "", "")
	f.Add("POST", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events", "", raw, "", "")
	f.Add("POST", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events/shards/route", "key=abc", l, "lz4", strconv.Itoa(len(raw)))
	f.Add("POST", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events/logs", "", []byte(`{"from":1,"to":2000000000,"query":"status: 500 | select count(*)","line":10}`), "", "")
	f.Add("GET", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events", "type=histogram&from=0&to=2000000000&query=user:a*&interval=3600", []byte(nil), "", "")
	f.Add("GET", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events/shards/0", "type=logs&cursor=MA==&count=10", []byte(nil), "", "")
	f.Add("GET", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events/shards/1", "type=cursor&from=begin", []byte(nil), "", "")
	f.Add("POST", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events/shards/0", "action=split&shardCount=3", []byte(nil), "", "")
	f.Add("PUT", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events", "", []byte(`{"ttl":7,"encrypt_conf":{"enable":true,"encrypt_type":"default"}}`), "", "")
	f.Add("POST", "fzz.cn-hangzhou.log.aliyuncs.com", "/dashboards", "", []byte(`{"dashboardName":"d","charts":[{"title":"c"}]}`), "", "")
	f.Add("POST", "fzz.cn-hangzhou.log.aliyuncs.com", "/logstores/events/consumergroups/g", "type=heartbeat&consumer=c", []byte(`[0,1]`), "", "")
	f.Fuzz(func(t *testing.T, method, host, path, rawQuery string, body []byte, compress, rawSize string) {
		if !strings.HasPrefix(path, "/") || len(body) > 1<<16 {
			return
		}
		target := path
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		hdr := map[string]string{}
		if compress != "" {
			hdr["x-log-compresstype"] = compress
		}
		if rawSize != "" {
			hdr["x-log-bodyrawsize"] = rawSize
		}
		rec := send(s, key, method, host, target, body, hdr)
		if rec == nil {
			return
		}
		checkAnswer(t, rec)
	})
}

// FuzzGetLogsQuery: GetLogs and GetHistograms answer any query string without a panic or a 5xx.
func FuzzGetLogsQuery(f *testing.F) {
	s, key := fuzzServer(f)
	for _, q := range []string{"", "*", "status: 500", "user: a* and not status > 300", "__topic__: t | select user, count(*) as n group by user order by n desc limit 3",
		"status in [100 300)", `"quoted phrase"`, "* | select", "((", "event.a: 1"} {
		f.Add(q, int64(0), int64(2000000000), int64(10), int64(0), false)
	}
	f.Add("*", int64(-9e18), int64(9e18), int64(9e18), int64(9e18), true)
	f.Add("*", int64(1), int64(1<<36), int64(1<<62), int64(-1), false)
	f.Fuzz(func(t *testing.T, query string, from, to, line, offset int64, reverse bool) {
		body, _ := json.Marshal(slssdk.GetLogRequest{From: from, To: to, Query: query, Lines: line, Offset: offset, Reverse: reverse})
		if rec := send(s, key, "POST", "fzz."+TestEndpoint, "/logstores/events/logs", body, nil); rec != nil {
			checkAnswer(t, rec)
		}
		q := "type=histogram&from=" + strconv.FormatInt(from, 10) + "&to=" + strconv.FormatInt(to, 10) + "&interval=" + strconv.FormatInt(line, 10) + "&query=" + urlEscape(query)
		if rec := send(s, key, "GET", "fzz."+TestEndpoint, "/logstores/events?"+q, nil, nil); rec != nil {
			checkAnswer(t, rec)
		}
	})
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// FuzzProjectFromHost: the host rule never panics and yields one DNS label or nothing.
func FuzzProjectFromHost(f *testing.F) {
	for _, h := range []string{"p1.cn-hangzhou.log.aliyuncs.com", "p1.127.0.0.1:80", "[::1]:1", "p.localhost", "a..b", ":"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		p := projectFromHost(host)
		if strings.Contains(p, ".") || strings.Contains(p, ":") {
			t.Fatalf("projectFromHost(%q) = %q", host, p)
		}
	})
}

// FuzzValidateIndex: the index validator accepts only objects with a line or keys, never panics.
func FuzzValidateIndex(f *testing.F) {
	f.Add([]byte(`{"line":{"token":[","]},"keys":{"a":{"type":"text","token":[" "]}}}`))
	f.Add([]byte(`{"keys":{"a":{"type":"json","json_keys":{"b":{"type":"long"}}}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"line":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := validateIndex(body)
		if err != nil {
			if err.Status != 400 || doc != nil {
				t.Fatalf("bad error %+v", err)
			}
			return
		}
		if doc["line"] == nil && doc["keys"] == nil {
			t.Fatalf("accepted %s", body)
		}
	})
}

// FuzzScopeOf: a search scopeOf narrows must mean what it says for any query that parses:
// scopeAll matches every log, and under scopeTopic a log matches exactly when its topic alone
// does, whatever else the log holds.
func FuzzScopeOf(f *testing.F) {
	for _, q := range []string{"", "*", `__topic__: "123"`, "__topic__: a | select count(*) as n", `__topic__: "a b"`,
		"__topic__: a and b", `__topic__: ""`, "__topic__: a*", " * | select 1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sq, err := parseQuery(q)
		scope := scopeOf(q)
		if err != nil || scope == scopeFields {
			return
		}
		// Topics to try: fixed ones and every word of the query, so the matching topic is among them.
		topics := []string{"", "a", "a b", "A", "123", q}
		topics = append(topics, strings.FieldsFunc(q, func(r rune) bool { return r == '"' || r == ':' || r == ' ' || r == '|' })...)
		for _, topic := range topics {
			for _, other := range []string{"", "a", topic} {
				fields := map[string]string{"__topic__": topic, "__source__": other, "__time__": "1", "a": other, "status": "500", other: topic}
				fields["__topic__"] = topic
				got := sq.Match(fields)
				switch {
				case scope == scopeAll && !got:
					t.Fatalf("scopeOf(%q) = all, but it does not match %v", q, fields)
				case scope == scopeTopic && got != sq.Match(topicFields(topic)):
					t.Fatalf("scopeOf(%q) = topic, but matching %v (%v) differs from its topic alone", q, fields, got)
				}
			}
		}
	})
}
