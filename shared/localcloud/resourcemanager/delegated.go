package resourcemanager

import (
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// trustedServices are the service principals that accept delegated administrators here. The real
// list is longer; these are the ones an audit product meets.
var trustedServices = map[string]bool{
	"actiontrail.aliyuncs.com":     true,
	"audit.log.aliyuncs.com":       true,
	"config.aliyuncs.com":          true,
	"cloudfw.aliyuncs.com":         true,
	"sas.aliyuncs.com":             true,
	"cloudsso.aliyuncs.com":        true,
	"resourcemanager.aliyuncs.com": true,
}

type delegatedJSON struct {
	AccountID             string `json:"AccountId"`
	DisplayName           string `json:"DisplayName"`
	AccountName           string `json:"AccountName"`
	ServicePrincipal      string `json:"ServicePrincipal"`
	DelegationEnabledTime string `json:"DelegationEnabledTime"`
	JoinMethod            string `json:"JoinMethod"`
	JoinTime              string `json:"JoinTime"`
}

func (s *service) listDelegatedAdministrators(c *core.Call) (any, error) {
	page, size, err := paging(c)
	if err != nil {
		return nil, err
	}
	filter := c.Get("ServicePrincipal")
	w := c.World
	w.Mu.RLock()
	defer w.Mu.RUnlock()
	if err := authorize(w, c, delegatedAdmin); err != nil {
		return nil, err
	}
	type reg struct {
		svc, id string
		at      time.Time
	}
	var regs []reg
	for svc, admins := range w.DelegatedAdmins {
		if filter != "" && svc != filter {
			continue
		}
		for id, at := range admins {
			regs = append(regs, reg{svc, id, at})
		}
	}
	sort.Slice(regs, func(i, j int) bool {
		if !regs[i].at.Equal(regs[j].at) {
			return regs[i].at.Before(regs[j].at)
		}
		if regs[i].id != regs[j].id {
			return regs[i].id < regs[j].id
		}
		return regs[i].svc < regs[j].svc
	})
	lo, hi := window(len(regs), page, size)
	out := make([]delegatedJSON, 0, hi-lo)
	for _, r := range regs[lo:hi] {
		d := delegatedJSON{AccountID: r.id, ServicePrincipal: r.svc, DelegationEnabledTime: core.APITime(r.at)}
		if a, ok := w.Accounts[r.id]; ok {
			d.DisplayName, d.AccountName, d.JoinMethod, d.JoinTime = a.DisplayName, a.AccountName, a.JoinMethod, core.APITime(a.JoinTime)
		}
		out = append(out, d)
	}
	return map[string]any{
		"TotalCount": len(regs), "PageNumber": page, "PageSize": size,
		"Accounts": map[string]any{"Account": out},
	}, nil
}

func servicePrincipalParam(c *core.Call) (string, error) {
	sp, err := required(c, "ServicePrincipal", "ServicePrincipal")
	if err != nil {
		return "", err
	}
	if !trustedServices[sp] {
		return "", core.Errorf(409, "InvalidParameter.ServicePrincipal", "The specified ServicePrincipal is invalid: %s does not support delegated administrators.", sp)
	}
	return sp, nil
}

func (s *service) registerDelegatedAdministrator(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	sp, err := servicePrincipalParam(c)
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	if id == w.ManagementAccountID {
		return nil, core.Errorf(409, "CannotRegisterMasterAsDelegatedAdministrator", "You attempted to register the management account as a delegated administrator for the service %s.", sp)
	}
	if _, ok := w.MemberLocked(id); !ok {
		return nil, errNoAccount(id)
	}
	if w.IsDelegatedAdminLocked(id, sp) {
		return nil, core.Errorf(409, "AccountAlreadyRegistered", "The specified account is already a delegated administrator for this service: %s.", sp)
	}
	if w.DelegatedAdmins[sp] == nil {
		w.DelegatedAdmins[sp] = map[string]time.Time{}
	}
	w.DelegatedAdmins[sp][id] = w.Now()
	record(c, ResourceTypeAccount, id, map[string]any{})
	return map[string]any{}, nil
}

func (s *service) deregisterDelegatedAdministrator(c *core.Call) (any, error) {
	id, err := accountIDParam(c, "AccountId")
	if err != nil {
		return nil, err
	}
	sp, err := servicePrincipalParam(c)
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	if !w.IsDelegatedAdminLocked(id, sp) {
		return nil, core.Errorf(409, "AccountNotRegistered", "The specified account is not a delegated administrator for this service: %s.", sp)
	}
	delete(w.DelegatedAdmins[sp], id)
	if len(w.DelegatedAdmins[sp]) == 0 {
		delete(w.DelegatedAdmins, sp)
	}
	record(c, ResourceTypeAccount, id, map[string]any{})
	return map[string]any{}, nil
}

// taggedAccounts reads ResourceType=Account and ResourceId.N (1..50 member ids).
func taggedAccounts(w *core.World, c *core.Call) ([]*core.Account, error) {
	rt, err := required(c, "ResourceType", "ResourceType")
	if err != nil {
		return nil, err
	}
	if rt != "Account" {
		return nil, core.Errorf(400, "InvalidParameter.ResourceType", "The ResourceType is invalid: only Account is supported, got %q.", rt)
	}
	var ids []string
	for k, v := range c.Params {
		if strings.HasPrefix(k, "ResourceId.") && v != "" {
			ids = append(ids, v)
		}
	}
	if len(ids) == 0 {
		return nil, core.Errorf(400, "MissingParameter.ResourceId", "You must specify ResourceId.N.")
	}
	if len(ids) > 50 {
		return nil, core.Errorf(400, "InvalidParameter.ResourceId", "At most 50 ResourceId.N are allowed, got %d.", len(ids))
	}
	sort.Strings(ids)
	out := make([]*core.Account, 0, len(ids))
	for _, id := range ids {
		if !accountIDRE.MatchString(id) {
			return nil, core.Errorf(400, "InvalidParameter.ResourceId", "The ResourceId %q is invalid: an account id is 16 digits.", id)
		}
		a, ok := w.Accounts[id]
		if !ok || !a.InDirectory {
			return nil, errNoAccount(id)
		}
		out = append(out, a)
	}
	return out, nil
}

func (s *service) tagResources(c *core.Call) (any, error) {
	tags, err := tagsParam(c, "Tag")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, core.Errorf(400, "MissingParameter.Tag", "You must specify Tag.N.Key.")
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	accts, err := taggedAccounts(w, c)
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		merged := tagsCopy(a.Tags)
		for _, t := range tags {
			merged = setTag(merged, t.Key, t.Value)
		}
		if len(merged) > maxTags {
			return nil, core.Errorf(400, "InvalidParameter.Tag", "Account %s would have %d tags: at most %d are allowed.", a.AccountID, len(merged), maxTags)
		}
	}
	now := w.Now()
	for _, a := range accts {
		for _, t := range tags {
			a.Tags = setTag(a.Tags, t.Key, t.Value)
		}
		a.ModifyTime = now
	}
	record(c, ResourceTypeAccount, accts[0].AccountID, map[string]any{})
	return map[string]any{}, nil
}

func (s *service) untagResources(c *core.Call) (any, error) {
	all, err := c.Bool("All", false)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k, v := range c.Params {
		if strings.HasPrefix(k, "TagKey.") && v != "" {
			keys[v] = true
		}
	}
	if !all && len(keys) == 0 {
		return nil, core.Errorf(400, "MissingParameter.TagKey", "You must specify TagKey.N or All=true.")
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if err := authorize(w, c, management); err != nil {
		return nil, err
	}
	accts, err := taggedAccounts(w, c)
	if err != nil {
		return nil, err
	}
	now := w.Now()
	for _, a := range accts {
		kept := a.Tags[:0:0]
		for _, t := range a.Tags {
			if !all && !keys[t.Key] {
				kept = append(kept, t)
			}
		}
		a.Tags = kept
		a.ModifyTime = now
	}
	record(c, ResourceTypeAccount, accts[0].AccountID, map[string]any{})
	return map[string]any{}, nil
}
