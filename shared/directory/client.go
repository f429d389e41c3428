package directory

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// PageSize is the largest page Resource Manager's list APIs accept.
const PageSize = 100

// listConcurrency bounds the list calls in flight at once (pages 2..N of ListAccounts, folders
// of one tree level): enough to hide latency, well under Resource Manager's 20 calls/s.
const listConcurrency = 4

// listAttempts bounds how often Members re-reads a directory that changed while it was listed.
const listAttempts = 3

var accountIDRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// Client reads the Resource Directory through the management account (or a delegated
// administrator). Safe for concurrent use: every call builds its own SDK client, as the RPC
// SDK's clients are not.
type Client struct {
	s *cloud.Session

	mu   sync.Mutex
	info *Info // cached: a directory's id, root folder and management account never change
}

// New makes a Client acting with the session's credentials.
func New(s *cloud.Session) *Client { return &Client{s: s} }

func (c *Client) rm() (*rm.Client, error) {
	cl, err := c.s.ResourceManager()
	if err != nil {
		return nil, fmt.Errorf("directory: resource manager client: %w", err)
	}
	return cl, nil
}

// Info reads the directory (GetResourceDirectory), always from the API.
func (c *Client) Info(ctx context.Context) (Info, error) {
	cl, err := c.rm()
	if err != nil {
		return Info{}, err
	}
	var resp *rm.GetResourceDirectoryResponse
	err = c.s.Do(ctx, "resourcemanager:GetResourceDirectory", func() error {
		var e error
		resp, e = cl.GetResourceDirectory(rm.CreateGetResourceDirectoryRequest())
		return e
	})
	if err != nil {
		return Info{}, fmt.Errorf("directory: GetResourceDirectory: %w", err)
	}
	d := resp.ResourceDirectory
	info := Info{ID: d.ResourceDirectoryId, RootFolderID: d.RootFolderId, ManagementAccountID: d.MasterAccountId}
	switch {
	case info.ID == "":
		return Info{}, errors.New("directory: GetResourceDirectory: the response has no ResourceDirectoryId")
	case info.RootFolderID == "":
		return Info{}, fmt.Errorf("directory: GetResourceDirectory: directory %s has no RootFolderId", info.ID)
	case !accountIDRE.MatchString(info.ManagementAccountID):
		return Info{}, fmt.Errorf("directory: GetResourceDirectory: MasterAccountId %q of %s is not an account id", info.ManagementAccountID, info.ID)
	}
	c.mu.Lock()
	c.info = &info
	c.mu.Unlock()
	return info, nil
}

// cachedInfo returns the directory, calling GetResourceDirectory only the first time.
func (c *Client) cachedInfo(ctx context.Context) (Info, error) {
	c.mu.Lock()
	info := c.info
	c.mu.Unlock()
	if info != nil {
		return *info, nil
	}
	return c.Info(ctx)
}

// Members lists every account of the directory except the management account, ordered by
// AccountId, with tags and folder paths. Pending members (CreateVerifying, PromoteVerifying)
// are included: callers skip them with Pending().
//
// Calls, for N accounts (management included) and F folders (root included), with no folder
// holding more than 100 subfolders:
//
//	GetResourceDirectory   1, first call of this Client only
//	ListAccounts           ceil(N/100)      (10,000 members: 101)
//	ListFoldersForParent   F                (one per folder: the tree is walked once)
//	ListAncestors          0
//
// Page 1 of ListAccounts gives TotalCount; pages 2..N then run 4 at once, and the folder walk
// runs alongside. Offset paging can skip or repeat an account that joins or leaves meanwhile,
// so every page must report the same TotalCount and the pages must hold exactly TotalCount
// distinct accounts; otherwise the listing is repeated (at most 3 times in all).
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	info, err := c.cachedInfo(ctx)
	if err != nil {
		return nil, err
	}
	type treeResult struct {
		t   *folderTree
		err error
	}
	walkCtx, cancelWalk := context.WithCancel(ctx)
	defer cancelWalk()
	treeCh := make(chan treeResult, 1)
	go func() {
		t, err := c.walkFolders(walkCtx, info.RootFolderID)
		treeCh <- treeResult{t, err}
	}()

	var accounts []rm.AccountInListAccounts
	for attempt := 1; ; attempt++ {
		var consistent bool
		accounts, consistent, err = c.listAccounts(ctx)
		if err != nil || consistent {
			break
		}
		if attempt == listAttempts {
			err = fmt.Errorf("directory: ListAccounts: the directory kept changing during %d listings; try again", listAttempts)
			break
		}
		log := c.s.Logger()
		log.Info().Int("attempt", attempt).Msg("directory changed while listing accounts; listing again")
	}
	if err != nil {
		cancelWalk()
		<-treeCh // the walk must not outlive this call
		return nil, err
	}
	tr := <-treeCh
	if tr.err != nil {
		return nil, tr.err
	}

	out := make([]Member, 0, len(accounts))
	for _, a := range accounts {
		if a.AccountId == info.ManagementAccountID {
			continue
		}
		m, err := memberFromList(a, info, tr.t)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccountID < out[j].AccountID })
	return out, nil
}

