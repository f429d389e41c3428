package fchost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// The test functions (testdata/functions) are built once per test binary, and only when an
// integration test needs them.
var (
	buildOnce sync.Once
	builtBins map[string]string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func loadTestConfig(t *testing.T, account string, only ...string) *Config {
	t.Helper()
	cfg, err := LoadConfigWith("testdata/s.yaml", ParseOptions{AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	if len(only) > 0 {
		keep := cfg.Functions[:0]
		for _, f := range cfg.Functions {
			for _, name := range only {
				if f.Name == name {
					keep = append(keep, f)
				}
			}
		}
		cfg.Functions = keep
	}
	return cfg
}

func testBinaries(t *testing.T) map[string]string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "fchost-test-bin-")
		if buildErr != nil {
			return
		}
		cfg, err := LoadConfigWith("testdata/s.yaml", ParseOptions{AccountID: testAccount})
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		builtBins, buildErr = Build(ctx, cfg, buildDir, nil)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBins
}

// records collects finished invocations and lets a test wait for one.
type records struct {
	mu      sync.Mutex
	list    []Record
	changed chan struct{}
}

func newRecords() *records { return &records{changed: make(chan struct{})} }

func (r *records) add(rec Record) {
	r.mu.Lock()
	r.list = append(r.list, rec)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *records) all() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.list...)
}

// wait returns the records matching pred once there are n of them.
func (r *records) wait(t *testing.T, n int, timeout time.Duration, pred func(Record) bool) []Record {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		var got []Record
		for _, rec := range r.list {
			if pred(rec) {
				got = append(got, rec)
			}
		}
		ch := r.changed
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Millisecond): // pred may look at more than records (task states)
		case <-deadline:
			t.Fatalf("waited %s for %d matching records, have %d of %d: %+v", timeout, n, len(got), len(r.all()), r.all())
		}
	}
}

// syncBuffer is a log sink tests can read while the host writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	h    *Host
	recs *records
	log  *syncBuffer
}

func startHost(t *testing.T, cfg *Config, opts Options) *fixture {
	t.Helper()
	bins := testBinaries(t)
	if opts.Binaries == nil {
		opts.Binaries = map[string]string{}
		for _, f := range cfg.Functions {
			opts.Binaries[f.Name] = bins[f.Name]
		}
	}
	fx := &fixture{recs: newRecords(), log: &syncBuffer{}}
	observer := opts.Observer
	opts.Observer = func(r Record) {
		fx.recs.add(r)
		if observer != nil {
			observer(r)
		}
	}
	opts.Log = fx.log
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := Start(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	fx.h = h
	t.Cleanup(func() {
		h.Close()
		if t.Failed() || os.Getenv("FCHOST_TEST_LOG") != "" {
			t.Logf("fchost log:\n%s", fx.log.String())
		}
	})
	return fx
}

// logHas: some log line holds every fragment.
func logHas(log string, fragments ...string) bool {
	for _, line := range strings.Split(log, "\n") {
		all := true
		for _, f := range fragments {
			all = all && strings.Contains(line, f)
		}
		if all {
			return true
		}
	}
	return false
}

func fakeCredentials(calls *atomic.Int32) func(context.Context, string) (string, string, string, time.Time, error) {
	return func(_ context.Context, role string) (string, string, string, time.Time, error) {
		calls.Add(1)
		return "STS.fake-" + role[strings.LastIndex(role, "/")+1:], "secret", "token", time.Now().Add(time.Hour), nil
	}
}

type echoReply struct {
	Payload json.RawMessage     `json:"payload"`
	Context fccontext.FcContext `json:"context"`
	Env     map[string]string   `json:"env"`
	Chained string              `json:"chained"`
}

func invokeEcho(t *testing.T, h *Host, payload string) echoReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := h.Invoke(ctx, "echo", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	var r echoReply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("echo answered %q: %v", out, err)
	}
	return r
}

