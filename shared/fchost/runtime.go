package fchost

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// The runtime API that fc-runtime-go-sdk speaks (reference/fc-runtime.md). Every instance gets its
// own path prefix, FC_RUNTIME_API=127.0.0.1:P/runtime/<function>/<instance>: the SDK builds
// "http://" + FC_RUNTIME_API + "/2020-11-11/runtime/invocation/", so the prefix survives, and a
// killed instance's late calls cannot touch its successor's invocations.
const (
	runtimePrefix     = "/runtime/"
	runtimeAPIVersion = "2020-11-11"
	// Payload limits of FC 3.0: 32 MB synchronous, 128 KB asynchronous.
	maxSyncPayload   = 32 << 20
	maxAsyncPayload  = 128 << 10
	maxStartFailures = 3
	maxCrashBackoff  = 5 * time.Second
	stopGrace        = 2 * time.Second
)

type invocationKind int

const (
	kindInvoke invocationKind = iota
	kindInit
	kindPreStop
)

// x-fc-function-type values the SDK understands (fc/function.go).
var functionTypeHeader = map[invocationKind]string{kindInit: "1", kindPreStop: "2"}

type invocation struct {
	id        string
	fn        *function
	kind      invocationKind
	payload   []byte
	source    string
	trigger   string
	qualifier string
	retry     int
	timeout   time.Duration
	creds     credentials
	done      chan struct{}

	// Guarded by fn.mu.
	inst     *instance
	timer    *time.Timer
	finished bool
	started  time.Time
	result   []byte
	err      error
}

type instance struct {
	id       string
	cmd      *exec.Cmd
	started  time.Time
	exited   chan struct{}
	control  []*invocation // lifecycle invocations, handed out before any event
	initDone bool
	ready    bool // the runtime has asked for work at least once
	killed   bool
	inflight map[string]*invocation
}

// kill and terminate signal the instance's process group unless it has been reaped (its pid could
// then belong to someone else).
func (inst *instance) kill() {
	select {
	case <-inst.exited:
	default:
		killProcess(inst.cmd)
	}
}

func (inst *instance) terminate() {
	select {
	case <-inst.exited:
	default:
		terminateProcess(inst.cmd)
	}
}

// function is one s.yaml function's runtime state: its queue and its single instance (process).
type function struct {
	h      *Host
	spec   *Function
	binary string
	env    []string // without FC_RUNTIME_API and FC_INSTANCE_ID
	log    zerolog.Logger

	mu       sync.Mutex
	queue    []*invocation
	changed  chan struct{} // closed and replaced whenever the queue or an instance changes
	inst     *instance
	running  map[string]*invocation // dispatched and unanswered, by request id
	closing  bool
	failures int    // consecutive instances that died before they were ready
	broken   string // set after maxStartFailures such deaths: invocations fail at once until an instance is ready
	crashes  int    // consecutive crashes soon after start (drives the restart backoff)
	procs    sync.WaitGroup
}

func newFunction(h *Host, spec *Function, binary string, env []string) *function {
	return &function{
		h: h, spec: spec, binary: binary, env: env,
		log:     h.log.With().Str("function", spec.Name).Logger(),
		changed: make(chan struct{}),
		running: map[string]*invocation{},
	}
}

func (f *function) newInvocation(kind invocationKind, payload []byte, source, trigger string) *invocation {
	inv := &invocation{
		id: newRequestID(), fn: f, kind: kind, payload: payload, source: source, trigger: trigger,
		qualifier: defaultQualifier, timeout: f.spec.Timeout, done: make(chan struct{}),
	}
	switch kind {
	case kindInit:
		inv.timeout = f.spec.Initializer.Timeout
	case kindPreStop:
		inv.timeout = f.spec.PreStop.Timeout
	}
	return inv
}

func (f *function) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// enqueue hands an invocation to the function's instance (via its next long-poll).
func (f *function) enqueue(inv *invocation) {
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		f.finish(inv, nil, f.fail(inv, KindClosed, "HostClosed", "fchost is stopping"))
		return
	}
	if f.broken != "" {
		msg := f.broken
		f.mu.Unlock()
		f.finish(inv, nil, f.fail(inv, KindStartFailed, "InstanceStartFailed", msg))
		return
	}
	f.queue = append(f.queue, inv)
	f.broadcastLocked()
	f.mu.Unlock()
}

