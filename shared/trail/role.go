package trail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// DeliveryRoleName is the central account's role that members' ActionTrail assumes to deliver
// into central destinations: the backfill trails and the member trails share it. The name is
// kept from when only backfill used it, so existing deployments and the function role's RAM
// policy (scoped to it) stay valid.
const DeliveryRoleName = "AuditWardenBackfillDelivery"

// System policies the delivery role needs, per destination.
const (
	PolicyLogWrite = "AliyunLogFullAccess" // the central SLS project
	PolicyOSSWrite = "AliyunOSSFullAccess" // the central archive bucket
)

// ActionTrailService is the principal a delivery role must trust.
const ActionTrailService = "actiontrail.aliyuncs.com"

// ErrRoleNotTrusted is wrapped when the delivery role exists but does not trust ActionTrail:
// it is someone else's role, so it is reported rather than rewritten.
var ErrRoleNotTrusted = errors.New("the role does not trust " + ActionTrailService)

// RoleState is the delivery role as observed (GetRole, ListPoliciesForRole).
type RoleState struct {
	Name           string
	ARN            string
	Exists         bool
	Trusted        bool     // the trust policy names actiontrail.aliyuncs.com
	SystemPolicies []string // attached system policies, sorted
}

// Missing lists the wanted system policies the role lacks.
func (s RoleState) Missing(systemPolicies []string) []string {
	var out []string
	for _, p := range systemPolicies {
		if !slices.Contains(s.SystemPolicies, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// roleClient does the RAM calls of one central session.
type roleClient struct {
	s    *cloud.Session
	rc   *ram.Client
	name string
}

func newRoleClient(central *cloud.Session, name string) (*roleClient, error) {
	if !roleNameRE.MatchString(name) {
		return nil, fmt.Errorf("delivery role: name %q must be 1 to 64 letters, digits, . and -", name)
	}
	rc, err := central.RAM()
	if err != nil {
		return nil, fmt.Errorf("delivery role %s: ram client: %w", name, err)
	}
	return &roleClient{s: central, rc: rc, name: name}, nil
}

func (c *roleClient) get(ctx context.Context) (*ram.GetRoleResponse, error) {
	req := ram.CreateGetRoleRequest()
	req.RoleName = c.name
	var resp *ram.GetRoleResponse
	err := c.s.Do(ctx, "ram:GetRole", func() error {
		var e error
		resp, e = c.rc.GetRole(req)
		return e
	})
	return resp, err
}

func (c *roleClient) systemPolicies(ctx context.Context) ([]string, error) {
	req := ram.CreateListPoliciesForRoleRequest()
	req.RoleName = c.name
	var resp *ram.ListPoliciesForRoleResponse
	err := c.s.Do(ctx, "ram:ListPoliciesForRole", func() error {
		var e error
		resp, e = c.rc.ListPoliciesForRole(req)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("delivery role %s: ListPoliciesForRole: %w", c.name, err)
	}
	var out []string
	for _, p := range resp.Policies.Policy {
		if p.PolicyType == "System" {
			out = append(out, p.PolicyName)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (c *roleClient) arn(ctx context.Context) (string, error) {
	self, err := c.s.CallerAccount(ctx)
	if err != nil {
		return "", fmt.Errorf("delivery role %s: %w", c.name, err)
	}
	return RoleARN(self, c.name), nil
}

// ObserveDeliveryRole reads the delivery role of the central account the session acts in:
// GetRole, and ListPoliciesForRole when it exists. A missing role is Exists false, no error.
func ObserveDeliveryRole(ctx context.Context, central *cloud.Session, name string) (RoleState, error) {
	c, err := newRoleClient(central, name)
	if err != nil {
		return RoleState{}, err
	}
	arn, err := c.arn(ctx)
	if err != nil {
		return RoleState{}, err
	}
	st := RoleState{Name: name, ARN: arn}
	resp, err := c.get(ctx)
	if cloud.Classify(err) == cloud.NotFound {
		return st, nil
	}
	if err != nil {
		return RoleState{}, fmt.Errorf("delivery role %s: GetRole: %w", name, err)
	}
	st.Exists, st.Trusted = true, strings.Contains(resp.Role.AssumeRolePolicyDocument, ActionTrailService)
	if st.SystemPolicies, err = c.systemPolicies(ctx); err != nil {
		return RoleState{}, err
	}
	return st, nil
}

// EnsureDeliveryRole makes the central account's role that members' ActionTrail assumes to
// write into central destinations, and returns its ARN: created trusting actiontrail.aliyuncs.com
// when missing, with each of systemPolicies attached. A converged role costs two reads
// (GetRole, ListPoliciesForRole). An existing role of that name that does not trust ActionTrail
// is an error wrapping ErrRoleNotTrusted, never rewritten.
func EnsureDeliveryRole(ctx context.Context, central *cloud.Session, name string, systemPolicies ...string) (string, error) {
	c, err := newRoleClient(central, name)
	if err != nil {
		return "", err
	}
	arn, err := c.arn(ctx)
	if err != nil {
		return "", err
	}
	resp, err := c.get(ctx)
	if cloud.Classify(err) == cloud.NotFound {
		create := ram.CreateCreateRoleRequest()
		create.RoleName = name
		create.Description = "auditwarden: lets members' ActionTrail deliver into the central account's SLS project and archive bucket"
		create.AssumeRolePolicyDocument = `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["` + ActionTrailService + `"]}}],"Version":"1"}`
		err = central.Do(ctx, "ram:CreateRole", func() error {
			_, e := c.rc.CreateRole(create)
			return e
		})
		if err != nil && cloud.Classify(err) != cloud.Conflict {
			return "", fmt.Errorf("delivery role %s: CreateRole: %w", name, err)
		}
		resp, err = c.get(ctx) // verify, also after a concurrent create
	}
	if err != nil {
		return "", fmt.Errorf("delivery role %s: GetRole: %w", name, err)
	}
	if !strings.Contains(resp.Role.AssumeRolePolicyDocument, ActionTrailService) {
		return "", fmt.Errorf("delivery role %s exists but %w; fix its trust policy or choose another role name", name, ErrRoleNotTrusted)
	}
	have, err := c.systemPolicies(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range (RoleState{SystemPolicies: have}).Missing(systemPolicies) {
		attach := ram.CreateAttachPolicyToRoleRequest()
		attach.PolicyType, attach.PolicyName, attach.RoleName = "System", p, name
		err = central.Do(ctx, "ram:AttachPolicyToRole", func() error {
			_, e := c.rc.AttachPolicyToRole(attach)
			return e
		})
		if err != nil && cloud.Classify(err) != cloud.Conflict {
			return "", fmt.Errorf("delivery role %s: AttachPolicyToRole %s: %w", name, p, err)
		}
	}
	return arn, nil
}
