package logaudit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lcaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/logaudit"
)

type account struct {
	account string
	key     *core.AccessKey
}

// newOutsider makes an account outside the directory (custom authentication material) with an
// AccessKey of a RAM user called user ("*readonly*" users may not write RAM in localcloud).
func newOutsider(f *fixture, user string) account {
	w := f.srv.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	id := core.NewAccountID()
	w.AddAccountLocked(id, "outsider-"+id[len(id)-4:], "CloudAccount")
	return account{account: id, key: w.NewAccessKeyLocked(id, user)}
}

func (f *fixture) role(member string) (*core.Role, bool) {
	w := f.srv.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	r, ok := w.Roles[member][strings.ToLower(logaudit.MemberRole)]
	if !ok {
		return nil, false
	}
	c := *r
	c.Policies = slices.Clone(r.Policies)
	c.TrustedServices = slices.Clone(r.TrustedServices)
	return &c, true
}

func policyNames(r *core.Role) []string {
	var out []string
	for _, p := range r.Policies {
		out = append(out, p.PolicyType+":"+p.PolicyName)
	}
	slices.Sort(out)
	return out
}

func TestAuthorizeWithAccessKeyCreatesTheRoleOnceAndVerifiesAfter(t *testing.T) {
	f := start(t, localcloud.Options{Members: 1})
	ctx := context.Background()
	m := newOutsider(f, "ram-admin")

	if err := f.c.AuthorizeWithAccessKey(ctx, m.account, m.key.ID, m.key.Secret); err != nil {
		t.Fatalf("AuthorizeWithAccessKey: %v", err)
	}
	r, ok := f.role(m.account)
	if !ok {
		t.Fatal("no role created")
	}
	if !slices.Contains(r.TrustedServices, lcaudit.MemberTrustService(f.mgmt)) {
		t.Fatalf("role trusts %v", r.TrustedServices)
	}
	if got, want := policyNames(r), []string{"Custom:" + lcaudit.MemberPolicy, "System:" + lcaudit.MemberReadOnlyPolicy}; !slices.Equal(got, want) {
		t.Fatalf("policies %v, want %v", got, want)
	}
	if n := f.calls("Sts", "GetCallerIdentity"); n != 1 {
		t.Fatalf("GetCallerIdentity calls: %d", n)
	}

	// Again: the role is found and verified, nothing is written but the refused CreateRole.
	before := map[string]int64{}
	for _, a := range []string{"CreateRole", "GetRole", "UpdateRole", "ListPoliciesForRole", "AttachPolicyToRole"} {
		before[a] = f.calls("Ram", a)
	}
	if err := f.c.AuthorizeWithAccessKey(ctx, m.account, m.key.ID, m.key.Secret); err != nil {
		t.Fatalf("second AuthorizeWithAccessKey: %v", err)
	}
	want := map[string]int64{"CreateRole": 1, "GetRole": 1, "UpdateRole": 0, "ListPoliciesForRole": 1, "AttachPolicyToRole": 0}
	for a, n := range want {
		if got := f.calls("Ram", a) - before[a]; got != n {
			t.Errorf("second authorization: %s called %d times, want %d", a, got, n)
		}
	}
	r2, _ := f.role(m.account)
	if !slices.Equal(policyNames(r2), policyNames(r)) || len(r2.TrustedServices) != len(r.TrustedServices) {
		t.Fatalf("second authorization changed the role: %+v", r2)
	}
}

