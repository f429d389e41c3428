package reconcile_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// Each kind of drift, made out of band with the official SDKs, is planned with the right action
// and healed by the next run; the run after that plans nothing.
func TestEachDriftIsPlannedAndHealed(t *testing.T) {
	cases := []struct {
		name  string
		drift func(t *testing.T, e *env)
		want  string // action kind the plan must contain
	}{
		{"trail stopped", func(t *testing.T, e *env) {
			c := atClient(t, e)
			req := actiontrail.CreateStopLoggingRequest()
			req.Name = e.pol.Trail.Name
			if _, err := c.StopLogging(req); err != nil {
				t.Fatal(err)
			}
		}, "StartLogging"},
		{"trail deleted", func(t *testing.T, e *env) {
			c := atClient(t, e)
			req := actiontrail.CreateDeleteTrailRequest()
			req.Name = e.pol.Trail.Name
			if _, err := c.DeleteTrail(req); err != nil {
				t.Fatal(err)
			}
		}, "CreateTrail"},
		{"EventRW changed", func(t *testing.T, e *env) {
			c := atClient(t, e)
			req := actiontrail.CreateUpdateTrailRequest()
			req.Name, req.EventRW = e.pol.Trail.Name, "Write"
			if _, err := c.UpdateTrail(req); err != nil {
				t.Fatal(err)
			}
		}, "UpdateTrail"},
		{"retention lowered", func(t *testing.T, e *env) {
			c := e.sess.SLS()
			ls, err := c.GetLogStore(e.pol.Destinations.SLS.Project, e.pol.TrailLogstore())
			if err != nil {
				t.Fatal(err)
			}
			ls.TTL = 30
			if err := c.UpdateLogStoreV2(e.pol.Destinations.SLS.Project, ls); err != nil {
				t.Fatal(err)
			}
		}, "HardenLogstore"},
		{"bucket made public", func(t *testing.T, e *env) {
			// Block Public Access must go first: with it on, OSS refuses a public ACL.
			cl := ossClient(t, e)
			cl.Config.AuthVersion, cl.Config.Region = alioss.AuthV4, e.pol.Central.Region
			resp, err := cl.Conn.DoWithContext(context.Background(), "DELETE", e.pol.Destinations.OSS.Bucket, "",
				map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if err := ossClient(t, e).SetBucketACL(e.pol.Destinations.OSS.Bucket, alioss.ACLPublicRead); err != nil {
				t.Fatal(err)
			}
		}, "FixACL"},
		{"encryption removed", func(t *testing.T, e *env) {
			if err := ossClient(t, e).DeleteBucketEncryption(e.pol.Destinations.OSS.Bucket); err != nil {
				t.Fatal(err)
			}
		}, "FixEncryption"},
		{"member removed from the Log Audit list", func(t *testing.T, e *env) {
			la := logaudit.New(e.sess, e.pol.LogAudit.Region)
			cfg, ok, err := la.Observe(context.Background())
			if err != nil || !ok || len(cfg.Members) < 2 {
				t.Fatalf("observe: %v %v %v", cfg, ok, err)
			}
			cfg.Members = cfg.Members[1:]
			if err := la.Write(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
		}, "WriteLogAudit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, localcloud.Options{Members: 6, Folders: 2, Seed: 11})
			if rep := e.run(t, reconcile.Scope{}); !rep.Converged() {
				t.Fatalf("bootstrap:\n%s", rep.Table())
			}
			tc.drift(t, e)
			dry, err := e.rec.Run(context.Background(), reconcile.Scope{}, true)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(kinds(dry.Plan), ","), tc.want) {
				t.Fatalf("plan %v lacks %s\n%s", kinds(dry.Plan), tc.want, dry.Table())
			}
			heal := e.run(t, reconcile.Scope{})
			if heal.Summary.Failed+heal.Summary.Skipped != 0 || heal.Summary.Applied == 0 {
				t.Fatalf("heal:\n%s", heal.Table())
			}
			e.srv.World.Stats.Reset()
			after := e.run(t, reconcile.Scope{})
			if len(after.Plan) != 0 {
				t.Fatalf("not converged after heal: %v\n%s", kinds(after.Plan), after.Table())
			}
			if w := e.srv.World.Stats.WriteCalls(); w != 0 {
				t.Fatalf("converged run wrote %d times", w)
			}
		})
	}
}

