package identity_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/identity"
)

type fixture struct {
	w        *core.World
	clock    *core.ManualClock
	srv      *httptest.Server
	mgmt     *core.AccessKey
	memberID string
	lastURL  string
	mu       sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: core.NewManualClock(time.Now())}
	f.w = core.NewWorld("cn-hangzhou", f.clock)
	f.w.Mu.Lock()
	f.w.EnableDirectoryLocked(core.NewAccountID(), "mgmt")
	f.mgmt = f.w.NewAccessKeyLocked(f.w.ManagementAccountID, "")
	f.memberID = core.NewAccountID()
	m := f.w.AddAccountLocked(f.memberID, "dev-01", "ResourceAccount")
	f.w.JoinDirectoryLocked(m, f.w.Directory.RootFolderID, "CreateSuccess", "created")
	f.w.Mu.Unlock()
	rpc := core.NewRPCServer(f.w)
	rpc.Register(identity.STS())
	rpc.Register(identity.RAM())
	f.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.lastURL = r.URL.String()
		f.mu.Unlock()
		rpc.ServeHTTP(rw, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fixture) stsClient(t *testing.T, ak, sk, token string) *sts.Client {
	t.Helper()
	var c *sts.Client
	var err error
	if token != "" {
		c, err = sts.NewClientWithStsToken("cn-hangzhou", ak, sk, token)
	} else {
		c, err = sts.NewClientWithAccessKey("cn-hangzhou", ak, sk)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = f.host()
	return c
}

func serverCode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}

func TestAssumeRoleIntoMemberAndCallerIdentity(t *testing.T) {
	f := newFixture(t)
	c := f.stsClient(t, f.mgmt.ID, f.mgmt.Secret, "")
	id, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if err != nil {
		t.Fatal(err)
	}
	if id.AccountId != f.w.ManagementAccountID || id.IdentityType != "Account" {
		t.Fatalf("caller identity = %+v", id)
	}
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn = "acs:ram::" + f.memberID + ":role/ResourceDirectoryAccountAccessRole"
	req.RoleSessionName = "auditwarden"
	req.DurationSeconds = "900"
	resp, err := c.AssumeRole(req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Credentials.AccessKeyId, "STS.") || resp.Credentials.SecurityToken == "" {
		t.Fatalf("credentials = %+v", resp.Credentials)
	}
	exp, err := time.Parse("2006-01-02T15:04:05Z", resp.Credentials.Expiration)
	if err != nil || exp.Sub(f.clock.Now()) > 15*time.Minute || exp.Sub(f.clock.Now()) < 14*time.Minute {
		t.Fatalf("expiration %q not ~15m ahead (%v)", resp.Credentials.Expiration, err)
	}
	mc := f.stsClient(t, resp.Credentials.AccessKeyId, resp.Credentials.AccessKeySecret, resp.Credentials.SecurityToken)
	mid, err := mc.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if err != nil {
		t.Fatal(err)
	}
	if mid.AccountId != f.memberID || mid.IdentityType != "AssumedRoleUser" || !strings.Contains(mid.Arn, "assumed-role/ResourceDirectoryAccountAccessRole/auditwarden") {
		t.Fatalf("member identity = %+v", mid)
	}
	// The record of the AssumeRole call is in the management account's history.
	evs := f.w.Recorder.Window(f.w.ManagementAccountID, time.Time{}, f.clock.Now().Add(time.Hour))
	if len(evs) != 1 || evs[0].EventName != "AssumeRole" || evs[0].UserIdentity.AccountID != f.w.ManagementAccountID {
		t.Fatalf("records = %+v", evs)
	}
	// After expiry the token is refused with the real code.
	f.clock.Advance(16 * time.Minute)
	_, err = mc.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if got := serverCode(err); got != "InvalidSecurityToken.Expired" {
		t.Fatalf("expired token: code %q, err %v", got, err)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	f := newFixture(t)
	memberKey := func() *core.AccessKey {
		f.w.Mu.Lock()
		defer f.w.Mu.Unlock()
		return f.w.NewAccessKeyLocked(f.memberID, "")
	}()
	cases := []struct {
		name, ak, sk, token, arn, code string
	}{
		{"wrong secret", f.mgmt.ID, "not-the-secret", "", "", "SignatureDoesNotMatch"},
		{"unknown key", "LTAIunknownunknown00", "x", "", "", "InvalidAccessKeyId.NotFound"},
		{"forged token on STS key", "STS.forged", "x", "CAISforged", "", "InvalidAccessKeyId.NotFound"},
		{"token with a long-lived key", f.mgmt.ID, f.mgmt.Secret, "CAISforged", "", "InvalidSecurityToken.Malformed"},
		{"member cannot assume another member's role", memberKey.ID, memberKey.Secret, "", "acs:ram::" + f.w.ManagementAccountID + ":role/ResourceDirectoryAccountAccessRole", "EntityNotExist.Role"},
		{"untrusted account", memberKey.ID, memberKey.Secret, "", "acs:ram::" + f.memberID + ":role/ResourceDirectoryAccountAccessRole", "NoPermission"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.stsClient(t, tc.ak, tc.sk, tc.token)
			var err error
			if tc.arn != "" {
				req := sts.CreateAssumeRoleRequest()
				req.RoleArn, req.RoleSessionName = tc.arn, "s1"
				_, err = c.AssumeRole(req)
			} else {
				_, err = c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
			}
			if got := serverCode(err); got != tc.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tc.code, err)
			}
		})
	}
}

