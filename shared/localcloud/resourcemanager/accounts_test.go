package resourcemanager_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

func TestListAccountsPagesThroughTheDirectory(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	_, err := resourcemanager.Seed(f.w, resourcemanager.SeedOptions{Members: 249, Folders: 5, Rand: rand.New(rand.NewSource(1))})
	must(t, err)
	c := f.client(t, f.mgmt)
	seen := map[string]bool{}
	var sizes []int
	for page := 1; ; page++ {
		req := rm.CreateListAccountsRequest()
		req.PageSize = "100"
		req.PageNumber = requests.NewInteger(page)
		out, err := c.ListAccounts(req)
		must(t, err)
		if out.TotalCount != 250 || out.PageSize != 100 || out.PageNumber != page {
			t.Fatalf("page %d: TotalCount=%d PageSize=%d PageNumber=%d", page, out.TotalCount, out.PageSize, out.PageNumber)
		}
		if len(out.Accounts.Account) == 0 {
			break
		}
		sizes = append(sizes, len(out.Accounts.Account))
		for _, a := range out.Accounts.Account {
			if seen[a.AccountId] {
				t.Fatalf("account %s listed twice", a.AccountId)
			}
			seen[a.AccountId] = true
			if !strings.HasPrefix(a.ResourceDirectoryPath, "rd-") || !strings.HasSuffix(a.ResourceDirectoryPath, "/"+a.AccountId) {
				t.Fatalf("ResourceDirectoryPath = %q", a.ResourceDirectoryPath)
			}
			if _, err := time.Parse("2006-01-02T15:04:05.000Z", a.JoinTime); err != nil {
				t.Fatalf("JoinTime %q has no milliseconds: %v", a.JoinTime, err)
			}
			if len(a.Tags.Tag) != 0 {
				t.Fatalf("tags returned without IncludeTags: %+v", a.Tags)
			}
		}
	}
	if len(seen) != 250 || len(sizes) != 3 || sizes[0] != 100 || sizes[2] != 50 {
		t.Fatalf("listed %d accounts in pages %v, want 250 in 100/100/50", len(seen), sizes)
	}
	if !seen[f.w.ManagementAccountID] {
		t.Fatal("the management account is not listed")
	}
}

func TestListAccountsParametersAndFilters(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	_, err := resourcemanager.Seed(f.w, resourcemanager.SeedOptions{Members: 30, Rand: rand.New(rand.NewSource(2))})
	must(t, err)
	c := f.client(t, f.mgmt)

	for _, size := range []string{"101", "0", "ten"} {
		req := rm.CreateListAccountsRequest()
		req.PageSize = requests.Integer(size)
		_, err := c.ListAccounts(req)
		wantError(t, err, 400, "InvalidParameter.PageSize")
	}
	req := rm.CreateListAccountsRequest()
	req.PageNumber = "0"
	_, err = c.ListAccounts(req)
	wantError(t, err, 400, "InvalidParameter.PageNumber")

	req = rm.CreateListAccountsRequest()
	out, err := c.ListAccounts(req)
	must(t, err)
	if out.PageSize != 10 || out.PageNumber != 1 || len(out.Accounts.Account) != 10 {
		t.Fatalf("defaults: PageSize=%d PageNumber=%d listed=%d", out.PageSize, out.PageNumber, len(out.Accounts.Account))
	}

	req = rm.CreateListAccountsRequest()
	req.IncludeTags = "true"
	req.PageSize = "100"
	req.Tag = &[]rm.ListAccountsTag{{Key: "env", Value: "prod"}}
	out, err = c.ListAccounts(req)
	must(t, err)
	if out.TotalCount == 0 || out.TotalCount >= 30 {
		t.Fatalf("env=prod matched %d of 30", out.TotalCount)
	}
	for _, a := range out.Accounts.Account {
		found := false
		for _, tg := range a.Tags.Tag {
			found = found || (tg.Key == "env" && tg.Value == "prod")
		}
		if !found {
			t.Fatalf("%s listed for env=prod with tags %+v", a.AccountId, a.Tags.Tag)
		}
	}

	req = rm.CreateListAccountsRequest()
	req.QueryParams["QueryKeyword"] = "MEMBER-0001" // case-insensitive, fuzzy: member-00010..00019
	out, err = c.ListAccounts(req)
	must(t, err)
	if out.TotalCount != 10 {
		t.Fatalf("QueryKeyword matched %d, want 10", out.TotalCount)
	}
}

