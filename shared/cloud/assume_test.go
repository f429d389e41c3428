package cloud_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// callerAccount proves a session's credentials work by asking STS who they belong to.
func callerAccount(t *testing.T, s *cloud.Session) string {
	t.Helper()
	c, err := s.STS()
	if err != nil {
		t.Fatal(err)
	}
	var resp *sts.GetCallerIdentityResponse
	err = s.Do(context.Background(), "sts:GetCallerIdentity", func() error {
		var e error
		resp, e = c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		return e
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.AccountId
}

func TestForAccountCachesUntilRefreshWindow(t *testing.T) {
	cases := []struct {
		name          string
		refreshBefore time.Duration
		advance       time.Duration // after the first AssumeRole (sessions last 1 h)
		wantCalls     int64
	}{
		{"fresh credentials are reused", 5 * time.Minute, 0, 1},
		{"more than 5 min left: reused", 5 * time.Minute, 54 * time.Minute, 1},
		{"less than 5 min left: renewed", 5 * time.Minute, 56 * time.Minute, 2},
		{"expired: renewed", 5 * time.Minute, 2 * time.Hour, 2},
		{"wider window renews earlier", 20 * time.Minute, 41 * time.Minute, 2},
		{"wider window, still outside", 20 * time.Minute, 39 * time.Minute, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newWorld(t, 1)
			member := f.members[0]
			s := f.session(t, cloud.WithAccountID(f.w.ManagementAccountID), cloud.WithRefreshBefore(tc.refreshBefore))
			ctx := context.Background()
			first, err := s.ForAccount(ctx, member)
			if err != nil {
				t.Fatal(err)
			}
			if got := callerAccount(t, first); got != member {
				t.Fatalf("member session acts in %s, want %s", got, member)
			}
			creds := first.Credentials()
			if !creds.IsSTS() || !creds.Expiration.Equal(f.clock.Now().Add(time.Hour).Truncate(time.Second)) {
				t.Fatalf("member credentials %v: want STS expiring in 1h", creds)
			}
			f.clock.Advance(tc.advance)
			second, err := s.ForAccount(ctx, member)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.calls("Sts", "AssumeRole"); got != tc.wantCalls {
				t.Fatalf("AssumeRole calls = %d, want %d", got, tc.wantCalls)
			}
			renewed := second != first
			if renewed != (tc.wantCalls == 2) {
				t.Fatalf("renewed = %v with %d AssumeRole calls", renewed, tc.wantCalls)
			}
			if renewed && second.Credentials().AccessKeyID == creds.AccessKeyID {
				t.Fatal("renewed session kept the old key")
			}
			// Whatever the path, the session handed out works now.
			if got := callerAccount(t, second); got != member {
				t.Fatalf("second session acts in %s", got)
			}
		})
	}
}

func TestForAccountSingleflight(t *testing.T) {
	f := newWorld(t, 2)
	// No WithAccountID: the session learns its own account with one GetCallerIdentity.
	s := f.session(t)
	const n = 50
	got := make([]*cloud.Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = s.ForAccount(context.Background(), f.members[0])
		}()
	}
	close(start)
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("caller %d got a different session", i)
		}
	}
	if c := f.calls("Sts", "AssumeRole"); c != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1", c)
	}
	if c := f.calls("Sts", "GetCallerIdentity"); c != 1 {
		t.Fatalf("GetCallerIdentity calls = %d, want 1", c)
	}
	// Each caller builds its own client from the shared session: safe under -race.
	var wg2 sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			if a := callerAccount(t, got[i]); a != f.members[0] {
				t.Errorf("acts in %s", a)
			}
		}()
	}
	wg2.Wait()
	// Another member is another AssumeRole; a member session's ForAccount goes through the root.
	other, err := got[0].ForAccount(context.Background(), f.members[1])
	if err != nil {
		t.Fatal(err)
	}
	if other.AccountID() != f.members[1] || f.calls("Sts", "AssumeRole") != 2 {
		t.Fatalf("other member: account %s, AssumeRole calls %d", other.AccountID(), f.calls("Sts", "AssumeRole"))
	}
}

