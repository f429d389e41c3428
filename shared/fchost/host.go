package fchost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/logging"
)

// Environment variables fchost gives every function (besides FC's own FC_* variables).
const (
	// EnvFCEndpoint is the base URL of fchost's InvokeFunction API. A function re-invokes itself
	// (or another) with POST $AUDITWARDEN_FC_ENDPOINT/2023-03-30/functions/<name>/invocations and
	// header x-fc-invocation-type: Async, as it would call FC's API in the cloud.
	EnvFCEndpoint = "AUDITWARDEN_FC_ENDPOINT"
	// EnvAPIToken names the variable scripts/fchost reads its HTTP trigger token from (never given to functions).
	EnvAPIToken = "AUDITWARDEN_API_TOKEN"
)

// Invocation sources, as Record.Source shows them.
const (
	SourceInvoke      = "invoke" // Invoke or the InvokeFunction API, synchronous
	SourceAsync       = "async"  // InvokeAsync or the InvokeFunction API with x-fc-invocation-type: Async
	SourceTimer       = "timer"
	SourceHTTP        = "http"
	SourceEventBridge = "eventbridge"
)

// adminPrefix holds fchost's own routes on the control listener (event deliveries, health).
const adminPrefix = "/__fchost"

// Options configure a Host. The zero value serves on 127.0.0.1 with a random token and no credentials.
type Options struct {
	// Listen is the control listener: the InvokeFunction API, async task status and EventBridge
	// deliveries. Default 127.0.0.1:0.
	Listen string
	// HTTPListen sets the address of a function's HTTP trigger listener; default the Listen host, port 0.
	// Each function with an http trigger gets its own listener, as it gets its own domain in FC,
	// so the function sees the request's real path.
	HTTPListen map[string]string
	// AuthToken is what authType function (and jwt) triggers require, as Authorization: Bearer <token>,
	// on mutating methods. Generated when empty.
	AuthToken string
	// Credentials returns STS credentials of a function's role (called with the role ARN; results
	// are cached until five minutes before expiry). Nil: functions get empty credentials.
	Credentials func(ctx context.Context, role string) (ak, sk, token string, expires time.Time, err error)
	// AccountID is x-fc-account-id and FC_ACCOUNT_ID; default the account in the function's role ARN.
	AccountID string
	// Env is added to every function's environment (after s.yaml's environmentVariables).
	Env map[string]string
	// EventBridge is localcloud's control URL (http://host:port/__localcloud): eventbridge triggers
	// subscribe there. Empty: no subscriptions (deliveries can still be posted to EventURL).
	EventBridge string
	// Binaries maps function name to a prebuilt handler; those functions are not built.
	Binaries map[string]string
	// Packages maps function name to the package to build (relative to the s.yaml directory),
	// overriding the pre-deploy go build action.
	Packages map[string]string
	// BuildDir receives built handlers; default a temporary directory removed by Close.
	BuildDir string
	// Log receives fchost's JSON log and the functions' output; default os.Stderr.
	Log io.Writer
	// RetryBackoff is the delay before the first async retry, doubling after each (capped at a
	// minute); default 1s. FC does not publish its schedule.
	RetryBackoff time.Duration
	// Now is the clock for async event ages; default time.Now.
	Now func() time.Time
	// Observer, when set, sees every finished invocation (before its caller is released). It must not block.
	Observer func(Record)
}

// Record is a finished invocation, for Options.Observer and the log.
type Record struct {
	RequestID  string
	Function   string
	Source     string // SourceInvoke, SourceAsync, SourceTimer, SourceHTTP, SourceEventBridge, initializer, preStop
	Trigger    string // the trigger's name, when a trigger caused it
	RetryCount int
	Payload    []byte
	Result     []byte
	Err        error
	Start      time.Time // when the instance took it (zero when it never ran)
	Duration   time.Duration
}

// Ready is the line scripts/fchost prints once everything runs.
type Ready struct {
	HTTP   map[string]string `json:"http"`   // function -> HTTP trigger base URL
	Token  string            `json:"token"`  // the Bearer token authType function triggers require
	Invoke string            `json:"invoke"` // base URL of the InvokeFunction API (AUDITWARDEN_FC_ENDPOINT)
}

// Host runs an s.yaml's functions as FC 3.0 would. Safe for concurrent use.
type Host struct {
	cfg     *Config
	opts    Options
	log     zerolog.Logger
	creds   *credCache
	now     func() time.Time
	ctx     context.Context
	cancel  context.CancelFunc
	funcs   map[string]*function
	order   []string
	token   string
	tempDir string

	runtimeAddr string
	runtimeSrv  *http.Server
	controlURL  string
	controlSrv  *http.Server
	triggerSrv  map[string]*http.Server
	triggerURL  map[string]string
	cron        *cron.Cron

	mu        sync.Mutex
	tasks     map[string]*AsyncTask
	taskOrder []string
	subs      []string // localcloud subscription ids
	async     sync.WaitGroup
	closeOnce sync.Once
}

