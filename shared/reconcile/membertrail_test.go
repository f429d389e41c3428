package reconcile_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// memberTrailsEnv is newEnv with the policy's memberTrails section set by extra (YAML appended
// to the test policy), parsed and validated like a deployed document.
func memberTrailsEnv(t *testing.T, opts localcloud.Options, extra string) *env {
	t.Helper()
	e := newEnv(t, opts)
	e.srv.World.Mu.RLock()
	root := e.srv.World.Directory.RootFolderID
	e.srv.World.Mu.RUnlock()
	pol, err := policy.Parse([]byte(policyYAML(e.srv.Info().ManagementAccountID, root) + extra))
	if err != nil {
		t.Fatal(err)
	}
	e.pol = pol
	e.rec = reconcile.ForSession(e.sess, pol, nil, zerolog.Nop())
	return e
}

const memberTrailsOn = "memberTrails: {enabled: true}\n"

// accountsByStatus lists the directory's members (not the management account) by status.
func (e *env) accountsByStatus(statuses ...string) []string {
	e.srv.World.Mu.RLock()
	defer e.srv.World.Mu.RUnlock()
	var ids []string
	for _, a := range e.srv.World.DirectoryAccountsLocked() {
		if !a.Management && slices.Contains(statuses, a.Status) {
			ids = append(ids, a.AccountID)
		}
	}
	slices.Sort(ids)
	return ids
}

