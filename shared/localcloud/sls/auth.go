package sls

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

const (
	v1Prefix      = "LOG "
	v4Algorithm   = "SLS4-HMAC-SHA256"
	v4Terminator  = "aliyun_v4_request"
	v4KeyPrefix   = "aliyun_v4"
	v4DateLayout  = "20060102T150405Z"
	emptySHA256   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	headerMD5     = "Content-Md5"
	headerLogDate = "X-Log-Date"
)

// authenticate checks the common headers, the signature (v1 with hmac-sha1 or hmac-sha256, or v4)
// and the body digests, and resolves the caller. Errors carry the codes the real service answers.
func (s *Server) authenticate(r *http.Request, body []byte) (core.Principal, *apiError) {
	switch v := r.Header.Get("X-Log-Apiversion"); {
	case v == "":
		return core.Principal{}, errorf(400, "MissingAPIVersion", "x-log-apiversion does not exist in http header.")
	case v != apiVersion:
		return core.Principal{}, errorf(400, "InvalidAPIVersion", "x-log-apiversion %s is unsupported.", v)
	}
	if len(body) > 0 && r.Header.Get("Content-Type") == "" {
		return core.Principal{}, errorf(400, "MissingContentType", "Content-Type does not exist in http header when body is not empty.")
	}
	auth := r.Header.Get("Authorization")
	var (
		p   core.Principal
		err *apiError
	)
	switch {
	case auth == "":
		return core.Principal{}, errorf(400, "MissAccessKeyId", "x-log-accesskeyid does not exist in header.")
	case strings.HasPrefix(auth, v1Prefix):
		p, err = s.verifyV1(r, strings.TrimPrefix(auth, v1Prefix))
	case strings.HasPrefix(auth, v4Algorithm+" "):
		p, err = s.verifyV4(r, strings.TrimPrefix(auth, v4Algorithm+" "), body)
	default:
		return core.Principal{}, errParam("http extend authorization : %s pair is invalid", auth)
	}
	if err != nil {
		return core.Principal{}, err
	}
	if want := r.Header.Get(headerMD5); want != "" {
		sum := md5.Sum(body)
		if got := strings.ToUpper(hex.EncodeToString(sum[:])); !strings.EqualFold(want, got) {
			return core.Principal{}, errorf(400, "InvalidContentMD5", "Content-MD5 %s does not match the md5 of the body, %s", want, got)
		}
	}
	return p, nil
}

func (s *Server) resolveKey(accessKeyID, token string) (core.Principal, string, *apiError) {
	p, secret, aerr := s.w.Authenticate(accessKeyID, token)
	if aerr == nil {
		return p, secret, nil
	}
	switch {
	case aerr.Code == "MissingAccessKeyId":
		return p, "", errorf(400, "MissAccessKeyId", "x-log-accesskeyid does not exist in header.")
	case aerr.Code == "InvalidAccessKeyId.NotFound":
		return p, "", errorf(401, "Unauthorized", "AccessKeyId not found: %s", accessKeyID)
	case aerr.Code == "InvalidAccessKeyId.Inactive":
		return p, "", errorf(401, "Unauthorized", "AccessKeyId is disabled: %s", accessKeyID)
	case strings.Contains(aerr.Code, "Expired"):
		return p, "", errorf(401, "Unauthorized", "The security token you provided has expired.")
	case strings.Contains(aerr.Code, "SecurityToken"):
		return p, "", errorf(401, "Unauthorized", "The security token you provided is invalid.")
	}
	return p, "", errorf(401, "Unauthorized", "%s", aerr.Message)
}

// checkSkew refuses requests signed more than 15 minutes away from the wall clock (signatures
// are made with the caller's real clock, not the world's, so the world clock is not used here).
func checkSkew(t time.Time, raw string) *apiError {
	now := time.Now()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return errorf(400, "RequestTimeExpired", "Request time %s has been expired while server time is %s.", raw, now.UTC().Format(http.TimeFormat))
	}
	return nil
}

