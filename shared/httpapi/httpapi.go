// Package httpapi is the api function's HTTP surface: setup, dry-run plan, status (JSON and an
// HTML page), member enrol/offboard, Log Audit custom authentication and backfill control. It is a
// plain http.Handler; fcevent adapts it to FC's HTTP trigger events.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
	"github.com/auditwarden/auditwarden/shared/settings"
)

// Service is what the routes need from the application (package app implements it).
type Service interface {
	Setup(ctx context.Context, policyDoc []byte) (*reconcile.Report, error)
	Plan(ctx context.Context) (*reconcile.Report, error)
	Status(ctx context.Context) (*reconcile.Report, bool, error)
	Member(ctx context.Context, accountID string) (*reconcile.Report, error)
	Offboard(ctx context.Context, accountID string) (*reconcile.Report, error)
	AuthorizeWithAccessKey(ctx context.Context, accountID, accessKeyID, accessKeySecret string) error
	AuthorizeManually(ctx context.Context, accountIDs []string) error
	ClearLogAudit(ctx context.Context) error
	StartBackfill(ctx context.Context, accounts []string) ([]backfill.Progress, error)
	// BackfillStatus is one page of jobs, by account, after the account after ("" first); next is
	// where the following page starts, "" on the last.
	BackfillStatus(ctx context.Context, after string, limit int) (jobs []backfill.Progress, next string, err error)
}

// Bad input and conflicts the service reports; anything else is a 500.
var (
	// ErrConflict wraps refusals that depend on state (409), e.g. offboarding a member the policy still selects.
	ErrConflict = errors.New("conflict")
	// ErrNotFound wraps missing things (404), e.g. no report yet.
	ErrNotFound = errors.New("not found")
)

// maxBody bounds request bodies (a policy is at most 1 MiB).
const maxBody = policy.MaxSize

// New returns the api's handler.
func New(svc Service, log zerolog.Logger) http.Handler {
	a := &api{svc: svc, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.statusPage)
	mux.HandleFunc("GET /v1/status", a.status)
	mux.HandleFunc("GET /v1/plan", a.plan)
	mux.HandleFunc("POST /v1/setup", a.mutating(a.setup))
	mux.HandleFunc("POST /v1/members/{id}/enroll", a.mutating(a.enroll))
	mux.HandleFunc("DELETE /v1/members/{id}", a.mutating(a.offboard))
	mux.HandleFunc("POST /v1/log-audit/custom-auth", a.mutating(a.customAuth))
	mux.HandleFunc("POST /v1/log-audit/clear", a.mutating(a.clearLogAudit))
	mux.HandleFunc("POST /v1/backfill", a.mutating(a.startBackfill))
	mux.HandleFunc("GET /v1/backfill", a.backfill)
	return a.recoverer(mux)
}

type api struct {
	svc Service
	log zerolog.Logger
}

// mutating refuses calls the platform did not authenticate (FC authType function; fchost alike).
func (a *api) mutating(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !fcevent.RequestAuthenticated(r) {
			fcevent.WriteError(w, http.StatusUnauthorized, "Authorization", "authenticated",
				"mutating routes need the platform's authentication (HTTP trigger authType: function)")
			return
		}
		h(w, r)
	}
}

func (a *api) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				a.log.Error().Interface("panic", v).Str("path", r.URL.Path).Msg("handler panic")
				fcevent.WriteError(w, http.StatusInternalServerError, "", "internal", "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// fail maps service errors to responses: field errors 400, conflicts 409, not found 404, else 500.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *policy.ValidationError
	var fe *fcevent.FieldError
	switch {
	case errors.As(err, &ve):
		first := ve.Errors[0]
		field := "policy"
		if first.Field != "" {
			field += "." + first.Field
		}
		fcevent.WriteJSON(w, http.StatusBadRequest, map[string]any{
			"error":  fcevent.ErrorDetail{Field: field, Rule: first.Rule, Message: first.Message},
			"errors": ve.Errors,
		})
	case errors.Is(err, settings.ErrNoPolicy):
		fcevent.WriteError(w, http.StatusConflict, "", "no-policy", err.Error())
	case errors.As(err, &fe):
		fcevent.WriteError(w, http.StatusBadRequest, fe.Field, fe.Rule, fe.Message)
	case errors.Is(err, ErrConflict):
		fcevent.WriteError(w, http.StatusConflict, "", "conflict", err.Error())
	case errors.Is(err, ErrNotFound):
		fcevent.WriteError(w, http.StatusNotFound, "", "not-found", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		fcevent.WriteError(w, http.StatusGatewayTimeout, "", "timeout", "the cloud did not answer in time; retry")
	default:
		a.log.Error().Err(err).Str("path", r.URL.Path).Msg("request failed")
		fcevent.WriteError(w, http.StatusInternalServerError, "", "internal", "internal error: "+clipErr(err))
	}
}

// clipErr keeps a failing call's cause readable without dumping SDK response headers.
func clipErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\nRespHeaders"); i > 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		fcevent.WriteError(w, http.StatusRequestEntityTooLarge, "body", "max-size", "the body is larger than 1 MiB")
		return nil, false
	}
	return body, true
}

func accountParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !fcevent.IsAccountID(id) {
		fcevent.WriteError(w, http.StatusBadRequest, "id", "account-id", "the member id must be 1 to 20 digits")
		return "", false
	}
	return id, true
}

func (a *api) setup(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	rep, err := a.svc.Setup(r.Context(), body)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fcevent.WriteJSON(w, http.StatusOK, rep)
}