// memberAT is an ActionTrail client acting in account id through its access role.
func memberAT(t *testing.T, e *env, id string) *actiontrail.Client {
	t.Helper()
	ms, err := e.sess.ForAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ms.ActionTrail()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ownTrail is the account's own trail of that name as ActionTrail describes it (no
// multi-account trail), with its logging flag.
func ownTrail(t *testing.T, c *actiontrail.Client, name string) (actiontrail.Trail, bool, bool) {
	t.Helper()
	req := actiontrail.CreateDescribeTrailsRequest()
	req.NameList = name
	resp, err := c.DescribeTrails(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range resp.TrailList {
		if tr.Name == name && !tr.IsOrganizationTrail {
			st := actiontrail.CreateGetTrailStatusRequest()
			st.Name = name
			sr, err := c.GetTrailStatus(st)
			if err != nil {
				t.Fatal(err)
			}
			return tr, true, sr.IsLogging
		}
	}
	return actiontrail.Trail{}, false, false
}

// callsBy sums the calls of product made by account.
func callsBy(e *env, product, account string) int64 {
	var n int64
	for _, r := range e.srv.World.Stats.Snapshot() {
		if r.Product == product && r.Account == account {
			n += r.Calls
		}
	}
	return n
}

func memberRow(rep *reconcile.Report, id string) reconcile.MemberReport {
	for _, m := range rep.Members {
		if m.AccountID == id {
			return m
		}
	}
	return reconcile.MemberReport{}
}

// wantMemberTrail checks a member's trail against the policy: it exists, logs, and delivers
// where the policy says with the role it says.
func wantMemberTrail(t *testing.T, e *env, id string) {
	t.Helper()
	p := e.pol
	name := p.MemberTrailName(id)
	tr, ok, logging := ownTrail(t, memberAT(t, e, id), name)
	if !ok || !logging {
		t.Fatalf("member %s: trail %s exists %v, logging %v", id, name, ok, logging)
	}
	role := trail.RoleARN(p.Central.AccountID, trail.DeliveryRoleName)
	if tr.EventRW != p.MemberTrails.EventRW || tr.TrailRegion != p.MemberTrails.TrailRegion {
		t.Errorf("member %s: EventRW %s TrailRegion %s, want %s %s", id, tr.EventRW, tr.TrailRegion, p.MemberTrails.EventRW, p.MemberTrails.TrailRegion)
	}
	switch p.MemberTrails.Destination {
	case policy.DestinationSLS:
		want := trail.SLSProjectARN(p.Destinations.SLS.Region, p.Central.AccountID, p.Destinations.SLS.Project)
		if tr.SlsProjectArn != want || !strings.EqualFold(tr.SlsWriteRoleArn, role) || tr.OssBucketName != "" {
			t.Errorf("member %s: delivers to SLS %s with %s (OSS %q), want %s with %s", id, tr.SlsProjectArn, tr.SlsWriteRoleArn, tr.OssBucketName, want, role)
		}
	case policy.DestinationOSS:
		d := p.Destinations.OSS
		if tr.OssBucketName != d.Bucket || tr.OssKeyPrefix != d.Prefix || !strings.EqualFold(tr.OssWriteRoleArn, role) || tr.SlsProjectArn != "" {
			t.Errorf("member %s: delivers to OSS %s/%s with %s (SLS %q), want %s/%s with %s", id, tr.OssBucketName, tr.OssKeyPrefix, tr.OssWriteRoleArn, tr.SlsProjectArn, d.Bucket, d.Prefix, role)
		}
	}
}

// converged runs once more and checks it plans nothing and writes nothing.
func converged(t *testing.T, e *env) *reconcile.Report {
	t.Helper()
	e.srv.World.Stats.Reset()
	rep := e.run(t, reconcile.Scope{})
	if len(rep.Plan) != 0 {
		t.Fatalf("converged run planned %v\n%s", kinds(rep.Plan), rep.Table())
	}
	if w := e.srv.World.Stats.WriteCalls(); w != 0 {
		t.Fatalf("converged run made %d write calls: %+v", w, e.srv.World.Stats.Snapshot())
	}
	return rep
}

// Bootstrap with memberTrails on gives every active member one logging trail with the policy's
// settings, delivering to the central destination through the delivery role, and none to
// pending members or the central account; the run after plans nothing, writes nothing and
// costs each member two ActionTrail reads on cached credentials.
func TestMemberTrailsBootstrapThenConverged(t *testing.T) {
	cases := []struct {
		name, extra string
		policy      string // system policy the delivery role must carry
	}{
		{"sls", memberTrailsOn, trail.PolicyLogWrite},
		{"oss, write events of one region", "memberTrails: {enabled: true, destination: oss, eventRW: Write, trailRegion: cn-hangzhou}\n", trail.PolicyOSSWrite},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := memberTrailsEnv(t, localcloud.Options{Members: 8, Folders: 2, Pending: 2, Seed: 51}, tc.extra)
			rep := e.run(t, reconcile.Scope{})
			if rep.Summary.Failed+rep.Summary.Skipped != 0 {
				t.Fatalf("bootstrap:\n%s", rep.Table())
			}
			active := e.accountsByStatus("CreateSuccess", "InviteSuccess")
			pending := e.accountsByStatus("CreateVerifying", "PromoteVerifying")
			if len(active) == 0 || len(pending) != 2 {
				t.Fatalf("%d active and %d pending members", len(active), len(pending))
			}
			for _, id := range pending {
				if n := callsBy(e, "Actiontrail", id); n != 0 {
					t.Errorf("pending member %s: %d ActionTrail calls, want none", id, n)
				}
				if st := memberRow(rep, id).Controls[reconcile.ControlMemberTrail].Status; st != reconcile.StatusPending {
					t.Errorf("pending member %s reported %s", id, st)
				}
			}
			for _, id := range active {
				wantMemberTrail(t, e, id)
				if st := memberRow(rep, id).Controls[reconcile.ControlMemberTrail].Status; st != reconcile.StatusFixed {
					t.Errorf("member %s reported %s, want fixed", id, st)
				}
			}
			for _, id := range pending {
				if _, ok, _ := ownTrail(t, memberAT(t, e, id), e.pol.MemberTrailName(id)); ok {
					t.Errorf("pending member %s got a trail", id)
				}
			}
			central, err := e.sess.ActionTrail()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := ownTrail(t, central, e.pol.MemberTrailName(e.pol.Central.AccountID)); ok {
				t.Error("the central account got a member trail")
			}
			e.srv.World.Mu.RLock()
			role, ok := e.srv.World.Roles[e.pol.Central.AccountID][strings.ToLower(trail.DeliveryRoleName)]
			var attached []string
			if ok {
				for _, p := range role.Policies {
					attached = append(attached, p.PolicyName)
				}
			}
			e.srv.World.Mu.RUnlock()
			if !ok || !slices.Contains(role.TrustedServices, trail.ActionTrailService) || !slices.Contains(attached, tc.policy) {
				t.Fatalf("delivery role: exists %v, trusts %v, policies %v", ok, role, attached)
			}
			if tc.policy == trail.PolicyLogWrite {
				// Each member trail's Logstore in the central project is held to the policy's retention.
				for _, id := range active {
					ls, ok := e.srv.SLS.Logstore(e.pol.Destinations.SLS.Project, "actiontrail_"+e.pol.MemberTrailName(id))
					if !ok || ls.TTL != e.pol.Destinations.SLS.TTLDays {
						t.Errorf("member %s: Logstore %+v (exists %v), want ttl %d", id, ls, ok, e.pol.Destinations.SLS.TTLDays)
					}
				}
			}
			if org := rep.Organization[reconcile.ControlMemberTrail]; org.Status != reconcile.StatusFixed {
				t.Errorf("organization member trail row %+v", org)
			}

			again := converged(t, e)
			for _, id := range active {
				if n := callsBy(e, "Actiontrail", id); n != 2 {
					t.Errorf("member %s: converged run made %d ActionTrail calls, want 2 (DescribeTrails, GetTrailStatus)", id, n)
				}
				if st := memberRow(again, id).Controls[reconcile.ControlMemberTrail].Status; st != reconcile.StatusOK {
					t.Errorf("member %s reported %s after convergence", id, st)
				}
			}
			if n, _, _ := e.srv.World.Stats.Sum("Sts", "AssumeRole"); n != 0 {
				t.Errorf("converged run assumed member roles %d times: the credentials are cached", n)
			}
			if again.Summary.Compliant != len(active) || !again.Converged() {
				t.Fatalf("compliant %d of %d active\n%s", again.Summary.Compliant, len(active), again.Table())
			}
		})
	}
}

