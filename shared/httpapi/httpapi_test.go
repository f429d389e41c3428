package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// recordingService records what the routes asked for; route tests check parsing and status
// mapping here, while the application behind them is tested against localcloud in package app.
type recordingService struct {
	calls  []string
	secret string
	err    error
	jobs   []backfill.Progress // what BackfillStatus answers
	next   string
}

func (s *recordingService) Setup(_ context.Context, doc []byte) (*reconcile.Report, error) {
	s.calls = append(s.calls, "setup")
	if len(doc) > 0 {
		if _, err := policy.Parse(doc); err != nil {
			return nil, err
		}
	}
	return &reconcile.Report{Mode: "full"}, s.err
}
func (s *recordingService) Plan(context.Context) (*reconcile.Report, error) {
	s.calls = append(s.calls, "plan")
	return &reconcile.Report{DryRun: true}, s.err
}
func (s *recordingService) Status(context.Context) (*reconcile.Report, bool, error) {
	return nil, false, s.err
}
func (s *recordingService) Member(_ context.Context, id string) (*reconcile.Report, error) {
	s.calls = append(s.calls, "member "+id)
	return &reconcile.Report{}, s.err
}
func (s *recordingService) Offboard(_ context.Context, id string) (*reconcile.Report, error) {
	s.calls = append(s.calls, "offboard "+id)
	return &reconcile.Report{}, s.err
}
func (s *recordingService) AuthorizeWithAccessKey(_ context.Context, id, ak, sk string) error {
	s.calls = append(s.calls, "accesskey "+id+" "+ak)
	s.secret = sk
	return s.err
}
func (s *recordingService) AuthorizeManually(_ context.Context, ids []string) error {
	s.calls = append(s.calls, "manual "+strings.Join(ids, ","))
	return s.err
}
func (s *recordingService) ClearLogAudit(context.Context) error { return s.err }
func (s *recordingService) StartBackfill(_ context.Context, accounts []string) ([]backfill.Progress, error) {
	s.calls = append(s.calls, "backfill "+strings.Join(accounts, ","))
	return nil, s.err
}
func (s *recordingService) BackfillStatus(_ context.Context, after string, limit int) ([]backfill.Progress, string, error) {
	s.calls = append(s.calls, fmt.Sprintf("backfill status after=%s limit=%d", after, limit))
	return s.jobs, s.next, s.err
}