func (a *api) plan(w http.ResponseWriter, r *http.Request) {
	rep, err := a.svc.Plan(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fcevent.WriteJSON(w, http.StatusOK, rep)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	rep, ok, err := a.svc.Status(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !ok {
		fcevent.WriteError(w, http.StatusNotFound, "", "not-found", "no report yet: POST /v1/setup, or wait for the timer")
		return
	}
	fcevent.WriteJSON(w, http.StatusOK, rep)
}

func (a *api) enroll(w http.ResponseWriter, r *http.Request) {
	id, ok := accountParam(w, r)
	if !ok {
		return
	}
	rep, err := a.svc.Member(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fcevent.WriteJSON(w, http.StatusOK, rep)
}

func (a *api) offboard(w http.ResponseWriter, r *http.Request) {
	id, ok := accountParam(w, r)
	if !ok {
		return
	}
	rep, err := a.svc.Offboard(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fcevent.WriteJSON(w, http.StatusOK, rep)
}

// customAuthRequest is either an AccessKey pair for one member or manually authorized ids.
type customAuthRequest struct {
	AccountID       string `json:"accountId"`
	AccessKeyID     string `json:"accessKeyId"`
	AccessKeySecret string `json:"accessKeySecret"`
	// Accounts are manually authorized ids separated by newlines, commas, spaces or '|'.
	Accounts string `json:"accounts"`
}

func (a *api) customAuth(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req customAuthRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		// Never echo the body: it may hold a secret.
		fcevent.WriteError(w, http.StatusBadRequest, "body", "json", "the body must be a JSON object with accountId, accessKeyId and accessKeySecret, or accounts")
		return
	}
	switch {
	case req.Accounts != "" && (req.AccountID != "" || req.AccessKeyID != "" || req.AccessKeySecret != ""):
		fcevent.WriteError(w, http.StatusBadRequest, "accounts", "exclusive", "give either accounts (manual authorization) or accountId with an AccessKey pair, not both")
	case req.Accounts != "":
		ids, err := parseManualAccounts(req.Accounts)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if err := a.svc.AuthorizeManually(r.Context(), ids); err != nil {
			a.fail(w, r, err)
			return
		}
		fcevent.WriteJSON(w, http.StatusOK, map[string]any{"authorized": ids, "method": "manual"})
	default:
		for _, f := range []struct{ name, v string }{{"accountId", req.AccountID}, {"accessKeyId", req.AccessKeyID}, {"accessKeySecret", req.AccessKeySecret}} {
			if f.v == "" {
				fcevent.WriteError(w, http.StatusBadRequest, f.name, "required", f.name+" is required for AccessKey pair authorization")
				return
			}
		}
		if !fcevent.IsAccountID(req.AccountID) {
			fcevent.WriteError(w, http.StatusBadRequest, "accountId", "account-id", "accountId must be 1 to 20 digits")
			return
		}
		err := a.svc.AuthorizeWithAccessKey(r.Context(), req.AccountID, req.AccessKeyID, req.AccessKeySecret)
		req.AccessKeySecret = "" // used once; not kept past this call
		if err != nil {
			a.fail(w, r, err)
			return
		}
		fcevent.WriteJSON(w, http.StatusOK, map[string]any{"authorized": []string{req.AccountID}, "method": "accessKey"})
	}
}

func (a *api) clearLogAudit(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.ClearLogAudit(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	fcevent.WriteJSON(w, http.StatusOK, map[string]any{"cleared": true})
}

type backfillRequest struct {
	// Accounts to backfill; empty means every active member and the central account.
	Accounts []string `json:"accounts"`
}

func (a *api) startBackfill(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req backfillRequest
	if strings.TrimSpace(string(body)) != "" {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fcevent.WriteError(w, http.StatusBadRequest, "body", "json", "the body must be {\"accounts\": [\"<id>\", ...]} or empty: "+err.Error())
			return
		}
	}
	for i, id := range req.Accounts {
		if !fcevent.IsAccountID(id) {
			fcevent.WriteError(w, http.StatusBadRequest, "accounts["+itoa(i)+"]", "account-id", "every account must be 1 to 20 digits")
			return
		}
	}
	res, err := a.svc.StartBackfill(r.Context(), req.Accounts)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	fcevent.WriteJSON(w, http.StatusAccepted, res)
}

// backfill answers one page of jobs: ?limit= (1 to 1,000, default 1,000) and ?after= (the last
// account of the previous page). A page with more after it carries a Link header (RFC 8288,
// rel="next"), so the body stays a plain array.
func (a *api) backfill(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := backfill.MaxStatusPage
	if v := q.Get("limit"); v != "" || q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > backfill.MaxStatusPage {
			fcevent.WriteError(w, http.StatusBadRequest, "limit", fcevent.RuleValue, "limit must be a whole number from 1 to "+itoa(backfill.MaxStatusPage))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if q.Has("after") && !fcevent.IsAccountID(after) {
		fcevent.WriteError(w, http.StatusBadRequest, "after", "account-id", "after must be the account id that ended the previous page (1 to 20 digits)")
		return
	}
	res, next, err := a.svc.BackfillStatus(r.Context(), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if res == nil {
		res = []backfill.Progress{}
	}
	if next != "" {
		link := url.Values{"after": {next}, "limit": {itoa(limit)}}
		w.Header().Set("Link", "</v1/backfill?"+link.Encode()+`>; rel="next"`)
	}
	fcevent.WriteJSON(w, http.StatusOK, res)
}

func parseManualAccounts(s string) ([]string, error) {
	ids, err := logaudit.ParseManualMembers(s)
	if err != nil {
		return nil, &fcevent.FieldError{Field: "accounts", Rule: fcevent.RuleFormat, Message: err.Error()}
	}
	return ids, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
