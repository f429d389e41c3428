package archive

import (
	"encoding/json"
	"fmt"
	"strings"
)

// maxPolicyBytes is OSS's limit on a bucket policy document.
const maxPolicyBytes = 16 * 1024

// policyStatement is the part of a bucket policy statement DeniesInsecure looks at. Action,
// Principal and Resource may each be a string or a list; Principal may also be {"RAM": [...]}.
type policyStatement struct {
	Effect       string                                `json:"Effect"`
	Action       json.RawMessage                       `json:"Action"`
	Principal    json.RawMessage                       `json:"Principal"`
	Resource     json.RawMessage                       `json:"Resource"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
	NotAction    json.RawMessage                       `json:"NotAction"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	NotResource  json.RawMessage                       `json:"NotResource"`
}

// policyDoc keeps a bucket policy as raw JSON so a merge preserves every statement and field.
type policyDoc struct {
	fields     map[string]json.RawMessage
	statements []json.RawMessage
}

func parsePolicyDoc(doc string) (*policyDoc, error) {
	p := &policyDoc{}
	if err := json.Unmarshal([]byte(doc), &p.fields); err != nil || p.fields == nil {
		return nil, fmt.Errorf("bucket policy is not a JSON object: %v", err)
	}
	if raw, ok := p.fields["Statement"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p.statements); err != nil {
			return nil, fmt.Errorf("bucket policy Statement must be a list of statements: %v", err)
		}
	}
	return p, nil
}

