package resourcemanager_test

import (
	"testing"
	"time"

	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

// invite runs the whole invitation flow through the SDK and returns the new member's id.
func invite(t *testing.T, f *fixture, name string) string {
	t.Helper()
	id, key := f.outsider(t, name)
	req := rm.CreateInviteAccountToResourceDirectoryRequest()
	req.TargetEntity, req.TargetType = id, "Account"
	out, err := f.client(t, f.mgmt).InviteAccountToResourceDirectory(req)
	must(t, err)
	acc := rm.CreateAcceptHandshakeRequest()
	acc.HandshakeId = out.Handshake.HandshakeId
	_, err = f.client(t, key).AcceptHandshake(acc)
	must(t, err)
	return id
}

func TestInvitationFlowEndToEnd(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	mgmt := f.client(t, f.mgmt)
	invitedID, invitedKey := f.outsider(t, "partner-co")
	_, strangerKey := f.outsider(t, "stranger")
	invited := f.client(t, invitedKey)

	req := rm.CreateInviteAccountToResourceDirectoryRequest()
	req.TargetEntity, req.TargetType, req.Note = invitedID, "Account", "welcome"
	out, err := mgmt.InviteAccountToResourceDirectory(req)
	must(t, err)
	h := out.Handshake
	if h.Status != "Pending" || h.TargetEntity != invitedID || h.MasterAccountId != f.w.ManagementAccountID ||
		h.ResourceDirectoryId != f.w.Directory.ResourceDirectoryID || h.Note != "welcome" {
		t.Fatalf("handshake = %+v", h)
	}
	created, _ := time.Parse("2006-01-02T15:04:05.000Z", h.CreateTime)
	expires, _ := time.Parse("2006-01-02T15:04:05.000Z", h.ExpireTime)
	if expires.Sub(created) != 14*24*time.Hour {
		t.Fatalf("invitation lives %v, want 14 days", expires.Sub(created))
	}
	_, err = mgmt.InviteAccountToResourceDirectory(req)
	wantError(t, err, 409, "EntityAlreadyExists.Handshake")
	ev := f.lastRecord(t, f.w.ManagementAccountID, "InviteAccountToResourceDirectory")
	if ev.RequestParameters["TargetEntity"] != invitedID || ev.ResourceName != h.HandshakeId {
		t.Fatalf("invite record = %+v", ev)
	}

	sent, err := mgmt.ListHandshakesForAccount(rm.CreateListHandshakesForAccountRequest())
	must(t, err)
	if sent.TotalCount != 1 || sent.Handshakes.Handshake[0].TargetEntity != invitedID {
		t.Fatalf("management account lists %+v", sent.Handshakes)
	}
	// The invited account sees the invitation; a stranger does not.
	list, err := invited.ListHandshakesForAccount(rm.CreateListHandshakesForAccountRequest())
	must(t, err)
	if list.TotalCount != 1 || list.Handshakes.Handshake[0].HandshakeId != h.HandshakeId {
		t.Fatalf("invited account lists %+v", list.Handshakes)
	}
	get := rm.CreateGetHandshakeRequest()
	get.HandshakeId = h.HandshakeId
	_, err = f.client(t, strangerKey).GetHandshake(get)
	wantError(t, err, 404, "EntityNotExists.Handshake")
	acc := rm.CreateAcceptHandshakeRequest()
	acc.HandshakeId = h.HandshakeId
	_, err = f.client(t, strangerKey).AcceptHandshake(acc)
	wantError(t, err, 404, "EntityNotExists.Handshake")
	_, err = mgmt.AcceptHandshake(acc)
	wantError(t, err, 409, "HandshakeStatusMismatch")

	// The invited account accepts with its own key and becomes a member.
	accepted, err := invited.AcceptHandshake(acc)
	must(t, err)
	if accepted.Handshake.Status != "Accepted" {
		t.Fatalf("accepted status = %s", accepted.Handshake.Status)
	}
	ga := rm.CreateGetAccountRequest()
	ga.AccountId = invitedID
	a, err := mgmt.GetAccount(ga)
	must(t, err)
	if a.Account.JoinMethod != "invited" || a.Account.Status != "InviteSuccess" || a.Account.Type != "CloudAccount" ||
		a.Account.FolderId != f.w.Directory.RootFolderID || a.Account.DisplayName != "partner-co" {
		t.Fatalf("invited member = %+v", a.Account)
	}
	accounts, err := mgmt.ListAccounts(rm.CreateListAccountsRequest())
	must(t, err)
	listed := false
	for _, la := range accounts.Accounts.Account {
		listed = listed || (la.AccountId == invitedID && la.JoinMethod == "invited")
	}
	if !listed {
		t.Fatal("the invited member is not listed with JoinMethod invited")
	}
	f.w.Mu.RLock()
	_, hasRole := f.w.Roles[invitedID]["resourcedirectoryaccountaccessrole"]
	f.w.Mu.RUnlock()
	if !hasRole {
		t.Fatal("the invited member got no ResourceDirectoryAccountAccessRole")
	}

	// The record lands in the invited account's history and names the member.
	ev = f.lastRecord(t, invitedID, "AcceptHandshake")
	hs, _ := ev.ResponseElements["Handshake"].(map[string]any)
	if ev.RecipientAccountID != invitedID || ev.UserIdentity.AccountID != invitedID || hs["TargetEntity"] != invitedID ||
		hs["Status"] != "Accepted" || ev.RequestParameters["HandshakeId"] != h.HandshakeId ||
		ev.ResourceType != "ACS::ResourceManager::Account" || ev.ResourceName != invitedID {
		t.Fatalf("AcceptHandshake record = %+v", ev)
	}
	for _, e := range f.records(f.w.ManagementAccountID) {
		if e.EventName == "AcceptHandshake" && e.ErrorCode == "" {
			t.Fatal("the accepted AcceptHandshake is recorded in the management account's history")
		}
	}

	_, err = invited.AcceptHandshake(acc)
	wantError(t, err, 409, "HandshakeStatusMismatch")
	// A member cannot be invited again.
	_, err = mgmt.InviteAccountToResourceDirectory(req)
	wantError(t, err, 409, "NotSupport.AccountInAnotherResourceDirectory")
}

func TestDeclineCancelAndExpiry(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	mgmt := f.client(t, f.mgmt)
	newInvite := func(name string) (string, *rm.Client) {
		id, key := f.outsider(t, name)
		req := rm.CreateInviteAccountToResourceDirectoryRequest()
		req.TargetEntity, req.TargetType = id, "Account"
		out, err := mgmt.InviteAccountToResourceDirectory(req)
		must(t, err)
		return out.Handshake.HandshakeId, f.client(t, key)
	}

	declineID, decliner := newInvite("decliner")
	dec := rm.CreateDeclineHandshakeRequest()
	dec.HandshakeId = declineID
	_, err := mgmt.DeclineHandshake(dec)
	wantError(t, err, 409, "HandshakeStatusMismatch")
	out, err := decliner.DeclineHandshake(dec)
	must(t, err)
	if out.Handshake.Status != "Declined" {
		t.Fatalf("declined = %s", out.Handshake.Status)
	}

	cancelID, cancelled := newInvite("cancelled")
	can := rm.CreateCancelHandshakeRequest()
	can.HandshakeId = cancelID
	_, err = cancelled.CancelHandshake(can)
	wantError(t, err, 409, "HandshakeStatusMismatch")
	co, err := mgmt.CancelHandshake(can)
	must(t, err)
	if co.Handshake.Status != "Cancelled" {
		t.Fatalf("cancelled = %s", co.Handshake.Status)
	}
	acc := rm.CreateAcceptHandshakeRequest()
	acc.HandshakeId = cancelID
	_, err = cancelled.AcceptHandshake(acc)
	wantError(t, err, 409, "HandshakeStatusMismatch")

	lateID, late := newInvite("late")
	f.clock.Advance(15 * 24 * time.Hour)
	get := rm.CreateGetHandshakeRequest()
	get.HandshakeId = lateID
	g, err := mgmt.GetHandshake(get)
	must(t, err)
	if g.Handshake.Status != "Expired" {
		t.Fatalf("after 15 days status = %s", g.Handshake.Status)
	}
	acc.HandshakeId = lateID
	_, err = late.AcceptHandshake(acc)
	wantError(t, err, 409, "HandshakeStatusMismatch")

	for _, tc := range []struct{ id, code string }{{"", "MissingParameter.HandshakeId"}, {"bad", "InvalidParameter.HandshakeId"}} {
		get := rm.CreateGetHandshakeRequest() // fresh: the SDK keeps a reused request's old values
		get.HandshakeId = tc.id
		_, err := mgmt.GetHandshake(get)
		wantError(t, err, 400, tc.code)
	}
}

func TestInviteValidation(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	mgmt := f.client(t, f.mgmt)
	memberID, memberKey := f.member(t, "already-in")
	cases := []struct {
		name, target, typ, code string
		status                  int
	}{
		{"no target", "", "Account", "MissingParameter.TargetEntity", 400},
		{"no type", "1234567890123456", "", "MissingParameter.TargetType", 400},
		{"bad type", "1234567890123456", "Phone", "InvalidParameter.TargetType", 400},
		{"bad id", "12345", "Account", "InvalidParameter.TargetEntity", 400},
		{"unknown account", "1999999999999999", "Account", "InvalidParameter.TargetEntity", 400},
		{"bad email", "nobody", "Email", "InvalidParameter.TargetEntity", 400},
		{"already a member", memberID, "Account", "NotSupport.AccountInAnotherResourceDirectory", 409},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := rm.CreateInviteAccountToResourceDirectoryRequest()
			req.TargetEntity, req.TargetType = tc.target, tc.typ
			_, err := mgmt.InviteAccountToResourceDirectory(req)
			wantError(t, err, tc.status, tc.code)
		})
	}
	req := rm.CreateInviteAccountToResourceDirectoryRequest()
	req.TargetEntity, req.TargetType = "1234567890123456", "Account"
	_, err := f.client(t, memberKey).InviteAccountToResourceDirectory(req)
	wantError(t, err, 403, "MemberAccountAccessDenied")
}

func TestInviteByEmail(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	id, key := f.outsider(t, "mail-partner")
	f.w.Mu.Lock()
	f.w.Accounts[id].AccountName = "Owner@Partner.example"
	f.w.Mu.Unlock()
	req := rm.CreateInviteAccountToResourceDirectoryRequest()
	req.TargetEntity, req.TargetType = "owner@partner.example", "Email"
	out, err := f.client(t, f.mgmt).InviteAccountToResourceDirectory(req)
	must(t, err)
	acc := rm.CreateAcceptHandshakeRequest()
	acc.HandshakeId = out.Handshake.HandshakeId
	_, err = f.client(t, key).AcceptHandshake(acc)
	must(t, err)
	ev := f.lastRecord(t, id, "AcceptHandshake")
	if ev.RecipientAccountID != id || ev.ResourceName != id || ev.UserIdentity.AccountID != id {
		t.Fatalf("record = %+v", ev)
	}
}
