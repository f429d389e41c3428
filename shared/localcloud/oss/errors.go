package oss

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an OSS error response: HTTP status, Code, Message, the EC diagnostic code when
// known, and extra elements some errors carry (BucketName, StringToSign, ...), in order.
type apiError struct {
	Status  int
	Code    string
	Message string
	EC      string
	Extra   [][2]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newErr(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func (e *apiError) with(name, value string) *apiError {
	e.Extra = append(e.Extra, [2]string{name, value})
	return e
}

func (e *apiError) ec(code string) *apiError {
	e.EC = code
	return e
}

// Errors with the codes, messages and EC values real OSS returns (EC from the SDKs' recorded
// responses and the OSS error-code pages).
func errNoSuchBucket(bucket string) *apiError {
	return newErr(404, "NoSuchBucket", "The specified bucket does not exist.").with("BucketName", bucket).ec("0015-00000101")
}

func errNoSuchKey(key string) *apiError {
	return newErr(404, "NoSuchKey", "The specified key does not exist.").with("Key", key).ec("0026-00000001")
}

func errMalformedXML(detail string) *apiError {
	// The detail names the field and the rule; real OSS gives the bare schema message.
	msg := "The XML you provided was not well-formed or did not validate against our published schema."
	if detail != "" {
		msg += " " + detail
	}
	return newErr(400, "MalformedXML", msg).ec("0016-00000608")
}

func errInvalidArgument(msg, name, value string) *apiError {
	e := newErr(400, "InvalidArgument", msg)
	if name != "" {
		e.with("ArgumentName", name).with("ArgumentValue", value)
	}
	return e
}

func errNotImplemented(what string) *apiError {
	return newErr(501, "NotImplemented", "A header you provided implies functionality that is not implemented.").with("Detail", what)
}

func errAccessDenied(msg string) *apiError {
	return newErr(403, "AccessDenied", msg)
}

// writeError renders an error. HEAD responses carry no body, so the XML also travels
// base64-encoded in x-oss-err, which both SDKs decode.
func (rq *request) writeError(e *apiError) {
	body := errorXML(e, rq.id, rq.hostID())
	h := rq.w.Header()
	for k := range h {
		delete(h, k)
	}
	rq.commonHeaders()
	if e.EC != "" {
		h.Set("x-oss-ec", e.EC)
	}
	rq.status = e.Status
	rq.errCode, rq.errMessage = e.Code, e.Message
	if rq.r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(body))
		rq.w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	rq.w.WriteHeader(e.Status)
	n, _ := rq.w.Write(body)
	rq.bytesOut += int64(n)
}

func errorXML(e *apiError, requestID, hostID string) []byte {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Error>\n")
	elem := func(name, value string) {
		b.WriteString("  <" + name + ">")
		_ = xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">\n")
	}
	elem("Code", e.Code)
	elem("Message", e.Message)
	elem("RequestId", requestID)
	elem("HostId", hostID)
	for _, kv := range e.Extra {
		elem(kv[0], kv[1])
	}
	if e.EC != "" {
		elem("EC", e.EC)
		elem("RecommendDoc", "https://api.aliyun.com/troubleshoot?q="+e.EC)
	}
	b.WriteString("</Error>\n")
	return []byte(b.String())
}
