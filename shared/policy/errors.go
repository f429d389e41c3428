package policy

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one broken rule in a policy document.
type FieldError struct {
	// Field is the dotted path of the offending value, for example
	// "destinations.sls.ttlDays" or "logAudit.resourceDirectory.include.accounts[2]";
	// empty for the document as a whole.
	Field string `json:"field"`
	// Rule is a short machine-readable name of the rule, for example "required",
	// "range 1..3650", "oneof Write|Read|All" or "cis-2.23 ttl >= 365".
	Rule string `json:"rule"`
	// Message explains the problem to a person.
	Message string `json:"message"`
	// Line is the 1-based line in the source document; 0 when unknown, as for a
	// policy built in Go and checked with Validate.
	Line int `json:"line,omitempty"`
}

func (e FieldError) Error() string {
	field := e.Field
	if field == "" {
		field = "(document)"
	}
	s := fmt.Sprintf("%s: %s [%s]", field, e.Message, e.Rule)
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

// ValidationError carries every problem found in a policy, sorted by field, so
// that one round of editing can fix them all.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid audit policy: %d problem(s)", len(e.Errors))
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// errorsOf sorts and de-duplicates errs and wraps them; it returns a nil error
// (not a nil *ValidationError) when there is nothing to report.
func errorsOf(errs []FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Field != errs[j].Field {
			return errs[i].Field < errs[j].Field
		}
		return errs[i].Rule < errs[j].Rule
	})
	out := make([]FieldError, 0, len(errs))
	for _, fe := range errs {
		// Aliases can make the walker visit one node twice.
		if len(out) > 0 && fe == out[len(out)-1] {
			continue
		}
		out = append(out, fe)
	}
	return &ValidationError{Errors: out}
}
