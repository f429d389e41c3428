package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
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
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// bearer is the token the test stand-in for FC's authType function accepts.
const bearer = "Bearer reliability-token"

// noLogAuditLimit lifts the session's own Log Audit rate limit (5 calls/s) where a test is about
// correctness under concurrency rather than throughput, so it runs in seconds.
var noLogAuditLimit = cloud.WithLimits(map[string]cloud.Limit{"logaudit": {}})

// fastRetry keeps retries real (every retryable error is retried with full jitter) but short,
// so a storm of faults costs milliseconds instead of the production policy's seconds.
var fastRetry = cloud.RetryPolicy{MaxAttempts: 12, Base: time.Millisecond, Cap: 20 * time.Millisecond}

// env is one localcloud with a central-account session on it.
type env struct {
	srv  *localcloud.Server
	info cloud.LocalcloudInfo
	sess *cloud.Session
	logs *syncBuffer
	log  zerolog.Logger
}

// start runs a localcloud for the test with a short delivery interval and a session with the
// fast retry policy. Extra session options (limits) come last and win.
func start(t *testing.T, opts localcloud.Options, sessOpts ...cloud.Option) *env {
	t.Helper()
	if opts.DeliveryInterval == 0 {
		opts.DeliveryInterval = 50 * time.Millisecond
	}
	srv, err := localcloud.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	info := srv.CloudInfo()
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	all := append([]cloud.Option{
		cloud.WithRetryPolicy(fastRetry), cloud.WithSLSRetryTimeout(2 * time.Second), cloud.WithLogger(log),
	}, sessOpts...)
	sess, err := info.Session(all...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, info: info, sess: sess, logs: logs, log: log}
	// The product's logs explain a failure far better than the assertion alone.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("product logs (last 6 KiB):\n%s", logs.tail(6<<10))
		}
	})
	return e
}

func (e *env) root() string {
	e.srv.World.Mu.RLock()
	defer e.srv.World.Mu.RUnlock()
	return e.srv.World.Directory.RootFolderID
}

// policyDoc is the organization's policy in this suite: resource directory mode with a custom
// list (so membership changes are auditwarden's to make) selecting everything under the root
// except the quarantine folder (when given) and members tagged audit=exempt.
func (e *env) policyDoc(quarantine string, backfill bool) string {
	exclude := "{tags: [audit=exempt]}"
	if quarantine != "" {
		exclude = fmt.Sprintf("{folders: [%s], tags: [audit=exempt]}", quarantine)
	}
	return fmt.Sprintf(`apiVersion: auditwarden/v1
kind: AuditPolicy
central: {accountId: "%s", region: %s}
trail: {name: org-audit}
destinations:
  sls: {enabled: true, ttlDays: 365}
  oss: {enabled: true, retentionDays: 30, lifecycle: {expireDays: 400}}
logAudit:
  region: cn-shanghai
  mode: resourceDirectory
  resourceDirectory:
    members: custom
    include: {folders: [%s]}
    exclude: %s
backfill: {enabled: %t}
`, e.info.ManagementAccountID, e.info.Region, e.root(), exclude, backfill)
}

func (e *env) policy(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return p
}

// activeMembers are the directory's members that can be collected (not pending, not removed).
func (e *env) activeMembers() []string {
	e.srv.World.Mu.RLock()
	defer e.srv.World.Mu.RUnlock()
	var ids []string
	for _, a := range e.srv.World.DirectoryAccountsLocked() {
		if a.Management {
			continue
		}
		switch a.Status {
		case "CreateSuccess", "InviteSuccess", "PromoteSuccess":
			ids = append(ids, a.AccountID)
		}
	}
	sort.Strings(ids)
	return ids
}

// collected is the Log Audit member list twice over: the raw document as the product's adapter
// reads it through the API (which still shows a departed member nobody detached), and what
// localcloud's Log Audit collects (directory members only). Both must agree with want.
func (e *env) assertCollected(t *testing.T, want []string) {
	t.Helper()
	cfg, ok, err := logaudit.New(e.sess, "cn-shanghai").Observe(context.Background())
	if err != nil || !ok {
		t.Fatalf("read the Log Audit configuration: ok=%v err=%v", ok, err)
	}
	_, collected := lclogaudit.Members(e.srv.World, e.info.ManagementAccountID)
	want = sorted(want)
	if missing, extra := diff(want, cfg.Members); len(missing)+len(extra) > 0 {
		t.Errorf("Log Audit document: %d member(s) lost %v, %d not wanted %v (want %d, have %d)",
			len(missing), missing, len(extra), extra, len(want), len(cfg.Members))
	}
	if missing, extra := diff(want, collected); len(missing)+len(extra) > 0 {
		t.Errorf("Log Audit collects: %d member(s) lost %v, %d not wanted %v", len(missing), missing, len(extra), extra)
	}
}

