// Package sls is localcloud's Simple Log Service: projects, Logstores, indexes, dashboards,
// shards, consumer groups, PutLogs/GetLogs/GetHistograms/PullLogs, spoken over the real SLS
// REST protocol (v1 and v4 signatures) so the unmodified aliyun-log-go-sdk, its producer and
// its consumer library work against it.
//
// The whole state lives in memory behind the Server's own mutex; the world (core.World) is
// consulted only briefly to resolve credentials.
package sls

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// Product is the name SLS calls carry in core.Faults and core.Stats.
const Product = "log"

// apiVersion is the only x-log-apiversion the service accepts.
const apiVersion = "0.6.0"

// Service limits the real service enforces (see the SLS limits page).
const (
	maxLogstoresPerProject = 200
	maxTTLDays             = 3650
	maxShardCount          = 256
	maxRawBodyBytes        = 10 << 20 // PutLogs raw (uncompressed) size
	maxRequestBodyBytes    = 32 << 20 // anything larger is refused before it is read
	maxSkew                = 15 * time.Minute
)

// Server is the SLS endpoint. It serves every route on one port (the project comes from the
// Host header) and implements core.SLSBackend for the services that write into SLS.
type Server struct {
	w *core.World

	mu       sync.RWMutex
	projects map[string]*project
	quotas   map[string]*writeQuota // by project name; may name projects not created yet
}

var _ core.SLSBackend = (*Server)(nil)
var _ http.Handler = (*Server)(nil)

// New makes an empty SLS and registers it as the world's SLS backend.
func New(w *core.World) *Server {
	s := &Server{w: w, projects: map[string]*project{}}
	w.Mu.Lock()
	w.SLS = s
	w.Mu.Unlock()
	return s
}

// read runs f under the read lock, released even if f panics (a handler panic is answered
// with a 500 and must not leave the store locked).
func (s *Server) read(f func()) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f()
}

// apiError is an SLS error answer: HTTP status plus {"errorCode","errorMessage"}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errParam is the service's generic validation error; messages name the field and the rule.
func errParam(format string, args ...any) *apiError {
	return errorf(400, "ParameterInvalid", format, args...)
}

func errProjectNotExist(p string) *apiError {
	return errorf(404, "ProjectNotExist", "The Project does not exist : %s", p)
}

func errLogStoreNotExist(ls string) *apiError {
	return errorf(404, "LogStoreNotExist", "logstore %s does not exist", ls)
}

// call is one request on its way through the pipeline.
type call struct {
	s         *Server
	rw        http.ResponseWriter
	counted   bool
	throttled bool
	r         *http.Request
	requestID string
	project   string // from the Host header; "" for service-level calls
	segs      []string
	query     url.Values
	body      []byte
	caller    core.Principal
	route     route
	now       time.Time

	// recParams and resource feed the ActionTrail record of management writes.
	recParams    map[string]any
	resourceType string
	resourceName string
	wrote        bool
}

// param records a request parameter for the ActionTrail record.
func (c *call) param(k string, v any) {
	if c.recParams == nil {
		c.recParams = map[string]any{}
	}
	c.recParams[k] = v
}

func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	c := &call{s: s, r: r, requestID: newRequestID(), now: s.w.Now()}
	// Count the call as its answer's status is written: a client that reads stats right after
	// its call returns must find it counted.
	c.rw = &countingWriter{ResponseWriter: rw, c: c}
	c.project = projectFromHost(r.Host)
	c.segs = splitPath(r.URL.Path)
	c.query = r.URL.Query()
	c.route = resolve(r.Method, c.segs, c.query, c.project != "")

	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxRequestBodyBytes))
	if err != nil {
		s.finish(c, errorf(413, "PostBodyTooLarge", "the request body must be at most %d bytes", maxRequestBodyBytes), false)
		return
	}
	c.body = body

	caller, aerr := s.authenticate(r, body)
	if aerr != nil {
		c.writeError(aerr)
		return
	}
	c.caller = caller

	d := s.w.Faults.Decide(Product, c.route.action, caller.AccountID)
	if d.Latency > 0 {
		time.Sleep(d.Latency)
	}
	if d.Timeout {
		c.counted = true
		s.w.Stats.Add(Product, c.route.action, caller.AccountID, c.route.write, 504, false)
		core.DropConnection(rw, d.Hold)
		return
	}
	if d.Failed() {
		s.finish(c, faultError(d, c.route), true)
		return
	}
	if c.route.handler == nil {
		s.finish(c, errParam("%s %s is not a Simple Log Service API that localcloud serves", r.Method, r.URL.Path), false)
		return
	}
	var herr error
	func() {
		defer func() {
			// A handler bug must surface as a 500 answer, not a dropped connection.
			if p := recover(); p != nil {
				herr = errorf(500, "InternalServerError", "internal error: %v", p)
			}
		}()
		herr = c.route.handler(c)
	}()
	s.finish(c, herr, false)
}

