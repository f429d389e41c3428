package logaudit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	slsrpc "github.com/aliyun/alibaba-cloud-sdk-go/services/sls"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lcaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/logaudit"
)

var fastRetry = cloud.RetryPolicy{MaxAttempts: 20, Base: time.Millisecond, Cap: 4 * time.Millisecond}

// syncBuffer collects log lines from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	srv    *localcloud.Server
	info   cloud.LocalcloudInfo
	s      *cloud.Session
	c      *logaudit.Client
	logs   *syncBuffer
	mgmt   string
	region string
}

func start(t *testing.T, opts localcloud.Options) *fixture {
	t.Helper()
	opts.NoTLS = true
	srv, err := localcloud.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	info := srv.CloudInfo()
	logs := &syncBuffer{}
	s, err := info.Session(cloud.WithRetryPolicy(fastRetry), cloud.WithLogger(zerolog.New(logs).Level(zerolog.DebugLevel)),
		cloud.WithLimits(map[string]cloud.Limit{"logaudit": {}, "ram": {}, "sts": {}}))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, info: info, s: s, c: logaudit.New(s, info.Region), logs: logs, mgmt: info.ManagementAccountID, region: info.Region}
}

func (f *fixture) members() []string {
	var out []string
	for _, m := range f.srv.Seeded.Members {
		out = append(out, m.AccountID)
	}
	sort := slices.Clone(out)
	slices.Sort(sort)
	return sort
}

func (f *fixture) calls(product, action string) int64 {
	n, _, _ := f.srv.World.Stats.Sum(product, action)
	return n
}

// rawWrite configures Log Audit with the SDK directly, as terraform or the console would.
func (f *fixture) rawWrite(t *testing.T, vm map[string]string) {
	t.Helper()
	cl, err := f.s.LogAudit()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(vm)
	req := slsrpc.CreateAnalyzeAppLogRequest()
	req.AppType, req.DisplayName, req.VariableMap = "audit", "terraform", string(b)
	if _, err := cl.AnalyzeAppLog(req); err != nil {
		t.Fatalf("AnalyzeAppLog %s: %v", b, err)
	}
}

func (f *fixture) baseVM() map[string]string {
	return map[string]string{"region": f.region, "aliuid": f.mgmt, "project": lcaudit.CentralProject(f.mgmt, f.region), "logstore": "slsaudit"}
}

func TestObserveNotConfigured(t *testing.T) {
	f := start(t, localcloud.Options{Members: 2})
	cfg, ok, err := f.c.Observe(context.Background())
	if err != nil || ok {
		t.Fatalf("Observe = %+v, %v, %v; want not found without error", cfg, ok, err)
	}
	if n := f.calls("Sls", "DescribeApp"); n != 1 {
		t.Fatalf("DescribeApp called %d times", n)
	}
}