// stringsOf reads a string or a list of strings.
func stringsOf(raw json.RawMessage) ([]string, bool) {
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

// principalsOf reads Principal: "*", a list, or an object of lists ({"RAM": ["*"]}).
func principalsOf(raw json.RawMessage) []string {
	if l, ok := stringsOf(raw); ok {
		return l
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	for _, v := range m {
		l, _ := stringsOf(v)
		out = append(out, l...)
	}
	return out
}

// conditionStrings reads condition values: a string, boolean or number, or a list of them.
func conditionStrings(raw json.RawMessage) []string {
	var vals []any
	if json.Unmarshal(raw, &vals) != nil {
		var one any
		if json.Unmarshal(raw, &one) != nil {
			return nil
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
		}
	}
	return out
}

// glob matches * (any run) and ? (one character), as OSS policy patterns do.
func glob(pattern, s string) bool {
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

// coversAllWith reports whether pattern matches prefix followed by anything at all: it matches
// prefix itself and ends in '*', whose run can absorb any suffix.
func coversAllWith(pattern, prefix string) bool {
	return strings.HasSuffix(pattern, "*") && glob(pattern, prefix)
}

// denyScope is what one statement's Deny-without-secure-transport covers.
type denyScope struct{ bucket, objects bool }

// insecureDenyScope says whether the statement denies every action to everyone when the
// request is not over HTTPS, and on which resources: the bucket itself and all its objects.
// Anything narrower (some actions, some principals, extra conditions, Not* elements) covers
// nothing, since it leaves some plain-HTTP access allowed.
func insecureDenyScope(raw json.RawMessage, bucket, region, owner string) denyScope {
	var st policyStatement
	if json.Unmarshal(raw, &st) != nil || !strings.EqualFold(st.Effect, "Deny") {
		return denyScope{}
	}
	if st.NotAction != nil || st.NotPrincipal != nil || st.NotResource != nil {
		return denyScope{}
	}
	actions, _ := stringsOf(st.Action)
	allActions := false
	for _, a := range actions {
		if a == "*" || coversAllWith(strings.ToLower(a), "oss:") {
			allActions = true
		}
	}
	everyone := false
	for _, p := range principalsOf(st.Principal) {
		if p == "*" {
			everyone = true
		}
	}
	if !allActions || !everyone || !onlyInsecureCondition(st.Condition) {
		return denyScope{}
	}
	resources, _ := stringsOf(st.Resource)
	var sc denyScope
	for _, r := range resources {
		f := strings.SplitN(r, ":", 5)
		if len(f) != 5 || f[0] != "acs" || !glob(f[1], "oss") || !matchesKnown(f[2], region) || !matchesKnown(f[3], owner) {
			continue
		}
		if glob(f[4], bucket) {
			sc.bucket = true
		}
		if coversAllWith(f[4], bucket+"/") {
			sc.objects = true
		}
	}
	return sc
}

// matchesKnown matches a region or account field; an unknown value is covered only by "*".
func matchesKnown(pattern, v string) bool {
	if v == "" {
		return pattern == "*"
	}
	return glob(pattern, v)
}

// onlyInsecureCondition: exactly one condition, Bool acs:SecureTransport with "false" among its
// values (keys and operators are case-insensitive).
func onlyInsecureCondition(c map[string]map[string]json.RawMessage) bool {
	if len(c) != 1 {
		return false
	}
	for op, keys := range c {
		if !strings.EqualFold(op, "Bool") || len(keys) != 1 {
			return false
		}
		for k, v := range keys {
			if !strings.EqualFold(k, "acs:SecureTransport") {
				return false
			}
			for _, s := range conditionStrings(v) {
				if strings.EqualFold(s, "false") {
					return true
				}
			}
		}
	}
	return false
}

// DeniesInsecure reports whether the bucket policy doc denies, to everyone and for every
// action, requests made without HTTPS (Bool acs:SecureTransport "false") on the bucket and all
// of its objects, possibly across several statements. region and owner are the bucket's (its
// resources are acs:oss:<region>:<owner>:<bucket>[/<key>]); "" means unknown. An empty doc is
// no policy; a doc that is not a policy is an error.
func DeniesInsecure(doc, bucket, region, owner string) (bool, error) {
	if strings.TrimSpace(doc) == "" {
		return false, nil
	}
	p, err := parsePolicyDoc(doc)
	if err != nil {
		return false, err
	}
	var all denyScope
	for _, st := range p.statements {
		sc := insecureDenyScope(st, bucket, region, owner)
		all.bucket = all.bucket || sc.bucket
		all.objects = all.objects || sc.objects
	}
	return all.bucket && all.objects, nil
}

// checkBucketName applies OSS's naming rule: 3 to 63 characters of lowercase letters, digits
// and hyphens, starting and ending with a letter or digit.
func checkBucketName(name string) error {
	ok := len(name) >= 3 && len(name) <= 63
	for i := 0; ok && i < len(name); i++ {
		ch := name[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9'
		ok = alnum || ch == '-' && i > 0 && i < len(name)-1
	}
	if !ok {
		return fmt.Errorf("bucket name %q: must be 3 to 63 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit", name)
	}
	return nil
}

// SecureTransportStatement is the statement auditwarden adds: deny everything without HTTPS on
// the bucket and its objects (CIS 5.4). owner "" leaves the account as "*".
func SecureTransportStatement(bucket, owner string) json.RawMessage {
	if owner == "" {
		owner = "*"
	}
	st := map[string]any{
		"Effect":    "Deny",
		"Action":    []string{"oss:*"},
		"Principal": []string{"*"},
		"Resource":  []string{"acs:oss:*:" + owner + ":" + bucket, "acs:oss:*:" + owner + ":" + bucket + "/*"},
		"Condition": map[string]any{"Bool": map[string]any{"acs:SecureTransport": []string{"false"}}},
	}
	b, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("archive: marshal statement: %v", err)) // fixed shape
	}
	return b
}

// MergeSecureTransport returns doc with SecureTransportStatement appended, keeping every other
// statement and field as they are. An empty doc becomes a new policy (Version "1").
func MergeSecureTransport(doc, bucket, owner string) (string, error) {
	if err := checkBucketName(bucket); err != nil {
		return "", err
	}
	p := &policyDoc{fields: map[string]json.RawMessage{}}
	if strings.TrimSpace(doc) != "" {
		var err error
		if p, err = parsePolicyDoc(doc); err != nil {
			return "", err
		}
	}
	if _, ok := p.fields["Version"]; !ok {
		p.fields["Version"] = json.RawMessage(`"1"`)
	}
	p.statements = append(p.statements, SecureTransportStatement(bucket, owner))
	stmts, err := json.Marshal(p.statements)
	if err != nil {
		return "", fmt.Errorf("bucket policy statements: %v", err)
	}
	p.fields["Statement"] = stmts
	out, err := json.Marshal(p.fields)
	if err != nil {
		return "", fmt.Errorf("bucket policy: %v", err)
	}
	if len(out) > maxPolicyBytes {
		return "", fmt.Errorf("bucket policy: with the secure-transport statement it is %d bytes, over OSS's limit of %d", len(out), maxPolicyBytes)
	}
	return string(out), nil
}
