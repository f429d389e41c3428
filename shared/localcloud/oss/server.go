// Package oss is localcloud's Object Storage Service: an http.Handler that the unmodified
// aliyun-oss-go-sdk (v1 and v4 signatures) and alibabacloud-oss-go-sdk-v2 talk to, path style
// through an IP endpoint or virtual-hosted. Buckets keep ACLs, policies (with secure-transport
// and cross-account evaluation), logging, encryption, lifecycle, WORM retention and public
// access blocks; objects keep their bytes, ETag and CRC-64. Every request goes through the
// world's fault layer and stats, bucket writes leave ActionTrail records, and every request
// served is emitted as an OSS operation for Inner-ActionTrail.
package oss

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

const (
	// product is the name used with the fault layer and stats.
	product = "oss"
	// maxBucketsPerAccount is OSS's default quota per account and region.
	maxBucketsPerAccount = 100
	// maxConfigBody bounds the XML/JSON bodies of bucket configuration calls.
	maxConfigBody = 1 << 20
	// defaultMaxObjectSize bounds PutObject bodies held in memory (real OSS allows 5 GiB).
	defaultMaxObjectSize = 256 << 20
	// maxSkew is how far a request's Date may be from the wall clock.
	maxSkew = 15 * time.Minute
)

// Server is the OSS emulator. It implements http.Handler and core.OSSBackend.
type Server struct {
	w *core.World

	// MaxObjectSize bounds a PutObject body; larger uploads get 400 EntityTooLarge.
	MaxObjectSize int64

	mu      sync.RWMutex
	buckets map[string]*bucket
	// accountBlock is the account-level Block Public Access switch (PutPublicAccessBlock).
	accountBlock map[string]bool
}

type bucket struct {
	name         string
	owner        string
	region       string
	created      time.Time
	acl          string
	storageClass string
	redundancy   string

	policyDoc string // as the owner sent it; "" when none
	policy    *bucketPolicy

	logging    *LoggingConfig
	encryption *EncryptionConfig
	lifecycle  *lifecycleConfig
	worm       *wormState
	blockPub   bool

	objects map[string]*object
}

type object struct {
	data         []byte
	etag         string // upper-case hex MD5, without quotes
	md5b64       string
	crc          uint64
	contentType  string
	lastModified time.Time
	storageClass string
	acl          string // "default" follows the bucket
	meta         http.Header
	sse          string
	sseKeyID     string
}

// New makes an OSS server for the world and registers it as the world's OSS backend (it takes
// w.Mu, so call it without holding the lock).
func New(w *core.World) *Server {
	s := &Server{
		w:             w,
		MaxObjectSize: defaultMaxObjectSize,
		buckets:       map[string]*bucket{},
		accountBlock:  map[string]bool{},
	}
	w.Mu.Lock()
	w.OSS = s
	w.Mu.Unlock()
	return s
}

// request is one HTTP request being served.
type request struct {
	s       *Server
	w       http.ResponseWriter
	counted bool
	r       *http.Request
	id      string
	bucket  string
	key     string
	hasKey  bool
	query   url.Values
	op      string
	write   bool
	secure  bool
	srcIP   string
	caller  core.Principal
	anon    bool
	authed  bool
	owner   string // bucket owner once known
	// recipient overrides whose ActionTrail history a record goes to (default: the owner).
	recipient string
	body      []byte
	params    map[string]any
	started   time.Time

	status     int
	throttled  bool
	faulted    bool
	bytesOut   int64
	errCode    string
	errMessage string
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

func (rq *request) hostID() string {
	region := rq.s.w.Region
	if rq.bucket != "" {
		return rq.bucket + ".oss-" + region + ".aliyuncs.com"
	}
	return "oss-" + region + ".aliyuncs.com"
}

func (rq *request) commonHeaders() {
	h := rq.w.Header()
	h.Set("x-oss-request-id", rq.id)
	h.Set("Server", "AliyunOSS")
	// Date follows the wall clock: clients correct their clock skew from it.
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
}

// ServeHTTP authenticates, throttles, authorizes and dispatches one OSS request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{
		s: s, w: w, r: r, id: newRequestID(), query: r.URL.Query(),
		secure: r.TLS != nil, srcIP: sourceIP(r), params: map[string]any{}, started: time.Now(),
	}
	// Count the call when its answer's status is written: a client that reads stats right after
	// its call returns must find it counted.
	rq.w = &countingWriter{ResponseWriter: w, rq: rq}
	rq.bucket, rq.key, rq.hasKey = s.target(r)
	var supported bool
	rq.op, rq.write, supported = resolveOp(r.Method, rq.bucket, rq.key, rq.hasKey, rq.query, r.Header)
	defer rq.finish()

	if aerr := s.authenticate(rq); aerr != nil {
		rq.writeError(aerr)
		return
	}
	d := s.w.Faults.Decide(product, rq.op, rq.caller.AccountID)
	if d.Latency > 0 {
		time.Sleep(d.Latency)
	}
	if d.Timeout {
		rq.faulted = true
		rq.status = http.StatusGatewayTimeout
		rq.errCode = "Timeout"
		core.DropConnection(w, d.Hold)
		return
	}
	if d.Failed() {
		rq.faulted = true
		rq.throttled = d.Throttled
		rq.writeError(faultError(d))
		return
	}
	if !supported {
		rq.writeError(errNotImplemented(r.Method + " " + describeSubresources(rq.query)))
		return
	}
	if err := rq.readBody(); err != nil {
		rq.writeError(err)
		return
	}
	if err := s.dispatch(rq); err != nil {
		rq.writeError(err)
	}
}

