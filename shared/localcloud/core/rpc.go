package core

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Error is an API error as the RPC products return it: HTTP status, Code and Message.
type Error struct {
	Status    int
	Code      string
	Message   string
	Recommend string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Action is one API action of an RPC product.
type Action struct {
	Handler func(*Call) (any, error)
	// Write actions are always recorded by ActionTrail; reads only when World.RecordReads is set.
	Write bool
	// Anonymous actions skip authentication (none of the products here have one, but tests may).
	Anonymous bool
}

// Service is one RPC product (one API Version).
type Service struct {
	Product     string // name in stats and faults: ResourceManager, Actiontrail, Sts, Ram, Sls
	Version     string
	EventSource string // resourcemanager.aliyuncs.com
	ServiceName string // ResourceManager
	Actions     map[string]Action
}

// Call is one authenticated RPC request as a handler sees it.
type Call struct {
	World     *World
	Service   *Service
	Action    string
	Version   string
	Region    string
	Method    string
	RequestID string
	Params    map[string]string
	Caller    Principal
	SourceIP  string
	UserAgent string
	// Record is the ActionTrail record this call leaves; a handler may enrich it or set it to nil.
	Record *Event
}

// Get returns a parameter ("" when absent).
func (c *Call) Get(name string) string { return c.Params[name] }

// Require returns a parameter or MissingParameter.<Name>.
func (c *Call) Require(name string) (string, error) {
	v := c.Params[name]
	if v == "" {
		return "", Errorf(400, "MissingParameter."+name, "The parameter %s is required.", name)
	}
	return v, nil
}

// Int parses an integer parameter with a default and inclusive bounds.
func (c *Call) Int(name string, def, min, max int) (int, error) {
	v := c.Params[name]
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, Errorf(400, "InvalidParameter."+name, "The parameter %s must be an integer from %d to %d.", name, min, max)
	}
	return n, nil
}

// Bool parses a boolean parameter with a default.
func (c *Call) Bool(name string, def bool) (bool, error) {
	switch strings.ToLower(c.Params[name]) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, Errorf(400, "InvalidParameter."+name, "The parameter %s must be true or false.", name)
}

// RepeatList reads a repeated structure such as LookupAttribute.1.Key / LookupAttribute.1.Value.
func (c *Call) RepeatList(prefix string) []map[string]string {
	byIndex := map[int]map[string]string{}
	for k, v := range c.Params {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		idxStr, field, _ := strings.Cut(rest, ".")
		idx, err := strconv.Atoi(idxStr)
		if err != nil {
			continue
		}
		if byIndex[idx] == nil {
			byIndex[idx] = map[string]string{}
		}
		byIndex[idx][field] = v
	}
	keys := make([]int, 0, len(byIndex))
	for k := range byIndex {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, byIndex[k])
	}
	return out
}

// IsManagement reports whether the caller acts as the management account.
func (c *Call) IsManagement() bool {
	c.World.Mu.RLock()
	defer c.World.Mu.RUnlock()
	return c.Caller.AccountID == c.World.ManagementAccountID
}

// RPCServer verifies, throttles, dispatches and records RPC calls for every registered product.
type RPCServer struct {
	World *World
	mu    sync.RWMutex
	byVer map[string]*Service
	// MaxSkew is how far Timestamp may be from the wall clock (real services allow 15 minutes).
	MaxSkew time.Duration
}

// NewRPCServer makes an RPC gateway; register products on it.
func NewRPCServer(w *World) *RPCServer {
	return &RPCServer{World: w, byVer: map[string]*Service{}, MaxSkew: 15 * time.Minute}
}

// Register adds a product, dispatched by its Version.
func (s *RPCServer) Register(svc *Service) {
	s.mu.Lock()
	s.byVer[svc.Version] = svc
	s.mu.Unlock()
}

var signatureParams = map[string]bool{
	"Signature": true, "SignatureMethod": true, "SignatureVersion": true, "SignatureNonce": true,
	"SignatureType": true, "AccessKeyId": true, "Timestamp": true, "Format": true, "Version": true,
	"Action": true, "SecurityToken": true,
}