// Start builds the functions (unless prebuilt), starts one instance of each, and serves the
// runtime API, the HTTP triggers, the InvokeFunction API, timers and EventBridge subscriptions.
func Start(ctx context.Context, cfg *Config, opts Options) (*Host, error) {
	if cfg == nil || len(cfg.Functions) == 0 {
		return nil, errors.New("fchost: the config has no functions")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Host{
		cfg: cfg, opts: opts, log: logging.New(opts.Log, "fchost"), now: opts.Now,
		funcs: map[string]*function{}, token: opts.AuthToken,
		triggerSrv: map[string]*http.Server{}, triggerURL: map[string]string{},
		tasks: map[string]*AsyncTask{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.creds = newCredCache(opts.Credentials, opts.Now)
	if h.token == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("fchost: token: %w", err)
		}
		h.token = hex.EncodeToString(b)
	}
	for name := range opts.HTTPListen {
		if _, ok := cfg.function(name); !ok {
			return nil, fmt.Errorf("fchost: HTTPListen: %w: %s", ErrNoSuchFunction, name)
		}
	}
	for _, w := range cfg.Warnings {
		h.log.Warn().Msg(w)
	}
	for _, s := range cfg.Skipped {
		h.log.Info().Str("resource", s).Msg("not an fc3 resource; not run")
	}
	if err := h.start(ctx); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (c *Config) function(name string) (*Function, bool) {
	for _, f := range c.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

func (h *Host) start(ctx context.Context) error {
	binaries, err := h.binaries(ctx)
	if err != nil {
		return err
	}
	// Runtime API: loopback only, whatever Listen says; only our children talk to it.
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("fchost: runtime API listener: %w", err)
	}
	h.runtimeAddr = rl.Addr().String()
	h.runtimeSrv = &http.Server{Handler: http.HandlerFunc(h.serveRuntime), ReadHeaderTimeout: 10 * time.Second}

	cl, err := net.Listen("tcp", h.opts.Listen)
	if err != nil {
		rl.Close()
		return fmt.Errorf("fchost: listen %s: %w", h.opts.Listen, err)
	}
	h.controlURL = "http://" + dialable(cl.Addr().String())
	h.controlSrv = &http.Server{Handler: http.HandlerFunc(h.serveControl), ReadHeaderTimeout: 10 * time.Second}

	// Functions exist before any listener that routes to them serves.
	for _, spec := range h.cfg.Functions {
		f := newFunction(h, spec, binaries[spec.Name], h.functionEnv(spec))
		h.funcs[spec.Name] = f
		h.order = append(h.order, spec.Name)
	}
	go func() { _ = h.runtimeSrv.Serve(rl) }()
	go func() { _ = h.controlSrv.Serve(cl) }()

	listenHost, _, _ := net.SplitHostPort(h.opts.Listen)
	for _, spec := range h.cfg.Functions {
		t := spec.httpTrigger()
		if t == nil {
			continue
		}
		addr := h.opts.HTTPListen[spec.Name]
		if addr == "" {
			addr = net.JoinHostPort(listenHost, "0")
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("fchost: http trigger of %s: listen %s: %w", spec.Name, addr, err)
		}
		srv := &http.Server{Handler: h.triggerHandler(spec, t), ReadHeaderTimeout: 10 * time.Second}
		h.triggerSrv[spec.Name] = srv
		h.triggerURL[spec.Name] = "http://" + dialable(ln.Addr().String())
		go func() { _ = srv.Serve(ln) }()
	}

	for _, name := range h.order {
		h.funcs[name].start()
	}
	if err := h.scheduleTimers(); err != nil {
		return err
	}
	if err := h.subscribe(ctx); err != nil {
		return err
	}
	h.log.Info().Strs("functions", h.order).Str("invoke", h.controlURL).Interface("http", h.triggerURL).Msg("fchost ready")
	return nil
}

// dialable turns a wildcard listen address into one a client on this machine can dial.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (f *Function) httpTrigger() *Trigger {
	for _, t := range f.Triggers {
		if t.HTTP != nil {
			return t
		}
	}
	return nil
}

func (f *Function) trigger(name string) *Trigger {
	for _, t := range f.Triggers {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (h *Host) binaries(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	var toBuild []*Function
	for _, spec := range h.cfg.Functions {
		if b := h.opts.Binaries[spec.Name]; b != "" {
			abs, err := filepath.Abs(b)
			if err != nil {
				return nil, fmt.Errorf("fchost: Binaries[%s]: %w", spec.Name, err)
			}
			if st, err := os.Stat(abs); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return nil, fmt.Errorf("fchost: Binaries[%s]: %s is not an executable file", spec.Name, b)
			}
			out[spec.Name] = abs
			continue
		}
		toBuild = append(toBuild, spec)
	}
	if len(toBuild) == 0 {
		return out, nil
	}
	dir := h.opts.BuildDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "fchost-build-")
		if err != nil {
			return nil, fmt.Errorf("fchost: build directory: %w", err)
		}
		h.tempDir, dir = tmp, tmp
	}
	sub := &Config{Dir: h.cfg.Dir, Functions: toBuild}
	start := time.Now()
	built, err := Build(ctx, sub, dir, h.opts.Packages)
	if err != nil {
		return nil, err
	}
	h.log.Info().Int("functions", len(built)).Dur("took", time.Since(start)).Str("dir", dir).Msg("built handlers")
	for k, v := range built {
		out[k] = v
	}
	return out, nil
}