// rm is a Resource Manager client for out-of-band changes, as a person in the console makes them.
// One per goroutine: the RPC SDK's clients are not safe for concurrent use.
func (e *env) rm(t *testing.T) *resourcemanager.Client {
	t.Helper()
	c, err := resourcemanager.NewClientWithAccessKey(e.info.Region, e.info.AccessKeyID, e.info.AccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = e.info.Endpoints.RPC
	return c
}

// newApp is the application as the functions build it, on this env's session.
func (e *env) newApp() *app.App {
	sess := e.sess
	return app.New(app.Config{StateBucket: "auditwarden-state-" + e.info.ManagementAccountID, StatePrefix: "auditwarden"},
		e.log, func(context.Context) (*cloud.Session, error) { return sess, nil })
}

// api serves the app's routes behind the stand-in for FC's authType function check.
func (e *env) api(t *testing.T, a *app.App) *httptest.Server {
	t.Helper()
	h := httpapi.New(a, e.log)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(fcevent.HeaderAuthenticated, fmt.Sprint(r.Header.Get("Authorization") == bearer))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// response is one API answer: status and the decoded JSON body.
type response struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (r response) errorField() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["field"].(string)
		return s
	}
	return ""
}

func (r response) errorRule() string {
	if e, ok := r.Body["error"].(map[string]any); ok {
		s, _ := e["rule"].(string)
		return s
	}
	return ""
}

// call makes one API request; it returns an error rather than failing so goroutines can use it.
func call(url, method, path, body string, authenticated bool) (response, error) {
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if authenticated {
		req.Header.Set("Authorization", bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return response{}, err
	}
	out := response{Status: resp.StatusCode, Raw: buf.String()}
	_ = json.Unmarshal(buf.Bytes(), &out.Body)
	return out, nil
}

// events collects the CloudEvents localcloud's EventBridge publishes for Resource Manager writes,
// through an in-process subscription, exactly as they would reach the member-events function.
type events struct {
	mu   sync.Mutex
	list []core.CloudEvent
	more chan struct{}
}

func (e *env) subscribe(t *testing.T, names ...string) *events {
	t.Helper()
	pattern, _ := json.Marshal(map[string]any{"source": []string{"acs.actiontrail"}, "data": map[string]any{"eventName": names}})
	ev := &events{more: make(chan struct{}, 1)}
	if _, err := e.srv.World.Bus.Subscribe("", pattern, "", func(ce core.CloudEvent) {
		ev.mu.Lock()
		ev.list = append(ev.list, ce)
		ev.mu.Unlock()
		select {
		case ev.more <- struct{}{}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// wait returns the events once n have arrived (EventBridge delivers asynchronously).
func (ev *events) wait(t *testing.T, n int) []core.CloudEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ev.next(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// next is wait for goroutines: it returns an error instead of failing the test.
func (ev *events) next(ctx context.Context, n int) ([]core.CloudEvent, error) {
	for {
		ev.mu.Lock()
		if len(ev.list) >= n {
			out := append([]core.CloudEvent(nil), ev.list...)
			ev.mu.Unlock()
			return out, nil
		}
		have := len(ev.list)
		ev.mu.Unlock()
		select {
		case <-ev.more:
		case <-ctx.Done():
			return nil, fmt.Errorf("only %d of %d CloudEvents delivered: %w", have, n, ctx.Err())
		}
	}
}

func payload(t *testing.T, ce core.CloudEvent) []byte {
	t.Helper()
	b, err := json.Marshal(ce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// diff returns what want has and got lacks, and what got has beyond want.
func diff(want, got []string) (missing, extra []string) {
	in := map[string]bool{}
	for _, g := range got {
		in[g] = true
	}
	w := map[string]bool{}
	for _, x := range want {
		w[x] = true
		if !in[x] {
			missing = append(missing, x)
		}
	}
	for _, g := range got {
		if !w[g] {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

func without(list []string, drop ...string) []string {
	d := map[string]bool{}
	for _, x := range drop {
		d[x] = true
	}
	var out []string
	for _, x := range list {
		if !d[x] {
			out = append(out, x)
		}
	}
	return out
}

// syncBuffer is a log sink shared by concurrent runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// table prints a report, or says there is none (a run that failed returns no report).
func table(rep *reconcile.Report) string {
	if rep == nil {
		return "(no report)"
	}
	return rep.Table()
}