func TestGetAccount(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	create := rm.CreateCreateResourceAccountRequest()
	create.DisplayName = "payments-prod"
	create.AccountNamePrefix = "payments.prod"
	create.Tag = &[]rm.CreateResourceAccountTag{{Key: "env", Value: "prod"}}
	made, err := c.CreateResourceAccount(create)
	must(t, err)
	id := made.Account.AccountId

	cases := []struct {
		name, id, status string
		code             int
	}{
		{"missing", "", "MissingParameter.AccountId", 400},
		{"malformed", "12ab", "InvalidParameter.AccountId", 400},
		{"too short", "123456789", "InvalidParameter.AccountId", 400},
		{"unknown", "1999999999999999", "EntityNotExists.Account", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := rm.CreateGetAccountRequest()
			req.AccountId = tc.id
			_, err := c.GetAccount(req)
			wantError(t, err, tc.code, tc.status)
		})
	}

	req := rm.CreateGetAccountRequest()
	req.AccountId = id
	req.IncludeTags = "true"
	got, err := c.GetAccount(req)
	must(t, err)
	a := got.Account
	if a.AccountId != id || a.DisplayName != "payments-prod" || a.Type != "ResourceAccount" || a.Status != "CreateSuccess" ||
		a.JoinMethod != "created" || a.FolderId != f.w.Directory.RootFolderID || a.ResourceDirectoryId != f.w.Directory.ResourceDirectoryID {
		t.Fatalf("account = %+v", a)
	}
	if want := "payments.prod@" + strings.ToLower(f.w.Directory.ResourceDirectoryID) + ".aliyunid.com"; a.AccountName != want {
		t.Fatalf("AccountName = %q, want %q", a.AccountName, want)
	}
	if len(a.Tags) != 1 || a.Tags[0].Key != "env" || a.Tags[0].Value != "prod" {
		t.Fatalf("flat Tags = %+v", a.Tags)
	}
	if a.ResourceDirectoryPath != f.w.Directory.ResourceDirectoryID+"/"+f.w.Directory.RootFolderID+"/"+id {
		t.Fatalf("ResourceDirectoryPath = %q", a.ResourceDirectoryPath)
	}
}

func TestCreateResourceAccountLeavesARealisticRecord(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	folder := rm.CreateCreateFolderRequest()
	folder.FolderName = "Production"
	fd, err := c.CreateFolder(folder)
	must(t, err)

	req := rm.CreateCreateResourceAccountRequest()
	req.DisplayName = "web prod"
	req.ParentFolderId = fd.Folder.FolderId
	out, err := c.CreateResourceAccount(req)
	must(t, err)
	id := out.Account.AccountId
	if len(id) != 16 || out.Account.Status != "CreateSuccess" || out.Account.FolderId != fd.Folder.FolderId || out.Account.JoinMethod != "created" {
		t.Fatalf("created = %+v", out.Account)
	}
	f.w.Mu.RLock()
	role := f.w.Roles[id]["resourcedirectoryaccountaccessrole"]
	f.w.Mu.RUnlock()
	if role == nil || len(role.TrustedAccounts) != 1 || role.TrustedAccounts[0] != f.w.ManagementAccountID {
		t.Fatalf("ResourceDirectoryAccountAccessRole = %+v", role)
	}

	ev := f.lastRecord(t, f.w.ManagementAccountID, "CreateResourceAccount")
	acct, _ := ev.ResponseElements["Account"].(map[string]any)
	if ev.RecipientAccountID != f.w.ManagementAccountID || ev.EventSource != "resourcemanager.aliyuncs.com" || ev.EventRW != "Write" ||
		ev.ResourceType != "ACS::ResourceManager::Account" || ev.ResourceName != id || acct["AccountId"] != id ||
		ev.RequestParameters["DisplayName"] != "web prod" || ev.ErrorCode != "" || ev.UserIdentity.AccountID != f.w.ManagementAccountID {
		t.Fatalf("record = %+v", ev)
	}

	// Error paths.
	_, err = c.CreateResourceAccount(req)
	wantError(t, err, 409, "InvalidParameter.Account.DisplayName.AlreadyUsed")
	cases := []struct {
		name, display, prefix, parent, code string
		status                              int
	}{
		{"no display name", "", "", "", "MissingParameter.Account.DisplayName", 400},
		{"display name too short", "x", "", "", "InvalidParameter.Account.DisplayName.Length", 400},
		{"display name chars", "bad/name", "", "", "InvalidParameter.Account.DisplayName", 400},
		{"prefix doubled specials", "ok-name", "a..b", "", "InvalidParameter.Account.AccountNamePrefix", 400},
		{"malformed parent", "ok-name", "", "folder-1", "InvalidParameter.ParentFolderId", 400},
		{"unknown parent", "ok-name", "", "fd-doesnotexist", "EntityNotExists.Folder", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rm.CreateCreateResourceAccountRequest()
			r.DisplayName, r.AccountNamePrefix, r.ParentFolderId = tc.display, tc.prefix, tc.parent
			_, err := c.CreateResourceAccount(r)
			wantError(t, err, tc.status, tc.code)
		})
	}
	// A failed write is still recorded, with its error, as ActionTrail does.
	ev = f.lastFailure(t, f.w.ManagementAccountID, "CreateResourceAccount")
	if ev.ErrorCode != "EntityNotExists.Folder" {
		t.Fatalf("failed call record errorCode = %q", ev.ErrorCode)
	}
}

