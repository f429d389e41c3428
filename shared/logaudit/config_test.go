package logaudit_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	lcaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/logaudit"
)

const central = "1234567890123456"

func wrap(vm string) string { return `{"initParam":` + vm + `}` }

func TestParseConfig(t *testing.T) {
	base := `"region":"cn-shanghai","aliuid":"` + central + `","project":"slsaudit-center-` + central + `-cn-shanghai","logstore":"slsaudit"`
	cases := []struct {
		name string
		raw  string
		want logaudit.Config
	}{
		{"single account, switches kept verbatim",
			wrap(`{` + base + `,"actiontrail_enabled":"true","actiontrail_ttl":"180","some_future_key":"x y"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeNone,
				Switches: map[string]string{"actiontrail_enabled": "true", "actiontrail_ttl": "180", "some_future_key": "x y"}}},
		{"resource directory all, type in capitals",
			wrap(`{` + base + `,"resource_directory":"{\"type\":\"All\",\"multi_account\":[]}"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "all",
				Members: []string{}, Switches: map[string]string{}}},
		{"resource directory custom, plain strings as terraform sends, unsorted and repeated",
			wrap(`{` + base + `,"resource_directory":"{\"type\":\"custom\",\"multi_account\":[\"300\",\"100\",\"300\"]}"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "custom",
				Members: []string{"100", "300"}, Switches: map[string]string{}}},
		{"resource directory custom, uid objects and a number",
			wrap(`{` + base + `,"resource_directory":"{\"type\":\"custom\",\"multi_account\":[{\"uid\":\"200\"},{\"uid\":100}]}"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "custom",
				Members: []string{"100", "200"}, Switches: map[string]string{}}},
		{"resource directory as a nested object rather than a string",
			wrap(`{` + base + `,"resource_directory":{"type":"custom","multi_account":["7"]}}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "custom",
				Members: []string{"7"}, Switches: map[string]string{}}},
		{"custom authentication, uid objects",
			wrap(`{` + base + `,"multi_account":"[{\"uid\":\"22\"},{\"uid\":\"11\"}]","oss_sync_enabled":"false"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeCustomAuthentication,
				Members: []string{"11", "22"}, Switches: map[string]string{"oss_sync_enabled": "false"}}},
		{"custom authentication, plain strings",
			wrap(`{` + base + `,"multi_account":"[\"22\",\"11\"]"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeCustomAuthentication,
				Members: []string{"11", "22"}, Switches: map[string]string{}}},
		{"custom authentication with nobody yet",
			wrap(`{` + base + `,"multi_account":"[]"}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeCustomAuthentication,
				Members: []string{}, Switches: map[string]string{}}},
		{"empty resource_directory and multi_account mean no multi-account mode",
			wrap(`{` + base + `,"resource_directory":"","multi_account":" "}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeNone, Switches: map[string]string{}}},
		{"non-string values kept as JSON text, nulls dropped",
			wrap(`{` + base + `,"actiontrail_ttl":180,"actiontrail_enabled":true,"x":null,"y":{"a": [1, 2]}}`),
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeNone,
				Switches: map[string]string{"actiontrail_ttl": "180", "actiontrail_enabled": "true", "y": `{"a":[1,2]}`}}},
		{"initParam encoded as a string",
			`{"initParam":"{\"region\":\"ap-southeast-1\",\"aliuid\":\"5\"}","other":1}`,
			logaudit.Config{Region: "ap-southeast-1", AliUID: "5", Mode: logaudit.ModeNone, Switches: map[string]string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := logaudit.ParseConfig(tc.raw)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseConfig\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, raw, want string }{
		{"not JSON", `{"initParam":`, "must be a JSON object"},
		{"trailing data", `{"initParam":{}} {}`, "must be a JSON object"},
		{"no initParam", `{"x":{}}`, `initParam: is missing`},
		{"initParam an array", `{"initParam":[1]}`, `initParam: must be a JSON object`},
		{"aliuid not digits", wrap(`{"aliuid":"12ab"}`), `initParam.aliuid: "12ab" must be an account id`},
		{"rd not an object", wrap(`{"resource_directory":"[1]"}`), `initParam.resource_directory: must be a JSON object`},
		{"rd without type", wrap(`{"resource_directory":"{\"multi_account\":[]}"}`), `initParam.resource_directory.type: is missing`},
		{"rd with a bad type", wrap(`{"resource_directory":"{\"type\":\"some\"}"}`), `initParam.resource_directory.type: must be "all" or "custom", got "some"`},
		{"rd type not a string", wrap(`{"resource_directory":"{\"type\":1}"}`), `initParam.resource_directory.type: must be the string`},
		{"rd member not a uid", wrap(`{"resource_directory":"{\"type\":\"custom\",\"multi_account\":[\"1\",\"x\"]}"}`),
			`initParam.resource_directory.multi_account[1]: uid "x" must be an account id of 1 to 20 digits`},
		{"rd member too long", wrap(`{"resource_directory":"{\"type\":\"custom\",\"multi_account\":[\"123456789012345678901\"]}"}`),
			`initParam.resource_directory.multi_account[0]: uid "123456789012345678901"`},
		{"ca list not a list", wrap(`{"multi_account":"{}"}`), `initParam.multi_account: must be a JSON array`},
		{"ca entry without uid", wrap(`{"multi_account":"[{\"id\":\"1\"}]"}`), `initParam.multi_account[0]: needs a "uid" field`},
		{"ca entry a boolean", wrap(`{"multi_account":"[true]"}`), `initParam.multi_account[0]: must be an account id string`},
		{"ca negative number", wrap(`{"multi_account":"[-1]"}`), `initParam.multi_account[0]: must be an account id string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := logaudit.ParseConfig(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseConfig(%s) = %v, want an error containing %q", tc.raw, err, tc.want)
			}
			var ce *logaudit.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %T", err)
			}
		})
	}
}

func TestVariableMap(t *testing.T) {
	sw := map[string]string{"actiontrail_enabled": "true", "unknown_key": "kept", "region": "ignored-reserved"}
	cases := []struct {
		name string
		cfg  logaudit.Config
		want map[string]string
	}{
		{"none", logaudit.Config{Region: "cn-shanghai", AliUID: central, Switches: sw},
			map[string]string{"region": "cn-shanghai", "aliuid": central, "project": "slsaudit-center-" + central + "-cn-shanghai",
				"logstore": "slsaudit", "actiontrail_enabled": "true", "unknown_key": "kept"}},
		{"resource directory custom: plain strings, sorted, unique",
			logaudit.Config{Region: "ap-southeast-1", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "custom",
				Members: []string{"30", "10", "30"}},
			map[string]string{"region": "ap-southeast-1", "aliuid": central, "project": "slsaudit-center-" + central + "-ap-southeast-1",
				"logstore": "slsaudit", "resource_directory": `{"type":"custom","multi_account":["10","30"]}`}},
		{"resource directory all: an empty list, never null",
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "all"},
			map[string]string{"region": "cn-shanghai", "aliuid": central, "project": "slsaudit-center-" + central + "-cn-shanghai",
				"logstore": "slsaudit", "resource_directory": `{"type":"all","multi_account":[]}`}},
		{"custom authentication: uid objects",
			logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeCustomAuthentication, Members: []string{"9", "8"}},
			map[string]string{"region": "cn-shanghai", "aliuid": central, "project": "slsaudit-center-" + central + "-cn-shanghai",
				"logstore": "slsaudit", "multi_account": `[{"uid":"8"},{"uid":"9"}]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := logaudit.VariableMap(tc.cfg)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("VariableMap\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestVariableMapReadByLocalcloud checks the encoding against the emulator's own reader: the
// mode and members localcloud sees are the ones Config says.
func TestVariableMapReadByLocalcloud(t *testing.T) {
	cases := []struct {
		cfg      logaudit.Config
		mode     string
		accounts []string
	}{
		{logaudit.Config{Mode: logaudit.ModeNone}, lcaudit.ModeSingle, nil},
		{logaudit.Config{Mode: logaudit.ModeResourceDirectory, RDType: "all"}, lcaudit.ModeRDAll, nil},
		{logaudit.Config{Mode: logaudit.ModeResourceDirectory, RDType: "custom", Members: []string{"2", "1"}}, lcaudit.ModeRDCustom, []string{"1", "2"}},
		{logaudit.Config{Mode: logaudit.ModeCustomAuthentication, Members: []string{"5", "4"}}, lcaudit.ModeCustomAuth, []string{"4", "5"}},
	}
	for _, tc := range cases {
		tc.cfg.Region, tc.cfg.AliUID = "cn-shanghai", central
		tc.cfg.Switches = map[string]string{"actiontrail_enabled": "true", "actiontrail_ttl": "365"}
		raw, err := json.Marshal(logaudit.VariableMap(tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		v, err := lcaudit.ParseVariableMap(string(raw))
		if err != nil {
			t.Fatalf("localcloud refuses %s: %v", raw, err)
		}
		if v.Mode != tc.mode || !slices.Equal(v.Accounts, tc.accounts) {
			t.Errorf("%s: localcloud reads mode %s accounts %v, want %s %v", raw, v.Mode, v.Accounts, tc.mode, tc.accounts)
		}
		if v.Project != lcaudit.CentralProject(central, "cn-shanghai") || v.Logstore != lcaudit.CentralLogstore {
			t.Errorf("project/logstore %s/%s", v.Project, v.Logstore)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := logaudit.Config{Region: "cn-shanghai", AliUID: central, Mode: logaudit.ModeResourceDirectory, RDType: "custom", Members: []string{"1"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	cases := []struct {
		name string
		edit func(*logaudit.Config)
		want string
	}{
		{"region", func(c *logaudit.Config) { c.Region = "Shanghai" }, `Region "Shanghai"`},
		{"aliuid", func(c *logaudit.Config) { c.AliUID = "" }, `AliUID ""`},
		{"mode", func(c *logaudit.Config) { c.Mode = "rd" }, `Mode "rd"`},
		{"rd type", func(c *logaudit.Config) { c.RDType = "" }, `RDType ""`},
		{"rd type outside rd", func(c *logaudit.Config) { c.Mode = logaudit.ModeCustomAuthentication }, `RDType "custom" is only for resource directory mode`},
		{"members in mode none", func(c *logaudit.Config) { c.Mode, c.RDType = logaudit.ModeNone, "" }, `Members must be empty`},
		{"member", func(c *logaudit.Config) { c.Members = []string{"1", "x1"} }, `Members[1] "x1"`},
		{"reserved switch", func(c *logaudit.Config) { c.Switches = map[string]string{"project": "p"} }, `Switches key "project" is reserved`},
		{"empty switch key", func(c *logaudit.Config) { c.Switches = map[string]string{"": "p"} }, `empty key`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Members = slices.Clone(ok.Members)
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseManualMembers(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{"123", []string{"123"}, ""},
		{"3\n1\r\n2", []string{"1", "2", "3"}, ""},
		{"1,2 3|4\t5", []string{"1", "2", "3", "4", "5"}, ""},
		{" ,, 7 || 7\n", []string{"7"}, ""},
		{"12345678901234567890", []string{"12345678901234567890"}, ""},
		{"", nil, "none given"},
		{" , | \n", nil, "none given"},
		{"1,abc,2", nil, `entry 2 "abc" must be an account id of 1 to 20 digits`},
		{"123456789012345678901", nil, `entry 1 "123456789012345678901"`},
		{"1;2", nil, `entry 1 "1;2"`},
		{"１２", nil, `entry 1`}, // full-width digits are not account ids
	}
	for _, tc := range cases {
		got, err := logaudit.ParseManualMembers(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseManualMembers(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseManualMembers(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestRoleNamesMatchLocalcloud(t *testing.T) {
	if logaudit.MemberRole != lcaudit.MemberRole || logaudit.MemberPolicy != lcaudit.MemberPolicy ||
		logaudit.MemberReadOnlyPolicy != lcaudit.MemberReadOnlyPolicy || logaudit.MemberTrustService(central) != lcaudit.MemberTrustService(central) {
		t.Fatal("role, policy or trust names differ from localcloud's Log Audit")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		wrap(`{"region":"cn-shanghai","aliuid":"1","resource_directory":"{\"type\":\"custom\",\"multi_account\":[\"2\",{\"uid\":3}]}"}`),
		wrap(`{"region":"cn-shanghai","aliuid":"1","multi_account":"[{\"uid\":\"2\"}]","x_enabled":"true"}`),
		wrap(`{"a":null,"b":1.5,"c":[{}],"resource_directory":{"type":"all"}}`),
		`{"initParam":"{}"}`, `[]`, `null`, `{"initParam":null}`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := logaudit.ParseConfig(raw)
		if err != nil {
			return
		}
		if !slices.IsSorted(cfg.Members) || len(slices.Compact(slices.Clone(cfg.Members))) != len(cfg.Members) {
			t.Fatalf("members not sorted and unique: %v", cfg.Members)
		}
		for k := range cfg.Switches {
			if logaudit.IsReservedKey(k) {
				t.Fatalf("reserved key %q among switches", k)
			}
		}
		// What Write would send must read back as the same Config.
		vm, err := json.Marshal(logaudit.VariableMap(cfg))
		if err != nil {
			t.Fatal(err)
		}
		again, err := logaudit.ParseConfig(wrap(string(vm)))
		if err != nil {
			t.Fatalf("re-reading %s: %v", vm, err)
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("round trip changed the config\n got %#v\nwant %#v", again, cfg)
		}
	})
}

func FuzzParseManualMembers(f *testing.F) {
	for _, s := range []string{"1,2|3 4\n5", "", "x", "1;2", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := logaudit.ParseManualMembers(s)
		if err != nil {
			if got != nil {
				t.Fatal("members returned with an error")
			}
			if len(err.Error()) > 300 { // bounded whatever the input: the token is cut to 40 bytes
				t.Fatalf("error too long to show a user: %d bytes", len(err.Error()))
			}
			return
		}
		if len(got) == 0 || !slices.IsSorted(got) {
			t.Fatalf("got %v", got)
		}
		for _, id := range got {
			if len(id) == 0 || len(id) > 20 || strings.Trim(id, "0123456789") != "" || !strings.Contains(s, id) {
				t.Fatalf("bad id %q from %q", id, s)
			}
		}
	})
}