// TestAuthorizeRepairsAnExistingRole: a role left by another central account (or by hand) without
// this central's trust or the policies is extended, keeping what it had.
func TestAuthorizeRepairsAnExistingRole(t *testing.T) {
	f := start(t, localcloud.Options{})
	ctx := context.Background()
	m := newOutsider(f, "")
	other := lcaudit.MemberTrustService("999999")
	w := f.srv.World
	w.Mu.Lock()
	w.EnsureRoleLocked(m.account, logaudit.MemberRole, core.TrustPolicyForServices(other))
	w.Roles[m.account][strings.ToLower(logaudit.MemberRole)].Policies = []core.AttachedPolicy{{PolicyType: "System", PolicyName: lcaudit.MemberReadOnlyPolicy}}
	w.Mu.Unlock()

	if err := f.c.AuthorizeWithAccessKey(ctx, m.account, m.key.ID, m.key.Secret); err != nil {
		t.Fatalf("AuthorizeWithAccessKey: %v", err)
	}
	r, _ := f.role(m.account)
	if !slices.Contains(r.TrustedServices, other) || !slices.Contains(r.TrustedServices, lcaudit.MemberTrustService(f.mgmt)) {
		t.Fatalf("trust %v must keep %s and add %s", r.TrustedServices, other, lcaudit.MemberTrustService(f.mgmt))
	}
	if got, want := policyNames(r), []string{"Custom:" + lcaudit.MemberPolicy, "System:" + lcaudit.MemberReadOnlyPolicy}; !slices.Equal(got, want) {
		t.Fatalf("policies %v, want %v", got, want)
	}
	if n := f.calls("Ram", "UpdateRole"); n != 1 {
		t.Fatalf("UpdateRole calls %d", n)
	}
	if n := f.calls("Ram", "AttachPolicyToRole"); n != 1 {
		t.Fatalf("AttachPolicyToRole calls %d (ReadOnlyAccess was already attached)", n)
	}
	// Log Audit now accepts the member.
	cfg := logaudit.Config{Region: f.region, AliUID: f.mgmt, Mode: logaudit.ModeCustomAuthentication, Members: []string{m.account}}
	if err := f.c.Write(ctx, cfg); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// TestAccessKeySecretNeverLeaks drives every path of AuthorizeWithAccessKey with a debug logger
// and checks that the secret is in no log line and no error, however the error is printed.
func TestAccessKeySecretNeverLeaks(t *testing.T) {
	f := start(t, localcloud.Options{Members: 1})
	ctx := context.Background()
	admin := newOutsider(f, "ram-admin")
	other := newOutsider(f, "ram-admin")
	readonly := newOutsider(f, "readonly-user")

	cases := []struct {
		name           string
		member, id, sk string
		wantErr        error
		wantText       string
	}{
		{"success", admin.account, admin.key.ID, admin.key.Secret, nil, ""},
		{"idempotent success", admin.account, admin.key.ID, admin.key.Secret, nil, ""},
		{"wrong secret", other.account, other.key.ID, "Wr0ngSecretWr0ngSecretWr0ngSec", logaudit.ErrAccessKeyRejected, "SignatureDoesNotMatch"},
		{"unknown key", other.account, "LTAIunknownunknownunk", other.key.Secret, logaudit.ErrAccessKeyRejected, "InvalidAccessKeyId"},
		{"key of another account", other.account, admin.key.ID, admin.key.Secret, logaudit.ErrAccessKeyAccount, admin.account},
		{"no RAM write permission", readonly.account, readonly.key.ID, readonly.key.Secret, logaudit.ErrNoRAMPermission, "NoPermission"},
		{"the central account", f.mgmt, f.info.AccessKeyID, "someSecretOfTheCentralAccount00", nil, "central account itself"},
		{"bad member id", "12x", other.key.ID, other.key.Secret, nil, `member id "12x"`},
		{"empty key id", other.account, " ", other.key.Secret, nil, "accessKeyId is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := f.c.AuthorizeWithAccessKey(ctx, tc.member, tc.id, tc.sk)
			switch {
			case tc.wantErr == nil && tc.wantText == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			case tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)):
				t.Fatalf("error %v, want it to mention %q", err, tc.wantText)
			}
			if err != nil {
				for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%v", errors.Unwrap(err))} {
					if strings.Contains(s, tc.sk) {
						t.Fatalf("the secret is in the error: %s", s)
					}
				}
			}
		})
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"action":"logaudit.authorize"`) || !strings.Contains(logs, admin.account) {
		t.Fatalf("the authorization is not logged: %s", logs)
	}
	for _, sk := range []string{admin.key.Secret, other.key.Secret, readonly.key.Secret, "Wr0ngSecretWr0ngSecretWr0ngSec", "someSecretOfTheCentralAccount00"} {
		if strings.Contains(logs, sk) {
			t.Fatalf("a secret is in the logs:\n%s", logs)
		}
	}
	// Nor did the cloud see it: no call, recorded or failed, carried the secret as a parameter.
	recorded := 0
	for _, acct := range []string{admin.account, other.account, readonly.account, f.mgmt} {
		for _, ev := range f.srv.World.Recorder.Window(acct, time.Time{}, f.srv.World.Now().Add(time.Hour)) {
			recorded++
			line, _ := json.Marshal(ev)
			if strings.Contains(string(line), admin.key.Secret) || strings.Contains(string(line), readonly.key.Secret) {
				t.Fatalf("a recorded event carries the secret: %s", line)
			}
		}
	}
	if recorded == 0 {
		t.Fatal("localcloud recorded no RAM calls: the check above checked nothing")
	}
}