func TestPendingCreatesAndSetStatus(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{PendingCreates: true})
	c := f.client(t, f.mgmt)
	req := rm.CreateCreateResourceAccountRequest()
	req.DisplayName = "pending-one"
	out, err := c.CreateResourceAccount(req)
	must(t, err)
	id := out.Account.AccountId
	if out.Account.Status != "CreateVerifying" {
		t.Fatalf("status = %s, want CreateVerifying", out.Account.Status)
	}
	status := func() string {
		list := rm.CreateListAccountsRequest()
		res, err := c.ListAccounts(list)
		must(t, err)
		for _, a := range res.Accounts.Account {
			if a.AccountId == id {
				return a.Status
			}
		}
		return "missing"
	}
	if got := status(); got != "CreateVerifying" {
		t.Fatalf("listed status = %s", got)
	}
	resourcemanager.SetStatus(f.w, id, "CreateSuccess")
	if got := status(); got != "CreateSuccess" {
		t.Fatalf("after SetStatus: %s", got)
	}

	promote := rm.CreatePromoteResourceAccountRequest()
	promote.AccountId, promote.Email = id, "owner@example.com"
	p, err := c.PromoteResourceAccount(promote)
	must(t, err)
	if p.Account.Status != "PromoteVerifying" || status() != "PromoteVerifying" {
		t.Fatalf("promotion did not wait: response %s, listed %s", p.Account.Status, status())
	}
	resourcemanager.SetStatus(f.w, id, "PromoteSuccess")
	get := rm.CreateGetAccountRequest()
	get.AccountId = id
	a, err := c.GetAccount(get)
	must(t, err)
	if a.Account.Status != "PromoteSuccess" || a.Account.Type != "CloudAccount" {
		t.Fatalf("after promotion: %s %s", a.Account.Status, a.Account.Type)
	}
}

func TestStatusFuncDecides(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{Status: func(action, id string) string {
		if action == "CreateResourceAccount" {
			return "CreateFailed"
		}
		return ""
	}})
	req := rm.CreateCreateResourceAccountRequest()
	req.DisplayName = "fails"
	out, err := f.client(t, f.mgmt).CreateResourceAccount(req)
	must(t, err)
	if out.Account.Status != "CreateFailed" {
		t.Fatalf("status = %s", out.Account.Status)
	}
}

func TestPromoteResourceAccount(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	id, _ := f.member(t, "to-promote")
	req := rm.CreatePromoteResourceAccountRequest()
	req.AccountId = id
	_, err := c.PromoteResourceAccount(req)
	wantError(t, err, 400, "MissingParameter.Email")
	req.Email = "not-an-email"
	_, err = c.PromoteResourceAccount(req)
	wantError(t, err, 400, "InvalidParameter.Email")
	req.Email = "owner@example.com"
	out, err := c.PromoteResourceAccount(req)
	must(t, err)
	if out.Account.Status != "PromoteVerifying" || out.Account.Type != "ResourceAccount" {
		t.Fatalf("response = %+v", out.Account)
	}
	get := rm.CreateGetAccountRequest()
	get.AccountId = id
	a, err := c.GetAccount(get)
	must(t, err)
	if a.Account.Status != "PromoteSuccess" || a.Account.Type != "CloudAccount" || a.Account.AccountName != "owner@example.com" {
		t.Fatalf("after promotion = %+v", a.Account)
	}
	_, err = c.PromoteResourceAccount(req)
	wantError(t, err, 409, "AccountTypeOrStatusMismatch")
	ev := f.lastRecord(t, f.w.ManagementAccountID, "PromoteResourceAccount")
	if ev.ResourceName != id || ev.RequestParameters["AccountId"] != id {
		t.Fatalf("record = %+v", ev)
	}
}