func (s *RPCServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	requestID := NewRequestID()
	if err := r.ParseForm(); err != nil {
		writeRPCError(rw, requestID, Errorf(400, "InvalidParameter", "The request body could not be parsed: %v", err))
		return
	}
	params := make(map[string]string, len(r.Form))
	for k, v := range r.Form {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	action, version := params["Action"], params["Version"]
	if action == "" {
		writeRPCError(rw, requestID, Errorf(400, "MissingAction", "Action is mandatory for this request."))
		return
	}
	s.mu.RLock()
	svc := s.byVer[version]
	s.mu.RUnlock()
	if version == "" {
		writeRPCError(rw, requestID, Errorf(400, "MissingVersion", "Version is mandatory for this request."))
		return
	}
	if svc == nil {
		writeRPCError(rw, requestID, Errorf(400, "InvalidVersion", "Specified parameter Version is not valid."))
		return
	}
	spec, ok := svc.Actions[action]
	if !ok {
		writeRPCError(rw, requestID, Errorf(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	var caller Principal
	if !spec.Anonymous {
		p, aerr := s.authenticate(r.Method, params)
		if aerr != nil {
			s.World.Stats.Add(svc.Product, action, "", spec.Write, aerr.Status, false)
			writeRPCError(rw, requestID, aerr)
			return
		}
		caller = p
	}
	d := s.World.Faults.Decide(svc.Product, action, caller.AccountID)
	if d.Latency > 0 {
		time.Sleep(d.Latency)
	}
	if d.Timeout {
		s.World.Stats.Add(svc.Product, action, caller.AccountID, spec.Write, 504, false)
		DropConnection(rw, d.Hold)
		return
	}
	if d.Failed() {
		e := &Error{Status: d.Status, Code: d.Code, Message: d.Message}
		if d.Throttled && e.Code == "" {
			e = Errorf(400, "Throttling.User", "Request was denied due to user flow control.")
		}
		if e.Status == 0 {
			e.Status = 400
		}
		s.World.Stats.Add(svc.Product, action, caller.AccountID, spec.Write, e.Status, d.Throttled)
		writeRPCError(rw, requestID, e)
		return
	}
	region := params["RegionId"]
	if region == "" {
		region = s.World.Region
	}
	call := &Call{
		World: s.World, Service: svc, Action: action, Version: version, Region: region, Method: r.Method,
		RequestID: requestID, Params: params, Caller: caller, SourceIP: sourceIP(r), UserAgent: r.UserAgent(),
	}
	if spec.Write || s.World.RecordReads {
		call.Record = newRecord(call, spec.Write)
	}
	result, err := spec.Handler(call)
	status, throttled := 200, false
	var apiErr *Error
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			e = Errorf(500, "InternalError", "%v", err)
		}
		apiErr = e
		status = e.Status
		throttled = IsThrottlingCode(e.Code)
		if call.Record != nil {
			call.Record.ErrorCode, call.Record.ErrorMessage = e.Code, e.Message
		}
	}
	// Count and record before answering: a client that reads stats or history right after its
	// call returns must see that call.
	s.World.Stats.Add(svc.Product, action, caller.AccountID, spec.Write, status, throttled)
	if call.Record != nil {
		s.World.Recorder.Record(call.Record)
	}
	if apiErr != nil {
		writeRPCError(rw, requestID, apiErr)
	} else {
		writeRPCResult(rw, requestID, result)
	}
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newRecord(c *Call, write bool) *Event {
	rp := map[string]any{}
	for k, v := range c.Params {
		if !signatureParams[k] {
			rp[k] = v
		}
	}
	rw := "Read"
	if write {
		rw = "Write"
	}
	return &Event{
		EventName: c.Action, EventSource: c.Service.EventSource, EventType: "ApiCall", EventRW: rw,
		AcsRegion: c.Region, ServiceName: c.Service.ServiceName, APIVersion: c.Version, RequestID: c.RequestID,
		SourceIPAddress: c.SourceIP, UserAgent: c.UserAgent, RecipientAccountID: c.Caller.AccountID,
		UserIdentity:      IdentityOf(c.Caller),
		RequestParameters: rp,
	}
}

// IdentityOf is the userIdentity block of a record for a principal.
func IdentityOf(p Principal) UserIdentity {
	return UserIdentity{
		Type: p.Type, AccountID: p.AccountID, PrincipalID: p.PrincipalID, UserName: p.UserName,
		AccessKeyID: p.AccessKeyID, SessionName: p.RoleSessionName, Arn: p.ARN(),
	}
}

func (s *RPCServer) authenticate(method string, params map[string]string) (Principal, *Error) {
	for _, k := range []string{"AccessKeyId", "Signature", "SignatureNonce", "Timestamp"} {
		if params[k] == "" {
			return Principal{}, Errorf(400, "Missing"+k, "%s is mandatory for this action.", k)
		}
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", params["Timestamp"])
	if err != nil {
		return Principal{}, Errorf(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	if skew := time.Since(ts); skew > s.MaxSkew || skew < -s.MaxSkew {
		return Principal{}, Errorf(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	}
	var h func() hash.Hash
	switch params["SignatureMethod"] {
	case "HMAC-SHA1", "":
		h = sha1.New
	case "HMAC-SHA256":
		h = sha256.New
	default:
		return Principal{}, Errorf(400, "InvalidSignatureMethod", "Specified signature method is not valid.")
	}
	p, secret, aerr := s.World.Authenticate(params["AccessKeyId"], params["SecurityToken"])
	if aerr != nil {
		return Principal{}, &Error{Status: aerr.Status, Code: aerr.Code, Message: aerr.Message}
	}
	sts := RPCStringToSign(method, params)
	mac := hmac.New(h, []byte(secret+"&"))
	mac.Write([]byte(sts))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(params["Signature"])) {
		return Principal{}, Errorf(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", sts)
	}
	if !s.World.UseNonce(params["AccessKeyId"], params["SignatureNonce"]) {
		return Principal{}, Errorf(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	return p, nil
}

// RPCStringToSign is the RPC v1 string to sign: METHOD&%2F&percentEncode(sorted canonical query).
func RPCStringToSign(method string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = PercentEncode(k) + "=" + PercentEncode(params[k])
	}
	return strings.ToUpper(method) + "&%2F&" + PercentEncode(strings.Join(parts, "&"))
}

// PercentEncode is the RPC flavour of URL encoding.
func PercentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

func writeRPCError(rw http.ResponseWriter, requestID string, e *Error) {
	body, _ := json.Marshal(map[string]string{
		"RequestId": requestID, "HostId": "localcloud", "Code": e.Code, "Message": e.Message,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + e.Code + "&requestId=" + requestID,
	})
	rw.Header().Set("Content-Type", "application/json;charset=utf-8")
	rw.Header().Set("x-acs-request-id", requestID)
	rw.WriteHeader(e.Status)
	rw.Write(body)
}

func writeRPCResult(rw http.ResponseWriter, requestID string, result any) {
	body, err := json.Marshal(result)
	if err != nil {
		writeRPCError(rw, requestID, Errorf(500, "InternalError", "marshal: %v", err))
		return
	}
	rid, _ := json.Marshal(requestID)
	switch {
	case result == nil || string(body) == "null" || string(body) == "{}":
		body = []byte(`{"RequestId":` + string(rid) + `}`)
	case body[0] == '{':
		// RequestId first, as the real services write it.
		body = append([]byte(`{"RequestId":`+string(rid)+`,`), body[1:]...)
	}
	rw.Header().Set("Content-Type", "application/json;charset=utf-8")
	rw.Header().Set("x-acs-request-id", requestID)
	rw.WriteHeader(200)
	rw.Write(body)
}

// DropConnection holds a request for a while and then closes the connection without answering,
// which is what a client sees when a call times out in the network.
func DropConnection(rw http.ResponseWriter, hold time.Duration) {
	time.Sleep(hold)
	if hj, ok := rw.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// APITime formats times as Resource Manager does (milliseconds).
func APITime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// APITimeSeconds formats times as ActionTrail does (seconds).
func APITimeSeconds(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// IsThrottlingCode reports whether an error code means "slow down" (a service quota, not a fault).
func IsThrottlingCode(code string) bool {
	return strings.Contains(code, "Throttling") || code == "LimitExceeded.Frequency" || code == "WriteQuotaExceed" || code == "ReadQuotaExceed" || code == "SlowDown"
}
