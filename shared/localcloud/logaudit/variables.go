package logaudit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Keys of VariableMap that every AnalyzeAppLog call carries (terraform's alicloud_log_audit sets them).
const (
	KeyRegion            = "region"
	KeyAliUID            = "aliuid"
	KeyProject           = "project"
	KeyLogstore          = "logstore"
	KeyMultiAccount      = "multi_account"
	KeyResourceDirectory = "resource_directory"
)

// CentralLogstore is the Logstore every central project holds.
const CentralLogstore = "slsaudit"

// TTL bounds of the per-product *_ttl switches, in days.
const (
	MinTTLDays = 1
	MaxTTLDays = 3650
)

// CentralProject is the name of the central project: slsaudit-center-<aliuid>-<region>.
func CentralProject(aliuid, region string) string {
	return "slsaudit-center-" + aliuid + "-" + region
}

// FieldError names the VariableMap key that broke a rule.
type FieldError struct {
	Key  string
	Rule string
}

func (e *FieldError) Error() string {
	if e.Key == "" {
		return "VariableMap: " + e.Rule
	}
	return fmt.Sprintf("VariableMap key %q: %s", e.Key, e.Rule)
}

func fieldErr(key, format string, args ...any) *FieldError {
	return &FieldError{Key: key, Rule: fmt.Sprintf(format, args...)}
}

// Variables is a VariableMap decoded and checked for shape (not yet against the world).
type Variables struct {
	// Values holds every key, unknown ones included, as sent.
	Values   map[string]string
	Region   string
	AliUID   string
	Project  string
	Logstore string
	// Mode is ModeSingle, ModeCustomAuth, ModeRDAll or ModeRDCustom.
	Mode string
	// Accounts are the listed member uids (custom authentication or resource directory custom),
	// without duplicates, in the order sent.
	Accounts []string
}

// ParseVariableMap decodes the VariableMap parameter: a JSON object whose values are all strings,
// with no key twice, the per-product switches well formed, and at most one membership mode.
// It checks shape only; region, caller and membership rules need the world (see AnalyzeAppLog).
func ParseVariableMap(raw string) (*Variables, error) {
	values, err := decodeStringObject(raw)
	if err != nil {
		return nil, err
	}
	v := &Variables{Values: values, Mode: ModeSingle}
	for _, k := range []string{KeyRegion, KeyAliUID, KeyProject, KeyLogstore} {
		if values[k] == "" {
			return nil, fieldErr(k, "is required and must not be empty")
		}
	}
	v.Region, v.AliUID, v.Project, v.Logstore = values[KeyRegion], values[KeyAliUID], values[KeyProject], values[KeyLogstore]
	if !isUID(v.AliUID) {
		return nil, fieldErr(KeyAliUID, "must be an account id (1 to 20 digits), got %q", v.AliUID)
	}
	for k, val := range values {
		switch {
		case strings.HasSuffix(k, "_enabled"):
			if val != "true" && val != "false" {
				return nil, fieldErr(k, "must be \"true\" or \"false\", got %q", val)
			}
		case strings.HasSuffix(k, "_ttl"):
			if !isDigits(val) {
				return nil, fieldErr(k, "must be a whole number of days from %d to %d written as a string, got %q", MinTTLDays, MaxTTLDays, val)
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < MinTTLDays || n > MaxTTLDays {
				return nil, fieldErr(k, "must be a whole number of days from %d to %d, got %q", MinTTLDays, MaxTTLDays, val)
			}
		}
	}
	ma, hasMA := values[KeyMultiAccount]
	rd, hasRD := values[KeyResourceDirectory]
	var custom []string
	if hasMA {
		if custom, err = parseUIDList(KeyMultiAccount, ma); err != nil {
			return nil, err
		}
	}
	if hasRD {
		if len(custom) > 0 {
			return nil, fieldErr(KeyResourceDirectory, "cannot be combined with a non-empty %s: choose resource directory mode or custom authentication mode", KeyMultiAccount)
		}
		mode, accounts, err := parseResourceDirectory(rd)
		if err != nil {
			return nil, err
		}
		v.Mode, v.Accounts = mode, accounts
		return v, nil
	}
	if len(custom) > 0 {
		v.Mode, v.Accounts = ModeCustomAuth, custom
	}
	return v, nil
}

// decodeStringObject reads a JSON object of string values, refusing duplicate keys, other value
// types and trailing data. It walks tokens so a nested value is refused without decoding it.
func decodeStringObject(raw string) (map[string]string, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, &FieldError{Rule: "must be a JSON object: " + jsonProblem(err)}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &FieldError{Rule: "must be a JSON object"}
	}
	values := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &FieldError{Rule: "must be a JSON object: " + jsonProblem(err)}
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &FieldError{Rule: "must be a JSON object"}
		}
		if _, dup := values[key]; dup {
			return nil, fieldErr(key, "appears more than once")
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fieldErr(key, "has no readable value: %s", jsonProblem(err))
		}
		s, ok := tok.(string)
		if !ok {
			return nil, fieldErr(key, "value must be a string, got %s", jsonKind(tok))
		}
		values[key] = s
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, &FieldError{Rule: "must be a JSON object: " + jsonProblem(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FieldError{Rule: "must be a single JSON object with nothing after it"}
	}
	return values, nil
}

func jsonProblem(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

func jsonKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "an array"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// parseResourceDirectory reads {"type":"all"|"custom","multi_account":[...]}. Terraform writes the
// member list as bare strings; {"uid":...} objects are accepted as well.
func parseResourceDirectory(raw string) (mode string, accounts []string, err error) {
	var doc map[string]json.RawMessage
	if err := strictUnmarshal(raw, &doc); err != nil || doc == nil {
		return "", nil, fieldErr(KeyResourceDirectory, `must be a JSON object such as {"type":"all","multi_account":[]} encoded as a string`)
	}
	var typ string
	if t, ok := doc["type"]; !ok || json.Unmarshal(t, &typ) != nil {
		return "", nil, fieldErr(KeyResourceDirectory, `field "type" is required and must be the string "all" or "custom"`)
	}
	switch strings.ToLower(typ) {
	case "all":
		mode = ModeRDAll
	case "custom":
		mode = ModeRDCustom
	default:
		return "", nil, fieldErr(KeyResourceDirectory, `field "type" must be "all" or "custom", got %q`, typ)
	}
	if list, ok := doc[KeyMultiAccount]; ok {
		if accounts, err = parseUIDList(KeyResourceDirectory+"."+KeyMultiAccount, string(list)); err != nil {
			return "", nil, err
		}
	}
	return mode, accounts, nil
}

// parseUIDList reads a member list: null, or an array of {"uid":"123"} objects (uid may also be a
// JSON integer, as terraform's reader allows) or of bare uid strings. Duplicates are dropped.
func parseUIDList(key, raw string) ([]string, error) {
	var items []json.RawMessage
	if err := strictUnmarshal(raw, &items); err != nil {
		return nil, fieldErr(key, `must be a JSON array such as [{"uid":"1234567890123456"}] encoded as a string`)
	}
	seen := map[string]bool{}
	var out []string
	for i, item := range items {
		uid, err := uidOf(item)
		if err != nil {
			return nil, fieldErr(key, "entry %d: %s", i+1, err)
		}
		if !seen[uid] {
			seen[uid] = true
			out = append(out, uid)
		}
	}
	return out, nil
}

func uidOf(item json.RawMessage) (string, error) {
	item = bytes.TrimSpace(item)
	var uid string
	switch {
	case len(item) > 0 && item[0] == '"':
		if err := json.Unmarshal(item, &uid); err != nil {
			return "", errors.New("is not a valid string")
		}
	case len(item) > 0 && item[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(item, &obj); err != nil {
			return "", errors.New("is not a valid object")
		}
		u, ok := obj["uid"]
		if !ok {
			return "", errors.New(`needs a "uid" field`)
		}
		u = bytes.TrimSpace(u)
		if len(u) > 0 && u[0] == '"' {
			if err := json.Unmarshal(u, &uid); err != nil {
				return "", errors.New(`"uid" is not a valid string`)
			}
		} else {
			uid = string(u) // a JSON integer: its digits are the uid
		}
	default:
		return "", errors.New(`must be {"uid":"<account id>"} or an account id string`)
	}
	if !isUID(uid) {
		return "", fmt.Errorf("uid must be an account id (1 to 20 digits), got %q", uid)
	}
	return uid, nil
}

// strictUnmarshal decodes exactly one JSON value with nothing after it.
func strictUnmarshal(raw string, v any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isUID(s string) bool { return isDigits(s) && len(s) <= 20 }