func TestUpdateAndMoveAccount(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	id, _ := f.member(t, "old-name")
	other, _ := f.member(t, "taken-name")
	_ = other

	up := rm.CreateUpdateAccountRequest()
	up.AccountId = id
	_, err := c.UpdateAccount(up)
	wantError(t, err, 409, "MissingDisplayNameOrAccountType")
	up.NewDisplayName = "taken-name"
	_, err = c.UpdateAccount(up)
	wantError(t, err, 409, "InvalidParameter.Account.DisplayName.AlreadyUsed")
	up.NewDisplayName = "new-name"
	out, err := c.UpdateAccount(up)
	must(t, err)
	if out.Account.DisplayName != "new-name" {
		t.Fatalf("DisplayName = %s", out.Account.DisplayName)
	}

	ty := rm.CreateUpdateAccountRequest()
	ty.AccountId, ty.NewAccountType = id, "CloudAccount"
	switched, err := c.UpdateAccount(ty)
	must(t, err)
	if switched.Account.Type != "CloudAccount" || switched.Account.DisplayName != "new-name" {
		t.Fatalf("after switching type: %+v", switched.Account)
	}
	_, err = c.UpdateAccount(ty)
	wantError(t, err, 409, "AccountTypeMismatch")
	ty = rm.CreateUpdateAccountRequest()
	ty.AccountId, ty.NewAccountType = id, "Robot"
	_, err = c.UpdateAccount(ty)
	wantError(t, err, 400, "InvalidParameter.NewAccountType")

	fr := rm.CreateCreateFolderRequest()
	fr.FolderName = "Apps"
	fd, err := c.CreateFolder(fr)
	must(t, err)
	mv := rm.CreateMoveAccountRequest()
	mv.AccountId = id
	_, err = c.MoveAccount(mv)
	wantError(t, err, 400, "MissingParameter.DestinationFolderId")
	mv.DestinationFolderId = "nope"
	_, err = c.MoveAccount(mv)
	wantError(t, err, 400, "InvalidParameter.DestinationFolderId")
	mv.DestinationFolderId = "fd-missing0000"
	_, err = c.MoveAccount(mv)
	wantError(t, err, 404, "EntityNotExists.Folder")
	mv.DestinationFolderId = fd.Folder.FolderId
	mv.AccountId = "1999999999999999"
	_, err = c.MoveAccount(mv)
	wantError(t, err, 404, "EntityNotExists.Account")
	mv.AccountId = id
	_, err = c.MoveAccount(mv)
	must(t, err)

	list := rm.CreateListAccountsForParentRequest()
	list.ParentFolderId = fd.Folder.FolderId
	in, err := c.ListAccountsForParent(list)
	must(t, err)
	if in.TotalCount != 1 || in.Accounts.Account[0].AccountId != id || in.Accounts.Account[0].FolderId != fd.Folder.FolderId {
		t.Fatalf("folder lists %+v", in.Accounts.Account)
	}
	ev := f.lastRecord(t, f.w.ManagementAccountID, "MoveAccount")
	if ev.RecipientAccountID != f.w.ManagementAccountID || ev.RequestParameters["AccountId"] != id ||
		ev.RequestParameters["DestinationFolderId"] != fd.Folder.FolderId || ev.ResourceName != id || ev.ErrorCode != "" {
		t.Fatalf("MoveAccount record = %+v", ev)
	}
}