func TestWriteObserveRoundTripEachMode(t *testing.T) {
	f := start(t, localcloud.Options{Members: 3})
	ms := f.members()
	ctx := context.Background()
	sw := map[string]string{"actiontrail_enabled": "true", "actiontrail_ttl": "365", "oss_sync_enabled": "false"}
	cases := []struct {
		name     string
		cfg      logaudit.Config
		lcMode   string
		lcMember []string
	}{
		{"none", logaudit.Config{Mode: logaudit.ModeNone}, lcaudit.ModeSingle, nil},
		{"resource directory custom", logaudit.Config{Mode: logaudit.ModeResourceDirectory, RDType: "custom", Members: []string{ms[2], ms[0]}},
			lcaudit.ModeRDCustom, []string{ms[0], ms[2]}},
		{"resource directory all", logaudit.Config{Mode: logaudit.ModeResourceDirectory, RDType: "all", Members: []string{}},
			lcaudit.ModeRDAll, ms},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Region, cfg.AliUID, cfg.Switches = f.region, f.mgmt, sw
			if err := f.c.Write(ctx, cfg); err != nil {
				t.Fatalf("Write: %v", err)
			}
			stored, ok := lcaudit.Config(f.srv.World, f.mgmt)
			if !ok || stored.DisplayName != logaudit.DisplayName || stored.Project != lcaudit.CentralProject(f.mgmt, f.region) {
				t.Fatalf("stored %+v", stored)
			}
			mode, members := lcaudit.Members(f.srv.World, f.mgmt)
			slices.Sort(members)
			if mode != tc.lcMode || !slices.Equal(members, tc.lcMember) {
				t.Fatalf("localcloud collects %s %v, want %s %v", mode, members, tc.lcMode, tc.lcMember)
			}
			got, ok, err := f.c.Observe(ctx)
			if err != nil || !ok {
				t.Fatalf("Observe: %v %v", ok, err)
			}
			want := cfg
			want.Members = slices.Sorted(slices.Values(cfg.Members))
			switch {
			case want.Mode == logaudit.ModeNone:
				want.Members = nil
			case want.Members == nil:
				want.Members = []string{} // a listed mode always has a list, if empty
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Observe\n got %#v\nwant %#v", got, want)
			}
		})
	}
	if !strings.Contains(f.logs.String(), `"action":"logaudit.write"`) {
		t.Fatalf("no write logged: %s", f.logs.String())
	}
}

