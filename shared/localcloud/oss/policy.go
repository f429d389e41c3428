package oss

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// maxPolicySize is OSS's limit on a bucket policy document.
const maxPolicySize = 16 * 1024

// bucketPolicy is a parsed bucket policy (RAM policy grammar as OSS accepts it).
type bucketPolicy struct {
	statements []statement
}

type statement struct {
	effect     string // Allow | Deny
	actions    []string
	principals []string
	resources  []string
	conditions []condition
}

type condition struct {
	op, key string
	values  []string
}

// policyError names the field and the rule a document breaks.
type policyError struct{ field, rule string }

func (e *policyError) Error() string { return e.field + ": " + e.rule }

// parsePolicy validates a bucket policy for bucket: Version "1", at least one statement, each
// with Effect Allow|Deny, actions, principals and resources of this bucket.
func parsePolicy(doc []byte, bucketName string) (*bucketPolicy, error) {
	if len(doc) > maxPolicySize {
		return nil, &policyError{"Policy", fmt.Sprintf("must be at most %d bytes", maxPolicySize)}
	}
	var raw struct {
		Version   json.RawMessage   `json:"Version"`
		Statement []json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, &policyError{"Policy", "must be a JSON object: " + err.Error()}
	}
	var version string
	if err := json.Unmarshal(raw.Version, &version); err != nil || version != "1" {
		return nil, &policyError{"Version", `must be "1"`}
	}
	if len(raw.Statement) == 0 {
		return nil, &policyError{"Statement", "must hold at least one statement"}
	}
	p := &bucketPolicy{}
	for i, rs := range raw.Statement {
		st, err := parseStatement(rs, bucketName)
		if err != nil {
			err.field = fmt.Sprintf("Statement[%d].%s", i, err.field)
			return nil, err
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, bucketName string) (statement, *policyError) {
	var st statement
	var s struct {
		Effect    string                                `json:"Effect"`
		Action    json.RawMessage                       `json:"Action"`
		Principal json.RawMessage                       `json:"Principal"`
		Resource  json.RawMessage                       `json:"Resource"`
		Condition map[string]map[string]json.RawMessage `json:"Condition"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return st, &policyError{"", "must be a JSON object: " + err.Error()}
	}
	switch strings.ToLower(s.Effect) {
	case "allow":
		st.effect = "Allow"
	case "deny":
		st.effect = "Deny"
	default:
		return st, &policyError{"Effect", `must be "Allow" or "Deny"`}
	}
	var ok bool
	if st.actions, ok = stringList(s.Action); !ok || len(st.actions) == 0 {
		return st, &policyError{"Action", "must be a non-empty string or list of strings"}
	}
	for _, a := range st.actions {
		if a != "*" && !strings.HasPrefix(strings.ToLower(a), "oss:") {
			return st, &policyError{"Action", fmt.Sprintf("%q must start with oss:", a)}
		}
	}
	if st.principals, ok = principalList(s.Principal); !ok || len(st.principals) == 0 {
		return st, &policyError{"Principal", "must be \"*\", a list of account or user ids, or {\"RAM\": [...]}"}
	}
	if st.resources, ok = stringList(s.Resource); !ok || len(st.resources) == 0 {
		return st, &policyError{"Resource", "must be a non-empty string or list of strings"}
	}
	for _, r := range st.resources {
		if !resourceOfBucket(r, bucketName) {
			return st, &policyError{"Resource", fmt.Sprintf("%q must be acs:oss:<region>:<account>:%s or %s/<object pattern>", r, bucketName, bucketName)}
		}
	}
	for op, keys := range s.Condition {
		for key, vals := range keys {
			list, ok := conditionValues(vals)
			if !ok {
				return st, &policyError{"Condition." + op + "." + key, "must be a string, boolean, number or list of them"}
			}
			st.conditions = append(st.conditions, condition{op: strings.ToLower(op), key: strings.ToLower(key), values: list})
		}
	}
	return st, nil
}

func resourceOfBucket(r, bucketName string) bool {
	f := strings.SplitN(r, ":", 5)
	if len(f) != 5 || f[0] != "acs" || f[1] != "oss" {
		return false
	}
	return f[4] == bucketName || strings.HasPrefix(f[4], bucketName+"/")
}

func stringList(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many, true
	}
	return nil, false
}

func principalList(raw json.RawMessage) ([]string, bool) {
	if l, ok := stringList(raw); ok {
		return l, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	var out []string
	for _, v := range m {
		l, ok := stringList(v)
		if !ok {
			return nil, false
		}
		out = append(out, l...)
	}
	return out, true
}

func conditionValues(raw json.RawMessage) ([]string, bool) {
	var vals []any
	if json.Unmarshal(raw, &vals) != nil {
		var one any
		if json.Unmarshal(raw, &one) != nil {
			return nil, false
		}
		vals = []any{one}
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		switch t := v.(type) {
		case string:
			out = append(out, t)
		case bool, float64:
			out = append(out, fmt.Sprint(t))
		default:
			return nil, false
		}
	}
	return out, true
}

// isPublic reports whether the statement grants anyone access without a condition, which
// Block Public Access forbids.
func (st statement) isPublic() bool {
	if st.effect != "Allow" || len(st.conditions) > 0 {
		return false
	}
	for _, p := range st.principals {
		if p == "*" {
			return true
		}
	}
	return false
}

func (p *bucketPolicy) hasPublic() bool {
	for _, st := range p.statements {
		if st.isPublic() {
			return true
		}
	}
	return false
}

// evalContext is what a statement is matched against.
type evalContext struct {
	anonymous bool
	caller    core.Principal
	action    string // oss:GetObject
	resource  string // acs:oss:<region>:<owner>:<bucket>[/<key>]
	values    map[string]string
}

// matches reports whether any statement with the effect applies; skipPublic ignores public
// grants (Block Public Access).
func (p *bucketPolicy) matches(effect string, c evalContext, skipPublic bool) bool {
	if p == nil {
		return false
	}
	for _, st := range p.statements {
		if st.effect != effect || (skipPublic && st.isPublic()) {
			continue
		}
		if st.matchPrincipal(c) && matchAny(st.actions, c.action, true) &&
			matchAny(st.resources, c.resource, false) && st.matchConditions(c) {
			return true
		}
	}
	return false
}

func (st statement) matchPrincipal(c evalContext) bool {
	ids := []string{}
	if !c.anonymous {
		ids = append(ids, c.caller.AccountID, c.caller.PrincipalID, c.caller.ARN())
	}
	for _, p := range st.principals {
		if p == "*" {
			return true
		}
		for _, id := range ids {
			if id != "" && glob(p, id, false) {
				return true
			}
		}
	}
	return false
}

func matchAny(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if glob(p, v, fold) {
			return true
		}
	}
	return false
}

// matchConditions ANDs every condition; values of one key are ORed. Unknown operators and
// keys absent from the request make a positive condition fail (the statement does not apply).
func (st statement) matchConditions(c evalContext) bool {
	for _, cond := range st.conditions {
		v, present := c.values[cond.key]
		if !evalCondition(cond, v, present) {
			return false
		}
	}
	return true
}

func evalCondition(cond condition, v string, present bool) bool {
	if !present {
		return strings.Contains(cond.op, "not") // StringNotEquals, NotIpAddress, ...
	}
	any := func(f func(want string) bool) bool {
		for _, want := range cond.values {
			if f(want) {
				return true
			}
		}
		return false
	}
	switch cond.op {
	case "bool":
		return any(func(w string) bool { return strings.EqualFold(w, v) })
	case "stringequals":
		return any(func(w string) bool { return w == v })
	case "stringnotequals":
		return !any(func(w string) bool { return w == v })
	case "stringequalsignorecase":
		return any(func(w string) bool { return strings.EqualFold(w, v) })
	case "stringnotequalsignorecase":
		return !any(func(w string) bool { return strings.EqualFold(w, v) })
	case "stringlike":
		return any(func(w string) bool { return glob(w, v, false) })
	case "stringnotlike":
		return !any(func(w string) bool { return glob(w, v, false) })
	case "ipaddress":
		return any(func(w string) bool { return ipIn(v, w) })
	case "notipaddress":
		return !any(func(w string) bool { return ipIn(v, w) })
	}
	return false
}

func ipIn(ip, cidr string) bool {
	addr := net.ParseIP(ip)
	if addr == nil {
		return false
	}
	if !strings.Contains(cidr, "/") {
		return addr.Equal(net.ParseIP(cidr))
	}
	_, n, err := net.ParseCIDR(cidr)
	return err == nil && n.Contains(addr)
}

// glob matches * (any run) and ? (one character).
func glob(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
