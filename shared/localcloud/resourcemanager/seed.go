package resourcemanager

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// SeedOptions describe a directory to build. Members counts every member but the management
// account; Pending and Invited are parts of it, the rest are created resource accounts.
type SeedOptions struct {
	Members int
	Folders int // a tree: some under the root, some nested (at most four levels deep)
	Pending int // members left in CreateVerifying / PromoteVerifying (alternately)
	Invited int // cloud accounts that joined by accepting an invitation
	// DelegatedAdmin makes one created member the delegated administrator of
	// actiontrail.aliyuncs.com and audit.log.aliyuncs.com.
	DelegatedAdmin bool
	// Rand makes ids, names, tags, folders and times reproducible; nil means rand.NewSource(1).
	Rand *rand.Rand
	// Tags maps a tag key to the values members draw from; nil means env=prod|dev|test and a team.
	Tags map[string][]string
}

// SeededMember is one member Seed made, with its own root AccessKey so tests can act as it.
type SeededMember struct {
	AccountID   string
	DisplayName string
	Type        string
	Status      string
	JoinMethod  string
	FolderID    string
	Key         *core.AccessKey
}

// SeedResult is what Seed made.
type SeedResult struct {
	ManagementAccountID string
	// ManagementKey is a root AccessKey of the management account (an existing one when there is one).
	ManagementKey    *core.AccessKey
	RootFolderID     string
	FolderIDs        []string // in creation order; parents come before children
	Members          []SeededMember
	DelegatedAdminID string // empty unless DelegatedAdmin
}

// Key returns the AccessKey of a seeded member, or nil.
func (r SeedResult) Key(accountID string) *core.AccessKey {
	for _, m := range r.Members {
		if m.AccountID == accountID {
			return m.Key
		}
	}
	return nil
}

// DefaultSeedTags are the tags members draw from when SeedOptions.Tags is nil (a fresh map each call).
func DefaultSeedTags() map[string][]string {
	return map[string][]string{
		"env":  {"prod", "dev", "test"},
		"team": {"payments", "platform", "data", "security", "web", "mobile"},
	}
}

var seedFolderNames = []string{"Production", "Development", "Test", "Shared", "Security", "Finance", "Data", "Sandbox", "Platform", "Retail"}

// delegatedServices are what SeedOptions.DelegatedAdmin registers: the two an audit product needs.
var delegatedServices = []string{"actiontrail.aliyuncs.com", "audit.log.aliyuncs.com"}

