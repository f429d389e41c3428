package oss

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// crcTable is CRC-64/ECMA as the SDKs compute it (hash/crc64 with the ECMA polynomial); the
// decimal value travels in x-oss-hash-crc64ecma.
var crcTable = crc64.MakeTable(crc64.ECMA)

func itoa(n int) string { return strconv.Itoa(n) }

var objectACLs = setOf("default", "private", "public-read", "public-read-write")

// objectHeaders are the standard headers PutObject stores and GetObject returns.
var objectHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// managedKeyID stands in for the OSS-managed KMS key used when a bucket's KMS rule names none.
func managedKeyID(owner string) string {
	sum := sha256.Sum256([]byte("oss-managed-cmk|" + owner))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func newObject(body []byte, contentType string, now time.Time) *object {
	sum := md5.Sum(body)
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return &object{
		data:         body,
		etag:         strings.ToUpper(hex.EncodeToString(sum[:])),
		md5b64:       base64.StdEncoding.EncodeToString(sum[:]),
		crc:          crc64.Checksum(body, crcTable),
		contentType:  contentType,
		lastModified: now.Truncate(time.Second),
		storageClass: "Standard",
		acl:          "default",
		meta:         http.Header{},
	}
}

func (s *Server) putObject(rq *request) *apiError {
	if err := checkObjectName(rq.key); err != nil {
		return err
	}
	h := rq.r.Header
	o := newObject(rq.body, h.Get("Content-Type"), s.w.Now())
	if cm := h.Get("Content-MD5"); cm != "" && cm != o.md5b64 {
		return newErr(400, "InvalidDigest", "The Content-MD5 you specified was invalid.").with("Content-MD5", cm)
	}
	if acl := h.Get("x-oss-object-acl"); acl != "" {
		if !objectACLs[acl] {
			return errInvalidArgument("no such object access control exists", "x-oss-object-acl", acl)
		}
		o.acl = acl
	}
	if sc := h.Get("x-oss-storage-class"); sc != "" {
		if !storageClasses[sc] {
			return errInvalidArgument("No such object storage class exists.", "x-oss-storage-class", sc)
		}
		o.storageClass = sc
	}
	sse, keyID := h.Get("x-oss-server-side-encryption"), h.Get("x-oss-server-side-encryption-key-id")
	switch sse {
	case "", "AES256", "KMS", "SM4":
	default:
		return newErr(400, "InvalidEncryptionAlgorithmError",
			"The Encryption request you specified is not valid. Supported value: AES256/KMS/SM4.").
			with("ArgumentName", "x-oss-server-side-encryption").with("ArgumentValue", sse)
	}
	if keyID != "" && sse != "KMS" {
		return errInvalidArgument("x-oss-server-side-encryption-key-id is only allowed with KMS encryption.", "x-oss-server-side-encryption-key-id", keyID)
	}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-oss-meta-") {
			o.meta[k] = append([]string(nil), v...)
		}
	}
	for _, k := range objectHeaders {
		if v := h.Get(k); v != "" {
			o.meta.Set(k, v)
		}
	}
	forbid := strings.EqualFold(h.Get("x-oss-forbid-overwrite"), "true")

	if err := func() *apiError {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, err := s.lookup(rq)
		if err != nil {
			return err
		}
		old := b.objects[rq.key]
		if err := s.authorize(rq, b, kindObjectWrite, rq.key, old); err != nil {
			return err
		}
		if old != nil {
			if forbid {
				return newErr(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.").with("Key", rq.key)
			}
			if b.protected(old, s.w.Now()) {
				return errImmutable(rq.key)
			}
		}
		if (o.acl == "public-read" || o.acl == "public-read-write") && (b.blockPub || s.accountBlock[b.owner]) {
			return errAccessDenied("Public access is blocked for this bucket: a public object ACL is not allowed.")
		}
		switch {
		case sse != "":
			o.sse, o.sseKeyID = sse, keyID
		case b.encryption != nil:
			o.sse, o.sseKeyID = b.encryption.Algorithm, b.encryption.KMSMasterKeyID
		}
		if o.sse == "KMS" && o.sseKeyID == "" {
			o.sseKeyID = managedKeyID(b.owner)
		}
		b.objects[rq.key] = o
		return nil
	}(); err != nil {
		return err
	}
	w := rq.w.Header()
	w.Set("ETag", `"`+o.etag+`"`)
	w.Set("Content-MD5", o.md5b64)
	w.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	sseHeaders(w, o)
	rq.writeEmpty(200)
	return nil
}