func TestInvokeGivesTheFunctionWhatFCGives(t *testing.T) {
	t.Setenv("SECRET_FROM_HOST", "must not leak")
	var calls atomic.Int32
	fx := startHost(t, loadTestConfig(t, testAccount, "echo"), Options{
		Credentials: fakeCredentials(&calls),
		Env:         map[string]string{"AUDITWARDEN_LOCALCLOUD": `{"region":"cn-hangzhou"}`, "GREETING": "overridden by Options.Env"},
	})
	r := invokeEcho(t, fx.h, `{"hello":"world"}`)
	c := r.Context
	if string(r.Payload) != `{"hello":"world"}` {
		t.Errorf("payload = %s", r.Payload)
	}
	if c.RequestID == "" || !strings.HasPrefix(c.RequestID, "1-") || c.Function.Name != "echo" || c.Function.Handler != "main" ||
		c.Function.Memory != "256" || c.Function.Timeout != 10 || c.Region != "cn-hangzhou" || c.AccountId != testAccount ||
		c.RetryCount != 0 || c.Service.Qualifier != "LATEST" {
		t.Errorf("context = %+v", c)
	}
	if c.Credentials.AccessKeyId != "STS.fake-fchost-test" || c.Credentials.AccessKeySecret != "secret" || c.Credentials.SecurityToken != "token" {
		t.Errorf("credentials = %+v", c.Credentials)
	}
	wantEnv := map[string]string{
		"FC_FUNCTION_NAME": "echo", "FC_REGION": "cn-hangzhou", "FC_ACCOUNT_ID": testAccount, "FC_FUNCTION_HANDLER": "main",
		"FC_FUNCTION_MEMORY_SIZE": "256", "AUDITWARDEN_FC_ENDPOINT": fx.h.InvokeEndpoint(),
		"AUDITWARDEN_LOCALCLOUD": `{"region":"cn-hangzhou"}`, "GREETING": "overridden by Options.Env", "HOME_REGION": "cn-hangzhou",
	}
	for k, v := range wantEnv {
		if r.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, r.Env[k], v)
		}
	}
	if _, leaked := r.Env["SECRET_FROM_HOST"]; leaked {
		t.Error("the host's environment leaked into the function")
	}
	if !strings.HasPrefix(r.Env["FC_INSTANCE_ID"], "c-") {
		t.Errorf("FC_INSTANCE_ID = %q", r.Env["FC_INSTANCE_ID"])
	}

	// One process serves concurrent invocations; credentials are fetched once and cached.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := fx.h.Invoke(context.Background(), "echo", []byte(fmt.Sprintf(`{"n":%d}`, i)))
			if err == nil && !bytes.Contains(out, []byte(fmt.Sprintf(`"payload":{"n":%d}`, i))) {
				err = fmt.Errorf("invocation %d answered %s", i, out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("credentials fetched %d times, want 1 (cached)", n)
	}
	instances := map[string]bool{}
	for _, rec := range fx.recs.all() {
		if rec.Source == SourceInvoke {
			var rr echoReply
			_ = json.Unmarshal(rec.Result, &rr)
			instances[rr.Env["FC_INSTANCE_ID"]] = true
		}
	}
	if len(instances) != 1 {
		t.Errorf("invocations ran on %d instances, want 1", len(instances))
	}

	// The initializer ran first; the preStop hook runs on Close.
	if recs := fx.recs.all(); len(recs) == 0 || recs[0].Source != "initializer" || recs[0].Err != nil {
		t.Errorf("first record = %+v, want the initializer", recs[0])
	}
	fx.h.Close()
	fx.recs.wait(t, 1, time.Second, func(r Record) bool { return r.Source == "preStop" && r.Err == nil })
	log := fx.log.String()
	for _, want := range []string{
		`"function":"echo"`, `"stream":"stdout"`, `"message":"echo handled ` + c.RequestID + `"`,
		`"stream":"stderr","record":{"level":"info","message":"echo initialized"}`, `"message":"echo stopping"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(log, "\"secret\"") {
		t.Error("the log contains the role's secret")
	}
}

func TestFunctionErrorsPanicsAndCrashes(t *testing.T) {
	fx := startHost(t, loadTestConfig(t, testAccount, "echo", "panic"), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var fe *FunctionError

	_, err := fx.h.Invoke(ctx, "echo", []byte(`{"fail":"nope"}`))
	if !errors.As(err, &fe) || fe.Kind != KindHandled || fe.Type != "errorString" || fe.Message != "nope" || fe.Function != "echo" || fe.RequestID == "" {
		t.Fatalf("handler error = %#v", err)
	}
	if string(fe.Body()) != `{"errorMessage":"nope","errorType":"errorString"}` {
		t.Errorf("error body = %s", fe.Body())
	}

	_, err = fx.h.Invoke(ctx, "panic", []byte("x"))
	if !errors.As(err, &fe) || fe.Kind != KindHandled || fe.Type != "string" || !strings.Contains(fe.Message, "boom: x") || len(fe.StackTrace) < 10 {
		t.Fatalf("panic = %#v", err)
	}
	// The runtime survives a panic.
	if out, err := fx.h.Invoke(ctx, "panic", []byte("ok")); err != nil || string(out) != `"alive"` {
		t.Fatalf("after the panic: %s %v", out, err)
	}
	// A process exit fails what it had in flight; the next invocation gets a new instance.
	if _, err = fx.h.Invoke(ctx, "panic", []byte("exit")); !errors.Is(err, ErrProcessExited) {
		t.Fatalf("exit = %v", err)
	}
	if out, err := fx.h.Invoke(ctx, "panic", []byte("ok")); err != nil || string(out) != `"alive"` {
		t.Fatalf("after the restart: %s %v", out, err)
	}
	if !logHas(fx.log.String(), `"function":"panic"`, `"stream":"stderr"`, `"message":"exiting on request"`) {
		t.Error("the dying process's stderr was not forwarded")
	}
	if _, err := fx.h.Invoke(ctx, "nope", nil); !errors.Is(err, ErrNoSuchFunction) {
		t.Errorf("unknown function: %v", err)
	}
}

func TestTimeoutKillsTheInstance(t *testing.T) {
	fx := startHost(t, loadTestConfig(t, testAccount, "sleep"), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := fx.h.Invoke(ctx, "sleep", []byte("1h"))
	var fe *FunctionError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &fe) || fe.Type != "FunctionTimeout" || fe.Message != "Function timed out after 1 seconds" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Errorf("timed out after %s, want about 1s", d)
	}
	out, err := fx.h.Invoke(ctx, "sleep", []byte("10ms"))
	if err != nil || string(out) != `"slept 10ms"` {
		t.Fatalf("after the kill: %s %v", out, err)
	}
	if !strings.Contains(fx.log.String(), "invocation timed out; killing the instance") {
		t.Error("the kill was not logged")
	}
}

func TestAsyncRetriesCountAndExpire(t *testing.T) {
	var offset atomic.Int64
	fx := startHost(t, loadTestConfig(t, testAccount, "flaky"), Options{
		RetryBackoff: 10 * time.Millisecond,
		Now:          func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
		Observer: func(r Record) {
			if r.Err != nil && bytes.Contains(r.Payload, []byte("expire")) {
				offset.Store(int64(61 * time.Second)) // the event is now older than maxAsyncEventAgeInSeconds: 60
			}
		},
	})
	ctx := context.Background()
	waitTask := func(id string) AsyncTask {
		t.Helper()
		fx.recs.wait(t, 1, 10*time.Second, func(r Record) bool {
			task, _ := fx.h.AsyncStatus(id)
			return task.done()
		})
		task, _ := fx.h.AsyncStatus(id)
		return task
	}
	cases := []struct {
		name, payload, status string
		attempts              int
		result                string
	}{
		{"succeeds on the last retry", `{"failUntil":2}`, TaskSucceeded, 3, `{"retryCount":2}`},
		{"fails after maxAsyncRetryAttempts", `{"failUntil":5}`, TaskFailed, 3, ""},
		{"expires", `{"failUntil":5,"expire":true}`, TaskExpired, 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := fx.h.InvokeAsync(ctx, "flaky", []byte(c.payload))
			if err != nil {
				t.Fatal(err)
			}
			task := waitTask(id)
			if task.Status != c.status || task.Attempts != c.attempts || string(task.Result) != c.result || task.Function != "flaky" || task.Source != SourceAsync {
				t.Fatalf("task = %+v", task)
			}
			var retries []int
			for _, r := range fx.recs.all() {
				if r.RequestID == id {
					retries = append(retries, r.RetryCount)
					if (r.Err == nil) != (c.status == TaskSucceeded && r.RetryCount == 2) {
						t.Errorf("attempt %d: err %v", r.RetryCount, r.Err)
					}
				}
			}
			want := []int{0, 1, 2}[:c.attempts]
			if fmt.Sprint(retries) != fmt.Sprint(want) {
				t.Errorf("x-fc-retry-count of the attempts = %v, want %v", retries, want)
			}
		})
	}
	if _, err := fx.h.InvokeAsync(ctx, "flaky", make([]byte, maxAsyncPayload+1)); err == nil || !strings.Contains(err.Error(), "exceeds FC's 131072-byte limit") {
		t.Errorf("oversized async payload: %v", err)
	}
	if _, err := fx.h.InvokeAsync(ctx, "nope", nil); !errors.Is(err, ErrNoSuchFunction) {
		t.Errorf("unknown function: %v", err)
	}
	if _, ok := fx.h.AsyncStatus("1-unknown"); ok {
		t.Error("status of an unknown request")
	}
}

func TestHTTPTriggerRoundTripAndAuthentication(t *testing.T) {
	fx := startHost(t, loadTestConfig(t, testAccount, "http"), Options{AuthToken: "s3cret"})
	base := fx.h.URL("http")
	if base == "" || fx.h.Ready().HTTP["http"] != base || fx.h.Ready().Token != "s3cret" {
		t.Fatalf("ready = %+v", fx.h.Ready())
	}
	type seen struct {
		Method, RawPath, Body string
		IsBase64Encoded       bool
		Headers, Query        map[string]string
		RequestID             string
	}
	cases := []struct {
		name, method, path, token, ctype string
		body                             []byte
		headers                          map[string]string
		status                           int
		check                            func(t *testing.T, resp *http.Response, body []byte)
	}{
		{name: "GET needs no token", method: "GET", path: "/v1/plan?x=1&x=2", headers: map[string]string{AuthenticatedHeader: "true"}, status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				var s seen
				_ = json.Unmarshal(body, &s)
				if s.Method != "GET" || s.RawPath != "/v1/plan" || s.Query["x"] != "1,2" || s.Headers[AuthenticatedHeader] != "false" ||
					resp.Header.Get("X-Echo") != "yes" || resp.Header.Get("x-fc-request-id") != s.RequestID || s.RequestID == "" {
					t.Errorf("seen %+v, headers %v", s, resp.Header)
				}
			}},
		{name: "GET with the token is authenticated", method: "GET", path: "/", token: "s3cret", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var s seen
				_ = json.Unmarshal(body, &s)
				if s.Headers[AuthenticatedHeader] != "true" || s.Headers["Authorization"] != "" {
					t.Errorf("seen %+v", s)
				}
			}},
		{name: "POST without a token", method: "POST", path: "/v1/enrol", body: []byte(`{}`), status: 401,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if !strings.Contains(string(body), `"error":"authentication required`) || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 body %s", body)
				}
			}},
		{name: "POST with a wrong token", method: "POST", path: "/v1/enrol", token: "guess", body: []byte(`{}`), status: 401,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if !strings.Contains(string(body), "authentication failed") {
					t.Errorf("401 body %s", body)
				}
			}},
		{name: "POST with the token", method: "POST", path: "/v1/enrol", token: "s3cret", ctype: "application/json", body: []byte(`{"account":"1"}`), status: 201,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var s seen
				_ = json.Unmarshal(body, &s)
				if s.Body != `{"account":"1"}` || s.IsBase64Encoded || s.Headers[AuthenticatedHeader] != "true" {
					t.Errorf("seen %+v", s)
				}
			}},
		{name: "PUT binary", method: "PUT", path: "/blob", token: "s3cret", ctype: "application/octet-stream", body: []byte{0, 0xff}, status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				var s seen
				_ = json.Unmarshal(body, &s)
				if !s.IsBase64Encoded || s.Body != "AP8=" {
					t.Errorf("seen %+v", s)
				}
			}},
		{name: "DELETE is not a trigger method", method: "DELETE", path: "/v1/x", token: "s3cret", status: 405,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if resp.Header.Get("Allow") != "GET, POST, PUT" || !strings.Contains(string(body), `"error":"method DELETE is not allowed`) {
					t.Errorf("405: %v %s", resp.Header, body)
				}
			}},
		{name: "PATCH without a token is 405 first", method: "PATCH", path: "/", status: 405},
		{name: "base64 response", method: "GET", path: "/binary", status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte) {
				if !bytes.Equal(body, []byte{0, 1, 2, 255}) || resp.Header.Get("Content-Type") != "application/octet-stream" {
					t.Errorf("binary = %v %v", body, resp.Header)
				}
			}},
		{name: "a result without statusCode is passed through", method: "GET", path: "/raw", status: 200,
			check: func(t *testing.T, _ *http.Response, body []byte) {
				if string(body) != "null" {
					t.Errorf("raw = %q", body)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, base+c.path, bytes.NewReader(c.body))
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.check != nil {
				c.check(t, resp, body)
			}
		})
	}
	// authType anonymous lets mutating methods through, marked unauthenticated.
	cfg := loadTestConfig(t, testAccount, "http")
	cfg.Functions[0].Triggers[0].HTTP.AuthType = "anonymous"
	anon := startHost(t, cfg, Options{})
	resp, err := http.Post(anon.h.URL("http")+"/open", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(body), `"X-Fc-Authenticated":"false"`) {
		t.Errorf("anonymous POST: %d %s", resp.StatusCode, body)
	}

	// Refused requests never reached the function.
	for _, r := range fx.recs.all() {
		if strings.Contains(string(r.Payload), `"method":"DELETE"`) || (strings.Contains(string(r.Payload), `"method":"POST"`) && !strings.Contains(string(r.Payload), `"X-Fc-Authenticated":"true"`)) {
			t.Errorf("a refused request was invoked: %s", r.Payload)
		}
	}
}

