package oss

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Keys that exercise the v1 resource (unescaped) and the v4 canonical URI (escaped).
var awkwardKeys = []string{
	"plain.txt",
	"dir/sub dir/a b+c.txt",
	"unicode/日本語 ü.json",
	"sym/~!*'();:@&=$,?#[]%.bin",
	"trailing/",
}

// TestSignaturesThroughSDKs drives the real SDKs with every signing variant: each must
// create, write, read, list and delete.
func TestSignaturesThroughSDKs(t *testing.T) {
	e := newEnv(t)
	cred := e.sts(time.Hour)
	type ops struct {
		create func(bucket string) error
		put    func(bucket, key, body string) error
		get    func(bucket, key string) (string, error)
		list   func(bucket string) ([]string, error)
		del    func(bucket, key string) error
	}
	v3ops := func(c *alioss.Client) ops {
		return ops{
			create: func(b string) error { return c.CreateBucket(b) },
			put:    func(b, k, body string) error { return e.put(c, b, k, body) },
			get:    func(b, k string) (string, error) { return e.get(c, b, k) },
			list: func(b string) ([]string, error) {
				r, err := e.obucket(c, b).ListObjectsV2()
				var keys []string
				for _, o := range r.Objects {
					keys = append(keys, o.Key)
				}
				return keys, err
			},
			del: func(b, k string) error { return e.obucket(c, b).DeleteObject(k) },
		}
	}
	v2ops := func(c *v2.Client) ops {
		return ops{
			create: func(b string) error { _, err := c.PutBucket(ctx, &v2.PutBucketRequest{Bucket: v2.Ptr(b)}); return err },
			put: func(b, k, body string) error {
				_, err := c.PutObject(ctx, &v2.PutObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr(k), Body: strings.NewReader(body)})
				return err
			},
			get: func(b, k string) (string, error) {
				r, err := c.GetObject(ctx, &v2.GetObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr(k)})
				if err != nil {
					return "", err
				}
				defer r.Body.Close()
				data, err := io.ReadAll(r.Body)
				return string(data), err
			},
			list: func(b string) ([]string, error) {
				r, err := c.ListObjectsV2(ctx, &v2.ListObjectsV2Request{Bucket: v2.Ptr(b)})
				if err != nil {
					return nil, err
				}
				var keys []string
				for _, o := range r.Contents {
					keys = append(keys, *o.Key)
				}
				return keys, nil
			},
			del: func(b, k string) error {
				_, err := c.DeleteObject(ctx, &v2.DeleteObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr(k)})
				return err
			},
		}
	}
	stsV3, err := NewTestClient(e.ts.URL, cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	if err != nil {
		t.Fatal(err)
	}
	stsV3v4, err := NewTestClient(e.ts.URL, cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken,
		alioss.AuthVersion(alioss.AuthV4), alioss.Region(region))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ops  ops
	}{
		{"v3 signature v1", v3ops(e.v1(e.root))},
		{"v3 signature v4 (Date header)", v3ops(e.v4(e.root))},
		{"sdk-v2 signature v4 (x-oss-date)", v2ops(e.sdk2(e.root))},
		{"sdk-v2 signature v1", v2ops(newV2(e.ts.URL, e.root.ID, e.root.Secret, "", func(c *v2.Config) { c.WithSignatureVersion(v2.SignatureVersionV1) }))},
		{"v3 v1 with STS token", v3ops(stsV3)},
		{"v3 v4 with STS token", v3ops(stsV3v4)},
		{"sdk-v2 v4 with STS token", v2ops(newV2(e.ts.URL, cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken))},
		{"v3 v1 RAM user", v3ops(e.v1(e.user))},
		{"v3 v4 signing host and user-agent", v3ops(e.v1(e.root, alioss.AuthVersion(alioss.AuthV4), alioss.Region(region),
			alioss.AdditionalHeaders([]string{"host", "User-Agent"})))},
		{"sdk-v2 v4 signing user-agent", v2ops(newV2(e.ts.URL, e.root.ID, e.root.Secret, "", func(c *v2.Config) {
			c.WithAdditionalHeaders([]string{"User-Agent", "host"})
		}))},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := "sig-" + string(rune('a'+i)) + "-" + strings.ToLower(e.mgmt[:6])
			if err := tc.ops.create(b); err != nil {
				t.Fatalf("create: %v", err)
			}
			for _, k := range awkwardKeys {
				if err := tc.ops.put(b, k, "body of "+k); err != nil {
					t.Fatalf("put %q: %v", k, err)
				}
				got, err := tc.ops.get(b, k)
				if err != nil || got != "body of "+k {
					t.Fatalf("get %q = %q, %v", k, got, err)
				}
			}
			keys, err := tc.ops.list(b)
			if err != nil || len(keys) != len(awkwardKeys) {
				t.Fatalf("list = %q, %v; want %d keys", keys, err, len(awkwardKeys))
			}
			for _, k := range awkwardKeys {
				if err := tc.ops.del(b, k); err != nil {
					t.Fatalf("delete %q: %v", k, err)
				}
			}
			if left := e.srv.Keys(b, ""); len(left) != 0 {
				t.Fatalf("keys left after delete: %q", left)
			}
		})
	}
}