// faultError turns a fault-layer decision into the error OSS gives: throttling is
// 503 SlowDown (the QPS limit, EC 0004-00000302); scripted failures keep their code.
func faultError(d core.Decision) *apiError {
	if d.Code == "" && d.Throttled {
		return newErr(503, "SlowDown", "Please reduce your request rate.").ec("0004-00000302")
	}
	status := d.Status
	if status == 0 {
		status = 500
		if d.Throttled {
			status = 503
		}
	}
	code := d.Code
	if code == "" {
		code = http.StatusText(status)
	}
	msg := d.Message
	if msg == "" {
		msg = code
	}
	return newErr(status, code, msg)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// target finds the bucket and key. An IP (or a host without a dot, or an OSS endpoint
// such as oss-cn-hangzhou.aliyuncs.com) means path style: /<bucket>/<key>. Any other host
// <bucket>.<anything> is virtual-hosted style and the whole path is the key.
func (s *Server) target(r *http.Request) (bucket, key string, hasKey bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if net.ParseIP(host) == nil && strings.Contains(host, ".") {
		label, _, _ := strings.Cut(host, ".")
		if label != "oss" && !strings.HasPrefix(label, "oss-") {
			key = strings.TrimPrefix(r.URL.Path, "/")
			return label, key, key != ""
		}
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key, key != ""
}

// signedSubresources are the bucket/object subresources this emulator dispatches on.
var knownSubresources = []string{
	"acl", "bucketInfo", "location", "stat", "policy", "logging", "encryption", "lifecycle",
	"worm", "wormId", "wormExtend", "delete", "objectMeta", "publicAccessBlock",
}

// unsupportedSubresources are real OSS subresources localcloud does not emulate: a request
// naming one gets 501 NotImplemented rather than being mistaken for a plain object call.
var unsupportedSubresources = []string{
	"uploads", "uploadId", "partNumber", "append", "position", "tagging", "symlink", "restore",
	"cors", "website", "referer", "versioning", "versions", "versionId", "replication",
	"inventory", "inventoryId", "transferAcceleration", "cname", "qos", "qosInfo", "requestPayment",
	"resourceGroup", "style", "x-oss-process", "comp", "live", "metaQuery", "accessPoint",
	"httpsConfig", "policyStatus", "regionList", "cloudboxes", "objectWorm", "overwriteConfig",
}

func describeSubresources(q url.Values) string {
	var names []string
	for _, k := range unsupportedSubresources {
		if _, ok := q[k]; ok {
			names = append(names, "?"+k)
		}
	}
	if len(names) == 0 {
		return "request"
	}
	return strings.Join(names, "&")
}

// resolveOp names the OSS API a request calls, whether it writes, and whether localcloud
// implements it.
func resolveOp(method, bucket, key string, hasKey bool, q url.Values, h http.Header) (op string, write, supported bool) {
	has := func(k string) bool { _, ok := q[k]; return ok }
	for _, k := range unsupportedSubresources {
		if has(k) {
			return "Unsupported", method != http.MethodGet && method != http.MethodHead, false
		}
	}
	switch {
	case bucket == "":
		switch method {
		case http.MethodGet:
			if has("publicAccessBlock") {
				return "GetPublicAccessBlock", false, true
			}
			return "ListBuckets", false, true
		case http.MethodPut:
			if has("publicAccessBlock") {
				return "PutPublicAccessBlock", true, true
			}
		case http.MethodDelete:
			if has("publicAccessBlock") {
				return "DeletePublicAccessBlock", true, true
			}
		}
		return "Unsupported", method != http.MethodGet, false
	case !hasKey:
		sub := ""
		for _, k := range []string{"acl", "bucketInfo", "location", "stat", "policy", "logging", "encryption", "lifecycle", "worm", "publicAccessBlock", "delete"} {
			if has(k) {
				sub = k
				break
			}
		}
		if sub == "" && has("wormId") {
			sub = "wormId"
		}
		name := map[string]string{
			"acl": "BucketAcl", "policy": "BucketPolicy", "logging": "BucketLogging", "encryption": "BucketEncryption",
			"lifecycle": "BucketLifecycle", "publicAccessBlock": "BucketPublicAccessBlock",
		}[sub]
		switch method {
		case http.MethodGet:
			switch sub {
			case "":
				if q.Get("list-type") == "2" {
					return "ListObjectsV2", false, true
				}
				return "ListObjects", false, true
			case "bucketInfo":
				return "GetBucketInfo", false, true
			case "location":
				return "GetBucketLocation", false, true
			case "stat":
				return "GetBucketStat", false, true
			case "worm":
				return "GetBucketWorm", false, true
			case "delete", "wormId":
				return "Unsupported", false, false
			}
			return "Get" + name, false, true
		case http.MethodPut:
			switch sub {
			case "":
				return "PutBucket", true, true
			case "bucketInfo", "location", "stat", "worm", "wormId", "delete":
				return "Unsupported", true, false
			}
			return "Put" + name, true, true
		case http.MethodDelete:
			switch sub {
			case "":
				return "DeleteBucket", true, true
			case "worm":
				return "AbortBucketWorm", true, true
			case "acl", "bucketInfo", "location", "stat", "wormId", "delete":
				return "Unsupported", true, false
			}
			return "Delete" + name, true, true
		case http.MethodPost:
			switch {
			case sub == "worm":
				return "InitiateBucketWorm", true, true
			case sub == "wormId" && has("wormExtend"):
				return "ExtendBucketWorm", true, true
			case sub == "wormId":
				return "CompleteBucketWorm", true, true
			case sub == "delete":
				return "DeleteMultipleObjects", true, true
			}
			return "Unsupported", true, false
		}
		return "Unsupported", method != http.MethodHead, false
	default:
		switch method {
		case http.MethodGet:
			if has("acl") {
				return "GetObjectAcl", false, true
			}
			return "GetObject", false, true
		case http.MethodHead:
			if has("objectMeta") {
				return "GetObjectMeta", false, true
			}
			return "HeadObject", false, true
		case http.MethodPut:
			if has("acl") {
				return "PutObjectAcl", true, true
			}
			if h.Get("x-oss-copy-source") != "" {
				return "CopyObject", true, false
			}
			return "PutObject", true, true
		case http.MethodDelete:
			return "DeleteObject", true, true
		}
		return "Unsupported", method != http.MethodGet, false
	}
}

// readBody reads the request body within the limit that applies to the operation.
func (rq *request) readBody() *apiError {
	if rq.r.Body == nil {
		return nil
	}
	limit := int64(maxConfigBody)
	if rq.op == "PutObject" {
		limit = rq.s.MaxObjectSize
	}
	if rq.r.ContentLength > limit {
		return newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.").
			with("MaxSizeAllowed", fmt.Sprint(limit))
	}
	b, err := io.ReadAll(io.LimitReader(rq.r.Body, limit+1))
	if err != nil {
		return newErr(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if int64(len(b)) > limit {
		return newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.").
			with("MaxSizeAllowed", fmt.Sprint(limit))
	}
	rq.body = b
	return nil
}

func (s *Server) dispatch(rq *request) *apiError {
	switch rq.op {
	case "ListBuckets":
		return s.listBuckets(rq)
	case "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock":
		return s.accountPublicAccessBlock(rq)
	case "PutBucket":
		return s.putBucket(rq)
	case "DeleteBucket":
		return s.deleteBucket(rq)
	case "GetBucketInfo":
		return s.getBucketInfo(rq)
	case "GetBucketLocation":
		return s.getBucketLocation(rq)
	case "GetBucketStat":
		return s.getBucketStat(rq)
	case "GetBucketAcl", "PutBucketAcl":
		return s.bucketACL(rq)
	case "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy":
		return s.bucketPolicy(rq)
	case "GetBucketLogging", "PutBucketLogging", "DeleteBucketLogging":
		return s.bucketLogging(rq)
	case "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption":
		return s.bucketEncryption(rq)
	case "GetBucketLifecycle", "PutBucketLifecycle", "DeleteBucketLifecycle":
		return s.bucketLifecycle(rq)
	case "GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock":
		return s.bucketPublicAccessBlock(rq)
	case "InitiateBucketWorm", "CompleteBucketWorm", "ExtendBucketWorm", "AbortBucketWorm", "GetBucketWorm":
		return s.bucketWorm(rq)
	case "ListObjects", "ListObjectsV2":
		return s.listObjects(rq)
	case "DeleteMultipleObjects":
		return s.deleteMultiple(rq)
	case "PutObject":
		return s.putObject(rq)
	case "GetObject", "HeadObject", "GetObjectMeta":
		return s.getObject(rq)
	case "DeleteObject":
		return s.deleteObject(rq)
	case "GetObjectAcl", "PutObjectAcl":
		return s.objectACL(rq)
	}
	return errNotImplemented(rq.op)
}

// writeXML answers with an XML document.
func (rq *request) writeXML(status int, body []byte) {
	rq.commonHeaders()
	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	rq.status = status
	rq.w.WriteHeader(status)
	n, _ := rq.w.Write(body)
	rq.bytesOut += int64(n)
}

// writeEmpty answers without a body (200 for puts, 204 for deletes).
func (rq *request) writeEmpty(status int) {
	rq.commonHeaders()
	rq.w.Header().Set("Content-Length", "0")
	rq.status = status
	rq.w.WriteHeader(status)
}

// countingWriter counts the request in stats as its status is written (see request.count).
type countingWriter struct {
	http.ResponseWriter
	rq *request
}

func (w *countingWriter) WriteHeader(status int) {
	w.rq.count(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.rq.count(http.StatusOK)
	return w.ResponseWriter.Write(b)
}
