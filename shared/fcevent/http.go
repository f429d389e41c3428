package fcevent

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxSyncPayload is Function Compute's limit on a synchronous invocation's payload (32 MB);
// an HTTP trigger event, body included, is never larger.
const MaxSyncPayload = 32 << 20

// HTTPRequest is an HTTP trigger invocation, decoded.
type HTTPRequest struct {
	Method  string
	Path    string // decoded ("/v1/members/123/enroll")
	RawPath string // as sent, URL-encoded
	Query   url.Values
	// Headers have canonical keys. FC joins repeated headers with commas into one value; that
	// value is kept whole (splitting would break values that contain commas themselves).
	Headers   http.Header
	Body      []byte
	Host      string // requestContext.domainName
	Proto     string // "HTTP/1.1"
	RequestID string
	SourceIP  string
	Time      time.Time // requestContext.time (or timeEpoch); zero when neither parses
	// Authenticated: see RequestAuthenticated for the rule.
	Authenticated bool
}

// DecodeHTTP decodes an FC 3.0 HTTP trigger event (version "v1"): rawPath is URL-decoded, a
// base64 body (isBase64Encoded) is decoded, header keys are canonicalized, and
// requestContext.http.method is required. Events over MaxSyncPayload are refused.
func DecodeHTTP(raw []byte) (HTTPRequest, error) {
	v, err := decodeJSON(raw, MaxSyncPayload)
	if err != nil {
		return HTTPRequest{}, err
	}
	root, ok, err := asObject(v, "payload")
	if err != nil {
		return HTTPRequest{}, err
	}
	if !ok {
		return HTTPRequest{}, fieldErr("payload", RuleRequired, "must be the HTTP trigger event object, got null")
	}
	root.path = ""
	r := reader{o: root}
	version := r.str("version")
	rawPath := r.str("rawPath")
	body := r.str("body")
	if r.err != nil {
		return HTTPRequest{}, r.err
	}
	if version != "" && version != "v1" {
		return HTTPRequest{}, fieldErr("version", RuleValue, `must be "v1" (the FC 3.0 HTTP trigger event), got %q`, clip(version))
	}
	b64, err := boolField(root, "isBase64Encoded")
	if err != nil {
		return HTTPRequest{}, err
	}
	rc, _, err := root.obj("requestContext")
	if err != nil {
		return HTTPRequest{}, err
	}
	hc, _, err := rc.obj("http")
	if err != nil {
		return HTTPRequest{}, err
	}
	c := reader{o: rc}
	h := reader{o: hc}
	req := HTTPRequest{
		Method:    h.str("method"),
		Proto:     h.str("protocol"),
		SourceIP:  h.str("sourceIp"),
		Host:      c.str("domainName"),
		RequestID: c.str("requestId"),
	}
	ctxPath := h.str("path")
	userAgent := h.str("userAgent")
	ts, epoch := c.str("time"), c.str("timeEpoch")
	if c.err != nil {
		return HTTPRequest{}, c.err
	}
	if h.err != nil {
		return HTTPRequest{}, h.err
	}
	if req.Method == "" {
		return HTTPRequest{}, fieldErr("requestContext.http.method", RuleRequired, "must be the HTTP method, e.g. GET")
	}
	if !isToken(req.Method) {
		return HTTPRequest{}, fieldErr("requestContext.http.method", RuleFormat, "must be an HTTP method token, got %q", clip(req.Method))
	}
	if req.Proto == "" {
		req.Proto = "HTTP/1.1"
	}
	req.Time = requestTime(ts, epoch)

	// rawPath is authoritative; requestContext.http.path is the fallback for events without it.
	pathField := "rawPath"
	if rawPath == "" {
		rawPath, pathField = ctxPath, "requestContext.http.path"
	}
	if rawPath == "" {
		rawPath = "/"
	}
	if !strings.HasPrefix(rawPath, "/") {
		return HTTPRequest{}, fieldErr(pathField, RuleFormat, "must start with /, got %q", clip(rawPath))
	}
	if req.Path, err = url.PathUnescape(rawPath); err != nil {
		return HTTPRequest{}, fieldErr(pathField, RuleFormat, "must be a URL-encoded path: %v", err)
	}
	req.RawPath = rawPath

	if req.Headers, err = headersFrom(root); err != nil {
		return HTTPRequest{}, err
	}
	if userAgent != "" && req.Headers.Get("User-Agent") == "" {
		req.Headers.Set("User-Agent", userAgent)
	}
	if req.Query, err = queryFrom(root); err != nil {
		return HTTPRequest{}, err
	}
	if b64 {
		if req.Body, err = decodeBase64(body); err != nil {
			return HTTPRequest{}, fieldErr("body", RuleFormat, "must be base64 when isBase64Encoded is true: %v", err)
		}
	} else if body != "" {
		req.Body = []byte(body)
	}
	if req.Host == "" {
		req.Host = req.Headers.Get("Host")
	}
	if req.RequestID == "" {
		req.RequestID = req.Headers.Get("X-Fc-Request-Id")
	}
	req.Authenticated = authenticated(req.Headers, req.Query)
	return req, nil
}

