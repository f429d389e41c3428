package sls

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/gogo/protobuf/proto"
)

// env is one world with an SLS server behind httptest, an owner account and a second account.
type env struct {
	t      *testing.T
	w      *core.World
	s      *Server
	srv    *httptest.Server
	owner  string
	key    *core.AccessKey // owner root key
	other  string
	oKey   *core.AccessKey // other account's root key
	clock  *core.ManualClock
	region string
}

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := core.NewManualClock(testStart)
	w := core.NewWorld("cn-hangzhou", clock)
	w.Mu.Lock()
	mgmt := core.NewAccountID()
	w.EnableDirectoryLocked(mgmt, "mgmt")
	key := w.NewAccessKeyLocked(mgmt, "")
	other := core.NewAccountID()
	w.AddAccountLocked(other, "other", "CloudAccount")
	oKey := w.NewAccessKeyLocked(other, "")
	w.Mu.Unlock()
	s := New(w)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{t: t, w: w, s: s, srv: srv, owner: mgmt, key: key, other: other, oKey: oKey, clock: clock, region: "cn-hangzhou"}
}

func (e *env) addr() string { return e.srv.Listener.Addr().String() }

// client is an SDK client of the owner account.
func (e *env) client() *slssdk.Client {
	return NewTestClient(e.addr(), e.key.ID, e.key.Secret, "")
}

func (e *env) otherClient() *slssdk.Client {
	return NewTestClient(e.addr(), e.oKey.ID, e.oKey.Secret, "")
}

// mustProject creates a project with one Logstore (2 shards) and a full-text index.
func (e *env) mustProject(project, logstore string, ttl int) {
	e.t.Helper()
	c := e.client()
	if _, err := c.CreateProject(project, "test project"); err != nil {
		e.t.Fatalf("CreateProject: %v", err)
	}
	if logstore == "" {
		return
	}
	if err := c.CreateLogStore(project, logstore, ttl, 2, true, 16); err != nil {
		e.t.Fatalf("CreateLogStore: %v", err)
	}
	if err := c.CreateIndex(project, logstore, *slssdk.CreateDefaultIndex()); err != nil {
		e.t.Fatalf("CreateIndex: %v", err)
	}
}

// slsErr asserts err is an SLS error with the given status and code.
func slsErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %d %s, got success", status, code)
	}
	var se *slssdk.Error
	if !errors.As(err, &se) {
		t.Fatalf("want *sls.Error %d %s, got %T: %v", status, code, err, err)
	}
	if int(se.HTTPCode) != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s: %s", status, code, se.HTTPCode, se.Code, se.Message)
	}
	if se.RequestID == "" {
		t.Fatalf("error %s carries no x-log-requestid", code)
	}
}

func mkLog(t time.Time, kv ...string) *slssdk.Log {
	l := &slssdk.Log{Time: proto.Uint32(uint32(t.Unix()))}
	for i := 0; i+1 < len(kv); i += 2 {
		l.Contents = append(l.Contents, &slssdk.LogContent{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return l
}

func mkGroup(topic, source string, logs ...*slssdk.Log) *slssdk.LogGroup {
	return &slssdk.LogGroup{Topic: proto.String(topic), Source: proto.String(source), Logs: logs}
}

// rawRequest is a hand-built SLS request, signed with v1 unless Unsigned.
type rawRequest struct {
	Method, Host, Path string // Path may carry a query
	Header             map[string]string
	Body               []byte
	AKID, Secret       string
	Token              string
	SignMethod         string // hmac-sha1 (default) or hmac-sha256
	Unsigned           bool
	SkipMD5            bool
}

type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
	Code   string
	Msg    string
}

// do sends a rawRequest to the server (dialing it whatever the host).
func (e *env) do(rr rawRequest) rawResponse {
	e.t.Helper()
	if rr.Host == "" {
		rr.Host = TestEndpoint
	}
	if rr.AKID == "" && !rr.Unsigned {
		rr.AKID, rr.Secret = e.key.ID, e.key.Secret
	}
	req, err := http.NewRequest(rr.Method, "http://"+rr.Host+rr.Path, bytes.NewReader(rr.Body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("x-log-apiversion", "0.6.0")
	req.Header.Set("x-log-bodyrawsize", strconv.Itoa(len(rr.Body)))
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	method := rr.SignMethod
	if method == "" {
		method = "hmac-sha1"
	}
	req.Header.Set("x-log-signaturemethod", method)
	if len(rr.Body) > 0 {
		req.Header.Set("Content-Type", "application/x-protobuf")
		if !rr.SkipMD5 {
			sum := md5.Sum(rr.Body)
			req.Header.Set("Content-MD5", strings.ToUpper(hex.EncodeToString(sum[:])))
		}
	}
	if rr.Token != "" {
		req.Header.Set("x-acs-security-token", rr.Token)
	}
	for k, v := range rr.Header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if !rr.Unsigned {
		var mac = hmac.New(sha1.New, []byte(rr.Secret))
		if method == "hmac-sha256" {
			mac = hmac.New(sha256.New, []byte(rr.Secret))
		}
		mac.Write([]byte(V1StringToSign(req)))
		req.Header.Set("Authorization", "LOG "+rr.AKID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	resp, err := DialingHTTPClient(e.addr()).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.StatusCode != 200 {
		var eb struct {
			Code string `json:"errorCode"`
			Msg  string `json:"errorMessage"`
		}
		if err := json.Unmarshal(body, &eb); err != nil {
			e.t.Fatalf("error answer %d is not SLS JSON: %q", resp.StatusCode, body)
		}
		out.Code, out.Msg = eb.Code, eb.Msg
		if resp.Header.Get("x-log-requestid") == "" {
			e.t.Fatalf("error answer %s has no x-log-requestid", eb.Code)
		}
	}
	return out
}

func (r rawResponse) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code != code {
		t.Fatalf("want %d %s, got %d %s: %s", status, code, r.Status, r.Code, r.Msg)
	}
}

// assumeRole gives credentials of a role in roleAccount assumed by callerKey's account.
func (e *env) assumeRole(callerKey *core.AccessKey, roleAccount string, d time.Duration) *core.STSCredential {
	e.t.Helper()
	p, _, aerr := e.w.Authenticate(callerKey.ID, "")
	if aerr != nil {
		e.t.Fatal(aerr)
	}
	e.w.Mu.Lock()
	defer e.w.Mu.Unlock()
	r := e.w.EnsureRoleLocked(roleAccount, "LogAdmin", core.TrustPolicyForAccounts(p.AccountID, roleAccount), "AliyunLogFullAccess")
	cred, err := e.w.AssumeRoleLocked(p, "", r.ARN(), "test-session", d)
	if err != nil {
		e.t.Fatal(err)
	}
	return cred
}

func fieldsString(m map[string]string) string {
	b, _ := json.Marshal(m)
	return string(b)
}
