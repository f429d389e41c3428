package directory_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// proxied starts localcloud behind a proxy that runs hook before forwarding each RPC call, so a
// test can change the directory at an exact point of a listing.
func proxied(t *testing.T, opts localcloud.Options, hook func(r *http.Request)) (*localcloud.Server, *cloud.Session) {
	t.Helper()
	srv, s := start(t, opts)
	target, err := url.Parse("http://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook(r)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(px.Close)
	ep := s.Endpoints()
	ep.ResourceManager = strings.TrimPrefix(px.URL, "http://")
	ps, err := cloud.NewSession(s.Credentials(), ep, cloud.WithAccountID(srv.World.ManagementAccountID),
		cloud.WithRetryPolicy(fastRetry), cloud.WithLimits(map[string]cloud.Limit{"resourcemanager": {}}))
	if err != nil {
		t.Fatal(err)
	}
	return srv, ps
}

func join(w *core.World, id, folder string) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	a := w.AddAccountLocked(id, "late-"+id[12:], "ResourceAccount")
	w.JoinDirectoryLocked(a, folder, "CreateSuccess", "created")
	a.JoinTime = a.JoinTime.Truncate(time.Millisecond)
}

// A member joining between page 1 and page 2 changes TotalCount: the listing is repeated and
// the result is the directory as it is afterwards, newcomer included, nobody twice.
func TestMembersRelistsWhenTheDirectoryChanges(t *testing.T) {
	const newcomer = "1000000000000042"
	var once sync.Once
	var srv *localcloud.Server
	srv, s := proxied(t, localcloud.Options{Members: 150, Seed: 21}, func(r *http.Request) {
		if r.URL.Query().Get("Action") == "ListAccounts" && r.URL.Query().Get("PageNumber") == "2" {
			once.Do(func() { join(srv.World, newcomer, srv.World.Directory.RootFolderID) })
		}
	})
	srv.World.Stats.Reset()
	got, err := directory.New(s).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 151 {
		t.Fatalf("Members returned %d, want 151", len(got))
	}
	found := false
	for _, m := range got {
		found = found || m.AccountID == newcomer
		if w := want(srv.World, m.AccountID); !reflect.DeepEqual(m, w) {
			t.Errorf("member %s:\n got %+v\nwant %+v", m.AccountID, m, w)
		}
	}
	if !found {
		t.Error("the member that joined during the listing is missing")
	}
	if n := calls(srv, "ListAccounts"); n != 4 {
		t.Errorf("ListAccounts calls = %d, want 4 (two listings of 2 pages)", n)
	}
}

// A folder made after the walk, holding a member: the member's own ResourceDirectoryPath
// gives its path.
func TestMembersFolderMadeAfterTheWalk(t *testing.T) {
	const folders = 4
	const mover = "1000000000000077"
	const late = "fd-late000001"
	walked := make(chan struct{})
	var mu sync.Mutex
	folderCalls := 0
	var once sync.Once
	var srv *localcloud.Server
	srv, s := proxied(t, localcloud.Options{Members: 20, Folders: folders, Seed: 8}, func(r *http.Request) {
		switch r.URL.Query().Get("Action") {
		case "ListFoldersForParent":
			mu.Lock()
			folderCalls++
			if folderCalls == folders+1 {
				close(walked)
			}
			mu.Unlock()
		case "ListAccounts":
			once.Do(func() {
				// The walk's last call is in flight; wait until the world has answered it.
				<-walked
				time.Sleep(20 * time.Millisecond)
				w := srv.World
				w.Mu.Lock()
				w.Folders[late] = &core.Folder{FolderID: late, FolderName: "late", ParentFolderID: srv.Seeded.FolderIDs[0], CreateTime: w.Now()}
				w.Mu.Unlock()
				join(w, mover, late)
			})
		}
	})
	got, err := directory.New(s).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got {
		if m.AccountID == mover {
			wantPath := []string{srv.Seeded.RootFolderID, srv.Seeded.FolderIDs[0], late}
			if srv.World.Folders[srv.Seeded.FolderIDs[0]].ParentFolderID != srv.Seeded.RootFolderID {
				t.Fatalf("seed: the first folder is not under the root")
			}
			if !reflect.DeepEqual(m.FolderPath, wantPath) {
				t.Fatalf("FolderPath = %v, want %v", m.FolderPath, wantPath)
			}
			return
		}
	}
	t.Fatal("the member in the late folder is missing")
}

// At 10,000 members: 101 ListAccounts calls (10,001 accounts with the management account),
// one ListFoldersForParent per folder, no ListAncestors.
func TestMembersTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 members")
	}
	const members, folders = 10000, 40
	srv, s := start(t, localcloud.Options{Members: members, Folders: folders, Pending: 30, Invited: 500, Seed: 1})
	srv.World.Stats.Reset()
	got, err := directory.New(s).Members(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != members {
		t.Fatalf("Members returned %d, want %d", len(got), members)
	}
	for _, tc := range []struct {
		action string
		want   int64
	}{{"ListAccounts", 101}, {"ListFoldersForParent", folders + 1}, {"ListAncestors", 0}, {"GetAccount", 0}} {
		if n := calls(srv, tc.action); n != tc.want {
			t.Errorf("%s calls = %d, want %d", tc.action, n, tc.want)
		}
	}
}
