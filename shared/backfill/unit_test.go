package backfill_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/policy"
)

func TestWindow(t *testing.T) {
	const central, member = "1000000000000001", "2000000000000002"
	p := policy.Default(central, "cn-hangzhou")
	p.Backfill.Days = 90
	r := backfill.New(nil, nil, p, nil, zerolog.Nop())
	now := time.Date(2025, 6, 1, 12, 0, 0, 400_000_000, time.UTC) // sub-second "now" is truncated
	start := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	from := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC) // 90 days before now's second
	for _, tc := range []struct {
		name      string
		account   string
		trail     time.Time
		joined    time.Time
		org       bool
		from, to  time.Time
		reasonHas string
	}{
		{"member joined before the trail started", member, start, start.Add(-48 * time.Hour), true, from, start, "logging since"},
		{"member joined after the trail started", member, start, start.Add(72*time.Hour + 1500*time.Millisecond), true,
			from, start.Add(72*time.Hour + 2*time.Second), "joined"}, // rounded up to the second: never lose one
		{"central account: the trail's start", central, start, time.Time{}, true, from, start, "logging since"},
		{"central account of a single-account trail", central, start, time.Time{}, false, from, start, "logging since"},
		{"member with a single-account trail", member, start, start.Add(-48 * time.Hour), false, from, now.Truncate(time.Second), "not a multi-account trail"},
		{"no trail logging", member, time.Time{}, start, true, from, now.Truncate(time.Second), "not logging"},
		{"covered for longer than the window: empty", member, from.Add(-time.Hour), from.Add(-2 * time.Hour), true, from, from, "logging since"},
		{"a trail start in the future (clock skew)", member, now.Add(time.Hour), start, true, from, now.Truncate(time.Second), "logging since"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, to, why := r.Window(tc.trail, tc.joined, now, tc.org, tc.account)
			if !f.Equal(tc.from) || !to.Equal(tc.to) || !strings.Contains(why, tc.reasonHas) {
				t.Errorf("window = [%s, %s) %q; want [%s, %s) with %q", f, to, why, tc.from, tc.to, tc.reasonHas)
			}
		})
	}
}

func TestProgressJSON(t *testing.T) {
	p := backfill.Progress{
		AccountID: "123", Method: "lookup", State: backfill.StateRunning, EventsCopied: 4200,
		WindowFrom: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC), WindowTo: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		CoveredUntil: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), ETA: 90*time.Minute + 30*time.Second, UpdatedAt: time.Date(2025, 6, 1, 1, 0, 0, 0, time.UTC),
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"accountId": "123", "eventsCopied": 4200.0, "eta": "1h30m30s", "etaSeconds": 5430.0, "coveredUntil": "2025-04-01T00:00:00Z"} {
		if fields[k] != want {
			t.Errorf("%s = %v, want %v (in %s)", k, fields[k], want, raw)
		}
	}
	if _, ok := fields["error"]; ok {
		t.Errorf("an empty error is written: %s", raw)
	}
	var back backfill.Progress
	if err := json.Unmarshal(raw, &back); err != nil || back != p {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"eta":"soon"}`), &back); err == nil || !strings.Contains(err.Error(), "eta") {
		t.Errorf("a bad eta: %v", err)
	}
}

func TestParseStepRequest(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    backfill.StepRequest
		errHas  string
	}{
		{`{"accounts":["123","456"],"hop":2}`, backfill.StepRequest{Accounts: []string{"123", "456"}, Hop: 2}, ""},
		{` {"accounts":["123"]} `, backfill.StepRequest{Accounts: []string{"123"}}, ""},
		{``, backfill.StepRequest{}, "payload is empty"},
		{`{}`, backfill.StepRequest{}, "accounts: required"},
		{`{"accounts":[]}`, backfill.StepRequest{}, "accounts: required"},
		{`{"accounts":["12a"]}`, backfill.StepRequest{}, `accounts[0]: "12a" is not an account id`},
		{`{"accounts":["1","1"]}`, backfill.StepRequest{}, "accounts[1]: 1 is listed twice"},
		{`{"accounts":[null]}`, backfill.StepRequest{}, `accounts[0]: "" is not an account id`},
		{`{"accounts":[123]}`, backfill.StepRequest{}, "accounts: each entry must be an account id string, not number"},
		{`{"accounts":"123"}`, backfill.StepRequest{}, "accounts: must be an array of account id strings, not string"},
		{`{"accounts":["1"],"hop":-1}`, backfill.StepRequest{}, "hop: -1 must be from 0"},
		{`{"accounts":["1"],"hop":1.5}`, backfill.StepRequest{}, "hop: must be an integer"},
		{`{"accounts":["1"],"mode":"full"}`, backfill.StepRequest{}, "mode: unknown field"},
		{`[]`, backfill.StepRequest{}, "must be a JSON object"},
		{`{"accounts":["1"]} {}`, backfill.StepRequest{}, "trailing data"},
		{`{"accounts":["1"]`, backfill.StepRequest{}, "cut short"},
		{`{"accounts":["1"],}`, backfill.StepRequest{}, "not JSON"},
		{`{"triggerTime":"2022-07-29T10:02:58Z","triggerName":"t","payload":""}`, backfill.StepRequest{}, "triggerTime: unknown field"},
	} {
		got, err := backfill.ParseStepRequest([]byte(tc.payload))
		if tc.errHas == "" {
			if err != nil || strings.Join(got.Accounts, ",") != strings.Join(tc.want.Accounts, ",") || got.Hop != tc.want.Hop {
				t.Errorf("%s: %+v, %v; want %+v", tc.payload, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("%s: error %v, want one containing %q", tc.payload, err, tc.errHas)
		}
	}
	big := `{"accounts":["` + strings.Repeat("1", 200<<10) + `"]}`
	if _, err := backfill.ParseStepRequest([]byte(big)); err == nil || !strings.Contains(err.Error(), "payload is") {
		t.Errorf("a 200 KB payload: %v", err)
	}
}

func FuzzParseStepRequest(f *testing.F) {
	for _, s := range []string{`{"accounts":["123"],"hop":1}`, `{"accounts":[1]}`, `[]`, `{`, `{"accounts":["1","1"]}`, `null`, `{"hop":1e99}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := backfill.ParseStepRequest(payload)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "backfill step: ") {
				t.Fatalf("error without the decoder's prefix: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request %+v: %v", r, err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if r2, err := backfill.ParseStepRequest(again); err != nil || strings.Join(r2.Accounts, ",") != strings.Join(r.Accounts, ",") || r2.Hop != r.Hop {
			t.Fatalf("re-encoded request %s does not decode the same: %+v %v", again, r2, err)
		}
	})
}

