package cloud_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

const sampleInfo = `{"region":"cn-hangzhou","managementAccountId":"1234567890123456","accessKeyId":"LTAIlocal","accessKeySecret":"localsecret",` +
	`"endpoints":{"rpc":"127.0.0.1:7001","logaudit":"127.0.0.1:7001/open-api","sls":"127.0.0.1:7002","oss":"http://127.0.0.1:7003","control":"http://127.0.0.1:7004"}}`

func TestEndpointsForRegion(t *testing.T) {
	ep, err := cloud.EndpointsForRegion("cn-shanghai")
	if err != nil {
		t.Fatal(err)
	}
	want := cloud.Endpoints{
		Region: "cn-shanghai", ResourceManager: "resourcemanager.aliyuncs.com", ActionTrail: "actiontrail.cn-shanghai.aliyuncs.com",
		STS: "sts.aliyuncs.com", RAM: "ram.aliyuncs.com", LogAudit: "cn-shanghai.log.aliyuncs.com/open-api", Scheme: "https",
		SLS: "https://cn-shanghai.log.aliyuncs.com", OSS: "https://oss-cn-shanghai.aliyuncs.com",
	}
	if ep != want {
		t.Fatalf("got %+v\nwant %+v", ep, want)
	}
	if err := ep.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "cn_hangzhou", "Hangzhou", "cn-hangzhou.evil.com", "cn-hangzhou/x"} {
		if _, err := cloud.EndpointsForRegion(bad); err == nil {
			t.Errorf("region %q accepted", bad)
		}
	}
}

func TestLocalcloudInfo(t *testing.T) {
	info, err := cloud.ParseLocalcloudInfo([]byte(sampleInfo))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := info.ToEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	want := cloud.Endpoints{
		Region: "cn-hangzhou", ResourceManager: "127.0.0.1:7001", ActionTrail: "127.0.0.1:7001", STS: "127.0.0.1:7001",
		RAM: "127.0.0.1:7001", LogAudit: "127.0.0.1:7001/open-api", Scheme: "http",
		SLS: "cn-hangzhou.log.aliyuncs.com", SLSDial: "127.0.0.1:7002", OSS: "http://127.0.0.1:7003", Local: true,
	}
	if ep != want {
		t.Fatalf("got %+v\nwant %+v", ep, want)
	}
	if err := ep.Validate(); err != nil {
		t.Fatal(err)
	}
	if c := info.Credentials(); c.AccessKeyID != "LTAIlocal" || c.AccessKeySecret != "localsecret" {
		t.Fatalf("credentials %#v", c)
	}
	// localcloud prints the same JSON it parses.
	out, _ := json.Marshal(info)
	again, err := cloud.ParseLocalcloudInfo(out)
	if err != nil || again != info {
		t.Fatalf("round trip: %v %+v", err, again)
	}
	// A scheme on host:port fields is tolerated.
	info.Endpoints.RPC = "http://127.0.0.1:7001/"
	if ep, err := info.ToEndpoints(); err != nil || ep.STS != "127.0.0.1:7001" {
		t.Fatalf("http:// rpc: %v %q", err, ep.STS)
	}
}

func TestParseLocalcloudInfoErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"not JSON", `nope`, "not a JSON object"},
		{"array", `[]`, "not a JSON object"},
		{"trailing", sampleInfo + `{}`, "trailing data"},
		{"bad region", strings.Replace(sampleInfo, `"cn-hangzhou"`, `"x"`, 1), "region"},
		{"no rpc", strings.Replace(sampleInfo, `"rpc":"127.0.0.1:7001"`, `"rpc":""`, 1), "endpoints.rpc"},
		{"rpc without port", strings.Replace(sampleInfo, `"rpc":"127.0.0.1:7001"`, `"rpc":"127.0.0.1"`, 1), "endpoints.rpc"},
		{"no logaudit", strings.Replace(sampleInfo, `"logaudit":"127.0.0.1:7001/open-api"`, `"logaudit":""`, 1), "endpoints.logaudit"},
		{"bad sls", strings.Replace(sampleInfo, `"sls":"127.0.0.1:7002"`, `"sls":"localhost"`, 1), "endpoints.sls"},
		{"oss without scheme", strings.Replace(sampleInfo, `"oss":"http://127.0.0.1:7003"`, `"oss":"127.0.0.1:7003"`, 1), "endpoints.oss"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cloud.ParseLocalcloudInfo([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestEndpointsValidate(t *testing.T) {
	base := mustEndpoints(t, "cn-hangzhou")
	cases := []struct {
		name string
		mut  func(*cloud.Endpoints)
		want string
	}{
		{"region", func(e *cloud.Endpoints) { e.Region = "" }, "Region"},
		{"scheme in domain", func(e *cloud.Endpoints) { e.STS = "https://sts.aliyuncs.com" }, "STS"},
		{"empty domain", func(e *cloud.Endpoints) { e.ActionTrail = "" }, "ActionTrail"},
		{"scheme", func(e *cloud.Endpoints) { e.Scheme = "ftp" }, "Scheme"},
		{"sls", func(e *cloud.Endpoints) { e.SLS = "" }, "SLS"},
		{"sls dial", func(e *cloud.Endpoints) { e.SLSDial = "nohostport" }, "SLSDial"},
		{"oss", func(e *cloud.Endpoints) { e.OSS = "oss-cn-hangzhou.aliyuncs.com" }, "OSS"},
	}
	for _, tc := range cases {
		e := base
		tc.mut(&e)
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %s", tc.name, err, tc.want)
		}
		if _, err := cloud.NewSession(cloud.Credentials{AccessKeyID: "a", AccessKeySecret: "b"}, e); err == nil {
			t.Errorf("%s: NewSession accepted invalid endpoints", tc.name)
		}
	}
}

func TestEndpointsFromEnv(t *testing.T) {
	clear := func(t *testing.T) {
		for _, k := range []string{cloud.EnvLocalcloud, cloud.EnvRegion, "FC_REGION", "ALIBABA_CLOUD_REGION_ID"} {
			t.Setenv(k, "")
		}
	}
	t.Run("localcloud", func(t *testing.T) {
		clear(t)
		t.Setenv(cloud.EnvLocalcloud, sampleInfo)
		ep, err := cloud.EndpointsFromEnv()
		if err != nil || !ep.Local || ep.SLSDial != "127.0.0.1:7002" {
			t.Fatalf("%v %+v", err, ep)
		}
	})
	t.Run("region variables in order", func(t *testing.T) {
		clear(t)
		t.Setenv("ALIBABA_CLOUD_REGION_ID", "eu-central-1")
		t.Setenv("FC_REGION", "ap-southeast-1")
		ep, err := cloud.EndpointsFromEnv()
		if err != nil || ep.Region != "ap-southeast-1" || ep.Local {
			t.Fatalf("%v %+v", err, ep)
		}
		t.Setenv(cloud.EnvRegion, "cn-shanghai")
		if ep, _ := cloud.EndpointsFromEnv(); ep.Region != "cn-shanghai" {
			t.Fatalf("region %q", ep.Region)
		}
	})
	t.Run("bad localcloud names the variable", func(t *testing.T) {
		clear(t)
		t.Setenv(cloud.EnvLocalcloud, `{"region":1}`)
		if _, err := cloud.EndpointsFromEnv(); err == nil || !strings.Contains(err.Error(), cloud.EnvLocalcloud) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad region names the variable", func(t *testing.T) {
		clear(t)
		t.Setenv("FC_REGION", "Mars")
		if _, err := cloud.EndpointsFromEnv(); err == nil || !strings.Contains(err.Error(), "FC_REGION") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("nothing set", func(t *testing.T) {
		clear(t)
		if _, err := cloud.EndpointsFromEnv(); err == nil || !strings.Contains(err.Error(), cloud.EnvRegion) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNewSessionFromEnvAgainstLocalcloud(t *testing.T) {
	f := newWorld(t, 1)
	js, _ := json.Marshal(f.info)
	t.Setenv(cloud.EnvLocalcloud, string(js))
	t.Setenv(cloud.EnvAccessKeyID, "")
	t.Setenv(cloud.EnvAccessKeySecret, "")
	s, err := cloud.NewSessionFromEnv(context.Background(), cloud.WithRetryPolicy(fastRetry), cloud.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	if s.AccountID() != f.w.ManagementAccountID || !s.Endpoints().Local {
		t.Fatalf("session %v", s)
	}
	m, err := s.ForAccount(context.Background(), f.members[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := callerAccount(t, m); got != f.members[0] {
		t.Fatalf("member session acts in %s", got)
	}
	if c := f.calls("Sts", "GetCallerIdentity"); c != 1 { // only the check above: the account came from the info
		t.Fatalf("GetCallerIdentity calls = %d", c)
	}
	// Environment keys win over localcloud's.
	t.Setenv(cloud.EnvAccessKeyID, "LTAIfromenv")
	t.Setenv(cloud.EnvAccessKeySecret, "envsecret")
	s2, err := cloud.NewSessionFromEnv(context.Background())
	if err != nil || s2.Credentials().AccessKeyID != "LTAIfromenv" {
		t.Fatalf("%v %v", err, s2)
	}
}

func FuzzParseLocalcloudInfo(f *testing.F) {
	f.Add([]byte(sampleInfo))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"region":"cn-hangzhou","endpoints":{"rpc":"[::1]:1","logaudit":"/open-api","sls":":0","oss":"http://x"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := cloud.ParseLocalcloudInfo(data)
		if err != nil {
			return
		}
		ep, err := info.ToEndpoints()
		if err != nil {
			t.Fatalf("parsed info does not convert: %v", err)
		}
		if err := ep.Validate(); err != nil {
			t.Fatalf("parsed info gives invalid endpoints %+v: %v", ep, err)
		}
	})
}

// TestLocalcloudInfoSession: the session acts in the management account with the printed key,
// an option may still name another account, and a bad info line is refused naming the field.
func TestLocalcloudInfoSession(t *testing.T) {
	info, err := cloud.ParseLocalcloudInfo([]byte(sampleInfo))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		info        cloud.LocalcloudInfo
		opts        []cloud.Option
		wantAccount string
		wantErr     string
	}{
		{"management account", info, nil, "1234567890123456", ""},
		{"another account named", info, []cloud.Option{cloud.WithAccountID("999")}, "999", ""},
		{"bad region", func() cloud.LocalcloudInfo { i := info; i.Region = "Hangzhou"; return i }(), nil, "", "region"},
		{"no sls endpoint", func() cloud.LocalcloudInfo { i := info; i.Endpoints.SLS = ""; return i }(), nil, "", "endpoints.sls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.info.Session(tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.AccountID() != tc.wantAccount || s.Credentials().AccessKeyID != "LTAIlocal" {
				t.Fatalf("account %q key %q", s.AccountID(), s.Credentials().AccessKeyID)
			}
		})
	}
}
