package fchost

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBuildHTTPEvent(t *testing.T) {
	now := time.Date(2023, 9, 5, 6, 41, 11, 895e6, time.UTC)
	cases := []struct {
		name   string
		req    func() *http.Request
		body   []byte
		authed bool
		check  func(t *testing.T, ev HTTPEvent)
	}{
		{"get with query and headers", func() *http.Request {
			r := httptest.NewRequest("GET", "http://fn.example:8080/v1/a%20b?p=v&m=1&m=2", nil)
			r.Header.Add("X-Multi", "a")
			r.Header.Add("X-Multi", "b")
			r.Header.Set("User-Agent", "ua/1")
			r.Header.Set("X-Fc-Authenticated", "true") // spoofed
			r.Header.Set("Authorization", "Bearer wrong")
			r.RemoteAddr = "11.11.11.11:5555"
			return r
		}, nil, false, func(t *testing.T, ev HTTPEvent) {
			if ev.Version != "v1" || ev.RawPath != "/v1/a%20b" || ev.RequestContext.HTTP.Path != "/v1/a b" || ev.Body != "" || ev.IsBase64Encoded {
				t.Errorf("event = %+v", ev)
			}
			if !reflect.DeepEqual(ev.QueryParameters, map[string]string{"p": "v", "m": "1,2"}) {
				t.Errorf("query = %v", ev.QueryParameters)
			}
			if ev.Headers["X-Multi"] != "a,b" || ev.Headers[AuthenticatedHeader] != "false" || ev.Headers["Authorization"] != "Bearer wrong" || ev.Headers["Host"] != "fn.example:8080" {
				t.Errorf("headers = %v", ev.Headers)
			}
			c := ev.RequestContext
			if c.AccountID != "123" || c.RequestID != "1-x" || c.Time != "2023-09-05T06:41:11Z" || c.TimeEpoch != "1693896071895" ||
				c.DomainName != "fn.example:8080" || c.DomainPrefix != "fn" || c.HTTP.Method != "GET" || c.HTTP.SourceIP != "11.11.11.11" ||
				c.HTTP.UserAgent != "ua/1" || c.HTTP.Protocol != "HTTP/1.1" {
				t.Errorf("requestContext = %+v", c)
			}
		}},
		{"authenticated json post", func() *http.Request {
			r := httptest.NewRequest("POST", "http://127.0.0.1:9/x", nil)
			r.Header.Set("Content-Type", "application/json; charset=utf-8")
			r.Header.Set("Authorization", "Bearer tok")
			return r
		}, []byte(`{"a":1}`), true, func(t *testing.T, ev HTTPEvent) {
			if ev.Body != `{"a":1}` || ev.IsBase64Encoded || ev.Headers[AuthenticatedHeader] != "true" {
				t.Errorf("event = %+v", ev)
			}
			if _, ok := ev.Headers["Authorization"]; ok {
				t.Error("the platform's token reached the function")
			}
			if ev.RequestContext.DomainPrefix != "127.0.0.1" || len(ev.QueryParameters) != 0 || ev.QueryParameters == nil {
				t.Errorf("event = %+v", ev)
			}
		}},
		{"binary body", func() *http.Request {
			r := httptest.NewRequest("PUT", "http://h/bin", nil)
			r.Header.Set("Content-Type", "application/octet-stream")
			return r
		}, []byte{0, 1, 0xff}, true, func(t *testing.T, ev HTTPEvent) {
			if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff}) {
				t.Errorf("event = %+v", ev)
			}
		}},
		{"invalid utf-8 text", func() *http.Request {
			r := httptest.NewRequest("POST", "http://h/?bad=%zz&ok=1", nil)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, []byte{0xc3, 0x28}, false, func(t *testing.T, ev HTTPEvent) {
			if !ev.IsBase64Encoded || ev.QueryParameters["ok"] != "1" {
				t.Errorf("event = %+v", ev)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, BuildHTTPEvent(c.req(), c.body, c.authed, "1-x", "123", now))
		})
	}
}