// A member trail delivers the member's own activity into its Logstore in the central project.
func TestMemberTrailDeliversToTheCentralProject(t *testing.T) {
	e := memberTrailsEnv(t, localcloud.Options{Members: 2, Seed: 53}, memberTrailsOn)
	if rep := e.run(t, reconcile.Scope{}); !rep.Converged() {
		t.Fatal(rep.Table())
	}
	id := e.activeMembers()[0]
	c := memberAT(t, e, id)
	memberWrite(t, e, id, "probe")
	e.srv.ActionTrail.Flush()
	logs := e.srv.SLS.Logs(e.pol.Destinations.SLS.Project, "actiontrail_"+e.pol.MemberTrailName(id))
	found := false
	for _, l := range logs {
		if ev, _ := l.Get("event"); strings.Contains(ev, `"eventName":"CreateRole"`) && strings.Contains(ev, `"recipientAccountId":"`+id+`"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("the member's CreateRole is not in its trail's Logstore (%d logs)", len(logs))
	}
	_, _, logging := ownTrail(t, c, e.pol.MemberTrailName(id))
	st := actiontrail.CreateGetTrailStatusRequest()
	st.Name = e.pol.MemberTrailName(id)
	sr, err := c.GetTrailStatus(st)
	if err != nil || !logging || sr.LatestDeliveryLogServiceError != "" {
		t.Fatalf("trail status %+v %v", sr, err)
	}
}

// Each drift of a member's trail, made in the member with the official SDK, is planned as a
// typed action naming that member with the drift, healed, and the run after plans nothing.
func TestMemberTrailDriftIsPlannedAndHealed(t *testing.T) {
	cases := []struct {
		name  string
		drift func(t *testing.T, e *env, c *actiontrail.Client, name string)
		kind  string // the action planned for the member
		text  string // in its drift
	}{
		{"logging stopped", func(t *testing.T, e *env, c *actiontrail.Client, name string) {
			req := actiontrail.CreateStopLoggingRequest()
			req.Name = name
			if _, err := c.StopLogging(req); err != nil {
				t.Fatal(err)
			}
		}, "StartLogging", "not logging (status Disable)"},
		{"trail deleted", func(t *testing.T, e *env, c *actiontrail.Client, name string) {
			req := actiontrail.CreateDeleteTrailRequest()
			req.Name = name
			if _, err := c.DeleteTrail(req); err != nil {
				t.Fatal(err)
			}
		}, "CreateTrail", "does not exist"},
		{"EventRW changed", func(t *testing.T, e *env, c *actiontrail.Client, name string) {
			req := actiontrail.CreateUpdateTrailRequest()
			req.Name, req.EventRW = name, "Write"
			if _, err := c.UpdateTrail(req); err != nil {
				t.Fatal(err)
			}
		}, "UpdateTrail", `EventRW is "Write", policy wants "All"`},
		{"TrailRegion changed", func(t *testing.T, e *env, c *actiontrail.Client, name string) {
			req := actiontrail.CreateUpdateTrailRequest()
			req.Name, req.TrailRegion = name, "cn-shanghai"
			if _, err := c.UpdateTrail(req); err != nil {
				t.Fatal(err)
			}
		}, "UpdateTrail", `TrailRegion is "cn-shanghai", policy wants "All"`},
		{"a bucket destination added", func(t *testing.T, e *env, c *actiontrail.Client, name string) {
			req := actiontrail.CreateUpdateTrailRequest()
			req.Name, req.OssBucketName = name, e.pol.Destinations.OSS.Bucket
			req.OssWriteRoleArn = trail.RoleARN(e.pol.Central.AccountID, trail.DeliveryRoleName)
			if _, err := c.UpdateTrail(req); err != nil {
				t.Fatal(err)
			}
		}, "UpdateTrail", `OssBucketName is "auditwarden-`},
		{"its Logstore's retention lowered", func(t *testing.T, e *env, c *actiontrail.Client, name string) {
			sc := e.sess.SLS()
			ls, err := sc.GetLogStore(e.pol.Destinations.SLS.Project, "actiontrail_"+name)
			if err != nil {
				t.Fatal(err)
			}
			ls.TTL = 30
			if err := sc.UpdateLogStoreV2(e.pol.Destinations.SLS.Project, ls); err != nil {
				t.Fatal(err)
			}
		}, "HardenLogstore", "ttl is 30 days, policy wants 365"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := memberTrailsEnv(t, localcloud.Options{Members: 5, Folders: 2, Seed: 57}, memberTrailsOn)
			if rep := e.run(t, reconcile.Scope{}); !rep.Converged() {
				t.Fatalf("bootstrap:\n%s", rep.Table())
			}
			victim := e.activeMembers()[1]
			name := e.pol.MemberTrailName(victim)
			tc.drift(t, e, memberAT(t, e, victim), name)

			dry, err := e.rec.Run(context.Background(), reconcile.Scope{}, true)
			if err != nil {
				t.Fatal(err)
			}
			var planned *reconcile.Action
			for i, a := range dry.Plan {
				if a.Control != reconcile.ControlMemberTrail || len(a.Members) != 1 || a.Members[0] != victim {
					t.Errorf("planned %s %s for %v: only the victim's trail drifted", a.Kind, a.Resource, a.Members)
				}
				if a.Kind == tc.kind {
					planned = &dry.Plan[i]
				}
			}
			if planned == nil || !strings.Contains(planned.Drift, tc.text) {
				t.Fatalf("plan %v lacks %s with drift %q\n%s", kinds(dry.Plan), tc.kind, tc.text, dry.Table())
			}
			if st := memberRow(dry, victim).Controls[reconcile.ControlMemberTrail]; st.Status != reconcile.StatusDrift {
				t.Errorf("dry run reports the victim %+v", st)
			}

			heal := e.run(t, reconcile.Scope{})
			if heal.Summary.Failed+heal.Summary.Skipped != 0 || heal.Summary.Applied == 0 {
				t.Fatalf("heal:\n%s", heal.Table())
			}
			wantMemberTrail(t, e, victim)
			ls, _ := e.srv.SLS.Logstore(e.pol.Destinations.SLS.Project, "actiontrail_"+name)
			if ls.TTL != e.pol.Destinations.SLS.TTLDays {
				t.Errorf("the victim's Logstore keeps ttl %d", ls.TTL)
			}
			converged(t, e)
		})
	}
}

