package directory_test

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// fastRetry keeps throttling storms quick: 20 attempts make a call fail at 50% throttling
// about once in a million.
var fastRetry = cloud.RetryPolicy{MaxAttempts: 20, Base: time.Millisecond, Cap: 5 * time.Millisecond}

func start(t *testing.T, opts localcloud.Options) (*localcloud.Server, *cloud.Session) {
	t.Helper()
	srv, err := localcloud.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	info := srv.CloudInfo()
	s, err := info.Session(cloud.WithRetryPolicy(fastRetry), cloud.WithLimits(map[string]cloud.Limit{"resourcemanager": {}}))
	if err != nil {
		t.Fatal(err)
	}
	return srv, s
}

func calls(srv *localcloud.Server, action string) int64 {
	n, _, _ := srv.World.Stats.Sum("ResourceManager", action)
	return n
}

// nest makes root -> a -> b -> c and moves the account into c; it returns [root a b c].
func nest(t *testing.T, w *core.World, accountID string) []string {
	t.Helper()
	w.Mu.Lock()
	defer w.Mu.Unlock()
	path := []string{w.Directory.RootFolderID}
	for i, id := range []string{"fd-nestA00001", "fd-nestB00002", "fd-nestC00003"} {
		w.Folders[id] = &core.Folder{FolderID: id, FolderName: "nest-" + string(rune('a'+i)), ParentFolderID: path[len(path)-1], CreateTime: w.Now()}
		path = append(path, id)
	}
	w.Accounts[accountID].FolderID = path[len(path)-1]
	return path
}

// want is what the world says a member is.
func want(w *core.World, id string) directory.Member {
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	a := w.Accounts[id]
	tags := map[string]string{}
	for _, t := range a.Tags {
		tags[t.Key] = t.Value
	}
	return directory.Member{
		AccountID: a.AccountID, DisplayName: a.DisplayName, Type: a.Type, Status: a.Status, JoinMethod: a.JoinMethod,
		FolderID: a.FolderID, FolderPath: w.FolderPathLocked(a.FolderID), Tags: tags, JoinTime: a.JoinTime.UTC().Truncate(time.Millisecond),
	}
}

func TestInfo(t *testing.T) {
	srv, s := start(t, localcloud.Options{Members: 2})
	got, err := directory.New(s).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := srv.World.Directory
	wantInfo := directory.Info{ID: d.ResourceDirectoryID, RootFolderID: d.RootFolderID, ManagementAccountID: d.MasterAccountID}
	if got != wantInfo {
		t.Fatalf("Info = %+v, want %+v", got, wantInfo)
	}
}

func TestMembersPagingFoldersAndCallCounts(t *testing.T) {
	const members, folders, pending = 250, 12, 6
	srv, s := start(t, localcloud.Options{Members: members, Folders: folders, Pending: pending, Invited: 20, Seed: 7})
	deep := srv.Seeded.Members[17].AccountID
	deepPath := nest(t, srv.World, deep)
	srv.World.Stats.Reset()

	c := directory.New(s)
	got, err := c.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != members {
		t.Fatalf("Members returned %d, want %d", len(got), members)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].AccountID < got[j].AccountID }) {
		t.Error("Members are not ordered by AccountId")
	}
	nPending := 0
	for _, m := range got {
		if m.AccountID == srv.World.ManagementAccountID {
			t.Fatalf("the management account %s is listed as a member", m.AccountID)
		}
		if w := want(srv.World, m.AccountID); !reflect.DeepEqual(m, w) {
			t.Errorf("member %s:\n got %+v\nwant %+v", m.AccountID, m, w)
		}
		if m.Pending() {
			nPending++
			if m.Active() {
				t.Errorf("member %s is both pending and active", m.AccountID)
			}
		}
	}
	if nPending != pending {
		t.Errorf("%d pending members, want %d", nPending, pending)
	}
	for _, m := range got {
		if m.AccountID == deep && !reflect.DeepEqual(m.FolderPath, deepPath) {
			t.Errorf("FolderPath of the member in a depth-3 folder = %v, want %v", m.FolderPath, deepPath)
		}
	}

	// Calls: ListAccounts pages cover the management account too (251 accounts: 3 pages).
	accounts := members + 1
	for _, tc := range []struct {
		action string
		want   int64
	}{
		{"GetResourceDirectory", 1},
		{"ListAccounts", int64((accounts + 99) / 100)},
		{"ListFoldersForParent", int64(folders + 3 + 1)}, // seeded, nested, root: one call each
		{"ListAncestors", 0},
		{"GetAccount", 0},
	} {
		if n := calls(srv, tc.action); n != tc.want {
			t.Errorf("%s calls = %d, want %d", tc.action, n, tc.want)
		}
	}

	// A second listing reuses the cached directory info.
	srv.World.Stats.Reset()
	again, err := c.Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Error("a second Members differs from the first on an unchanged directory")
	}
	if n := calls(srv, "GetResourceDirectory"); n != 0 {
		t.Errorf("second Members called GetResourceDirectory %d times, want 0", n)
	}
}

func TestMembersEmptyDirectory(t *testing.T) {
	srv, s := start(t, localcloud.Options{})
	got, err := directory.New(s).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("Members of a directory with only the management account = %v, want none", got)
	}
	if n := calls(srv, "ListAccounts"); n != 1 {
		t.Errorf("ListAccounts calls = %d, want 1", n)
	}
}

