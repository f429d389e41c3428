package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// Incremental mode reads the trail's own records: a member created since the last run is found and
// enrolled without listing the directory, and a member dropped from the Log Audit list out of band
// is re-added because it was collected before.
func TestIncrementalRunFindsChangesWithoutAFullScan(t *testing.T) {
	e := newEnv(t, localcloud.Options{Members: 40, Folders: 3, Seed: 41})
	first := e.run(t, reconcile.Scope{})
	if !first.Converged() {
		t.Fatal(first.Table())
	}
	var collected []string
	for _, m := range first.Members {
		if m.Controls[reconcile.ControlLogAudit].Status == reconcile.StatusFixed {
			collected = append(collected, m.AccountID)
		}
	}
	since := time.Now()

	info := e.srv.Info()
	rm, _ := resourcemanager.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	rm.Domain = info.Endpoints.ResourceManager
	req := resourcemanager.CreateCreateResourceAccountRequest()
	req.DisplayName, req.AccountNamePrefix = "late-joiner", "late-joiner"
	created, err := rm.CreateResourceAccount(req)
	if err != nil {
		t.Fatal(err)
	}
	newID := created.Account.AccountId
	// Someone removes a collected member from the list by hand.
	dropped := collected[0]
	la := e.rec.LogAudit
	cfg, _, err := la.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, m := range cfg.Members {
		if m != dropped {
			kept = append(kept, m)
		}
	}
	cfg.Members = kept
	if err := la.Write(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	e.srv.ActionTrail.Flush()

	scope, err := e.rec.ChangedSince(context.Background(), since, collected)
	if err != nil {
		t.Fatal(err)
	}
	if !containsStr(scope.Members, newID) || !containsStr(scope.Members, dropped) {
		t.Fatalf("scope %+v lacks the new member %s or the dropped one %s", scope, newID, dropped)
	}
	e.srv.World.Stats.Reset()
	rep := e.run(t, scope)
	if rep.Mode != reconcile.ModeIncremental || rep.Summary.Failed != 0 {
		t.Fatal(rep.Table())
	}
	if calls, _, _ := e.srv.World.Stats.Sum("ResourceManager", "ListAccounts"); calls != 0 {
		t.Fatalf("incremental run listed the directory (%d ListAccounts)", calls)
	}
	_, uids := lclogaudit.Members(e.srv.World, e.pol.Central.AccountID)
	if !containsStr(uids, newID) || !containsStr(uids, dropped) {
		t.Fatalf("after the incremental run: new %v dropped %v in %d members", containsStr(uids, newID), containsStr(uids, dropped), len(uids))
	}
}
