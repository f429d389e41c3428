package identity

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)

// RAM returns the Ram product (roles only: what custom authentication and delivery roles need).
func RAM() *core.Service {
	return &core.Service{
		Product: "Ram", Version: "2015-05-01", EventSource: "ram.aliyuncs.com", ServiceName: "Ram",
		Actions: map[string]core.Action{
			"CreateRole":           {Handler: createRole, Write: true},
			"GetRole":              {Handler: getRole},
			"ListRoles":            {Handler: listRoles},
			"DeleteRole":           {Handler: deleteRole, Write: true},
			"UpdateRole":           {Handler: updateRole, Write: true},
			"AttachPolicyToRole":   {Handler: attachPolicyToRole, Write: true},
			"DetachPolicyFromRole": {Handler: detachPolicyFromRole, Write: true},
			"ListPoliciesForRole":  {Handler: listPoliciesForRole},
		},
	}
}

// ramWriter refuses RAM writes from identities without RAM write permission. localcloud models the
// one distinction custom authentication depends on: RAM users named "*readonly*" have no RAM write.
func ramWriter(c *core.Call) error {
	if c.Caller.Type == core.PrincipalRAMUser && strings.Contains(strings.ToLower(c.Caller.UserName), "readonly") {
		return core.Errorf(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	}
	return nil
}

func roleJSON(r *core.Role) map[string]any {
	return map[string]any{
		"RoleId": r.RoleID, "RoleName": r.RoleName, "Arn": r.ARN(), "Description": r.Description,
		"AssumeRolePolicyDocument": r.AssumeRolePolicyDocument, "MaxSessionDuration": r.MaxSessionDuration,
		"CreateDate": core.APITimeSeconds(r.CreateDate), "UpdateDate": core.APITimeSeconds(r.UpdateDate),
	}
}

func createRole(c *core.Call) (any, error) {
	if err := ramWriter(c); err != nil {
		return nil, err
	}
	name, err := c.Require("RoleName")
	if err != nil {
		return nil, err
	}
	if !roleNameRE.MatchString(name) {
		return nil, core.Errorf(400, "InvalidParameter.RoleName.InvalidChars", "The parameter RoleName contains invalid characters: 1 to 64 of [A-Za-z0-9.-].")
	}
	doc, err := c.Require("AssumeRolePolicyDocument")
	if err != nil {
		return nil, err
	}
	if !json.Valid([]byte(doc)) {
		return nil, core.Errorf(400, "MalformedPolicyDocument", "The parameter AssumeRolePolicyDocument is not a valid JSON policy document.")
	}
	maxSession, err := c.Int("MaxSessionDuration", 3600, 3600, 43200)
	if err != nil {
		return nil, err
	}
	w := c.World
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if _, exists := w.Roles[c.Caller.AccountID][strings.ToLower(name)]; exists {
		return nil, core.Errorf(409, "EntityAlreadyExists.Role", "The role already exists: %s.", name)
	}
	r := w.EnsureRoleLocked(c.Caller.AccountID, name, doc)
	r.Description = c.Get("Description")
	r.MaxSessionDuration = maxSession
	return map[string]any{"Role": roleJSON(r)}, nil
}

func lookupRole(c *core.Call) (*core.Role, error) {
	name, err := c.Require("RoleName")
	if err != nil {
		return nil, err
	}
	r, ok := c.World.Roles[c.Caller.AccountID][strings.ToLower(name)]
	if !ok {
		return nil, core.Errorf(404, "EntityNotExist.Role", "The role not exists: %s.", name)
	}
	return r, nil
}

func getRole(c *core.Call) (any, error) {
	c.World.Mu.RLock()
	defer c.World.Mu.RUnlock()
	r, err := lookupRole(c)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Role": roleJSON(r)}, nil
}

func listRoles(c *core.Call) (any, error) {
	c.World.Mu.RLock()
	defer c.World.Mu.RUnlock()
	roles := make([]map[string]any, 0)
	for _, r := range c.World.Roles[c.Caller.AccountID] {
		roles = append(roles, roleJSON(r))
	}
	sort.Slice(roles, func(i, j int) bool { return roles[i]["RoleName"].(string) < roles[j]["RoleName"].(string) })
	return map[string]any{"IsTruncated": false, "Roles": map[string]any{"Role": roles}}, nil
}

func deleteRole(c *core.Call) (any, error) {
	if err := ramWriter(c); err != nil {
		return nil, err
	}
	c.World.Mu.Lock()
	defer c.World.Mu.Unlock()
	r, err := lookupRole(c)
	if err != nil {
		return nil, err
	}
	if len(r.Policies) > 0 {
		return nil, core.Errorf(409, "DeleteConflict.Role.Policy", "The role still has policies attached: detach them first.")
	}
	delete(c.World.Roles[c.Caller.AccountID], strings.ToLower(r.RoleName))
	return map[string]any{}, nil
}

func updateRole(c *core.Call) (any, error) {
	if err := ramWriter(c); err != nil {
		return nil, err
	}
	c.World.Mu.Lock()
	defer c.World.Mu.Unlock()
	r, err := lookupRole(c)
	if err != nil {
		return nil, err
	}
	if doc := c.Get("NewAssumeRolePolicyDocument"); doc != "" {
		if !json.Valid([]byte(doc)) {
			return nil, core.Errorf(400, "MalformedPolicyDocument", "The parameter NewAssumeRolePolicyDocument is not a valid JSON policy document.")
		}
		r.AssumeRolePolicyDocument = doc
		r.TrustedAccounts, r.TrustedServices = core.ParseTrustPolicy(doc)
	}
	r.UpdateDate = c.World.Now()
	return map[string]any{"Role": roleJSON(r)}, nil
}

func attachPolicyToRole(c *core.Call) (any, error) {
	if err := ramWriter(c); err != nil {
		return nil, err
	}
	typ, err := c.Require("PolicyType")
	if err != nil {
		return nil, err
	}
	if typ != "System" && typ != "Custom" {
		return nil, core.Errorf(400, "InvalidParameter.PolicyType", "The parameter PolicyType must be System or Custom.")
	}
	pname, err := c.Require("PolicyName")
	if err != nil {
		return nil, err
	}
	c.World.Mu.Lock()
	defer c.World.Mu.Unlock()
	r, err := lookupRole(c)
	if err != nil {
		return nil, err
	}
	for _, p := range r.Policies {
		if p.PolicyName == pname && p.PolicyType == typ {
			return nil, core.Errorf(409, "EntityAlreadyExists.Role.Policy", "The policy %s is already attached to the role.", pname)
		}
	}
	r.Policies = append(r.Policies, core.AttachedPolicy{PolicyType: typ, PolicyName: pname, AttachDate: c.World.Now()})
	return map[string]any{}, nil
}

func detachPolicyFromRole(c *core.Call) (any, error) {
	if err := ramWriter(c); err != nil {
		return nil, err
	}
	pname, err := c.Require("PolicyName")
	if err != nil {
		return nil, err
	}
	c.World.Mu.Lock()
	defer c.World.Mu.Unlock()
	r, err := lookupRole(c)
	if err != nil {
		return nil, err
	}
	for i, p := range r.Policies {
		if p.PolicyName == pname {
			r.Policies = append(r.Policies[:i], r.Policies[i+1:]...)
			return map[string]any{}, nil
		}
	}
	return nil, core.Errorf(404, "EntityNotExist.Role.Policy", "The policy %s is not attached to the role.", pname)
}

func listPoliciesForRole(c *core.Call) (any, error) {
	c.World.Mu.RLock()
	defer c.World.Mu.RUnlock()
	r, err := lookupRole(c)
	if err != nil {
		return nil, err
	}
	ps := make([]map[string]any, 0, len(r.Policies))
	for _, p := range r.Policies {
		ps = append(ps, map[string]any{"PolicyName": p.PolicyName, "PolicyType": p.PolicyType, "AttachDate": core.APITimeSeconds(p.AttachDate)})
	}
	return map[string]any{"Policies": map[string]any{"Policy": ps}}, nil
}

// serviceLinkedRoles maps a service to its service-linked role name.
var serviceLinkedRoles = map[string]string{
	"actiontrail.aliyuncs.com":     "AliyunServiceRoleForActionTrail",
	"audit.log.aliyuncs.com":       "AliyunServiceRoleForSLSAudit",
	"resourcemanager.aliyuncs.com": "AliyunServiceRoleForResourceDirectory",
}

// CreateServiceLinkedRole is a Resource Manager action in the 2020-03-31 API; the handler lives here
// with the roles it creates.
func CreateServiceLinkedRole(c *core.Call) (any, error) {
	svc, err := c.Require("ServiceName")
	if err != nil {
		return nil, err
	}
	name, ok := serviceLinkedRoles[svc]
	if !ok {
		return nil, core.Errorf(400, "InvalidParameter.ServiceName", "The service %s has no service-linked role.", svc)
	}
	return EnsureServiceLinkedRole(c.World, c.Caller.AccountID, svc, name)
}

// EnsureServiceLinkedRole creates a service-linked role (idempotent, as the real call is for the same service).
func EnsureServiceLinkedRole(w *core.World, account, service, name string) (any, error) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	r := w.EnsureRoleLocked(account, name, core.TrustPolicyForServices(service), name+"Policy")
	if w.ServiceLinkedRoles[account] == nil {
		w.ServiceLinkedRoles[account] = map[string]bool{}
	}
	w.ServiceLinkedRoles[account][service] = true
	return map[string]any{"Role": roleJSON(r)}, nil
}