func sseHeaders(h http.Header, o *object) {
	if o.sse == "" {
		return
	}
	h.Set("x-oss-server-side-encryption", o.sse)
	if o.sse == "KMS" {
		h.Set("x-oss-server-side-encryption-key-id", o.sseKeyID)
	}
}

// etagMatches applies an If-Match / If-None-Match list to the object's ETag.
func etagMatches(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		p := strings.TrimSpace(part)
		p = strings.TrimPrefix(p, "W/")
		if p == "*" || strings.EqualFold(strings.Trim(p, `"`), etag) {
			return true
		}
	}
	return false
}

// preconditions evaluates If-Match, If-Unmodified-Since (412) and If-None-Match,
// If-Modified-Since (304) in the order HTTP defines.
func preconditions(h http.Header, o *object) (status int, condition string) {
	if v := h.Get("If-Match"); v != "" {
		if !etagMatches(v, o.etag) {
			return 412, "If-Match"
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && o.lastModified.After(t) {
			return 412, "If-Unmodified-Since"
		}
	}
	if v := h.Get("If-None-Match"); v != "" {
		if etagMatches(v, o.etag) {
			return 304, "If-None-Match"
		}
	} else if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !o.lastModified.After(t) {
			return 304, "If-Modified-Since"
		}
	}
	return 0, ""
}

// responseOverrides are GetObject's response-* query parameters.
var responseOverrides = map[string]string{
	"response-content-type": "Content-Type", "response-content-language": "Content-Language",
	"response-expires": "Expires", "response-cache-control": "Cache-Control",
	"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
}

