package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/app"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/httpapi"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

type env struct {
	srv  *localcloud.Server
	info cloud.LocalcloudInfo
	app  *app.App
	logs *bytes.Buffer
	api  *httptest.Server
}

func policyDoc(mgmt, root, mode string) string {
	la := fmt.Sprintf(`  mode: resourceDirectory
  resourceDirectory: {members: custom, include: {folders: [%s]}}`, root)
	if mode == "customAuthentication" {
		la = "  mode: customAuthentication"
	}
	return fmt.Sprintf(`apiVersion: auditwarden/v1
kind: AuditPolicy
central: {accountId: "%s", region: cn-hangzhou}
destinations:
  sls: {enabled: true}
  oss: {enabled: true}
logAudit:
  region: cn-shanghai
%s
backfill: {enabled: false}
`, mgmt, la)
}

func newEnv(t *testing.T, members int) *env {
	t.Helper()
	srv, err := localcloud.Start(localcloud.Options{Members: members, Folders: 2, Pending: 1, Seed: 5, DeliveryInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	raw, _ := json.Marshal(srv.Info())
	info, err := cloud.ParseLocalcloudInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(cloud.EnvLocalcloud, string(raw))
	logs := &bytes.Buffer{}
	log := zerolog.New(&lockedWriter{buf: logs}).Level(zerolog.DebugLevel)
	a := app.New(app.Config{StateBucket: "auditwarden-state-" + info.ManagementAccountID, StatePrefix: "auditwarden"}, log, app.SessionsFromEnv(log))
	e := &env{srv: srv, info: info, app: a, logs: logs}
	e.api = httptest.NewServer(authenticated(httpapi.New(a, log)))
	t.Cleanup(e.api.Close)
	return e
}

// authenticated stands in for FC's authType function check, as fchost does.
func authenticated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(fcevent.HeaderAuthenticated, fmt.Sprint(r.Header.Get("Authorization") == "Bearer test-token"))
		h.ServeHTTP(w, r)
	})
}

func (e *env) root() string {
	e.srv.World.Mu.RLock()
	defer e.srv.World.Mu.RUnlock()
	return e.srv.World.Directory.RootFolderID
}

