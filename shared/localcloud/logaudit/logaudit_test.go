package logaudit_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sls"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
)

const region = "cn-shanghai"

// fakeSLS records the central projects Log Audit asks for.
type fakeSLS struct {
	mu       sync.Mutex
	projects map[string][2]string // project -> owner, region
}

func (f *fakeSLS) ProjectOwner(p string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.projects[p]
	return v[0], ok
}
func (f *fakeSLS) EnsureServiceLogstore(string, string, int) error                      { return nil }
func (f *fakeSLS) ServiceWrite(string, string, string, string, []core.ServiceLog) error { return nil }
func (f *fakeSLS) CreateServiceProject(owner, project, region string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.projects[project] = [2]string{owner, region}
	return nil
}

type fixture struct {
	w     *core.World
	clock *core.ManualClock
	srv   *httptest.Server
	sls   *fakeSLS
	mgmt  string
	// m1, m2 are plain members, admin is a member registered as Log Audit's delegated administrator,
	// outsider is an account outside the directory (custom authentication material).
	m1, m2, admin, outsider string
	keys                    map[string]*core.AccessKey
	mu                      sync.Mutex
	paths                   []string
}

func newFixture(t *testing.T, opts logaudit.Options) *fixture {
	t.Helper()
	f := &fixture{clock: core.NewManualClock(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)), sls: &fakeSLS{projects: map[string][2]string{}}, keys: map[string]*core.AccessKey{}}
	f.w = core.NewWorld("cn-hangzhou", f.clock)
	f.w.SLS = f.sls
	f.w.Mu.Lock()
	f.mgmt = core.NewAccountID()
	f.w.EnableDirectoryLocked(f.mgmt, "mgmt")
	for _, id := range []*string{&f.m1, &f.m2, &f.admin} {
		f.clock.Advance(time.Minute)
		*id = core.NewAccountID()
		a := f.w.AddAccountLocked(*id, "member-"+(*id)[len(*id)-4:], "ResourceAccount")
		f.w.JoinDirectoryLocked(a, f.w.Directory.RootFolderID, "CreateSuccess", "created")
	}
	f.outsider = core.NewAccountID()
	f.w.AddAccountLocked(f.outsider, "outsider", "CloudAccount")
	f.w.DelegatedAdmins[logaudit.ServicePrincipal] = map[string]time.Time{f.admin: f.w.Now()}
	for _, id := range []string{f.mgmt, f.m1, f.m2, f.admin, f.outsider} {
		f.keys[id] = f.w.NewAccessKeyLocked(id, "")
	}
	f.w.Mu.Unlock()
	rpc := core.NewRPCServer(f.w)
	rpc.Register(logaudit.Service(opts))
	f.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.Path)
		f.mu.Unlock()
		rpc.ServeHTTP(rw, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) client(t *testing.T, account string) *sls.Client {
	t.Helper()
	k := f.keys[account]
	c, err := sls.NewClientWithAccessKey(region, k.ID, k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	// terraform sets Domain to "<region>.log.aliyuncs.com/open-api"; the path must survive.
	c.Domain = strings.TrimPrefix(f.srv.URL, "http://") + "/open-api"
	return c
}

// vm builds a VariableMap as terraform does: the four fixed keys plus extra, marshalled sorted.
func vm(central string, extra map[string]string) string {
	m := map[string]string{
		"region": region, "aliuid": central, "project": "slsaudit-center-" + central + "-" + region,
		"logstore": "slsaudit", "actiontrail_enabled": "true", "actiontrail_ttl": "180",
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func rdVar(typ string, uids ...string) map[string]string {
	if uids == nil {
		uids = []string{}
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "multi_account": uids})
	return map[string]string{"resource_directory": string(b)}
}

func customVar(uids ...string) map[string]string {
	list := make([]map[string]string, len(uids))
	for i, u := range uids {
		list[i] = map[string]string{"uid": u}
	}
	b, _ := json.Marshal(list)
	return map[string]string{"multi_account": string(b)}
}

func (f *fixture) analyze(t *testing.T, account, variableMap string) (*sls.AnalyzeAppLogResponse, error) {
	t.Helper()
	req := sls.CreateAnalyzeAppLogRequest()
	req.AppType, req.DisplayName, req.VariableMap = "audit", "tf-audit", variableMap
	return f.client(t, account).AnalyzeAppLog(req)
}

func (f *fixture) mustAnalyze(t *testing.T, account, variableMap string) {
	t.Helper()
	resp, err := f.analyze(t, account, variableMap)
	if err != nil {
		t.Fatalf("AnalyzeAppLog as %s: %v", account, err)
	}
	if resp.Success != "true" || resp.RequestId == "" {
		t.Fatalf("AnalyzeAppLog answered %+v", resp)
	}
}

func (f *fixture) describe(t *testing.T, account, app string) (*sls.DescribeAppResponse, error) {
	t.Helper()
	req := sls.CreateDescribeAppRequest()
	req.AppName = app
	return f.client(t, account).DescribeApp(req)
}

func serverErr(t *testing.T, err error) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want a server error, got %v", err)
	}
	return se
}

func TestConfigureEachModeAndDescribeRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		central  func(f *fixture) string
		extra    func(f *fixture) map[string]string
		wantMode string
		members  func(f *fixture) []string
	}{
		{"resource directory all by management", func(f *fixture) string { return f.mgmt },
			func(f *fixture) map[string]string { return rdVar("all") }, logaudit.ModeRDAll,
			func(f *fixture) []string { return []string{f.m1, f.m2, f.admin} }},
		{"resource directory custom by management", func(f *fixture) string { return f.mgmt },
			func(f *fixture) map[string]string { return rdVar("custom", f.m2) }, logaudit.ModeRDCustom,
			func(f *fixture) []string { return []string{f.m2} }},
		{"resource directory all by delegated administrator", func(f *fixture) string { return f.admin },
			func(f *fixture) map[string]string { return rdVar("All") }, logaudit.ModeRDAll,
			func(f *fixture) []string { return []string{f.mgmt, f.m1, f.m2} }},
		{"custom authentication", func(f *fixture) string { return f.mgmt },
			func(f *fixture) map[string]string {
				logaudit.GrantMemberRoles(f.w, f.mgmt, f.outsider)
				return customVar(f.outsider)
			}, logaudit.ModeCustomAuth,
			func(f *fixture) []string { return []string{f.outsider} }},
		{"single account", func(f *fixture) string { return f.m1 },
			func(f *fixture) map[string]string { return nil }, logaudit.ModeSingle,
			func(f *fixture) []string { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, logaudit.Options{})
			central := tc.central(f)
			raw := vm(central, tc.extra(f))
			f.mustAnalyze(t, central, raw)

			resp, err := f.describe(t, central, "audit")
			if err != nil {
				t.Fatal(err)
			}
			m := resp.AppModel
			if m.AppName != "audit" || m.DisplayName != "tf-audit" || formatUID(m.Uid) != central {
				t.Fatalf("AppModel = %+v", m)
			}
			if want := `{"initParam":` + raw + `}`; m.Config != want {
				t.Fatalf("Config = %s\nwant     %s", m.Config, want)
			}
			// The body has Uid as a JSON number, as the SDK's int64 field expects.
			if !strings.Contains(resp.GetHttpContentString(), `"Uid":`+central) {
				t.Fatalf("body = %s", resp.GetHttpContentString())
			}
			mode, got := logaudit.Members(f.w, central)
			if mode != tc.wantMode || !slices.Equal(got, tc.members(f)) {
				t.Fatalf("Members = %s %v, want %s %v", mode, got, tc.wantMode, tc.members(f))
			}
			cfg, found := logaudit.Config(f.w, central)
			if !found || cfg.Version != 1 || cfg.Project != "slsaudit-center-"+central+"-"+region || cfg.VariableMap != raw {
				t.Fatalf("Config = %+v", cfg)
			}
			if owner, ok := f.sls.ProjectOwner(cfg.Project); !ok || owner != central {
				t.Fatalf("central project %s owner %q created %v", cfg.Project, owner, ok)
			}
			f.w.Mu.RLock()
			slr := f.w.ServiceLinkedRoles[central][logaudit.ServicePrincipal]
			f.w.Mu.RUnlock()
			if !slr {
				t.Fatalf("service-linked role %s not created in %s", logaudit.ServiceLinkedRole, central)
			}
		})
	}
}