// A member that cannot be entered, or whose trail ActionTrail refuses, is reported for that
// member alone; the run does not fail and every other member converges.
func TestMemberTrailFailureStaysWithItsMember(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(e *env, id string)
		status reconcile.Status
		text   string
	}{
		{"AssumeRole denied", func(e *env, id string) {
			e.srv.World.Mu.Lock()
			delete(e.srv.World.Roles[id], strings.ToLower("ResourceDirectoryAccountAccessRole"))
			e.srv.World.Mu.Unlock()
		}, reconcile.StatusUnknown, "member unreachable"},
		{"CreateTrail refused", func(e *env, id string) {
			e.srv.World.Faults.Script(core.FaultRule{Product: "Actiontrail", Action: "CreateTrail", Account: id, Count: -1,
				Status: 403, Code: "MaximumNumberOfTrailsExceededException", Message: "The account already has 5 single-account trails."})
		}, reconcile.StatusFailed, "MaximumNumberOfTrailsExceededException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := memberTrailsEnv(t, localcloud.Options{Members: 6, Seed: 59}, memberTrailsOn)
			active := e.activeMembers()
			broken := active[2]
			tc.break_(e, broken)
			rep, err := e.rec.Run(context.Background(), reconcile.Scope{}, false)
			if err != nil {
				t.Fatal(err)
			}
			row := memberRow(rep, broken).Controls[reconcile.ControlMemberTrail]
			if row.Status != tc.status || !strings.Contains(row.Detail, tc.text) {
				t.Fatalf("broken member reported %+v\n%s", row, rep.Table())
			}
			for _, id := range active {
				if id == broken {
					continue
				}
				wantMemberTrail(t, e, id)
				if st := memberRow(rep, id).Controls[reconcile.ControlMemberTrail].Status; st != reconcile.StatusFixed {
					t.Errorf("member %s reported %s", id, st)
				}
				// The other controls of the others are not touched by the broken member.
				if st := memberRow(rep, id).Controls[reconcile.ControlLogAudit].Status; st != reconcile.StatusFixed {
					t.Errorf("member %s log audit %s", id, st)
				}
			}
			if org := rep.Organization[reconcile.ControlMemberTrail]; org.Status != tc.status || !strings.Contains(org.Detail, "1 "+string(tc.status)) {
				t.Errorf("organization row %+v", org)
			}
			if rep.Organization[reconcile.ControlTrail].Status != reconcile.StatusFixed {
				t.Errorf("organization trail %+v", rep.Organization[reconcile.ControlTrail])
			}
			// The next run plans for the broken member only, and writes nothing elsewhere.
			e.srv.World.Stats.Reset()
			again := e.run(t, reconcile.Scope{})
			for _, a := range again.Plan {
				if !slices.Equal(a.Members, []string{broken}) {
					t.Errorf("second run planned %s %s for %v", a.Kind, a.Resource, a.Members)
				}
			}
			for _, id := range active {
				if id != broken {
					if st := memberRow(again, id).Controls[reconcile.ControlMemberTrail].Status; st != reconcile.StatusOK {
						t.Errorf("member %s reported %s on the second run", id, st)
					}
				}
			}
		})
	}
}

