package resourcemanager_test

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
)

var seedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// seededWorld is a fresh world (directory enabled by Seed itself) seeded with opts.
func seededWorld(t testing.TB, opts resourcemanager.SeedOptions) (*core.World, resourcemanager.SeedResult) {
	t.Helper()
	w := core.NewWorld("cn-hangzhou", core.NewManualClock(seedNow))
	res, err := resourcemanager.Seed(w, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w, res
}

func TestSeedBuildsTheDirectoryAsAsked(t *testing.T) {
	w, res := seededWorld(t, resourcemanager.SeedOptions{
		Members: 60, Folders: 12, Pending: 6, Invited: 5, DelegatedAdmin: true, Rand: rand.New(rand.NewSource(7)),
	})
	if w.Directory == nil || res.ManagementAccountID != w.ManagementAccountID || res.ManagementKey == nil {
		t.Fatalf("directory not enabled or management key missing: %+v", res)
	}
	if len(res.Members) != 60 || len(res.FolderIDs) != 12 {
		t.Fatalf("members=%d folders=%d, want 60 and 12", len(res.Members), len(res.FolderIDs))
	}
	statuses := map[string]int{}
	folders := map[string]bool{}
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	for _, m := range res.Members {
		statuses[m.Status]++
		folders[m.FolderID] = true
		a, ok := w.MemberLocked(m.AccountID)
		if !ok {
			t.Fatalf("%s is not a member", m.AccountID)
		}
		if a.Status != m.Status || a.FolderID != m.FolderID || a.JoinMethod != m.JoinMethod || a.Type != m.Type {
			t.Fatalf("world and result disagree: %+v vs %+v", a, m)
		}
		if _, ok := w.Roles[m.AccountID]["resourcedirectoryaccountaccessrole"]; !ok {
			t.Fatalf("%s has no ResourceDirectoryAccountAccessRole", m.AccountID)
		}
		if k := w.AccessKeys[m.Key.ID]; k == nil || k.AccountID != m.AccountID || k.UserName != "" {
			t.Fatalf("%s key is not its root key: %+v", m.AccountID, k)
		}
		if age := seedNow.Sub(a.JoinTime); age < 0 || age > 365*24*time.Hour {
			t.Fatalf("%s joined %v ago, want within the past year", m.AccountID, age)
		}
		if len(a.Tags) != 2 || a.Tags[0].Key != "env" || a.Tags[1].Key != "team" {
			t.Fatalf("%s tags = %+v, want env and team", m.AccountID, a.Tags)
		}
		switch m.Status {
		case "InviteSuccess":
			if m.Type != "CloudAccount" || m.JoinMethod != "invited" {
				t.Fatalf("invited member %+v", m)
			}
		default:
			if m.Type != "ResourceAccount" || m.JoinMethod != "created" {
				t.Fatalf("created member %+v", m)
			}
		}
	}
	want := map[string]int{"CreateSuccess": 49, "CreateVerifying": 3, "PromoteVerifying": 3, "InviteSuccess": 5}
	if !reflect.DeepEqual(statuses, want) {
		t.Fatalf("statuses = %v, want %v", statuses, want)
	}
	if len(folders) < 5 {
		t.Fatalf("members sit in only %d folders: they should spread", len(folders))
	}
	// The directory predates everything seeded in it.
	for _, m := range res.Members {
		if !w.Directory.CreateTime.Before(w.Accounts[m.AccountID].JoinTime) {
			t.Fatalf("member %s joined %v, before the directory was created %v", m.AccountID, w.Accounts[m.AccountID].JoinTime, w.Directory.CreateTime)
		}
	}
	if mj := w.Accounts[w.ManagementAccountID].JoinTime; !mj.Equal(w.Directory.CreateTime) {
		t.Fatalf("management account joined %v, directory created %v", mj, w.Directory.CreateTime)
	}
	nested := 0
	for _, id := range res.FolderIDs {
		if !w.Folders[id].CreateTime.After(w.Directory.CreateTime) {
			t.Fatalf("folder %s made before the directory", id)
		}
		d := len(w.FolderPathLocked(id)) - 1
		if d < 1 || d > 4 {
			t.Fatalf("folder %s at depth %d", id, d)
		}
		if d > 1 {
			nested++
		}
	}
	if nested == 0 {
		t.Fatal("no nested folder: the tree is flat")
	}
	accepted := 0
	for _, h := range w.Handshakes {
		if h.Status == "Accepted" {
			accepted++
		}
	}
	if accepted != 5 {
		t.Fatalf("accepted handshakes = %d, want one per invited member", accepted)
	}
	for _, svc := range []string{"actiontrail.aliyuncs.com", "audit.log.aliyuncs.com"} {
		if !w.IsDelegatedAdminLocked(res.DelegatedAdminID, svc) {
			t.Fatalf("%s is not the delegated administrator of %s", res.DelegatedAdminID, svc)
		}
	}
	if a := w.Accounts[res.DelegatedAdminID]; a.Status != "CreateSuccess" {
		t.Fatalf("delegated administrator status %s", a.Status)
	}
}

// fingerprint is everything Seed draws from the random source.
func fingerprint(w *core.World, res resourcemanager.SeedResult) []string {
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	var out []string
	for _, id := range res.FolderIDs {
		f := w.Folders[id]
		parent := f.ParentFolderID
		if parent == w.Directory.RootFolderID {
			parent = "root"
		}
		out = append(out, id+" "+f.FolderName+" "+parent+" "+f.CreateTime.String())
	}
	for _, m := range res.Members {
		a := w.Accounts[m.AccountID]
		folder := a.FolderID
		if folder == w.Directory.RootFolderID {
			folder = "root"
		}
		tags := ""
		for _, tg := range a.Tags {
			tags += tg.Key + "=" + tg.Value + ","
		}
		out = append(out, strings.Join([]string{a.AccountID, a.DisplayName, a.Status, a.Type, folder, tags, a.JoinTime.String()}, " "))
	}
	return append(out, "admin "+res.DelegatedAdminID)
}

func TestSeedIsDeterministicBySeed(t *testing.T) {
	opts := func(seed int64) resourcemanager.SeedOptions {
		return resourcemanager.SeedOptions{Members: 40, Folders: 9, Pending: 4, Invited: 3, DelegatedAdmin: true, Rand: rand.New(rand.NewSource(seed))}
	}
	a := fingerprint(seededWorld(t, opts(42)))
	b := fingerprint(seededWorld(t, opts(42)))
	c := fingerprint(seededWorld(t, opts(43)))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different directories:\n%v\n%v", a[:3], b[:3])
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds made the same directory")
	}
}

