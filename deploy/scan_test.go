package deploy

import (
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func posAt(file string, line int) token.Position { return token.Position{Filename: file, Line: line} }

// testMethods stands in for the SDK sources: the real sets come from LoadMethods.
var testMethods = SDKMethods{
	SLS: Methods{
		"GetIndexString": {{Params: 2}}, "GetLogsV3": {{Params: 3}}, "CreateDashboard": {{Params: 2}},
		"SendLogList": {{Params: 5}}, "Start": {{Params: 0}}, "SetHTTPClient": {{Params: 1}},
		"PutObject": {{Params: 5}},
	},
	OSS: Methods{
		"PutObject": {{Params: 3, Variadic: true}}, "SetBucketACL": {{Params: 3, Variadic: true}},
		"Bucket": {{Params: 1}}, "Do": {{Params: 8}, {Params: 6}}, "DoWithContext": {{Params: 9}},
		"CopyObject": {{Params: 3, Variadic: true}}, "DeleteObjects": {{Params: 2, Variadic: true}},
	},
	FC: Methods{"InvokeFunction": {{Params: 2}}, "InvokeFunctionWithOptions": {{Params: 4}}, "DeleteFunction": {{Params: 1}}},
}

const (
	impRM       = `rm "github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"`
	impSTS      = `"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"`
	impLogAudit = `logaudit "github.com/aliyun/alibaba-cloud-sdk-go/services/sls"`
	impSLS      = `slssdk "github.com/aliyun/aliyun-log-go-sdk"`
	impProducer = `"github.com/aliyun/aliyun-log-go-sdk/producer"`
	impOSS      = `alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"`
	impFC       = `fc "github.com/alibabacloud-go/fc-20230330/v4/client"`
	impRequests = `"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"`
)

// file builds a Go source file importing imps with body after the imports.
func file(body string, imps ...string) string {
	return "package x\n\nimport (\n\t" + strings.Join(append(imps, `"context"`, `"net/http"`), "\n\t") + "\n)\n\n" +
		"var _ context.Context\nvar _ = http.MethodGet\n\n" + body
}

func TestScanFile(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		actions  []string // "action func", sorted
		problems []string // substrings, one per problem, in order
	}{
		{
			name:    "RPC constructor through an alias",
			src:     file("func list() { _ = rm.CreateListAccountsRequest() }", impRM),
			actions: []string{"resourcemanager:ListAccounts list"},
		},
		{
			name: "RPC default package name, literal and new",
			src: file(`func (s *Session) who() {
	_ = sts.CreateGetCallerIdentityRequest()
	_ = &sts.AssumeRoleRequest{}
	_ = new(sts.GetFederationTokenRequest)
	var _ *sts.AssumeRoleResponse
}`, impSTS),
			actions: []string{"sts:AssumeRole Session.who", "sts:GetCallerIdentity Session.who", "sts:GetFederationToken Session.who"},
		},
		{
			name:    "RPC constructor referenced, not called",
			src:     file("var mk = rm.CreateGetAccountRequest", impRM),
			actions: []string{"resourcemanager:GetAccount "},
		},
		{
			name: "Log Audit app API maps to the app actions",
			src: file(`func w() {
	_ = logaudit.CreateDescribeAppRequest()
	_ = logaudit.CreateAnalyzeAppLogRequest()
}`, impLogAudit),
			actions: []string{"log:CreateApp w", "log:GetApp w", "log:UpdateApp w"},
		},
		{
			name:     "an unmapped Log Audit RPC fails",
			src:      file("func a() { _ = logaudit.CreateGetAlertRequest() }", impLogAudit),
			problems: []string{"x.go:12: logaudit.CreateGetAlertRequest: the RAM action of sls API GetAlert is not known"},
		},
		{
			name:     "an unknown RPC service fails at its import",
			src:      file("func a() {}", `"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"`),
			problems: []string{"x.go:4: alibaba-cloud-sdk-go service ecs has no RAM code"},
		},
		{
			name:    "method names mean nothing in a file that does not import the SDK",
			src:     file("func a(b interface{ PutObject(string, int) error }) { _ = b.PutObject(\"k\", 1) }"),
			actions: nil,
		},
		{
			name: "SLS SDK methods, with the log SDK aliased",
			src: file(`type C struct{ sls slssdk.ClientInterface }
func (c *C) get() {
	_, _ = c.sls.GetIndexString("p", "l")
	_, _ = c.sls.GetLogsV3("p", "l", nil)
	c.sls.SetHTTPClient(nil)
}`, impSLS),
			actions: []string{"log:GetIndex C.get", "log:GetLogStoreLogs C.get"},
		},
		{
			name:     "an SDK method missing from the table fails with file:line",
			src:      file("func d(c slssdk.ClientInterface) {\n\t_ = c.CreateDashboard(\"p\", nil)\n}", impSLS),
			problems: []string{"x.go:13: unknown SLS SDK method CreateDashboard"},
		},
		{
			name: "producer sends are PostLogStoreLogs; Start is local",
			src: file(`func s(p *producer.Producer) {
	p.Start()
	_ = p.SendLogList("p", "l", "", "", nil)
}`, impProducer),
			actions: []string{"log:PostLogStoreLogs s"},
		},
		{
			name: "OSS client and bucket methods",
			src: file(`func (s *Store) put(c *alioss.Client) {
	b, _ := c.Bucket("bkt")
	_ = b.PutObject("k", nil, alioss.ForbidOverWrite(true))
	_ = c.SetBucketACL("bkt", alioss.ACLPrivate)
	_, _ = b.DeleteObjects([]string{"a"})
}`, impOSS),
			actions: []string{"oss:DeleteObject Store.put", "oss:PutBucketAcl Store.put", "oss:PutObject Store.put"},
		},
		{
			name: "Conn.DoWithContext and Conn.Do read the method and sub-resource",
			src: file(`func pab(ctx context.Context, cl *alioss.Client) {
	_, _ = cl.Conn.DoWithContext(ctx, "PUT", "b", "", map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
	_, _ = cl.Conn.DoWithContext(ctx, http.MethodGet, "b", "", map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
	_, _ = cl.Conn.Do("delete", "b", "", map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
}`, impOSS),
			actions: []string{"oss:DeleteBucketPublicAccessBlock pab", "oss:GetBucketPublicAccessBlock pab", "oss:PutBucketPublicAccessBlock pab"},
		},
		{
			name: "generic OSS requests the scanner cannot read fail",
			src: file(`func g(ctx context.Context, cl *alioss.Client, params map[string]interface{}, m string) {
	_, _ = cl.Conn.DoWithContext(ctx, "PUT", "b", "", params, nil, nil, 0, nil)
	_, _ = cl.Conn.DoWithContext(ctx, "PUT", "b", "", map[string]interface{}{"versioning": nil}, nil, nil, 0, nil)
	_, _ = cl.Conn.DoWithContext(ctx, m, "b", "", nil, nil, nil, 0, nil)
	_, _ = cl.Conn.DoWithContext(ctx, "GET", "b", "key", nil, nil, nil, 0, nil)
}`, impOSS),
			problems: []string{
				"x.go:13: OSS Conn.DoWithContext: the parameters are not a map literal",
				"x.go:14: OSS Conn.DoWithContext PUT with parameters [versioning]: no single known sub-resource",
				"x.go:15: OSS Conn.DoWithContext: the HTTP method is not a literal",
				"x.go:16: OSS Conn.DoWithContext on an object",
			},
		},
		{
			name: "a Do of another arity is some other type's Do; its method value too",
			src: file(`type R struct{}
func (R) Do(ctx context.Context, api string, fn func() error) error { return fn() }
func r(ctx context.Context, x R) {
	_ = x.Do(ctx, "oss:PutObject", nil)
	f := x.Do
	_ = f
}`, impOSS),
			actions: nil,
		},
		{
			name:    "a method value of an API method counts",
			src:     file("func v(b *alioss.Bucket) { put := b.PutObject; _ = put }", impOSS),
			actions: []string{"oss:PutObject v"},
		},
		{
			name:     "an OSS method missing from the table fails",
			src:      file("func c(b *alioss.Bucket) { _, _ = b.CopyObject(\"a\", \"b\") }", impOSS),
			problems: []string{"x.go:12: unknown OSS SDK method CopyObject"},
		},
		{
			name:     "a method of both imported SDKs cannot be attributed",
			src:      file("func p(c slssdk.ClientInterface) { _ = c.PutObject(\"p\", \"l\", \"o\", nil, nil) }", impSLS, impOSS),
			problems: []string{"x.go:13: PutObject is a method of the SLS and OSS SDKs"},
		},
		{
			name: "FC invocations; other FC APIs and generic calls fail",
			src: file(`func i(c *fc.Client) {
	_, _ = c.InvokeFunction(nil, nil)
	_, _ = c.InvokeFunctionWithOptions(nil, nil, nil, nil)
	_, _ = c.DeleteFunction(nil)
	_, _ = c.CallApi(nil, nil, nil)
}`, impFC),
			actions: []string{"fc:InvokeFunction i", "fc:InvokeFunction i"},
			problems: []string{
				"x.go:15: unknown FC SDK method DeleteFunction",
				"x.go:16: generic FC SDK request CallApi",
			},
		},
		{
			name: "CommonRequest with literal Product and ApiName",
			src: file(`func c() {
	req := requests.NewCommonRequest()
	req.Product = "Actiontrail"
	req.ApiName = "CreateTrail"
	_ = req
}`, impRequests),
			actions: []string{"actiontrail:CreateTrail c"},
		},
		{
			name: "CommonRequest whose ApiName or service cannot be read fails",
			src: file(`func c(name string) {
	req := requests.NewCommonRequest()
	req.Version = "2020-07-06"
	req.ApiName = name
}
func d() {
	req := &requests.CommonRequest{ApiName: "GetAccount"}
	_ = req
}`, impRequests),
			problems: []string{
				"x.go:15: CommonRequest ApiName is not a string literal",
				"x.go:18: CommonRequest GetAccount: its service must be set once",
			},
		},
		{
			name:     "the log SDK's consumer package is refused at its import",
			src:      file("func a() {}", `consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"`),
			problems: []string{"x.go:4: package github.com/aliyun/aliyun-log-go-sdk/consumer makes SLS calls the scanner cannot see"},
		},
		{
			name:     "a dot import of an SDK is refused",
			src:      file("func a() {}", `. "github.com/aliyun/aliyun-oss-go-sdk/oss"`),
			problems: []string{"x.go:4: dot import of github.com/aliyun/aliyun-oss-go-sdk/oss"},
		},
	}
	s := NewScanner(testMethods)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, problems, err := s.ScanFile("x.go", []byte(tt.src))
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, tt.src)
			}
			var got []string
			for _, c := range calls {
				got = append(got, c.Action+" "+c.Func)
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tt.actions) {
				t.Errorf("actions %q, want %q", got, tt.actions)
			}
			if len(problems) != len(tt.problems) {
				t.Fatalf("problems %v, want %d: %q", problems, len(tt.problems), tt.problems)
			}
			for i, p := range problems {
				if !strings.Contains(p.String(), tt.problems[i]) {
					t.Errorf("problem %d is %q; want it to contain %q", i, p, tt.problems[i])
				}
			}
		})
	}
}

