package oss

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// v3SignedParams is aliyun-oss-go-sdk v3's list of query parameters that a v1 signature
// covers (conn.go signKeyList).
var v3SignedParams = setOf(
	"acl", "uploads", "location", "cors", "logging", "website", "referer", "lifecycle",
	"delete", "append", "tagging", "objectMeta", "uploadId", "partNumber", "security-token",
	"position", "img", "style", "styleName", "replication", "replicationProgress",
	"replicationLocation", "cname", "bucketInfo", "comp", "qos", "live", "status", "vod",
	"startTime", "endTime", "symlink", "x-oss-process", "response-content-type", "x-oss-traffic-limit",
	"response-content-language", "response-expires", "response-cache-control", "response-content-disposition",
	"response-content-encoding", "udf", "udfName", "udfImage", "udfId", "udfImageDesc", "udfApplication",
	"udfApplicationLog", "restore", "callback", "callback-var", "qosInfo", "policy", "stat", "encryption",
	"versions", "versioning", "versionId", "requestPayment", "x-oss-request-payer", "sequential",
	"inventory", "inventoryId", "continuation-token", "asyncFetch", "worm", "wormId", "wormExtend",
	"withHashContext", "x-oss-enable-md5", "x-oss-enable-sha1", "x-oss-enable-sha256", "x-oss-hash-ctx",
	"x-oss-md5-ctx", "transferAcceleration", "regionList", "cloudboxes", "x-oss-ac-source-ip",
	"x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-ac-forward-allow", "metaQuery", "resourceGroup",
	"rtc", "x-oss-async-process", "responseHeader",
)

// v2SignedParams adds what alibabacloud-oss-go-sdk-v2's v1 signer signs on top of v3's list:
// its required list plus the per-operation subresources of the calls emulated here.
var v2SignedParams = setOf("publicAccessBlock", "accessPoint", "accessPointPolicy", "httpsConfig",
	"bucketArchiveDirectRead", "overwriteConfig", "objectWorm")

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// authenticate resolves the caller from the Authorization header (v1 "OSS", v4
// "OSS4-HMAC-SHA256") or a v1 signed URL; a request without either is anonymous.
func (s *Server) authenticate(rq *request) *apiError {
	auth := rq.r.Header.Get("Authorization")
	var err *apiError
	switch {
	case auth == "":
		switch {
		case rq.query.Get("OSSAccessKeyId") != "" || rq.query.Has("Signature"):
			err = s.verifyPresignedV1(rq)
		case rq.query.Has("x-oss-signature-version") || rq.query.Has("x-oss-credential"):
			err = errNotImplemented("signed URLs with signature version 4")
		default:
			rq.anon = true
		}
	case strings.HasPrefix(auth, "OSS4-HMAC-SHA256 "):
		err = s.verifyV4(rq, strings.TrimPrefix(auth, "OSS4-HMAC-SHA256 "))
	case strings.HasPrefix(auth, "OSS "):
		err = s.verifyV1(rq, strings.TrimPrefix(auth, "OSS "))
	case strings.HasPrefix(auth, "OSS2 "):
		err = errNotImplemented("signature version 2 (OSS2)")
	default:
		err = errInvalidArgument("Authorization header is invalid.", "", "")
	}
	if err != nil {
		return err
	}
	rq.authed = true
	return nil
}

