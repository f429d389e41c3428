package policy

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Member is what selection needs to know about a Resource Directory member.
type Member struct {
	AccountID string
	// FolderPath lists folder ids from the root (r-...) down to the member's own folder.
	FolderPath []string
	Tags       map[string]string
}

// TagSelector matches a member tag. In YAML it is "key=value", "key" (any
// value) or a mapping {key, value} where a missing value means any value.
type TagSelector struct {
	Key      string
	Value    string
	AnyValue bool
}

// tagMapping is the mapping form of a TagSelector; a nil Value means any value.
type tagMapping struct {
	Key   string  `yaml:"key"`
	Value *string `yaml:"value"`
}

// UnmarshalYAML accepts both the scalar and the mapping form; the shape was
// checked before decoding, and the content is checked by Validate.
func (t *TagSelector) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*t = parseTag(s)
		return nil
	}
	var m tagMapping
	if err := n.Decode(&m); err != nil {
		return err
	}
	*t = TagSelector{Key: m.Key, AnyValue: m.Value == nil}
	if m.Value != nil {
		t.Value = *m.Value
	}
	return nil
}

// MarshalText writes the scalar form, which is what YAML and JSON output use.
func (t TagSelector) MarshalText() ([]byte, error) {
	if t.AnyValue {
		return []byte(t.Key), nil
	}
	return []byte(t.Key + "=" + t.Value), nil
}

func parseTag(s string) TagSelector {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return TagSelector{Key: strings.TrimSpace(s), AnyValue: true}
	}
	return TagSelector{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
}

func (s Selector) empty() bool {
	return len(s.Folders) == 0 && len(s.Accounts) == 0 && len(s.Tags) == 0
}

// matches reports whether m is named by account, sits in (or below) a listed
// folder, or carries a listed tag.
func (s Selector) matches(m Member) bool {
	if slices.Contains(s.Accounts, m.AccountID) {
		return true
	}
	for _, f := range s.Folders {
		if slices.Contains(m.FolderPath, f) {
			return true
		}
	}
	for _, t := range s.Tags {
		if v, ok := m.Tags[t.Key]; ok && (t.AnyValue || v == t.Value) {
			return true
		}
	}
	return false
}

// MemberSelected reports whether Log Audit should collect from m. In resource
// directory mode with custom members, a member is selected when Include
// matches it and Exclude does not (exclude wins; an empty Include selects
// nobody). In custom authentication mode only the accounts listed in the policy
// count: members enrolled through the API with an AccessKey pair are tracked
// outside the policy.
func (p *Policy) MemberSelected(m Member) bool {
	la := p.LogAudit
	if !la.Enabled {
		return false
	}
	switch la.Mode {
	case ModeResourceDirectory:
		rd := la.ResourceDirectory
		switch rd.Members {
		case MembersAll:
			return true
		case MembersCustom:
			return rd.Include.matches(m) && !rd.Exclude.matches(m)
		}
	case ModeCustomAuthentication:
		return slices.Contains(la.CustomAuthentication.Accounts, m.AccountID)
	}
	return false
}
