package logaudit

import (
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// Membership modes of a stored configuration, as Members reports them.
const (
	// ModeSingle: no multi-account configuration; only the central account is collected.
	ModeSingle = "single"
	// ModeCustomAuth: custom authentication mode, the members listed in multi_account.
	ModeCustomAuth = "custom-authentication"
	// ModeRDAll: resource directory mode, All Members.
	ModeRDAll = "resource-directory-all"
	// ModeRDCustom: resource directory mode, Custom (the listed members).
	ModeRDCustom = "resource-directory-custom"
)

// IsResourceDirectory reports whether mode is one of the resource directory modes.
func IsResourceDirectory(mode string) bool { return mode == ModeRDAll || mode == ModeRDCustom }

// Names of the roles and policies Log Audit depends on (from "Authorize Log Service to collect and
// synchronize logs" and "Manage the AliyunServiceRoleForSLSAudit service-linked role").
const (
	// ServicePrincipal is the service whose delegated administrator may use resource directory mode.
	ServicePrincipal = "audit.log.aliyuncs.com"
	// ServiceLinkedRole lives in the central account; Log Audit reads the directory through it.
	ServiceLinkedRole = "AliyunServiceRoleForSLSAudit"
	// MemberRole must exist in every custom-authentication member, trusting <central>@log.aliyuncs.com.
	MemberRole = "sls-audit-service-monitor"
	// MemberPolicy is the custom policy attached to MemberRole (with the system policy ReadOnlyAccess).
	MemberPolicy = "AliyunLogAuditServiceMonitorAccess"
	// MemberReadOnlyPolicy is the system policy attached to MemberRole.
	MemberReadOnlyPolicy = "ReadOnlyAccess"
)

// MemberTrustService is the service principal a member's MemberRole must trust for central to assume it.
func MemberTrustService(central string) string { return central + "@log.aliyuncs.com" }

// AppConfig is the stored Log Audit configuration of one central account.
//
// The whole configuration is one document: AnalyzeAppLog replaces it, and the real API has no
// version check or compare-and-swap. Two writers doing read-modify-write at once (for example two
// handlers each adding one member to a resource directory Custom list) can lose a member: the last
// write wins. The product must serialise its own writes and re-read after writing; localcloud
// deliberately does not add a compare-and-swap the real API lacks. Version only lets tests and the
// product see that a write happened.
type AppConfig struct {
	Account     string // central account id
	AppName     string // always "audit"
	DisplayName string
	// VariableMap is the parameter exactly as sent; DescribeApp returns it byte for byte.
	VariableMap string
	Vars        map[string]string
	Region      string
	Project     string
	Mode        string
	// Accounts are the listed uids (custom authentication or resource directory Custom).
	Accounts []string
	// Version increments on every successful write of this account's configuration (deletes too).
	Version    int64
	CreateTime time.Time
	UpdateTime time.Time
}

func (c *AppConfig) clone() AppConfig {
	out := *c
	out.Accounts = append([]string(nil), c.Accounts...)
	out.Vars = make(map[string]string, len(c.Vars))
	for k, v := range c.Vars {
		out.Vars[k] = v
	}
	return out
}

// hasRDMembers reports whether a resource directory configuration still collects anyone: the seed's
// "clear" is All changed to Custom with no accounts selected.
func (c *AppConfig) hasRDMembers() bool {
	return c.Mode == ModeRDAll || (c.Mode == ModeRDCustom && len(c.Accounts) > 0)
}

// store is one world's Log Audit state. Lock order: World.Mu before store.mu, never the reverse.
type store struct {
	mu       sync.Mutex
	apps     map[string]*AppConfig // central account -> configuration
	versions map[string]int64      // central account -> last version (survives DeleteApp)
}

// registry maps each world to its state without keeping worlds alive: a weak key, dropped by a
// cleanup when the world is collected. core.World has no slot for service state, by design.
var registry = struct {
	mu sync.Mutex
	m  map[weak.Pointer[core.World]]*store
}{m: map[weak.Pointer[core.World]]*store{}}

func storeOf(w *core.World) *store {
	key := weak.Make(w)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	s, ok := registry.m[key]
	if !ok {
		s = &store{apps: map[string]*AppConfig{}, versions: map[string]int64{}}
		registry.m[key] = s
		runtime.AddCleanup(w, func(k weak.Pointer[core.World]) {
			registry.mu.Lock()
			delete(registry.m, k)
			registry.mu.Unlock()
		}, key)
	}
	return s
}

// Config returns a copy of account's stored configuration.
func Config(w *core.World, account string) (AppConfig, bool) {
	s := storeOf(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.apps[account]
	if !ok {
		return AppConfig{}, false
	}
	return c.clone(), true
}

// Configs returns copies of every stored configuration, ordered by account.
func Configs(w *core.World) []AppConfig {
	s := storeOf(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AppConfig, 0, len(s.apps))
	for _, c := range s.apps {
		out = append(out, c.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out
}

// Members computes who central's configuration actually collects, now. It returns "" when central
// has no configuration. Resource directory All is every directory account but central at the time
// of the call (so a new member is collected without a write); Custom is the listed uids still in
// the directory; both are empty when central is no longer the management account or the delegated
// administrator of audit.log.aliyuncs.com (Log Audit can no longer read the directory for it).
// Custom authentication is the listed uids. The central account itself is collected in every mode
// and is not listed.
func Members(w *core.World, central string) (mode string, uids []string) {
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	s := storeOf(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.apps[central]
	if !ok {
		return "", nil
	}
	switch c.Mode {
	case ModeCustomAuth:
		for _, u := range c.Accounts {
			if u != central {
				uids = append(uids, u)
			}
		}
	case ModeRDAll:
		if !mayUseDirectoryLocked(w, central) {
			return c.Mode, nil
		}
		for _, a := range w.DirectoryAccountsLocked() {
			if a.AccountID != central {
				uids = append(uids, a.AccountID)
			}
		}
	case ModeRDCustom:
		if !mayUseDirectoryLocked(w, central) {
			return c.Mode, nil
		}
		for _, u := range c.Accounts {
			if u != central && inDirectoryLocked(w, u) {
				uids = append(uids, u)
			}
		}
	}
	return c.Mode, uids
}

// mayUseDirectoryLocked: resource directory mode belongs to the management account and to the
// delegated administrator of Log Audit.
func mayUseDirectoryLocked(w *core.World, account string) bool {
	if w.Directory == nil {
		return false
	}
	return account == w.ManagementAccountID || w.IsDelegatedAdminLocked(account, ServicePrincipal)
}

// inDirectoryLocked: a directory member, or the management account (which a delegated
// administrator's Custom list may name).
func inDirectoryLocked(w *core.World, uid string) bool {
	if _, ok := w.MemberLocked(uid); ok {
		return true
	}
	return w.Directory != nil && uid == w.ManagementAccountID
}

// memberAuthorizedLocked checks what custom authentication needs in a member: MemberRole trusting
// <central>@log.aliyuncs.com with MemberPolicy attached. It returns a sentence naming what is missing.
func memberAuthorizedLocked(w *core.World, central, member string) (problem string) {
	r, ok := w.Roles[member][strings.ToLower(MemberRole)]
	if !ok {
		return "has no RAM role " + MemberRole
	}
	trusted := false
	for _, svc := range r.TrustedServices {
		if svc == MemberTrustService(central) {
			trusted = true
		}
	}
	if !trusted {
		return "has RAM role " + MemberRole + " but its trust policy does not name " + MemberTrustService(central)
	}
	for _, p := range r.Policies {
		if p.PolicyName == MemberPolicy {
			return ""
		}
	}
	return "has RAM role " + MemberRole + " without the policy " + MemberPolicy
}

// GrantMemberRoles does in member what AccessKey pair-based authorization does: creates MemberRole
// trusting central's Log Audit with MemberPolicy and ReadOnlyAccess attached (idempotent).
func GrantMemberRoles(w *core.World, central, member string) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	r := w.EnsureRoleLocked(member, MemberRole,
		core.TrustPolicyForServices(MemberTrustService(central), "log.aliyuncs.com"))
	if !containsString(r.TrustedServices, MemberTrustService(central)) {
		// The role existed for another central account: add this one, as re-authorizing does.
		r.AssumeRolePolicyDocument = core.TrustPolicyForServices(append(r.TrustedServices, MemberTrustService(central))...)
		r.TrustedAccounts, r.TrustedServices = core.ParseTrustPolicy(r.AssumeRolePolicyDocument)
		r.UpdateDate = w.Now()
	}
	have := map[string]bool{}
	for _, p := range r.Policies {
		have[p.PolicyName] = true
	}
	for _, p := range []core.AttachedPolicy{{PolicyType: "Custom", PolicyName: MemberPolicy}, {PolicyType: "System", PolicyName: MemberReadOnlyPolicy}} {
		if !have[p.PolicyName] {
			p.AttachDate = w.Now()
			r.Policies = append(r.Policies, p)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
