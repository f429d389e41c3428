package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

type env struct {
	srv  *localcloud.Server
	sess *cloud.Session
	pol  *policy.Policy
	rec  *reconcile.Reconciler
}

// policyYAML is the organization's policy in tests: resource directory mode with a custom list
// (so membership changes are ours to make), OSS archive with WORM, 365-day retention.
func policyYAML(mgmt, root string) string {
	return fmt.Sprintf(`apiVersion: auditwarden/v1
kind: AuditPolicy
central: {accountId: "%s", region: cn-hangzhou}
trail: {name: org-audit}
destinations:
  sls: {enabled: true, ttlDays: 365}
  oss: {enabled: true, retentionDays: 30, lifecycle: {expireDays: 400}}
logAudit:
  region: cn-shanghai
  mode: resourceDirectory
  resourceDirectory:
    members: custom
    include: {folders: [%s]}
    exclude: {tags: [audit=exempt]}
`, mgmt, root)
}

func newEnv(t *testing.T, opts localcloud.Options) *env {
	t.Helper()
	opts.DeliveryInterval = 50 * time.Millisecond
	srv, err := localcloud.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	info := srv.Info()
	sess, err := srv.CloudInfo().Session(cloud.WithRetryPolicy(cloud.RetryPolicy{MaxAttempts: 12, Base: time.Millisecond, Cap: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	srv.World.Mu.RLock()
	root := srv.World.Directory.RootFolderID
	srv.World.Mu.RUnlock()
	pol, err := policy.Parse([]byte(policyYAML(info.ManagementAccountID, root)))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, sess: sess, pol: pol, rec: reconcile.ForSession(sess, pol, nil, zerolog.Nop())}
}

func (e *env) run(t *testing.T, scope reconcile.Scope) *reconcile.Report {
	t.Helper()
	rep, err := e.rec.Run(context.Background(), scope, false)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (e *env) activeMembers() []string {
	e.srv.World.Mu.RLock()
	defer e.srv.World.Mu.RUnlock()
	var ids []string
	for _, a := range e.srv.World.DirectoryAccountsLocked() {
		if a.Management {
			continue
		}
		if a.Status == "CreateSuccess" || a.Status == "InviteSuccess" {
			ids = append(ids, a.AccountID)
		}
	}
	return ids
}

func kinds(actions []reconcile.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.Kind)
	}
	return out
}

func TestBootstrapThenConvergedRunMakesNoWrites(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 30, Folders: 4, Pending: 3, Seed: 3})
	rep := e.run(t, reconcile.Scope{})
	if rep.Summary.Failed != 0 || rep.Summary.Skipped != 0 {
		t.Fatalf("bootstrap failed:\n%s", rep.Table())
	}
	for _, want := range []string{"CreateProject", "CreateBucket", "CreateTrail", "StartLogging", "WriteLogAudit", "CreateLogstore", "HardenLogstore"} {
		if !strings.Contains(strings.Join(kinds(rep.Plan), ","), want) {
			t.Errorf("bootstrap plan lacks %s: %v", want, kinds(rep.Plan))
		}
	}
	mode, uids := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if mode != lclogaudit.ModeRDCustom || len(uids) != len(e.activeMembers()) {
		t.Fatalf("log audit %s has %d members, want %d active", mode, len(uids), len(e.activeMembers()))
	}
	if rep.Summary.Pending != 3 {
		t.Errorf("pending members reported %d, want 3", rep.Summary.Pending)
	}

	e.srv.World.Stats.Reset()
	again := e.run(t, reconcile.Scope{})
	if len(again.Plan) != 0 {
		t.Fatalf("second run planned:\n%s", again.Table())
	}
	if w := e.srv.World.Stats.WriteCalls(); w != 0 {
		t.Fatalf("converged run made %d write calls: %+v", w, e.srv.World.Stats.Snapshot())
	}
	if again.Summary.Compliant != again.Summary.Members-again.Summary.Pending {
		t.Fatalf("compliant %d of %d (pending %d)\n%s", again.Summary.Compliant, again.Summary.Members, again.Summary.Pending, again.Table())
	}
}

func TestPendingMemberIsEnrolledOnceItSettles(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 5, Pending: 2, Seed: 5})
	e.run(t, reconcile.Scope{})
	var pendingID string
	e.srv.World.Mu.Lock()
	for _, a := range e.srv.World.Accounts {
		if a.Status == "CreateVerifying" {
			pendingID = a.AccountID
			a.Status = "CreateSuccess"
			break
		}
	}
	e.srv.World.Mu.Unlock()
	rep := e.run(t, reconcile.Scope{Member: pendingID})
	if rep.Summary.Failed != 0 {
		t.Fatal(rep.Table())
	}
	_, uids := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if !containsStr(uids, pendingID) {
		t.Fatalf("settled member %s not enrolled: %v", pendingID, uids)
	}
}

func containsStr(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestConcurrentEnrolmentsLoseNoMember(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 2, Seed: 9})
	e.run(t, reconcile.Scope{})
	// 50 members join at once; each event runs its own member-scoped reconcile concurrently.
	var ids []string
	e.srv.World.Mu.Lock()
	for i := 0; i < 50; i++ {
		a := e.srv.World.AddAccountLocked(core.NewAccountID(), fmt.Sprintf("burst-%02d", i), "ResourceAccount")
		e.srv.World.JoinDirectoryLocked(a, e.srv.World.Directory.RootFolderID, "CreateSuccess", "created")
		ids = append(ids, a.AccountID)
	}
	e.srv.World.Mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			rep, err := e.rec.Run(context.Background(), reconcile.Scope{Member: id}, false)
			if err != nil {
				errs <- err
			} else if rep.Summary.Failed > 0 {
				errs <- fmt.Errorf("member %s: %s", id, rep.Table())
			}
		}(id)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, uids := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	for _, id := range ids {
		if !containsStr(uids, id) {
			t.Errorf("member %s lost", id)
		}
	}
}
