package resourcemanager

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

type tagList struct {
	Tag []core.Tag `json:"Tag"`
}

// listedAccount is one entry of ListAccounts / ListAccountsForParent: tags wrapped in Tags.Tag.
type listedAccount struct {
	AccountID             string   `json:"AccountId"`
	DisplayName           string   `json:"DisplayName"`
	AccountName           string   `json:"AccountName"`
	Status                string   `json:"Status"`
	Type                  string   `json:"Type"`
	JoinMethod            string   `json:"JoinMethod"`
	FolderID              string   `json:"FolderId"`
	ResourceDirectoryID   string   `json:"ResourceDirectoryId"`
	ResourceDirectoryPath string   `json:"ResourceDirectoryPath,omitempty"`
	JoinTime              string   `json:"JoinTime"`
	ModifyTime            string   `json:"ModifyTime"`
	Tags                  *tagList `json:"Tags,omitempty"`
}

// accountDetail is the Account object of GetAccount and of write responses: tags are a flat array.
type accountDetail struct {
	AccountID             string      `json:"AccountId"`
	DisplayName           string      `json:"DisplayName"`
	AccountName           string      `json:"AccountName"`
	Status                string      `json:"Status"`
	Type                  string      `json:"Type"`
	JoinMethod            string      `json:"JoinMethod"`
	FolderID              string      `json:"FolderId"`
	ResourceDirectoryID   string      `json:"ResourceDirectoryId"`
	ResourceDirectoryPath string      `json:"ResourceDirectoryPath,omitempty"`
	Location              string      `json:"Location,omitempty"`
	RecordID              string      `json:"RecordId,omitempty"`
	JoinTime              string      `json:"JoinTime"`
	ModifyTime            string      `json:"ModifyTime"`
	Tags                  *[]core.Tag `json:"Tags,omitempty"`
}

func tagsCopy(tags []core.Tag) []core.Tag {
	out := make([]core.Tag, len(tags))
	copy(out, tags)
	return out
}

func listed(w *core.World, a *core.Account, withPath, withTags bool) listedAccount {
	la := listedAccount{
		AccountID: a.AccountID, DisplayName: a.DisplayName, AccountName: a.AccountName, Status: a.Status,
		Type: a.Type, JoinMethod: a.JoinMethod, FolderID: a.FolderID, ResourceDirectoryID: w.Directory.ResourceDirectoryID,
		JoinTime: core.APITime(a.JoinTime), ModifyTime: core.APITime(a.ModifyTime),
	}
	if withPath {
		la.ResourceDirectoryPath = w.ResourceDirectoryPathLocked(a)
	}
	if withTags {
		la.Tags = &tagList{Tag: tagsCopy(a.Tags)}
	}
	return la
}

// detail is the full Account object; brief leaves out what write responses do not carry.
func detail(w *core.World, a *core.Account, brief, withTags bool) accountDetail {
	d := accountDetail{
		AccountID: a.AccountID, DisplayName: a.DisplayName, AccountName: a.AccountName, Status: a.Status,
		Type: a.Type, JoinMethod: a.JoinMethod, FolderID: a.FolderID, ResourceDirectoryID: w.Directory.ResourceDirectoryID,
		JoinTime: core.APITime(a.JoinTime), ModifyTime: core.APITime(a.ModifyTime),
	}
	if !brief {
		d.ResourceDirectoryPath = w.ResourceDirectoryPathLocked(a)
		d.Location = location(w, a.FolderID)
	}
	if withTags {
		tags := tagsCopy(a.Tags) // an untagged account shows "Tags":[]
		d.Tags = &tags
	}
	return d
}

// location is the folder path by name ("root/Production/Payments"), as the console shows it.
func location(w *core.World, folderID string) string {
	path := w.FolderPathLocked(folderID)
	names := make([]string, len(path))
	for i, id := range path {
		names[i] = w.Folders[id].FolderName
		if i == 0 {
			names[i] = "root"
		}
	}
	return strings.Join(names, "/")
}

// matchesQuery is the fuzzy QueryKeyword match: display name, account name or id.
func matchesQuery(a *core.Account, q string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	return strings.Contains(strings.ToLower(a.DisplayName), q) || strings.Contains(strings.ToLower(a.AccountName), q) ||
		strings.Contains(a.AccountID, q)
}