func TestDecodeHTTPResponse(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		status  int
		header  http.Header
		body    string
		err     string
	}{
		{"fc3 shape", `{"statusCode":201,"headers":{"content-type":"text/plain","Set-Cookie":["a=1","b=2"],"Content-Length":"99","bad name":"x"},"body":"hi"}`,
			201, http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}}, "hi", ""},
		{"base64 body", `{"statusCode":200,"isBase64Encoded":true,"body":"AAH/"}`, 200, http.Header{}, "\x00\x01\xff", ""},
		{"json body", `{"statusCode":200,"body":{"a":1}}`, 200, http.Header{"Content-Type": {"application/json"}}, `{"a":1}`, ""},
		{"no statusCode: as is", `{"a":1}`, 200, http.Header{}, `{"a":1}`, ""},
		{"not json: as is", `hello`, 200, http.Header{}, `hello`, ""},
		{"null", `null`, 200, http.Header{}, `null`, ""},
		{"header injection", `{"statusCode":200,"headers":{"X":"a\r\nEvil: 1"}}`, 200, http.Header{"X": {"a  Evil: 1"}}, "", ""},
		{"bad status", `{"statusCode":99}`, 0, nil, "", "statusCode: 99 is not an HTTP status"},
		{"string status", `{"statusCode":"200"}`, 0, nil, "", "statusCode: must be a number"},
		{"fractional status", `{"statusCode":200.5}`, 0, nil, "", "is not an HTTP status"},
		{"bad header", `{"statusCode":200,"headers":{"X":1}}`, 0, nil, "", "headers.X: must be a string or a list of strings"},
		{"bad base64", `{"statusCode":200,"isBase64Encoded":true,"body":"!!"}`, 0, nil, "", "body: isBase64Encoded is true but the body is not base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, header, body, err := DecodeHTTPResponse([]byte(c.payload))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || status != c.status || !reflect.DeepEqual(header, c.header) || string(body) != c.body {
				t.Fatalf("got %d %v %q %v", status, header, body, err)
			}
		})
	}
}

func TestParseRuntimeError(t *testing.T) {
	cases := []struct {
		body, typ, msg string
		stack          bool
	}{
		{`{"errorMessage":"nope","errorType":"errorString"}`, "errorString", "nope", false},
		{`{"errorMessage":"boom","errorType":"string","stackTrace":[{"path":"x.go","line":3,"label":"f"}]}`, "string", "boom", true},
		{`{"errorMessage":{"nested":true}}`, "UnhandledError", `{"nested":true}`, false},
		{`not json`, "UnhandledError", "not json", false},
		{"\xff\xfe", "UnhandledError", "\uFFFD", false},
	}
	for _, c := range cases {
		typ, msg, stack := parseRuntimeError([]byte(c.body))
		if typ != c.typ || msg != c.msg || (len(stack) > 0) != c.stack {
			t.Errorf("%q: got %q %q %s", c.body, typ, msg, stack)
		}
	}
}

func FuzzDecodeHTTPResponse(f *testing.F) {
	f.Add([]byte(`{"statusCode":200,"headers":{"a":"b","c":["d"]},"isBase64Encoded":true,"body":"AA=="}`))
	f.Add([]byte(`{"statusCode":1e3}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		status, header, _, err := DecodeHTTPResponse(payload)
		if err != nil {
			return
		}
		if status < 100 || status > 599 {
			t.Fatalf("status %d accepted", status)
		}
		for k, vs := range header {
			if !validHeaderName(k) || ownedHeaders[k] {
				t.Fatalf("header %q accepted", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") {
					t.Fatalf("header value %q accepted", v)
				}
			}
		}
	})
}

func FuzzParseRuntimeError(f *testing.F) {
	f.Add([]byte(`{"errorMessage":"x","errorType":"y","stackTrace":[]}`))
	f.Add([]byte(`{"errorType":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, msg, stack := parseRuntimeError(body)
		if typ == "" || len(msg) > maxErrorMessage || len(stack) > maxErrorMessage {
			t.Fatalf("got %q %q (%d-byte stack)", typ, msg, len(stack))
		}
		fe := &FunctionError{Type: typ, Message: msg, StackTrace: stack}
		if !json.Valid(fe.Body()) {
			t.Fatalf("error body %q is not JSON", fe.Body())
		}
	})
}

func FuzzBuildHTTPEvent(f *testing.F) {
	f.Add("/a%2Fb", "x=1&x=2&y", "text/plain", []byte("hi"))
	f.Add("/", "%zz", "", []byte{0xff})
	f.Fuzz(func(t *testing.T, path, query, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "http://h/", nil)
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", query
		r.Header.Set("Content-Type", contentType)
		ev := BuildHTTPEvent(r, body, false, "1-x", "1", time.Unix(0, 0))
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var back HTTPEvent
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		got := []byte(back.Body)
		if back.IsBase64Encoded {
			if got, err = base64.StdEncoding.DecodeString(back.Body); err != nil {
				t.Fatal(err)
			}
		}
		if string(got) != string(body) {
			t.Fatalf("body %q came back as %q", body, got)
		}
	})
}
