package fcevent_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

// httpEvent is a valid HTTP trigger event (the FC 3.0 shape); tests change what they test.
func httpEvent() map[string]any {
	return map[string]any{
		"version": "v1", "rawPath": "/v1/status", "body": "", "isBase64Encoded": false,
		"headers":         map[string]any{"Content-Type": "application/json", "Accept": "application/json"},
		"queryParameters": map[string]any{},
		"requestContext": map[string]any{
			"accountId": mgmtID, "domainName": "api-x.cn-hangzhou.fcapp.run", "domainPrefix": "api-x",
			"http": map[string]any{
				"method": "GET", "path": "/v1/status", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0",
			},
			"requestId": "1-64f6cd87-abc", "time": "2023-09-05T06:41:11Z", "timeEpoch": "1693896071895",
		},
	}
}

func rc(ev map[string]any) map[string]any { return ev["requestContext"].(map[string]any) }
func rcHTTP(ev map[string]any) map[string]any {
	return rc(ev)["http"].(map[string]any)
}
func hdr(ev map[string]any) map[string]any { return ev["headers"].(map[string]any) }

func decodeHTTP(t *testing.T, f func(ev map[string]any)) (fcevent.HTTPRequest, error) {
	t.Helper()
	ev := httpEvent()
	if f != nil {
		f(ev)
	}
	return fcevent.DecodeHTTP(encode(t, ev))
}

func TestDecodeHTTP(t *testing.T) {
	req, err := decodeHTTP(t, func(ev map[string]any) {
		ev["rawPath"] = "/v1/members/5234567890123001/enroll"
		ev["body"] = `{"note":"x"}`
		rcHTTP(ev)["method"] = "POST"
		ev["headers"] = map[string]any{"content-type": "application/json", "x-custom": "a, b", "accept-encoding": "gzip, br"}
		ev["queryParameters"] = map[string]any{"dryRun": "true", "ids": "1,2"}
	})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case req.Method != "POST" || req.Path != "/v1/members/5234567890123001/enroll" || req.RawPath != req.Path:
		t.Fatalf("request line = %s %s (%s)", req.Method, req.Path, req.RawPath)
	case string(req.Body) != `{"note":"x"}`:
		t.Fatalf("body = %q", req.Body)
	case req.Headers.Get("Content-Type") != "application/json" || req.Headers["X-Custom"][0] != "a, b" || len(req.Headers["X-Custom"]) != 1:
		t.Fatalf("headers = %v (keys must be canonical, joined values kept whole)", req.Headers)
	case req.Headers.Get("User-Agent") != "curl/8.5.0":
		t.Fatalf("user agent = %q (from requestContext.http when no header)", req.Headers.Get("User-Agent"))
	case req.Query.Get("dryRun") != "true" || req.Query.Get("ids") != "1,2":
		t.Fatalf("query = %v", req.Query)
	case req.RequestID != "1-64f6cd87-abc" || req.SourceIP != "203.0.113.10" || req.Host != "api-x.cn-hangzhou.fcapp.run" || req.Proto != "HTTP/1.1":
		t.Fatalf("context = %+v", req)
	case !req.Time.Equal(time.Date(2023, 9, 5, 6, 41, 11, 0, time.UTC)):
		t.Fatalf("time = %v", req.Time)
	case req.Authenticated:
		t.Fatal("an unsigned request is not authenticated")
	}
}