func (s *Server) verifyV1(r *http.Request, cred string) (core.Principal, *apiError) {
	akid, sig, ok := strings.Cut(cred, ":")
	if !ok || akid == "" || sig == "" {
		return core.Principal{}, errParam("http extend authorization : %s%s pair is invalid", v1Prefix, cred)
	}
	date := r.Header.Get("Date")
	if date == "" {
		return core.Principal{}, errorf(400, "MissingDate", "Date does not exist in http header.")
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return core.Principal{}, errorf(400, "InvalidDateFormat", "Date %s must follow RFC822.", date)
	}
	if e := checkSkew(t, date); e != nil {
		return core.Principal{}, e
	}
	var h func() hash.Hash
	switch m := r.Header.Get("X-Log-Signaturemethod"); m {
	case "":
		return core.Principal{}, errorf(400, "MissingSignatureMethod", "x-log-signaturemethod does not exist in http header.")
	case "hmac-sha1":
		h = sha1.New
	case "hmac-sha256":
		h = sha256.New
	default:
		return core.Principal{}, errorf(400, "InvalidSignatureMethod", "signature method %s is unsupported.", m)
	}
	p, secret, aerr := s.resolveKey(akid, r.Header.Get("X-Acs-Security-Token"))
	if aerr != nil {
		return core.Principal{}, aerr
	}
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(V1StringToSign(r)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return core.Principal{}, errorf(401, "SignatureNotMatch", "Signature %s is not matched.", sig)
	}
	return p, nil
}

// V1StringToSign is the SLS v1 string to sign of a request:
// VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedHeaders\nCanonicalizedResource.
// Exported so tests and tools can sign hand-built requests exactly as the server checks them.
func V1StringToSign(r *http.Request) string {
	var keys []string
	vals := map[string]string{}
	for k, v := range r.Header {
		l := strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") {
			keys = append(keys, l)
			vals[l] = strings.TrimSpace(strings.Join(v, ","))
		}
	}
	sort.Strings(keys)
	canonHeaders := make([]string, len(keys))
	for i, k := range keys {
		canonHeaders[i] = k + ":" + vals[k]
	}
	resource := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		qk := make([]string, 0, len(q))
		for k := range q {
			qk = append(qk, k)
		}
		sort.Strings(qk)
		var b strings.Builder
		b.WriteString("?")
		for i, k := range qk {
			if i > 0 {
				b.WriteString("&")
			}
			// The SDK writes every value of a repeated key back to back; so do we.
			for _, v := range q[k] {
				b.WriteString(k + "=" + v)
			}
		}
		resource += b.String()
	}
	return r.Method + "\n" + r.Header.Get(headerMD5) + "\n" + r.Header.Get("Content-Type") + "\n" +
		r.Header.Get("Date") + "\n" + strings.Join(canonHeaders, "\n") + "\n" + resource
}

// v4Credential is the parsed Authorization of a v4 request.
type v4Credential struct {
	akid, date, region, signature string
}

func parseV4(auth string) (v4Credential, bool) {
	var c v4Credential
	var scope string
	for _, part := range strings.Split(auth, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return c, false
		}
		switch k {
		case "Credential":
			scope = v
		case "Signature":
			c.signature = v
		}
	}
	f := strings.Split(scope, "/")
	if len(f) != 5 || f[0] == "" || f[3] != "sls" || f[4] != v4Terminator || c.signature == "" {
		return c, false
	}
	c.akid, c.date, c.region = f[0], f[1], f[2]
	return c, true
}