// listAccounts reads every page of ListAccounts once. consistent is false when the directory
// visibly changed during the listing.
func (c *Client) listAccounts(ctx context.Context) (accounts []rm.AccountInListAccounts, consistent bool, err error) {
	first, err := c.accountsPage(ctx, 1)
	if err != nil {
		return nil, false, err
	}
	total := first.TotalCount
	if total < 0 {
		return nil, false, fmt.Errorf("directory: ListAccounts: TotalCount %d is negative", total)
	}
	pages := (total + PageSize - 1) / PageSize
	rest := make([]*rm.ListAccountsResponse, max(0, pages-1))
	nums := make([]int, len(rest))
	for i := range nums {
		nums[i] = i + 2
	}
	errs := cloud.Parallel(ctx, listConcurrency, nums, func(ctx context.Context, n int) error {
		resp, err := c.accountsPage(ctx, n)
		rest[n-2] = resp
		return err
	})
	if err := firstErr(errs); err != nil {
		return nil, false, err
	}
	consistent = true
	seen := make(map[string]bool, total)
	for _, resp := range append([]*rm.ListAccountsResponse{first}, rest...) {
		if resp.TotalCount != total {
			consistent = false
		}
		for _, a := range resp.Accounts.Account {
			if !accountIDRE.MatchString(a.AccountId) {
				return nil, false, fmt.Errorf("directory: ListAccounts page %d: AccountId %q is not an account id", resp.PageNumber, a.AccountId)
			}
			if seen[a.AccountId] {
				consistent = false
				continue
			}
			seen[a.AccountId] = true
			accounts = append(accounts, a)
		}
	}
	if len(accounts) != total {
		consistent = false
	}
	return accounts, consistent, nil
}