// faultError renders a fault-layer decision as the error SLS would answer.
func faultError(d core.Decision, rt route) *apiError {
	e := &apiError{Status: d.Status, Code: d.Code, Message: d.Message}
	if e.Code == "" && d.Throttled {
		// SLS answers throttling with its quota errors.
		if rt.write {
			e = errorf(403, "WriteQuotaExceed", "Write quota is exceeded.")
		} else {
			e = errorf(403, "ReadQuotaExceed", "Read quota is exceeded.")
		}
	}
	if e.Code == "" {
		e.Code = "InternalServerError"
	}
	if e.Message == "" {
		e.Message = "Internal server error message."
	}
	if e.Status == 0 {
		e.Status = 400
		if core.IsThrottlingCode(e.Code) {
			e.Status = 403
		}
	}
	return e
}

// finish answers (if the handler did not; the answer counts the call) and leaves its ActionTrail record.
func (s *Server) finish(c *call, err error, fault bool) {
	code, msg := "", ""
	var e *apiError
	if err != nil {
		var ok bool
		if e, ok = err.(*apiError); !ok {
			e = errorf(500, "InternalServerError", "%v", err)
		}
		code, msg = e.Code, e.Message
	}
	c.throttled = core.IsThrottlingCode(code)
	if e != nil {
		c.writeError(e)
	} else if !c.wrote {
		c.ok()
	}
	// Only authenticated calls that reached their handler leave a record.
	if !fault && c.caller.AccountID != "" && c.route.handler != nil && !c.route.data && (c.route.record || s.recordReads()) {
		s.record(c, code, msg)
	}
}

func (s *Server) recordReads() bool {
	s.w.Mu.RLock()
	defer s.w.Mu.RUnlock()
	return s.w.RecordReads
}

// record leaves the ActionTrail event of a management call. Field values follow the RPC
// products' records; the exact SLS eventSource and resource naming are UNVERIFIED.
func (s *Server) record(c *call, code, msg string) {
	rw := "Read"
	if c.route.write {
		rw = "Write"
	}
	params := map[string]any{}
	if c.project != "" {
		params["ProjectName"] = c.project
	}
	for k, v := range c.recParams {
		params[k] = v
	}
	ev := &core.Event{
		EventName:          c.route.action,
		EventSource:        "log.aliyuncs.com",
		EventType:          "ApiCall",
		EventRW:            rw,
		AcsRegion:          s.w.Region,
		ServiceName:        "Sls",
		APIVersion:         apiVersion,
		RequestID:          c.requestID,
		SourceIPAddress:    sourceIP(c.r),
		UserAgent:          c.r.UserAgent(),
		RecipientAccountID: c.caller.AccountID,
		UserIdentity:       core.IdentityOf(c.caller),
		RequestParameters:  params,
		ResourceType:       c.resourceType,
		ResourceName:       c.resourceName,
		ErrorCode:          code,
		ErrorMessage:       msg,
	}
	s.w.Recorder.Record(ev)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (c *call) baseHeaders() {
	h := c.rw.Header()
	h.Set("x-log-requestid", c.requestID)
	h.Set("Server", "nginx")
	h.Set("Access-Control-Allow-Origin", "*")
}

func (c *call) writeError(e *apiError) {
	c.wrote = true
	body, _ := json.Marshal(map[string]string{"errorCode": e.Code, "errorMessage": e.Message})
	c.baseHeaders()
	c.rw.Header().Set("Content-Type", "application/json")
	c.rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.rw.WriteHeader(e.Status)
	c.rw.Write(body)
}

// ok answers 200 with an empty body (every SLS success is exactly 200).
func (c *call) ok() {
	c.wrote = true
	c.baseHeaders()
	c.rw.Header().Set("Content-Type", "application/json")
	c.rw.Header().Set("Content-Length", "0")
	c.rw.WriteHeader(200)
}

// json answers 200 with v as JSON; extra headers are set first.
func (c *call) json(v any, headers ...string) error {
	body, err := json.Marshal(v)
	if err != nil {
		return errorf(500, "InternalServerError", "encode response: %v", err)
	}
	c.raw(body, "application/json", headers...)
	return nil
}

func (c *call) raw(body []byte, contentType string, headers ...string) {
	c.wrote = true
	c.baseHeaders()
	h := c.rw.Header()
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.rw.WriteHeader(200)
	c.rw.Write(body)
}

// decodeJSON reads the request body as a JSON object into v.
func (c *call) decodeJSON(v any) *apiError {
	if len(c.body) == 0 {
		return errParam("The body is not valid json string: the body is empty")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errParam("The body is not valid json string: %v", err)
	}
	return nil
}

// newRequestID is shaped like SLS request ids: 24 upper-case hex digits, time first.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%08X%s", uint32(time.Now().Unix()), strings.ToUpper(hex.EncodeToString(b[:])))
}

func splitPath(p string) []string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

// countingWriter counts its call in stats once, when the answer's status is written.
type countingWriter struct {
	http.ResponseWriter
	c *call
}

func (w *countingWriter) count(status int) {
	c := w.c
	if c.counted {
		return
	}
	c.counted = true
	c.s.w.Stats.Add(Product, c.route.action, c.caller.AccountID, c.route.write, status, c.throttled)
}

func (w *countingWriter) WriteHeader(status int) {
	w.count(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.count(http.StatusOK)
	return w.ResponseWriter.Write(b)
}
