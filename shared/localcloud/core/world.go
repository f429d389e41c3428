package core

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Directory is the Resource Directory of the management account.
type Directory struct {
	ResourceDirectoryID  string
	RootFolderID         string
	MasterAccountID      string
	MasterAccountName    string
	CreateTime           time.Time
	ControlPolicyStatus  string
	MemberDeletionStatus string
}

// Account is any Alibaba Cloud account localcloud knows; InDirectory says whether it is a member now.
type Account struct {
	AccountID   string
	AccountName string // e.g. dev-01@rd-xxx.aliyunid.com
	DisplayName string
	Type        string // CloudAccount | ResourceAccount
	Status      string // CreateSuccess, CreateVerifying, InviteSuccess, PromoteVerifying, ...
	JoinMethod  string // invited | created
	FolderID    string
	InDirectory bool
	JoinTime    time.Time
	ModifyTime  time.Time
	Tags        []Tag
	// Management is the account that created the directory; it is in the directory but never a "member".
	Management bool
}

type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type Folder struct {
	FolderID       string
	FolderName     string
	ParentFolderID string // empty for the root
	CreateTime     time.Time
}

// Handshake is an invitation of a cloud account into the directory.
type Handshake struct {
	HandshakeID         string
	ResourceDirectoryID string
	MasterAccountID     string
	MasterAccountName   string
	TargetEntity        string
	TargetType          string // Account | Email
	Note                string
	Status              string // Pending | Accepted | Cancelled | Declined | Expired
	CreateTime          time.Time
	ModifyTime          time.Time
	ExpireTime          time.Time
}

// World is the whole emulated organization. Service packages hold Mu while they read or
// change the exported maps; the methods here take it themselves.
type World struct {
	Mu sync.RWMutex

	Clock  Clock
	Region string

	ManagementAccountID string
	Directory           *Directory // nil until the directory is enabled
	Accounts            map[string]*Account
	Folders             map[string]*Folder
	Handshakes          map[string]*Handshake
	// DelegatedAdmins maps a service principal (actiontrail.aliyuncs.com) to account id -> registration time.
	DelegatedAdmins map[string]map[string]time.Time

	AccessKeys map[string]*AccessKey
	STS        map[string]*STSCredential   // by STS AccessKeyId
	Roles      map[string]map[string]*Role // account -> lower-case role name -> role
	// ServiceLinkedRoles records which service-linked roles each account has (account -> service).
	ServiceLinkedRoles map[string]map[string]bool

	nonces nonceCache

	Recorder *Recorder
	Bus      *Bus
	Faults   *Faults
	Stats    *Stats

	// Backends let services reach each other without import cycles (ActionTrail delivers into SLS/OSS).
	// RecordReads makes read calls leave records too (off by default: benchmarks make millions).
	RecordReads bool

	SLS SLSBackend
	OSS OSSBackend
}

// NewWorld makes an empty world with a management account (and its root AccessKey) and an enabled directory.
func NewWorld(region string, clock Clock) *World {
	if clock == nil {
		clock = realClock{}
	}
	w := &World{
		Clock:              clock,
		Region:             region,
		Accounts:           map[string]*Account{},
		Folders:            map[string]*Folder{},
		Handshakes:         map[string]*Handshake{},
		DelegatedAdmins:    map[string]map[string]time.Time{},
		AccessKeys:         map[string]*AccessKey{},
		STS:                map[string]*STSCredential{},
		Roles:              map[string]map[string]*Role{},
		ServiceLinkedRoles: map[string]map[string]bool{},
		Faults:             NewFaults(),
		Stats:              NewStats(),
	}
	w.nonces.init()
	w.Recorder = newRecorder(w)
	w.Bus = newBus(w)
	return w
}

// Now is the world's clock, in UTC.
func (w *World) Now() time.Time { return w.Clock.Now().UTC() }

