package fchost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/logging"
)

// A CreateResourceAccount made with the unmodified SDK against localcloud reaches the function
// through the eventbridge trigger's subscription, and the function runs with STS credentials of
// its role, which fchost had localcloud create.
func TestEventBridgeDeliveryFromLocalcloud(t *testing.T) {
	srv, err := localcloud.Start(localcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	raw, _ := json.Marshal(srv.Info())
	info, err := cloud.ParseLocalcloudInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	mgmt := info.ManagementAccountID
	logBuf := &syncBuffer{}
	creds, err := NewLocalcloudCredentials(info, logging.New(logBuf, "fchost"))
	if err != nil {
		t.Fatal(err)
	}
	fx := startHost(t, loadTestConfig(t, mgmt, "echo"), Options{
		EventBridge: info.Endpoints.Control,
		Credentials: creds.Get,
		Env:         map[string]string{cloud.EnvLocalcloud: string(raw)},
	})
	subs := srv.World.Bus.Subscriptions()
	if len(subs) != 1 || subs[0].URL != fx.h.EventURL("echo", "rd-events") || subs[0].Account != mgmt ||
		string(subs[0].Pattern) != `{"data":{"eventName":["CreateResourceAccount"]},"source":["acs.actiontrail"]}` {
		t.Fatalf("subscriptions = %+v", subs)
	}
	if !strings.Contains(logBuf.String(), "created the function role in localcloud") {
		t.Errorf("role creation not logged: %s", logBuf.String())
	}

	c, err := rm.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = info.Endpoints.RPC
	folder := rm.CreateCreateFolderRequest()
	folder.FolderName = "NotAMemberEvent" // filtered out by the pattern
	if _, err := c.CreateFolder(folder); err != nil {
		t.Fatal(err)
	}
	req := rm.CreateCreateResourceAccountRequest()
	req.DisplayName = "payments-prod"
	req.AccountNamePrefix = "payments"
	made, err := c.CreateResourceAccount(req)
	if err != nil {
		t.Fatal(err)
	}

	recs := fx.recs.wait(t, 1, 10*time.Second, func(r Record) bool { return r.Source == SourceEventBridge })
	rec := recs[0]
	if rec.Err != nil || rec.Trigger != "rd-events" {
		t.Fatalf("delivery = %+v", rec)
	}
	var ev struct {
		Source, Type, SpecVersion string
		Data                      struct {
			EventName        string         `json:"eventName"`
			ResponseElements map[string]any `json:"responseElements"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rec.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	acct, _ := ev.Data.ResponseElements["Account"].(map[string]any)
	if ev.Source != "acs.actiontrail" || ev.Data.EventName != "CreateResourceAccount" || acct["AccountId"] != made.Account.AccountId {
		t.Errorf("event = %s", rec.Payload)
	}
	for _, r := range fx.recs.all() {
		if bytes.Contains(r.Payload, []byte("CreateFolder")) {
			t.Errorf("an event outside the pattern was delivered: %s", r.Payload)
		}
	}

	// The function ran with working STS credentials of its role.
	var reply echoReply
	if err := json.Unmarshal(rec.Result, &reply); err != nil {
		t.Fatal(err)
	}
	cr := reply.Context.Credentials
	p, _, aerr := srv.World.Authenticate(cr.AccessKeyId, cr.SecurityToken)
	if aerr != nil || p.Type != core.PrincipalAssumedRole || p.RoleName != "fchost-test" || p.AccountID != mgmt {
		t.Errorf("credentials %s resolve to %+v (%v)", cr.AccessKeyId, p, aerr)
	}
	if reply.Env[cloud.EnvLocalcloud] != string(raw) || reply.Context.AccountId != mgmt {
		t.Errorf("env/account = %v %s", reply.Env, reply.Context.AccountId)
	}

	// A delivery that is not a CloudEvent object is refused; unknown triggers are 404.
	for _, c := range []struct {
		url, body string
		status    int
	}{
		{fx.h.EventURL("echo", "rd-events"), `[1]`, 400},
		{fx.h.EventURL("echo", "tick"), `{}`, 404},
		{fx.h.EventURL("nope", "x"), `{}`, 404},
	} {
		resp, err := http.Post(c.url, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("POST %s %s: %d %s", c.url, c.body, resp.StatusCode, b)
		}
	}
	if _, _, err := fx.h.DeliverEvent(context.Background(), "echo", "tick", []byte(`{}`)); !errors.Is(err, ErrNoSuchTrigger) {
		t.Errorf("delivering to a timer: %v", err)
	}

	fx.h.Close()
	if subs := srv.World.Bus.Subscriptions(); len(subs) != 0 {
		t.Errorf("still subscribed after Close: %+v", subs)
	}
}

func TestLocalcloudCredentialsMapsForeignAccounts(t *testing.T) {
	srv, err := localcloud.Start(localcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	raw, _ := json.Marshal(srv.Info())
	info, _ := cloud.ParseLocalcloudInfo(raw)
	logBuf := &syncBuffer{}
	lc, err := NewLocalcloudCredentials(info, logging.New(logBuf, "fchost"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A role written for a real account maps to the management account's role of that name.
	ak, sk, tok, exp, err := lc.Get(ctx, "acs:ram::1999999999999999:role/Auditwarden-FC")
	if err != nil || !strings.HasPrefix(ak, "STS.") || sk == "" || tok == "" || time.Until(exp) < 50*time.Minute {
		t.Fatalf("got %q %q %q %v %v", ak, sk, tok, exp, err)
	}
	if !strings.Contains(logBuf.String(), "not localcloud's management account") || !strings.Contains(logBuf.String(), "created the function role") {
		t.Errorf("log = %s", logBuf.String())
	}
	// The second call finds the role.
	if _, _, _, _, err := lc.Get(ctx, "acs:ram::"+info.ManagementAccountID+":role/auditwarden-fc"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logBuf.String(), "created the function role"); n != 1 {
		t.Errorf("role created %d times", n)
	}
	if _, _, _, _, err := lc.Get(ctx, "not-an-arn"); err == nil {
		t.Error("a malformed role ARN was accepted")
	}
	// A role that exists but does not trust the management account is explained.
	srv.World.Mu.Lock()
	srv.World.EnsureRoleLocked(info.ManagementAccountID, "service-only", core.TrustPolicyForServices("fc.aliyuncs.com"))
	srv.World.Mu.Unlock()
	if _, _, _, _, err := lc.Get(ctx, "acs:ram::"+info.ManagementAccountID+":role/service-only"); err == nil || !strings.Contains(err.Error(), "does not trust the management account") {
		t.Errorf("untrusted role: %v", err)
	}
}