// The event path (one member) makes that member's trail and touches no other member.
func TestMemberTrailEventPathCreatesTheMembersTrail(t *testing.T) {
	e := memberTrailsEnv(t, localcloud.Options{Members: 4, Seed: 61}, memberTrailsOn)
	if rep := e.run(t, reconcile.Scope{}); !rep.Converged() {
		t.Fatal(rep.Table())
	}
	e.srv.World.Mu.Lock()
	a := e.srv.World.AddAccountLocked(core.NewAccountID(), "joiner", "ResourceAccount")
	e.srv.World.JoinDirectoryLocked(a, e.srv.World.Directory.RootFolderID, "CreateSuccess", "created")
	joiner := a.AccountID
	e.srv.World.Mu.Unlock()

	e.srv.World.Stats.Reset()
	rep := e.run(t, reconcile.Scope{Member: joiner})
	if rep.Summary.Failed+rep.Summary.Skipped != 0 {
		t.Fatal(rep.Table())
	}
	plan := strings.Join(kinds(rep.Plan), ",")
	for _, want := range []string{"CreateTrail", "StartLogging", "HardenLogstore", "WriteLogAudit"} {
		if !strings.Contains(plan, want) {
			t.Errorf("event path plan %s lacks %s", plan, want)
		}
	}
	wantMemberTrail(t, e, joiner)
	for _, id := range e.activeMembers() {
		if id != joiner && callsBy(e, "Actiontrail", id) != 0 {
			t.Errorf("the event path for %s called ActionTrail in member %s", joiner, id)
		}
	}
	// The delivery role already exists: it is verified, not written again.
	if n, _, _ := e.srv.World.Stats.Sum("Ram", "CreateRole"); n != 0 {
		t.Errorf("CreateRole called %d times for an existing role", n)
	}
	if row := memberRow(rep, joiner).Controls[reconcile.ControlMemberTrail]; row.Status != reconcile.StatusFixed {
		t.Errorf("joiner reported %+v", row)
	}
	converged(t, e)
}

