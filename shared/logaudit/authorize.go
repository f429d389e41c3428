package logaudit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// What custom authentication needs in a member ("Use a custom policy to authorize Simple Log
// Service to collect and synchronize logs"): a RAM role trusting the central account's Log
// Audit, with a custom and a system policy attached. localcloud's Log Audit checks exactly these.
const (
	MemberRole           = "sls-audit-service-monitor"
	MemberPolicy         = "AliyunLogAuditServiceMonitorAccess" // PolicyType Custom
	MemberReadOnlyPolicy = "ReadOnlyAccess"                     // PolicyType System
	logService           = "log.aliyuncs.com"
)

// MemberTrustService is the service principal a member's MemberRole must trust so that
// central's Log Audit can assume it: <central>@log.aliyuncs.com.
func MemberTrustService(central string) string { return central + "@" + logService }

// MemberTrustPolicy is the trust policy AuthorizeWithAccessKey gives a new MemberRole.
func MemberTrustPolicy(central string) string {
	doc := map[string]any{
		"Version": "1",
		"Statement": []any{map[string]any{
			"Action":    "sts:AssumeRole",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": []string{MemberTrustService(central), logService}},
		}},
	}
	b, _ := json.Marshal(doc) // plain strings: cannot fail
	return string(b)
}

// Errors of AuthorizeWithAccessKey that the caller can act on (match with errors.Is).
var (
	// ErrAccessKeyRejected: STS refused the AccessKey pair (unknown id, wrong secret, disabled key).
	ErrAccessKeyRejected = errors.New("the AccessKey pair was rejected")
	// ErrAccessKeyAccount: the pair is valid but belongs to another account than the member named.
	ErrAccessKeyAccount = errors.New("the AccessKey pair belongs to another account")
	// ErrNoRAMPermission: the pair's RAM user may not write RAM (attach AliyunRAMFullAccess).
	ErrNoRAMPermission = errors.New("the AccessKey pair has no RAM write permission")
)

// The member policies, in the order they are attached.
var memberPolicies = []struct{ Type, Name string }{
	{"Custom", MemberPolicy},
	{"System", MemberReadOnlyPolicy},
}

// AuthorizeWithAccessKey does what the console's "AccessKey pair-based authorization" does:
// with an AccessKey pair of a RAM user of the member that may write RAM, it creates the role
// Log Audit needs in that member (MemberRole, trusting the central account's Log Audit, with
// MemberPolicy and ReadOnlyAccess). The pair is used for this call only: it is never logged,
// stored, returned or put in an error, and no client built from it outlives the call.
//
// It first checks with STS that the pair belongs to memberID. It is idempotent: an existing
// role is verified, its trust policy extended when it does not name this central account, and
// missing policies attached. It does not add the member to the configuration (see Write).
func (c *Client) AuthorizeWithAccessKey(ctx context.Context, memberID, accessKeyID, accessKeySecret string) (err error) {
	switch {
	case !isUID(memberID):
		return fmt.Errorf("log audit authorization: member id %s must be an account id of 1 to 20 digits", quoteShort(memberID))
	case strings.TrimSpace(accessKeyID) == "":
		return fmt.Errorf("log audit authorization of member %s: accessKeyId is empty", memberID)
	case accessKeySecret == "":
		return fmt.Errorf("log audit authorization of member %s: accessKeySecret is empty", memberID)
	}
	// Nothing below should ever carry the secret; this is the belt to those braces.
	defer func() {
		if err != nil {
			err = scrub(err, accessKeySecret)
		}
	}()
	central, err := c.s.CallerAccount(ctx)
	if err != nil {
		return fmt.Errorf("log audit authorization of member %s: learning the central account: %w", memberID, err)
	}
	if memberID == central {
		return fmt.Errorf("log audit authorization: member %s is the central account itself, which Log Audit reaches through its service-linked role", memberID)
	}
	// A session of its own, built from the pair alone: nothing of it is kept after this call.
	tmp, err := cloud.NewSession(cloud.Credentials{AccessKeyID: strings.TrimSpace(accessKeyID), AccessKeySecret: accessKeySecret}, c.s.Endpoints())
	if err != nil {
		return fmt.Errorf("log audit authorization of member %s: %w", memberID, err)
	}
	if err := c.checkKeyAccount(ctx, tmp, memberID); err != nil {
		return err
	}
	rc, err := tmp.RAM()
	if err != nil {
		return fmt.Errorf("log audit authorization of member %s: ram client: %w", memberID, err)
	}
	res, err := c.ensureMemberRole(ctx, rc, central, memberID)
	if err != nil {
		return err
	}
	c.log().Info().Str("action", "logaudit.authorize").Str("member", memberID).Str("central", central).
		Str("role", MemberRole).Bool("created", res.created).Bool("trustUpdated", res.trustUpdated).
		Strs("attached", res.attached).Msg("authorized Log Audit in member")
	return nil
}

