package fcevent_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

func TestToHTTPRequest(t *testing.T) {
	in := fcevent.HTTPRequest{
		Method: "POST", Path: "/v1/members/a/b/enroll", RawPath: "/v1/members/a%2Fb/enroll",
		Query:   url.Values{"dryRun": {"true"}},
		Headers: http.Header{"Content-Type": {"application/json"}, "Host": {"ignored.example"}},
		Body:    []byte(`{"x":1}`), Host: "api.cn-hangzhou.fcapp.run", Proto: "HTTP/1.1",
		RequestID: "req-1", SourceIP: "203.0.113.10", Authenticated: true,
	}
	r := fcevent.ToHTTPRequest(in)
	switch {
	case r.Method != "POST" || r.URL.Path != in.Path || r.URL.EscapedPath() != in.RawPath || r.URL.RawQuery != "dryRun=true":
		t.Fatalf("url = %s %s (escaped %s, query %s)", r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery)
	case r.RequestURI != "/v1/members/a%2Fb/enroll?dryRun=true":
		t.Fatalf("RequestURI = %q", r.RequestURI)
	case r.Host != "api.cn-hangzhou.fcapp.run" || r.Header.Get("Host") != "":
		t.Fatalf("host = %q, Host header %q (net/http servers move it out of Header)", r.Host, r.Header.Get("Host"))
	case r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Fc-Request-Id") != "req-1":
		t.Fatalf("headers = %v", r.Header)
	case r.RemoteAddr != "203.0.113.10:0" || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.ContentLength != 7:
		t.Fatalf("request = %+v", r)
	case !fcevent.RequestAuthenticated(r):
		t.Fatal("the decoded verdict must survive into the request")
	}
	body, _ := io.ReadAll(r.Body)
	again, _ := r.GetBody()
	body2, _ := io.ReadAll(again)
	if string(body) != `{"x":1}` || string(body2) != `{"x":1}` {
		t.Fatalf("body = %q, again %q", body, body2)
	}
	// The request does not alias the caller's slices and maps.
	in.Body[0], in.Headers["Content-Type"][0] = 'X', "text/plain"
	if again, _ = r.GetBody(); readAll(again) != `{"x":1}` || r.Header.Get("Content-Type") != "application/json" {
		t.Fatal("ToHTTPRequest shares memory with its input")
	}

	// An unauthenticated request says so even when a client sent the local host's header.
	in2 := fcevent.HTTPRequest{Method: "GET", Path: "/", Headers: http.Header{"X-Fc-Authenticated": {"true"}}}
	if r := fcevent.ToHTTPRequest(in2); fcevent.RequestAuthenticated(r) || r.Body != http.NoBody || r.RemoteAddr != "" {
		t.Fatalf("request = %+v", r)
	}
	// The zero value is a GET of /.
	if r := fcevent.ToHTTPRequest(fcevent.HTTPRequest{}); r.Method != "GET" || r.URL.Path != "/" || r.RequestURI != "/" {
		t.Fatalf("zero request = %s %s", r.Method, r.URL)
	}
	// A raw path that does not encode Path is dropped rather than contradicting it.
	if r := fcevent.ToHTTPRequest(fcevent.HTTPRequest{Path: "/a", RawPath: "/b"}); r.URL.RawPath != "" || r.URL.EscapedPath() != "/a" {
		t.Fatalf("url = %s", r.URL)
	}
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

func TestFromRecorder(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d, 0xff}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"a":1}`))
	_ = zw.Close()
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		status   int
		base64   bool
		body     []byte
		headers  map[string]string
		noHeader []string
	}{
		{"JSON", func(w http.ResponseWriter, r *http.Request) {
			fcevent.WriteJSON(w, 201, map[string]string{"ok": "yes"})
		}, 201, false, []byte(`{"ok":"yes"}`), map[string]string{"Content-Type": "application/json; charset=utf-8"}, []string{"Content-Length"}},
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<h1>auditwarden ✓</h1>")
		}, 200, false, []byte("<h1>auditwarden ✓</h1>"), nil, nil},
		{"no Content-Type: sniffed like net/http", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "plain words")
		}, 200, false, []byte("plain words"), map[string]string{"Content-Type": "text/plain; charset=utf-8"}, nil},
		{"binary", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		}, 200, true, png, nil, nil},
		{"sniffed binary", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(png)
		}, 200, true, png, map[string]string{"Content-Type": "image/png"}, nil},
		{"octet-stream that happens to be ASCII", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, "abc")
		}, 200, true, []byte("abc"), nil, nil},
		{"text that is not UTF-8", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=latin1")
			_, _ = w.Write([]byte("caf\xe9"))
		}, 200, true, []byte("caf\xe9"), nil, nil},
		{"gzip-encoded JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gz.Bytes())
		}, 200, true, gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}, nil},
		{"empty 204", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, 204, false, nil, nil, nil},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 200, false, nil, nil, nil},
		{"repeated headers joined, hop-by-hop dropped", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Origin")
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(202)
			_, _ = io.WriteString(w, "ok")
		}, 202, false, []byte("ok"), map[string]string{"Vary": "Accept, Origin"}, []string{"Connection", "Content-Length"}},
		{"headers set after WriteHeader are not sent, as with net/http", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.Header().Set("X-Late", "1")
		}, 200, false, nil, nil, []string{"X-Late"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.handler(rec, httptest.NewRequest("GET", "/", nil))
			res := fcevent.FromRecorder(rec)
			if res.StatusCode != tc.status || res.IsBase64Encoded != tc.base64 {
				t.Fatalf("response = %d base64=%v, want %d base64=%v", res.StatusCode, res.IsBase64Encoded, tc.status, tc.base64)
			}
			got := []byte(res.Body)
			if res.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, tc.body) {
				t.Fatalf("body = %q, want %q", got, tc.body)
			}
			for k, v := range tc.headers {
				if res.Headers[k] != v {
					t.Fatalf("header %s = %q, want %q (all %v)", k, res.Headers[k], v, res.Headers)
				}
			}
			for _, k := range tc.noHeader {
				if _, ok := res.Headers[k]; ok {
					t.Fatalf("header %s must not be sent: %v", k, res.Headers)
				}
			}
			// The FC response must survive JSON, which is how it travels.
			var back fcevent.HTTPResponse
			if err := json.Unmarshal(encode(t, res), &back); err != nil || back.Body != res.Body {
				t.Fatalf("JSON round trip changed the body: %v", err)
			}
		})
	}
	if res := fcevent.FromRecorder(nil); res.StatusCode != 500 {
		t.Fatalf("nil recorder = %+v", res)
	}
}

type ctxKey struct{}

// api is a stand-in for the api function's mux: Go 1.22 patterns with path values.
func api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/members/{id}/enroll", func(w http.ResponseWriter, r *http.Request) {
		if !fcevent.RequestAuthenticated(r) {
			fcevent.WriteError(w, http.StatusUnauthorized, "", "authentication", "sign the request")
			return
		}
		body, _ := io.ReadAll(r.Body)
		fcevent.WriteJSON(w, 200, map[string]any{
			"id": r.PathValue("id"), "body": string(body), "dryRun": r.URL.Query().Get("dryRun"),
			"requestId": r.Header.Get("X-Fc-Request-Id"), "ctx": r.Context().Value(ctxKey{}), "remote": r.RemoteAddr,
		})
	})
	mux.HandleFunc("GET /logo.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte{0x89, 'P', 'N', 'G', 0xff})
	})
	return mux
}

func TestHTTPHandler(t *testing.T) {
	handler := fcevent.HTTPHandler(api())
	ctx := context.WithValue(context.Background(), ctxKey{}, "invocation")
	event := func(f func(ev map[string]any)) []byte {
		ev := httpEvent()
		f(ev)
		return encode(t, ev)
	}
	enroll := func(ev map[string]any) {
		ev["rawPath"] = "/v1/members/a%2Fb/enroll"
		rcHTTP(ev)["method"] = "POST"
		ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString([]byte("note")), true
		ev["queryParameters"] = map[string]any{"dryRun": "1"}
		hdr(ev)["x-fc-authenticated"] = "true"
	}
	tests := []struct {
		name    string
		payload []byte
		status  int
		body    string // substring of the (decoded) body
	}{
		{"routed with path value, body, query, request id and context", event(enroll), 200,
			`"body":"note","ctx":"invocation","dryRun":"1","id":"a/b","remote":"203.0.113.10:0","requestId":"1-64f6cd87-abc"`},
		{"unauthenticated", event(func(ev map[string]any) {
			enroll(ev)
			delete(hdr(ev), "x-fc-authenticated")
		}), 401, `{"error":{"field":"","rule":"authentication","message":"sign the request"}}`},
		{"method not allowed comes from the mux", event(func(ev map[string]any) {
			enroll(ev)
			rcHTTP(ev)["method"] = "DELETE"
		}), 405, ""},
		{"not found", event(func(ev map[string]any) { ev["rawPath"] = "/nope" }), 404, "404 page not found"},
		{"binary response", event(func(ev map[string]any) { ev["rawPath"] = "/logo.png" }), 200, "\x89PNG\xff"},
		{"undecodable event is a 400 naming the field", []byte(`{"requestContext":{"http":{"method":"GET"}},"rawPath":"/%zz"}`), 400,
			`{"error":{"field":"rawPath","rule":"format","message":`},
		{"oversize event is a 400", bytes.Repeat([]byte(" "), fcevent.MaxSyncPayload+1), 400, `"field":"payload","rule":"size"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := handler(ctx, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			body := res.Body
			if res.IsBase64Encoded {
				b, err := base64.StdEncoding.DecodeString(body)
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			if res.StatusCode != tc.status || !strings.Contains(body, tc.body) {
				t.Fatalf("response = %d %q, want %d containing %q", res.StatusCode, body, tc.status, tc.body)
			}
		})
	}
}