func atClient(t *testing.T, e *env) *actiontrail.Client {
	t.Helper()
	c, err := e.sess.ActionTrail()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ossClient(t *testing.T, e *env) *alioss.Client {
	t.Helper()
	c, err := e.sess.OSS()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestThrottlingStormStillConverges(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 20, Folders: 3, Seed: 13})
	e.srv.World.Faults.Set(core.FaultConfig{ThrottleRate: 0.5, Seed: 99})
	rep := e.run(t, reconcile.Scope{})
	if rep.Summary.Failed+rep.Summary.Skipped+rep.Summary.Problems != 0 {
		t.Fatalf("storm run:\n%s", rep.Table())
	}
	if _, _, throttled := e.srv.World.Stats.Sum("", ""); throttled == 0 {
		t.Fatal("the storm throttled nothing")
	}
	e.srv.World.Faults.Set(core.FaultConfig{})
	if again := e.run(t, reconcile.Scope{}); len(again.Plan) != 0 {
		t.Fatalf("not converged after the storm:\n%s", again.Table())
	}
	_, uids := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if len(uids) != len(e.activeMembers()) {
		t.Fatalf("%d members collected, want %d", len(uids), len(e.activeMembers()))
	}
}

func TestPartialFailureIsReportedPrecisely(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 4, Seed: 17})
	e.srv.World.Faults.Script(core.FaultRule{Action: "CreateTrail", Count: -1, Status: 403, Code: "InsufficientSlsPolicyException", Message: "no"})
	rep := e.run(t, reconcile.Scope{})
	outcome := map[string]reconcile.Outcome{}
	for _, r := range rep.Results {
		outcome[r.Kind] = r.Outcome
	}
	if outcome["CreateTrail"] != reconcile.Failed || outcome["StartLogging"] != reconcile.Skipped {
		t.Fatalf("trail outcomes %v", outcome)
	}
	if outcome["CreateBucket"] != reconcile.Applied || outcome["WriteLogAudit"] != reconcile.Applied || outcome["CreateProject"] != reconcile.Applied {
		t.Fatalf("independent actions should apply: %v", outcome)
	}
	if rep.Converged() || rep.Organization[reconcile.ControlTrail].Status != reconcile.StatusFailed ||
		!strings.Contains(rep.Organization[reconcile.ControlTrail].Detail, "InsufficientSlsPolicyException") {
		t.Fatalf("trail control %+v\n%s", rep.Organization[reconcile.ControlTrail], rep.Table())
	}
	if rep.Organization[reconcile.ControlArchive].Status != reconcile.StatusFixed {
		t.Fatalf("archive control %+v", rep.Organization[reconcile.ControlArchive])
	}
	raw, _ := json.Marshal(rep)
	if !strings.Contains(string(raw), `"outcome":"skipped"`) || !strings.Contains(string(raw), `"cause":"trail/create"`) {
		t.Fatalf("report JSON lacks the skip and its cause: %s", raw)
	}
}