func (c *Client) checkKeyAccount(ctx context.Context, tmp *cloud.Session, memberID string) error {
	sc, err := tmp.STS()
	if err != nil {
		return fmt.Errorf("log audit authorization of member %s: sts client: %w", memberID, err)
	}
	var resp *sts.GetCallerIdentityResponse
	err = c.s.Do(ctx, "sts:GetCallerIdentity", func() error {
		var e error
		resp, e = sc.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
		return e
	})
	if err != nil {
		if st := cloud.Status(err); st >= 400 && st < 500 && cloud.Classify(err) == cloud.Permanent {
			return fmt.Errorf("log audit authorization of member %s: %w: STS answered %s (check the AccessKey ID and secret, and that the key is enabled)",
				memberID, ErrAccessKeyRejected, cloud.Code(err))
		}
		return fmt.Errorf("log audit authorization of member %s: checking the AccessKey pair (sts GetCallerIdentity): %w", memberID, err)
	}
	if resp.AccountId != memberID {
		return fmt.Errorf("log audit authorization of member %s: %w: it belongs to account %s", memberID, ErrAccessKeyAccount, resp.AccountId)
	}
	return nil
}

type roleResult struct {
	created, trustUpdated bool
	attached              []string
}

func (c *Client) ensureMemberRole(ctx context.Context, rc *ram.Client, central, memberID string) (roleResult, error) {
	var res roleResult
	where := fmt.Sprintf("log audit authorization of member %s: role %s", memberID, MemberRole)
	create := ram.CreateCreateRoleRequest()
	create.RoleName = MemberRole
	create.AssumeRolePolicyDocument = MemberTrustPolicy(central)
	create.Description = "Log Audit Service of account " + central + " collects this account's logs through this role (created by auditwarden)"
	err := c.s.Do(ctx, "ram:CreateRole", func() error {
		_, e := rc.CreateRole(create)
		return e
	})
	switch {
	case err == nil:
		res.created = true
	case cloud.Code(err) == "EntityAlreadyExists.Role":
		// It exists: verify it trusts this central account's Log Audit rather than assume it does.
		updated, err := c.ensureTrust(ctx, rc, central)
		if err != nil {
			return res, fmt.Errorf("%s: %w", where, err)
		}
		res.trustUpdated = updated
	default:
		return res, ramError(where+": CreateRole", err)
	}

	have := map[string]bool{}
	if !res.created {
		list := ram.CreateListPoliciesForRoleRequest()
		list.RoleName = MemberRole
		var resp *ram.ListPoliciesForRoleResponse
		err := c.s.Do(ctx, "ram:ListPoliciesForRole", func() error {
			var e error
			resp, e = rc.ListPoliciesForRole(list)
			return e
		})
		if err != nil {
			return res, ramError(where+": ListPoliciesForRole", err)
		}
		for _, p := range resp.Policies.Policy {
			have[p.PolicyName] = true
		}
	}
	for _, p := range memberPolicies {
		if have[p.Name] {
			continue
		}
		req := ram.CreateAttachPolicyToRoleRequest()
		req.RoleName, req.PolicyType, req.PolicyName = MemberRole, p.Type, p.Name
		err := c.s.Do(ctx, "ram:AttachPolicyToRole", func() error {
			_, e := rc.AttachPolicyToRole(req)
			return e
		})
		switch {
		case err == nil:
			res.attached = append(res.attached, p.Name)
		case cloud.Code(err) == "EntityAlreadyExists.Role.Policy":
			// attached meanwhile by a concurrent authorization: that is the state we want
		case strings.HasPrefix(cloud.Code(err), "EntityNotExist.Policy"):
			return res, fmt.Errorf("%s: the %s policy %s does not exist in the member: create it there first (RAM CreatePolicy), then authorize again: %w",
				where, strings.ToLower(p.Type), p.Name, err)
		default:
			return res, ramError(fmt.Sprintf("%s: AttachPolicyToRole %s", where, p.Name), err)
		}
	}
	return res, nil
}