func TestAuthenticationErrors(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	cred := e.sts(time.Hour)
	other := e.sts(time.Hour)
	e.w.Mu.Lock()
	disabled := e.w.NewAccessKeyLocked(e.mgmt, "")
	disabled.Disabled = true
	e.w.Mu.Unlock()

	stsClient := func(id, secret, token string, opts ...alioss.ClientOption) *alioss.Client {
		c, err := NewTestClient(e.ts.URL, id, secret, token, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	v4 := []alioss.ClientOption{alioss.AuthVersion(alioss.AuthV4), alioss.Region(region)}
	cases := []struct {
		name   string
		client *alioss.Client
		status int
		code   string
		inBody string
	}{
		{"wrong secret v1", stsClient(e.root.ID, "not-the-secret", ""), 403, "SignatureDoesNotMatch", "<StringToSign>PUT&#xA;"},
		{"wrong secret v4", stsClient(e.root.ID, "not-the-secret", "", v4...), 403, "SignatureDoesNotMatch", "<CanonicalRequest>PUT&#xA;/" + b + "/k"},
		{"unknown key", stsClient("LTAI0000000000000000nope", "x", ""), 403, "InvalidAccessKeyId", "does not exist in our records"},
		{"disabled key", stsClient(disabled.ID, disabled.Secret, ""), 403, "InvalidAccessKeyId", "is disabled"},
		{"STS key without token", stsClient(cred.AccessKeyID, cred.AccessKeySecret, ""), 403, "InvalidAccessKeyId", "does not exist"},
		{"long-lived key with a token", stsClient(e.root.ID, e.root.Secret, "CAISbogus"), 403, "InvalidAccessKeyId", "does not exist"},
		{"garbage token", stsClient(cred.AccessKeyID, cred.AccessKeySecret, "CAISbogus"), 403, "InvalidSecurityToken", "is invalid"},
		{"token of another key", stsClient(cred.AccessKeyID, cred.AccessKeySecret, other.SecurityToken), 403, "AccessKeyIdAndSecurityTokenNotMatch", "does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.put(tc.client, b, "k", "v")
			se := svcErr(t, err, tc.status, tc.code)
			if !strings.Contains(se.RawMessage, tc.inBody) {
				t.Fatalf("body lacks %q:\n%s", tc.inBody, se.RawMessage)
			}
		})
	}

	t.Run("expired token", func(t *testing.T) {
		e.clock.Advance(2 * time.Hour)
		defer e.clock.Advance(-2 * time.Hour)
		err := e.put(stsClient(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken), b, "k", "v")
		se := svcErr(t, err, 403, "SecurityTokenExpired")
		if se.Ec != "0002-00000007" {
			t.Fatalf("EC = %q", se.Ec)
		}
	})

	t.Run("HEAD error carries the code in x-oss-err", func(t *testing.T) {
		_, err := e.obucket(stsClient(e.root.ID, "wrong", ""), b).GetObjectDetailedMeta("k")
		svcErr(t, err, 403, "SignatureDoesNotMatch")
		resp := e.raw(nil, http.MethodHead, "/"+b+"/missing", nil, nil)
		if resp.StatusCode != 403 || resp.Header.Get("x-oss-err") == "" || resp.ContentLength > 0 {
			t.Fatalf("anonymous HEAD: status %d, x-oss-err %q, length %d", resp.StatusCode, resp.Header.Get("x-oss-err"), resp.ContentLength)
		}
	})

	t.Run("sdk-v2 wrong secret", func(t *testing.T) {
		_, err := newV2(e.ts.URL, e.root.ID, "wrong", "").GetBucketInfo(ctx, &v2.GetBucketInfoRequest{Bucket: v2.Ptr(b)})
		se := svcErr2(t, err, 403, "SignatureDoesNotMatch")
		if !bytes.Contains(se.Snapshot, []byte("<StringToSign>OSS4-HMAC-SHA256&#xA;")) {
			t.Fatalf("snapshot: %s", se.Snapshot)
		}
	})
}

func TestRequestTimeSkew(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	cases := []struct {
		name   string
		date   time.Time
		status int
	}{
		{"now", time.Now(), 200},
		{"14 minutes old", time.Now().Add(-14 * time.Minute), 200},
		{"an hour old", time.Now().Add(-time.Hour), 403},
		{"an hour ahead", time.Now().Add(time.Hour), 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.raw(e.root, http.MethodGet, "/"+b+"/?bucketInfo", nil, map[string]string{"Date": tc.date.UTC().Format(http.TimeFormat)})
			body := readAll(t, resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tc.status == 403 && !strings.Contains(body, "<Code>RequestTimeTooSkewed</Code>") {
				t.Fatalf("body: %s", body)
			}
		})
	}
}

func TestPresignedURLAndAnonymous(t *testing.T) {
	e := newEnv(t)
	priv := e.bucket()
	pub := e.bucket(alioss.ACL(alioss.ACLPublicRead))
	for _, b := range []string{priv, pub} {
		if err := e.put(e.v1(e.root), b, "doc.txt", "hello"); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := e.obucket(e.v1(e.root), priv).SignURL("doc.txt", alioss.HTTPGet, 60)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		url    string
		status int
		code   string
	}{
		{"signed URL", signed, 200, ""},
		{"signed URL tampered", strings.Replace(signed, "Signature=", "Signature=x", 1), 403, "SignatureDoesNotMatch"},
		{"anonymous on private", e.ts.URL + "/" + priv + "/doc.txt", 403, "AccessDenied"},
		{"anonymous on public-read", e.ts.URL + "/" + pub + "/doc.txt", 200, ""},
		{"anonymous list of public-read", e.ts.URL + "/" + pub + "/", 200, ""},
		{"anonymous bucket info", e.ts.URL + "/" + pub + "/?bucketInfo", 403, "AccessDenied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.code) {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
		})
	}
	anonPut, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/"+pub+"/new", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(anonPut)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("anonymous put on public-read: %d", resp.StatusCode)
	}
}