// Members that leave, or become excluded by tag, are dropped from the custom list; their data is kept.
func TestLifecycleRemovedAndExcludedMembersAreDropped(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 6, Invited: 2, Seed: 21})
	e.run(t, reconcile.Scope{})
	var invited, tagged string
	for _, m := range e.srv.Seeded.Members {
		if m.JoinMethod == "invited" && invited == "" {
			invited = m.AccountID
		} else if m.JoinMethod == "created" && tagged == "" && m.Status == "CreateSuccess" {
			tagged = m.AccountID
		}
	}
	info := e.srv.Info()
	rm, _ := resourcemanager.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	rm.Domain = info.Endpoints.ResourceManager
	rmReq := resourcemanager.CreateRemoveCloudAccountRequest()
	rmReq.AccountId = invited
	if _, err := rm.RemoveCloudAccount(rmReq); err != nil {
		t.Fatal(err)
	}
	e.srv.World.Mu.Lock()
	e.srv.World.Accounts[tagged].Tags = append(e.srv.World.Accounts[tagged].Tags, core.Tag{Key: "audit", Value: "exempt"})
	e.srv.World.Mu.Unlock()

	// The event path handles the removal alone; the timer handles the tag.
	if rep := e.run(t, reconcile.Scope{Member: invited}); rep.Summary.Failed != 0 {
		t.Fatal(rep.Table())
	}
	_, uids := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if containsStr(uids, invited) {
		t.Fatal("removed member still collected")
	}
	rep := e.run(t, reconcile.Scope{})
	_, uids = lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if containsStr(uids, tagged) {
		t.Fatalf("excluded member still collected\n%s", rep.Table())
	}
	for _, m := range rep.Members {
		if m.AccountID == tagged && m.Controls[reconcile.ControlLogAudit].Status != reconcile.StatusExcluded {
			t.Fatalf("tagged member reported %+v", m.Controls[reconcile.ControlLogAudit])
		}
	}
}

func TestModeRules(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 3, Seed: 23})
	e.run(t, reconcile.Scope{})
	// The policy switches to custom authentication while Log Audit holds resource directory members.
	e.pol.LogAudit.Mode = "customAuthentication"
	e.pol.LogAudit.CustomAuthentication.Accounts = []string{e.activeMembers()[0]}
	rep := e.run(t, reconcile.Scope{})
	found := false
	for _, f := range rep.Findings {
		if f.Control == reconcile.ControlLogAudit && strings.Contains(f.Message, "needs the configuration cleared first") {
			found = true
		}
	}
	if !found || strings.Contains(strings.Join(kinds(rep.Plan), ","), "WriteLogAudit") {
		t.Fatalf("switch back was not refused clearly:\n%s", rep.Table())
	}
	mode, _ := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if mode != lclogaudit.ModeRDCustom {
		t.Fatalf("mode changed to %s", mode)
	}
}

// Inner-ActionTrail cannot be enabled through an API; once enabled (it resets its Logstore to 180
// days) auditwarden holds the policy's retention.
func TestInnerActionTrailRetentionIsHeld(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 2, Seed: 29})
	e.pol.InnerActionTrail.Enabled = true
	e.pol.InnerActionTrail.Project = e.pol.Destinations.SLS.Project
	rep := e.run(t, reconcile.Scope{})
	missing := false
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, "innerActionTrail is enabled but its Logstore does not exist") {
			missing = true
		}
	}
	if !missing {
		t.Fatalf("no finding for the missing inner trail Logstore:\n%s", rep.Table())
	}
	if err := e.srv.ActionTrail.EnableInnerTrail(e.pol.Central.AccountID, e.pol.InnerActionTrail.Project, e.pol.InnerActionTrail.Name); err != nil {
		t.Fatal(err)
	}
	dry, _ := e.rec.Run(context.Background(), reconcile.Scope{}, true)
	if !strings.Contains(strings.Join(kinds(dry.Plan), ","), "HardenLogstore") {
		t.Fatalf("the 180-day reset is not planned away: %v", kinds(dry.Plan))
	}
	e.run(t, reconcile.Scope{})
	info, ok := e.srv.SLS.Logstore(e.pol.InnerActionTrail.Project, e.pol.InnerTrailLogstore())
	if !ok || info.TTL != e.pol.InnerActionTrail.TTLDays {
		t.Fatalf("inner trail logstore %+v", info)
	}
}
