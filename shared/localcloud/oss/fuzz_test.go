package oss

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func FuzzDecodeLifecycle(f *testing.F) {
	f.Add([]byte(`<LifecycleConfiguration><Rule><ID>r</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>365</Days></Expiration></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule><Prefix></Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>IA</StorageClass></Transition><Tag><Key>a</Key><Value>b</Value></Tag></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule><ID></ID><Status>Disabled</Status><Expiration><CreatedBeforeDate>2024-01-01T00:00:00.000Z</CreatedBeforeDate></Expiration></Rule></LifecycleConfiguration>`))
	f.Add([]byte(`<LifecycleConfiguration><Rule>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := decodeLifecycle(body)
		if err != nil {
			if err.Status != 400 {
				t.Fatalf("status %d", err.Status)
			}
			return
		}
		// What GetBucketLifecycle returns must decode again to the same rules.
		again, err := decodeLifecycle(lifecycleXML(cfg))
		if err != nil || len(again.Rules) != len(cfg.Rules) {
			t.Fatalf("round trip: %v (%d vs %d rules)\n%s", err, len(again.Rules), len(cfg.Rules), lifecycleXML(cfg))
		}
	})
}

func FuzzDecodeEncryption(f *testing.F) {
	f.Add([]byte(`<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>KMS</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>`))
	f.Add([]byte(`<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></ServerSideEncryptionRule>`))
	f.Add([]byte(`<ServerSideEncryptionRule/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := decodeEncryption(body)
		if err != nil {
			return
		}
		if cfg.Algorithm != "AES256" && cfg.Algorithm != "KMS" && cfg.Algorithm != "SM4" {
			t.Fatalf("accepted algorithm %q", cfg.Algorithm)
		}
		if cfg.KMSMasterKeyID != "" && cfg.Algorithm != "KMS" {
			t.Fatal("accepted a key id without KMS")
		}
	})
}

func FuzzDecodeLogging(f *testing.F) {
	f.Add([]byte(`<BucketLoggingStatus><LoggingEnabled><TargetBucket>b</TargetBucket><TargetPrefix>p/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>`))
	f.Add([]byte(`<BucketLoggingStatus></BucketLoggingStatus>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg, err := decodeLogging(body)
		if err == nil && cfg != nil && (cfg.TargetBucket == "" || len(cfg.TargetPrefix) > 32) {
			t.Fatalf("accepted %+v", cfg)
		}
	})
}

func FuzzDecodeWormDays(f *testing.F) {
	f.Add([]byte(`<InitiateWormConfiguration><RetentionPeriodInDays>365</RetentionPeriodInDays></InitiateWormConfiguration>`), true)
	f.Add([]byte(`<ExtendWormConfiguration><RetentionPeriodInDays>-1</RetentionPeriodInDays></ExtendWormConfiguration>`), false)
	f.Fuzz(func(t *testing.T, body []byte, initiate bool) {
		root := "ExtendWormConfiguration"
		if initiate {
			root = "InitiateWormConfiguration"
		}
		days, err := decodeWormDays(body, root)
		if err == nil && (days < 1 || days > 25550) {
			t.Fatalf("accepted %d days", days)
		}
	})
}

func FuzzDecodePublicAccessBlock(f *testing.F) {
	f.Add([]byte(`<PublicAccessBlockConfiguration><BlockPublicAccess>true</BlockPublicAccess></PublicAccessBlockConfiguration>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = decodePublicAccessBlock(body)
	})
}

func FuzzDecodeDelete(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>false</Quiet><Object><Key>a b</Key></Object><Object><Key>c&amp;d</Key></Object></Delete>`))
	f.Add([]byte(`<Delete><Object></Object></Delete>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, _, err := decodeDelete(body)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > 1000 {
			t.Fatalf("accepted %d keys", len(keys))
		}
		for _, k := range keys {
			if k == "" {
				t.Fatal("accepted an empty key")
			}
		}
	})
}

