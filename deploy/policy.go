package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// Policy is a RAM permission policy document, as this repository writes them: Action and
// Resource are always lists.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Policy.
type Statement struct {
	Effect    string          `json:"Effect"`
	Action    []string        `json:"Action"`
	Resource  []string        `json:"Resource"`
	Condition json.RawMessage `json:"Condition,omitempty"`
}

var (
	actionRE = regexp.MustCompile(`^[a-z][a-z0-9-]*:[A-Za-z0-9*?]+$`)
	arnRE    = regexp.MustCompile(`^acs:[a-z0-9-]+:[^:]*:[^:]*:.+$`)
)

// ParsePolicy decodes a RAM permission policy and checks its shape: Version "1", at least one
// statement, each with Effect "Allow", a non-empty Action list of "service:Action" and a
// non-empty Resource list of "*" or ARNs. Unknown fields are errors (RAM would reject them).
func ParsePolicy(data []byte) (*Policy, error) {
	var p Policy
	if err := decodeStrict(data, &p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if p.Version != "1" {
		return nil, fmt.Errorf("policy: Version is %q; RAM policies use \"1\"", p.Version)
	}
	if len(p.Statement) == 0 {
		return nil, errors.New("policy: Statement is empty")
	}
	for i, st := range p.Statement {
		where := fmt.Sprintf("policy: Statement[%d]", i)
		if st.Effect != "Allow" {
			return nil, fmt.Errorf("%s.Effect is %q; the function role policy only allows", where, st.Effect)
		}
		if len(st.Action) == 0 {
			return nil, fmt.Errorf("%s.Action is empty", where)
		}
		seen := map[string]bool{}
		for j, a := range st.Action {
			if !actionRE.MatchString(a) {
				return nil, fmt.Errorf("%s.Action[%d] %q must be service:Action", where, j, a)
			}
			if seen[a] {
				return nil, fmt.Errorf("%s.Action[%d] %q is listed twice", where, j, a)
			}
			seen[a] = true
		}
		if len(st.Resource) == 0 {
			return nil, fmt.Errorf("%s.Resource is empty", where)
		}
		for j, r := range st.Resource {
			if r != "*" && !arnRE.MatchString(r) {
				return nil, fmt.Errorf("%s.Resource[%d] %q must be \"*\" or an ARN acs:service:region:account:resource", where, j, r)
			}
		}
		if len(st.Condition) > 0 {
			var c map[string]map[string]json.RawMessage
			if err := json.Unmarshal(st.Condition, &c); err != nil || len(c) == 0 {
				return nil, fmt.Errorf("%s.Condition must be an object of operators to keys", where)
			}
		}
	}
	return &p, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: a JSON %s cannot be %s (Action, Resource and Service are lists of strings)", te.Field, te.Value, te.Type)
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the document")
	}
	return nil
}

