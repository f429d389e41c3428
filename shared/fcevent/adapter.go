package fcevent

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HTTPHandler turns an http.Handler into the FC event handler of an HTTP trigger, so the api
// function's main is fc.Start(fcevent.HTTPHandler(mux)) and its tests drive the same mux
// with httptest. An event that does not decode is answered 400 (field and rule in the body)
// rather than failing the invocation: it is a bad request, not a broken function.
func HTTPHandler(h http.Handler) func(ctx context.Context, payload []byte) (HTTPResponse, error) {
	return func(ctx context.Context, payload []byte) (HTTPResponse, error) {
		req, err := DecodeHTTP(payload)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return ErrorResponse(http.StatusBadRequest, fe.Field, fe.Rule, fe.Message), nil
			}
			return ErrorResponse(http.StatusBadRequest, "payload", RuleFormat, err.Error()), nil
		}
		return Serve(ctx, h, req), nil
	}
}

// Serve runs h on r under ctx (the invocation's context: deadline, FC credentials) and returns
// the response. A panic in h propagates: the FC runtime reports it with its stack trace.
func Serve(ctx context.Context, h http.Handler, r HTTPRequest) HTTPResponse {
	if ctx == nil {
		ctx = context.Background()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, ToHTTPRequest(r).WithContext(ctx))
	return FromRecorder(rec)
}

// ToHTTPRequest builds the server-side request a net/http handler expects from a decoded
// trigger event: URL with the decoded path (and the raw one when it is a valid encoding),
// query, canonical headers without Host (it is in Host, as net/http servers do), body,
// ContentLength, RemoteAddr ("<sourceIp>:0") and RequestURI. Two headers carry what net/http
// has no field for: X-Fc-Request-Id (the request id, if the event's headers lack it) and
// X-Fc-Authenticated, set to r.Authenticated so RequestAuthenticated gives the decoder's
// verdict. The context is context.Background(): use WithContext, or Serve.
func ToHTTPRequest(r HTTPRequest) *http.Request {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	u := &url.URL{Path: path, RawQuery: r.Query.Encode()}
	if r.RawPath != "" {
		if p, err := url.PathUnescape(r.RawPath); err == nil && p == path {
			u.RawPath = r.RawPath
		}
	}
	major, minor, ok := http.ParseHTTPVersion(r.Proto)
	proto := r.Proto
	if !ok {
		major, minor, proto = 1, 1, "HTTP/1.1"
	}
	header := r.Headers.Clone()
	if header == nil {
		header = http.Header{}
	}
	host := r.Host
	if host == "" {
		host = header.Get("Host")
	}
	header.Del("Host")
	if r.RequestID != "" && header.Get("X-Fc-Request-Id") == "" {
		header.Set("X-Fc-Request-Id", r.RequestID)
	}
	header.Set(HeaderAuthenticated, strconv.FormatBool(r.Authenticated))

	body := append([]byte(nil), r.Body...) // the handler may keep the request; do not share r's bytes
	req := &http.Request{
		Method: method, URL: u, Proto: proto, ProtoMajor: major, ProtoMinor: minor,
		Header: header, Host: host, RequestURI: u.RequestURI(), ContentLength: int64(len(body)),
		Body: http.NoBody,
	}
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if r.SourceIP != "" {
		req.RemoteAddr = net.JoinHostPort(r.SourceIP, "0")
	}
	return req
}

// hopHeaders describe the connection to the function, not the response; FC sets its own.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Trailer": true,
	"Upgrade": true, "Content-Length": true,
}

// FromRecorder turns what a handler wrote into the trigger response. Repeated headers are
// joined with ", " (the response format holds one string per name; Set-Cookie cannot survive
// that, and the api sets no cookies). A textual body (text/*, JSON, XML, YAML, form, or no
// Content-Type, valid UTF-8, not content-encoded) is sent as is; anything else is base64 with
// isBase64Encoded true, which FC decodes, so binary bodies arrive byte for byte.
func FromRecorder(rec *httptest.ResponseRecorder) HTTPResponse {
	if rec == nil {
		return ErrorResponse(http.StatusInternalServerError, "", "internal", "no response was recorded")
	}
	res := rec.Result()
	var body []byte
	if rec.Body != nil {
		body = rec.Body.Bytes()
	}
	headers := make(map[string]string, len(res.Header))
	for k, vs := range res.Header {
		if hopHeaders[http.CanonicalHeaderKey(k)] || len(vs) == 0 {
			continue
		}
		headers[k] = strings.Join(vs, ", ")
	}
	out := HTTPResponse{StatusCode: res.StatusCode, Headers: headers}
	if isText(res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"), body) {
		out.Body = string(body)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(body)
		out.IsBase64Encoded = true
	}
	return out
}

// isText decides whether a body can travel as a JSON string unchanged. When unsure it says no:
// base64 is always safe, a wrongly textual body is corrupted (invalid UTF-8 becomes U+FFFD).
func isText(contentType, contentEncoding string, body []byte) bool {
	if len(body) == 0 {
		return true
	}
	if contentEncoding != "" && !strings.EqualFold(contentEncoding, "identity") {
		return false
	}
	if !utf8.Valid(body) {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded",
		"application/yaml", "application/x-yaml", "application/x-ndjson":
		return true
	}
	return false
}