// fakeFC is Function Compute's InvokeFunction as the SDK sees it, recording what arrives.
type fakeFC struct {
	mu       sync.Mutex
	reqs     []*http.Request
	bodies   []string
	statuses []int // answers to give in turn; then 202
}

func (f *fakeFC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, string(body))
	status := http.StatusAccepted
	if len(f.statuses) > 0 {
		status, f.statuses = f.statuses[0], f.statuses[1:]
	}
	f.mu.Unlock()
	w.Header().Set("x-fc-request-id", "req-1")
	if status >= 400 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		code := map[int]string{400: "InvalidArgument", 404: "FunctionNotFound", 429: "ResourceThrottled", 503: "ServiceUnavailable"}[status]
		_, _ = io.WriteString(w, `{"Code":"`+code+`","Message":"from the fake","RequestId":"req-1"}`)
		return
	}
	w.WriteHeader(status)
}

func TestFCInvoker(t *testing.T) {
	fake := &fakeFC{statuses: []int{503, 429}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	creds := cloud.Credentials{AccessKeyID: "STS.test", AccessKeySecret: "secret", SecurityToken: "token-1"}
	inv, err := backfill.NewFCInvokerAt(srv.URL, "cn-hangzhou", creds)
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"accounts":["123"],"hop":1}`
	if err := inv.InvokeAsync(context.Background(), "backfill", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	if len(fake.reqs) != 3 {
		t.Fatalf("%d requests, want 3 (503 and 429 retried)", len(fake.reqs))
	}
	r := fake.reqs[2]
	for name, want := range map[string]string{
		"method": http.MethodPost, "path": "/2023-03-30/functions/backfill/invocations",
		"x-fc-invocation-type": "Async", "x-acs-security-token": "token-1", "body": payload,
	} {
		got := map[string]string{"method": r.Method, "path": r.URL.Path, "body": fake.bodies[2]}[name]
		if got == "" {
			got = r.Header.Get(name)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "Credential=STS.test") {
		t.Errorf("Authorization %q does not sign with the session's key", auth)
	}

	fake.statuses = []int{404}
	err = inv.InvokeAsync(context.Background(), "nope", []byte(payload))
	if err == nil || !strings.Contains(err.Error(), "FunctionNotFound") || len(fake.reqs) != 4 {
		t.Errorf("a missing function: %v after %d requests (want one, not retried)", err, len(fake.reqs))
	}
	if err := inv.InvokeAsync(context.Background(), "backfill", make([]byte, 129<<10)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a payload over the async limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := inv.InvokeAsync(ctx, "backfill", []byte(payload)); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
}

func TestFCInvokerEndpoint(t *testing.T) {
	creds := cloud.Credentials{AccessKeyID: "AK", AccessKeySecret: "SK"}
	for _, tc := range []struct{ in, want, errHas string }{
		{"http://127.0.0.1:9000", "http://127.0.0.1:9000", ""},
		{"http://127.0.0.1:9000/", "http://127.0.0.1:9000", ""},
		{"123.cn-hangzhou.fc.aliyuncs.com", "https://123.cn-hangzhou.fc.aliyuncs.com", ""},
		{"https://fc.example/path", "", "must be http(s)://host[:port]"},
		{"ftp://host", "", "must be http(s)://host[:port]"},
		{" ", "", "is empty"},
	} {
		inv, err := backfill.NewFCInvokerAt(tc.in, "cn-hangzhou", creds)
		switch {
		case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.errHas)
		case tc.errHas == "" && (err != nil || inv.Endpoint() != tc.want):
			t.Errorf("%q: %v %v, want %s", tc.in, inv, err, tc.want)
		}
	}
	if _, err := backfill.NewFCInvokerAt("http://h:1", "cn-hangzhou", cloud.Credentials{}); err == nil {
		t.Error("empty credentials accepted")
	}
}
