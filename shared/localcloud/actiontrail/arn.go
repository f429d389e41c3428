package actiontrail

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// ProjectARN is a parsed acs:log:<region>:<uid>:project/<name> (or acs:odps:... for MaxCompute).
type ProjectARN struct {
	Service string // log | odps
	Region  string
	Account string
	Project string
}

func (p ProjectARN) String() string {
	return "acs:" + p.Service + ":" + p.Region + ":" + p.Account + ":project/" + p.Project
}

var (
	regionRE     = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	accountRE    = regexp.MustCompile(`^[0-9]{1,20}$`)
	slsProjectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	odpsRE       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{2,27}$`)
)

// ParseSLSProjectARN parses acs:log:<region>:<uid>:project/<name>. The error names the part at fault.
func ParseSLSProjectARN(arn string) (ProjectARN, error) {
	return parseProjectARN(arn, "log", "SlsProjectArn", slsProjectRE)
}

// ParseMaxComputeProjectARN parses acs:odps:<region>:<uid>:project/<name>.
func ParseMaxComputeProjectARN(arn string) (ProjectARN, error) {
	return parseProjectARN(arn, "odps", "MaxComputeProjectArn", odpsRE)
}

func parseProjectARN(arn, service, field string, nameRE *regexp.Regexp) (ProjectARN, error) {
	shape := fmt.Sprintf("%s must look like acs:%s:<region>:<account id>:project/<name>", field, service)
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != service {
		return ProjectARN{}, fmt.Errorf("%s", shape)
	}
	p := ProjectARN{Service: service, Region: parts[2], Account: parts[3]}
	if !regionRE.MatchString(p.Region) {
		return ProjectARN{}, fmt.Errorf("%s: region %q is not a region id", shape, p.Region)
	}
	if !accountRE.MatchString(p.Account) {
		return ProjectARN{}, fmt.Errorf("%s: account %q is not an account id", shape, p.Account)
	}
	name, ok := strings.CutPrefix(parts[4], "project/")
	if !ok {
		return ProjectARN{}, fmt.Errorf("%s: resource %q does not start with project/", shape, parts[4])
	}
	if !nameRE.MatchString(name) {
		return ProjectARN{}, fmt.Errorf("%s: project name %q is not valid", shape, name)
	}
	p.Project = name
	return p, nil
}

// checkWriteRole says whether ActionTrail may write into destOwner's account with roleArn: the
// role must live in that account, exist, and trust actiontrail.aliyuncs.com. Caller holds w.Mu.
func checkWriteRoleLocked(w *core.World, roleArn, destOwner string) error {
	if roleArn == "" {
		return fmt.Errorf("no write role is given for a destination owned by account %s", destOwner)
	}
	acct, name, ok := core.ParseRoleARN(roleArn)
	if !ok {
		return fmt.Errorf("role %q is not acs:ram::<account id>:role/<name>", roleArn)
	}
	if acct != destOwner {
		return fmt.Errorf("role %s is not in account %s that owns the destination", roleArn, destOwner)
	}
	r, ok := w.Roles[acct][strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("role %s does not exist", roleArn)
	}
	for _, svc := range r.TrustedServices {
		if svc == ServicePrincipal {
			return nil
		}
	}
	return fmt.Errorf("role %s does not trust %s", roleArn, ServicePrincipal)
}

// serviceLinkedRoleARN is the ARN DescribeTrails shows for same-account delivery (written lowercase, as real trails show it).
func serviceLinkedRoleARN(account string) string {
	return "acs:ram::" + account + ":role/" + strings.ToLower(ServiceLinkedRoleName)
}

// ensureServiceLinkedRoleLocked creates AliyunServiceRoleForActionTrail as the console does the
// first time a trail is created. Caller holds w.Mu for writing.
func ensureServiceLinkedRoleLocked(w *core.World, account string) {
	w.EnsureRoleLocked(account, ServiceLinkedRoleName, core.TrustPolicyForServices(ServicePrincipal), ServiceLinkedRoleName+"Policy")
	if w.ServiceLinkedRoles[account] == nil {
		w.ServiceLinkedRoles[account] = map[string]bool{}
	}
	w.ServiceLinkedRoles[account][ServicePrincipal] = true
}