func TestRemoveAndDeleteAccounts(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	resource, resourceKey := f.member(t, "resource-acct")
	cloud := invite(t, f, "partner")
	admin := invite(t, f, "partner-admin")
	f.delegate(t, admin, "actiontrail.aliyuncs.com")

	rmReq := func(id string) error {
		r := rm.CreateRemoveCloudAccountRequest()
		r.AccountId = id
		_, err := c.RemoveCloudAccount(r)
		return err
	}
	delReq := func(id string) (*rm.DeleteAccountResponse, error) {
		r := rm.CreateDeleteAccountRequest()
		r.AccountId = id
		return c.DeleteAccount(r)
	}
	wantError(t, rmReq(""), 400, "MissingParameter.AccountId")
	wantError(t, rmReq("x"), 400, "InvalidParameter.AccountId")
	wantError(t, rmReq("1999999999999999"), 404, "EntityNotExists.Account")
	wantError(t, rmReq(resource), 409, "AccountTypeOrStatusMismatch")
	wantError(t, rmReq(admin), 409, "Deny.TrustedService")
	wantError(t, rmReq(f.w.ManagementAccountID), 404, "EntityNotExists.Account")
	must(t, rmReq(cloud))
	get := rm.CreateGetAccountRequest()
	get.AccountId = cloud
	_, err := c.GetAccount(get)
	wantError(t, err, 404, "EntityNotExists.Account")
	ev := f.lastRecord(t, f.w.ManagementAccountID, "RemoveCloudAccount")
	if ev.RecipientAccountID != f.w.ManagementAccountID || ev.RequestParameters["AccountId"] != cloud || ev.ResourceName != cloud || ev.ErrorCode != "" {
		t.Fatalf("RemoveCloudAccount record = %+v", ev)
	}
	wantError(t, rmReq(cloud), 404, "EntityNotExists.Account")

	_, err = delReq(admin)
	wantError(t, err, 409, "MemberTypeError.DeleteAccount")
	out, err := delReq(resource)
	must(t, err)
	if out.DeletionType != "0" {
		t.Fatalf("DeletionType = %q", out.DeletionType)
	}
	_, err = c.GetAccount(func() *rm.GetAccountRequest { r := rm.CreateGetAccountRequest(); r.AccountId = resource; return r }())
	wantError(t, err, 404, "EntityNotExists.Account")
	ev = f.lastRecord(t, f.w.ManagementAccountID, "DeleteAccount")
	if ev.ResourceName != resource || ev.ResponseElements["DeletionType"] != "0" {
		t.Fatalf("DeleteAccount record = %+v", ev)
	}
	// The deleted account's own key no longer works.
	_, err = f.client(t, resourceKey).GetResourceDirectory(rm.CreateGetResourceDirectoryRequest())
	wantError(t, err, 404, "InvalidAccessKeyId.NotFound")
}