func TestSignatureMismatchCarriesServerStringToSign(t *testing.T) {
	f := newFixture(t)
	c := f.stsClient(t, f.mgmt.ID, "wrong", "")
	_, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	// The SDK compares our string to sign with its own: equal means "your secret is wrong".
	if !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
		t.Fatalf("SDK did not recognise the server string to sign: recommend %q message %q", se.Recommend(), se.Message())
	}
}

func TestReplayedNonceAndSkewAreRefused(t *testing.T) {
	f := newFixture(t)
	c := f.stsClient(t, f.mgmt.ID, f.mgmt.Secret, "")
	if _, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	replay := f.srv.URL + f.lastURL
	f.mu.Unlock()
	resp, err := http.Post(replay, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"Code":"SignatureNonceUsed"`) {
		t.Fatalf("replay answered %d %s", resp.StatusCode, body)
	}
	old := strings.Replace(replay, "Timestamp=", "Timestamp=2001-01-01T00%3A00%3A00Z&X=", 1)
	resp, err = http.Post(old, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "InvalidTimeStamp") {
		t.Fatalf("stale timestamp answered %d %s", resp.StatusCode, body)
	}
}

func TestRAMRoleLifecycle(t *testing.T) {
	f := newFixture(t)
	c, err := ram.NewClientWithAccessKey("cn-hangzhou", f.mgmt.ID, f.mgmt.Secret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = f.host()
	create := ram.CreateCreateRoleRequest()
	create.RoleName = "sls-audit-collector"
	create.AssumeRolePolicyDocument = core.TrustPolicyForServices("log.aliyuncs.com")
	if _, err := c.CreateRole(create); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRole(create); serverCode(err) != "EntityAlreadyExists.Role" {
		t.Fatalf("second create: %v", err)
	}
	attach := ram.CreateAttachPolicyToRoleRequest()
	attach.PolicyType, attach.PolicyName, attach.RoleName = "System", "AliyunLogFullAccess", "sls-audit-collector"
	if _, err := c.AttachPolicyToRole(attach); err != nil {
		t.Fatal(err)
	}
	get := ram.CreateGetRoleRequest()
	get.RoleName = "sls-audit-collector"
	role, err := c.GetRole(get)
	if err != nil {
		t.Fatal(err)
	}
	if role.Role.Arn != "acs:ram::"+f.w.ManagementAccountID+":role/sls-audit-collector" {
		t.Fatalf("arn = %q", role.Role.Arn)
	}
	del := ram.CreateDeleteRoleRequest()
	del.RoleName = "sls-audit-collector"
	if _, err := c.DeleteRole(del); serverCode(err) != "DeleteConflict.Role.Policy" {
		t.Fatalf("delete with policy: %v", err)
	}
	get.RoleName = "missing"
	if _, err := c.GetRole(get); serverCode(err) != "EntityNotExist.Role" {
		t.Fatalf("missing role: %v", err)
	}
}

func TestThrottlingAndScriptedFaults(t *testing.T) {
	f := newFixture(t)
	c := f.stsClient(t, f.mgmt.ID, f.mgmt.Secret, "")
	f.w.Faults.Script(core.FaultRule{Action: "GetCallerIdentity", Count: 2, Status: 400, Code: "Throttling.User", Message: "Request was denied due to user flow control."})
	for i := 0; i < 2; i++ {
		if _, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest()); serverCode(err) != "Throttling.User" {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest()); err != nil {
		t.Fatalf("third call: %v", err)
	}
	calls, errs, throttled := f.w.Stats.Sum("Sts", "GetCallerIdentity")
	if calls != 3 || errs != 2 || throttled != 2 {
		t.Fatalf("stats calls=%d errors=%d throttled=%d", calls, errs, throttled)
	}
	f.w.Faults.Set(core.FaultConfig{RateLimits: []core.RateLimit{{Action: "GetCallerIdentity", PerSecond: 1, Burst: 1}}})
	var got []string
	for i := 0; i < 3; i++ {
		_, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		got = append(got, serverCode(err))
	}
	if got[0] != "" || got[1] != "Throttling.User" {
		t.Fatalf("rate limit codes = %q", got)
	}
}
