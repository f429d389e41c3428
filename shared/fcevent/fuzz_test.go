package fcevent_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

// seedSamples adds every sample whose name starts with prefix to the corpus.
func seedSamples(f *testing.F, prefix string) {
	files, _ := filepath.Glob(filepath.Join(eventsDir, prefix+"*.json"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
}

// wantFieldErr: every decoder error is a *FieldError with a field, a rule and a message.
func wantFieldErr(t *testing.T, err error) {
	t.Helper()
	var fe *fcevent.FieldError
	if !errors.As(err, &fe) || fe.Field == "" || fe.Rule == "" || fe.Message == "" {
		t.Fatalf("error %v (%T) does not name a field and a rule", err, err)
	}
	if !utf8.ValidString(fe.Error()) {
		t.Fatalf("error text is not UTF-8: %q", fe.Error())
	}
}

func FuzzDecodeCloudEvent(f *testing.F) {
	seedSamples(f, "eventbridge-")
	f.Add([]byte(`{"id":"1","source":"s","specversion":"1.0","type":"resourcemanager:ActionTrail:ApiCall","data":{"eventName":"DeleteAccount","requestParameters":{"AccountId":12345678901234567890}}}`))
	f.Add([]byte(`{"id":"1","source":"s","specversion":"1.0","type":"x:ActionTrail:y","data":{"eventName":"AcceptHandshake","eventSource":"resourcemanager.aliyuncs.com","userIdentity":{"accountId":"1"},"responseElements":"{\"Handshake\":{\"TargetEntity\":\"1\"}}"}}`))
	f.Add([]byte(`{"id":"1","source":"s","specversion":"1.0","type":"resourcemanager:ActionTrail:ApiCall","data":{"eventName":"TagResources","requestParameters":{"ResourceType":"Account","ResourceId.1":"1","ResourceId":["2",3]}}}`))
	f.Add([]byte(`[{"id":"1"},{}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := fcevent.DecodeCloudEvent(raw)
		if err != nil {
			wantFieldErr(t, err)
		} else {
			if ev.ID == "" || ev.Source == "" || ev.SpecVersion != "1.0" || !strings.Contains(ev.Type, ":ActionTrail:") ||
				ev.Data.EventName == "" || ev.Data.RequestParameters == nil {
				t.Fatalf("accepted a malformed event: %+v", ev)
			}
			in, err := fcevent.MembershipIntent(ev)
			if err != nil {
				wantFieldErr(t, err)
			} else {
				checkIntent(t, in)
				if in.EventName != ev.Data.EventName || in.EventID == "" {
					t.Fatalf("intent lost the event: %+v", in)
				}
			}
		}
		// The batch decoder agrees with the single one on single events, and never panics on lists.
		evs, berr := fcevent.DecodeCloudEvents(raw)
		if err == nil && (berr != nil || len(evs) != 1) {
			t.Fatalf("DecodeCloudEvents disagrees: %d events, %v", len(evs), berr)
		}
		for _, ev := range evs {
			if in, err := fcevent.MembershipIntent(ev); err == nil {
				checkIntent(t, in)
			}
		}
	})
}

func FuzzDecodeTimer(f *testing.F) {
	seedSamples(f, "timer-")
	for _, s := range []string{``, `null`, `{}`, `{"payload":{"mode":"incremental"}}`, `{"payload":"{\"mode\":\"x\"}"}`,
		`{"payload":"{\"mode\":\"full\",\"extra\":1}"}`, `{"triggerTime":"2022-07-29T10:02:58+08:00","payload":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := fcevent.DecodeTimer(raw)
		if err != nil {
			wantFieldErr(t, err)
			return
		}
		if ev.Request.Mode != fcevent.ModeFull && ev.Request.Mode != fcevent.ModeIncremental {
			t.Fatalf("accepted mode %q", ev.Request.Mode)
		}
	})
}

func FuzzDecodeHTTP(f *testing.F) {
	seedSamples(f, "http-")
	f.Add([]byte(`{"rawPath":"/a%2Fb","isBase64Encoded":true,"body":"AAEC","requestContext":{"http":{"method":"POST"}}}`))
	f.Add([]byte(`{"headers":{"x-fc-authenticated":"true","A":["1",2]},"queryParameters":{"q":["a","b"]},"requestContext":{"http":{"method":"GET","path":"/x"}}}`))
	handler := fcevent.HTTPHandler(echo())
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := fcevent.DecodeHTTP(raw)
		res, herr := handler(context.Background(), raw)
		if herr != nil {
			t.Fatalf("the FC handler failed the invocation: %v", herr)
		}
		if err != nil {
			wantFieldErr(t, err)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("a bad event got %d, want 400", res.StatusCode)
			}
			return
		}
		if req.Method == "" || !strings.HasPrefix(req.Path, "/") || req.Headers == nil || req.Query == nil {
			t.Fatalf("accepted a malformed request: %+v", req)
		}
		for k := range req.Headers {
			if k != http.CanonicalHeaderKey(k) {
				t.Fatalf("header key %q is not canonical", k)
			}
		}
		// The decoded verdict survives the adapter.
		hr := fcevent.ToHTTPRequest(req)
		if fcevent.RequestAuthenticated(hr) != req.Authenticated {
			t.Fatal("ToHTTPRequest changed the authentication verdict")
		}
		// The echo handler returns the body it read: it must arrive byte for byte.
		if res.StatusCode != http.StatusOK {
			return // the mux may refuse odd methods or paths; that is its business
		}
		got := []byte(res.Body)
		if res.IsBase64Encoded {
			if got, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
				t.Fatalf("response body is not base64: %v", err)
			}
		}
		if !bytes.Equal(got, req.Body) {
			t.Fatalf("body changed in transit: %q -> %q", req.Body, got)
		}
		var back fcevent.HTTPResponse
		if b, err := json.Marshal(res); err != nil || json.Unmarshal(b, &back) != nil || back.Body != res.Body {
			t.Fatalf("response does not survive JSON: %v", err)
		}
	})
}

// echo answers every request with its own body, typed by the request's Content-Type.
func echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		if ct := r.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		if ce := r.Header.Get("Content-Encoding"); ce != "" {
			w.Header().Set("Content-Encoding", ce)
		}
		_, _ = w.Write(buf.Bytes())
	})
}
