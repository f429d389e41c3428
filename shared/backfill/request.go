package backfill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// StepRequest is the payload of one invocation of the backfill function: the accounts whose
// jobs to advance, and how many times the chain has re-invoked itself so far.
type StepRequest struct {
	Accounts []string `json:"accounts"`
	Hop      int      `json:"hop,omitempty"`
}

// StepResult is what one step did.
type StepResult struct {
	// Reinvoked: the step handed the accounts still running to a new asynchronous invocation.
	Reinvoked bool `json:"reinvoked"`
	// Continuing lists those accounts.
	Continuing []string   `json:"continuing,omitempty"`
	Progress   []Progress `json:"progress"`
}

// Limits of a StepRequest. An async payload may be 128 KB; a thousand accounts fit well within.
const (
	maxStepAccounts = 1000
	maxHops         = 100000
	maxPayload      = 128 << 10
)

var accountRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// Validate checks a request, naming the field and the rule it breaks.
func (r StepRequest) Validate() error {
	if len(r.Accounts) == 0 {
		return errors.New("backfill step: accounts: required (at least one account id)")
	}
	if len(r.Accounts) > maxStepAccounts {
		return fmt.Errorf("backfill step: accounts: %d entries; at most %d", len(r.Accounts), maxStepAccounts)
	}
	seen := make(map[string]bool, len(r.Accounts))
	for i, a := range r.Accounts {
		if !accountRE.MatchString(a) {
			return fmt.Errorf("backfill step: accounts[%d]: %q is not an account id (1 to 32 digits)", i, a)
		}
		if seen[a] {
			return fmt.Errorf("backfill step: accounts[%d]: %s is listed twice", i, a)
		}
		seen[a] = true
	}
	if r.Hop < 0 || r.Hop > maxHops {
		return fmt.Errorf("backfill step: hop: %d must be from 0 to %d", r.Hop, maxHops)
	}
	return nil
}

// ParseStepRequest decodes and validates an invocation payload: one JSON object with no
// unknown fields. Errors name the field and the rule.
func ParseStepRequest(payload []byte) (StepRequest, error) {
	var r StepRequest
	if len(payload) > maxPayload {
		return r, fmt.Errorf("backfill step: payload is %d bytes; at most %d", len(payload), maxPayload)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return r, errors.New("backfill step: payload is empty; want {\"accounts\": [\"<account id>\", ...]}")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return StepRequest{}, fmt.Errorf("backfill step: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return StepRequest{}, errors.New("backfill step: trailing data after the JSON object")
	}
	if err := r.Validate(); err != nil {
		return StepRequest{}, err
	}
	return r, nil
}

// describeJSONError turns encoding/json's errors into ones that name the field.
func describeJSONError(err error) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			return fmt.Sprintf("the payload must be a JSON object, not %s", ute.Value)
		}
		if field == "accounts" && ute.Type.Kind().String() == "string" {
			return fmt.Sprintf("accounts: each entry must be an account id string, not %s", ute.Value)
		}
		return fmt.Sprintf("%s: must be %s, not %s", field, jsonKind(ute.Type.Kind().String()), ute.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON (at byte %d): %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Sprintf("%s: unknown field (known: accounts, hop)", strings.Trim(name, `"`))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON object is cut short"
	}
	return err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "an array of account id strings"
	case "string":
		return "a string"
	case "int":
		return "an integer"
	}
	return k
}
