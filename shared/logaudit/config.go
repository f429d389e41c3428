package logaudit

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

// VariableMap keys that Config models itself; every other key is a Switch.
const (
	KeyRegion            = "region"
	KeyAliUID            = "aliuid"
	KeyProject           = "project"
	KeyLogstore          = "logstore"
	KeyMultiAccount      = "multi_account"
	KeyResourceDirectory = "resource_directory"
)

// Resource directory member selection (Config.RDType).
const (
	RDAll    = "all"
	RDCustom = "custom"
)

// CentralLogstore is the Logstore of the central project that Log Audit writes to.
const CentralLogstore = "slsaudit"

// CentralProject is the central project Log Audit keeps in the central account: slsaudit-center-<aliuid>-<region>.
func CentralProject(aliuid, region string) string {
	return "slsaudit-center-" + aliuid + "-" + region
}

// reserved keys are written from Config's own fields and never taken from Switches.
var reserved = map[string]bool{
	KeyRegion: true, KeyAliUID: true, KeyProject: true, KeyLogstore: true,
	KeyMultiAccount: true, KeyResourceDirectory: true,
}

// IsReservedKey reports whether a VariableMap key is modelled by Config's fields rather than Switches.
func IsReservedKey(k string) bool { return reserved[k] }

var (
	regionRE = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
)

// isUID: an Alibaba Cloud account id, 1 to 20 digits (what Log Audit accepts for a member).
func isUID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Validate checks a Config before it is written, naming the field and the rule it breaks.
func (c Config) Validate() error {
	if !regionRE.MatchString(c.Region) {
		return fmt.Errorf("log audit config: Region %q must be a region id such as cn-shanghai", c.Region)
	}
	if !isUID(c.AliUID) {
		return fmt.Errorf("log audit config: AliUID %q must be an account id of 1 to 20 digits", c.AliUID)
	}
	switch c.Mode {
	case ModeResourceDirectory:
		if c.RDType != RDAll && c.RDType != RDCustom {
			return fmt.Errorf("log audit config: RDType %q must be %q or %q in resource directory mode", c.RDType, RDAll, RDCustom)
		}
	case ModeCustomAuthentication, ModeNone:
		if c.RDType != "" {
			return fmt.Errorf("log audit config: RDType %q is only for resource directory mode (Mode is %q)", c.RDType, c.Mode)
		}
		if c.Mode == ModeNone && len(c.Members) > 0 {
			return fmt.Errorf("log audit config: Members must be empty when Mode is none (got %d): choose resource directory or custom authentication mode", len(c.Members))
		}
	default:
		return fmt.Errorf("log audit config: Mode %q must be %q, %q or empty", c.Mode, ModeResourceDirectory, ModeCustomAuthentication)
	}
	for i, m := range c.Members {
		if !isUID(m) {
			return fmt.Errorf("log audit config: Members[%d] %q must be an account id of 1 to 20 digits", i, m)
		}
	}
	for k := range c.Switches {
		switch {
		case k == "":
			return errors.New("log audit config: Switches has an empty key")
		case reserved[k]:
			return fmt.Errorf("log audit config: Switches key %q is reserved: it is written from Config's own fields", k)
		}
	}
	return nil
}

// sortedUnique returns a new sorted slice without duplicates (never nil).
func sortedUnique(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

type uidEntry struct {
	UID string `json:"uid"`
}

type resourceDirectoryValue struct {
	Type         string   `json:"type"`
	MultiAccount []string `json:"multi_account"`
}

// VariableMap is the complete AnalyzeAppLog VariableMap for cfg: region, aliuid, the central
// project and Logstore, the membership key of the mode, and every Switch verbatim. Resource
// directory members are written as plain strings (as terraform sends them), custom
// authentication members as [{"uid":"..."}]. Switches never override the modelled keys.
// VariableMap does not validate: Write calls Config.Validate first.
func VariableMap(cfg Config) map[string]string {
	m := make(map[string]string, len(cfg.Switches)+6)
	for k, v := range cfg.Switches {
		if !reserved[k] {
			m[k] = v
		}
	}
	m[KeyRegion] = cfg.Region
	m[KeyAliUID] = cfg.AliUID
	m[KeyProject] = CentralProject(cfg.AliUID, cfg.Region)
	m[KeyLogstore] = CentralLogstore
	members := sortedUnique(cfg.Members)
	switch cfg.Mode {
	case ModeResourceDirectory:
		b, _ := json.Marshal(resourceDirectoryValue{Type: cfg.RDType, MultiAccount: members}) // strings only: cannot fail
		m[KeyResourceDirectory] = string(b)
	case ModeCustomAuthentication:
		list := make([]uidEntry, len(members))
		for i, u := range members {
			list[i] = uidEntry{UID: u}
		}
		b, _ := json.Marshal(list)
		m[KeyMultiAccount] = string(b)
	}
	return m
}

// ConfigError names the part of a DescribeApp Config document that could not be read.
type ConfigError struct {
	Field string // e.g. initParam.resource_directory.type
	Rule  string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "log audit Config: " + e.Rule
	}
	return fmt.Sprintf("log audit Config %s: %s", e.Field, e.Rule)
}

func cfgErr(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Rule: fmt.Sprintf(format, args...)}
}

