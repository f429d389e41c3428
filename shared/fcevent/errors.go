// Package fcevent decodes what Function Compute hands auditwarden's functions (timer, HTTP
// trigger and EventBridge payloads) into domain intents, and adapts the HTTP trigger to
// net/http so the api function is an ordinary http.Handler.
//
// Everything here reads outside input: decoders never panic, bound the input size, and fail
// with a *FieldError naming the field (a JSON path such as "data.userIdentity.accountId") and
// the rule it broke.
package fcevent

import "fmt"

// Rules a FieldError can name. They are stable identifiers: an HTTP client may switch on them.
const (
	RuleRequired = "required" // missing, null or empty
	RuleType     = "type"     // wrong JSON type (an object where a string belongs, ...)
	RuleFormat   = "format"   // right type, wrong shape (a time, an account id, base64, ...)
	RuleValue    = "value"    // well-formed but not an accepted value (specversion 2.0, mode "fast", ...)
	RuleSize     = "size"     // too large
	RuleJSON     = "json"     // not JSON at all, or trailing data
	RuleUnknown  = "unknown"  // a field we do not know, where typos must not pass silently
	RuleConflict = "conflict" // two fields that must agree do not
)

// FieldError is the error of every decoder: which field broke which rule, and a message for people.
type FieldError struct {
	Field   string // JSON path from the payload's root; "payload" for the whole input
	Rule    string // one of the Rule* constants
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule + ": " + e.Message }

func fieldErr(field, rule, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)}
}
