package fcevent_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

// emulator is localcloud's Resource Manager behind the real SDK, with its EventBridge bus
// delivering every write record, so the test decodes exactly what the demo's member-events
// function receives.
type emulator struct {
	t      *testing.T
	w      *core.World
	srv    *httptest.Server
	events chan core.CloudEvent
}

func newEmulator(t *testing.T) *emulator {
	t.Helper()
	e := &emulator{t: t, events: make(chan core.CloudEvent, 64)}
	e.w = core.NewWorld("cn-hangzhou", core.NewManualClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)))
	e.w.Mu.Lock()
	e.w.EnableDirectoryLocked(core.NewAccountID(), "mgmt")
	e.w.Directory.MemberDeletionStatus = "Enabled"
	e.w.Mu.Unlock()
	e.w.Recorder.OnRecord(e.w.Bus.PublishRecord)
	t.Cleanup(e.w.Bus.Close)
	rpc := core.NewRPCServer(e.w)
	rpc.Register(resourcemanager.Service())
	e.srv = httptest.NewServer(rpc)
	t.Cleanup(e.srv.Close)
	return e
}

// subscribe delivers the account's bus to e.events (AcceptHandshake lands on the member's bus).
func (e *emulator) subscribe(account string) {
	e.t.Helper()
	if _, err := e.w.Bus.Subscribe(account, nil, "", func(ce core.CloudEvent) { e.events <- ce }); err != nil {
		e.t.Fatal(err)
	}
}