// Actions maps each action the policy allows to the resources it is allowed on (sorted).
func (p *Policy) Actions() map[string][]string {
	out := map[string][]string{}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			out[a] = append(out[a], st.Resource...)
		}
	}
	for a, rs := range out {
		sort.Strings(rs)
		out[a] = compact(rs)
	}
	return out
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Wildcards lists the actions that use * or ?: a least-privilege policy names every action.
func (p *Policy) Wildcards() []string {
	var out []string
	for a := range p.Actions() {
		if strings.ContainsAny(a, "*?") {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// Object-level OSS actions: their resource is acs:oss:*:*:<bucket>/<object>.
var ossObjectActions = map[string]bool{
	"oss:PutObject": true, "oss:GetObject": true, "oss:DeleteObject": true,
	"oss:GetObjectAcl": true, "oss:PutObjectAcl": true,
}

// Project-level and app-level SLS actions; every other log: action is on a Logstore
// (ListLogStores on project/<p>/logstore/*).
var (
	logProjectActions = map[string]bool{
		"log:CreateProject": true, "log:GetProject": true, "log:UpdateProject": true,
		"log:DeleteProject": true, "log:ListProject": true,
	}
	logAppActions = map[string]bool{
		"log:GetApp": true, "log:CreateApp": true, "log:UpdateApp": true, "log:DeleteApp": true,
	}
)

var (
	logProjectRE  = regexp.MustCompile(`^project/[^/]+$`)
	logStoreRE    = regexp.MustCompile(`^project/[^/]+/logstore/[^/]+$`)
	logAppRE      = regexp.MustCompile(`^app/[^/]+$`)
	ramRoleRE     = regexp.MustCompile(`^role/[^/]+$`)
	ramEntityRE   = regexp.MustCompile(`^(role|policy)/[^/]+$`)
	fcFunctionRE  = regexp.MustCompile(`^functions/[^/]+$`)
	ossBucketRE   = regexp.MustCompile(`^[^/]+$`)
	ossObjectRE   = regexp.MustCompile(`^[^/]+/.+$`)
	resourceRules = map[string]func(action, rel string) error{
		"oss": func(action, rel string) error {
			if ossObjectActions[action] {
				return match(ossObjectRE, rel, "<bucket>/<object>: an object action never matches a bucket ARN")
			}
			return match(ossBucketRE, rel, "<bucket>: a bucket action never matches an object ARN")
		},
		"log": func(action, rel string) error {
			switch {
			case logAppActions[action]:
				return match(logAppRE, rel, "app/<name>")
			case logProjectActions[action]:
				return match(logProjectRE, rel, "project/<project>")
			}
			return match(logStoreRE, rel, "project/<project>/logstore/<logstore>")
		},
		"ram": func(action, rel string) error {
			return match(ramEntityRE, rel, "role/<name> or policy/<name>")
		},
		"sts": func(action, rel string) error {
			return match(ramRoleRE, rel, "role/<name> (the role's ARN is acs:ram::<account>:role/<name>)")
		},
		"fc": func(action, rel string) error { return match(fcFunctionRE, rel, "functions/<name>") },
	}
)

func match(re *regexp.Regexp, rel, want string) error {
	if !re.MatchString(rel) {
		return fmt.Errorf("resource %q must be %s", rel, want)
	}
	return nil
}

// arnService is the service code an action's resources are named in (sts:AssumeRole acts on RAM roles).
var arnService = map[string]string{"sts": "ram"}

// ResourceFits checks that resource has the ARN shape the action is authorized on, for the
// services whose resource types this package knows (OSS, SLS, RAM, STS AssumeRole, FC). "*"
// fits all.
func ResourceFits(action, resource string) error {
	if resource == "*" {
		return nil
	}
	svc, _, _ := strings.Cut(action, ":")
	parts := strings.SplitN(resource, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" {
		return fmt.Errorf("%s: %q is not an ARN", action, resource)
	}
	want := svc
	if s, ok := arnService[svc]; ok {
		want = s
	}
	if parts[1] != want {
		return fmt.Errorf("%s: resource %q names service %s, not %s", action, resource, parts[1], want)
	}
	if rule, ok := resourceRules[svc]; ok {
		if err := rule(action, parts[4]); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
	}
	return nil
}

// Trust is a RAM role's trust policy.
type Trust struct {
	Version   string           `json:"Version"`
	Statement []TrustStatement `json:"Statement"`
}

// TrustStatement is one statement of a Trust policy.
type TrustStatement struct {
	Effect    string          `json:"Effect"`
	Action    []string        `json:"Action"`
	Principal TrustPrincipal  `json:"Principal"`
	Condition json.RawMessage `json:"Condition,omitempty"`
}

// TrustPrincipal names who may assume the role.
type TrustPrincipal struct {
	Service []string `json:"Service,omitempty"`
	RAM     []string `json:"RAM,omitempty"`
}

var serviceRE = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*\.aliyuncs\.com$`)

// ParseTrust decodes a trust policy and checks its shape: Version "1", statements allowing
// exactly sts:AssumeRole to a non-empty list of service principals (<service>.aliyuncs.com).
func ParseTrust(data []byte) (*Trust, error) {
	var t Trust
	if err := decodeStrict(data, &t); err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	if t.Version != "1" {
		return nil, fmt.Errorf("trust policy: Version is %q; RAM policies use \"1\"", t.Version)
	}
	if len(t.Statement) == 0 {
		return nil, errors.New("trust policy: Statement is empty")
	}
	for i, st := range t.Statement {
		where := fmt.Sprintf("trust policy: Statement[%d]", i)
		if st.Effect != "Allow" {
			return nil, fmt.Errorf("%s.Effect is %q, not Allow", where, st.Effect)
		}
		if len(st.Action) != 1 || st.Action[0] != "sts:AssumeRole" {
			return nil, fmt.Errorf("%s.Action is %q; a trust policy allows [\"sts:AssumeRole\"]", where, st.Action)
		}
		if len(st.Principal.RAM) > 0 {
			return nil, fmt.Errorf("%s.Principal.RAM is set; the function role is assumed by services only", where)
		}
		if len(st.Principal.Service) == 0 {
			return nil, fmt.Errorf("%s.Principal.Service is empty", where)
		}
		for j, s := range st.Principal.Service {
			if !serviceRE.MatchString(s) {
				return nil, fmt.Errorf("%s.Principal.Service[%d] %q is not a service principal (<service>.aliyuncs.com)", where, j, s)
			}
		}
	}
	return &t, nil
}