// TestServeSamples replays the HTTP samples through a mux the way the api function does.
func TestServeSamples(t *testing.T) {
	raw, err := os.ReadFile(eventsDir + "/http-post-member-enroll.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := fcevent.HTTPHandler(api())(context.Background(), raw)
	if err != nil || res.StatusCode != 200 || !strings.Contains(res.Body, `"id":"`+dev+`"`) {
		t.Fatalf("response = %+v, %v", res, err)
	}
	// A nil context is tolerated (tests calling Serve directly).
	if res := fcevent.Serve(nil, api(), fcevent.HTTPRequest{Method: "GET", Path: "/logo.png"}); res.StatusCode != 200 || !res.IsBase64Encoded {
		t.Fatalf("response = %+v", res)
	}
}

func TestResponses(t *testing.T) {
	res := fcevent.JSONResponse(200, map[string]int{"n": 1})
	if got := string(encode(t, res)); got != `{"statusCode":200,"headers":{"Content-Type":"application/json; charset=utf-8"},"isBase64Encoded":false,"body":"{\"n\":1}"}` {
		t.Fatalf("JSONResponse = %s", got)
	}
	res = fcevent.ErrorResponse(400, "mode", "value", `must be "full"`)
	if res.StatusCode != 400 || res.Body != `{"error":{"field":"mode","rule":"value","message":"must be \"full\""}}` {
		t.Fatalf("ErrorResponse = %+v", res)
	}
	if res := fcevent.JSONResponse(200, make(chan int)); res.StatusCode != 500 || !strings.Contains(res.Body, `"rule":"internal"`) {
		t.Fatalf("unencodable value = %+v", res)
	}

	tests := []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"field error", &fcevent.FieldError{Field: "payload.mode", Rule: "value", Message: "bad"}, 400,
			`{"error":{"field":"payload.mode","rule":"value","message":"bad"}}`},
		{"wrapped field error", errors.Join(errors.New("x"), &fcevent.FieldError{Field: "f", Rule: "r", Message: "m"}), 400,
			`{"error":{"field":"f","rule":"r","message":"m"}}`},
		{"internal error is not shown", errors.New("secret detail"), 500, `{"error":{"field":"","rule":"internal","message":"internal error"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			fcevent.WriteFieldError(rec, tc.err)
			if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("response = %d %s", rec.Code, rec.Body)
			}
		})
	}
	rec := httptest.NewRecorder()
	fcevent.WriteJSON(rec, 200, make(chan int))
	if rec.Code != 500 {
		t.Fatalf("unencodable value = %d %s", rec.Code, rec.Body)
	}
}