// resolveKey maps the world's credential failures to the codes OSS answers with.
func (s *Server) resolveKey(akid, token string) (core.Principal, string, *apiError) {
	p, secret, aerr := s.w.Authenticate(akid, token)
	if aerr == nil {
		return p, secret, nil
	}
	notFound := newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.").
		with("OSSAccessKeyId", akid)
	if strings.HasPrefix(akid, "STS.") {
		notFound.ec("0002-00000002")
	}
	switch aerr.Code {
	case "MissingAccessKeyId":
		return p, "", errInvalidArgument("AccessKeyId or Signature is missing in Authorization header value.", "", "")
	case "InvalidAccessKeyId.Inactive":
		return p, "", newErr(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided is disabled.").with("OSSAccessKeyId", akid)
	case "InvalidSecurityToken.MismatchWithAccessKey":
		if s.tokenOfAnotherKey(akid, token) {
			return p, "", newErr(403, "AccessKeyIdAndSecurityTokenNotMatch",
				"The OSS access key id and security token you provided does not match.").ec("0002-00000004")
		}
		return p, "", newErr(403, "InvalidSecurityToken", "The security token you provided is invalid.").ec("0002-00000006")
	case "InvalidSecurityToken.Expired":
		if aerr.Status == 403 { // the role behind the token was deleted
			return p, "", newErr(403, "InvalidSecurityToken", "The security token you provided is invalid.").ec("0002-00000006")
		}
		return p, "", newErr(403, "SecurityTokenExpired", "The security token you provided has expired.").ec("0002-00000007")
	}
	// Not found, an STS key without its token, or a token sent with a long-lived key: OSS
	// looks the key up as the kind the token implies and does not find it.
	return p, "", notFound
}

func (s *Server) tokenOfAnotherKey(akid, token string) bool {
	s.w.Mu.RLock()
	defer s.w.Mu.RUnlock()
	for id, c := range s.w.STS {
		if id != akid && c.SecurityToken == token {
			return true
		}
	}
	return false
}

// checkSkew refuses requests whose time is more than 15 minutes from the wall clock (the
// SDKs sign with the wall clock, not the world's clock).
func checkSkew(t time.Time) *apiError {
	now := time.Now().UTC()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return newErr(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.").
			with("RequestTime", t.UTC().Format(http.TimeFormat)).
			with("ServerTime", now.Format(http.TimeFormat)).
			with("MaxAllowedSkewMilliseconds", "900000")
	}
	return nil
}

func (s *Server) verifyV1(rq *request, cred string) *apiError {
	akid, sig, ok := strings.Cut(cred, ":")
	if !ok || akid == "" || sig == "" {
		return errInvalidArgument("AccessKeyId or Signature is missing in Authorization header value.", "", "")
	}
	p, secret, err := s.resolveKey(akid, rq.r.Header.Get("x-oss-security-token"))
	if err != nil {
		return err
	}
	date := rq.r.Header.Get("Date")
	t, perr := http.ParseTime(date)
	if perr != nil {
		return errInvalidArgument("OSS authentication requires a valid Date.", "Date", date)
	}
	if err := checkSkew(t); err != nil {
		return err
	}
	if err := matchV1(rq, akid, secret, sig, date); err != nil {
		return err
	}
	rq.caller = p
	return nil
}

// verifyPresignedV1 checks a URL signed with OSSAccessKeyId, Expires and Signature.
func (s *Server) verifyPresignedV1(rq *request) *apiError {
	akid, expires, sig := rq.query.Get("OSSAccessKeyId"), rq.query.Get("Expires"), rq.query.Get("Signature")
	if akid == "" || expires == "" || sig == "" {
		return errAccessDenied("Query string authentication requires the Signature, Expires and OSSAccessKeyId parameters")
	}
	exp, perr := strconv.ParseInt(expires, 10, 64)
	if perr != nil {
		return errAccessDenied("Invalid date (should be seconds since epoch): " + expires)
	}
	if time.Now().Unix() > exp {
		return errAccessDenied("Request has expired.").with("Expires", time.Unix(exp, 0).UTC().Format(time.RFC3339)).
			with("ServerTime", time.Now().UTC().Format(time.RFC3339))
	}
	p, secret, err := s.resolveKey(akid, rq.query.Get("security-token"))
	if err != nil {
		return err
	}
	if err := matchV1(rq, akid, secret, sig, expires); err != nil {
		return err
	}
	rq.caller = p
	return nil
}

// matchV1 compares a v1 signature. The signed sub-resources differ slightly between the
// SDKs, so the union list is tried first and v3's own list second.
func matchV1(rq *request, akid, secret, sig, date string) *apiError {
	var first string
	for i, signed := range []func(string) bool{
		func(k string) bool { return v3SignedParams[k] || v2SignedParams[k] || strings.HasPrefix(k, "x-oss-") },
		func(k string) bool { return v3SignedParams[k] },
	} {
		sts := stringToSignV1(rq.r.Method, rq.r.Header, date, canonicalResourceV1(rq.bucket, rq.key, rq.query, signed))
		if i == 0 {
			first = sts
		} else if sts == first {
			continue
		}
		if hmac.Equal([]byte(signV1(secret, sts)), []byte(sig)) {
			return nil
		}
	}
	return signatureMismatch(akid, sig, first, "")
}

func signV1(secret, sts string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func signatureMismatch(akid, sig, sts, canonical string) *apiError {
	e := newErr(403, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.").
		with("OSSAccessKeyId", akid).with("SignatureProvided", sig).with("StringToSign", sts).
		with("StringToSignBytes", spacedHex([]byte(sts)))
	if canonical != "" {
		e.with("CanonicalRequest", canonical)
	}
	return e.ec("0002-00000040")
}

func spacedHex(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// stringToSignV1 is VERB\nContent-MD5\nContent-Type\nDate\n + x-oss-* headers + resource.
func stringToSignV1(method string, h http.Header, date, resource string) string {
	var names []string
	for k := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-") {
			names = append(names, lk)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(method + "\n" + h.Get("Content-MD5") + "\n" + h.Get("Content-Type") + "\n" + date + "\n")
	for _, k := range names {
		b.WriteString(k + ":" + headerValue(h, k) + "\n")
	}
	b.WriteString(resource)
	return b.String()
}

func headerValue(h http.Header, k string) string {
	vals := h.Values(k)
	for i, v := range vals {
		vals[i] = strings.TrimSpace(v)
	}
	return strings.Join(vals, ",")
}

// canonicalResourceV1 is /bucket/key (unescaped) with the signed sub-resources, sorted,
// as k or k=v with decoded values.
func canonicalResourceV1(bucket, key string, q url.Values, signed func(string) bool) string {
	res := "/"
	if bucket != "" {
		res += bucket + "/" + key
	}
	var keys []string
	for k := range q {
		if signed(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return res
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		if v := q.Get(k); v != "" {
			parts[i] = k + "=" + v
		} else {
			parts[i] = k
		}
	}
	return res + "?" + strings.Join(parts, "&")
}

type v4Auth struct {
	akid, date, region, product string
	additional                  []string
	signature                   string
}

func parseV4Auth(s string) (v4Auth, bool) {
	var a v4Auth
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aliyun_v4_request" || f[0] == "" {
				return a, false
			}
			a.akid, a.date, a.region, a.product = f[0], f[1], f[2], f[3]
		case "AdditionalHeaders":
			for _, h := range strings.Split(v, ";") {
				if h != "" {
					a.additional = append(a.additional, strings.ToLower(h))
				}
			}
		case "Signature":
			a.signature = v
		}
	}
	return a, a.akid != "" && a.signature != ""
}

func (s *Server) verifyV4(rq *request, raw string) *apiError {
	a, ok := parseV4Auth(raw)
	if !ok {
		return errInvalidArgument("Authorization header is invalid, bad num of Items in Authorization header.", "", "")
	}
	p, secret, err := s.resolveKey(a.akid, rq.r.Header.Get("x-oss-security-token"))
	if err != nil {
		return err
	}
	// aliyun-oss-go-sdk v3 signs the RFC 1123 Date header; sdk-v2 sets x-oss-date (ISO 8601).
	signDate := rq.r.Header.Get("Date")
	t, perr := http.ParseTime(signDate)
	if od := rq.r.Header.Get("x-oss-date"); od != "" {
		signDate = od
		t, perr = time.Parse("20060102T150405Z", od)
	}
	if perr != nil {
		return errInvalidArgument("OSS authentication requires a valid Date.", "x-oss-date", signDate)
	}
	if err := checkSkew(t); err != nil {
		return err
	}
	canonical := canonicalRequestV4(rq, a.additional)
	scope := a.date + "/" + a.region + "/" + a.product + "/aliyun_v4_request"
	sum := sha256.Sum256([]byte(canonical))
	sts := "OSS4-HMAC-SHA256\n" + signDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("aliyun_v4" + secret)
	for _, part := range []string{a.date, a.region, a.product, "aliyun_v4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(a.signature))) {
		return signatureMismatch(a.akid, a.signature, sts, canonical)
	}
	rq.caller = p
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequestV4 is VERB\nURI\nQuery\nHeaders\nAdditionalHeaders\nPayloadHash as both SDKs
// build it: the URI escapes all but unreserved characters and '/', the query is the raw query
// with '+' as %20 sorted by key, the headers are content-type, content-md5, x-oss-* and the
// additional ones.
func canonicalRequestV4(rq *request, additional []string) string {
	uri := "/"
	if rq.bucket != "" {
		uri += rq.bucket + "/" + escapePath(rq.key)
	}
	query := strings.ReplaceAll(rq.r.URL.RawQuery, "+", "%20")
	values := map[string]string{}
	var params []string
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := values[k]; !dup {
			params = append(params, k)
		}
		values[k] = v
	}
	sort.Strings(params)
	for i, k := range params {
		if values[k] != "" {
			params[i] = k + "=" + values[k]
		}
	}
	extra := setOf(additional...)
	var names []string
	for k := range rq.r.Header {
		lk := strings.ToLower(k)
		if lk == "content-type" || lk == "content-md5" || strings.HasPrefix(lk, "x-oss-") || extra[lk] {
			names = append(names, lk)
		}
	}
	// Go's server moves Host out of the header map; a client that signs it (v3 with
	// AdditionalHeaders host) signed the request's host.
	if extra["host"] {
		names = append(names, "host")
	}
	sort.Strings(names)
	var hb strings.Builder
	for _, k := range names {
		v := headerValue(rq.r.Header, k)
		if k == "host" {
			v = strings.TrimSpace(rq.r.Host)
		}
		hb.WriteString(k + ":" + v + "\n")
	}
	payload := rq.r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	return rq.r.Method + "\n" + uri + "\n" + strings.Join(params, "&") + "\n" + hb.String() + "\n" +
		strings.Join(additional, ";") + "\n" + payload
}

// escapePath percent-encodes everything but unreserved characters and '/'.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