func TestAuthorizationAsTheRealService(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	memberID, memberKey := f.member(t, "plain-member")
	adminID, adminKey := f.member(t, "trail-admin")
	f.delegate(t, adminID, "actiontrail.aliyuncs.com")
	_, outsiderKey := f.outsider(t, "stranger")
	target, _ := f.member(t, "someone")

	listAccounts := func(c *rm.Client) error { _, err := c.ListAccounts(rm.CreateListAccountsRequest()); return err }
	getAccount := func(c *rm.Client) error {
		r := rm.CreateGetAccountRequest()
		r.AccountId = target
		_, err := c.GetAccount(r)
		return err
	}
	listFolders := func(c *rm.Client) error {
		_, err := c.ListFoldersForParent(rm.CreateListFoldersForParentRequest())
		return err
	}
	listAdmins := func(c *rm.Client) error {
		_, err := c.ListDelegatedAdministrators(rm.CreateListDelegatedAdministratorsRequest())
		return err
	}
	made := 0
	create := func(c *rm.Client) error {
		made++
		r := rm.CreateCreateResourceAccountRequest()
		r.DisplayName = fmt.Sprintf("made-%d", made)
		_, err := c.CreateResourceAccount(r)
		return err
	}
	register := func(c *rm.Client) error {
		r := rm.CreateRegisterDelegatedAdministratorRequest()
		r.AccountId, r.ServicePrincipal = memberID, "audit.log.aliyuncs.com"
		_, err := c.RegisterDelegatedAdministrator(r)
		return err
	}
	remove := func(c *rm.Client) error {
		r := rm.CreateRemoveCloudAccountRequest()
		r.AccountId = memberID
		_, err := c.RemoveCloudAccount(r)
		return err
	}
	getDirectory := func(c *rm.Client) error {
		_, err := c.GetResourceDirectory(rm.CreateGetResourceDirectoryRequest())
		return err
	}
	const denied = "MemberAccountAccessDenied"
	cases := []struct {
		who    string
		client *rm.Client
		call   string
		do     func(*rm.Client) error
		status int
		code   string
	}{
		{"member", f.client(t, memberKey), "ListAccounts", listAccounts, 403, denied},
		{"member", f.client(t, memberKey), "GetAccount", getAccount, 403, denied},
		{"member", f.client(t, memberKey), "ListFoldersForParent", listFolders, 403, denied},
		{"member", f.client(t, memberKey), "CreateResourceAccount", create, 403, denied},
		{"member", f.client(t, memberKey), "GetResourceDirectory", getDirectory, 200, ""},
		{"delegated admin", f.client(t, adminKey), "ListAccounts", listAccounts, 200, ""},
		{"delegated admin", f.client(t, adminKey), "GetAccount", getAccount, 200, ""},
		{"delegated admin", f.client(t, adminKey), "ListFoldersForParent", listFolders, 200, ""},
		{"delegated admin", f.client(t, adminKey), "ListDelegatedAdministrators", listAdmins, 200, ""},
		{"delegated admin", f.client(t, adminKey), "CreateResourceAccount", create, 200, ""},
		{"delegated admin", f.client(t, adminKey), "RegisterDelegatedAdministrator", register, 403, denied},
		{"delegated admin", f.client(t, adminKey), "RemoveCloudAccount", remove, 403, denied},
		{"outsider", f.client(t, outsiderKey), "ListAccounts", listAccounts, 404, "EntityNotExists.ResourceDirectory"},
		{"outsider", f.client(t, outsiderKey), "GetResourceDirectory", getDirectory, 404, "ResourceDirectoryNotInUse"},
	}
	for _, tc := range cases {
		t.Run(tc.who+" "+tc.call, func(t *testing.T) {
			err := tc.do(tc.client)
			if tc.status == 200 {
				must(t, err)
				return
			}
			wantError(t, err, tc.status, tc.code)
		})
	}
}

func TestReadOnlyRAMUserCannotWrite(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	f.w.Mu.Lock()
	ro := f.w.NewAccessKeyLocked(f.w.ManagementAccountID, "auditor-readonly")
	f.w.Mu.Unlock()
	c := f.client(t, ro)
	_, err := c.ListAccounts(rm.CreateListAccountsRequest())
	must(t, err)
	r := rm.CreateCreateFolderRequest()
	r.FolderName = "Nope"
	_, err = c.CreateFolder(r)
	wantError(t, err, 403, "NoPermission")
}

func TestGetResourceDirectory(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	out, err := f.client(t, f.mgmt).GetResourceDirectory(rm.CreateGetResourceDirectoryRequest())
	must(t, err)
	d := out.ResourceDirectory
	if d.ResourceDirectoryId != f.w.Directory.ResourceDirectoryID || d.RootFolderId != f.w.Directory.RootFolderID ||
		d.MasterAccountId != f.w.ManagementAccountID || d.MasterAccountName != "mgmt" || d.MemberDeletionStatus != "Enabled" {
		t.Fatalf("directory = %+v", d)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", d.CreateTime); err != nil {
		t.Fatalf("CreateTime %q: %v", d.CreateTime, err)
	}
	// A world whose management account never enabled a directory.
	f.w.Mu.Lock()
	f.w.Directory = nil
	f.w.Mu.Unlock()
	_, err = f.client(t, f.mgmt).GetResourceDirectory(rm.CreateGetResourceDirectoryRequest())
	wantError(t, err, 404, "ResourceDirectoryNotInUse")
	_, err = f.client(t, f.mgmt).ListAccounts(rm.CreateListAccountsRequest())
	wantError(t, err, 404, "EntityNotExists.ResourceDirectory")
}