// matchesTags: every filter tag must be present; an empty filter value matches any value.
func matchesTags(a *core.Account, filter []core.Tag) bool {
	for _, f := range filter {
		found := false
		for _, t := range a.Tags {
			if t.Key == f.Key && (f.Value == "" || t.Value == f.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *service) getResourceDirectory(c *core.Call) (any, error) {
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	// Members see the directory they belong to; anyone else has none.
	if standingOf(w, c.Caller.AccountID) == outsider {
		return nil, core.Errorf(404, "ResourceDirectoryNotInUse", "The specified account is not an Alibaba Cloud account or a member account of the resource directory.")
	}
	d := w.Directory
	return map[string]any{"ResourceDirectory": map[string]string{
		"ResourceDirectoryId": d.ResourceDirectoryID, "RootFolderId": d.RootFolderID,
		"MasterAccountId": d.MasterAccountID, "MasterAccountName": d.MasterAccountName,
		"CreateTime": core.APITime(d.CreateTime), "ControlPolicyStatus": d.ControlPolicyStatus,
		"MemberDeletionStatus": d.MemberDeletionStatus,
	}}, nil
}

// listAccountsIn lists directory accounts (in one folder when folderID is set) with filters and paging.
func listAccountsIn(c *core.Call, folderID string, withPath bool) (any, error) {
	page, size, err := paging(c)
	if err != nil {
		return nil, err
	}
	withTags, err := c.Bool("IncludeTags", false)
	if err != nil {
		return nil, err
	}
	filter, err := tagsParam(c, "Tag")
	if err != nil {
		return nil, err
	}
	q := c.Get("QueryKeyword")
	w := c.World
	var matched []*core.Account
	for _, a := range w.DirectoryAccountsLocked() {
		if (folderID == "" || a.FolderID == folderID) && matchesQuery(a, q) && matchesTags(a, filter) {
			matched = append(matched, a)
		}
	}
	lo, hi := window(len(matched), page, size)
	out := make([]listedAccount, 0, hi-lo)
	for _, a := range matched[lo:hi] {
		out = append(out, listed(w, a, withPath, withTags))
	}
	return map[string]any{
		"TotalCount": len(matched), "PageNumber": page, "PageSize": size,
		"Accounts": map[string]any{"Account": out},
	}, nil
}

func (s *service) listAccounts(c *core.Call) (any, error) {
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	return listAccountsIn(c, "", true)
}

func (s *service) listAccountsForParent(c *core.Call) (any, error) {
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	parent, err := folderIDParam(w, c, "ParentFolderId", true)
	if err != nil {
		return nil, err
	}
	return listAccountsIn(c, parent, false)
}

func (s *service) getAccount(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	withTags, err := c.Bool("IncludeTags", false)
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	a, ok := w.Accounts[id]
	if !ok || !a.InDirectory {
		return nil, errNoAccount(id)
	}
	return map[string]any{"Account": detail(w, a, false, withTags)}, nil
}

var (
	// Display names: 2-50 of letters (any script), digits, _ . - and space.
	displayNameRE = regexp.MustCompile(`^[\p{L}\p{N}_. -]+$`)
	// Account name prefixes: letters, digits and _ . -; alphanumeric at both ends; no doubled specials.
	prefixRE        = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$`)
	doubledSpecials = regexp.MustCompile(`[_.-]{2}`)
)

func checkDisplayName(name, param string) error {
	if n := utf8.RuneCountInString(name); n < 2 || n > 50 {
		return core.Errorf(400, "InvalidParameter.Account.DisplayName.Length", "The %s of the account must be 2 to 50 characters, got %d.", param, n)
	}
	if !displayNameRE.MatchString(name) {
		return core.Errorf(400, "InvalidParameter.Account.DisplayName", "The %s of account is invalid: use letters, digits, spaces and _ . - only.", param)
	}
	return nil
}

func displayNameUsedLocked(w *core.World, name, except string) bool {
	for _, a := range w.Accounts {
		if a.InDirectory && a.AccountID != except && a.DisplayName == name {
			return true
		}
	}
	return false
}

// newAccountIDLocked draws account ids until one is free.
func newAccountIDLocked(w *core.World) string {
	for {
		id := core.NewAccountID()
		if _, taken := w.Accounts[id]; !taken {
			return id
		}
	}
}

func resourceAccountName(w *core.World, prefix string) string {
	return prefix + "@" + strings.ToLower(w.Directory.ResourceDirectoryID) + ".aliyunid.com"
}

func (s *service) createResourceAccount(c *core.Call) (any, error) {
	display := c.Get("DisplayName")
	if display == "" {
		return nil, core.Errorf(400, "MissingParameter.Account.DisplayName", "You must specify DisplayName.")
	}
	if err := checkDisplayName(display, "DisplayName"); err != nil {
		return nil, err
	}
	prefix := c.Get("AccountNamePrefix")
	if prefix != "" {
		if n := len(prefix); n < 2 || n > 50 {
			return nil, core.Errorf(400, "InvalidParameter.Account.AccountNamePrefix.Length", "The account name prefix must be 2 to 50 characters, got %d.", n)
		}
		if !prefixRE.MatchString(prefix) || doubledSpecials.MatchString(prefix) {
			return nil, core.Errorf(400, "InvalidParameter.Account.AccountNamePrefix", "The account name prefix is invalid: letters, digits and _ . -, starting and ending with a letter or digit, without consecutive _ . -.")
		}
	}
	tags, err := tagsParam(c, "Tag")
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	parent, err := folderIDParam(w, c, "ParentFolderId", true)
	if err != nil {
		return nil, err
	}
	if displayNameUsedLocked(w, display, "") {
		return nil, core.Errorf(409, "InvalidParameter.Account.DisplayName.AlreadyUsed", "The displayname of account has been used: %s.", display)
	}
	id := newAccountIDLocked(w)
	if prefix == "" {
		prefix = "rd" + strings.ToLower(core.NewID("abcdefghijklmnopqrstuvwxyz0123456789", 10))
	}
	name := resourceAccountName(w, prefix)
	for _, a := range w.Accounts {
		if strings.EqualFold(a.AccountName, name) {
			return nil, core.Errorf(409, "EntityAlreadyExists.ResourceDirectory.Account", "The account name %s already exists in the resource directory.", name)
		}
	}
	a := w.AddAccountLocked(id, display, "ResourceAccount")
	a.AccountName = name
	a.Tags = tags
	w.JoinDirectoryLocked(a, parent, s.settle(c.Action, id, StatusCreateSuccess, StatusCreateVerifying), "created")
	resp := map[string]any{"Account": detail(w, a, true, false)}
	record(c, ResourceTypeAccount, id, resp)
	return resp, nil
}

func (s *service) updateAccount(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	newName, newType := c.Get("NewDisplayName"), c.Get("NewAccountType")
	switch {
	case newName == "" && newType == "":
		return nil, core.Errorf(409, "MissingDisplayNameOrAccountType", "Either display name or account type must be specified.")
	case newName != "" && newType != "":
		return nil, core.Errorf(409, "MissingDisplayNameOrAccountType", "Specify only one of NewDisplayName and NewAccountType.")
	case newName != "":
		if err := checkDisplayName(newName, "NewDisplayName"); err != nil {
			return nil, err
		}
	case newType != "ResourceAccount" && newType != "CloudAccount":
		return nil, core.Errorf(400, "InvalidParameter.NewAccountType", "The NewAccountType must be ResourceAccount or CloudAccount, got %q.", newType)
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	a, ok := w.Accounts[id]
	if !ok || !a.InDirectory {
		return nil, errNoAccount(id)
	}
	if newName != "" {
		if displayNameUsedLocked(w, newName, id) {
			return nil, core.Errorf(409, "InvalidParameter.Account.DisplayName.AlreadyUsed", "The displayname of account has been used: %s.", newName)
		}
		a.DisplayName = newName
	} else {
		if a.Type == newType || a.Management {
			return nil, core.Errorf(409, "AccountTypeMismatch", "The type or status of the member account cannot satisfy the current operation: it is already %s.", a.Type)
		}
		a.Type = newType
	}
	a.ModifyTime = w.Now()
	resp := map[string]any{"Account": detail(w, a, true, false)}
	record(c, ResourceTypeAccount, id, resp)
	return resp, nil
}

func (s *service) moveAccount(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	if _, err := required(c, "DestinationFolderId", "DestinationFolderId"); err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	dest, err := folderIDParam(w, c, "DestinationFolderId", false)
	if err != nil {
		return nil, err
	}
	a, ok := w.Accounts[id]
	if !ok || !a.InDirectory {
		return nil, errNoAccount(id)
	}
	a.FolderID = dest
	a.ModifyTime = w.Now()
	record(c, ResourceTypeAccount, id, map[string]any{})
	return map[string]any{}, nil
}

// leaveDirectoryLocked takes an account out of the directory. Its ResourceDirectoryAccountAccessRole
// stays behind, as it does in a real account after removal.
func leaveDirectoryLocked(w *core.World, a *core.Account) {
	a.InDirectory = false
	a.Status = StatusRemoved
	a.FolderID = ""
	a.ModifyTime = w.Now()
}

func delegatedServicesLocked(w *core.World, id string) []string {
	var out []string
	for svc, admins := range w.DelegatedAdmins {
		if _, ok := admins[id]; ok {
			out = append(out, svc)
		}
	}
	return out
}

func (s *service) removeCloudAccount(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	a, ok := w.MemberLocked(id)
	if !ok {
		return nil, errNoAccount(id)
	}
	// Only cloud accounts can leave: resource accounts are deleted, and an unfinished
	// promotion or creation cannot be removed either.
	if a.Type != "CloudAccount" || (a.Status != StatusInviteSuccess && a.Status != StatusPromoteSuccess && a.Status != StatusCreateSuccess) {
		return nil, core.Errorf(409, "AccountTypeOrStatusMismatch", "You cannot perform the action on the member account: %s is a %s in status %s; only cloud accounts can be removed.", id, a.Type, a.Status)
	}
	if svcs := delegatedServicesLocked(w, id); len(svcs) > 0 {
		return nil, core.Errorf(409, "Deny.TrustedService", "You attempted to remove an account that is used in %s. To complete this operation, you must first remove this account from the Trusted Service.", strings.Join(svcs, ","))
	}
	leaveDirectoryLocked(w, a)
	record(c, ResourceTypeAccount, id, map[string]any{})
	return map[string]any{}, nil
}

func (s *service) deleteAccount(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	a, ok := w.MemberLocked(id)
	if !ok {
		return nil, errNoAccount(id)
	}
	if a.Type != "ResourceAccount" || a.JoinMethod != "created" {
		return nil, core.Errorf(409, "MemberTypeError.DeleteAccount", "You can only delete accounts of the resource account type created by Resource Directory: %s is a %s.", id, a.Type)
	}
	if w.Directory.MemberDeletionStatus != "Enabled" {
		return nil, core.Errorf(409, "NoLicense.ResourceDirectory", "The resource directory has not enabled the delete operation.")
	}
	if svcs := delegatedServicesLocked(w, id); len(svcs) > 0 {
		return nil, core.Errorf(409, "RemoveConfilctAccountAsDelegatedAdministator", "You attempted to remove a member that is registered as a delegated administrator (%s). To complete this operation, you must first deregister this account as a delegated administrator.", strings.Join(svcs, ","))
	}
	// The real deletion runs a check and a silent period; here it completes at once: the
	// account, its roles and its keys are gone.
	leaveDirectoryLocked(w, a)
	delete(w.Accounts, id)
	delete(w.Roles, id)
	delete(w.ServiceLinkedRoles, id)
	for kid, k := range w.AccessKeys {
		if k.AccountID == id {
			delete(w.AccessKeys, kid)
		}
	}
	resp := map[string]any{"DeletionType": "0"} // 0: direct deletion (no pay-as-you-go resources)
	record(c, ResourceTypeAccount, id, resp)
	return resp, nil
}

func (s *service) promoteResourceAccount(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	email, err := required(c, "Email", "Email")
	if err != nil {
		return nil, err
	}
	if at := strings.IndexByte(email, '@'); at < 1 || at == len(email)-1 || strings.ContainsAny(email, " \t") || len(email) > 100 {
		return nil, core.Errorf(400, "InvalidParameter.Email", "The Email is invalid: %q is not an email address.", email)
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	a, ok := w.MemberLocked(id)
	if !ok {
		return nil, errNoAccount(id)
	}
	if a.Type != "ResourceAccount" || a.Status == StatusPromoteVerifying || a.Status == StatusCreateVerifying {
		return nil, core.Errorf(409, "AccountTypeOrStatusMismatch", "You cannot perform the action on the member account: %s is a %s in status %s.", id, a.Type, a.Status)
	}
	for _, o := range w.Accounts {
		if strings.EqualFold(o.AccountName, email) {
			return nil, core.Errorf(409, "InvalidParameter.Email.AlreadyUsed", "The email has been used: %s.", email)
		}
	}
	// The call answers PromoteVerifying (the owner must confirm by email); unless pending mode
	// holds it there, the promotion then completes at once.
	a.Status = StatusPromoteVerifying
	a.ModifyTime = w.Now()
	d := detail(w, a, true, false)
	d.RecordID = strings.ToLower(core.NewRequestID())
	if final := s.settle(c.Action, id, StatusPromoteSuccess, StatusPromoteVerifying); final != StatusPromoteVerifying {
		a.Status = final
		if final == StatusPromoteSuccess {
			a.Type = "CloudAccount"
			a.AccountName = email
		}
	}
	resp := map[string]any{"Account": d}
	record(c, ResourceTypeAccount, id, resp)
	return resp, nil
}