// EnableDirectoryLocked creates the management account and its Resource Directory. Caller holds Mu.
func (w *World) EnableDirectoryLocked(managementID, name string) *Directory {
	now := w.Now()
	acct := w.addAccountLocked(managementID, name, "CloudAccount", "CreateSuccess", "created")
	acct.Management = true
	w.ManagementAccountID = managementID
	root := &Folder{FolderID: "r-" + NewID(mixedAlnum[:36], 6), FolderName: "Root", CreateTime: now}
	w.Folders[root.FolderID] = root
	w.Directory = &Directory{
		ResourceDirectoryID:  "rd-" + NewID(mixedAlnum[26:], 6),
		RootFolderID:         root.FolderID,
		MasterAccountID:      managementID,
		MasterAccountName:    name,
		CreateTime:           now,
		ControlPolicyStatus:  "Disabled",
		MemberDeletionStatus: "Enabled",
	}
	acct.FolderID = root.FolderID
	acct.InDirectory = true
	return w.Directory
}

// AddAccountLocked registers an account (not yet in the directory) with the roles every account has.
func (w *World) AddAccountLocked(id, displayName, typ string) *Account {
	return w.addAccountLocked(id, displayName, typ, "", "")
}

func (w *World) addAccountLocked(id, displayName, typ, status, join string) *Account {
	now := w.Now()
	a := &Account{
		AccountID:   id,
		AccountName: strings.ToLower(strings.ReplaceAll(displayName, " ", "-")) + "@" + id + ".onaliyun.com",
		DisplayName: displayName,
		Type:        typ,
		Status:      status,
		JoinMethod:  join,
		JoinTime:    now,
		ModifyTime:  now,
	}
	w.Accounts[id] = a
	if w.Roles[id] == nil {
		w.Roles[id] = map[string]*Role{}
	}
	return a
}

// JoinDirectoryLocked makes an account a member in a folder, with the access role trusting management.
func (w *World) JoinDirectoryLocked(a *Account, folderID, status, joinMethod string) {
	now := w.Now()
	a.InDirectory = true
	a.Status = status
	a.JoinMethod = joinMethod
	a.FolderID = folderID
	a.JoinTime = now
	a.ModifyTime = now
	if w.Directory != nil {
		w.EnsureRoleLocked(a.AccountID, "ResourceDirectoryAccountAccessRole",
			TrustPolicyForAccounts(w.Directory.MasterAccountID), "AdministratorAccess")
	}
}

// TrustPolicyForAccounts is a RAM trust policy letting the given accounts assume a role.
func TrustPolicyForAccounts(ids ...string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", "acs:ram::"+id+":root")
	}
	return `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":[` + strings.Join(q, ",") + `]}}],"Version":"1"}`
}

// TrustPolicyForServices is a RAM trust policy letting cloud services (actiontrail.aliyuncs.com) assume a role.
func TrustPolicyForServices(services ...string) string {
	q := make([]string, len(services))
	for i, s := range services {
		q[i] = fmt.Sprintf("%q", s)
	}
	return `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":[` + strings.Join(q, ",") + `]}}],"Version":"1"}`
}

// EnsureRoleLocked creates the role if missing (used for system roles and seeding).
func (w *World) EnsureRoleLocked(accountID, name, trust string, policies ...string) *Role {
	if w.Roles[accountID] == nil {
		w.Roles[accountID] = map[string]*Role{}
	}
	if r, ok := w.Roles[accountID][strings.ToLower(name)]; ok {
		return r
	}
	now := w.Now()
	r := &Role{
		RoleID:                   "3" + NewID(digits, 18),
		RoleName:                 name,
		AccountID:                accountID,
		AssumeRolePolicyDocument: trust,
		MaxSessionDuration:       3600,
		CreateDate:               now,
		UpdateDate:               now,
	}
	r.TrustedAccounts, r.TrustedServices = ParseTrustPolicy(trust)
	for _, p := range policies {
		r.Policies = append(r.Policies, AttachedPolicy{PolicyType: "System", PolicyName: p, AttachDate: now})
	}
	w.Roles[accountID][strings.ToLower(name)] = r
	return r
}