func formatUID(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestVariableMapIsKeptByteForByte(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	// Odd spacing, unusual key order, escapes and unknown keys: DescribeApp must give them back as sent.
	raw := "{ \"logstore\":\"slsaudit\" ,\"project\":\"slsaudit-center-" + f.mgmt + "-cn-shanghai\",\n" +
		"\"region\":\"cn-shanghai\",\"aliuid\":\"" + f.mgmt + "\",\"rds_audit_collection_policy\":\"\\u003cx\\u003e\"," +
		"\"future_switch\":\"é\",\"oss_access_ttl\":\"7\" }"
	f.mustAnalyze(t, f.mgmt, raw)
	resp, err := f.describe(t, f.mgmt, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"initParam":` + raw + `}`; resp.AppModel.Config != want {
		t.Fatalf("Config = %q\nwant     %q", resp.AppModel.Config, want)
	}
	// terraform's reader: Config -> initParam map of strings.
	var doc struct{ InitParam map[string]string }
	if err := json.Unmarshal([]byte(resp.AppModel.Config), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.InitParam["future_switch"] != "é" || doc.InitParam["rds_audit_collection_policy"] != "<x>" {
		t.Fatalf("initParam = %v", doc.InitParam)
	}
}

func TestRequestsUseTheOpenAPIPath(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, nil))
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.paths) != 1 || f.paths[0] != "/open-api/" {
		t.Fatalf("paths = %q", f.paths)
	}
}

func TestAnalyzeAppLogRefusals(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	f.w.Mu.Lock()
	// A role with the right name that trusts the wrong principal, as a hand-made role might.
	f.w.EnsureRoleLocked(f.m2, logaudit.MemberRole, core.TrustPolicyForServices("log.aliyuncs.com"), logaudit.MemberPolicy)
	f.w.Mu.Unlock()
	mgmtProject := "slsaudit-center-" + f.mgmt + "-" + region
	fixed := func(region, project, logstore string) string {
		return `{"region":"` + region + `","aliuid":"` + f.mgmt + `","project":"` + project + `","logstore":"` + logstore + `"`
	}
	base := fixed(region, mgmtProject, "slsaudit")
	cases := []struct {
		name    string
		caller  string
		appType string
		display string
		raw     string
		status  int
		code    string
		msg     []string
	}{
		{"wrong central region", f.mgmt, "audit", "d", strings.Replace(vm(f.mgmt, nil), region, "us-west-1", -1), 400, "ParameterInvalid", []string{`"region"`, "us-west-1", "cn-shanghai"}},
		{"aliuid of another account", f.m1, "audit", "d", vm(f.mgmt, nil), 400, "ParameterInvalid", []string{`"aliuid"`, f.m1}},
		{"wrong project", f.mgmt, "audit", "d", fixed(region, "slsaudit-center-x", "slsaudit") + "}", 400, "ParameterInvalid", []string{`"project"`, mgmtProject}},
		{"wrong logstore", f.mgmt, "audit", "d", fixed(region, mgmtProject, "audit") + "}", 400, "ParameterInvalid", []string{`"logstore"`}},
		{"missing region", f.mgmt, "audit", "d", `{"aliuid":"` + f.mgmt + `"}`, 400, "ParameterInvalid", []string{`"region"`, "required"}},
		{"number value", f.mgmt, "audit", "d", base + `,"actiontrail_ttl":180}`, 400, "ParameterInvalid", []string{`"actiontrail_ttl"`, "must be a string", "number"}},
		{"boolean value", f.mgmt, "audit", "d", base + `,"oss_access_enabled":true}`, 400, "ParameterInvalid", []string{`"oss_access_enabled"`, "boolean"}},
		{"array value", f.mgmt, "audit", "d", base + `,"multi_account":[{"uid":"1"}]}`, 400, "ParameterInvalid", []string{`"multi_account"`, "an array"}},
		{"switch not a boolean word", f.mgmt, "audit", "d", base + `,"waf_enabled":"yes"}`, 400, "ParameterInvalid", []string{`"waf_enabled"`, `"true" or "false"`}},
		{"ttl zero", f.mgmt, "audit", "d", base + `,"actiontrail_ttl":"0"}`, 400, "ParameterInvalid", []string{`"actiontrail_ttl"`, "1 to 3650"}},
		{"ttl too long", f.mgmt, "audit", "d", base + `,"sas_ttl":"3651"}`, 400, "ParameterInvalid", []string{`"sas_ttl"`}},
		{"ttl not a number", f.mgmt, "audit", "d", base + `,"oss_sync_ttl":"+7"}`, 400, "ParameterInvalid", []string{`"oss_sync_ttl"`}},
		{"duplicate key", f.mgmt, "audit", "d", base + `,"region":"cn-shanghai"}`, 400, "ParameterInvalid", []string{`"region"`, "more than once"}},
		{"not JSON", f.mgmt, "audit", "d", `region=cn-shanghai`, 400, "ParameterInvalid", []string{"JSON object"}},
		{"trailing data", f.mgmt, "audit", "d", base + `} {}`, 400, "ParameterInvalid", []string{"nothing after"}},
		{"multi_account not a list", f.mgmt, "audit", "d", base + `,"multi_account":"123"}`, 400, "ParameterInvalid", []string{`"multi_account"`, "JSON array"}},
		{"multi_account uid not an id", f.mgmt, "audit", "d", base + `,"multi_account":"[{\"uid\":\"abc\"}]"}`, 400, "ParameterInvalid", []string{`"multi_account"`, "entry 1", "abc"}},
		{"resource_directory bad type", f.mgmt, "audit", "d", base + `,"resource_directory":"{\"type\":\"some\"}"}`, 400, "ParameterInvalid", []string{`"resource_directory"`, `"some"`}},
		{"resource_directory not an object", f.mgmt, "audit", "d", base + `,"resource_directory":"all"}`, 400, "ParameterInvalid", []string{`"resource_directory"`}},
		{"both membership modes", f.mgmt, "audit", "d", vm(f.mgmt, map[string]string{"multi_account": `[{"uid":"` + f.m1 + `"}]`, "resource_directory": `{"type":"all"}`}), 400, "ParameterInvalid", []string{"cannot be combined"}},
		{"RD custom names a non-member", f.mgmt, "audit", "d", vm(f.mgmt, rdVar("custom", f.m1, f.outsider)), 400, "ParameterInvalid", []string{f.outsider, "not a member"}},
		{"custom authentication member without roles", f.mgmt, "audit", "d", vm(f.mgmt, customVar(f.outsider)), 400, "ParameterInvalid", []string{f.outsider, "has no RAM role sls-audit-service-monitor"}},
		{"custom authentication role trusting the wrong principal", f.mgmt, "audit", "d", vm(f.mgmt, customVar(f.m2)), 400, "ParameterInvalid", []string{f.m2, f.mgmt + "@log.aliyuncs.com"}},
		{"member may not use resource directory mode", f.m1, "audit", "d", vm(f.m1, rdVar("all")), 403, "Unauthorized", []string{f.m1, "delegated administrator"}},
		{"outsider may not use resource directory mode", f.outsider, "audit", "d", vm(f.outsider, rdVar("custom", f.m1)), 403, "Unauthorized", []string{f.outsider}},
		{"wrong AppType", f.mgmt, "other", "d", vm(f.mgmt, nil), 400, "ParameterInvalid", []string{"AppType"}},
		{"missing DisplayName", f.mgmt, "audit", "", vm(f.mgmt, nil), 400, "ParameterInvalid", []string{"DisplayName"}},
		{"missing VariableMap", f.mgmt, "audit", "d", "", 400, "ParameterInvalid", []string{"VariableMap"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := sls.CreateAnalyzeAppLogRequest()
			req.AppType, req.DisplayName, req.VariableMap = tc.appType, tc.display, tc.raw
			_, err := f.client(t, tc.caller).AnalyzeAppLog(req)
			se := serverErr(t, err)
			if se.HttpStatus() != tc.status || se.ErrorCode() != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", se.HttpStatus(), se.ErrorCode(), se.Message(), tc.status, tc.code)
			}
			for _, m := range tc.msg {
				if !strings.Contains(se.Message(), m) {
					t.Fatalf("message %q lacks %q", se.Message(), m)
				}
			}
			if _, found := logaudit.Config(f.w, tc.caller); found {
				t.Fatalf("a refused call stored a configuration")
			}
		})
	}
	if len(f.sls.projects) != 0 {
		t.Fatalf("refused calls created projects: %v", f.sls.projects)
	}
}

func TestCentralRegionsOption(t *testing.T) {
	f := newFixture(t, logaudit.Options{CentralRegions: []string{"ap-southeast-1"}})
	_, err := f.analyze(t, f.mgmt, vm(f.mgmt, nil))
	if se := serverErr(t, err); se.ErrorCode() != "ParameterInvalid" || !strings.Contains(se.Message(), "ap-southeast-1") {
		t.Fatalf("cn-shanghai with only ap-southeast-1 allowed: %v", err)
	}
}

func TestAcceptUnauthorizedMembersOption(t *testing.T) {
	f := newFixture(t, logaudit.Options{AcceptUnauthorizedMembers: true})
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, customVar("1234567", f.outsider)))
	if _, got := logaudit.Members(f.w, f.mgmt); !slices.Equal(got, []string{"1234567", f.outsider}) {
		t.Fatalf("members = %v", got)
	}
}

func TestModeRules(t *testing.T) {
	type step struct {
		caller func(f *fixture) string
		vars   func(f *fixture) map[string]string
		delete bool
		code   string // "" = success
		mode   string // mode after a successful step
	}
	mgmt := func(f *fixture) string { return f.mgmt }
	custom := func(f *fixture) map[string]string { return customVar(f.outsider) }
	rdAll := func(f *fixture) map[string]string { return rdVar("all") }
	rdCleared := func(f *fixture) map[string]string { return rdVar("custom") }
	none := func(f *fixture) map[string]string { return nil }
	cases := []struct {
		name  string
		steps []step
	}{
		{"resource directory overwrites custom authentication", []step{
			{mgmt, custom, false, "", logaudit.ModeCustomAuth},
			{mgmt, rdAll, false, "", logaudit.ModeRDAll},
		}},
		{"resource directory to custom authentication needs a clear", []step{
			{mgmt, rdAll, false, "", logaudit.ModeRDAll},
			{mgmt, custom, false, "OperationDenied", logaudit.ModeRDAll},
			{mgmt, rdCleared, false, "", logaudit.ModeRDCustom},
			{mgmt, custom, false, "", logaudit.ModeCustomAuth},
		}},
		{"RD custom with members also blocks custom authentication", []step{
			{mgmt, func(f *fixture) map[string]string { return rdVar("custom", f.m1) }, false, "", logaudit.ModeRDCustom},
			{mgmt, custom, false, "OperationDenied", logaudit.ModeRDCustom},
		}},
		{"removing resource_directory clears", []step{
			{mgmt, rdAll, false, "", logaudit.ModeRDAll},
			{mgmt, none, false, "", logaudit.ModeSingle},
			{mgmt, custom, false, "", logaudit.ModeCustomAuth},
		}},
		{"DeleteApp clears", []step{
			{mgmt, rdAll, false, "", logaudit.ModeRDAll},
			{mgmt, nil, true, "", ""},
			{mgmt, custom, false, "", logaudit.ModeCustomAuth},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, logaudit.Options{})
			logaudit.GrantMemberRoles(f.w, f.mgmt, f.outsider)
			var version int64
			for i, s := range tc.steps {
				central := s.caller(f)
				var err error
				if s.delete {
					req := sls.CreateDeleteAppRequest()
					req.AppName = "audit"
					_, err = f.client(t, central).DeleteApp(req)
				} else {
					_, err = f.analyze(t, central, vm(central, s.vars(f)))
				}
				if s.code == "" && err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if s.code != "" {
					if se := serverErr(t, err); se.ErrorCode() != s.code || se.HttpStatus() != 409 || !strings.Contains(se.Message(), "Clear") {
						t.Fatalf("step %d: got %d %s %q", i, se.HttpStatus(), se.ErrorCode(), se.Message())
					}
				} else {
					version++
				}
				mode, _ := logaudit.Members(f.w, central)
				cfg, _ := logaudit.Config(f.w, central)
				if mode != s.mode || (!s.delete && cfg.Version != version) {
					t.Fatalf("step %d: mode %q version %d, want %q %d", i, mode, cfg.Version, s.mode, version)
				}
			}
		})
	}
}

func TestChangingDelegatedAdministratorNeedsItsConfigurationRemoved(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	oldAdmin, newAdmin := f.admin, f.m2
	f.mustAnalyze(t, oldAdmin, vm(oldAdmin, rdVar("all")))
	// The administrator changes in Resource Manager while the old one still collects everyone.
	f.w.Mu.Lock()
	f.w.DelegatedAdmins[logaudit.ServicePrincipal] = map[string]time.Time{newAdmin: f.w.Now()}
	f.w.Mu.Unlock()
	if mode, got := logaudit.Members(f.w, oldAdmin); mode != logaudit.ModeRDAll || got != nil {
		t.Fatalf("a former administrator still reads the directory: %s %v", mode, got)
	}
	for _, caller := range []string{newAdmin, f.mgmt} {
		_, err := f.analyze(t, caller, vm(caller, rdVar("custom", f.m1)))
		se := serverErr(t, err)
		if se.HttpStatus() != 409 || se.ErrorCode() != "OperationDenied" || !strings.Contains(se.Message(), oldAdmin) {
			t.Fatalf("%s configuring RD while %s has members: %d %s %q", caller, oldAdmin, se.HttpStatus(), se.ErrorCode(), se.Message())
		}
	}
	// The former administrator can no longer use resource directory mode, but can clear by dropping it.
	_, err := f.analyze(t, oldAdmin, vm(oldAdmin, rdVar("custom")))
	if se := serverErr(t, err); se.ErrorCode() != "Unauthorized" {
		t.Fatalf("former admin writing RD: %v", err)
	}
	f.mustAnalyze(t, oldAdmin, vm(oldAdmin, nil))
	f.mustAnalyze(t, newAdmin, vm(newAdmin, rdVar("custom", f.m1)))
	if mode, got := logaudit.Members(f.w, newAdmin); mode != logaudit.ModeRDCustom || !slices.Equal(got, []string{f.m1}) {
		t.Fatalf("new admin members = %s %v", mode, got)
	}
}

func TestClearedConfigurationLetsAnotherAdministratorIn(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	f.mustAnalyze(t, f.admin, vm(f.admin, rdVar("custom", f.m1)))
	if _, err := f.analyze(t, f.mgmt, vm(f.mgmt, rdVar("all"))); serverErr(t, err).ErrorCode() != "OperationDenied" {
		t.Fatalf("management while the admin has members: %v", err)
	}
	f.mustAnalyze(t, f.admin, vm(f.admin, rdVar("custom"))) // the seed's clear: Custom, no accounts
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, rdVar("all")))
}

func TestMembersFollowTheDirectory(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, rdVar("all")))
	other := newFixture(t, logaudit.Options{}) // a second world keeps its own state
	other.mustAnalyze(t, other.admin, vm(other.admin, rdVar("custom", other.m1, other.m2)))

	f.w.Mu.Lock()
	f.clock.Advance(time.Hour)
	newcomer := core.NewAccountID()
	f.w.JoinDirectoryLocked(f.w.AddAccountLocked(newcomer, "newcomer", "ResourceAccount"), f.w.Directory.RootFolderID, "CreateSuccess", "created")
	f.w.Accounts[f.m1].InDirectory = false // removed from the directory
	f.w.Mu.Unlock()
	if mode, got := logaudit.Members(f.w, f.mgmt); mode != logaudit.ModeRDAll || !slices.Equal(got, []string{f.m2, f.admin, newcomer}) {
		t.Fatalf("All members = %s %v", mode, got)
	}
	if cfg, _ := logaudit.Config(f.w, f.mgmt); cfg.Version != 1 {
		t.Fatalf("membership changes must not write the configuration: version %d", cfg.Version)
	}

	other.w.Mu.Lock()
	other.w.Accounts[other.m2].InDirectory = false
	other.w.Mu.Unlock()
	if mode, got := logaudit.Members(other.w, other.admin); mode != logaudit.ModeRDCustom || !slices.Equal(got, []string{other.m1}) {
		t.Fatalf("Custom members = %s %v", mode, got)
	}
	if mode, got := logaudit.Members(f.w, f.m1); mode != "" || got != nil {
		t.Fatalf("unconfigured account: %q %v", mode, got)
	}
}

func TestDescribeAndDeleteNotFound(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	for _, app := range []string{"audit", "other"} {
		_, err := f.describe(t, f.mgmt, app)
		if se := serverErr(t, err); se.HttpStatus() != 404 || se.ErrorCode() != "AppNotExist" {
			t.Fatalf("DescribeApp %s: %d %s", app, se.HttpStatus(), se.ErrorCode())
		}
	}
	req := sls.CreateDeleteAppRequest()
	req.AppName = "audit"
	if _, err := f.client(t, f.mgmt).DeleteApp(req); serverErr(t, err).ErrorCode() != "AppNotExist" {
		t.Fatalf("DeleteApp of nothing: %v", err)
	}
	// Another account's configuration is not visible.
	f.mustAnalyze(t, f.m1, vm(f.m1, nil))
	if _, err := f.describe(t, f.mgmt, "audit"); serverErr(t, err).ErrorCode() != "AppNotExist" {
		t.Fatalf("DescribeApp saw another account's app: %v", err)
	}
}

// The configuration is one document without compare-and-swap: two read-modify-write cycles that
// overlap lose the first writer's member. This pins that the emulator is as unforgiving as the API.
func TestConcurrentReadModifyWriteLosesAMember(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, rdVar("custom", f.m1)))
	read := func() []string { c, _ := logaudit.Config(f.w, f.mgmt); return c.Accounts }
	a, b := read(), read()
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, rdVar("custom", append(a, f.m2)...)))
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, rdVar("custom", append(b, f.admin)...)))
	if _, got := logaudit.Members(f.w, f.mgmt); !slices.Equal(got, []string{f.m1, f.admin}) {
		t.Fatalf("members = %v (the last write wins; %s is lost)", got, f.m2)
	}
	if cfg, _ := logaudit.Config(f.w, f.mgmt); cfg.Version != 3 {
		t.Fatalf("version = %d", cfg.Version)
	}
}

func TestWritesAreRecordedByActionTrail(t *testing.T) {
	f := newFixture(t, logaudit.Options{})
	f.mustAnalyze(t, f.mgmt, vm(f.mgmt, nil))
	evs := f.w.Recorder.Window(f.mgmt, time.Time{}, f.clock.Now().Add(time.Hour))
	if len(evs) != 1 || evs[0].EventName != "AnalyzeAppLog" || evs[0].EventSource != "log.aliyuncs.com" || evs[0].EventRW != "Write" {
		t.Fatalf("records = %+v", evs)
	}
}