func TestForAccountOwnAccountIsTheBaseSession(t *testing.T) {
	f := newWorld(t, 1)
	s := f.session(t)
	for i := 0; i < 3; i++ {
		got, err := s.ForAccount(context.Background(), f.w.ManagementAccountID)
		if err != nil {
			t.Fatal(err)
		}
		if got != s {
			t.Fatal("own account did not return the base session")
		}
	}
	if c := f.calls("Sts", "AssumeRole"); c != 0 {
		t.Fatalf("AssumeRole calls = %d", c)
	}
	if c := f.calls("Sts", "GetCallerIdentity"); c != 1 {
		t.Fatalf("GetCallerIdentity calls = %d, want 1 (learnt once)", c)
	}
	if s.AccountID() != f.w.ManagementAccountID {
		t.Fatalf("AccountID = %q", s.AccountID())
	}
}

func TestForAccountUnreachableMember(t *testing.T) {
	f := newWorld(t, 2)
	roleGone, distrusting := f.members[0], f.members[1]
	stranger := core.NewAccountID()
	f.w.Mu.Lock()
	delete(f.w.Roles[roleGone], strings.ToLower(cloud.DefaultMemberRole))
	r := f.w.Roles[distrusting][strings.ToLower(cloud.DefaultMemberRole)]
	r.TrustedAccounts = []string{core.NewAccountID()}
	f.w.Mu.Unlock()

	cases := []struct {
		name, account, code string
		class               cloud.Class
	}{
		{"role deleted", roleGone, "EntityNotExist.Role", cloud.NotFound},
		{"role no longer trusts us", distrusting, "NoPermission", cloud.Permanent},
		{"not an account we know", stranger, "EntityNotExist.Role", cloud.NotFound},
	}
	s := f.session(t, cloud.WithAccountID(f.w.ManagementAccountID))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.calls("Sts", "AssumeRole")
			_, err := s.ForAccount(context.Background(), tc.account)
			var are *cloud.AssumeRoleError
			if !errors.As(err, &are) {
				t.Fatalf("err = %v, want *AssumeRoleError", err)
			}
			if are.Account != tc.account || are.Code != tc.code || !strings.HasSuffix(are.RoleArn, ":role/"+cloud.DefaultMemberRole) {
				t.Fatalf("AssumeRoleError = %+v", are)
			}
			if cloud.Classify(err) != tc.class || cloud.Code(err) != tc.code {
				t.Fatalf("Classify = %v, Code = %q", cloud.Classify(err), cloud.Code(err))
			}
			if got := f.calls("Sts", "AssumeRole") - before; got != 1 {
				t.Fatalf("refusal was retried: %d calls", got)
			}
		})
	}

	t.Run("a refusal is not cached", func(t *testing.T) {
		f.w.Mu.Lock()
		f.w.EnsureRoleLocked(roleGone, cloud.DefaultMemberRole, core.TrustPolicyForAccounts(f.w.ManagementAccountID))
		f.w.Mu.Unlock()
		m, err := s.ForAccount(context.Background(), roleGone)
		if err != nil {
			t.Fatal(err)
		}
		if callerAccount(t, m) != roleGone {
			t.Fatal("wrong account")
		}
	})

	t.Run("our own bad key is not the member's fault", func(t *testing.T) {
		creds := f.info.Credentials()
		creds.AccessKeySecret = "wrong"
		bad, err := cloud.NewSession(creds, f.endpoints(t), cloud.WithAccountID(f.w.ManagementAccountID), cloud.WithRetryPolicy(fastRetry))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.ForAccount(context.Background(), distrusting)
		var are *cloud.AssumeRoleError
		if err == nil || errors.As(err, &are) || cloud.Code(err) != "SignatureDoesNotMatch" {
			t.Fatalf("err = %v (code %q), want a plain SignatureDoesNotMatch error", err, cloud.Code(err))
		}
	})

	t.Run("throttled AssumeRole is retried, not reported unreachable", func(t *testing.T) {
		s.Forget(roleGone)
		before := f.calls("Sts", "AssumeRole")
		f.w.Faults.Script(core.FaultRule{Action: "AssumeRole", Count: 3, Status: 400, Code: "Throttling.User"})
		if _, err := s.ForAccount(context.Background(), roleGone); err != nil {
			t.Fatal(err)
		}
		if got := f.calls("Sts", "AssumeRole") - before; got != 4 {
			t.Fatalf("AssumeRole calls = %d, want 3 throttled + 1", got)
		}
	})

	t.Run("bad account id is refused before any call", func(t *testing.T) {
		before := f.calls("", "")
		_, err := s.ForAccount(context.Background(), "123:role/x")
		if err == nil || !strings.Contains(err.Error(), "account id") || f.calls("", "") != before {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestForAccountWaiterHonoursItsContext(t *testing.T) {
	f := newWorld(t, 1)
	f.w.Faults.Set(core.FaultConfig{ActionLatencyMs: map[string]int{"AssumeRole": 300}})
	s := f.session(t, cloud.WithAccountID(f.w.ManagementAccountID))
	var wg sync.WaitGroup
	var slowErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, slowErr = s.ForAccount(context.Background(), f.members[0])
	}()
	time.Sleep(20 * time.Millisecond) // let the first caller start the flight
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := s.ForAccount(ctx, f.members[0])
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: %v", err)
	}
	wg.Wait()
	if slowErr != nil {
		t.Fatalf("patient caller failed because another gave up: %v", slowErr)
	}
	if c := f.calls("Sts", "AssumeRole"); c != 1 {
		t.Fatalf("AssumeRole calls = %d", c)
	}
}

func TestForAccountWithCustomRoleAndSessionName(t *testing.T) {
	f := newWorld(t, 1)
	member := f.members[0]
	f.w.Mu.Lock()
	f.w.EnsureRoleLocked(member, "AuditWardenRole", core.TrustPolicyForAccounts(f.w.ManagementAccountID))
	f.w.Mu.Unlock()
	s := f.session(t, cloud.WithAccountID(f.w.ManagementAccountID), cloud.WithRoleName("AuditWardenRole"),
		cloud.WithRoleSessionName("aw-reconcile"), cloud.WithSessionDuration(15*time.Minute), cloud.WithRefreshBefore(time.Minute))
	if got := s.RoleArn(member); got != "acs:ram::"+member+":role/AuditWardenRole" {
		t.Fatalf("RoleArn = %q", got)
	}
	m, err := s.ForAccount(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := m.STS()
	id, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id.Arn, ":assumed-role/AuditWardenRole/aw-reconcile") {
		t.Fatalf("caller ARN %q", id.Arn)
	}
	if exp := m.Credentials().Expiration.Sub(f.clock.Now()); exp > 15*time.Minute || exp < 14*time.Minute {
		t.Fatalf("session lasts %v, want 15m", exp)
	}
}

func TestSessionOptionsAreValidated(t *testing.T) {
	f := newWorld(t, 0)
	cases := []struct {
		name string
		opt  cloud.Option
		want string
	}{
		{"session name too short", cloud.WithRoleSessionName("a"), "RoleSessionName"},
		{"session name bad chars", cloud.WithRoleSessionName("a b"), "RoleSessionName"},
		{"role name with path", cloud.WithRoleName("x/y"), "role name"},
		{"duration too short", cloud.WithSessionDuration(time.Minute), "session duration"},
		{"refresh beyond duration", cloud.WithRefreshBefore(2 * time.Hour), "refresh-before"},
		{"account id", cloud.WithAccountID("abc"), "account id"},
	}
	for _, tc := range cases {
		_, err := cloud.NewSession(f.info.Credentials(), f.endpoints(t), tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := cloud.NewSession(cloud.Credentials{AccessKeyID: "x"}, f.endpoints(t)); err == nil || !strings.Contains(err.Error(), "AccessKeySecret") {
		t.Errorf("missing secret: %v", err)
	}
}