const (
	digits   = "0123456789"
	lowerNum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

func seedAccountIDLocked(w *core.World, r *rand.Rand) string {
	for {
		id := "1" + randString(r, digits, 15)
		if _, taken := w.Accounts[id]; !taken {
			return id
		}
	}
}

// Seed builds a directory in one pass under w.Mu: folders, members (spread over the folders,
// joined over the past year), pending and invited members and a delegated administrator. It
// enables the directory first if the world has none. Same Rand seed, same directory.
func Seed(w *core.World, opts SeedOptions) (SeedResult, error) {
	switch {
	case opts.Members < 0 || opts.Folders < 0 || opts.Pending < 0 || opts.Invited < 0:
		return SeedResult{}, errors.New("seed: members, folders, pending and invited must not be negative")
	case opts.Pending+opts.Invited > opts.Members:
		return SeedResult{}, fmt.Errorf("seed: pending (%d) plus invited (%d) must not exceed members (%d)", opts.Pending, opts.Invited, opts.Members)
	case opts.DelegatedAdmin && opts.Members-opts.Pending-opts.Invited < 1:
		return SeedResult{}, errors.New("seed: a delegated administrator needs at least one created member that is not pending")
	}
	r := opts.Rand
	if r == nil {
		r = rand.New(rand.NewSource(1))
	}
	tags := opts.Tags
	if tags == nil {
		tags = DefaultSeedTags()
	}
	tagKeys := make([]string, 0, len(tags))
	for k, vs := range tags {
		if k == "" || len(vs) == 0 {
			return SeedResult{}, fmt.Errorf("seed: tag %q needs a key and at least one value", k)
		}
		tagKeys = append(tagKeys, k)
	}
	sort.Strings(tagKeys) // map order is random; the draw order must not be

	w.Mu.Lock()
	defer w.Mu.Unlock()
	if w.Directory == nil {
		w.EnableDirectoryLocked(seedAccountIDLocked(w, r), "management")
	}
	res := SeedResult{ManagementAccountID: w.ManagementAccountID, RootFolderID: w.Directory.RootFolderID}
	res.ManagementKey = rootKeyLocked(w, w.ManagementAccountID)
	now := w.Now()
	const year = 365 * 24 * time.Hour
	// Members joined over the past year into folders made before that: a directory enabled just
	// now would postdate its own members, so move its creation (and the management account's
	// joining) back before all of them.
	if start := now.Add(-year - 31*24*time.Hour).Truncate(time.Millisecond); w.Directory.CreateTime.After(start) {
		w.Directory.CreateTime = start
		if root := w.Folders[res.RootFolderID]; root != nil {
			root.CreateTime = start
		}
		if m := w.Accounts[w.ManagementAccountID]; m != nil {
			m.JoinTime, m.ModifyTime = start, start
		}
	}

	// Folders: the first third (at least one) under the root, the rest under a random earlier
	// folder that is less than four levels deep, so the tree has real nesting without hitting the limit.
	depth := map[string]int{res.RootFolderID: 0}
	top := (opts.Folders + 2) / 3
	for i := 0; i < opts.Folders; i++ {
		parent := res.RootFolderID
		if i >= top {
			if cand := res.FolderIDs[r.Intn(len(res.FolderIDs))]; depth[cand] < 4 {
				parent = cand
			}
		}
		f := &core.Folder{
			FolderName:     fmt.Sprintf("%s-%02d", seedFolderNames[r.Intn(len(seedFolderNames))], i+1),
			ParentFolderID: parent,
			CreateTime:     now.Add(-year - time.Duration(r.Int63n(int64(30*24*time.Hour)))).Truncate(time.Millisecond),
		}
		for {
			f.FolderID = "fd-" + randString(r, alnum, 10)
			if _, taken := w.Folders[f.FolderID]; !taken {
				break
			}
		}
		w.Folders[f.FolderID] = f
		depth[f.FolderID] = depth[parent] + 1
		res.FolderIDs = append(res.FolderIDs, f.FolderID)
	}
	slots := append([]string{res.RootFolderID}, res.FolderIDs...)

	// Kinds in a shuffled order, so pending and invited members are spread over time and folders.
	const (
		created = iota
		pending
		invited
	)
	kinds := make([]int, opts.Members)
	for i := range kinds {
		switch {
		case i < opts.Pending:
			kinds[i] = pending
		case i < opts.Pending+opts.Invited:
			kinds[i] = invited
		}
	}
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	base := lastSeedNumberLocked(w) // keeps display names unique when Seed runs more than once
	trust := core.TrustPolicyForAccounts(w.Directory.MasterAccountID)
	rdSuffix := strings.ToLower(w.Directory.ResourceDirectoryID) + ".aliyunid.com"
	res.Members = make([]SeededMember, 0, opts.Members)
	pendingSeen := 0
	var adminCandidates []int
	for i, kind := range kinds {
		id := seedAccountIDLocked(w, r)
		n := base + i + 1
		var mtags []core.Tag
		for _, k := range tagKeys {
			mtags = append(mtags, core.Tag{Key: k, Value: tags[k][r.Intn(len(tags[k]))]})
		}
		folder := slots[r.Intn(len(slots))]
		joined := now.Add(-time.Duration(r.Int63n(int64(year)))).Truncate(time.Millisecond)
		modified := joined.Add(time.Duration(r.Int63n(int64(30 * 24 * time.Hour)))).Truncate(time.Millisecond)
		if modified.After(now) {
			modified = joined
		}

		var a *core.Account
		status, join := StatusCreateSuccess, "created"
		switch kind {
		case invited:
			display := fmt.Sprintf("partner-%05d", n)
			a = w.AddAccountLocked(id, display, "CloudAccount")
			a.AccountName = display + "@example.com"
			status, join = StatusInviteSuccess, "invited"
			hs := &core.Handshake{
				ResourceDirectoryID: w.Directory.ResourceDirectoryID, MasterAccountID: w.Directory.MasterAccountID,
				MasterAccountName: w.Directory.MasterAccountName, TargetEntity: id, TargetType: "Account",
				Status: HandshakeAccepted, CreateTime: joined.Add(-24 * time.Hour), ModifyTime: joined,
				ExpireTime: joined.Add(-24 * time.Hour).Add(handshakeTTL),
			}
			for {
				hs.HandshakeID = "h-" + randString(r, alnum, 16)
				if _, taken := w.Handshakes[hs.HandshakeID]; !taken {
					break
				}
			}
			w.Handshakes[hs.HandshakeID] = hs
		default:
			display := fmt.Sprintf("member-%05d", n)
			a = w.AddAccountLocked(id, display, "ResourceAccount")
			a.AccountName = fmt.Sprintf("m%05d%s@%s", n, randString(r, lowerNum, 4), rdSuffix)
			if kind == pending {
				status = StatusCreateVerifying
				if pendingSeen%2 == 1 {
					status = StatusPromoteVerifying
				}
				pendingSeen++
			} else {
				adminCandidates = append(adminCandidates, len(res.Members))
			}
		}
		a.Tags = mtags
		seedAccessRoleLocked(w, r, id, trust, joined)
		w.JoinDirectoryLocked(a, folder, status, join)
		a.JoinTime, a.ModifyTime = joined, modified
		key := seedAccessKeyLocked(w, r, id)
		res.Members = append(res.Members, SeededMember{
			AccountID: id, DisplayName: a.DisplayName, Type: a.Type, Status: status, JoinMethod: join, FolderID: folder, Key: key,
		})
	}

	if opts.DelegatedAdmin {
		m := res.Members[adminCandidates[r.Intn(len(adminCandidates))]]
		at := w.Accounts[m.AccountID].JoinTime.Add(time.Hour)
		for _, svc := range delegatedServices {
			if w.DelegatedAdmins[svc] == nil {
				w.DelegatedAdmins[svc] = map[string]time.Time{}
			}
			w.DelegatedAdmins[svc][m.AccountID] = at
		}
		res.DelegatedAdminID = m.AccountID
	}
	return res, nil
}

// The two helpers below make what JoinDirectoryLocked and NewAccessKeyLocked would, but with ids
// from the seed's random source: core draws every character from crypto/rand, one syscall each,
// which made 10,000 members take most of a second. Determinism by seed comes with it.

// seedAccessRoleLocked creates ResourceDirectoryAccountAccessRole before JoinDirectoryLocked
// runs, which then finds it and leaves it as is.
func seedAccessRoleLocked(w *core.World, r *rand.Rand, accountID, trust string, at time.Time) {
	if w.Roles[accountID] == nil {
		w.Roles[accountID] = map[string]*core.Role{}
	}
	const name = "ResourceDirectoryAccountAccessRole"
	if _, ok := w.Roles[accountID][strings.ToLower(name)]; ok {
		return
	}
	w.Roles[accountID][strings.ToLower(name)] = &core.Role{
		RoleID: "3" + randString(r, digits, 18), RoleName: name, AccountID: accountID,
		AssumeRolePolicyDocument: trust, MaxSessionDuration: 3600, CreateDate: at, UpdateDate: at,
		TrustedAccounts: []string{w.Directory.MasterAccountID},
		Policies:        []core.AttachedPolicy{{PolicyType: "System", PolicyName: "AdministratorAccess", AttachDate: at}},
	}
}

// seedAccessKeyLocked issues a root AccessKey pair shaped like NewAccessKeyLocked's.
func seedAccessKeyLocked(w *core.World, r *rand.Rand, accountID string) *core.AccessKey {
	k := &core.AccessKey{Secret: randString(r, alnum, 30), AccountID: accountID}
	for {
		k.ID = "LTAI" + randString(r, alnum, 20)
		if _, taken := w.AccessKeys[k.ID]; !taken {
			break
		}
	}
	w.AccessKeys[k.ID] = k
	return k
}

// lastSeedNumberLocked is the highest n of the member-n / partner-n names already in the world.
func lastSeedNumberLocked(w *core.World) int {
	last := 0
	for _, a := range w.Accounts {
		var n int
		if _, err := fmt.Sscanf(a.DisplayName, "member-%d", &n); err != nil {
			if _, err := fmt.Sscanf(a.DisplayName, "partner-%d", &n); err != nil {
				continue
			}
		}
		if n > last {
			last = n
		}
	}
	return last
}

// rootKeyLocked returns the account's enabled root AccessKey with the smallest id, issuing one if it has none.
func rootKeyLocked(w *core.World, accountID string) *core.AccessKey {
	var best *core.AccessKey
	for _, k := range w.AccessKeys {
		if k.AccountID == accountID && k.UserName == "" && !k.Disabled && (best == nil || k.ID < best.ID) {
			best = k
		}
	}
	if best == nil {
		best = w.NewAccessKeyLocked(accountID, "")
	}
	return best
}
