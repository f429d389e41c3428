package logaudit_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
)

const fixedKeys = `"region":"cn-shanghai","aliuid":"1234567890123456","project":"slsaudit-center-1234567890123456-cn-shanghai","logstore":"slsaudit"`

func TestParseVariableMapModes(t *testing.T) {
	cases := []struct {
		name     string
		extra    string
		mode     string
		accounts []string
	}{
		{"no membership", ``, logaudit.ModeSingle, nil},
		{"empty custom authentication list", `,"multi_account":"[]"`, logaudit.ModeSingle, nil},
		{"custom authentication", `,"multi_account":"[{\"uid\":\"111\"},{\"uid\":\"222\"},{\"uid\":\"111\"}]"`, logaudit.ModeCustomAuth, []string{"111", "222"}},
		{"custom authentication numeric uid", `,"multi_account":"[{\"uid\":333}]"`, logaudit.ModeCustomAuth, []string{"333"}},
		{"RD all, terraform's empty list", `,"resource_directory":"{\"multi_account\":[],\"type\":\"all\"}"`, logaudit.ModeRDAll, nil},
		{"RD all, null list", `,"resource_directory":"{\"multi_account\":null,\"type\":\"all\"}"`, logaudit.ModeRDAll, nil},
		{"RD custom, terraform's bare strings", `,"resource_directory":"{\"multi_account\":[\"444\",\"555\"],\"type\":\"custom\"}"`, logaudit.ModeRDCustom, []string{"444", "555"}},
		{"RD custom, uid objects", `,"resource_directory":"{\"type\":\"Custom\",\"multi_account\":[{\"uid\":\"666\"}]}"`, logaudit.ModeRDCustom, []string{"666"}},
		{"RD custom cleared", `,"resource_directory":"{\"type\":\"custom\"}"`, logaudit.ModeRDCustom, nil},
		{"RD with an empty custom-auth list beside it", `,"multi_account":"[]","resource_directory":"{\"type\":\"all\"}"`, logaudit.ModeRDAll, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := logaudit.ParseVariableMap(`{` + fixedKeys + tc.extra + `}`)
			if err != nil {
				t.Fatal(err)
			}
			if v.Mode != tc.mode || !slices.Equal(v.Accounts, tc.accounts) {
				t.Fatalf("mode %s accounts %v, want %s %v", v.Mode, v.Accounts, tc.mode, tc.accounts)
			}
		})
	}
}

func TestParseVariableMapErrorsNameTheKey(t *testing.T) {
	cases := []struct{ raw, key, rule string }{
		{`[]`, "", "JSON object"},
		{`{`, "", "end of input"},
		{`{` + fixedKeys + `,"x":null}`, "x", "null"},
		{`{` + fixedKeys + `,"x":{"a":"b"}}`, "x", "an object"},
		{`{` + fixedKeys + `,"k8s_audit_enabled":"TRUE"}`, "k8s_audit_enabled", `"true" or "false"`},
		{`{` + fixedKeys + `,"nas_ttl":"99999999999999999999"}`, "nas_ttl", "1 to 3650"},
		{`{"region":"cn-shanghai","aliuid":"12a","project":"p","logstore":"l"}`, "aliuid", "account id"},
		{`{` + fixedKeys + `,"multi_account":"[{\"id\":\"1\"}]"}`, "multi_account", `"uid"`},
		{`{` + fixedKeys + `,"multi_account":"[{\"uid\":1.5}]"}`, "multi_account", "1.5"},
		{`{` + fixedKeys + `,"multi_account":"[true]"}`, "multi_account", "entry 1"},
		{`{` + fixedKeys + `,"resource_directory":"{\"type\":1}"}`, "resource_directory", `"type"`},
		{`{` + fixedKeys + `,"resource_directory":"{\"type\":\"all\",\"multi_account\":\"x\"}"}`, "resource_directory.multi_account", "JSON array"},
		{`{` + fixedKeys + `,"resource_directory":"null"}`, "resource_directory", "JSON object"},
	}
	for _, tc := range cases {
		_, err := logaudit.ParseVariableMap(tc.raw)
		var fe *logaudit.FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key || !strings.Contains(err.Error(), tc.rule) {
			t.Errorf("%s: err %v, want key %q rule containing %q", tc.raw, err, tc.key, tc.rule)
		}
	}
}

// FuzzParseVariableMap: never panics, and agrees with encoding/json: whatever it accepts is a
// JSON object of strings decoding to the same values, with the mode's members well formed.
func FuzzParseVariableMap(f *testing.F) {
	for _, s := range []string{
		`{` + fixedKeys + `}`,
		`{` + fixedKeys + `,"multi_account":"[{\"uid\":\"111\"}]"}`,
		`{` + fixedKeys + `,"resource_directory":"{\"type\":\"all\",\"multi_account\":[\"1\"]}"}`,
		`{` + fixedKeys + `,"actiontrail_ttl":"180","oss_access_enabled":"true"}`,
		`{` + fixedKeys + `,"region":"x"}`,
		`{"a":1}`, `[`, `{"a":"\ud800"}`, ``, `null`, `{"a":"b"} x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := logaudit.ParseVariableMap(raw)
		if err != nil {
			var fe *logaudit.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			return
		}
		var std map[string]string
		if err := json.Unmarshal([]byte(raw), &std); err != nil {
			t.Fatalf("accepted %q which encoding/json refuses: %v", raw, err)
		}
		if len(std) != len(v.Values) {
			t.Fatalf("values %v, encoding/json %v", v.Values, std)
		}
		for k, s := range std {
			if v.Values[k] != s {
				t.Fatalf("key %q: %q vs %q", k, v.Values[k], s)
			}
		}
		if v.Region == "" || v.AliUID == "" || v.Project == "" || v.Logstore == "" {
			t.Fatalf("accepted without the fixed keys: %+v", v)
		}
		switch v.Mode {
		case logaudit.ModeSingle:
			if len(v.Accounts) != 0 {
				t.Fatalf("single mode with accounts %v", v.Accounts)
			}
		case logaudit.ModeCustomAuth, logaudit.ModeRDAll, logaudit.ModeRDCustom:
		default:
			t.Fatalf("mode %q", v.Mode)
		}
		seen := map[string]bool{}
		for _, u := range v.Accounts {
			if u == "" || strings.Trim(u, "0123456789") != "" || seen[u] {
				t.Fatalf("bad or repeated uid %q in %v", u, v.Accounts)
			}
			seen[u] = true
		}
	})
}
