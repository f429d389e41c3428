package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// The planner, on observations made by hand: the delivery role is planned only when it is
// needed and not known to be fine, member actions depend on it exactly then, and an
// organization too large for SLS's Logstore quota is told so.
func TestPlanMemberTrails(t *testing.T) {
	const central = "1000000000000001"
	pol := policy.Default(central, "cn-hangzhou")
	pol.MemberTrails.Enabled = true
	r := &Reconciler{Policy: pol}

	members := func(n int) []directory.Member {
		out := []directory.Member{{AccountID: central, Status: "CreateSuccess"}} // a delegated administrator: never gets one
		for i := range n {
			out = append(out, directory.Member{AccountID: fmt.Sprintf("2%015d", i), Status: "CreateSuccess"})
		}
		return append(out, directory.Member{AccountID: "3000000000000001", Status: "CreateVerifying"})
	}
	healthy := func(ms []directory.Member) map[string]MemberTrail {
		out := map[string]MemberTrail{}
		for _, m := range ms {
			if !r.memberTrailWanted(m) {
				continue
			}
			spec := r.MemberTrailSpec(m.AccountID)
			out[m.AccountID] = MemberTrail{
				Trail:    trail.State{Spec: spec, Exists: true, Status: "Enable", Logging: true},
				Logstore: logstore.LogstoreState{Exists: true, TTLDays: pol.Destinations.SLS.TTLDays, IndexExists: true, IndexKeys: logstore.ActionTrailIndexKeys},
				// Member-scoped runs do not read the Logstores.
				LogstoreRead: true,
			}
		}
		return out
	}
	roleOK := trail.RoleState{Name: trail.DeliveryRoleName, Exists: true, Trusted: true, SystemPolicies: []string{trail.PolicyLogWrite}}
	missing := "2000000000000000"

	cases := []struct {
		name     string
		n        int
		scope    Scope
		roleRead bool
		role     trail.RoleState
		drop     bool // the first member's trail is missing
		want     []string
		roleDep  bool // its CreateTrail waits for the role
		finding  string
	}{
		{name: "converged", n: 3, roleRead: true, role: roleOK},
		{name: "missing trail, role read and fine", n: 3, roleRead: true, role: roleOK, drop: true,
			want: []string{"CreateTrail", "StartLogging", "HardenLogstore"}},
		{name: "missing trail, role not read (event path)", n: 3, scope: Scope{Member: missing}, drop: true,
			want: []string{"EnsureDeliveryRole", "CreateTrail", "StartLogging", "HardenLogstore"}, roleDep: true},
		{name: "role lost its policy", n: 3, roleRead: true, role: trail.RoleState{Exists: true, Trusted: true},
			want: []string{"EnsureDeliveryRole"}},
		{name: "role deleted", n: 3, roleRead: true, role: trail.RoleState{}, want: []string{"EnsureDeliveryRole"}},
		{name: "untrusted role, nothing to create", n: 3, roleRead: true, role: trail.RoleState{Exists: true, SystemPolicies: []string{trail.PolicyLogWrite}},
			finding: "does not trust"},
		{name: "untrusted role, a trail to create", n: 3, roleRead: true, role: trail.RoleState{Exists: true}, drop: true,
			want: []string{"EnsureDeliveryRole", "CreateTrail", "StartLogging", "HardenLogstore"}, roleDep: true, finding: "does not trust"},
		{name: "more members than SLS has Logstores", n: slsLogstoreQuota, roleRead: true, role: roleOK, finding: "raise the project's quota"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := members(tc.n)
			obs := &Observed{Scope: tc.scope, Members: ms, MemberTrails: healthy(ms), DeliveryRole: tc.role,
				observedOK: map[string]bool{"directory": true, "deliveryRole": tc.roleRead}}
			if tc.drop {
				delete(obs.MemberTrails, missing)
				obs.MemberTrails[missing] = MemberTrail{Trail: trail.State{Spec: trail.Spec{Name: pol.MemberTrailName(missing)}}}
			}
			pl := &Plan{}
			var findings []Finding
			r.planMemberTrails(pl, &findings, obs, nil)
			if err := pl.Validate(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range pl.Actions {
				got = append(got, a.Kind)
				if a.ID != idDeliveryRole && !slices.Equal(a.Members, []string{missing}) {
					t.Errorf("%s for %v: only %s lacks its trail", a.Kind, a.Members, missing)
				}
				if a.Kind == "CreateTrail" && slices.Contains(a.DependsOn, idDeliveryRole) != tc.roleDep {
					t.Errorf("CreateTrail depends on %v", a.DependsOn)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("planned %v, want %v", got, tc.want)
			}
			var text []string
			for _, f := range findings {
				text = append(text, f.Message)
			}
			if joined := strings.Join(text, "\n"); tc.finding == "" && joined != "" || !strings.Contains(joined, tc.finding) {
				t.Errorf("findings %q, want one containing %q", joined, tc.finding)
			}
		})
	}
}

// A member trail takes the policy's settings and delivers where the policy says, through the
// policy's role for a destination of another account, else through auditwarden's.
func TestMemberTrailSpec(t *testing.T) {
	const central, member = "1000000000000001", "2000000000000002"
	base := func() *policy.Policy {
		p := policy.Default(central, "cn-hangzhou")
		p.MemberTrails.Enabled = true
		return p
	}
	role := trail.RoleARN(central, trail.DeliveryRoleName)
	cases := []struct {
		name string
		edit func(p *policy.Policy)
		want trail.Spec
	}{
		{"sls in the central account", func(p *policy.Policy) {}, trail.Spec{Name: "auditwarden-" + member, EventRW: "All", TrailRegion: "All",
			SLSProjectARN: "acs:log:cn-hangzhou:" + central + ":project/auditwarden-" + central + "-cn-hangzhou", SLSWriteRoleARN: role}},
		{"sls of another account", func(p *policy.Policy) {
			p.Destinations.SLS.ProjectArn = "acs:log:cn-beijing:3000000000000003:project/org-audit"
			p.Destinations.SLS.RoleArn = "acs:ram::3000000000000003:role/delivery"
			p.MemberTrails.EventRW, p.MemberTrails.TrailRegion, p.MemberTrails.NameTemplate = "Write", "cn-beijing", "m-{accountId}-trail"
		}, trail.Spec{Name: "m-" + member + "-trail", EventRW: "Write", TrailRegion: "cn-beijing",
			SLSProjectARN: "acs:log:cn-beijing:3000000000000003:project/org-audit", SLSWriteRoleARN: "acs:ram::3000000000000003:role/delivery"}},
		{"oss", func(p *policy.Policy) {
			p.Destinations.OSS.Enabled, p.Destinations.OSS.Bucket = true, "org-archive"
			p.MemberTrails.Destination = policy.DestinationOSS
		}, trail.Spec{Name: "auditwarden-" + member, EventRW: "All", TrailRegion: "All",
			OSSBucket: "org-archive", OSSKeyPrefix: "actiontrail", OSSWriteRoleARN: role}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.edit(p)
			r := &Reconciler{Policy: p}
			got := r.MemberTrailSpec(member)
			if got != tc.want {
				t.Fatalf("spec\n got %+v\nwant %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