func FuzzDecodeCreateBucket(f *testing.F) {
	f.Add([]byte(`<CreateBucketConfiguration><StorageClass>IA</StorageClass><DataRedundancyType>ZRS</DataRedundancyType></CreateBucketConfiguration>`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		class, red, err := decodeCreateBucket(body)
		if err == nil && (!storageClasses[class] || !redundancyTypes[red]) {
			t.Fatalf("accepted %q %q", class, red)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"Version":"1","Statement":[{"Effect":"Deny","Action":["oss:*"],"Principal":["*"],"Resource":["acs:oss:*:*:b","acs:oss:*:*:b/*"],"Condition":{"Bool":{"acs:SecureTransport":["false"]}}}]}`), "GetObject", "k")
	f.Add([]byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:Get*","Principal":{"RAM":["123"]},"Resource":"acs:oss:*:*:b/*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}`), "PutObject", "a/b")
	f.Fuzz(func(t *testing.T, doc []byte, op, key string) {
		p, err := parsePolicy(doc, "b")
		if err != nil {
			return
		}
		if len(p.statements) == 0 {
			t.Fatal("accepted a policy without statements")
		}
		c := evalContext{caller: core.Principal{AccountID: "123", Type: core.PrincipalRoot}, action: "oss:" + op,
			resource: "acs:oss:cn-hangzhou:123:b/" + key, values: map[string]string{"acs:securetransport": "false", "acs:sourceip": "10.1.1.1"}}
		p.matches("Allow", c, true)
		p.matches("Deny", c, false)
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=3-", "bytes=9-1", "bytes=0-1,2-3", "bytes=99999999999999999999-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		r, ok, unsat := parseRange(h, size)
		if ok && unsat {
			t.Fatal("both ok and unsatisfiable")
		}
		if ok && (r.start < 0 || r.start > r.end || r.end >= size) {
			t.Fatalf("range %+v outside an object of %d bytes", r, size)
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("acs:oss:*:*:b/*", "acs:oss:cn-hangzhou:1:b/k")
	f.Add("a?c*", "abcdef")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := glob(pattern, s, false)
		if !strings.ContainsAny(pattern, "*?") && got != (pattern == s) {
			t.Fatalf("glob(%q, %q) = %v for a literal pattern", pattern, s, got)
		}
		if !glob(s, s, false) {
			t.Fatalf("a string must match itself: %q", s)
		}
	})
}

func FuzzParseV4Auth(f *testing.F) {
	f.Add("Credential=AK/20240101/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=abc")
	f.Add("Credential=//,Signature=")
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseV4Auth(s)
		if ok && (a.akid == "" || a.signature == "") {
			t.Fatalf("accepted %+v", a)
		}
	})
}

// FuzzServeHTTP sends arbitrary anonymous requests (method, path, query, headers, body)
// through the whole handler: it must answer with a valid status and never panic.
func FuzzServeHTTP(f *testing.F) {
	f.Add("GET", "/bkt/", "list-type=2&max-keys=5&continuation-token=YQ%3D%3D&encoding-type=url", "", []byte(nil))
	f.Add("PUT", "/bkt/k", "", "bytes=1-2", []byte("data"))
	f.Add("POST", "/bkt/", "delete", "", []byte(`<Delete><Object><Key>k</Key></Object></Delete>`))
	f.Add("GET", "/bkt/k", "response-content-type=x&acl", "bytes=-1", []byte(nil))
	f.Add("PUT", "/bkt/", "publicAccessBlock", "", []byte(`<PublicAccessBlockConfiguration><BlockPublicAccess>true</BlockPublicAccess></PublicAccessBlockConfiguration>`))
	w := core.NewWorld("cn-hangzhou", nil)
	srv := New(w)
	w.Mu.Lock()
	w.EnableDirectoryLocked(core.NewAccountID(), "m")
	owner := w.ManagementAccountID
	w.Mu.Unlock()
	if err := srv.CreateBucket(owner, "bkt", "public-read-write"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, query, rng string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u := &url.URL{Path: path, RawQuery: query}
		req, err := http.NewRequest(method, "http://127.0.0.1"+u.RequestURI(), bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Host = "127.0.0.1"
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Header().Get("x-oss-request-id") == "" {
			t.Fatalf("no request id for %s %s?%s (status %d)", method, path, query, rec.Code)
		}
	})
}
