// Package resourcemanager is localcloud's Resource Manager 2020-03-31: the Resource Directory
// (folders, members, invitations, delegated administrators) as the unmodified
// alibaba-cloud-sdk-go resourcemanager client sees it. Every write leaves an ActionTrail record
// shaped like the real one, because the product's event path is driven by those records.
package resourcemanager

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/identity"
)

// Product, Version and EventSource identify the service on the gateway and in records.
const (
	Product     = "ResourceManager"
	Version     = "2020-03-31"
	EventSource = "resourcemanager.aliyuncs.com"
)

// Resource types written into ActionTrail records.
const (
	ResourceTypeAccount   = "ACS::ResourceManager::Account"
	ResourceTypeFolder    = "ACS::ResourceManager::Folder"
	ResourceTypeHandshake = "ACS::ResourceManager::Handshake"
)

// Member statuses (the full set the API documents).
const (
	StatusCreateSuccess    = "CreateSuccess"
	StatusCreateVerifying  = "CreateVerifying"
	StatusCreateFailed     = "CreateFailed"
	StatusCreateExpired    = "CreateExpired"
	StatusCreateCancelled  = "CreateCancelled"
	StatusPromoteVerifying = "PromoteVerifying"
	StatusPromoteFailed    = "PromoteFailed"
	StatusPromoteExpired   = "PromoteExpired"
	StatusPromoteCancelled = "PromoteCancelled"
	StatusPromoteSuccess   = "PromoteSuccess"
	StatusInviteSuccess    = "InviteSuccess"
	StatusRemoved          = "Removed"
)

// Options change how asynchronous operations settle.
type Options struct {
	// PendingCreates leaves accounts made by CreateResourceAccount in CreateVerifying and
	// promotions in PromoteVerifying until SetStatus moves them on. Off: both settle at once.
	PendingCreates bool
	// Status, when set, decides the status of a new ("CreateResourceAccount") or promoted
	// ("PromoteResourceAccount") account; "" falls back to PendingCreates. It is called with
	// the world lock held and must not touch the world.
	Status func(action, accountID string) string
}

type service struct{ opts Options }

// Service is Resource Manager with asynchronous operations settling at once.
func Service() *core.Service { return NewService(Options{}) }

// NewService is Resource Manager with the given options.
func NewService(opts Options) *core.Service {
	s := &service{opts: opts}
	return &core.Service{
		Product: Product, Version: Version, EventSource: EventSource, ServiceName: "ResourceManager",
		Actions: map[string]core.Action{
			"GetResourceDirectory":        {Handler: s.getResourceDirectory},
			"ListAccounts":                {Handler: s.listAccounts},
			"GetAccount":                  {Handler: s.getAccount},
			"ListAccountsForParent":       {Handler: s.listAccountsForParent},
			"ListFoldersForParent":        {Handler: s.listFoldersForParent},
			"ListAncestors":               {Handler: s.listAncestors},
			"GetFolder":                   {Handler: s.getFolder},
			"ListDelegatedAdministrators": {Handler: s.listDelegatedAdministrators},
			"GetHandshake":                {Handler: s.getHandshake},
			"ListHandshakesForAccount":    {Handler: s.listHandshakesForAccount},

			"CreateResourceAccount":            {Handler: s.createResourceAccount, Write: true},
			"UpdateAccount":                    {Handler: s.updateAccount, Write: true},
			"MoveAccount":                      {Handler: s.moveAccount, Write: true},
			"RemoveCloudAccount":               {Handler: s.removeCloudAccount, Write: true},
			"DeleteAccount":                    {Handler: s.deleteAccount, Write: true},
			"PromoteResourceAccount":           {Handler: s.promoteResourceAccount, Write: true},
			"CreateFolder":                     {Handler: s.createFolder, Write: true},
			"DeleteFolder":                     {Handler: s.deleteFolder, Write: true},
			"InviteAccountToResourceDirectory": {Handler: s.inviteAccount, Write: true},
			"AcceptHandshake":                  {Handler: s.acceptHandshake, Write: true},
			"DeclineHandshake":                 {Handler: s.declineHandshake, Write: true},
			"CancelHandshake":                  {Handler: s.cancelHandshake, Write: true},
			"RegisterDelegatedAdministrator":   {Handler: s.registerDelegatedAdministrator, Write: true},
			"DeregisterDelegatedAdministrator": {Handler: s.deregisterDelegatedAdministrator, Write: true},
			"TagResources":                     {Handler: s.tagResources, Write: true},
			"UntagResources":                   {Handler: s.untagResources, Write: true},
			"CreateServiceLinkedRole":          {Handler: createServiceLinkedRole, Write: true},
		},
	}
}