// getObject serves GetObject, HeadObject and GetObjectMeta.
func (s *Server) getObject(rq *request) *apiError {
	var o *object
	if err := func() *apiError {
		s.mu.RLock()
		defer s.mu.RUnlock()
		b, err := s.lookup(rq)
		if err != nil {
			return err
		}
		o = b.objects[rq.key]
		if err := s.authorize(rq, b, kindObjectRead, rq.key, o); err != nil {
			return err
		}
		if o == nil {
			return errNoSuchKey(rq.key)
		}
		return nil
	}(); err != nil {
		return err
	}
	// o is never mutated once stored (a put replaces it), so it is read without the lock.
	h := rq.w.Header()
	rq.commonHeaders()
	h.Set("ETag", `"`+o.etag+`"`)
	h.Set("Last-Modified", o.lastModified.Format(http.TimeFormat))
	if status, cond := preconditions(rq.r.Header, o); status == 412 {
		return newErr(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.").with("Condition", cond)
	} else if status == 304 {
		rq.status = 304
		rq.w.WriteHeader(304)
		return nil
	}
	size := int64(len(o.data))
	if rq.op == "GetObjectMeta" {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		h.Set("x-oss-last-access-time", o.lastModified.Format(http.TimeFormat))
		rq.status = 200
		rq.w.WriteHeader(200)
		return nil
	}
	h.Set("Content-Type", o.contentType)
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-oss-object-type", "Normal")
	h.Set("x-oss-storage-class", o.storageClass)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("Content-MD5", o.md5b64)
	for k, v := range o.meta {
		h[k] = append([]string(nil), v...) // the stored object is shared by concurrent readers
	}
	sseHeaders(h, o)
	if rq.op == "GetObject" {
		for q, name := range responseOverrides {
			if v := rq.query.Get(q); v != "" {
				h.Set(name, v)
			}
		}
	}
	body, status := o.data, 200
	if rq.op == "GetObject" {
		if r, ok, unsatisfiable := parseRange(rq.r.Header.Get("Range"), size); unsatisfiable {
			h.Del("Content-MD5")
			return newErr(416, "InvalidRange", "The requested range cannot be satisfied").
				with("RangeRequested", rq.r.Header.Get("Range")).with("ActualObjectSize", strconv.FormatInt(size, 10))
		} else if ok {
			body, status = o.data[r.start:r.end+1], 206
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, size))
			h.Del("Content-MD5")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.status = status
	rq.w.WriteHeader(status)
	if rq.r.Method != http.MethodHead {
		n, _ := rq.w.Write(body)
		rq.bytesOut += int64(n)
	}
	return nil
}

func (s *Server) deleteObject(rq *request) *apiError {
	if err := func() *apiError {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, err := s.lookup(rq)
		if err != nil {
			return err
		}
		o := b.objects[rq.key]
		if err := s.authorize(rq, b, kindObjectWrite, rq.key, o); err != nil {
			return err
		}
		if o == nil {
			return nil // deleting a missing object succeeds, as in OSS
		}
		if b.protected(o, s.w.Now()) {
			return errImmutable(rq.key)
		}
		delete(b.objects, rq.key)
		return nil
	}(); err != nil {
		return err
	}
	rq.writeEmpty(204)
	return nil
}

// deleteMultiple removes up to 1000 keys. The whole call fails when any key is refused (no
// permission, or protected by a retention policy) so nothing is half-deleted.
func (s *Server) deleteMultiple(rq *request) *apiError {
	enc := rq.query.Get("encoding-type")
	if enc != "" && enc != "url" {
		return errInvalidArgument("The encoding-type is invalid: only url is supported.", "encoding-type", enc)
	}
	if cm := rq.r.Header.Get("Content-MD5"); cm != "" {
		sum := md5.Sum(rq.body)
		if cm != base64.StdEncoding.EncodeToString(sum[:]) {
			return newErr(400, "InvalidDigest", "The Content-MD5 you specified was invalid.").with("Content-MD5", cm)
		}
	}
	keys, quiet, derr := decodeDelete(rq.body)
	if derr != nil {
		return derr
	}
	if err := func() *apiError {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, err := s.lookup(rq)
		if err != nil {
			return err
		}
		now := s.w.Now()
		for _, k := range keys {
			o := b.objects[k]
			if err := s.authorize(rq, b, kindObjectWrite, k, o); err != nil {
				return err
			}
			if o != nil && b.protected(o, now) {
				return errImmutable(k)
			}
		}
		for _, k := range keys {
			delete(b.objects, k)
		}
		return nil
	}(); err != nil {
		return err
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	out := struct {
		XMLName      xml.Name  `xml:"DeleteResult"`
		EncodingType string    `xml:"EncodingType,omitempty"`
		Deleted      []deleted `xml:"Deleted"`
	}{EncodingType: enc}
	if !quiet {
		for _, k := range keys {
			if enc == "url" {
				k = urlEncode(k)
			}
			out.Deleted = append(out.Deleted, deleted{k})
		}
	}
	rq.writeXML(200, marshalXML(out))
	return nil
}

func (s *Server) objectACL(rq *request) *apiError {
	if rq.op == "GetObjectAcl" {
		var acl, owner string
		if err := func() *apiError {
			s.mu.RLock()
			defer s.mu.RUnlock()
			b, err := s.lookup(rq)
			if err != nil {
				return err
			}
			o := b.objects[rq.key]
			if err := s.authorize(rq, b, kindObjectRead, rq.key, o); err != nil {
				return err
			}
			if o == nil {
				return errNoSuchKey(rq.key)
			}
			acl, owner = o.acl, b.owner
			return nil
		}(); err != nil {
			return err
		}
		rq.writeXML(200, marshalXML(struct {
			XMLName xml.Name `xml:"AccessControlPolicy"`
			Owner   ownerXML `xml:"Owner"`
			Grant   string   `xml:"AccessControlList>Grant"`
		}{Owner: ownerOf(owner), Grant: acl}))
		return nil
	}
	acl := rq.r.Header.Get("x-oss-object-acl")
	if !objectACLs[acl] {
		return errInvalidArgument("no such object access control exists", "x-oss-object-acl", acl)
	}
	if err := func() *apiError {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, err := s.lookup(rq)
		if err != nil {
			return err
		}
		if err := s.authorize(rq, b, kindManage, "", nil); err != nil {
			return err
		}
		o := b.objects[rq.key]
		if o == nil {
			return errNoSuchKey(rq.key)
		}
		if (acl == "public-read" || acl == "public-read-write") && (b.blockPub || s.accountBlock[b.owner]) {
			return errAccessDenied("Public access is blocked for this bucket: a public object ACL is not allowed.")
		}
		c := *o // objects are replaced, never mutated, so readers without the lock stay safe
		c.acl = acl
		b.objects[rq.key] = &c
		return nil
	}(); err != nil {
		return err
	}
	rq.writeEmpty(200)
	return nil
}