// With memberTrails off (the default) no run enters a member, calls ActionTrail there or reads
// the delivery role: the bench's figures rest on it.
func TestMemberTrailsDisabledMakeNoMemberCalls(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 6, Pending: 1, Seed: 63})
	rep := e.run(t, reconcile.Scope{})
	if !rep.Converged() {
		t.Fatal(rep.Table())
	}
	id := e.activeMembers()[0]
	e.run(t, reconcile.Scope{Member: id})
	for _, m := range e.accountsByStatus("CreateSuccess", "InviteSuccess", "CreateVerifying") {
		if n := callsBy(e, "Actiontrail", m); n != 0 {
			t.Errorf("member %s: %d ActionTrail calls", m, n)
		}
	}
	for _, api := range []string{"AssumeRole"} {
		if n, _, _ := e.srv.World.Stats.Sum("Sts", api); n != 0 {
			t.Errorf("%d %s calls", n, api)
		}
	}
	for _, api := range []string{"GetRole", "ListPoliciesForRole", "CreateRole"} {
		if n, _, _ := e.srv.World.Stats.Sum("Ram", api); n != 0 {
			t.Errorf("%d %s calls", n, api)
		}
	}
	if st := rep.Organization[reconcile.ControlMemberTrail].Status; st != reconcile.StatusNA {
		t.Errorf("organization member trail row %s, want n/a", st)
	}
	if st := memberRow(rep, id).Controls[reconcile.ControlMemberTrail].Status; st != reconcile.StatusNA {
		t.Errorf("member row %s, want n/a", st)
	}
}

