package fchost

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// HTTPEvent is what an FC 3.0 event function behind an HTTP trigger receives (version v1).
type HTTPEvent struct {
	Version         string            `json:"version"`
	RawPath         string            `json:"rawPath"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Headers         map[string]string `json:"headers"`
	QueryParameters map[string]string `json:"queryParameters"`
	RequestContext  HTTPEventContext  `json:"requestContext"`
}

// HTTPEventContext is the event's requestContext.
type HTTPEventContext struct {
	AccountID    string        `json:"accountId"`
	DomainName   string        `json:"domainName"`
	DomainPrefix string        `json:"domainPrefix"`
	HTTP         HTTPEventHTTP `json:"http"`
	RequestID    string        `json:"requestId"`
	Time         string        `json:"time"`
	TimeEpoch    string        `json:"timeEpoch"`
}

// HTTPEventHTTP is requestContext.http.
type HTTPEventHTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// AuthenticatedHeader tells the function whether fchost verified the caller (value "true" or
// "false"), so it can double-check; a client cannot set it. Headers reach the function in Go's
// canonical form: look them up case-insensitively.
const AuthenticatedHeader = "X-Fc-Authenticated"

func mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// authenticated: Authorization: Bearer <token>, compared in constant time.
func (h *Host) authenticated(r *http.Request) bool {
	v := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	tok = strings.TrimSpace(tok)
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(h.token)) == 1
}

// triggerHandler serves one function's HTTP trigger: method check, authentication of mutating
// methods (authType function; jwt is treated alike locally), event in, response out.
func (h *Host) triggerHandler(spec *Function, t *Trigger) http.Handler {
	allowed := map[string]bool{}
	for _, m := range t.HTTP.Methods {
		allowed[m] = true
	}
	allow := strings.Join(t.HTTP.Methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := h.funcs[spec.Name]
		inv := f.newInvocation(kindInvoke, nil, SourceHTTP, t.Name)
		inv.qualifier = t.Qualifier
		w.Header().Set("x-fc-request-id", inv.id)
		if !allowed[r.Method] {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
				"error": fmt.Sprintf("method %s is not allowed by trigger %s (methods: %s)", r.Method, t.Name, allow)})
			return
		}
		authed := h.authenticated(r)
		if t.HTTP.AuthType != "anonymous" && mutating(r.Method) && !authed {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fchost"`)
			msg := "authentication required: send Authorization: Bearer <token> (authType " + t.HTTP.AuthType + ")"
			if r.Header.Get("Authorization") != "" {
				msg = "authentication failed: the bearer token is not the one fchost printed"
			}
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxSyncPayload+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading the request body: " + err.Error()})
			return
		}
		if len(body) > maxSyncPayload {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("the request body exceeds %d bytes", maxSyncPayload)})
			return
		}
		ev := BuildHTTPEvent(r, body, authed, inv.id, h.accountID(spec), time.Now())
		inv.payload, _ = json.Marshal(ev)
		_, res, err := h.run(r.Context(), inv)
		if err != nil {
			writeInvokeError(w, err)
			return
		}
		status, hdr, out, err := DecodeHTTPResponse(res)
		if err != nil {
			w.Header().Set("x-fc-error-type", "UnhandledInvocationError")
			writeJSON(w, http.StatusBadGateway, map[string]string{"errorMessage": err.Error(), "errorType": "InvalidHTTPResponse"})
			return
		}
		for k, vs := range hdr {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	})
}

// writeInvokeError answers a failed invocation the way an HTTP trigger does.
func writeInvokeError(w http.ResponseWriter, err error) {
	var fe *FunctionError
	switch {
	case errors.As(err, &fe) && fe.Kind == KindClosed:
		w.Header().Set("x-fc-error-type", "FcCommonError")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"errorMessage": fe.Message, "errorType": fe.Type})
	case errors.As(err, &fe):
		w.Header().Set("x-fc-error-type", "UnhandledInvocationError")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write(fe.Body())
	case errors.Is(err, ErrCredentials):
		w.Header().Set("x-fc-error-type", "FcCommonError")
		writeJSON(w, http.StatusInternalServerError, map[string]string{"errorMessage": err.Error(), "errorType": "CredentialsError"})
	default: // the client went away or the host stops
		w.Header().Set("x-fc-error-type", "FcCommonError")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"errorMessage": err.Error(), "errorType": "FcCommonError"})
	}
}

