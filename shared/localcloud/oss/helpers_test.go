package oss

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

const region = "cn-hangzhou"

// env is a world with a management account (root key and a RAM user), a second account,
// and the OSS server behind a plain HTTP test server.
type env struct {
	t      *testing.T
	w      *core.World
	clock  *core.ManualClock
	srv    *Server
	ts     *httptest.Server
	mgmt   string
	root   *core.AccessKey
	user   *core.AccessKey // RAM user alice in the management account
	other  string
	oroot  *core.AccessKey // root key of the other account
	ticker int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := core.NewManualClock(time.Now())
	w := core.NewWorld(region, clock)
	e := &env{t: t, w: w, clock: clock}
	w.Mu.Lock()
	e.mgmt = core.NewAccountID()
	w.EnableDirectoryLocked(e.mgmt, "mgmt")
	e.root = w.NewAccessKeyLocked(e.mgmt, "")
	e.user = w.NewAccessKeyLocked(e.mgmt, "alice")
	e.other = core.NewAccountID()
	w.AddAccountLocked(e.other, "other", "CloudAccount")
	e.oroot = w.NewAccessKeyLocked(e.other, "")
	w.Mu.Unlock()
	e.srv = New(w)
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(e.ts.Close)
	t.Cleanup(w.Bus.Close)
	return e
}

// sts issues role credentials in the management account.
func (e *env) sts(d time.Duration) *core.STSCredential {
	e.t.Helper()
	e.w.Mu.Lock()
	defer e.w.Mu.Unlock()
	r := e.w.EnsureRoleLocked(e.mgmt, "auditor", core.TrustPolicyForAccounts(e.mgmt), "AdministratorAccess")
	c, aerr := e.w.AssumeRoleLocked(core.Principal{AccountID: e.mgmt, Type: core.PrincipalRoot}, "", r.ARN(), "sess", d)
	if aerr != nil {
		e.t.Fatalf("AssumeRole: %v", aerr)
	}
	return c
}

func (e *env) v1(k *core.AccessKey, opts ...alioss.ClientOption) *alioss.Client {
	e.t.Helper()
	c, err := NewTestClient(e.ts.URL, k.ID, k.Secret, "", opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) v4(k *core.AccessKey) *alioss.Client {
	return e.v1(k, alioss.AuthVersion(alioss.AuthV4), alioss.Region(region))
}

func newV2(url, id, secret, token string, opts ...func(*v2.Config)) *v2.Client {
	cfg := v2.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, token)).
		WithRegion(region).WithEndpoint(url).WithRetryMaxAttempts(1)
	for _, o := range opts {
		o(cfg)
	}
	return v2.NewClient(cfg)
}

func (e *env) sdk2(k *core.AccessKey) *v2.Client { return newV2(e.ts.URL, k.ID, k.Secret, "") }

// bucket creates a uniquely named bucket with the management root key.
func (e *env) bucket(opts ...alioss.Option) string {
	e.t.Helper()
	e.ticker++
	name := "bkt-" + strings.ToLower(core.NewID("abcdefghijklmnopqrstuvwxyz0123456789", 8))
	if err := e.v1(e.root).CreateBucket(name, opts...); err != nil {
		e.t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

func (e *env) obucket(c *alioss.Client, name string) *alioss.Bucket {
	e.t.Helper()
	b, err := c.Bucket(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) put(c *alioss.Client, bucketName, key, body string, opts ...alioss.Option) error {
	return e.obucket(c, bucketName).PutObject(key, strings.NewReader(body), opts...)
}

func (e *env) get(c *alioss.Client, bucketName, key string, opts ...alioss.Option) (string, error) {
	r, err := e.obucket(c, bucketName).GetObject(key, opts...)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

// svcErr asserts err is an OSS service error from the v3 SDK with the status and code.
func svcErr(t *testing.T, err error, status int, code string) alioss.ServiceError {
	t.Helper()
	var se alioss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want ServiceError %d %s, got %T %v", status, code, err, err)
	}
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
	if len(se.RequestID) != 24 {
		t.Fatalf("request id %q: want 24 characters", se.RequestID)
	}
	return se
}

// svcErr2 is svcErr for sdk-v2.
func svcErr2(t *testing.T, err error, status int, code string) *v2.ServiceError {
	t.Helper()
	var se *v2.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want ServiceError %d %s, got %T %v", status, code, err, err)
	}
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
	return se
}

// raw sends a request signed with v1 by hand (for what the SDKs cannot be made to send).
func (e *env) raw(k *core.AccessKey, method, path string, body []byte, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for name, v := range hdr {
		req.Header.Set(name, v)
	}
	if req.Header.Get("Date") == "" {
		req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	if k != nil {
		bucketName, key, _ := e.srv.target(req)
		res := canonicalResourceV1(bucketName, key, req.URL.Query(), func(s string) bool { return v3SignedParams[s] })
		sts := stringToSignV1(method, req.Header, req.Header.Get("Date"), res)
		req.Header.Set("Authorization", "OSS "+k.ID+":"+signV1(k.Secret, sts))
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var ctx = context.Background()

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