func (e *env) call(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, e.api.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %d, body not JSON: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

func TestSetupPlanStatusThroughTheAPI(t *testing.T) {
	e := newEnv(t, 12)
	var rep reconcile.Report
	if code := e.call(t, "POST", "/v1/setup", policyDoc(e.info.ManagementAccountID, e.root(), "resourceDirectory"), &rep); code != 200 {
		t.Fatalf("setup: %d %+v", code, rep)
	}
	if rep.Summary.Failed != 0 || rep.Summary.Applied == 0 {
		t.Fatalf("setup report:\n%s", rep.Table())
	}
	var plan reconcile.Report
	if code := e.call(t, "GET", "/v1/plan", "", &plan); code != 200 || len(plan.Plan) != 0 || !plan.DryRun {
		t.Fatalf("plan after setup: %d %v", code, plan.Plan)
	}
	var status reconcile.Report
	if code := e.call(t, "GET", "/v1/status", "", &status); code != 200 || status.Summary.Members != 12 {
		t.Fatalf("status: %d %+v", code, status.Summary)
	}
	// The timer's full run stores a report; incremental after it reads only changes.
	res, err := e.app.HandleTimer(context.Background(), []byte(`{"triggerName":"t","payload":"{\"mode\":\"incremental\"}"}`))
	if err != nil || res.Mode != reconcile.ModeIncremental || !res.Converged {
		t.Fatalf("incremental timer: %+v %v", res, err)
	}
	if _, err := e.app.HandleTimer(context.Background(), []byte(`{"payload":"{\"mode\":\"sometimes\"}"}`)); err == nil {
		t.Fatal("a bad timer mode was accepted")
	}
}

func TestMembershipEventEnrolsTheMemberAndDuplicatesAreHarmless(t *testing.T) {
	e := newEnv(t, 4)
	e.call(t, "POST", "/v1/setup", policyDoc(e.info.ManagementAccountID, e.root(), "resourceDirectory"), nil)
	events := make(chan core.CloudEvent, 8)
	if _, err := e.srv.World.Bus.Subscribe("", json.RawMessage(`{"data":{"eventName":["CreateResourceAccount"]}}`), "", func(ce core.CloudEvent) { events <- ce }); err != nil {
		t.Fatal(err)
	}
	rm, _ := resourcemanager.NewClientWithAccessKey(e.info.Region, e.info.AccessKeyID, e.info.AccessKeySecret)
	rm.Domain = e.info.Endpoints.RPC
	req := resourcemanager.CreateCreateResourceAccountRequest()
	req.DisplayName, req.AccountNamePrefix = "newcomer", "newcomer"
	created, err := rm.CreateResourceAccount(req)
	if err != nil {
		t.Fatal(err)
	}
	var ce core.CloudEvent
	select {
	case ce = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no CloudEvent")
	}
	payload, _ := json.Marshal(ce)
	res, err := e.app.HandleMembershipEvent(context.Background(), payload)
	if err != nil || res.Action != "reconciled" {
		t.Fatalf("event: %+v %v", res, err)
	}
	_, uids := lclogaudit.Members(e.srv.World, e.info.ManagementAccountID)
	if !contains(uids, created.Account.AccountId) {
		t.Fatalf("member %s not collected", created.Account.AccountId)
	}
	again, err := e.app.HandleMembershipEvent(context.Background(), payload)
	if err != nil || again.Action != "duplicate" {
		t.Fatalf("duplicate delivery: %+v %v", again, err)
	}
	if _, err := e.app.HandleMembershipEvent(context.Background(), []byte(`{"id":"x","specversion":"0.3"}`)); err == nil {
		t.Fatal("a malformed event was accepted")
	}
	ignored, err := e.app.HandleMembershipEvent(context.Background(), mustRead(t, "../../events/eventbridge-ecs-CreateInstance.json"))
	if err != nil || ignored.Action != "ignored" {
		t.Fatalf("unrelated event: %+v %v", ignored, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// The AccessKey secret of custom authentication is used once: it appears in no log, no state
// object, no response and no record localcloud keeps.
func TestCustomAuthenticationSecretIsNeverKept(t *testing.T) {
	e := newEnv(t, 3)
	if code := e.call(t, "POST", "/v1/setup", policyDoc(e.info.ManagementAccountID, e.root(), "customAuthentication"), nil); code != 200 {
		t.Fatalf("setup: %d", code)
	}
	member := e.srv.Seeded.Members[0]
	e.srv.World.Mu.Lock()
	userKey := e.srv.World.NewAccessKeyLocked(member.AccountID, "ram-admin")
	e.srv.World.Mu.Unlock()
	body := fmt.Sprintf(`{"accountId":%q,"accessKeyId":%q,"accessKeySecret":%q}`, member.AccountID, userKey.ID, userKey.Secret)
	var resp map[string]any
	code := e.call(t, "POST", "/v1/log-audit/custom-auth", body, &resp)
	if code != 200 {
		t.Fatalf("custom auth: %d %v", code, resp)
	}
	mode, uids := lclogaudit.Members(e.srv.World, e.info.ManagementAccountID)
	if mode != lclogaudit.ModeCustomAuth || !contains(uids, member.AccountID) {
		t.Fatalf("log audit %s %v", mode, uids)
	}
	raw, _ := json.Marshal(resp)
	if strings.Contains(string(raw), userKey.Secret) || strings.Contains(e.logs.String(), userKey.Secret) {
		t.Fatal("the secret reached a response or a log")
	}
	for _, key := range e.srv.OSS.Keys("auditwarden-state-"+e.info.ManagementAccountID, "") {
		obj, _ := e.srv.OSS.Object("auditwarden-state-"+e.info.ManagementAccountID, key)
		if bytes.Contains(obj, []byte(userKey.Secret)) {
			t.Fatalf("state object %s holds the secret", key)
		}
	}
	for _, acct := range []string{e.info.ManagementAccountID, member.AccountID} {
		for _, ev := range e.srv.World.Recorder.Window(acct, time.Time{}, time.Now().Add(time.Hour)) {
			rec, _ := json.Marshal(ev)
			if strings.Contains(string(rec), userKey.Secret) {
				t.Fatalf("an ActionTrail record holds the secret: %s", rec)
			}
		}
	}
	// A wrong secret is bad input naming the field, and still not echoed.
	bad := fmt.Sprintf(`{"accountId":%q,"accessKeyId":%q,"accessKeySecret":"wrong-secret-value-123"}`, member.AccountID, userKey.ID)
	var badResp map[string]any
	if code := e.call(t, "POST", "/v1/log-audit/custom-auth", bad, &badResp); code != 400 || !strings.Contains(fmt.Sprint(badResp), "accessKeySecret") {
		t.Fatalf("wrong secret: %d %v", code, badResp)
	}
	if raw, _ := json.Marshal(badResp); strings.Contains(string(raw), "wrong-secret-value-123") {
		t.Fatal("the wrong secret was echoed")
	}
}

// The status page shows members × controls; headless Chromium renders it as a person would see it.
func TestStatusPageInHeadlessChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run installs Debian's chromium package")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	e := newEnv(t, 6)
	e.call(t, "POST", "/v1/setup", policyDoc(e.info.ManagementAccountID, e.root(), "resourceDirectory"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--dump-dom", e.api.URL+"/").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, `id="coverage"`) {
		t.Fatalf("no coverage table in the rendered page:\n%s", dom)
	}
	for _, m := range e.srv.Seeded.Members {
		if !strings.Contains(dom, `data-account="`+m.AccountID+`"`) {
			t.Errorf("member %s has no row", m.AccountID)
		}
	}
	for _, c := range []string{"trail", "logaudit", "retention", "archive", "memberTrail", "backfill"} {
		if !strings.Contains(dom, "<th>"+c+"</th>") {
			t.Errorf("the coverage table has no %s column", c)
		}
	}
	if !strings.Contains(dom, `id="compliant">5 compliant`) {
		t.Errorf("summary does not show 5 compliant members (6 seeded, 1 pending)")
	}
}

type lockedWriter struct {
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.buf.Write(p)
}

var logMu = new(syncMutex)

type syncMutex = sync.Mutex
