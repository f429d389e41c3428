package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The product code: what runs under the function role. The emulator and the local FC host
// never run in the cloud.
var (
	productDirs = []string{"shared", "functions"}
	notProduct  = []string{"shared/localcloud", "shared/fchost", "shared/bench", "shared/reliability"}
)

// exemption names calls that never run with the function role's credentials, so the role must
// not be granted their actions for them (the action may still be granted for other calls).
type exemption struct {
	file, fn string
	actions  []string
	why      string
}

var notFunctionRole = []exemption{
	{
		file: "shared/logaudit/authorize.go", fn: "Client.checkKeyAccount",
		actions: []string{"sts:GetCallerIdentity"},
		why:     "checks the member's AccessKey pair given to custom authentication (session tmp), not the function role",
	},
	{
		file: "shared/logaudit/authorize.go", fn: "Client.ensureMemberRole",
		actions: []string{"ram:CreateRole", "ram:ListPoliciesForRole", "ram:AttachPolicyToRole"},
		why: "made in the member with its AccessKey pair (tmp.RAM()); granting RAM writes to the function role " +
			"would let it attach AdministratorAccess to itself",
	},
	{
		file: "shared/logaudit/authorize.go", fn: "Client.ensureTrust",
		actions: []string{"ram:GetRole", "ram:UpdateRole"},
		why:     "made in the member with its AccessKey pair (the rc client of ensureMemberRole)",
	},
}

const (
	policyFile = "function-role-policy.json"
	trustFile  = "function-role-trust.json"
)

// moduleDir is where the go command keeps a module of the build list; "" when it is not in it.
func moduleDir(mod string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a known dependency") {
			return "", nil
		}
		return "", fmt.Errorf("go list -m %s: %v: %s", mod, err, out)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache: run go mod download", mod)
	}
	return dir, nil
}

// loadSDKMethods reads the API types' method sets from the SDK sources the module builds with.
var loadSDKMethods = sync.OnceValues(func() (SDKMethods, error) {
	var m SDKMethods
	sls, err := moduleDir(slsPath)
	if err != nil || sls == "" {
		return m, fmt.Errorf("aliyun-log-go-sdk: %v", err)
	}
	if m.SLS, err = LoadMethods(sls, "ClientInterface", "Client", "LogProject", "LogStore"); err != nil {
		return m, err
	}
	prod, err := LoadMethods(filepath.Join(sls, "producer"), "Producer")
	if err != nil {
		return m, err
	}
	m.SLS.Add(prod)
	oss, err := moduleDir("github.com/aliyun/aliyun-oss-go-sdk")
	if err != nil || oss == "" {
		return m, fmt.Errorf("aliyun-oss-go-sdk: %v", err)
	}
	if m.OSS, err = LoadMethods(filepath.Join(oss, "oss"), "Client", "Bucket", "Conn"); err != nil {
		return m, err
	}
	// The FC SDK may not be required yet; a file importing it then gets a Problem.
	fc, err := moduleDir(strings.TrimSuffix(fcPath, "/client"))
	if err != nil {
		return m, err
	}
	if fc != "" {
		if m.FC, err = LoadMethods(filepath.Join(fc, "client"), "Client"); err != nil {
			return m, err
		}
	}
	return m, nil
})

func sdkMethods(t *testing.T) SDKMethods {
	t.Helper()
	m, err := loadSDKMethods()
	if err != nil {
		t.Fatalf("loading the SDK method sets: %v", err)
	}
	return m
}

// scanProduct returns the product code's calls that run with the function role, and those exempt.
func scanProduct(t *testing.T) (calls, exempted []Call) {
	t.Helper()
	all, problems, err := NewScanner(sdkMethods(t)).ScanTree("..", productDirs, notProduct)
	if err != nil {
		t.Fatal(err)
	}
	calls = all
	for _, p := range problems {
		t.Errorf("unreadable cloud call: %s", p)
	}
	if len(all) == 0 {
		t.Fatal("the scan found no cloud calls at all: the scanner or its paths are broken")
	}
	kept, unused := exempt(all, notFunctionRole)
	for _, u := range unused {
		t.Errorf("stale exemption: %s matches no call; remove it or point it at the code that moved", u)
	}
	kk := map[Call]bool{}
	for _, c := range kept {
		kk[c] = true
	}
	for _, c := range all {
		if !kk[c] {
			exempted = append(exempted, c)
		}
	}
	return kept, exempted
}