func (e *emulator) account(name string) (string, *rm.Client) {
	e.t.Helper()
	e.w.Mu.Lock()
	id := e.w.ManagementAccountID
	if name != "" {
		id = core.NewAccountID()
		e.w.AddAccountLocked(id, name, "CloudAccount")
	}
	k := e.w.NewAccessKeyLocked(id, "")
	e.w.Mu.Unlock()
	c, err := rm.NewClientWithAccessKey("cn-hangzhou", k.ID, k.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(e.srv.URL, "http://")
	return id, c
}

// next is the next delivery, as the JSON bytes EventBridge would POST.
func (e *emulator) next(name string) []byte {
	e.t.Helper()
	select {
	case ce := <-e.events:
		if ce.Data == nil || ce.Data.EventName != name {
			e.t.Fatalf("next event = %+v, want %s", ce.Data, name)
		}
		raw, err := json.Marshal(ce)
		if err != nil {
			e.t.Fatal(err)
		}
		return raw
	case <-time.After(5 * time.Second):
		e.t.Fatalf("no %s event delivered", name)
		return nil
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLocalcloudEvents drives every membership call through the real SDK and asserts the
// intent decoded from the delivered CloudEvent.
func TestLocalcloudEvents(t *testing.T) {
	e := newEmulator(t)
	mgmtID, mgmt := e.account("")
	e.subscribe(mgmtID)

	type want struct {
		kind    fcevent.Kind
		account string
		ids     []string
	}
	check := func(name string, w want) {
		t.Helper()
		raw := e.next(name)
		ev, err := fcevent.DecodeCloudEvent(raw)
		if err != nil {
			t.Fatalf("%s: DecodeCloudEvent: %v\n%s", name, err, raw)
		}
		in, err := fcevent.MembershipIntent(ev)
		if err != nil {
			t.Fatalf("%s: MembershipIntent: %v\n%s", name, err, raw)
		}
		if in.Kind != w.kind || in.AccountID != w.account {
			t.Fatalf("%s: intent = %s %q (%s), want %s %q\n%s", name, in.Kind, in.AccountID, in.Reason, w.kind, w.account, raw)
		}
		if w.ids != nil && strings.Join(in.AccountIDs, ",") != strings.Join(w.ids, ",") {
			t.Fatalf("%s: AccountIDs = %v, want %v", name, in.AccountIDs, w.ids)
		}
		if in.EventID == "" || in.EventID != ev.Data.EventID || in.EventTime.IsZero() || in.Reason == "" {
			t.Fatalf("%s: intent not well formed: %+v", name, in)
		}
		if w.kind != fcevent.Ignore && in.Actor != ev.Data.UserIdentity.AccountID {
			t.Fatalf("%s: actor = %q, want %q", name, in.Actor, ev.Data.UserIdentity.AccountID)
		}
	}

	cf := rm.CreateCreateFolderRequest()
	cf.FolderName = "Sandbox"
	folder, err := mgmt.CreateFolder(cf)
	must(t, err)
	check("CreateFolder", want{kind: fcevent.Ignore})

	cr := rm.CreateCreateResourceAccountRequest()
	cr.DisplayName = "dev-01"
	created, err := mgmt.CreateResourceAccount(cr)
	must(t, err)
	devID := created.Account.AccountId
	check("CreateResourceAccount", want{kind: fcevent.Enrol, account: devID})

	mv := rm.CreateMoveAccountRequest()
	mv.AccountId, mv.DestinationFolderId = devID, folder.Folder.FolderId
	_, err = mgmt.MoveAccount(mv)
	must(t, err)
	check("MoveAccount", want{kind: fcevent.Reevaluate, account: devID})

	up := rm.CreateUpdateAccountRequest()
	up.AccountId, up.NewDisplayName = devID, "dev-02"
	_, err = mgmt.UpdateAccount(up)
	must(t, err)
	check("UpdateAccount", want{kind: fcevent.Reevaluate, account: devID})

	cr2 := rm.CreateCreateResourceAccountRequest()
	cr2.DisplayName = "scratch"
	scratch, err := mgmt.CreateResourceAccount(cr2)
	must(t, err)
	scratchID := scratch.Account.AccountId
	check("CreateResourceAccount", want{kind: fcevent.Enrol, account: scratchID})

	tg := rm.CreateTagResourcesRequest()
	tg.ResourceType = "Account"
	tg.ResourceId = &[]string{devID, scratchID}
	tg.Tag = &[]rm.TagResourcesTag{{Key: "audit", Value: "exempt"}}
	_, err = mgmt.TagResources(tg)
	must(t, err)
	check("TagResources", want{kind: fcevent.Reevaluate, account: devID, ids: []string{devID, scratchID}})

	guestID, guest := e.account("guest")
	e.subscribe(guestID)
	inv := rm.CreateInviteAccountToResourceDirectoryRequest()
	inv.TargetEntity, inv.TargetType = guestID, "Account"
	hs, err := mgmt.InviteAccountToResourceDirectory(inv)
	must(t, err)
	check("InviteAccountToResourceDirectory", want{kind: fcevent.Ignore})

	acc := rm.CreateAcceptHandshakeRequest()
	acc.HandshakeId = hs.Handshake.HandshakeId
	_, err = guest.AcceptHandshake(acc)
	must(t, err)
	check("AcceptHandshake", want{kind: fcevent.Enrol, account: guestID})

	pr := rm.CreatePromoteResourceAccountRequest()
	pr.AccountId, pr.Email = devID, "dev@example.com"
	_, err = mgmt.PromoteResourceAccount(pr)
	must(t, err)
	check("PromoteResourceAccount", want{kind: fcevent.Enrol, account: devID})

	rmv := rm.CreateRemoveCloudAccountRequest()
	rmv.AccountId = guestID
	_, err = mgmt.RemoveCloudAccount(rmv)
	must(t, err)
	check("RemoveCloudAccount", want{kind: fcevent.Offboard, account: guestID})

	del := rm.CreateDeleteAccountRequest()
	del.AccountId = scratchID
	_, err = mgmt.DeleteAccount(del)
	must(t, err)
	check("DeleteAccount", want{kind: fcevent.Offboard, account: scratchID})

	// A failed call is recorded with errorCode set, and changes nothing.
	bad := rm.CreateMoveAccountRequest()
	bad.AccountId, bad.DestinationFolderId = devID, "fd-doesnotexist0"
	if _, err := mgmt.MoveAccount(bad); err == nil {
		t.Fatal("MoveAccount to a missing folder succeeded")
	}
	check("MoveAccount", want{kind: fcevent.Ignore})
}