// ensureTrust makes the existing role trust central's Log Audit, keeping whatever else it trusts
// (the role may serve several central accounts).
func (c *Client) ensureTrust(ctx context.Context, rc *ram.Client, central string) (bool, error) {
	get := ram.CreateGetRoleRequest()
	get.RoleName = MemberRole
	var resp *ram.GetRoleResponse
	err := c.s.Do(ctx, "ram:GetRole", func() error {
		var e error
		resp, e = rc.GetRole(get)
		return e
	})
	if err != nil {
		return false, ramError("GetRole", err)
	}
	doc := resp.Role.AssumeRolePolicyDocument
	svc := MemberTrustService(central)
	if trustsService(doc, svc) {
		return false, nil
	}
	next, err := addTrustedService(doc, svc)
	if err != nil {
		return false, err
	}
	upd := ram.CreateUpdateRoleRequest()
	upd.RoleName = MemberRole
	upd.NewAssumeRolePolicyDocument = next
	if err := c.s.Do(ctx, "ram:UpdateRole", func() error {
		_, e := rc.UpdateRole(upd)
		return e
	}); err != nil {
		return false, ramError("UpdateRole", err)
	}
	return true, nil
}

func ramError(where string, err error) error {
	code := cloud.Code(err)
	if code == "NoPermission" || strings.HasPrefix(code, "Forbidden") || strings.HasPrefix(code, "AccessDenied") {
		return fmt.Errorf("%s: %w (%s): give its RAM user AliyunRAMFullAccess, or authorize manually", where, ErrNoRAMPermission, code)
	}
	return fmt.Errorf("%s: %w", where, err)
}

type trustDoc struct {
	Statement []struct {
		Effect    string
		Action    json.RawMessage
		Principal struct {
			Service json.RawMessage
		}
	}
}

// stringOrList reads a policy field that is a string or a list of strings.
func stringOrList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

func hasFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return true
		}
	}
	return false
}

// trustsService reports whether a trust policy lets svc assume the role.
func trustsService(doc, svc string) bool {
	var d trustDoc
	if json.Unmarshal([]byte(doc), &d) != nil {
		return false
	}
	for _, st := range d.Statement {
		if strings.EqualFold(st.Effect, "Allow") && hasFold(stringOrList(st.Action), "sts:AssumeRole") &&
			hasFold(stringOrList(st.Principal.Service), svc) {
			return true
		}
	}
	return false
}

// addTrustedService adds svc to the first statement allowing services to assume the role, or
// adds a statement of its own; everything else in the document is kept.
func addTrustedService(doc, svc string) (string, error) {
	var d map[string]any
	if err := json.Unmarshal([]byte(doc), &d); err != nil || d == nil {
		return "", fmt.Errorf("the role's trust policy is not a JSON object: %v", err)
	}
	stmts, _ := d["Statement"].([]any)
	done := false
	for _, s := range stmts {
		st, ok := s.(map[string]any)
		if !ok || !strings.EqualFold(fmt.Sprint(st["Effect"]), "Allow") {
			continue
		}
		pr, ok := st["Principal"].(map[string]any)
		if !ok || pr["Service"] == nil {
			continue
		}
		switch cur := pr["Service"].(type) {
		case string:
			pr["Service"] = []any{cur, svc}
		case []any:
			pr["Service"] = append(cur, svc)
		default:
			continue
		}
		st["Action"] = ensureAction(st["Action"])
		done = true
		break
	}
	if !done {
		stmts = append(stmts, map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": []any{svc}},
		})
	}
	d["Statement"] = stmts
	if d["Version"] == nil {
		d["Version"] = "1"
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encoding the role's trust policy: %v", err)
	}
	return string(b), nil
}

// ensureAction makes a statement's Action include sts:AssumeRole.
func ensureAction(a any) any {
	switch v := a.(type) {
	case string:
		if strings.EqualFold(v, "sts:AssumeRole") {
			return v
		}
		return []any{v, "sts:AssumeRole"}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && strings.EqualFold(s, "sts:AssumeRole") {
				return v
			}
		}
		return append(v, "sts:AssumeRole")
	}
	return "sts:AssumeRole"
}

// scrubbedError carries an error whose message had the secret removed; Unwrap keeps errors.Is/As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrub(err error, secret string) error {
	msg := err.Error()
	if len(secret) >= 4 && strings.Contains(msg, secret) {
		msg = strings.ReplaceAll(msg, secret, "<redacted>")
	}
	return &scrubbedError{msg: msg, err: err}
}

// ParseManualMembers reads the member ids of manual authorization as the console takes them:
// separated by line breaks, commas, spaces or vertical bars (tabs too). Each must be an account
// id of 1 to 20 digits; the result is sorted and unique.
func ParseManualMembers(s string) ([]string, error) {
	tokens := strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case '\n', '\r', ',', ' ', '|', '\t':
			return true
		}
		return false
	})
	if len(tokens) == 0 {
		return nil, errors.New("member ids: none given; separate account ids with line breaks, commas, spaces or vertical bars")
	}
	for i, t := range tokens {
		if !isUID(t) {
			return nil, fmt.Errorf("member ids: entry %d %s must be an account id of 1 to 20 digits", i+1, quoteShort(t))
		}
	}
	return sortedUnique(tokens), nil
}