func TestScanFileReportsWhereAndVia(t *testing.T) {
	src := file(`func (s *Store) pab(ctx context.Context, cl *alioss.Client) {
	_, _ = cl.Conn.DoWithContext(ctx, "PUT", "b", "", map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
}`, impOSS)
	calls, problems, err := NewScanner(testMethods).ScanFile("shared/archive/write.go", []byte(src))
	if err != nil || len(problems) > 0 || len(calls) != 1 {
		t.Fatalf("calls %v, problems %v, err %v", calls, problems, err)
	}
	want := "shared/archive/write.go:13 Store.pab (Conn.DoWithContext PUT ?publicAccessBlock)"
	if got := calls[0].String(); got != want {
		t.Errorf("call %q, want %q", got, want)
	}
}

func TestScanFileWithoutMethodSets(t *testing.T) {
	_, problems, err := NewScanner(SDKMethods{}).ScanFile("x.go", []byte(file("func a(b *alioss.Bucket) { _ = b.X() }", impOSS)))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "OSS SDK's method set was not loaded") {
		t.Errorf("problems %v; want one saying the OSS method set is missing", problems)
	}
}

func TestScanFileRejectsBadSource(t *testing.T) {
	if _, _, err := NewScanner(testMethods).ScanFile("x.go", []byte("package x\nfunc (")); err == nil {
		t.Error("ScanFile accepted a file that does not parse")
	}
}