// settle picks the status an asynchronous operation leaves an account in.
func (s *service) settle(action, accountID, done, pending string) string {
	if s.opts.Status != nil {
		if st := s.opts.Status(action, accountID); st != "" {
			return st
		}
	}
	if s.opts.PendingCreates {
		return pending
	}
	return done
}

// SetStatus moves an account to a status (the verification a human would complete by email).
// PromoteSuccess also makes it a CloudAccount, as a finished promotion does. Unknown ids are ignored.
func SetStatus(w *core.World, accountID, status string) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	a, ok := w.Accounts[accountID]
	if !ok {
		return
	}
	a.Status = status
	if status == StatusPromoteSuccess {
		a.Type = "CloudAccount"
	}
	a.ModifyTime = w.Now()
}

// --- authorization ---

// standing is what the caller is to the directory; higher values may do more.
type standing int

const (
	outsider standing = iota
	member
	delegatedAdmin
	management
)

func standingOf(w *core.World, accountID string) standing {
	if w.Directory == nil {
		return outsider
	}
	if accountID == w.ManagementAccountID {
		return management
	}
	a, ok := w.Accounts[accountID]
	if !ok || !a.InDirectory {
		return outsider
	}
	if w.CanManageDirectoryLocked(accountID) {
		return delegatedAdmin
	}
	return member
}

func errNoDirectory() error {
	return core.Errorf(404, "EntityNotExists.ResourceDirectory", "The resource directory for the account is not enabled. We recommend that you first enable the resource directory for the account.")
}