func TestMembersThrottlingStorm(t *testing.T) {
	srv, s := start(t, localcloud.Options{Members: 230, Folders: 8, Seed: 3})
	calm, err := directory.New(s).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv.World.Stats.Reset()
	srv.World.Faults.Set(core.FaultConfig{ThrottleRate: 0.5, Seed: 11})
	stormy, err := directory.New(s).Members(context.Background())
	if err != nil {
		t.Fatalf("Members under 50%% throttling: %v", err)
	}
	if !reflect.DeepEqual(stormy, calm) {
		t.Error("Members under throttling differs from Members without it")
	}
	if _, _, throttled := srv.World.Stats.Sum("ResourceManager", ""); throttled == 0 {
		t.Error("no call was throttled: the storm did not happen")
	}
}

func TestMember(t *testing.T) {
	srv, s := start(t, localcloud.Options{Members: 12, Pending: 2, Invited: 3, Folders: 3, Seed: 5})
	w := srv.World
	var created, invited, pendingID, inRoot string
	for _, m := range srv.Seeded.Members {
		switch {
		case m.Status == "CreateSuccess" && created == "" && m.FolderID != srv.Seeded.RootFolderID:
			created = m.AccountID
		case m.Status == "InviteSuccess" && invited == "":
			invited = m.AccountID
		case (m.Status == "CreateVerifying" || m.Status == "PromoteVerifying") && pendingID == "":
			pendingID = m.AccountID
		}
	}
	w.Mu.Lock()
	inRoot = srv.Seeded.Members[len(srv.Seeded.Members)-1].AccountID
	w.Accounts[inRoot].FolderID = w.Directory.RootFolderID
	w.Mu.Unlock()
	if created == "" || invited == "" || pendingID == "" || inRoot == created {
		t.Fatalf("seed lacks the members the test needs: created %q invited %q pending %q", created, invited, pendingID)
	}
	deepPath := nest(t, w, created)

	// Remove the invited member through the real API, as an administrator would.
	rmc, err := s.ResourceManager()
	if err != nil {
		t.Fatal(err)
	}
	req := rm.CreateRemoveCloudAccountRequest()
	req.AccountId = invited
	if _, err := rmc.RemoveCloudAccount(req); err != nil {
		t.Fatal(err)
	}

	c := directory.New(s)
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		id            string
		notMember     bool
		path          []string
		pending       bool
		getAccount    int64
		listAncestors int64
	}{
		{name: "member in a depth-3 folder", id: created, path: deepPath, getAccount: 1, listAncestors: 1},
		{name: "member in the root", id: inRoot, path: []string{w.Directory.RootFolderID}, getAccount: 1},
		{name: "pending member", id: pendingID, pending: true, getAccount: 1, listAncestors: -1},
		{name: "removed account", id: invited, notMember: true, getAccount: 1},
		{name: "unknown account", id: "1999999999999999", notMember: true, getAccount: 1},
		{name: "management account", id: w.ManagementAccountID, notMember: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.Stats.Reset()
			m, err := c.Member(context.Background(), tc.id)
			if tc.notMember {
				if !errors.Is(err, directory.ErrNotMember) {
					t.Fatalf("Member(%s) error = %v, want ErrNotMember", tc.id, err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				wm := want(w, tc.id)
				if !reflect.DeepEqual(m, wm) {
					t.Errorf("Member(%s):\n got %+v\nwant %+v", tc.id, m, wm)
				}
				if tc.path != nil && !reflect.DeepEqual(m.FolderPath, tc.path) {
					t.Errorf("FolderPath = %v, want %v", m.FolderPath, tc.path)
				}
				if m.Pending() != tc.pending {
					t.Errorf("Pending() = %v, want %v (status %s)", m.Pending(), tc.pending, m.Status)
				}
			}
			if n := calls(srv, "GetAccount"); n != tc.getAccount {
				t.Errorf("GetAccount calls = %d, want %d", n, tc.getAccount)
			}
			if n := calls(srv, "ListAncestors"); tc.listAncestors >= 0 && n != tc.listAncestors {
				t.Errorf("ListAncestors calls = %d, want %d", n, tc.listAncestors)
			}
		})
	}

	if _, err := c.Member(context.Background(), "12ab"); err == nil || errors.Is(err, directory.ErrNotMember) {
		t.Errorf("Member(12ab) error = %v, want a validation error that is not ErrNotMember", err)
	}
}

func TestIsDelegatedAdmin(t *testing.T) {
	srv, s := start(t, localcloud.Options{Members: 5, DelegatedAdmin: true, Seed: 9})
	admin := srv.Seeded.DelegatedAdminID
	other := ""
	for _, m := range srv.Seeded.Members {
		if m.AccountID != admin {
			other = m.AccountID
			break
		}
	}
	c := directory.New(s)
	for _, tc := range []struct {
		account, service string
		want             bool
	}{
		{admin, "actiontrail.aliyuncs.com", true},
		{admin, "audit.log.aliyuncs.com", true},
		{admin, "config.aliyuncs.com", false},
		{other, "actiontrail.aliyuncs.com", false},
		{srv.World.ManagementAccountID, "actiontrail.aliyuncs.com", false},
	} {
		got, err := c.IsDelegatedAdmin(context.Background(), tc.account, tc.service)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("IsDelegatedAdmin(%s, %s) = %v, want %v", tc.account, tc.service, got, tc.want)
		}
	}
	if _, err := c.IsDelegatedAdmin(context.Background(), admin, ""); err == nil {
		t.Error("IsDelegatedAdmin with an empty service principal: no error")
	}
}
