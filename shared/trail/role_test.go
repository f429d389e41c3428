package trail_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/trail"
)

func (e *env) ram(action string) int64 {
	n, _, _ := e.srv.World.Stats.Sum("Ram", action)
	return n
}

func (e *env) role(name string) (*core.Role, []string) {
	e.srv.World.Mu.RLock()
	defer e.srv.World.Mu.RUnlock()
	r, ok := e.srv.World.Roles[e.mgmt][strings.ToLower(name)]
	if !ok {
		return nil, nil
	}
	var ps []string
	for _, p := range r.Policies {
		ps = append(ps, p.PolicyName)
	}
	return r, ps
}

// The delivery role is made once, trusted by ActionTrail, with every policy asked for; making
// it again costs two reads; a second destination's policy is attached to the same role.
func TestEnsureDeliveryRole(t *testing.T) {
	e := start(t, localcloud.Options{Members: 1})
	ctx := context.Background()
	name := trail.DeliveryRoleName

	st, err := trail.ObserveDeliveryRole(ctx, e.s, name)
	if err != nil || st.Exists || st.ARN != trail.RoleARN(e.mgmt, name) {
		t.Fatalf("observe before: %+v %v", st, err)
	}
	arn, err := trail.EnsureDeliveryRole(ctx, e.s, name, trail.PolicyLogWrite)
	if err != nil || arn != trail.RoleARN(e.mgmt, name) {
		t.Fatalf("ensure: %q %v", arn, err)
	}
	r, ps := e.role(name)
	if r == nil || !slices.Contains(r.TrustedServices, trail.ActionTrailService) || !slices.Equal(ps, []string{trail.PolicyLogWrite}) {
		t.Fatalf("role %+v policies %v", r, ps)
	}

	e.srv.World.Stats.Reset()
	if _, err := trail.EnsureDeliveryRole(ctx, e.s, name, trail.PolicyLogWrite); err != nil {
		t.Fatal(err)
	}
	if w := e.srv.World.Stats.WriteCalls(); w != 0 || e.ram("GetRole") != 1 || e.ram("ListPoliciesForRole") != 1 {
		t.Fatalf("ensuring an existing role: %d writes, stats %+v", w, e.srv.World.Stats.Snapshot())
	}

	if _, err := trail.EnsureDeliveryRole(ctx, e.s, name, trail.PolicyLogWrite, trail.PolicyOSSWrite); err != nil {
		t.Fatal(err)
	}
	if _, ps := e.role(name); !slices.Equal(ps, []string{trail.PolicyLogWrite, trail.PolicyOSSWrite}) {
		t.Fatalf("policies %v", ps)
	}
	st, err = trail.ObserveDeliveryRole(ctx, e.s, name)
	if err != nil || !st.Exists || !st.Trusted || len(st.Missing([]string{trail.PolicyOSSWrite, trail.PolicyLogWrite})) != 0 {
		t.Fatalf("observe after: %+v %v", st, err)
	}
	if m := st.Missing([]string{"AliyunOSSReadOnlyAccess", "AliyunOSSReadOnlyAccess"}); !slices.Equal(m, []string{"AliyunOSSReadOnlyAccess"}) {
		t.Fatalf("missing %v", m)
	}
}

// A role of that name that ActionTrail may not assume is someone else's: reported, never rewritten.
func TestEnsureDeliveryRoleRefusesAnUntrustedRole(t *testing.T) {
	e := start(t, localcloud.Options{Members: 1})
	ctx := context.Background()
	e.srv.World.Mu.Lock()
	e.srv.World.EnsureRoleLocked(e.mgmt, "ops-role", core.TrustPolicyForAccounts(e.mgmt))
	e.srv.World.Mu.Unlock()
	st, err := trail.ObserveDeliveryRole(ctx, e.s, "ops-role")
	if err != nil || !st.Exists || st.Trusted {
		t.Fatalf("observe: %+v %v", st, err)
	}
	e.srv.World.Stats.Reset()
	_, err = trail.EnsureDeliveryRole(ctx, e.s, "ops-role", trail.PolicyLogWrite)
	if !errors.Is(err, trail.ErrRoleNotTrusted) || !strings.Contains(err.Error(), "ops-role") {
		t.Fatalf("err %v", err)
	}
	if w := e.srv.World.Stats.WriteCalls(); w != 0 {
		t.Fatalf("%d writes to someone else's role", w)
	}
	if _, err := trail.EnsureDeliveryRole(ctx, e.s, "bad/name"); err == nil || !strings.Contains(err.Error(), "name") {
		t.Fatalf("bad name: %v", err)
	}
}

// ActionTrail limits each account's calls on its own: the client keys its limiter by the
// account it acts in, so one member's calls never wait for another's tokens.
func TestActionTrailCallsAreLimitedPerAccount(t *testing.T) {
	// One call per bucket, then a wait far beyond the test: a shared bucket would refuse the
	// second account's call at once (it would outlive the context).
	e := start(t, localcloud.Options{Members: 3}, cloud.WithLimits(map[string]cloud.Limit{"actiontrail": {PerSecond: 0.001, Burst: 1}}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.srv.World.Mu.RLock()
	var members []string
	for _, a := range e.srv.World.DirectoryAccountsLocked() {
		if !a.Management {
			members = append(members, a.AccountID)
		}
	}
	e.srv.World.Mu.RUnlock()
	for _, id := range append(members, e.mgmt) {
		ms, err := e.s.ForAccount(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := trail.New(ms).Observe(ctx, "not-there-trail"); err != nil || st.Exists {
			t.Fatalf("account %s: %+v %v", id, st, err)
		}
	}
	keys := map[string]bool{}
	for _, row := range e.s.Metrics().Snapshot() {
		keys[row.API] = true
	}
	for _, id := range append(members, e.mgmt) {
		if !keys["actiontrail:DescribeTrails:"+id] {
			t.Errorf("no calls under actiontrail:DescribeTrails:%s (keys %v)", id, keys)
		}
	}
}