// authorize checks the caller may run an action needing at least `need`. The real service answers
// a member calling a management API with 403 MemberAccountAccessDenied (documented for
// SetMemberDeletionPermission); an account outside any directory has no directory to act on.
// Caller holds w.Mu.
func authorize(w *core.World, c *core.Call, need standing) error {
	if w.Directory == nil {
		return errNoDirectory()
	}
	got := standingOf(w, c.Caller.AccountID)
	switch {
	case got >= need:
	case got == outsider:
		return errNoDirectory()
	default:
		who := "the management account"
		if need == delegatedAdmin {
			who += " or a delegated administrator"
		}
		return core.Errorf(403, "MemberAccountAccessDenied", "The member account is not allowed to perform the operation: %s needs %s.", c.Action, who)
	}
	if c.Service != nil && c.Service.Actions[c.Action].Write && readOnlyUser(c.Caller) {
		return core.Errorf(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	}
	return nil
}

// readOnlyUser mirrors identity's convention: RAM users named "*readonly*" have no write permission.
func readOnlyUser(p core.Principal) bool {
	return p.Type == core.PrincipalRAMUser && strings.Contains(strings.ToLower(p.UserName), "readonly")
}

// --- parameters ---

var (
	accountIDRE   = regexp.MustCompile(`^[0-9]{16}$`)
	folderIDRE    = regexp.MustCompile(`^(r|fd)-[A-Za-z0-9]{1,32}$`)
	handshakeIDRE = regexp.MustCompile(`^h-[A-Za-z0-9]{1,32}$`)
)

// required returns a parameter or 400 MissingParameter.<code> with the real wording.
func required(c *core.Call, name, code string) (string, error) {
	v := c.Get(name)
	if v == "" {
		return "", core.Errorf(400, "MissingParameter."+code, "You must specify %s.", name)
	}
	return v, nil
}

func accountIDParam(c *core.Call, name string) (string, error) {
	v, err := required(c, name, name)
	if err != nil {
		return "", err
	}
	if !accountIDRE.MatchString(v) {
		return "", core.Errorf(400, "InvalidParameter."+name, "The %s is invalid: an account id is 16 digits.", name)
	}
	return v, nil
}

// folderIDParam reads an optional or required folder id; empty optional means the root.
func folderIDParam(w *core.World, c *core.Call, name string, optional bool) (string, error) {
	v := c.Get(name)
	if v == "" {
		if optional {
			return w.Directory.RootFolderID, nil
		}
		return "", core.Errorf(400, "MissingParameter."+name, "You must specify %s.", name)
	}
	if !folderIDRE.MatchString(v) {
		return "", core.Errorf(400, "InvalidParameter."+name, "The %s is invalid: a folder id is r-xxxx or fd-xxxx.", name)
	}
	if _, ok := w.Folders[v]; !ok {
		return "", errNoFolder(v)
	}
	return v, nil
}

func errNoFolder(id string) error {
	return core.Errorf(404, "EntityNotExists.Folder", "The resource directory folder does not exist: %s.", id)
}

func errNoAccount(id string) error {
	return core.Errorf(404, "EntityNotExists.Account", "This resource directory account does not exist: %s.", id)
}

// paging reads PageNumber (1..) and PageSize (1..100, default 10) as every RM list does.
func paging(c *core.Call) (page, size int, err error) {
	if page, err = c.Int("PageNumber", 1, 1, math.MaxInt32); err != nil {
		return 0, 0, err
	}
	if size, err = c.Int("PageSize", 10, 1, 100); err != nil {
		return 0, 0, err
	}
	return page, size, nil
}

// window is the [lo, hi) slice of total items a page covers.
func window(total, page, size int) (lo, hi int) {
	lo = (page - 1) * size
	if lo > total {
		lo = total
	}
	hi = lo + size
	if hi > total {
		hi = total
	}
	return lo, hi
}

const maxTags = 20

// tagsParam reads Tag.N.Key / Tag.N.Value: at most 20, every one with a key, a repeated key wins last.
func tagsParam(c *core.Call, prefix string) ([]core.Tag, error) {
	entries := c.RepeatList(prefix)
	if len(entries) > maxTags {
		return nil, core.Errorf(400, "InvalidParameter.Tag", "The parameter %s has %d tags: at most %d are allowed.", prefix, len(entries), maxTags)
	}
	out := make([]core.Tag, 0, len(entries))
	for _, e := range entries {
		k, v := e["Key"], e["Value"]
		switch {
		case k == "":
			return nil, core.Errorf(400, "InvalidParameter.Tag.Key", "The parameter %s.N.Key is required for every tag.", prefix)
		case len(k) > 128:
			return nil, core.Errorf(400, "InvalidParameter.Tag.Key", "The tag key %q is longer than 128 characters.", k[:16]+"...")
		case len(v) > 128:
			return nil, core.Errorf(400, "InvalidParameter.Tag.Value", "The value of tag %q is longer than 128 characters.", k)
		}
		out = setTag(out, k, v)
	}
	return out, nil
}

// setTag adds or replaces a tag, keeping order.
func setTag(tags []core.Tag, k, v string) []core.Tag {
	for i := range tags {
		if tags[i].Key == k {
			tags[i].Value = v
			return tags
		}
	}
	return append(tags, core.Tag{Key: k, Value: v})
}

// --- records ---

// record enriches the call's ActionTrail record: the resource it touched and the response the
// real service returns as responseElements (RequestId included, as real records carry it).
func record(c *core.Call, resourceType, resourceName string, resp any) {
	if c.Record == nil {
		return
	}
	c.Record.ResourceType = resourceType
	c.Record.ResourceName = resourceName
	if resp == nil {
		return
	}
	// Round-trip through JSON so in-process consumers see what a decoded record holds.
	b, err := json.Marshal(resp)
	if err != nil {
		return
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return
	}
	m["RequestId"] = c.RequestID
	c.Record.ResponseElements = m
}

func createServiceLinkedRole(c *core.Call) (any, error) {
	resp, err := identity.CreateServiceLinkedRole(c)
	if err != nil {
		return nil, err
	}
	if c.Record != nil {
		c.Record.ResourceType = "ACS::RAM::Role"
		c.Record.ResourceName = c.Get("ServiceName")
	}
	return resp, nil
}

// FrequencyFault is a scripted failure with Resource Manager's own frequency-limit answer
// (409 LimitExceeded.Frequency) for the next count calls of action; for World.Faults.Script.
func FrequencyFault(action string, count int) core.FaultRule {
	return core.FaultRule{
		Product: Product, Action: action, Count: count, Status: 409,
		Code: "LimitExceeded.Frequency", Message: "The frequency of request exceeds limit.",
	}
}