// TestReadModifyWriteKeepsForeignSwitchesAndFormats: a configuration written by someone else
// (terraform's member format, switches auditwarden does not know) survives Observe -> Write.
func TestReadModifyWriteKeepsForeignSwitchesAndFormats(t *testing.T) {
	f := start(t, localcloud.Options{Members: 3})
	ms := f.members()
	ctx := context.Background()
	vm := f.baseVM()
	vm["resource_directory"] = `{"type":"Custom","multi_account":[{"uid":"` + ms[1] + `"},"` + ms[0] + `"]}`
	vm["waf_enabled"] = "true"
	vm["a_key_from_the_future"] = "{\"nested\":[1,2]}"
	vm["sas_ttl"] = "180"
	f.rawWrite(t, vm)

	cfg, ok, err := f.c.Observe(ctx)
	if err != nil || !ok {
		t.Fatalf("Observe: %v %v", ok, err)
	}
	if cfg.Mode != logaudit.ModeResourceDirectory || cfg.RDType != "custom" || !slices.Equal(cfg.Members, []string{ms[0], ms[1]}) {
		t.Fatalf("Observe: %+v", cfg)
	}
	wantSw := map[string]string{"waf_enabled": "true", "a_key_from_the_future": "{\"nested\":[1,2]}", "sas_ttl": "180"}
	if !reflect.DeepEqual(cfg.Switches, wantSw) {
		t.Fatalf("switches %v, want %v", cfg.Switches, wantSw)
	}
	cfg.Members = append(cfg.Members, ms[2])
	if err := f.c.Write(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	stored, _ := lcaudit.Config(f.srv.World, f.mgmt)
	for k, v := range wantSw {
		if stored.Vars[k] != v {
			t.Errorf("switch %s = %q after the write, want %q", k, stored.Vars[k], v)
		}
	}
	if stored.Mode != lcaudit.ModeRDCustom || !slices.Equal(slices.Sorted(slices.Values(stored.Accounts)), ms) {
		t.Fatalf("stored %s %v", stored.Mode, stored.Accounts)
	}
}

func TestCustomAuthenticationNeedsAuthorization(t *testing.T) {
	f := start(t, localcloud.Options{Members: 1})
	ctx := context.Background()
	outsider := newOutsider(f, "ram-admin")
	cfg := logaudit.Config{Region: f.region, AliUID: f.mgmt, Mode: logaudit.ModeCustomAuthentication, Members: []string{outsider.account}}

	err := f.c.Write(ctx, cfg)
	if cloud.Code(err) != lcaudit.CodeParameterInvalid || !strings.Contains(err.Error(), outsider.account) {
		t.Fatalf("unauthorized member: got %v", err)
	}
	if err := f.c.AuthorizeWithAccessKey(ctx, outsider.account, outsider.key.ID, outsider.key.Secret); err != nil {
		t.Fatalf("AuthorizeWithAccessKey: %v", err)
	}
	if err := f.c.Write(ctx, cfg); err != nil {
		t.Fatalf("Write after authorization: %v", err)
	}
	got, ok, err := f.c.Observe(ctx)
	if err != nil || !ok || got.Mode != logaudit.ModeCustomAuthentication || !slices.Equal(got.Members, []string{outsider.account}) {
		t.Fatalf("Observe: %+v %v %v", got, ok, err)
	}
	// The console's rule: resource directory mode overwrites custom authentication...
	rd := logaudit.Config{Region: f.region, AliUID: f.mgmt, Mode: logaudit.ModeResourceDirectory, RDType: "all"}
	if err := f.c.Write(ctx, rd); err != nil {
		t.Fatalf("resource directory over custom authentication: %v", err)
	}
	// ...and going back needs the configuration cleared first: the service's refusal comes through.
	err = f.c.Write(ctx, cfg)
	if cloud.Code(err) != lcaudit.CodeOperationDenied || !strings.Contains(err.Error(), "AnalyzeAppLog") {
		t.Fatalf("custom authentication over resource directory all: %v", err)
	}
}

func TestWriteRefusesInvalidConfigWithoutACall(t *testing.T) {
	f := start(t, localcloud.Options{})
	err := f.c.Write(context.Background(), logaudit.Config{Region: f.region, AliUID: f.mgmt, Mode: logaudit.ModeResourceDirectory})
	if err == nil || !strings.Contains(err.Error(), "RDType") {
		t.Fatalf("Write = %v", err)
	}
	if n := f.calls("Sls", "AnalyzeAppLog"); n != 0 {
		t.Fatalf("%d AnalyzeAppLog calls for an invalid config", n)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	f := start(t, localcloud.Options{})
	ctx := context.Background()
	for _, action := range []string{"AnalyzeAppLog", "DescribeApp"} {
		f.srv.World.Faults.Script(core.FaultRule{Product: "Sls", Action: action, Count: 3, Status: 400, Code: "Throttling", Message: "Request was denied due to request throttling."})
	}
	cfg := logaudit.Config{Region: f.region, AliUID: f.mgmt, Switches: map[string]string{"actiontrail_enabled": "true"}}
	if err := f.c.Write(ctx, cfg); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, ok, err := f.c.Observe(ctx)
	if err != nil || !ok || got.Switches["actiontrail_enabled"] != "true" {
		t.Fatalf("Observe: %+v %v %v", got, ok, err)
	}
	for _, action := range []string{"AnalyzeAppLog", "DescribeApp"} {
		if calls, _, _ := f.srv.World.Stats.Sum("Sls", action); calls != 4 {
			t.Errorf("%s: %d calls, want 3 throttled + 1", action, calls)
		}
	}
}

func TestDomain(t *testing.T) {
	ep, err := cloud.EndpointsForRegion("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	s, err := cloud.NewSession(cloud.Credentials{AccessKeyID: "id", AccessKeySecret: "secret"}, ep)
	if err != nil {
		t.Fatal(err)
	}
	if d := logaudit.New(s, "cn-shanghai").Domain(); d != "cn-shanghai.log.aliyuncs.com/open-api" {
		t.Errorf("cloud domain for cn-shanghai: %s", d)
	}
	ep.LogAudit = "ap-southeast-1-intranet.log.aliyuncs.com/open-api"
	s, _ = cloud.NewSession(cloud.Credentials{AccessKeyID: "id", AccessKeySecret: "secret"}, ep)
	if d := logaudit.New(s, "ap-southeast-1").Domain(); d != ep.LogAudit {
		t.Errorf("a configured domain in the central region is kept: %s", d)
	}
	f := start(t, localcloud.Options{})
	if d := logaudit.New(f.s, "cn-shanghai").Domain(); d != f.s.Endpoints().LogAudit {
		t.Errorf("localcloud domain: %s", d)
	}
}