// healthyLocked: an instance that asks for work with its initializer done is ready; the function works again.
func (f *function) healthyLocked(inst *instance) {
	if inst.ready && inst.initDone && (f.failures > 0 || f.broken != "") {
		f.failures, f.broken = 0, ""
		f.log.Info().Str("instance", inst.id).Msg("instance ready after start failures")
	}
}

// cancel withdraws an invocation nobody waits for any more, if no instance has it yet.
func (f *function) cancel(inv *invocation, err error) {
	f.mu.Lock()
	if inv.finished || inv.inst != nil {
		f.mu.Unlock()
		return
	}
	for i, q := range f.queue {
		if q == inv {
			f.queue = append(f.queue[:i:i], f.queue[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	f.finish(inv, nil, err)
}

func (f *function) popLocked() *invocation {
	for len(f.queue) > 0 {
		inv := f.queue[0]
		f.queue[0] = nil
		f.queue = f.queue[1:]
		if !inv.finished {
			return inv
		}
	}
	return nil
}

func (f *function) fail(inv *invocation, kind ErrorKind, typ, msg string) *FunctionError {
	return &FunctionError{Function: f.spec.Name, RequestID: inv.id, Kind: kind, Type: typ, Message: msg}
}

// finish completes an invocation once: records it, then releases whoever waits.
func (f *function) finish(inv *invocation, result []byte, err error) {
	f.mu.Lock()
	if inv.finished {
		f.mu.Unlock()
		return
	}
	inv.finished = true
	inv.result, inv.err = result, err
	if inv.timer != nil {
		inv.timer.Stop()
	}
	f.mu.Unlock()
	f.h.record(inv)
	close(inv.done)
}

// detachLocked forgets a dispatched invocation (answered, timed out or orphaned).
func (f *function) detachLocked(inv *invocation) {
	delete(f.running, inv.id)
	if inv.inst != nil {
		delete(inv.inst.inflight, inv.id)
	}
	if inv.timer != nil {
		inv.timer.Stop()
	}
}

// serveRuntime is the runtime API of one function: /runtime/<function>/<instance>/2020-11-11/runtime/invocation/...
func (f *function) serveRuntime(w http.ResponseWriter, r *http.Request, instID, rest string) {
	switch {
	case rest == "next" && r.Method == http.MethodGet:
		f.serveNext(w, r, instID)
	case strings.HasSuffix(rest, "/response") && r.Method == http.MethodPost:
		f.serveResult(w, r, instID, strings.TrimSuffix(rest, "/response"), false)
	case strings.HasSuffix(rest, "/error") && r.Method == http.MethodPost:
		f.serveResult(w, r, instID, strings.TrimSuffix(rest, "/error"), true)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"errorMessage": "no such runtime API route: " + r.Method + " " + rest})
	}
}

// serveNext long-polls until there is an invocation for this instance. It never answers non-200
// while idle: the SDK would busy-loop.
func (f *function) serveNext(w http.ResponseWriter, r *http.Request, instID string) {
	ctx := r.Context()
	for {
		f.mu.Lock()
		inst := f.inst
		var inv *invocation
		if inst != nil && inst.id == instID && !inst.killed {
			inst.ready = true
			f.healthyLocked(inst)
			if len(inst.control) > 0 {
				inv, inst.control = inst.control[0], inst.control[1:]
			} else if inst.initDone && !f.closing {
				inv = f.popLocked()
			}
		}
		if inv != nil && ctx.Err() == nil {
			f.dispatchLocked(inst, inv)
			f.mu.Unlock()
			writeNext(w, inv)
			return
		}
		if inv != nil { // the runtime hung up as we picked this: give it back
			if inv.kind == kindInvoke {
				f.queue = append([]*invocation{inv}, f.queue...)
			} else {
				inst.control = append([]*invocation{inv}, inst.control...)
			}
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

func (f *function) dispatchLocked(inst *instance, inv *invocation) {
	inv.inst = inst
	inv.started = time.Now()
	inst.inflight[inv.id] = inv
	f.running[inv.id] = inv
	inv.timer = time.AfterFunc(inv.timeout, func() { f.expire(inv) })
}

func writeNext(w http.ResponseWriter, inv *invocation) {
	f := inv.fn
	deadline := inv.started.Add(inv.timeout)
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("x-fc-request-id", inv.id)
	h.Set("x-fc-function-deadline", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("x-fc-function-timeout", strconv.Itoa(int((inv.timeout+time.Second-1)/time.Second)))
	h.Set("x-fc-retry-count", strconv.Itoa(inv.retry))
	h.Set("x-fc-access-key-id", inv.creds.AccessKeyID)
	h.Set("x-fc-access-key-secret", inv.creds.AccessKeySecret)
	h.Set("x-fc-security-token", inv.creds.SecurityToken)
	h.Set("x-fc-function-name", f.spec.Name)
	h.Set("x-fc-function-handler", f.spec.Handler)
	h.Set("x-fc-function-memory", strconv.Itoa(f.spec.MemorySize))
	h.Set("x-fc-region", f.spec.Region)
	h.Set("x-fc-account-id", f.h.accountID(f.spec))
	h.Set("x-fc-qualifier", inv.qualifier)
	if t, ok := functionTypeHeader[inv.kind]; ok {
		h.Set("x-fc-function-type", t)
	}
	h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// serveResult completes an invocation from the runtime's POST {id}/response or {id}/error.
func (f *function) serveResult(w http.ResponseWriter, r *http.Request, instID, reqID string, isError bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSyncPayload+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errorMessage": "reading the body: " + err.Error()})
		return
	}
	f.mu.Lock()
	inv := f.running[reqID]
	if inv == nil || inv.inst == nil || inv.inst.id != instID {
		f.mu.Unlock()
		// Already timed out, or not this instance's: FC ignores late answers too.
		writeJSON(w, http.StatusGone, map[string]string{"errorMessage": "no invocation " + reqID + " in flight on this instance"})
		return
	}
	inst := inv.inst
	f.detachLocked(inv)
	var result []byte
	var ferr error
	switch {
	case isError:
		typ, msg, stack := parseRuntimeError(body)
		ferr = &FunctionError{Function: f.spec.Name, RequestID: inv.id, Kind: KindHandled, Type: typ, Message: msg, StackTrace: stack}
	case len(body) > maxSyncPayload:
		ferr = f.fail(inv, KindHandled, "ResponseTooLarge", fmt.Sprintf("the function's response exceeds %d bytes", maxSyncPayload))
	default:
		result = body
	}
	kill := false
	if inv.kind == kindInit {
		if ferr == nil {
			inst.initDone = true
			f.healthyLocked(inst)
			f.broadcastLocked()
		} else {
			inst.killed, kill = true, true // FC discards an instance whose initializer failed
		}
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	if kill {
		f.log.Warn().Str("instance", inst.id).Err(ferr).Msg("initializer failed; restarting the instance")
		inst.kill()
	}
	f.finish(inv, result, ferr)
}

// expire fails an invocation at its deadline and kills the instance, as FC does with a stuck one.
func (f *function) expire(inv *invocation) {
	f.mu.Lock()
	if inv.finished || f.running[inv.id] != inv {
		f.mu.Unlock()
		return
	}
	inst := inv.inst
	f.detachLocked(inv)
	inst.killed = true
	f.mu.Unlock()
	f.log.Warn().Str("requestId", inv.id).Str("instance", inst.id).Dur("timeout", inv.timeout).Msg("invocation timed out; killing the instance")
	inst.kill()
	f.finish(inv, nil, f.fail(inv, KindTimeout, "FunctionTimeout",
		fmt.Sprintf("Function timed out after %g seconds", inv.timeout.Seconds())))
}

// start launches an instance unless one runs or the host is stopping.
func (f *function) start() {
	var initInv *invocation
	if f.spec.Initializer != nil {
		initInv = f.newInvocation(kindInit, nil, "initializer", "")
		creds, err := f.h.creds.get(f.h.ctx, f.spec.Role)
		if err != nil {
			f.log.Error().Err(err).Msg("no credentials for the initializer")
		}
		initInv.creds = creds
	}
	f.mu.Lock()
	if f.closing || f.inst != nil {
		f.mu.Unlock()
		return
	}
	inst := &instance{
		id: newInstanceID(), started: time.Now(), exited: make(chan struct{}),
		initDone: initInv == nil, inflight: map[string]*invocation{},
	}
	if initInv != nil {
		inst.control = []*invocation{initInv}
	}
	stdout := newLineWriter(f.h.log, f.spec.Name, inst.id, "stdout")
	stderr := newLineWriter(f.h.log, f.spec.Name, inst.id, "stderr")
	cmd := exec.Command(f.binary)
	cmd.Dir = f.h.workDir(f)
	cmd.Env = append(append([]string(nil), f.env...),
		"FC_RUNTIME_API="+f.h.runtimeAddr+runtimePrefix+f.spec.Name+"/"+inst.id,
		"FC_INSTANCE_ID="+inst.id)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = stopGrace
	setProcessAttributes(cmd)
	inst.cmd = cmd
	if err := cmd.Start(); err != nil {
		startFail, delay := f.afterExitLocked(inst)
		f.mu.Unlock()
		f.log.Error().Err(err).Str("binary", f.binary).Msg("cannot start the function process")
		f.failAll(startFail, KindStartFailed, "InstanceStartFailed", "the function process cannot start: "+err.Error())
		if initInv != nil {
			f.finish(initInv, nil, f.fail(initInv, KindStartFailed, "InstanceStartFailed", err.Error()))
		}
		f.scheduleStart(delay)
		return
	}
	f.inst = inst
	f.broadcastLocked()
	f.procs.Add(1)
	f.mu.Unlock()
	f.log.Info().Str("instance", inst.id).Int("pid", cmd.Process.Pid).Msg("instance started")
	go f.wait(inst, stdout, stderr)
}

func (f *function) scheduleStart(delay time.Duration) {
	if delay <= 0 {
		go f.start()
		return
	}
	time.AfterFunc(delay, f.start)
}

// afterExitLocked does the bookkeeping when an instance is gone: counts failures, picks the restart
// delay and, after repeated start failures, takes the queue to fail it (nobody should wait forever
// on a function that cannot start).
func (f *function) afterExitLocked(inst *instance) (startFail []*invocation, delay time.Duration) {
	if f.inst == inst {
		f.inst = nil
	}
	f.broadcastLocked()
	if f.closing {
		return nil, 0
	}
	if !inst.ready || !inst.initDone {
		f.failures++
		if f.failures >= maxStartFailures {
			f.broken = fmt.Sprintf("the function's instance failed %d times in a row before it was ready", f.failures)
			startFail, f.queue = f.queue, nil
		}
	}
	switch {
	case inst.killed && inst.ready && inst.initDone:
		f.crashes = 0 // killed on purpose (a timeout): restart at once
	case time.Since(inst.started) < 10*time.Second:
		f.crashes++
	default:
		f.crashes = 1
	}
	return startFail, crashBackoff(f.crashes)
}

func crashBackoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	if n > 7 {
		return maxCrashBackoff
	}
	d := 100 * time.Millisecond << (n - 1)
	if d > maxCrashBackoff {
		d = maxCrashBackoff
	}
	return d
}

func (f *function) failAll(invs []*invocation, kind ErrorKind, typ, msg string) {
	for _, inv := range invs {
		f.finish(inv, nil, f.fail(inv, kind, typ, msg))
	}
}

// wait reaps an instance: fails what it had in flight and starts a successor.
func (f *function) wait(inst *instance, stdout, stderr *lineWriter) {
	defer f.procs.Done()
	err := inst.cmd.Wait()
	stdout.Flush()
	stderr.Flush()
	f.mu.Lock()
	close(inst.exited)
	orphans := make([]*invocation, 0, len(inst.inflight)+len(inst.control))
	for _, inv := range inst.inflight {
		f.detachLocked(inv)
		orphans = append(orphans, inv)
	}
	orphans = append(orphans, inst.control...)
	inst.control = nil
	closing, killed := f.closing, inst.killed
	startFail, delay := f.afterExitLocked(inst)
	f.mu.Unlock()

	status := "exited"
	if err != nil {
		status = err.Error()
	}
	ev := f.log.Warn()
	if closing {
		ev = f.log.Info()
	}
	ev.Str("instance", inst.id).Str("status", status).Bool("killed", killed).Int("inflight", len(orphans)).Msg("instance stopped")
	kind, typ, msg := KindExited, "ProcessExited", "Process exited unexpectedly before completing request ("+status+")"
	if closing {
		kind, typ, msg = KindClosed, "HostClosed", "fchost stopped the instance"
	}
	f.failAll(orphans, kind, typ, msg)
	f.failAll(startFail, KindStartFailed, "InstanceStartFailed",
		fmt.Sprintf("the function's instance failed %d times in a row before it was ready (last: %s)", maxStartFailures, status))
	if !closing {
		f.scheduleStart(delay)
	}
}

// stop runs the preStop hook (when configured), then terminates the instance.
func (f *function) stop() {
	var pre *invocation
	if f.spec.PreStop != nil {
		pre = f.newInvocation(kindPreStop, nil, "preStop", "")
		pre.creds, _ = f.h.creds.get(f.h.ctx, f.spec.Role)
	}
	f.mu.Lock()
	f.closing = true
	queued := f.queue
	f.queue = nil
	inst := f.inst
	if inst != nil && inst.ready && inst.initDone && pre != nil {
		inst.control = append(inst.control, pre)
	} else {
		pre = nil
	}
	f.broadcastLocked()
	f.mu.Unlock()
	f.failAll(queued, KindClosed, "HostClosed", "fchost is stopping")
	if pre != nil {
		select {
		case <-pre.done:
		case <-time.After(pre.timeout + time.Second):
		}
	}
	if inst != nil {
		f.mu.Lock()
		inst.killed = true
		f.mu.Unlock()
		inst.terminate()
		select {
		case <-inst.exited:
		case <-time.After(stopGrace):
			inst.kill()
		}
	}
	f.procs.Wait()
}

// lineWriter forwards a process's output to the host log, one JSON record per line, tagged with
// the function and the stream. A line that is itself a JSON object (a zerolog function) is nested whole.
type lineWriter struct {
	log      zerolog.Logger
	mu       sync.Mutex
	buf      []byte
	function string
	instance string
	stream   string
}

const maxLogLine = 64 << 10

func newLineWriter(log zerolog.Logger, function, instance, stream string) *lineWriter {
	return &lineWriter{log: log, function: function, instance: instance, stream: stream}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			if len(l.buf) >= maxLogLine {
				l.emit(l.buf[:maxLogLine])
				l.buf = append(l.buf[:0], l.buf[maxLogLine:]...)
				continue
			}
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
	return len(p), nil
}

// Flush emits a last line without its newline.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineWriter) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return
	}
	// Log, not Info: a function's own output is shown whatever fchost's level.
	ev := l.log.Log().Str("function", l.function).Str("instance", l.instance).Str("stream", l.stream)
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) > 1 && trimmed[0] == '{' && json.Valid(trimmed) {
		ev.RawJSON("record", trimmed).Send()
		return
	}
	ev.Msg(strings.ToValidUTF8(string(line), "\uFFFD"))
}

// newRequestID is shaped like FC 3.0 request ids: 1-<hex seconds>-<hex>-<hex>.
func newRequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("1-%08x-%s-%s", time.Now().Unix(), h[:8], h[8:])
}

func newInstanceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("c-%08x-%s", time.Now().Unix(), hex.EncodeToString(b))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// baseEnv is what a function inherits from the host: enough to run, nothing else (FC starts
// functions with a clean environment).
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "AUDITWARDEN_LOG_LEVEL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