func (s *Server) verifyV4(r *http.Request, auth string, body []byte) (core.Principal, *apiError) {
	cred, ok := parseV4(auth)
	if !ok {
		return core.Principal{}, errParam("http extend authorization : %s %s pair is invalid", v4Algorithm, auth)
	}
	dateTime := r.Header.Get(headerLogDate)
	if dateTime == "" {
		return core.Principal{}, errorf(400, "MissingDate", "x-log-date does not exist in http header.")
	}
	t, err := time.Parse(v4DateLayout, dateTime)
	if err != nil {
		return core.Principal{}, errorf(400, "InvalidDateFormat", "x-log-date %s must follow %s.", dateTime, v4DateLayout)
	}
	if e := checkSkew(t, dateTime); e != nil {
		return core.Principal{}, e
	}
	if cred.date != dateTime[:8] {
		return core.Principal{}, errorf(401, "SignatureNotMatch", "the date %s of the Credential scope is not the date of x-log-date %s.", cred.date, dateTime)
	}
	if cred.region != s.w.Region {
		return core.Principal{}, errorf(401, "SignatureNotMatch", "the region %s of the Credential scope is not the region of this endpoint, %s.", cred.region, s.w.Region)
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if len(body) == 0 {
		payload = emptySHA256
	}
	if declared := r.Header.Get("X-Log-Content-Sha256"); declared != "" && declared != payload {
		return core.Principal{}, errorf(401, "SignatureNotMatch", "x-log-content-sha256 %s does not match the body.", declared)
	}
	p, secret, aerr := s.resolveKey(cred.akid, r.Header.Get("X-Acs-Security-Token"))
	if aerr != nil {
		return core.Principal{}, aerr
	}
	want := V4Signature(r, payload, secret, cred.region, dateTime)
	if !hmac.Equal([]byte(want), []byte(cred.signature)) {
		return core.Principal{}, errorf(401, "SignatureNotMatch", "Signature %s is not matched.", cred.signature)
	}
	return p, nil
}

// V4Signature is the hex SLS4-HMAC-SHA256 signature of a request: the canonical request
// (VERB, path, query, signed headers x-log-* but x-log-meta-*, x-acs-*, host, content-type,
// their names, payload sha256) under the key chain "aliyun_v4"+secret → date → region → sls → terminator.
func V4Signature(r *http.Request, payloadSHA256, secret, region, dateTime string) string {
	var keys []string
	vals := map[string]string{}
	add := func(k, v string) {
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	for k, v := range r.Header {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "x-log-meta-") {
			continue
		}
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") || l == "content-type" {
			add(l, strings.Join(v, ","))
		}
	}
	add("host", r.Host)
	sort.Strings(keys)
	var canonHeaders, signed strings.Builder
	for i, k := range keys {
		canonHeaders.WriteString(k + ":" + vals[k] + "\n")
		if i > 0 {
			signed.WriteString(";")
		}
		signed.WriteString(k)
	}
	q := r.URL.Query()
	qk := make([]string, 0, len(q))
	for k := range q {
		qk = append(qk, k)
	}
	sort.Strings(qk)
	var canonQuery strings.Builder
	for i, k := range qk {
		if i > 0 {
			canonQuery.WriteString("&")
		}
		canonQuery.WriteString(k)
		if v := q[k][0]; v != "" {
			canonQuery.WriteString("=" + strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	canonReq := strings.Join([]string{r.Method, r.URL.EscapedPath(), canonQuery.String(),
		canonHeaders.String(), signed.String(), payloadSHA256}, "\n")
	date := dateTime[:8]
	scope := date + "/" + region + "/sls/" + v4Terminator
	crHash := sha256.Sum256([]byte(canonReq))
	sts := v4Algorithm + "\n" + dateTime + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])
	key := []byte(v4KeyPrefix + secret)
	for _, part := range []string{date, region, "sls", v4Terminator} {
		key = hmacSHA256(key, part)
	}
	return hex.EncodeToString(hmacSHA256(key, sts))
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// denied is the answer to a caller acting on another account's resource: the service's
// RAM check fails before anything about the resource is revealed.
func denied(action, region, owner, resource string) *apiError {
	return errorf(401, "Unauthorized", "denied by sts or ram, action: log:%s, resource: acs:log:%s:%s:%s", action, region, owner, resource)
}

// fmtResource is the ARN tail of a project or a Logstore.
func fmtResource(project, logstore string) string {
	if logstore == "" {
		return "project/" + project
	}
	return fmt.Sprintf("project/%s/logstore/%s", project, logstore)
}
