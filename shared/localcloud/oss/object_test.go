package oss

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestPutObjectHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	body := strings.Repeat("audit record\n", 1000)
	var hdr http.Header
	if err := e.put(c, b, "a/b.log", body, alioss.Meta("origin", "trail"), alioss.ContentDisposition("attachment"), alioss.ContentType("text/plain; charset=utf-8"), alioss.GetResponseHeader(&hdr)); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(body))
	wantETag := `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
	// The SDK's own CRC table, computed independently of the server.
	wantCRC := strconv.FormatUint(crc64.Checksum([]byte(body), alioss.CrcTable()), 10)
	if hdr.Get("ETag") != wantETag || hdr.Get("x-oss-hash-crc64ecma") != wantCRC || len(hdr.Get("x-oss-request-id")) != 24 {
		t.Fatalf("PutObject headers: ETag %q (want %q), crc %q (want %q), request id %q",
			hdr.Get("ETag"), wantETag, hdr.Get("x-oss-hash-crc64ecma"), wantCRC, hdr.Get("x-oss-request-id"))
	}
	meta, err := e.obucket(c, b).GetObjectDetailedMeta("a/b.log")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"ETag": wantETag, "Content-Length": strconv.Itoa(len(body)), "x-oss-meta-origin": "trail",
		"Content-Disposition": "attachment", "x-oss-object-type": "Normal", "x-oss-storage-class": "Standard",
		"x-oss-hash-crc64ecma": wantCRC, "Content-Type": "text/plain; charset=utf-8",
	} {
		if got := meta.Get(k); got != want {
			t.Errorf("HeadObject %s = %q, want %q", k, got, want)
		}
	}
	short, err := e.obucket(c, b).GetObjectMeta("a/b.log")
	if err != nil || short.Get("ETag") != wantETag || short.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("GetObjectMeta = %v, %v", short, err)
	}
	// v3 checks the CRC of a whole download against the header.
	path := filepath.Join(t.TempDir(), "out")
	if err := e.obucket(c, b).GetObjectToFile("a/b.log", path); err != nil {
		t.Fatalf("GetObjectToFile (CRC checked): %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != body {
		t.Fatal("downloaded content differs")
	}
}

// TestSDKsDetectABadCRC shows the CRC header is really checked: a proxy that corrupts it
// makes both SDKs fail, so the passing tests above prove the server's value is right.
func TestSDKsDetectABadCRC(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if c := w.Header().Get("x-oss-hash-crc64ecma"); c != "" {
			w.Header().Set("x-oss-hash-crc64ecma", c+"1")
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer proxy.Close()
	c, err := NewTestClient(proxy.URL, e.root.ID, e.root.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	err = e.put(c, b, "k", "data")
	var crcErr alioss.CRCCheckError
	if !errors.As(err, &crcErr) {
		t.Fatalf("v3 PutObject with a corrupted CRC: %T %v", err, err)
	}
	_, err = newV2(proxy.URL, e.root.ID, e.root.Secret, "").PutObject(ctx, &v2.PutObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("k2"), Body: strings.NewReader("data")})
	if err == nil || !strings.Contains(err.Error(), "crc is inconsistent") {
		t.Fatalf("sdk-v2 PutObject with a corrupted CRC: %v", err)
	}
}

func TestSDKv2ObjectRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.sdk2(e.root)
	b := e.bucket()
	body := strings.Repeat("x", 100_000)
	put, err := c.PutObject(ctx, &v2.PutObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("big/ob ject"), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatUint(crc64.Checksum([]byte(body), crc64.MakeTable(crc64.ECMA)), 10); *put.HashCRC64 != want {
		t.Fatalf("crc %s, want %s", *put.HashCRC64, want)
	}
	f := filepath.Join(t.TempDir(), "o")
	if _, err := c.GetObjectToFile(ctx, &v2.GetObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("big/ob ject")}, f); err != nil {
		t.Fatalf("GetObjectToFile (CRC checked): %v", err)
	}
	head, err := c.HeadObject(ctx, &v2.HeadObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("big/ob ject")})
	if err != nil || head.ContentLength != int64(len(body)) || *head.ETag != *put.ETag {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	_, err = c.HeadObject(ctx, &v2.HeadObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("missing")})
	svcErr2(t, err, 404, "NoSuchKey")
	_, err = c.PutObject(ctx, &v2.PutObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("big/ob ject"), ForbidOverwrite: v2.Ptr("true"), Body: strings.NewReader("y")})
	svcErr2(t, err, 409, "FileAlreadyExists")
}

func TestForbidOverwriteAndDigest(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	cases := []struct {
		name   string
		key    string
		opts   []alioss.Option
		status int
		code   string
	}{
		{"create-only, new key", "state/000001", []alioss.Option{alioss.ForbidOverWrite(true)}, 0, ""},
		{"create-only, existing key", "state/000001", []alioss.Option{alioss.ForbidOverWrite(true)}, 409, "FileAlreadyExists"},
		{"overwrite allowed", "state/000001", []alioss.Option{alioss.ForbidOverWrite(false)}, 0, ""},
		{"wrong Content-MD5", "state/000002", []alioss.Option{alioss.ContentMD5("1B2M2Y8AsgTpgAmY7PhCfg==")}, 400, "InvalidDigest"},
		{"right Content-MD5", "state/000002", []alioss.Option{alioss.ContentMD5(md5b64("payload"))}, 0, ""},
		{"bad object ACL", "state/000003", []alioss.Option{alioss.ObjectACL("bogus")}, 400, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.put(c, b, tc.key, "payload", tc.opts...)
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			svcErr(t, err, tc.status, tc.code)
		})
	}
	if keys := e.srv.Keys(b, "state/"); len(keys) != 2 {
		t.Fatalf("keys = %q", keys)
	}
}

func md5b64(s string) string {
	sum := md5.Sum([]byte(s))
	return base64Std(sum[:])
}

func TestConditionalGetAndHead(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	if err := e.put(c, b, "k", "content"); err != nil {
		t.Fatal(err)
	}
	meta, _ := e.obucket(c, b).GetObjectDetailedMeta("k")
	etag := meta.Get("ETag")
	lm, _ := http.ParseTime(meta.Get("Last-Modified"))
	before, after := lm.Add(-time.Hour), lm.Add(time.Hour)
	cases := []struct {
		name   string
		opt    alioss.Option
		status int // 0 = served
	}{
		{"If-Match same", alioss.IfMatch(etag), 0},
		{"If-Match other", alioss.IfMatch(`"0123"`), 412},
		{"If-Match star", alioss.IfMatch("*"), 0},
		{"If-None-Match same", alioss.IfNoneMatch(etag), 304},
		{"If-None-Match other", alioss.IfNoneMatch(`"0123"`), 0},
		{"If-Modified-Since before", alioss.IfModifiedSince(before), 0},
		{"If-Modified-Since after", alioss.IfModifiedSince(after), 304},
		{"If-Unmodified-Since after", alioss.IfUnmodifiedSince(after), 0},
		{"If-Unmodified-Since before", alioss.IfUnmodifiedSince(before), 412},
	}
	for _, tc := range cases {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				var err error
				if method == "GET" {
					var got string
					got, err = e.get(c, b, "k", tc.opt)
					if err == nil && got != "content" {
						t.Fatalf("body %q", got)
					}
				} else {
					_, err = e.obucket(c, b).GetObjectDetailedMeta("k", tc.opt)
				}
				switch tc.status {
				case 0:
					if err != nil {
						t.Fatal(err)
					}
				case 412:
					svcErr(t, err, 412, "PreconditionFailed")
				case 304:
					if err == nil || !strings.Contains(err.Error(), "304") {
						t.Fatalf("want 304, got %v", err)
					}
				}
			})
		}
	}
}

func TestRangeAndMissing(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	if err := e.put(c, b, "k", "0123456789"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		rng    string
		want   string
		status int
	}{
		{"middle", "bytes=2-5", "2345", 206},
		{"open end", "bytes=7-", "789", 206},
		{"suffix", "bytes=-3", "789", 206},
		{"end past size", "bytes=8-100", "89", 206},
		{"ignored syntax", "bytes=5-2", "0123456789", 200},
		{"multiple ignored", "bytes=0-1,3-4", "0123456789", 200},
		{"past the end", "bytes=10-", "", 416},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.raw(e.root, http.MethodGet, "/"+b+"/k", nil, map[string]string{"Range": tc.rng})
			body := readAll(t, resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tc.status != 416 && body != tc.want {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
			if tc.status == 416 && !strings.Contains(body, "<Code>InvalidRange</Code>") {
				t.Fatalf("body %s", body)
			}
		})
	}
	got, err := e.get(c, b, "k", alioss.Range(1, 3))
	if err != nil || got != "123" {
		t.Fatalf("SDK range = %q, %v", got, err)
	}
	_, err = e.get(c, b, "missing")
	se := svcErr(t, err, 404, "NoSuchKey")
	if se.Ec != "0026-00000001" || !strings.Contains(se.RawMessage, "<Key>missing</Key>") {
		t.Fatalf("NoSuchKey body: %s", se.RawMessage)
	}
	_, err = e.obucket(c, b).GetObjectDetailedMeta("missing")
	svcErr(t, err, 404, "NoSuchKey")
	_, err = e.get(c, "no-such-"+b, "k")
	se = svcErr(t, err, 404, "NoSuchBucket")
	if !strings.Contains(se.RawMessage, "<BucketName>no-such-"+b+"</BucketName>") || se.Ec != "0015-00000101" {
		t.Fatalf("NoSuchBucket body: %s", se.RawMessage)
	}
	exists, err := e.obucket(c, b).IsObjectExist("missing")
	if err != nil || exists {
		t.Fatalf("IsObjectExist = %v, %v", exists, err)
	}
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	keys := []string{"a b", "c/d+e", "ü"}
	for _, k := range keys {
		if err := e.put(c, b, k, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.obucket(c, b).DeleteObject("never-existed"); err != nil {
		t.Fatalf("deleting a missing key is 204: %v", err)
	}
	res, err := e.obucket(c, b).DeleteObjects(append(keys[:2:2], "missing"))
	if err != nil || strings.Join(res.DeletedObjects, "|") != "a b|c/d+e|missing" {
		t.Fatalf("DeleteObjects = %+v, %v", res, err)
	}
	res, err = e.obucket(c, b).DeleteObjects([]string{"ü"}, alioss.DeleteObjectsQuiet(true))
	if err != nil || len(res.DeletedObjects) != 0 {
		t.Fatalf("quiet DeleteObjects = %+v, %v", res, err)
	}
	if left := e.srv.Keys(b, ""); len(left) != 0 {
		t.Fatalf("left: %q", left)
	}
	r2, err := e.sdk2(e.root).DeleteMultipleObjects(ctx, &v2.DeleteMultipleObjectsRequest{
		Bucket: v2.Ptr(b), Objects: []v2.DeleteObject{{Key: v2.Ptr("x y")}},
	})
	if err != nil || len(r2.DeletedObjects) != 1 || *r2.DeletedObjects[0].Key != "x y" {
		t.Fatalf("sdk-v2 DeleteMultipleObjects = %+v, %v", r2, err)
	}
}

func TestObjectACL(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	if err := e.put(c, b, "k", "v"); err != nil {
		t.Fatal(err)
	}
	acl, err := e.obucket(c, b).GetObjectACL("k")
	if err != nil || acl.ACL != "default" {
		t.Fatalf("GetObjectACL = %+v, %v", acl, err)
	}
	if err := e.obucket(c, b).SetObjectACL("k", alioss.ACLPublicRead); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(e.ts.URL + "/" + b + "/k")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "v" {
		t.Fatalf("public-read object in a private bucket: %d %s", resp.StatusCode, body)
	}
	svcErr(t, e.obucket(e.v1(e.oroot), b).SetObjectACL("k", alioss.ACLPrivate), 403, "AccessDenied")
}