func TestTimers(t *testing.T) {
	fx := startHost(t, loadTestConfig(t, testAccount, "echo"), Options{})
	if n := len(fx.h.cron.Entries()); n != 1 {
		t.Errorf("%d timers scheduled, want 1 (enable: false is not scheduled)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := fx.h.FireTimer(ctx, "echo", "tick")
	if err != nil {
		t.Fatal(err)
	}
	var r echoReply
	_ = json.Unmarshal(out, &r)
	var ev struct{ TriggerTime, TriggerName, Payload string }
	if err := json.Unmarshal(r.Payload, &ev); err != nil || ev.TriggerName != "tick" || ev.Payload != `{"mode":"full"}` {
		t.Fatalf("timer event = %s (%v)", r.Payload, err)
	}
	if tt, err := time.Parse(time.RFC3339, ev.TriggerTime); err != nil || time.Since(tt) > time.Minute || !strings.HasSuffix(ev.TriggerTime, "Z") {
		t.Errorf("triggerTime = %q", ev.TriggerTime)
	}
	if _, err := fx.h.FireTimer(ctx, "echo", "rd-events"); !errors.Is(err, ErrNoSuchTrigger) {
		t.Errorf("firing a non-timer: %v", err)
	}

	// A real schedule: every second.
	cfg := loadTestConfig(t, testAccount, "echo")
	cfg.Functions[0].Triggers[1].Timer.Enable = true
	fx2 := startHost(t, cfg, Options{})
	recs := fx2.recs.wait(t, 1, 2500*time.Millisecond, func(r Record) bool { return r.Source == SourceTimer && r.Trigger == "never" })
	if recs[0].Err != nil || !bytes.Contains(recs[0].Payload, []byte(`"triggerName":"never","payload":"disabled"`)) {
		t.Errorf("cron firing = %+v", recs[0])
	}
	if task, ok := fx2.h.AsyncStatus(recs[0].RequestID); !ok || task.Source != SourceTimer {
		t.Errorf("the cron firing is not an async task: %+v", task)
	}
}

func TestInvokeFunctionAPI(t *testing.T) {
	fx := startHost(t, loadTestConfig(t, testAccount, "echo"), Options{})
	api := fx.h.InvokeEndpoint() + "/2023-03-30/functions/"
	post := func(path, typ, body string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", api+path, strings.NewReader(body))
		if typ != "" {
			req.Header.Set("x-fc-invocation-type", typ)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	cases := []struct {
		name, path, typ, body string
		status                int
		want                  string
		errType               string
	}{
		{"sync", "echo/invocations", "", `{"a":1}`, 200, `"payload":{"a":1}`, ""},
		{"sync explicit", "echo/invocations", "Sync", `{"a":2}`, 200, `"payload":{"a":2}`, ""},
		{"function error", "echo/invocations", "", `{"fail":"bad input"}`, 200, `{"errorMessage":"bad input","errorType":"errorString"}`, "UnhandledInvocationError"},
		{"unknown function", "nope/invocations", "", `{}`, 404, `"Code":"FunctionNotFound"`, ""},
		{"bad type", "echo/invocations", "Later", `{}`, 400, `"Code":"InvalidArgument"`, ""},
		{"qualifier", "echo/invocations?qualifier=prod", "", `{}`, 400, `fchost serves only LATEST`, ""},
		{"async too big", "echo/invocations", "Async", strings.Repeat("x", maxAsyncPayload+1), 413, `"Code":"RequestEntityTooLarge"`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(c.path, c.typ, c.body)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) || resp.Header.Get("x-fc-error-type") != c.errType || resp.Header.Get("x-fc-request-id") == "" {
				t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
			}
		})
	}

	// Async: 202 with the request id, then the task.
	resp, _ := post("echo/invocations", "Async", `{"async":true}`)
	id := resp.Header.Get("x-fc-request-id")
	if resp.StatusCode != 202 || id == "" {
		t.Fatalf("async: %d %v", resp.StatusCode, resp.Header)
	}
	fx.recs.wait(t, 1, 10*time.Second, func(r Record) bool { return r.RequestID == id })
	fx.recs.wait(t, 1, time.Second, func(Record) bool { task, _ := fx.h.AsyncStatus(id); return task.done() })
	get, err := http.Get(api + "echo/async-tasks/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var task map[string]any
	_ = json.NewDecoder(get.Body).Decode(&task)
	get.Body.Close()
	if get.StatusCode != 200 || task["status"] != TaskSucceeded || task["requestId"] != id || !strings.Contains(fmt.Sprint(task["returnPayload"]), `"async":true`) {
		t.Errorf("task = %d %v", get.StatusCode, task)
	}
	if get, _ := http.Get(api + "other/async-tasks/" + id); get.StatusCode != 404 {
		t.Errorf("task under another function: %d", get.StatusCode)
	}

	// A function continues itself through AUDITWARDEN_FC_ENDPOINT, as the backfill worker does.
	r := invokeEcho(t, fx.h, `{"chain":2}`)
	if r.Chained == "" {
		t.Fatal("echo did not re-invoke itself")
	}
	chained := fx.recs.wait(t, 2, 10*time.Second, func(r Record) bool { return r.Source == SourceAsync && bytes.Contains(r.Payload, []byte(`"chain"`)) })
	byPayload := map[string]Record{}
	for _, c := range chained {
		byPayload[string(c.Payload)] = c
	}
	// The two finish in either order: the first re-invokes before it answers.
	if one, zero := byPayload[`{"chain":1}`], byPayload[`{"chain":0}`]; one.RequestID != r.Chained || one.Err != nil || zero.RequestID == "" || zero.Err != nil {
		t.Errorf("chain = %+v", byPayload)
	}
	if resp, err := http.Get(fx.h.InvokeEndpoint() + "/__fchost/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("health: %v %v", resp, err)
	}
}

func TestStartFailuresAndMissingCredentialsFail(t *testing.T) {
	if _, err := os.Stat("/bin/false"); err != nil {
		t.Skip("no /bin/false")
	}
	cfg, err := ParseConfig([]byte(doc()), ParseOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fx := startHost(t, cfg, Options{Binaries: map[string]string{"fn": "/bin/false"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := fx.h.Invoke(ctx, "fn", nil); !errors.Is(err, ErrStartFailed) {
		t.Fatalf("a function that cannot start: %v", err)
	}

	fx2 := startHost(t, loadTestConfig(t, testAccount, "echo"), Options{
		Credentials: func(context.Context, string) (string, string, string, time.Time, error) {
			return "", "", "", time.Time{}, errors.New("sts unreachable")
		},
	})
	if _, err := fx2.h.Invoke(ctx, "echo", nil); !errors.Is(err, ErrCredentials) || !strings.Contains(err.Error(), "sts unreachable") {
		t.Fatalf("without credentials: %v", err)
	}
	if _, err := Start(ctx, cfg, Options{Binaries: map[string]string{"fn": t.TempDir()}, Log: io.Discard}); err == nil || !strings.Contains(err.Error(), "not an executable file") {
		t.Errorf("a directory as binary: %v", err)
	}
	if _, err := Start(ctx, cfg, Options{HTTPListen: map[string]string{"nope": ":0"}, Log: io.Discard}); !errors.Is(err, ErrNoSuchFunction) {
		t.Errorf("HTTPListen of an unknown function: %v", err)
	}
}