func (c *Client) accountsPage(ctx context.Context, page int) (*rm.ListAccountsResponse, error) {
	cl, err := c.rm()
	if err != nil {
		return nil, err
	}
	var resp *rm.ListAccountsResponse
	err = c.s.Do(ctx, "resourcemanager:ListAccounts", func() error {
		req := rm.CreateListAccountsRequest()
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(PageSize)
		req.IncludeTags = requests.NewBoolean(true)
		var e error
		resp, e = cl.ListAccounts(req)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("directory: ListAccounts page %d: %w", page, err)
	}
	return resp, nil
}

// folderTree is the directory's folders: each folder's parent, the root's being "".
type folderTree struct {
	root   string
	parent map[string]string
}

// path is the folder ids from the root down to id, or nil when id is not in the tree.
func (t *folderTree) path(id string) []string {
	var rev []string
	for cur := id; ; {
		p, ok := t.parent[cur]
		if !ok || len(rev) > len(t.parent) { // unknown, or a cycle in a malformed answer
			return nil
		}
		rev = append(rev, cur)
		if cur == t.root {
			break
		}
		cur = p
	}
	out := make([]string, len(rev))
	for i, f := range rev {
		out[len(rev)-1-i] = f
	}
	return out
}

// walkFolders reads the whole folder tree breadth first: one ListFoldersForParent per folder
// (more only for a folder with over 100 subfolders), the folders of a level 4 at once.
func (c *Client) walkFolders(ctx context.Context, root string) (*folderTree, error) {
	t := &folderTree{root: root, parent: map[string]string{root: ""}}
	level := []string{root}
	for depth := 0; len(level) > 0; depth++ {
		if depth > 16 { // Resource Directory allows 5 levels; anything deeper is a malformed answer
			return nil, fmt.Errorf("directory: ListFoldersForParent: the folder tree under %s is deeper than 16 levels", root)
		}
		children := make([][]string, len(level))
		errs := cloud.Parallel(ctx, listConcurrency, indexes(len(level)), func(ctx context.Context, i int) error {
			kids, err := c.childFolders(ctx, level[i])
			children[i] = kids
			return err
		})
		if err := firstErr(errs); err != nil {
			return nil, err
		}
		var next []string
		for i, kids := range children {
			for _, k := range kids {
				if _, dup := t.parent[k]; dup {
					continue
				}
				t.parent[k] = level[i]
				next = append(next, k)
			}
		}
		level = next
	}
	return t, nil
}

// firstErr is the first failure of a cloud.Parallel run: the others are usually the same one.
func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// childFolders lists a folder's direct subfolders, every page.
func (c *Client) childFolders(ctx context.Context, parent string) ([]string, error) {
	cl, err := c.rm()
	if err != nil {
		return nil, err
	}
	var out []string
	for page := 1; ; page++ {
		var resp *rm.ListFoldersForParentResponse
		err := c.s.Do(ctx, "resourcemanager:ListFoldersForParent", func() error {
			req := rm.CreateListFoldersForParentRequest()
			req.ParentFolderId = parent
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(PageSize)
			var e error
			resp, e = cl.ListFoldersForParent(req)
			return e
		})
		if err != nil {
			return nil, fmt.Errorf("directory: ListFoldersForParent %s page %d: %w", parent, page, err)
		}
		for _, f := range resp.Folders.Folder {
			if f.FolderId == "" {
				return nil, fmt.Errorf("directory: ListFoldersForParent %s: a folder without FolderId", parent)
			}
			out = append(out, f.FolderId)
		}
		if len(resp.Folders.Folder) == 0 || page*PageSize >= resp.TotalCount {
			return out, nil
		}
	}
}

func memberFromList(a rm.AccountInListAccounts, info Info, t *folderTree) (Member, error) {
	m := Member{
		AccountID: a.AccountId, DisplayName: a.DisplayName, Type: a.Type, Status: a.Status,
		JoinMethod: a.JoinMethod, FolderID: a.FolderId, Tags: tagMap(a.Tags.Tag),
	}
	var err error
	if m.JoinTime, err = parseTime(a.JoinTime); err != nil {
		return Member{}, fmt.Errorf("directory: ListAccounts: account %s: JoinTime: %w", a.AccountId, err)
	}
	m.FolderPath = t.path(a.FolderId)
	if m.FolderPath == nil {
		// A folder made after the walk: the account's own ResourceDirectoryPath still says where it is.
		m.FolderPath = pathFromRDPath(a.ResourceDirectoryPath, info, a.AccountId)
	}
	if m.FolderPath == nil || m.FolderPath[len(m.FolderPath)-1] != a.FolderId {
		return Member{}, fmt.Errorf("directory: ListAccounts: account %s is in folder %q, which is not in the folder tree of %s", a.AccountId, a.FolderId, info.ID)
	}
	return m, nil
}

// pathFromRDPath reads "rd-x/r-x/fd-a/fd-b/<account>" into [r-x fd-a fd-b], or nil.
func pathFromRDPath(p string, info Info, accountID string) []string {
	parts := strings.Split(p, "/")
	if len(parts) < 3 || parts[0] != info.ID || parts[1] != info.RootFolderID || parts[len(parts)-1] != accountID {
		return nil
	}
	return parts[1 : len(parts)-1]
}

func tagMap(tags []rm.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v := t.Key, t.Value
		if k == "" { // some answers use TagKey/TagValue
			k, v = t.TagKey, t.TagValue
		}
		if k != "" {
			m[k] = v
		}
	}
	return m
}