// exempt drops the calls an exemption covers and reports exemption actions that matched nothing.
func exempt(calls []Call, ex []exemption) (kept []Call, unused []string) {
	used := map[string]bool{}
	for _, c := range calls {
		drop := false
		for _, e := range ex {
			for _, a := range e.actions {
				if c.Pos.Filename == e.file && c.Func == e.fn && c.Action == a {
					drop, used[e.file+" "+e.fn+" "+a] = true, true
				}
			}
		}
		if !drop {
			kept = append(kept, c)
		}
	}
	for _, e := range ex {
		for _, a := range e.actions {
			if !used[e.file+" "+e.fn+" "+a] {
				unused = append(unused, fmt.Sprintf("%s %s %s", e.file, e.fn, a))
			}
		}
	}
	return kept, unused
}

func readPolicy(t *testing.T) *Policy {
	t.Helper()
	data, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		t.Fatalf("%s: %v", policyFile, err)
	}
	return p
}

// (a) The policy is a RAM policy document of the expected shape.
func TestPolicyIsARAMPolicy(t *testing.T) {
	p := readPolicy(t)
	for i, st := range p.Statement {
		if len(st.Condition) > 0 {
			t.Errorf("Statement[%d] has a Condition: none is expected (document it here if one is added)", i)
		}
	}
}