// ParseConfig reads DescribeApp's AppModel.Config, the JSON string {"initParam":{...VariableMap...}},
// into a Config. It is lenient where the service may differ from what was sent (a value that is a
// number, a boolean or a nested JSON value instead of a string is kept as its JSON text; a null is
// dropped; initParam may itself be a JSON string) and strict where a wrong reading would change
// membership: the member lists and the resource directory type must be well formed.
func ParseConfig(raw string) (Config, error) {
	var doc map[string]json.RawMessage
	if err := decodeOne(raw, &doc); err != nil || doc == nil {
		return Config{}, &ConfigError{Rule: `must be a JSON object such as {"initParam":{...}}`}
	}
	ip, ok := doc["initParam"]
	if !ok {
		return Config{}, cfgErr("initParam", "is missing")
	}
	ip = unquoteJSON(ip)
	var params map[string]json.RawMessage
	if err := decodeOne(string(ip), &params); err != nil || params == nil {
		return Config{}, cfgErr("initParam", "must be a JSON object of the VariableMap")
	}
	vals := make(map[string]string, len(params))
	for k, v := range params {
		s, isNull := scalarText(v)
		if !isNull {
			vals[k] = s
		}
	}
	cfg := Config{Region: vals[KeyRegion], AliUID: vals[KeyAliUID], Mode: ModeNone, Switches: map[string]string{}}
	if cfg.AliUID != "" && !isUID(cfg.AliUID) {
		return Config{}, cfgErr("initParam."+KeyAliUID, "%s must be an account id of 1 to 20 digits", quoteShort(cfg.AliUID))
	}
	rd := strings.TrimSpace(vals[KeyResourceDirectory])
	ma, hasMA := vals[KeyMultiAccount]
	switch {
	case rd != "":
		typ, members, err := parseResourceDirectory(rd)
		if err != nil {
			return Config{}, err
		}
		cfg.Mode, cfg.RDType, cfg.Members = ModeResourceDirectory, typ, members
	case hasMA && strings.TrimSpace(ma) != "":
		members, err := parseMemberList("initParam."+KeyMultiAccount, json.RawMessage(ma))
		if err != nil {
			return Config{}, err
		}
		cfg.Mode, cfg.Members = ModeCustomAuthentication, members
	}
	for k, v := range vals {
		if !reserved[k] {
			cfg.Switches[k] = v
		}
	}
	return cfg, nil
}

func parseResourceDirectory(raw string) (typ string, members []string, err error) {
	const field = "initParam." + KeyResourceDirectory
	var v map[string]json.RawMessage
	if err := decodeOne(raw, &v); err != nil || v == nil {
		return "", nil, cfgErr(field, `must be a JSON object such as {"type":"all","multi_account":[]}`)
	}
	t, ok := v["type"]
	if !ok {
		return "", nil, cfgErr(field+".type", `is missing; it must be "all" or "custom"`)
	}
	if err := json.Unmarshal(t, &typ); err != nil {
		return "", nil, cfgErr(field+".type", `must be the string "all" or "custom"`)
	}
	typ = strings.ToLower(strings.TrimSpace(typ)) // the console and terraform accept "All"
	if typ != RDAll && typ != RDCustom {
		return "", nil, cfgErr(field+".type", `must be "all" or "custom", got %s`, quoteShort(typ))
	}
	members = []string{}
	if list, ok := v[KeyMultiAccount]; ok {
		if members, err = parseMemberList(field+"."+KeyMultiAccount, list); err != nil {
			return "", nil, err
		}
	}
	return typ, members, nil
}

// parseMemberList reads null, or an array (possibly encoded as a JSON string) of uid strings,
// uid numbers, or {"uid": string|number} objects; the result is sorted and unique.
func parseMemberList(field string, raw json.RawMessage) ([]string, error) {
	raw = unquoteJSON(raw)
	var items []json.RawMessage
	if err := decodeOne(string(raw), &items); err != nil {
		return nil, cfgErr(field, `must be a JSON array such as [{"uid":"1234567890123456"}] or ["1234567890123456"]`)
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		uid, err := uidOf(item)
		if err != nil {
			return nil, cfgErr(fmt.Sprintf("%s[%d]", field, i), "%s", err)
		}
		out = append(out, uid)
	}
	return sortedUnique(out), nil
}

func uidOf(item json.RawMessage) (string, error) {
	item = bytes.TrimSpace(item)
	if len(item) > 0 && item[0] == '{' {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(item, &obj); err != nil {
			return "", errors.New("is not a valid JSON object")
		}
		u, ok := obj["uid"]
		if !ok {
			return "", errors.New(`needs a "uid" field`)
		}
		item = bytes.TrimSpace(u)
	}
	var uid string
	switch {
	case len(item) > 0 && item[0] == '"':
		if err := json.Unmarshal(item, &uid); err != nil {
			return "", errors.New("uid is not a valid JSON string")
		}
	case len(item) > 0 && item[0] >= '0' && item[0] <= '9':
		uid = string(item) // a JSON integer: its digits are the uid
	default:
		return "", errors.New(`must be an account id string, number or {"uid":"<account id>"}`)
	}
	if !isUID(uid) {
		return "", fmt.Errorf("uid %s must be an account id of 1 to 20 digits", quoteShort(uid))
	}
	return uid, nil
}

// decodeOne decodes exactly one JSON value with nothing but white space after it.
func decodeOne(raw string, v any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// unquoteJSON turns a JSON string holding JSON into that JSON; anything else is returned as is.
func unquoteJSON(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return raw
	}
	return json.RawMessage(s)
}

// scalarText is a VariableMap value as the string Log Audit means: a JSON string's contents, or
// the compact JSON text of any other value. null reports isNull.
func scalarText(v json.RawMessage) (s string, isNull bool) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return "", true
	case v[0] == '"':
		if err := json.Unmarshal(v, &s); err == nil {
			return s, false
		}
	case string(v) == "null":
		return "", true
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err == nil {
		return buf.String(), false
	}
	return string(v), false
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