// BuildHTTPEvent converts a request into the FC 3.0 HTTP trigger event. Multi-valued headers and
// query parameters are joined with commas; a body that is not UTF-8 text is base64-encoded. The
// Authorization header is dropped when fchost consumed it (the token is the platform's, not the
// function's), and X-Fc-Authenticated is set by fchost alone.
func BuildHTTPEvent(r *http.Request, body []byte, authenticated bool, requestID, accountID string, now time.Time) HTTPEvent {
	headers := map[string]string{}
	for k, vs := range r.Header {
		ck := http.CanonicalHeaderKey(k)
		if ck == AuthenticatedHeader || (authenticated && ck == "Authorization") {
			continue
		}
		headers[ck] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["Host"] = r.Host
	}
	headers[AuthenticatedHeader] = strconv.FormatBool(authenticated)

	query := map[string]string{}
	if vals, err := url.ParseQuery(r.URL.RawQuery); err == nil {
		for k, vs := range vals {
			query[k] = strings.Join(vs, ",")
		}
	} else {
		// A malformed query still reaches the function: keep the pairs that parse.
		for _, pair := range strings.Split(r.URL.RawQuery, "&") {
			k, v, _ := strings.Cut(pair, "=")
			uk, err1 := url.QueryUnescape(k)
			uv, err2 := url.QueryUnescape(v)
			if err1 == nil && err2 == nil && uk != "" {
				if old, ok := query[uk]; ok {
					uv = old + "," + uv
				}
				query[uk] = uv
			}
		}
	}

	ev := HTTPEvent{Version: "v1", RawPath: r.URL.EscapedPath(), Headers: headers, QueryParameters: query}
	if len(body) > 0 {
		if utf8.Valid(body) && textual(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	if net.ParseIP(host) != nil {
		prefix = host
	}
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(sourceIP); err == nil {
		sourceIP = h
	}
	ev.RequestContext = HTTPEventContext{
		AccountID: accountID, DomainName: r.Host, DomainPrefix: prefix, RequestID: requestID,
		Time: now.UTC().Format(time.RFC3339), TimeEpoch: strconv.FormatInt(now.UnixMilli(), 10),
		HTTP: HTTPEventHTTP{Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: sourceIP, UserAgent: r.UserAgent()},
	}
	return ev
}

// textual: media types whose bodies FC passes as text.
func textual(contentType string) bool {
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
		"application/x-ndjson", "application/yaml", "application/x-yaml":
		return true
	}
	return false
}

// Response headers the function may not set: the server owns framing.
var ownedHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Trailer": true, "Upgrade": true}

// DecodeHTTPResponse turns an event function's result into an HTTP response. A JSON object with a
// statusCode is the FC 3.0 response shape {statusCode, headers, isBase64Encoded, body}; anything
// else is answered as it is, with status 200.
func DecodeHTTPResponse(payload []byte) (status int, header http.Header, body []byte, err error) {
	header = http.Header{}
	var probe map[string]json.RawMessage
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &probe) != nil || probe["statusCode"] == nil {
		return http.StatusOK, header, payload, nil
	}
	var code float64
	if err := json.Unmarshal(probe["statusCode"], &code); err != nil {
		return 0, nil, nil, fmt.Errorf("statusCode: must be a number: %v", err)
	}
	n := int(code)
	if float64(n) != code || n < 100 || n > 599 {
		return 0, nil, nil, fmt.Errorf("statusCode: %s is not an HTTP status (100..599)", probe["statusCode"])
	}
	if raw, ok := probe["headers"]; ok && string(raw) != "null" {
		var hm map[string]json.RawMessage
		if err := json.Unmarshal(raw, &hm); err != nil {
			return 0, nil, nil, fmt.Errorf("headers: must be an object of strings: %v", err)
		}
		keys := make([]string, 0, len(hm))
		for k := range hm {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ck := http.CanonicalHeaderKey(k)
			if !validHeaderName(k) || ownedHeaders[ck] {
				continue
			}
			var one string
			var many []string
			switch {
			case json.Unmarshal(hm[k], &one) == nil:
				header.Add(ck, cleanHeaderValue(one))
			case json.Unmarshal(hm[k], &many) == nil:
				for _, v := range many {
					header.Add(ck, cleanHeaderValue(v))
				}
			default:
				return 0, nil, nil, fmt.Errorf("headers.%s: must be a string or a list of strings", k)
			}
		}
	}
	b64 := false
	if raw, ok := probe["isBase64Encoded"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &b64); err != nil {
			return 0, nil, nil, fmt.Errorf("isBase64Encoded: must be true or false")
		}
	}
	if raw, ok := probe["body"]; ok && string(raw) != "null" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			body = []byte(s)
		} else {
			body = raw // a JSON value rather than a string: send it as JSON
			if header.Get("Content-Type") == "" {
				header.Set("Content-Type", "application/json")
			}
		}
		if b64 {
			dec, err := base64.StdEncoding.DecodeString(string(body))
			if err != nil {
				return 0, nil, nil, fmt.Errorf("body: isBase64Encoded is true but the body is not base64: %v", err)
			}
			body = dec
		}
	}
	return n, header, body, nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func cleanHeaderValue(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, v)
}