// (b) The policy grants exactly the actions the product code calls with the function role.
func TestPolicyGrantsExactlyTheCalledActions(t *testing.T) {
	calls, exempted := scanProduct(t)
	granted := readPolicy(t).Actions()
	sites, exemptSites := map[string][]string{}, map[string][]string{}
	for _, c := range calls {
		sites[c.Action] = append(sites[c.Action], c.String())
	}
	for _, c := range exempted {
		exemptSites[c.Action] = append(exemptSites[c.Action], c.String())
	}
	var missing, extra []string
	for a, where := range sites {
		if _, ok := granted[a]; !ok {
			missing = append(missing, fmt.Sprintf("%s, called at:\n\t\t%s", a, strings.Join(where, "\n\t\t")))
		}
	}
	for a := range granted {
		if _, ok := sites[a]; ok {
			continue
		}
		if where, ok := exemptSites[a]; ok {
			extra = append(extra, fmt.Sprintf("%s, called only where another principal's credentials are used (notFunctionRole):\n\t\t%s", a, strings.Join(where, "\n\t\t")))
			continue
		}
		extra = append(extra, a+", which no product code calls")
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, m := range missing {
		t.Errorf("%s does not grant %s", policyFile, m)
	}
	for _, e := range extra {
		t.Errorf("%s grants %s: remove it", policyFile, e)
	}
	if !t.Failed() {
		actions := make([]string, 0, len(sites))
		for a := range sites {
			actions = append(actions, a)
		}
		sort.Strings(actions)
		t.Logf("%d actions, all granted and all called: %s", len(actions), strings.Join(actions, " "))
	}
}

// (d) No wildcard action: every action is named.
func TestPolicyHasNoWildcardActions(t *testing.T) {
	if w := readPolicy(t).Wildcards(); len(w) > 0 {
		t.Errorf("%s grants wildcard actions %v: name each action", policyFile, w)
	}
}

// Each action's resources have the ARN shape RAM authorizes it on: a bucket action on an
// object ARN (or the reverse) would silently match nothing.
func TestPolicyResourcesFitTheirActions(t *testing.T) {
	for a, rs := range readPolicy(t).Actions() {
		for _, r := range rs {
			if err := ResourceFits(a, r); err != nil {
				t.Error(err)
			}
		}
	}
}

// The function role is assumed by Function Compute only.
func TestTrustPolicyTrustsFunctionComputeOnly(t *testing.T) {
	data, err := os.ReadFile(trustFile)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrust(data)
	if err != nil {
		t.Fatalf("%s: %v", trustFile, err)
	}
	var services []string
	for _, st := range tr.Statement {
		services = append(services, st.Principal.Service...)
	}
	if len(services) != 1 || services[0] != "fc.aliyuncs.com" {
		t.Errorf("%s trusts %v; want exactly [fc.aliyuncs.com]", trustFile, services)
	}
}

// The tables name methods the SDKs really have: a typo would never match a call.
func TestTablesNameRealSDKMethods(t *testing.T) {
	m := sdkMethods(t)
	check := func(kind string, table map[string]entry, methods Methods, skip map[string]bool) {
		if methods == nil {
			t.Logf("%s SDK not in the build list: its table is not checked", kind)
			return
		}
		for name := range table {
			if _, ok := methods[name]; !ok && !skip[name] {
				t.Errorf("%s table entry %s is not a method of the SDK's API types", kind, name)
			}
		}
	}
	check("SLS", slsMethods, m.SLS, nil)
	check("OSS", ossMethods, m.OSS, nil)
	generic := map[string]bool{}
	for _, n := range fcGenericNames {
		generic[n] = true
	}
	check("FC", fcMethods, m.FC, generic)
}

func TestExemptReportsStaleEntries(t *testing.T) {
	calls := []Call{
		{Action: "ram:CreateRole", Pos: posAt("a.go", 3), Func: "member"},
		{Action: "ram:CreateRole", Pos: posAt("b.go", 9), Func: "central"},
		{Action: "sts:AssumeRole", Pos: posAt("a.go", 5), Func: "member"},
	}
	ex := []exemption{
		{file: "a.go", fn: "member", actions: []string{"ram:CreateRole", "ram:GetRole"}},
	}
	kept, unused := exempt(calls, ex)
	var got []string
	for _, c := range kept {
		got = append(got, c.Action+"@"+c.Pos.Filename)
	}
	if want := []string{"ram:CreateRole@b.go", "sts:AssumeRole@a.go"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if want := []string{"a.go member ram:GetRole"}; fmt.Sprint(unused) != fmt.Sprint(want) {
		t.Errorf("unused %v, want %v", unused, want)
	}
}

func TestParsePolicyRejects(t *testing.T) {
	ok := `{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["*"]}`
	doc := func(stmts ...string) string {
		return `{"Version":"1","Statement":[` + strings.Join(stmts, ",") + `]}`
	}
	tests := []struct {
		name, doc, want string
	}{
		{"version", `{"Version":"2","Statement":[` + ok + `]}`, `Version is "2"`},
		{"no statements", doc(), "Statement is empty"},
		{"deny", doc(`{"Effect":"Deny","Action":["oss:GetObject"],"Resource":["*"]}`), `Statement[0].Effect is "Deny"`},
		{"action string", doc(`{"Effect":"Allow","Action":"oss:GetObject","Resource":["*"]}`), "Statement.Action: a JSON string cannot be"},
		{"empty action", doc(ok, `{"Effect":"Allow","Action":[],"Resource":["*"]}`), "Statement[1].Action is empty"},
		{"bad action", doc(`{"Effect":"Allow","Action":["GetObject"],"Resource":["*"]}`), `Statement[0].Action[0] "GetObject" must be service:Action`},
		{"duplicate", doc(`{"Effect":"Allow","Action":["oss:GetObject","oss:GetObject"],"Resource":["*"]}`), "listed twice"},
		{"no resource", doc(`{"Effect":"Allow","Action":["oss:GetObject"]}`), "Statement[0].Resource is empty"},
		{"bad resource", doc(`{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["bucket/*"]}`), `Resource[0] "bucket/*" must be`},
		{"unknown field", doc(`{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["*"],"Sid":"x"}`), `unknown field "Sid"`},
		{"trailing", doc(ok) + `{}`, "data after the document"},
		{"comment", "// c\n" + doc(ok), "invalid character"},
		{"bad condition", doc(`{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["*"],"Condition":[]}`), "Condition must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePolicy: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := ParsePolicy([]byte(doc(ok))); err != nil {
		t.Errorf("a valid policy: %v", err)
	}
}

func TestPolicyActionsAndWildcards(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["oss:GetObject","log:*"],"Resource":["acs:oss:*:*:b/*"]},
		{"Effect":"Allow","Action":["oss:GetObject","oss:Get?"],"Resource":["acs:oss:*:*:a/*","acs:oss:*:*:b/*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Actions()["oss:GetObject"]; fmt.Sprint(got) != "[acs:oss:*:*:a/* acs:oss:*:*:b/*]" {
		t.Errorf("Actions()[oss:GetObject] = %v", got)
	}
	if got := p.Wildcards(); fmt.Sprint(got) != "[log:* oss:Get?]" {
		t.Errorf("Wildcards() = %v", got)
	}
}

func TestResourceFits(t *testing.T) {
	tests := []struct {
		action, resource, want string // want "" = fits
	}{
		{"oss:PutObject", "acs:oss:*:*:auditwarden-state-*/*", ""},
		{"oss:PutObject", "acs:oss:*:*:auditwarden-state-*", "<bucket>/<object>"},
		{"oss:PutBucketAcl", "acs:oss:*:*:auditwarden-*", ""},
		{"oss:PutBucketAcl", "acs:oss:*:*:auditwarden-*/*", "<bucket>:"},
		{"oss:ListObjects", "acs:oss:*:*:auditwarden-state-*", ""},
		{"log:GetProject", "acs:log:*:*:project/auditwarden-*", ""},
		{"log:GetProject", "acs:log:*:*:project/auditwarden-*/logstore/*", "project/<project>"},
		{"log:GetLogStore", "acs:log:*:*:project/auditwarden-*", "project/<project>/logstore/<logstore>"},
		{"log:GetIndex", "acs:log:*:*:project/p/logstore/l", ""},
		{"log:GetApp", "acs:log:*:*:app/audit", ""},
		{"log:GetApp", "acs:log:*:*:project/audit", "app/<name>"},
		{"sts:AssumeRole", "acs:ram::*:role/resourcedirectoryaccountaccessrole", ""},
		{"sts:AssumeRole", "acs:sts::*:role/x", "names service sts, not ram"},
		{"sts:AssumeRole", "acs:ram::*:user/x", "role/<name>"},
		{"fc:InvokeFunction", "acs:fc:*:*:functions/backfill", ""},
		{"fc:InvokeFunction", "acs:fc:*:*:services/backfill", "functions/<name>"},
		{"actiontrail:CreateTrail", "*", ""},
		{"oss:GetObject", "auditwarden/*", "not an ARN"},
	}
	for _, tt := range tests {
		err := ResourceFits(tt.action, tt.resource)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ResourceFits(%s, %s): %v", tt.action, tt.resource, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ResourceFits(%s, %s) = %v; want an error containing %q", tt.action, tt.resource, err, tt.want)
		}
	}
}

func TestParseTrustRejects(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"version", `{"Version":"","Statement":[]}`, `Version is ""`},
		{"empty", `{"Version":"1","Statement":[]}`, "Statement is empty"},
		{"action", `{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:*"],"Principal":{"Service":["fc.aliyuncs.com"]}}]}`, "Action is"},
		{"ram principal", `{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"RAM":["acs:ram::1:root"]}}]}`, "Principal.RAM is set"},
		{"no service", `{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{}}]}`, "Principal.Service is empty"},
		{"bad service", `{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"Service":["fc"]}}]}`, `Service[0] "fc" is not a service principal`},
		{"deny", `{"Version":"1","Statement":[{"Effect":"Deny","Action":["sts:AssumeRole"],"Principal":{"Service":["fc.aliyuncs.com"]}}]}`, "Effect is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTrust([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseTrust: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	if data, err := os.ReadFile(policyFile); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["a:B"],"Resource":["*"],"Condition":{"Bool":{"acs:SecureTransport":["true"]}}}]}`))
	f.Add([]byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole"],"Principal":{"Service":["fc.aliyuncs.com"]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParsePolicy(data); err == nil {
			// An accepted policy survives a round trip unchanged in meaning.
			out, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParsePolicy(out)
			if err != nil {
				t.Fatalf("re-encoded policy rejected: %v\n%s", err, out)
			}
			if fmt.Sprint(p.Actions()) != fmt.Sprint(q.Actions()) {
				t.Fatalf("round trip changed the actions")
			}
			for a, rs := range p.Actions() {
				for _, r := range rs {
					_ = ResourceFits(a, r)
				}
			}
		}
		_, _ = ParseTrust(data)
	})
}