func TestTagAndUntagResources(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	a, _ := f.member(t, "tag-a")
	b, _ := f.member(t, "tag-b")
	tag := rm.CreateTagResourcesRequest()
	tag.ResourceType = "Account"
	tag.ResourceId = &[]string{a, b}
	tag.Tag = &[]rm.TagResourcesTag{{Key: "env", Value: "prod"}, {Key: "team", Value: "web"}}
	_, err := c.TagResources(tag)
	must(t, err)
	tag.Tag = &[]rm.TagResourcesTag{{Key: "env", Value: "dev"}}
	tag.ResourceId = &[]string{b}
	_, err = c.TagResources(tag)
	must(t, err)
	tag.ResourceType = "Folder"
	_, err = c.TagResources(tag)
	wantError(t, err, 400, "InvalidParameter.ResourceType")

	untag := rm.CreateUntagResourcesRequest()
	untag.ResourceType = "Account"
	untag.ResourceId = &[]string{a}
	untag.TagKey = &[]string{"team"}
	_, err = c.UntagResources(untag)
	must(t, err)

	tagsOf := func(id string) map[string]string {
		r := rm.CreateGetAccountRequest()
		r.AccountId, r.IncludeTags = id, "true"
		out, err := c.GetAccount(r)
		must(t, err)
		m := map[string]string{}
		for _, tg := range out.Account.Tags {
			m[tg.Key] = tg.Value
		}
		return m
	}
	if got := tagsOf(a); len(got) != 1 || got["env"] != "prod" {
		t.Fatalf("a tags = %v", got)
	}
	if got := tagsOf(b); len(got) != 2 || got["env"] != "dev" || got["team"] != "web" {
		t.Fatalf("b tags = %v", got)
	}
}

func TestCreateServiceLinkedRole(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	req := rm.CreateCreateServiceLinkedRoleRequest()
	req.ServiceName = "actiontrail.aliyuncs.com"
	out, err := f.client(t, f.mgmt).CreateServiceLinkedRole(req)
	must(t, err)
	if out.Role.RoleName != "AliyunServiceRoleForActionTrail" {
		t.Fatalf("role = %+v", out.Role)
	}
	f.w.Mu.RLock()
	ok := f.w.ServiceLinkedRoles[f.w.ManagementAccountID]["actiontrail.aliyuncs.com"]
	f.w.Mu.RUnlock()
	if !ok {
		t.Fatal("service-linked role not recorded")
	}
	ev := f.lastRecord(t, f.w.ManagementAccountID, "CreateServiceLinkedRole")
	if ev.ResourceType != "ACS::RAM::Role" {
		t.Fatalf("record = %+v", ev)
	}
	req.ServiceName = "nothing.aliyuncs.com"
	_, err = f.client(t, f.mgmt).CreateServiceLinkedRole(req)
	wantError(t, err, 400, "InvalidParameter.ServiceName")
}

func TestFrequencyFaultReachesTheSDK(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	f.w.Faults.Script(resourcemanager.FrequencyFault("ListAccounts", 1))
	c := f.client(t, f.mgmt)
	_, err := c.ListAccounts(rm.CreateListAccountsRequest())
	wantError(t, err, 409, "LimitExceeded.Frequency")
	_, err = c.ListAccounts(rm.CreateListAccountsRequest())
	must(t, err)
	_, _, throttled := f.w.Stats.Sum("ResourceManager", "ListAccounts")
	if throttled != 1 {
		t.Fatalf("throttled calls counted = %d, want 1", throttled)
	}
}

func TestConcurrentCreatesStayConsistent(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	const n = 16
	ids := make(chan string, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		// One client per goroutine: the SDK's Client rewrites its http.Client timeout on every
		// call (sdk/client.go setTimeout), a data race when a client is shared.
		own := f.client(t, f.mgmt)
		go func(i int) {
			r := rm.CreateCreateResourceAccountRequest()
			r.DisplayName = fmt.Sprintf("parallel-%02d", i)
			out, err := own.CreateResourceAccount(r)
			if err != nil {
				errs <- err
				return
			}
			ids <- out.Account.AccountId
		}(i)
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			t.Fatal(err)
		case id := <-ids:
			seen[id] = true
		}
	}
	list := rm.CreateListAccountsRequest()
	list.PageSize = "100"
	out, err := c.ListAccounts(list)
	must(t, err)
	if len(seen) != n || out.TotalCount != n+1 {
		t.Fatalf("%d unique ids, %d listed; want %d and %d", len(seen), out.TotalCount, n, n+1)
	}
	if got := len(f.records(f.w.ManagementAccountID)); got != n {
		t.Fatalf("%d records, want one per create", got)
	}
}