func TestDecodeHTTPVariants(t *testing.T) {
	binary := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 0xfe}
	tests := []struct {
		name  string
		edit  func(ev map[string]any)
		check func(t *testing.T, r fcevent.HTTPRequest)
	}{
		{"encoded rawPath is decoded, raw kept", func(ev map[string]any) {
			ev["rawPath"] = "/v1/members/a%2Fb%20c/enroll"
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if r.Path != "/v1/members/a/b c/enroll" || r.RawPath != "/v1/members/a%2Fb%20c/enroll" {
				t.Fatalf("path = %q raw = %q", r.Path, r.RawPath)
			}
		}},
		{"rawPath missing: requestContext.http.path", func(ev map[string]any) {
			delete(ev, "rawPath")
			rcHTTP(ev)["path"] = "/v1/plan"
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if r.Path != "/v1/plan" {
				t.Fatalf("path = %q", r.Path)
			}
		}},
		{"no path at all is /", func(ev map[string]any) {
			delete(ev, "rawPath")
			delete(rcHTTP(ev), "path")
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if r.Path != "/" {
				t.Fatalf("path = %q", r.Path)
			}
		}},
		{"base64 body", func(ev map[string]any) {
			ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(binary), true
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if !bytes.Equal(r.Body, binary) {
				t.Fatalf("body = %v", r.Body)
			}
		}},
		{"base64 body without padding", func(ev map[string]any) {
			ev["body"], ev["isBase64Encoded"] = base64.RawStdEncoding.EncodeToString([]byte("ab")), true
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if string(r.Body) != "ab" {
				t.Fatalf("body = %q", r.Body)
			}
		}},
		{"isBase64Encoded as a string", func(ev map[string]any) {
			ev["body"], ev["isBase64Encoded"] = "aGk=", "true"
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if string(r.Body) != "hi" {
				t.Fatalf("body = %q", r.Body)
			}
		}},
		{"isBase64Encoded false keeps a base64-looking body as is", func(ev map[string]any) {
			ev["body"] = "aGk="
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if string(r.Body) != "aGk=" {
				t.Fatalf("body = %q", r.Body)
			}
		}},
		{"header values as lists", func(ev map[string]any) {
			hdr(ev)["X-Multi"] = []any{"a", "b"}
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if v := r.Headers.Values("X-Multi"); len(v) != 2 || v[0] != "a" || v[1] != "b" {
				t.Fatalf("values = %v", v)
			}
		}},
		{"host and request id from headers when the context lacks them", func(ev map[string]any) {
			delete(rc(ev), "domainName")
			delete(rc(ev), "requestId")
			hdr(ev)["host"] = "localhost:9000"
			hdr(ev)["x-fc-request-id"] = "req-from-header"
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if r.Host != "localhost:9000" || r.RequestID != "req-from-header" {
				t.Fatalf("host = %q id = %q", r.Host, r.RequestID)
			}
		}},
		{"time from timeEpoch", func(ev map[string]any) {
			rc(ev)["time"] = "05/Sep/2023:06:41:11 +0000"
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if !r.Time.Equal(time.UnixMilli(1693896071895)) {
				t.Fatalf("time = %v", r.Time)
			}
		}},
		{"minimal event", func(ev map[string]any) {
			for k := range ev {
				delete(ev, k)
			}
			ev["requestContext"] = map[string]any{"http": map[string]any{"method": "GET"}}
		}, func(t *testing.T, r fcevent.HTTPRequest) {
			if r.Method != "GET" || r.Path != "/" || r.Headers == nil || r.Query == nil || r.Proto != "HTTP/1.1" {
				t.Fatalf("request = %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeHTTP(t, tc.edit)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestDecodeHTTPErrors(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(ev map[string]any)
		raw         string // used instead of the event when set
		field, rule string
	}{
		{"bad JSON", nil, `{"version":`, "payload", fcevent.RuleJSON},
		{"not an object", nil, `"GET /"`, "payload", fcevent.RuleType},
		{"null", nil, `null`, "payload", fcevent.RuleRequired},
		{"empty", nil, ` `, "payload", fcevent.RuleRequired},
		{"version v2", func(ev map[string]any) { ev["version"] = "v2" }, "", "version", fcevent.RuleValue},
		{"missing method", func(ev map[string]any) { delete(rcHTTP(ev), "method") }, "", "requestContext.http.method", fcevent.RuleRequired},
		{"missing requestContext", func(ev map[string]any) { delete(ev, "requestContext") }, "", "requestContext.http.method", fcevent.RuleRequired},
		{"method with a space", func(ev map[string]any) { rcHTTP(ev)["method"] = "GE T" }, "", "requestContext.http.method", fcevent.RuleFormat},
		{"method not a string", func(ev map[string]any) { rcHTTP(ev)["method"] = true }, "", "requestContext.http.method", fcevent.RuleType},
		{"requestContext a string", func(ev map[string]any) { ev["requestContext"] = "x" }, "", "requestContext", fcevent.RuleType},
		{"http a list", func(ev map[string]any) { rc(ev)["http"] = []any{} }, "", "requestContext.http", fcevent.RuleType},
		{"requestId an object", func(ev map[string]any) { rc(ev)["requestId"] = map[string]any{} }, "", "requestContext.requestId", fcevent.RuleType},
		{"relative rawPath", func(ev map[string]any) { ev["rawPath"] = "v1/status" }, "", "rawPath", fcevent.RuleFormat},
		{"bad escape in rawPath", func(ev map[string]any) { ev["rawPath"] = "/v1/%zz" }, "", "rawPath", fcevent.RuleFormat},
		{"bad escape in the fallback path", func(ev map[string]any) {
			delete(ev, "rawPath")
			rcHTTP(ev)["path"] = "/%"
		}, "", "requestContext.http.path", fcevent.RuleFormat},
		{"bad base64", func(ev map[string]any) { ev["body"], ev["isBase64Encoded"] = "not base64!", true }, "", "body", fcevent.RuleFormat},
		{"body an object", func(ev map[string]any) { ev["body"] = map[string]any{"a": 1} }, "", "body", fcevent.RuleType},
		{"isBase64Encoded a number", func(ev map[string]any) { ev["isBase64Encoded"] = 1 }, "", "isBase64Encoded", fcevent.RuleType},
		{"isBase64Encoded a word", func(ev map[string]any) { ev["isBase64Encoded"] = "yes" }, "", "isBase64Encoded", fcevent.RuleType},
		{"headers a list", func(ev map[string]any) { ev["headers"] = []any{"a"} }, "", "headers", fcevent.RuleType},
		{"header value an object", func(ev map[string]any) { hdr(ev)["X-A"] = map[string]any{} }, "", "headers.X-A", fcevent.RuleType},
		{"header name with a space", func(ev map[string]any) { hdr(ev)["Bad Name"] = "x" }, "", "headers.Bad Name", fcevent.RuleFormat},
		{"header value with CRLF", func(ev map[string]any) { hdr(ev)["X-A"] = "a\r\nSet-Cookie: x" }, "", "headers.X-A", fcevent.RuleFormat},
		{"queryParameters a string", func(ev map[string]any) { ev["queryParameters"] = "a=1" }, "", "queryParameters", fcevent.RuleType},
		{"query value an object", func(ev map[string]any) { ev["queryParameters"] = map[string]any{"a": map[string]any{}} }, "", "queryParameters.a", fcevent.RuleType},
		{"oversize", nil, `{"body":"` + strings.Repeat("x", fcevent.MaxSyncPayload) + `"}`, "payload", fcevent.RuleSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.raw != "" {
				_, err = fcevent.DecodeHTTP([]byte(tc.raw))
			} else {
				_, err = decodeHTTP(t, tc.edit)
			}
			wantFieldError(t, err, tc.field, tc.rule)
		})
	}
}

func TestAuthenticated(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]any
		query   map[string]any
		want    bool
	}{
		{"nothing", nil, nil, false},
		{"local host: true", map[string]any{"x-fc-authenticated": "true"}, nil, true},
		{"local host: TRUE", map[string]any{"X-Fc-Authenticated": " TRUE "}, nil, true},
		{"local host: false", map[string]any{"x-fc-authenticated": "false"}, nil, false},
		{"local host's false wins over signature headers", map[string]any{
			"x-fc-authenticated": "false", "authorization": "FC ak:sig", "x-fc-date": "Sun, 01 Jun 2025 12:00:00 GMT",
		}, nil, false},
		{"local host: anything else", map[string]any{"x-fc-authenticated": "1"}, nil, false},
		{"FC signature", map[string]any{"authorization": "FC ak:sig", "x-fc-date": "Sun, 01 Jun 2025 12:00:00 GMT"}, nil, true},
		{"ACS3 signature", map[string]any{"Authorization": "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=x-acs-date,Signature=s", "x-acs-date": "2025-06-01T12:00:00Z"}, nil, true},
		{"authorization without a signature date", map[string]any{"authorization": "Bearer x"}, nil, false},
		{"blank authorization", map[string]any{"authorization": " ", "x-fc-date": "d"}, nil, false},
		{"date without authorization", map[string]any{"x-fc-date": "d", "x-acs-date": "d"}, nil, false},
		{"pre-signed URL", nil, map[string]any{"x-fc-signature": "s", "x-fc-access-key-id": "ak", "x-fc-expires": "1748779200"}, true},
		{"partly signed URL", nil, map[string]any{"x-fc-signature": "s", "x-fc-expires": "1748779200"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeHTTP(t, func(ev map[string]any) {
				ev["headers"] = map[string]any{}
				for k, v := range tc.headers {
					hdr(ev)[k] = v
				}
				ev["queryParameters"] = tc.query
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.Authenticated != tc.want {
				t.Fatalf("Authenticated = %v, want %v", r.Authenticated, tc.want)
			}
			// The net/http side gives the same verdict, from the request ToHTTPRequest builds
			// and from a plain request carrying the same headers.
			if got := fcevent.RequestAuthenticated(fcevent.ToHTTPRequest(r)); got != tc.want {
				t.Fatalf("RequestAuthenticated(ToHTTPRequest) = %v, want %v", got, tc.want)
			}
			plain, _ := http.NewRequest("GET", "http://x/?"+r.Query.Encode(), nil)
			plain.Header = r.Headers
			if got := fcevent.RequestAuthenticated(plain); got != tc.want {
				t.Fatalf("RequestAuthenticated(plain) = %v, want %v", got, tc.want)
			}
		})
	}
	if fcevent.RequestAuthenticated(nil) {
		t.Fatal("a nil request is not authenticated")
	}
}