// functionEnv: the host basics, s.yaml's environmentVariables, Options.Env, then FC's own variables.
func (h *Host) functionEnv(spec *Function) []string {
	env := baseEnv()
	add := func(m map[string]string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env = append(env, k+"="+m[k])
		}
	}
	add(spec.Env)
	add(h.opts.Env)
	add(map[string]string{
		"FC_FUNCTION_NAME":        spec.Name,
		"FC_FUNCTION_HANDLER":     spec.Handler,
		"FC_FUNCTION_MEMORY_SIZE": strconv.Itoa(spec.MemorySize),
		"FC_REGION":               spec.Region,
		"FC_ACCOUNT_ID":           h.accountID(spec),
		EnvFCEndpoint:             h.controlURL,
	})
	return env
}

func (h *Host) accountID(spec *Function) string {
	if h.opts.AccountID != "" {
		return h.opts.AccountID
	}
	if m := roleARNRE.FindStringSubmatch(spec.Role); m != nil {
		return m[1]
	}
	return ""
}

// workDir is where an instance runs: the handler's directory (FC runs code from /code).
func (h *Host) workDir(f *function) string { return filepath.Dir(f.binary) }

func (h *Host) serveRuntime(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	parts := strings.SplitN(rest, "/", 3)
	if !ok || len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	f := h.funcs[parts[0]]
	api, ok := strings.CutPrefix(parts[2], runtimeAPIVersion+"/runtime/invocation/")
	if f == nil || !ok {
		http.NotFound(w, r)
		return
	}
	f.serveRuntime(w, r, parts[1], api)
}

// record logs a finished invocation and tells the observer.
func (h *Host) record(inv *invocation) {
	rec := Record{
		RequestID: inv.id, Function: inv.fn.spec.Name, Source: inv.source, Trigger: inv.trigger,
		RetryCount: inv.retry, Payload: inv.payload, Result: inv.result, Err: inv.err, Start: inv.started,
	}
	if !inv.started.IsZero() {
		rec.Duration = time.Since(inv.started)
	}
	ev := h.log.Info()
	if inv.err != nil {
		ev = h.log.Warn().Err(inv.err)
	}
	ev = ev.Str("function", rec.Function).Str("requestId", rec.RequestID).Str("source", rec.Source)
	if rec.Trigger != "" {
		ev = ev.Str("trigger", rec.Trigger)
	}
	ev.Int("retryCount", rec.RetryCount).Dur("duration", rec.Duration).Msg("invocation finished")
	if h.opts.Observer != nil {
		h.opts.Observer(rec)
	}
}

// Token is the Bearer token authType function triggers require.
func (h *Host) Token() string { return h.token }

// URL is the base URL of a function's HTTP trigger ("" when it has none).
func (h *Host) URL(function string) string { return h.triggerURL[function] }

// InvokeEndpoint is the base URL of the InvokeFunction API (the value of AUDITWARDEN_FC_ENDPOINT).
func (h *Host) InvokeEndpoint() string { return h.controlURL }

// EventURL is where EventBridge deliveries for a trigger are posted.
func (h *Host) EventURL(function, trigger string) string {
	return h.controlURL + adminPrefix + "/events/" + function + "/" + trigger
}

// Ready is the startup summary scripts/fchost prints.
func (h *Host) Ready() Ready {
	urls := make(map[string]string, len(h.triggerURL))
	for k, v := range h.triggerURL {
		urls[k] = v
	}
	return Ready{HTTP: urls, Token: h.token, Invoke: h.controlURL}
}

// Close unsubscribes, stops timers and listeners, runs preStop hooks and stops every instance.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.unsubscribe()
		if h.cron != nil {
			<-h.cron.Stop().Done()
		}
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		defer cancel()
		var wg sync.WaitGroup
		// Listeners stop taking requests while the instances stop, which answers the requests in flight.
		servers := []*http.Server{h.controlSrv}
		for _, srv := range h.triggerSrv {
			servers = append(servers, srv)
		}
		for _, srv := range servers {
			if srv == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = srv.Shutdown(ctx)
			}()
		}
		h.mu.Lock()
		h.cancel() // async retries stop waiting; under mu so no InvokeAsync adds to h.async after this
		h.mu.Unlock()
		for _, f := range h.funcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.stop()
			}()
		}
		wg.Wait()
		h.async.Wait()
		if h.runtimeSrv != nil {
			_ = h.runtimeSrv.Close()
		}
		if h.tempDir != "" {
			_ = os.RemoveAll(h.tempDir)
		}
		h.log.Info().Msg("fchost stopped")
	})
	return nil
}
