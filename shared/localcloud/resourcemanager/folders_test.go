package resourcemanager_test

import (
	"fmt"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

func TestFolderTree(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	root := f.w.Directory.RootFolderID
	mk := func(name, parent string) string {
		t.Helper()
		r := rm.CreateCreateFolderRequest()
		r.FolderName, r.ParentFolderId = name, parent
		out, err := c.CreateFolder(r)
		must(t, err)
		if out.Folder.FolderName != name || (parent != "" && out.Folder.ParentFolderId != parent) || out.Folder.FolderId[:3] != "fd-" {
			t.Fatalf("created %+v", out.Folder)
		}
		return out.Folder.FolderId
	}

	// Five levels under the root are allowed, a sixth is not.
	chain := []string{mk("L1", "")}
	for i := 2; i <= 5; i++ {
		chain = append(chain, mk(fmt.Sprintf("L%d", i), chain[len(chain)-1]))
	}
	deep := rm.CreateCreateFolderRequest()
	deep.FolderName, deep.ParentFolderId = "L6", chain[4]
	_, err := c.CreateFolder(deep)
	wantError(t, err, 409, "LimitExceeded.Folder.Depth")

	anc := rm.CreateListAncestorsRequest()
	anc.ChildId = chain[4]
	ancestors, err := c.ListAncestors(anc)
	must(t, err)
	got := []string{}
	for _, fd := range ancestors.Folders.Folder {
		got = append(got, fd.FolderId)
	}
	want := append([]string{root}, chain[:4]...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ancestors = %v, want root first %v", got, want)
	}
	// Requests are fresh each time: the SDK keeps a reused request's old query values.
	for _, tc := range []struct{ id, code string }{{"", "MissingParameter.ChildId"}, {"x-1", "InvalidParameter.ChildId"}} {
		bad := rm.CreateListAncestorsRequest()
		bad.ChildId = tc.id
		_, err := c.ListAncestors(bad)
		wantError(t, err, 400, tc.code)
	}
	anc = rm.CreateListAncestorsRequest()
	anc.ChildId = "fd-gone000000"
	_, err = c.ListAncestors(anc)
	wantError(t, err, 404, "EntityNotExists.Folder")

	get := rm.CreateGetFolderRequest()
	get.FolderId = chain[1]
	gf, err := c.GetFolder(get)
	must(t, err)
	if gf.Folder.ParentFolderId != chain[0] || gf.Folder.ResourceDirectoryPath != f.w.Directory.ResourceDirectoryID+"/"+root+"/"+chain[0]+"/"+chain[1] {
		t.Fatalf("GetFolder = %+v", gf.Folder)
	}
	get.FolderId = "fd-gone000000"
	_, err = c.GetFolder(get)
	wantError(t, err, 404, "EntityNotExists.Folder")

	// Direct children only, paged, filtered.
	for i := 0; i < 12; i++ {
		mk(fmt.Sprintf("team-%02d", i), "")
	}
	dup := rm.CreateCreateFolderRequest()
	dup.FolderName = "team-00"
	_, err = c.CreateFolder(dup)
	wantError(t, err, 400, "InvalidParameter.Folder.Name.AlreadyUsed")
	for _, tc := range []struct{ name, code string }{
		{"", "MissingParameter.Folder.Name"}, {"this-name-is-far-too-long-for-rm", "InvalidParameter.Folder.Name.Length"}, {"a/b", "InvalidParameter.Folder.Name"},
	} {
		r := rm.CreateCreateFolderRequest()
		r.FolderName = tc.name
		_, err := c.CreateFolder(r)
		wantError(t, err, 400, tc.code)
	}
	list := rm.CreateListFoldersForParentRequest()
	list.PageSize = "5"
	list.PageNumber = requests.NewInteger(3)
	page3, err := c.ListFoldersForParent(list)
	must(t, err)
	if page3.TotalCount != 13 || len(page3.Folders.Folder) != 3 {
		t.Fatalf("root children: total %d, page 3 has %d (want 13 and 3)", page3.TotalCount, len(page3.Folders.Folder))
	}
	list = rm.CreateListFoldersForParentRequest()
	list.QueryKeyword = "TEAM-1"
	filtered, err := c.ListFoldersForParent(list)
	must(t, err)
	if filtered.TotalCount != 2 {
		t.Fatalf("QueryKeyword team-1 matched %d, want 2", filtered.TotalCount)
	}
	list = rm.CreateListFoldersForParentRequest()
	list.ParentFolderId = chain[2]
	sub, err := c.ListFoldersForParent(list)
	must(t, err)
	if sub.TotalCount != 1 || sub.Folders.Folder[0].FolderId != chain[3] {
		t.Fatalf("children of L3 = %+v", sub.Folders.Folder)
	}

	// Deleting: not with subfolders, not with accounts, not the root.
	del := rm.CreateDeleteFolderRequest()
	del.FolderId = chain[3]
	_, err = c.DeleteFolder(del)
	wantError(t, err, 409, "DeleteConflict.Folder.SubFolder")
	id, _ := f.member(t, "in-a-folder")
	mv := rm.CreateMoveAccountRequest()
	mv.AccountId, mv.DestinationFolderId = id, chain[4]
	_, err = c.MoveAccount(mv)
	must(t, err)
	del.FolderId = chain[4]
	_, err = c.DeleteFolder(del)
	wantError(t, err, 409, "DeleteConflict.Folder.Account")
	mv.DestinationFolderId = root
	_, err = c.MoveAccount(mv)
	must(t, err)
	_, err = c.DeleteFolder(del)
	must(t, err)
	_, err = c.DeleteFolder(del)
	wantError(t, err, 404, "EntityNotExists.Folder")
	del.FolderId = root
	_, err = c.DeleteFolder(del)
	wantError(t, err, 400, "InvalidParameter.FolderId")
	ev := f.lastRecord(t, f.w.ManagementAccountID, "DeleteFolder")
	if ev.ResourceType != "ACS::ResourceManager::Folder" {
		t.Fatalf("DeleteFolder record = %+v", ev)
	}
	// ListAncestors takes a member id too: its folder path.
	anc = rm.CreateListAncestorsRequest()
	anc.ChildId = id
	mine, err := c.ListAncestors(anc)
	must(t, err)
	if len(mine.Folders.Folder) != 1 || mine.Folders.Folder[0].FolderId != root {
		t.Fatalf("ancestors of a root member = %+v", mine.Folders.Folder)
	}
}

func TestDelegatedAdministrators(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	c := f.client(t, f.mgmt)
	a, _ := f.member(t, "admin-a")
	b, _ := f.member(t, "admin-b")
	reg := func(id, sp string) error {
		r := rm.CreateRegisterDelegatedAdministratorRequest()
		r.AccountId, r.ServicePrincipal = id, sp
		_, err := c.RegisterDelegatedAdministrator(r)
		return err
	}
	must(t, reg(a, "actiontrail.aliyuncs.com"))
	f.clock.Advance(1e9)
	must(t, reg(a, "audit.log.aliyuncs.com"))
	f.clock.Advance(1e9)
	must(t, reg(b, "actiontrail.aliyuncs.com"))
	wantError(t, reg(a, "actiontrail.aliyuncs.com"), 409, "AccountAlreadyRegistered")
	wantError(t, reg(f.w.ManagementAccountID, "actiontrail.aliyuncs.com"), 409, "CannotRegisterMasterAsDelegatedAdministrator")
	wantError(t, reg(a, "nothing.aliyuncs.com"), 409, "InvalidParameter.ServicePrincipal")
	wantError(t, reg("1999999999999999", "actiontrail.aliyuncs.com"), 404, "EntityNotExists.Account")
	wantError(t, reg(a, ""), 400, "MissingParameter.ServicePrincipal")

	list := rm.CreateListDelegatedAdministratorsRequest()
	list.ServicePrincipal = "actiontrail.aliyuncs.com"
	out, err := c.ListDelegatedAdministrators(list)
	must(t, err)
	if out.TotalCount != 2 || out.Accounts.Account[0].AccountId != a || out.Accounts.Account[1].AccountId != b ||
		out.Accounts.Account[0].ServicePrincipal != "actiontrail.aliyuncs.com" || out.Accounts.Account[0].DisplayName != "admin-a" ||
		out.Accounts.Account[0].DelegationEnabledTime == "" {
		t.Fatalf("actiontrail admins = %+v", out.Accounts.Account)
	}
	list = rm.CreateListDelegatedAdministratorsRequest()
	list.PageSize = "2"
	list.PageNumber = "2"
	out, err = c.ListDelegatedAdministrators(list)
	must(t, err)
	if out.TotalCount != 3 || len(out.Accounts.Account) != 1 || out.Accounts.Account[0].AccountId != b {
		t.Fatalf("page 2 of all admins = %+v (total %d)", out.Accounts.Account, out.TotalCount)
	}

	dereg := rm.CreateDeregisterDelegatedAdministratorRequest()
	dereg.AccountId, dereg.ServicePrincipal = a, "actiontrail.aliyuncs.com"
	_, err = c.DeregisterDelegatedAdministrator(dereg)
	must(t, err)
	_, err = c.DeregisterDelegatedAdministrator(dereg)
	wantError(t, err, 409, "AccountNotRegistered")
	ev := f.lastRecord(t, f.w.ManagementAccountID, "RegisterDelegatedAdministrator")
	if ev.RequestParameters["ServicePrincipal"] == nil || ev.ResourceName == "" {
		t.Fatalf("record = %+v", ev)
	}
}