func TestScanTreeSkipsTestsTestdataAndExcludedPaths(t *testing.T) {
	root := t.TempDir()
	put := func(rel, src string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	call := func(api string) string { return file("func f() { _ = rm.Create"+api+"Request() }", impRM) }
	put("shared/dir/a.go", call("GetAccount"))
	put("shared/dir/a_test.go", call("ListAccounts"))
	put("shared/dir/testdata/b.go", call("ListAncestors"))
	put("shared/.hidden/c.go", call("ListFoldersForParent"))
	put("shared/localcloud/d.go", call("GetResourceDirectory"))
	put("functions/fn/main.go", call("ListDelegatedAdministrators"))
	put("scripts/e.go", call("GetFolder"))
	put("shared/dir/notes.txt", "rm.CreateGetHandshakeRequest()")

	calls, problems, err := NewScanner(testMethods).ScanTree(root, []string{"shared", "functions"}, []string{"shared/localcloud"})
	if err != nil || len(problems) > 0 {
		t.Fatalf("problems %v, err %v", problems, err)
	}
	var got []string
	for _, c := range calls {
		got = append(got, c.Action+"@"+c.Pos.Filename)
	}
	sort.Strings(got)
	want := []string{"resourcemanager:GetAccount@shared/dir/a.go", "resourcemanager:ListDelegatedAdministrators@functions/fn/main.go"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, _, err := NewScanner(testMethods).ScanTree(root, []string{"missing"}, nil); err == nil {
		t.Error("ScanTree of a missing directory did not fail")
	}
}

func TestLoadMethods(t *testing.T) {
	dir := t.TempDir()
	src := `package sdk

type ClientInterface interface {
	GetProject(name string) error
	PutLogs(project, logstore string, lg int) error
	unexported()
}

type Client struct{}

func (c *Client) GetProject(name string) error { return nil }
func (c Client) PutObject(key string, r int, options ...int) error { return nil }
func (c *Client) helper() {}

type Other struct{}

func (Other) NotAnAPI() {}
func Free() {}
`
	if err := os.WriteFile(filepath.Join(dir, "sdk.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sdk_test.go"), []byte("package sdk\nfunc (c *Client) FromTest() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMethods(dir, "ClientInterface", "Client")
	if err != nil {
		t.Fatal(err)
	}
	want := Methods{
		"GetProject": {{Params: 1}, {Params: 1}},
		"PutLogs":    {{Params: 3}},
		"PutObject":  {{Params: 3, Variadic: true}},
	}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("LoadMethods = %v, want %v", m, want)
	}
	if !m.accepts("PutObject", 2, false) || !m.accepts("PutObject", 5, false) || m.accepts("PutObject", 1, false) {
		t.Error("variadic PutObject: accepts 2 and 5 arguments, not 1")
	}
	if !m.accepts("PutObject", 3, true) || m.accepts("GetProject", 1, true) {
		t.Error("spread call: fits a variadic signature only")
	}
	if !m.accepts("PutLogs", -1, false) || m.accepts("Nope", -1, false) {
		t.Error("method value: any signature of a known name")
	}
	if _, err := LoadMethods(dir, "Client", "Producer"); err == nil || !strings.Contains(err.Error(), "types Producer not found") {
		t.Errorf("LoadMethods with a missing type: %v", err)
	}
}

func FuzzScanFile(f *testing.F) {
	f.Add([]byte(file("func a(b *alioss.Bucket) { _ = b.PutObject(\"k\", nil) }", impOSS)))
	f.Add([]byte(file("func c() { req := requests.NewCommonRequest(); req.Product = \"Sts\"; req.ApiName = \"AssumeRole\" }", impRequests)))
	f.Add([]byte(file("func d(ctx context.Context, cl *alioss.Client) { cl.Conn.DoWithContext(ctx, \"PUT\", \"b\", \"\", map[string]interface{}{\"publicAccessBlock\": nil}, nil, nil, 0, nil) }", impOSS, impRM, impSLS)))
	s := NewScanner(testMethods)
	f.Fuzz(func(t *testing.T, src []byte) {
		calls, problems, err := s.ScanFile("f.go", src)
		if err != nil {
			return
		}
		for _, c := range calls {
			if !actionRE.MatchString(c.Action) {
				t.Fatalf("scanner produced action %q", c.Action)
			}
		}
		for _, p := range problems {
			if p.Msg == "" {
				t.Fatal("problem without a message")
			}
		}
	})
}
