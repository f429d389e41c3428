package trail

import (
	"fmt"
	"regexp"
	"strings"
)

// ServiceLinkedRole is ActionTrail's service-linked role (AliyunServiceRoleForActionTrail) as
// trails show it in role ARNs: lower-cased. It delivers to SLS and OSS in the trail's own account.
const ServiceLinkedRole = "aliyunserviceroleforactiontrail"

var (
	regionRE     = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	uidRE        = regexp.MustCompile(`^[0-9]{1,32}$`)
	slsProjectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	roleNameRE   = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)
)

// SLSProjectARN is the ARN CreateTrail takes for an SLS destination:
// acs:log:<region>:<uid>:project/<project>.
func SLSProjectARN(region, uid, project string) string {
	return "acs:log:" + region + ":" + uid + ":project/" + project
}

// RoleARN is a RAM role's ARN: acs:ram::<uid>:role/<role>.
func RoleARN(uid, role string) string {
	return "acs:ram::" + uid + ":role/" + role
}

// SLSProject is a parsed SLS project ARN.
type SLSProject struct {
	Region    string
	AccountID string
	Project   string
}

// String is the ARN again.
func (p SLSProject) String() string { return SLSProjectARN(p.Region, p.AccountID, p.Project) }

// ParseSLSProjectARN reads acs:log:<region>:<uid>:project/<project>. The error names the part
// that is wrong and the rule it breaks.
func ParseSLSProjectARN(arn string) (SLSProject, error) {
	const shape = "SLS project ARN must look like acs:log:<region>:<account id>:project/<name>"
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) != 5 {
		return SLSProject{}, fmt.Errorf("%s, got %q", shape, arn)
	}
	if parts[0] != "acs" || parts[1] != "log" {
		return SLSProject{}, fmt.Errorf("%s: it starts with %q, not acs:log", shape, parts[0]+":"+parts[1])
	}
	p := SLSProject{Region: parts[2], AccountID: parts[3]}
	if !regionRE.MatchString(p.Region) {
		return SLSProject{}, fmt.Errorf("%s: region %q is not a region id such as cn-hangzhou", shape, p.Region)
	}
	if !uidRE.MatchString(p.AccountID) {
		return SLSProject{}, fmt.Errorf("%s: account id %q must be digits", shape, p.AccountID)
	}
	name, ok := strings.CutPrefix(parts[4], "project/")
	if !ok {
		return SLSProject{}, fmt.Errorf("%s: resource %q must start with project/", shape, parts[4])
	}
	if !slsProjectRE.MatchString(name) {
		return SLSProject{}, fmt.Errorf("%s: project name %q must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit", shape, name)
	}
	p.Project = name
	return p, nil
}

// parseRoleARN reads acs:ram::<uid>:role/<name>.
func parseRoleARN(arn string) (uid, role string, err error) {
	const shape = "role ARN must look like acs:ram::<account id>:role/<name>"
	rest, ok := strings.CutPrefix(arn, "acs:ram::")
	if !ok {
		return "", "", fmt.Errorf("%s, got %q", shape, arn)
	}
	uid, res, ok := strings.Cut(rest, ":")
	if !ok || !uidRE.MatchString(uid) {
		return "", "", fmt.Errorf("%s: account id %q must be digits", shape, uid)
	}
	role, ok = strings.CutPrefix(res, "role/")
	if !ok || !roleNameRE.MatchString(role) {
		return "", "", fmt.Errorf("%s: %q is not role/<name>", shape, res)
	}
	return uid, role, nil
}

// trailOwner reads the owner account out of acs:actiontrail:<region>:<uid>:trail/<name>, or "".
func trailOwner(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "actiontrail" || !uidRE.MatchString(parts[3]) {
		return ""
	}
	return parts[3]
}