// NewAccessKeyLocked issues a long-lived AccessKey pair for an account (userName empty = root).
func (w *World) NewAccessKeyLocked(accountID, userName string) *AccessKey {
	k := &AccessKey{ID: "LTAI" + NewID(mixedAlnum, 20), Secret: NewID(mixedAlnum, 30), AccountID: accountID, UserName: userName}
	w.AccessKeys[k.ID] = k
	return k
}

// Member reports whether id is a directory member other than the management account.
func (w *World) MemberLocked(id string) (*Account, bool) {
	a, ok := w.Accounts[id]
	if !ok || !a.InDirectory || a.Management {
		return nil, false
	}
	return a, true
}

// DirectoryAccountsLocked lists every account in the directory (management included), ordered by join time then id.
func (w *World) DirectoryAccountsLocked() []*Account {
	out := make([]*Account, 0, len(w.Accounts))
	for _, a := range w.Accounts {
		if a.InDirectory {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].JoinTime.Equal(out[j].JoinTime) {
			return out[i].JoinTime.Before(out[j].JoinTime)
		}
		return out[i].AccountID < out[j].AccountID
	})
	return out
}

// FolderPathLocked is the folder ids from the root down to folderID.
func (w *World) FolderPathLocked(folderID string) []string {
	var path []string
	for id := folderID; id != ""; {
		f, ok := w.Folders[id]
		if !ok {
			break
		}
		path = append([]string{f.FolderID}, path...)
		id = f.ParentFolderID
	}
	return path
}

// ResourceDirectoryPathLocked is what ListAccounts shows: rd-xxx/r-xxx/fd-xxx/<account>.
func (w *World) ResourceDirectoryPathLocked(a *Account) string {
	if w.Directory == nil {
		return ""
	}
	parts := append([]string{w.Directory.ResourceDirectoryID}, w.FolderPathLocked(a.FolderID)...)
	return strings.Join(append(parts, a.AccountID), "/")
}

// IsDelegatedAdminLocked reports whether account is the delegated administrator of service.
func (w *World) IsDelegatedAdminLocked(accountID, servicePrincipal string) bool {
	_, ok := w.DelegatedAdmins[servicePrincipal][accountID]
	return ok
}

// CanManageDirectoryLocked: the management account, or any delegated administrator for read calls.
func (w *World) CanManageDirectoryLocked(accountID string) bool {
	if accountID == w.ManagementAccountID {
		return true
	}
	for _, admins := range w.DelegatedAdmins {
		if _, ok := admins[accountID]; ok {
			return true
		}
	}
	return false
}

// ParseTrustPolicy extracts trusted account ids and services from a RAM trust policy. It is lenient:
// real RAM validates documents on CreateRole; here an unreadable document simply trusts nobody.
func ParseTrustPolicy(doc string) (accounts, services []string) {
	var p struct {
		Statement []struct {
			Effect    string
			Principal struct {
				RAM     any
				Service any
			}
		}
	}
	if err := jsonUnmarshal([]byte(doc), &p); err != nil {
		return nil, nil
	}
	for _, st := range p.Statement {
		if !strings.EqualFold(st.Effect, "Allow") {
			continue
		}
		for _, r := range stringsOf(st.Principal.RAM) {
			// acs:ram::<uid>:root, acs:ram::<uid>:role/x, or a bare uid
			id := r
			if strings.HasPrefix(r, "acs:ram::") {
				rest := strings.TrimPrefix(r, "acs:ram::")
				id, _, _ = strings.Cut(rest, ":")
			}
			accounts = append(accounts, id)
		}
		services = append(services, stringsOf(st.Principal.Service)...)
	}
	return accounts, services
}

func stringsOf(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
