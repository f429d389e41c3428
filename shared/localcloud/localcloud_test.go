package localcloud_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
)

func start(t *testing.T, opts localcloud.Options) *localcloud.Server {
	t.Helper()
	srv, err := localcloud.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func rmClient(t *testing.T, srv *localcloud.Server) *resourcemanager.Client {
	t.Helper()
	info := srv.Info()
	c, err := resourcemanager.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = info.Endpoints.ResourceManager
	return c
}

func TestSeededDirectoryPagesThroughTheSDK(t *testing.T) {
	srv := start(t, localcloud.Options{Members: 250, Folders: 8, Pending: 5, Invited: 20, Seed: 42})
	c := rmClient(t, srv)
	seen := map[string]bool{}
	pending := 0
	for page := 1; ; page++ {
		req := resourcemanager.CreateListAccountsRequest()
		req.PageSize = "100"
		req.PageNumber = requests.Integer(itoa(page))
		resp, err := c.ListAccounts(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.Accounts.Account {
			if seen[a.AccountId] {
				t.Fatalf("account %s listed twice", a.AccountId)
			}
			seen[a.AccountId] = true
			if a.Status == "CreateVerifying" || a.Status == "PromoteVerifying" {
				pending++
			}
		}
		if len(resp.Accounts.Account) < 100 {
			break
		}
	}
	// 250 members plus the management account.
	if len(seen) != 251 || pending != 5 {
		t.Fatalf("listed %d accounts, %d pending", len(seen), pending)
	}
}

func TestSameSeedSameDirectory(t *testing.T) {
	a := start(t, localcloud.Options{Members: 20, Folders: 3, Seed: 7})
	b := start(t, localcloud.Options{Members: 20, Folders: 3, Seed: 7})
	if a.Info().ManagementAccountID != b.Info().ManagementAccountID {
		t.Fatal("management account differs for one seed")
	}
	for i := range a.Seeded.Members {
		if a.Seeded.Members[i].AccountID != b.Seeded.Members[i].AccountID {
			t.Fatalf("member %d differs", i)
		}
	}
}

func TestControlAPIStatsFaultsAndSubscriptions(t *testing.T) {
	srv := start(t, localcloud.Options{Members: 3})
	ctl := srv.Info().Endpoints.Control
	c := rmClient(t, srv)
	put := func(path, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPut, ctl+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	post := func(path, body string) *http.Response {
		resp, err := http.Post(ctl+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := post("/faults/scripts", `{"action":"GetResourceDirectory","count":1,"status":503,"code":"ServiceUnavailable"}`); resp.StatusCode != 200 {
		t.Fatalf("script: %d", resp.StatusCode)
	}
	if _, err := c.GetResourceDirectory(resourcemanager.CreateGetResourceDirectoryRequest()); err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Fatalf("scripted fault not applied: %v", err)
	}
	if _, err := c.GetResourceDirectory(resourcemanager.CreateGetResourceDirectoryRequest()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ctl + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Rows []struct {
			Product, Action string
			Calls, Errors   int
		}
	}
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	found := false
	for _, r := range stats.Rows {
		if r.Action == "GetResourceDirectory" && r.Calls == 2 && r.Errors == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("stats rows %+v", stats.Rows)
	}
	bad := []struct{ method, path, body string }{
		{"PUT", "/faults", `{"errorRate": 2}`},
		{"PUT", "/faults", `{"unknownField": 1}`},
		{"POST", "/faults/scripts", `{"action":"X","count":0,"code":"Y"}`},
		{"POST", "/eventbridge/subscriptions", `{"url":"ftp://x"}`},
		{"POST", "/eventbridge/subscriptions", `{"url":"http://127.0.0.1:1","pattern":[1]}`},
	}
	for _, b := range bad {
		var resp *http.Response
		if b.method == "PUT" {
			resp = put(b.path, b.body)
		} else {
			resp = post(b.path, b.body)
		}
		var body map[string]string
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || body["error"] == "" {
			t.Errorf("%s %s %s: %d %v", b.method, b.path, b.body, resp.StatusCode, body)
		}
	}
}

// A membership change made through the Resource Manager API reaches an EventBridge subscriber.
func TestCreateResourceAccountIsPublishedToSubscribers(t *testing.T) {
	srv := start(t, localcloud.Options{Members: 1})
	got := make(chan map[string]any, 4)
	sub := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ce map[string]any
		json.NewDecoder(r.Body).Decode(&ce)
		got <- ce
	})}
	ln := listen(t)
	go sub.Serve(ln)
	defer sub.Close()
	body := `{"url":"http://` + ln.Addr().String() + `/","pattern":{"source":["acs.actiontrail"],"data":{"eventName":["CreateResourceAccount"]}}}`
	resp, err := http.Post(srv.Info().Endpoints.Control+"/eventbridge/subscriptions", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	req := resourcemanager.CreateCreateResourceAccountRequest()
	req.DisplayName = "new-member"
	req.AccountNamePrefix = "new-member"
	created, err := rmClient(t, srv).CreateResourceAccount(req)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ce := <-got:
		data := ce["data"].(map[string]any)
		if ce["type"] != "resourcemanager:ActionTrail:ApiCall" || data["eventName"] != "CreateResourceAccount" {
			t.Fatalf("event %v", ce)
		}
		raw, _ := json.Marshal(data["responseElements"])
		if !strings.Contains(string(raw), created.Account.AccountId) {
			t.Fatalf("responseElements %s do not name the new member %s", raw, created.Account.AccountId)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event delivered")
	}
}

// The command starts fast and prints exactly one JSON line naming every endpoint.
func TestCommandPrintsOneJSONLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := t.TempDir() + "/localcloud"
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../scripts/localcloud").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-members", "50", "-folders", "4", "-history-days", "90")
	stdout, _ := cmd.StdoutPipe()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(started); elapsed > 2*time.Second {
		t.Errorf("ready after %v, want under 2s", elapsed)
	}
	var info localcloud.Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatalf("not JSON: %q", line)
	}
	e := info.Endpoints
	for name, v := range map[string]string{"rpc": e.RPC, "logaudit": e.LogAudit, "sls": e.SLS, "oss": e.OSS, "ossTls": e.OSSTLS, "control": e.Control} {
		if v == "" {
			t.Errorf("endpoint %s missing in %s", name, line)
		}
	}
	if info.AccessKeyID == "" || info.AccessKeySecret == "" || info.ManagementAccountID == "" || info.Region == "" {
		t.Errorf("credentials missing: %s", line)
	}
	c, _ := resourcemanager.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	c.Domain = e.ResourceManager
	req := resourcemanager.CreateListAccountsRequest()
	req.PageSize = "100"
	resp, err := c.ListAccounts(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalCount != 51 {
		t.Fatalf("TotalCount %d, want 51", resp.TotalCount)
	}
}

// CloudInfo is the same line package cloud parses from the JSON localcloud prints.
func TestCloudInfoMatchesTheStartupLine(t *testing.T) {
	srv := start(t, localcloud.Options{})
	raw, _ := json.Marshal(srv.Info())
	parsed, err := cloud.ParseLocalcloudInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.CloudInfo(); got != parsed {
		t.Fatalf("CloudInfo %+v, parsed line %+v", got, parsed)
	}
}