// Headers FC sets or signs with. They are the whole authentication rule, see RequestAuthenticated.
const (
	HeaderAuthenticated = "X-Fc-Authenticated" // set by auditwarden's local FC host (fchost)
	headerFCDate        = "X-Fc-Date"
	headerACSDate       = "X-Acs-Date"
)

// RequestAuthenticated reports whether the platform authenticated the call; handlers of
// mutating routes require it. The function cannot verify a signature itself (it never sees the
// caller's secret), so the rule trusts the platform in front of it:
//
//  1. X-Fc-Authenticated, when present, is the verdict: "true" (any case) or not authenticated.
//     auditwarden's local host sets it after checking the signature, and must strip any value a
//     client sent.
//  2. Otherwise a signed request is authenticated: an Authorization header together with the
//     signature's date header (X-Acs-Date for FC 3.0's ACS3-HMAC-SHA256 signatures, X-Fc-Date
//     for FC's own "FC <ak>:<sig>" scheme), or a pre-signed URL (x-fc-signature,
//     x-fc-access-key-id and x-fc-expires in the query).
//
// Rule 2 is sound only behind an HTTP trigger with authType "function": FC then answers 403 to
// unsigned or badly signed calls before the function runs, so a signed-looking request that
// reaches us was verified. Behind authType "anonymous" any caller can forge these headers:
// never deploy the api function that way.
func RequestAuthenticated(r *http.Request) bool {
	if r == nil {
		return false
	}
	var q url.Values
	if r.URL != nil {
		q = r.URL.Query()
	}
	return authenticated(r.Header, q)
}

func authenticated(h http.Header, q url.Values) bool {
	if vs, ok := h[HeaderAuthenticated]; ok {
		return len(vs) > 0 && strings.EqualFold(strings.TrimSpace(vs[0]), "true")
	}
	if strings.TrimSpace(h.Get("Authorization")) != "" && (h.Get(headerACSDate) != "" || h.Get(headerFCDate) != "") {
		return true
	}
	return q.Get("x-fc-signature") != "" && q.Get("x-fc-access-key-id") != "" && q.Get("x-fc-expires") != ""
}

func boolField(o object, key string) (bool, error) {
	switch t := o.get(key).(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	case string: // tolerated: some gateways stringify every value
		b, err := strconv.ParseBool(t)
		if err != nil {
			return false, fieldErr(join(o.path, key), RuleType, "must be true or false, got %q", clip(t))
		}
		return b, nil
	default:
		return false, fieldErr(join(o.path, key), RuleType, "must be true or false, got %s", jsonKind(t))
	}
}

// headersFrom reads headers: a map of name to value (a list of values is tolerated).
func headersFrom(root object) (http.Header, error) {
	ho, _, err := root.obj("headers")
	if err != nil {
		return nil, err
	}
	out := http.Header{}
	for name, v := range ho.m {
		field := "headers." + clip(name)
		if !isToken(name) {
			return nil, fieldErr(field, RuleFormat, "is not a valid header name")
		}
		values, err := stringValues(v, field)
		if err != nil {
			return nil, err
		}
		key := http.CanonicalHeaderKey(name)
		for _, val := range values {
			if strings.ContainsAny(val, "\r\n\x00") {
				return nil, fieldErr(field, RuleFormat, "must not contain CR, LF or NUL")
			}
			out[key] = append(out[key], val)
		}
	}
	return out, nil
}

// queryFrom reads queryParameters. FC joins repeated parameters with commas; the joined value is
// kept whole because a comma inside one value is indistinguishable from the join.
func queryFrom(root object) (url.Values, error) {
	qo, _, err := root.obj("queryParameters")
	if err != nil {
		return nil, err
	}
	out := url.Values{}
	for name, v := range qo.m {
		values, err := stringValues(v, "queryParameters."+clip(name))
		if err != nil {
			return nil, err
		}
		out[name] = append(out[name], values...)
	}
	return out, nil
}

// stringValues accepts a scalar or a list of scalars.
func stringValues(v any, field string) ([]string, error) {
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for i, item := range list {
			s, err := scalar(item, field+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(v, field)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// decodeBase64 takes standard base64 with or without padding (encoders differ), ignoring line breaks.
func decodeBase64(s string) ([]byte, error) {
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

func requestTime(ts, epoch string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		return t
	}
	if ms, err := strconv.ParseInt(epoch, 10, 64); err == nil && ms > 0 && ms < 1<<50 {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

// isToken reports whether s is an RFC 9110 token (method and header-name syntax).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