// Incremental mode: a record of StopLogging on a member's trail in the central trail's
// Logstore brings that member into the run, which starts the trail again.
func TestIncrementalRunHealsAStoppedMemberTrail(t *testing.T) {
	e := memberTrailsEnv(t, localcloud.Options{Members: 6, Seed: 67}, memberTrailsOn)
	if rep := e.run(t, reconcile.Scope{}); !rep.Converged() {
		t.Fatal(rep.Table())
	}
	since := time.Now()
	victim := e.activeMembers()[3]
	name := e.pol.MemberTrailName(victim)
	c := memberAT(t, e, victim)
	req := actiontrail.CreateStopLoggingRequest()
	req.Name = name
	if _, err := c.StopLogging(req); err != nil {
		t.Fatal(err)
	}
	// Someone else's trail in another member, stopped too: not ours, not in scope.
	other := e.activeMembers()[0]
	oc := memberAT(t, e, other)
	create := actiontrail.CreateCreateTrailRequest()
	create.Name, create.SlsProjectArn = "someone-elses", e.pol.SLSProjectArn()
	create.SlsWriteRoleArn = trail.RoleARN(e.pol.Central.AccountID, trail.DeliveryRoleName)
	create.IsOrganizationTrail = requests.NewBoolean(false)
	if _, err := oc.CreateTrail(create); err != nil {
		t.Fatal(err)
	}
	stop := actiontrail.CreateStopLoggingRequest()
	stop.Name = "someone-elses"
	if _, err := oc.StopLogging(stop); err != nil {
		t.Fatal(err)
	}
	e.srv.ActionTrail.Flush()

	scope, err := e.rec.ChangedSince(context.Background(), since, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(scope.Members, []string{victim}) {
		t.Fatalf("scope %+v, want the victim %s alone", scope, victim)
	}
	e.srv.World.Stats.Reset()
	rep := e.run(t, scope)
	if rep.Mode != reconcile.ModeIncremental || rep.Summary.Failed != 0 || !strings.Contains(strings.Join(kinds(rep.Plan), ","), "StartLogging") {
		t.Fatalf("incremental run:\n%s", rep.Table())
	}
	if n, _, _ := e.srv.World.Stats.Sum("ResourceManager", "ListAccounts"); n != 0 {
		t.Fatalf("incremental run listed the directory (%d ListAccounts)", n)
	}
	wantMemberTrail(t, e, victim)
}

// The delivery role deleted in the central account breaks every member trail's delivery: a
// full run sees it and makes it again, and the members' deliveries recover.
func TestDeliveryRoleDeletedIsRecreated(t *testing.T) {
	e := memberTrailsEnv(t, localcloud.Options{Members: 3, Seed: 71}, memberTrailsOn)
	if rep := e.run(t, reconcile.Scope{}); !rep.Converged() {
		t.Fatal(rep.Table())
	}
	e.srv.World.Mu.Lock()
	delete(e.srv.World.Roles[e.pol.Central.AccountID], strings.ToLower(trail.DeliveryRoleName))
	e.srv.World.Mu.Unlock()
	id := e.activeMembers()[0]
	deliveryError := func() string {
		req := actiontrail.CreateGetTrailStatusRequest()
		req.Name = e.pol.MemberTrailName(id)
		resp, err := memberAT(t, e, id).GetTrailStatus(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.LatestDeliveryLogServiceError
	}
	memberWrite(t, e, id, "probe-1")
	e.srv.ActionTrail.Flush()
	if deliveryError() == "" {
		t.Fatal("delivery without the role did not fail")
	}

	dry, err := e.rec.Run(context.Background(), reconcile.Scope{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(dry.Plan); !slices.Equal(got, []string{"EnsureDeliveryRole"}) {
		t.Fatalf("planned %v\n%s", got, dry.Table())
	}
	if row := memberRow(dry, id).Controls[reconcile.ControlMemberTrail]; row.Status != reconcile.StatusDrift || !strings.Contains(row.Detail, "SLS delivery error") {
		t.Errorf("the member whose delivery fails is reported %+v", row)
	}
	if rep := e.run(t, reconcile.Scope{}); rep.Summary.Applied != 1 || rep.Summary.Failed != 0 {
		t.Fatal(rep.Table())
	}
	e.srv.ActionTrail.Flush()
	if msg := deliveryError(); msg != "" {
		t.Fatalf("delivery still fails after the role came back: %s", msg)
	}
	converged(t, e)
}

// memberWrite makes the member do something ActionTrail records (localcloud records writes).
func memberWrite(t *testing.T, e *env, id, role string) {
	t.Helper()
	ms, err := e.sess.ForAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ms.RAM()
	if err != nil {
		t.Fatal(err)
	}
	cr := ram.CreateCreateRoleRequest()
	cr.RoleName, cr.AssumeRolePolicyDocument = role, core.TrustPolicyForAccounts(id)
	if _, err := rc.CreateRole(cr); err != nil {
		t.Fatal(err)
	}
}