func do(t *testing.T, h http.Handler, method, path, body string, authenticated bool) (*httptest.ResponseRecorder, fcevent.ErrorDetail) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if authenticated {
		req.Header.Set(fcevent.HeaderAuthenticated, "true")
	} else {
		req.Header.Set(fcevent.HeaderAuthenticated, "false")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var eb struct {
		Error fcevent.ErrorDetail `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &eb)
	return rec, eb.Error
}

func TestRoutesRejectBadInputNamingTheField(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		status                   int
		field, rule              string
	}{
		{"bad member id", "POST", "/v1/members/abc/enroll", "", 400, "id", "account-id"},
		{"bad member id on delete", "DELETE", "/v1/members/12x/", "", 404, "", ""},
		{"bad member id on delete exact", "DELETE", "/v1/members/1234567890123456789012", "", 400, "id", "account-id"},
		{"custom auth not JSON", "POST", "/v1/log-audit/custom-auth", "accountId=1", 400, "body", "json"},
		{"custom auth unknown field", "POST", "/v1/log-audit/custom-auth", `{"account":"1"}`, 400, "body", "json"},
		{"custom auth missing secret", "POST", "/v1/log-audit/custom-auth", `{"accountId":"123","accessKeyId":"LTAIx"}`, 400, "accessKeySecret", "required"},
		{"custom auth bad account", "POST", "/v1/log-audit/custom-auth", `{"accountId":"12a","accessKeyId":"LTAIx","accessKeySecret":"s"}`, 400, "accountId", "account-id"},
		{"custom auth both forms", "POST", "/v1/log-audit/custom-auth", `{"accounts":"1,2","accountId":"3"}`, 400, "accounts", "exclusive"},
		{"manual ids malformed", "POST", "/v1/log-audit/custom-auth", `{"accounts":"123|abc"}`, 400, "accounts", "format"},
		{"backfill bad account", "POST", "/v1/backfill", `{"accounts":["1","x"]}`, 400, "accounts[1]", "account-id"},
		{"backfill unknown field", "POST", "/v1/backfill", `{"acounts":["1"]}`, 400, "body", "json"},
		{"setup invalid policy", "POST", "/v1/setup", "apiVersion: auditwarden/v1\nkind: AuditPolicy\ncentral: {accountId: x, region: cn-hangzhou}\n", 400, "policy.central.accountId", ""},
		{"setup wrong version", "POST", "/v1/setup", "apiVersion: auditwarden/v9\nkind: AuditPolicy\n", 400, "policy.apiVersion", ""},
		{"method not allowed", "PUT", "/v1/setup", "", 405, "", ""},
		{"backfill status limit zero", "GET", "/v1/backfill?limit=0", "", 400, "limit", "value"},
		{"backfill status limit too big", "GET", "/v1/backfill?limit=1001", "", 400, "limit", "value"},
		{"backfill status limit not a number", "GET", "/v1/backfill?limit=ten", "", 400, "limit", "value"},
		{"backfill status limit empty", "GET", "/v1/backfill?limit=", "", 400, "limit", "value"},
		{"backfill status after not an account", "GET", "/v1/backfill?after=12x", "", 400, "after", "account-id"},
		{"backfill status after empty", "GET", "/v1/backfill?after=", "", 400, "after", "account-id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &recordingService{}
			rec, detail := do(t, New(svc, zerolog.Nop()), tc.method, tc.path, tc.body, true)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.field != "" && detail.Field != tc.field {
				t.Fatalf("field %q, want %q: %s", detail.Field, tc.field, rec.Body)
			}
			if tc.rule != "" && detail.Rule != tc.rule {
				t.Fatalf("rule %q, want %q", detail.Rule, tc.rule)
			}
			if tc.status == 400 && len(svc.calls) > 0 && !strings.HasPrefix(svc.calls[0], "setup") {
				t.Fatalf("bad input reached the service: %v", svc.calls)
			}
		})
	}
}

func TestMutatingRoutesNeedAuthentication(t *testing.T) {
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/setup", ""},
		{"POST", "/v1/members/123/enroll", ""},
		{"DELETE", "/v1/members/123", ""},
		{"POST", "/v1/log-audit/custom-auth", `{"accounts":"1"}`},
		{"POST", "/v1/log-audit/clear", ""},
		{"POST", "/v1/backfill", ""},
	}
	for _, r := range routes {
		svc := &recordingService{}
		rec, detail := do(t, New(svc, zerolog.Nop()), r.method, r.path, r.body, false)
		if rec.Code != 401 || detail.Rule != "authenticated" || len(svc.calls) != 0 {
			t.Errorf("%s %s unauthenticated: %d %+v calls %v", r.method, r.path, rec.Code, detail, svc.calls)
		}
	}
	// Reads stay open.
	svc := &recordingService{}
	if rec, _ := do(t, New(svc, zerolog.Nop()), "GET", "/v1/plan", "", false); rec.Code != 200 {
		t.Fatalf("GET /v1/plan unauthenticated: %d", rec.Code)
	}
}

func TestSecretIsUsedOnceAndNeverEchoed(t *testing.T) {
	const secret = "TOPSECRET-abcdefghijklmnopqrstuvwxyz"
	svc := &recordingService{err: errors.New("SignatureDoesNotMatch")}
	rec, _ := do(t, New(svc, zerolog.Nop()), "POST", "/v1/log-audit/custom-auth",
		`{"accountId":"1234567890123456","accessKeyId":"LTAIexample","accessKeySecret":"`+secret+`"}`, true)
	if svc.secret != secret {
		t.Fatal("the secret did not reach the authorization")
	}
	if strings.Contains(rec.Body.String(), secret) {
		t.Fatalf("the response echoes the secret: %s", rec.Body)
	}
	rec, _ = do(t, New(svc, zerolog.Nop()), "POST", "/v1/log-audit/custom-auth", `{"accountId":"1","accessKeySecret":"`+secret+`","bogus":1}`, true)
	if strings.Contains(rec.Body.String(), secret) {
		t.Fatalf("a rejected body is echoed: %s", rec.Body)
	}
}

func TestServiceErrorsMapToStatuses(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{errors.Join(ErrConflict, errors.New("still selected")), 409},
		{errors.Join(ErrNotFound, errors.New("x")), 404},
		{context.DeadlineExceeded, 504},
		{errors.New("boom"), 500},
	}
	for _, tc := range cases {
		rec, _ := do(t, New(&recordingService{err: tc.err}, zerolog.Nop()), "POST", "/v1/members/123/enroll", "", true)
		if rec.Code != tc.status {
			t.Errorf("%v: status %d, want %d", tc.err, rec.Code, tc.status)
		}
	}
}

func FuzzRoutes(f *testing.F) {
	f.Add("POST", "/v1/log-audit/custom-auth", `{"accounts":"1 2|3"}`)
	f.Add("POST", "/v1/backfill", `{"accounts":["1"]}`)
	f.Add("POST", "/v1/setup", "apiVersion: auditwarden/v1")
	f.Add("DELETE", "/v1/members/1", "")
	h := New(&recordingService{}, zerolog.Nop())
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?%") || strings.ContainsAny(method, " \r\n\t()<>@,;:\\\"/[]?={}") || method == "" {
			return
		}
		req := httptest.NewRequest("GET", "/", strings.NewReader(body))
		req.Method, req.URL.Path = method, path
		req.Header.Set(fcevent.HeaderAuthenticated, "true")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
	})
}

// TestBackfillStatusPages: GET /v1/backfill passes the page's cursor and size through, answers a
// plain array, and points at the next page with a Link header only when there is one.
func TestBackfillStatusPages(t *testing.T) {
	jobs := []backfill.Progress{{AccountID: "1001", State: backfill.StateDone}, {AccountID: "1002", State: backfill.StateRunning}}
	cases := []struct {
		name, path, next string
		wantCall, link   string
	}{
		{"first page, default size", "/v1/backfill", "", "backfill status after= limit=1000", ""},
		{"a page with more after it", "/v1/backfill?limit=2", "1002", "backfill status after= limit=2", `</v1/backfill?after=1002&limit=2>; rel="next"`},
		{"a later page", "/v1/backfill?after=1000&limit=2", "", "backfill status after=1000 limit=2", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &recordingService{jobs: jobs, next: tc.next}
			rec, _ := do(t, New(svc, zerolog.Nop()), "GET", tc.path, "", true)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if len(svc.calls) != 1 || svc.calls[0] != tc.wantCall {
				t.Fatalf("service calls %v, want [%s]", svc.calls, tc.wantCall)
			}
			if got := rec.Header().Get("Link"); got != tc.link {
				t.Fatalf("Link %q, want %q", got, tc.link)
			}
			var got []backfill.Progress
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 2 || got[1].AccountID != "1002" {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
		})
	}
	// No jobs is an empty array, not null.
	rec, _ := do(t, New(&recordingService{}, zerolog.Nop()), "GET", "/v1/backfill", "", true)
	if strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("no jobs answered %s", rec.Body)
	}
}

// TestStatusPageReadsOnePageOfJobs: the page reads one page of backfill jobs and, when there
// are more, says where the rest is instead of reading them all.
func TestStatusPageReadsOnePageOfJobs(t *testing.T) {
	for _, next := range []string{"", "1002"} {
		svc := &recordingService{jobs: []backfill.Progress{{AccountID: "1001"}, {AccountID: "1002"}}, next: next}
		rec, _ := do(t, New(svc, zerolog.Nop()), "GET", "/", "", true)
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if len(svc.calls) != 1 || svc.calls[0] != "backfill status after= limit=1000" {
			t.Fatalf("service calls %v: want one page of 1000 jobs", svc.calls)
		}
		more := strings.Contains(rec.Body.String(), `id="backfill-more"`) && strings.Contains(rec.Body.String(), "after=1002")
		if more != (next != "") {
			t.Fatalf("next %q: the page says more=%v:\n%s", next, more, rec.Body)
		}
	}
}