// Member re-reads one account (GetAccount, then ListAncestors for its folder path unless it
// sits in the root). It is the event path's check: an event only says which account to look
// at. The error wraps ErrNotMember when the account does not exist, has left or is in another
// directory, and for the management account.
func (c *Client) Member(ctx context.Context, id string) (Member, error) {
	if !accountIDRE.MatchString(id) {
		return Member{}, fmt.Errorf("directory: account id %q must be digits", id)
	}
	info, err := c.cachedInfo(ctx)
	if err != nil {
		return Member{}, err
	}
	if id == info.ManagementAccountID {
		return Member{}, fmt.Errorf("directory: account %s is the management account of %s: %w", id, info.ID, ErrNotMember)
	}
	cl, err := c.rm()
	if err != nil {
		return Member{}, err
	}
	var resp *rm.GetAccountResponse
	err = c.s.Do(ctx, "resourcemanager:GetAccount", func() error {
		req := rm.CreateGetAccountRequest()
		req.AccountId = id
		req.IncludeTags = requests.NewBoolean(true)
		var e error
		resp, e = cl.GetAccount(req)
		return e
	})
	if err != nil {
		if cloud.Code(err) == "EntityNotExists.Account" || cloud.Code(err) == "InvalidParameter.AccountId" {
			return Member{}, fmt.Errorf("directory: account %s: %w (%v)", id, ErrNotMember, err)
		}
		return Member{}, fmt.Errorf("directory: GetAccount %s: %w", id, err)
	}
	a := resp.Account
	switch {
	case a.AccountId != id:
		return Member{}, fmt.Errorf("directory: GetAccount %s answered for account %q", id, a.AccountId)
	case a.ResourceDirectoryId != info.ID:
		return Member{}, fmt.Errorf("directory: account %s is in directory %q, not %s: %w", id, a.ResourceDirectoryId, info.ID, ErrNotMember)
	case a.Status == "Removed":
		return Member{}, fmt.Errorf("directory: account %s was removed from %s: %w", id, info.ID, ErrNotMember)
	}
	m := Member{
		AccountID: a.AccountId, DisplayName: a.DisplayName, Type: a.Type, Status: a.Status,
		JoinMethod: a.JoinMethod, FolderID: a.FolderId, Tags: tagMap(a.Tags),
	}
	if m.JoinTime, err = parseTime(a.JoinTime); err != nil {
		return Member{}, fmt.Errorf("directory: GetAccount %s: JoinTime: %w", id, err)
	}
	if m.FolderPath, err = c.ancestors(ctx, cl, info, a.FolderId); err != nil {
		return Member{}, fmt.Errorf("directory: account %s: %w", id, err)
	}
	return m, nil
}

// ancestors is the path from the root down to folder.
func (c *Client) ancestors(ctx context.Context, cl *rm.Client, info Info, folder string) ([]string, error) {
	if folder == "" {
		return nil, errors.New("GetAccount: FolderId is empty")
	}
	if folder == info.RootFolderID {
		return []string{folder}, nil
	}
	var resp *rm.ListAncestorsResponse
	err := c.s.Do(ctx, "resourcemanager:ListAncestors", func() error {
		req := rm.CreateListAncestorsRequest()
		req.ChildId = folder
		var e error
		resp, e = cl.ListAncestors(req)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("ListAncestors %s: %w", folder, err)
	}
	path := make([]string, 0, len(resp.Folders.Folder)+1)
	for _, f := range resp.Folders.Folder {
		if f.FolderId == folder { // tolerate an answer that includes the child itself
			continue
		}
		path = append(path, f.FolderId)
	}
	if len(path) == 0 || path[0] != info.RootFolderID {
		return nil, fmt.Errorf("ListAncestors %s: the path %v does not start at the root %s", folder, path, info.RootFolderID)
	}
	return append(path, folder), nil
}

// IsDelegatedAdmin reports whether accountID is a delegated administrator of the service
// (e.g. actiontrail.aliyuncs.com), reading every page of ListDelegatedAdministrators.
func (c *Client) IsDelegatedAdmin(ctx context.Context, accountID, servicePrincipal string) (bool, error) {
	if !accountIDRE.MatchString(accountID) {
		return false, fmt.Errorf("directory: account id %q must be digits", accountID)
	}
	if servicePrincipal == "" {
		return false, errors.New("directory: service principal is empty (e.g. actiontrail.aliyuncs.com)")
	}
	cl, err := c.rm()
	if err != nil {
		return false, err
	}
	for page := 1; ; page++ {
		var resp *rm.ListDelegatedAdministratorsResponse
		err := c.s.Do(ctx, "resourcemanager:ListDelegatedAdministrators", func() error {
			req := rm.CreateListDelegatedAdministratorsRequest()
			req.ServicePrincipal = servicePrincipal
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(PageSize)
			var e error
			resp, e = cl.ListDelegatedAdministrators(req)
			return e
		})
		if err != nil {
			return false, fmt.Errorf("directory: ListDelegatedAdministrators %s page %d: %w", servicePrincipal, page, err)
		}
		for _, a := range resp.Accounts.Account {
			// ServicePrincipal is checked too, should the filter ever be ignored.
			if a.AccountId == accountID && (a.ServicePrincipal == "" || a.ServicePrincipal == servicePrincipal) {
				return true, nil
			}
		}
		if len(resp.Accounts.Account) == 0 || int64(page*PageSize) >= resp.TotalCount {
			return false, nil
		}
	}
}

// parseTime reads Resource Manager's times ("2021-01-18T08:01:50.522Z"); empty is the zero time.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time such as 2021-01-18T08:01:50.522Z", v)
}