func TestSeedRefusesImpossibleOptions(t *testing.T) {
	cases := []struct {
		name string
		opts resourcemanager.SeedOptions
		want string
	}{
		{"negative", resourcemanager.SeedOptions{Members: -1}, "negative"},
		{"pending and invited exceed members", resourcemanager.SeedOptions{Members: 5, Pending: 3, Invited: 3}, "must not exceed"},
		{"admin without a settled created member", resourcemanager.SeedOptions{Members: 2, Pending: 1, Invited: 1, DelegatedAdmin: true}, "delegated administrator"},
		{"tag without values", resourcemanager.SeedOptions{Members: 1, Tags: map[string][]string{"env": nil}}, "at least one value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := core.NewWorld("cn-hangzhou", nil)
			_, err := resourcemanager.Seed(w, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestSeedTwiceKeepsNamesUniqueAndUsesCustomTags(t *testing.T) {
	w := core.NewWorld("cn-hangzhou", core.NewManualClock(seedNow))
	r := rand.New(rand.NewSource(3))
	tags := map[string][]string{"cost-center": {"cc1", "cc2"}}
	first, err := resourcemanager.Seed(w, resourcemanager.SeedOptions{Members: 5, Rand: r, Tags: tags})
	must(t, err)
	second, err := resourcemanager.Seed(w, resourcemanager.SeedOptions{Members: 5, Rand: r, Tags: tags})
	must(t, err)
	if first.ManagementKey.ID != second.ManagementKey.ID {
		t.Fatal("second Seed issued another management key instead of reusing the first")
	}
	names := map[string]bool{}
	for _, m := range append(first.Members, second.Members...) {
		if names[m.DisplayName] {
			t.Fatalf("display name %s used twice", m.DisplayName)
		}
		names[m.DisplayName] = true
		w.Mu.RLock()
		got := w.Accounts[m.AccountID].Tags
		w.Mu.RUnlock()
		if len(got) != 1 || got[0].Key != "cost-center" {
			t.Fatalf("tags = %+v", got)
		}
	}
}

// Seeded members act through the real SDK with their own keys, and ListAccounts shows pending ones.
func TestSeededKeysWorkThroughTheSDK(t *testing.T) {
	f := newFixture(t, resourcemanager.Options{})
	res, err := resourcemanager.Seed(f.w, resourcemanager.SeedOptions{Members: 12, Folders: 3, Pending: 2, Invited: 2, DelegatedAdmin: true, Rand: rand.New(rand.NewSource(9))})
	must(t, err)
	admin := f.client(t, res.Key(res.DelegatedAdminID))
	req := rm.CreateListAccountsRequest()
	req.PageSize = "100"
	out, err := admin.ListAccounts(req)
	must(t, err)
	if out.TotalCount != 13 {
		t.Fatalf("TotalCount = %d, want 12 members + management", out.TotalCount)
	}
	statuses := map[string]int{}
	for _, a := range out.Accounts.Account {
		statuses[a.Status]++
	}
	if statuses["CreateVerifying"] != 1 || statuses["PromoteVerifying"] != 1 || statuses["InviteSuccess"] != 2 {
		t.Fatalf("statuses listed = %v", statuses)
	}
	for _, m := range res.Members {
		if m.AccountID == res.DelegatedAdminID {
			continue
		}
		_, err := f.client(t, m.Key).GetResourceDirectory(rm.CreateGetResourceDirectoryRequest())
		must(t, err)
		break
	}
}

func BenchmarkSeed10000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		w := core.NewWorld("cn-hangzhou", core.NewManualClock(seedNow))
		start := time.Now()
		if _, err := resourcemanager.Seed(w, resourcemanager.SeedOptions{
			Members: 10000, Folders: 60, Pending: 100, Invited: 300, DelegatedAdmin: true, Rand: rand.New(rand.NewSource(int64(i))),
		}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/seed")
	}
}
