package oss

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// TestSecureTransportPolicy serves one handler over HTTP and HTTPS: a Deny on
// acs:SecureTransport=false refuses plain-HTTP calls of everyone but the owner's root identity.
func TestSecureTransportPolicy(t *testing.T) {
	e := newEnv(t)
	tlsSrv := httptest.NewTLSServer(e.srv)
	defer tlsSrv.Close()
	b := e.bucket()
	policy := `{"Version":"1","Statement":[
	  {"Effect":"Deny","Action":["oss:*"],"Principal":["*"],
	   "Resource":["acs:oss:*:*:` + b + `","acs:oss:*:*:` + b + `/*"],
	   "Condition":{"Bool":{"acs:SecureTransport":["false"]}}},
	  {"Effect":"Allow","Action":["oss:GetObject"],"Principal":["` + e.other + `"],"Resource":["acs:oss:*:*:` + b + `/*"]}]}`
	if err := e.v1(e.root).SetBucketPolicy(b, policy); err != nil {
		t.Fatal(err)
	}
	if err := e.put(e.v1(e.root), b, "k", "v"); err != nil {
		t.Fatal(err)
	}
	cred := e.sts(time.Hour)
	httpsV3 := func(k *core.AccessKey) *alioss.Client {
		c, err := NewTestClient(tlsSrv.URL, k.ID, k.Secret, "", alioss.HTTPClient(tlsSrv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	stsHTTP := newV2(e.ts.URL, cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	stsHTTPS := newV2(tlsSrv.URL, cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken, func(c *v2.Config) { c.WithHttpClient(tlsSrv.Client()) })
	v2get := func(c *v2.Client) error {
		r, err := c.GetObject(ctx, &v2.GetObjectRequest{Bucket: v2.Ptr(b), Key: v2.Ptr("k")})
		if err == nil {
			r.Body.Close()
		}
		return err
	}
	getV3 := func(c *alioss.Client) error { _, err := e.get(c, b, "k"); return err }
	cases := []struct {
		name    string
		call    func() error
		allowed bool
	}{
		{"owner root over HTTP", func() error { return getV3(e.v1(e.root)) }, true},
		{"owner root manages over HTTP", func() error { return e.v1(e.root).SetBucketACL(b, alioss.ACLPrivate) }, true},
		{"RAM user over HTTP", func() error { return getV3(e.v1(e.user)) }, false},
		{"RAM user manages over HTTP", func() error { return e.v1(e.user).SetBucketACL(b, alioss.ACLPrivate) }, false},
		{"RAM user over HTTPS", func() error { return getV3(httpsV3(e.user)) }, true},
		{"RAM user manages over HTTPS", func() error { return httpsV3(e.user).SetBucketACL(b, alioss.ACLPrivate) }, true},
		{"assumed role over HTTP (sdk-v2)", func() error { return v2get(stsHTTP) }, false},
		{"assumed role over HTTPS (sdk-v2)", func() error { return v2get(stsHTTPS) }, true},
		{"other account over HTTP", func() error { return getV3(e.v1(e.oroot)) }, false},
		{"other account over HTTPS", func() error { return getV3(httpsV3(e.oroot)) }, true},
		{"other account writes over HTTPS", func() error { return e.put(httpsV3(e.oroot), b, "k2", "x") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.allowed {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if se, ok := err.(alioss.ServiceError); ok {
				if se.StatusCode != 403 || se.Code != "AccessDenied" {
					t.Fatalf("want 403 AccessDenied, got %v", err)
				}
				return
			}
			svcErr2(t, err, 403, "AccessDenied")
		})
	}
}

func TestCrossAccountPolicy(t *testing.T) {
	e := newEnv(t)
	owner := e.v1(e.root)
	other := e.v1(e.oroot)
	b := e.bucket()
	for _, k := range []string{"logs/a", "logs/secret-1", "data/x"} {
		if err := e.put(owner, b, k, k); err != nil {
			t.Fatal(err)
		}
	}
	se := svcErr(t, func() error { _, err := e.get(other, b, "logs/a"); return err }(), 403, "AccessDenied")
	if se.Message != "You have no right to access this object because of bucket acl." {
		t.Fatalf("message %q", se.Message)
	}
	policy := `{"Version":"1","Statement":[
	  {"Effect":"Allow","Action":["oss:GetObject","oss:ListObjects"],"Principal":["` + e.other + `"],
	   "Resource":["acs:oss:*:*:` + b + `/logs/*","acs:oss:*:*:` + b + `"]},
	  {"Effect":"Deny","Action":["oss:Get*"],"Principal":["` + e.other + `"],"Resource":["acs:oss:*:*:` + b + `/logs/secret*"]},
	  {"Effect":"Allow","Action":["oss:PutObject"],"Principal":["*"],"Resource":["acs:oss:*:*:` + b + `/inbox/*"],
	   "Condition":{"IpAddress":{"acs:SourceIp":["127.0.0.0/8"]}}},
	  {"Effect":"Allow","Action":["oss:PutObject"],"Principal":["*"],"Resource":["acs:oss:*:*:` + b + `/elsewhere/*"],
	   "Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]}}}]}`
	if err := owner.SetBucketPolicy(b, policy); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		call    func() error
		message string // "" = allowed
	}{
		{"allowed object", func() error { _, err := e.get(other, b, "logs/a"); return err }, ""},
		{"head follows GetObject", func() error { _, err := e.obucket(other, b).GetObjectDetailedMeta("logs/a"); return err }, ""},
		{"outside the resource", func() error { _, err := e.get(other, b, "data/x"); return err }, "You have no right to access this object because of bucket acl."},
		{"explicit deny wins", func() error { _, err := e.get(other, b, "logs/secret-1"); return err }, "Access denied by bucket policy."},
		{"write not granted", func() error { return e.put(other, b, "logs/b", "x") }, "You have no right to access this object because of bucket acl."},
		{"listing granted", func() error { _, err := e.obucket(other, b).ListObjectsV2(alioss.Prefix("logs/")); return err }, ""},
		{"management never granted", func() error { return other.SetBucketACL(b, alioss.ACLPublicRead) }, "The bucket you visit is not belong to you."},
		{"IP condition met", func() error { return e.put(other, b, "inbox/drop", "x") }, ""},
		{"IP condition not met", func() error { return e.put(other, b, "elsewhere/drop", "x") }, "You have no right to access this object because of bucket acl."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.message == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if se := svcErr(t, err, 403, "AccessDenied"); se.Message != tc.message {
				t.Fatalf("message %q, want %q", se.Message, tc.message)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"acs:oss:*:*:bkt/*", "acs:oss:cn-hangzhou:123:bkt/a/b", false, true},
		{"acs:oss:*:*:bkt/*", "acs:oss:cn-hangzhou:123:bkt", false, false},
		{"acs:oss:*:*:bkt", "acs:oss:cn-hangzhou:123:bkt", false, true},
		{"oss:Get*", "oss:GetObject", false, true},
		{"OSS:get*", "oss:GetObject", true, true},
		{"OSS:get*", "oss:GetObject", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"*x*y*", "axbyc", false, true},
		{"*x*y", "axbyc", false, false},
	}
	for _, tc := range cases {
		if got := glob(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("glob(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.fold, got, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	cases := []struct {
		op, value string
		present   bool
		values    []string
		want      bool
	}{
		{"bool", "false", true, []string{"false"}, true},
		{"bool", "true", true, []string{"false"}, false},
		{"bool", "", false, []string{"false"}, false},
		{"stringequals", "a", true, []string{"b", "a"}, true},
		{"stringnotequals", "a", true, []string{"a"}, false},
		{"stringnotequals", "", false, []string{"a"}, true},
		{"stringlike", "logs/2024", true, []string{"logs/*"}, true},
		{"stringequalsignorecase", "ABC", true, []string{"abc"}, true},
		{"ipaddress", "10.1.2.3", true, []string{"10.0.0.0/8"}, true},
		{"ipaddress", "10.1.2.3", true, []string{"10.1.2.3"}, true},
		{"ipaddress", "192.168.0.1", true, []string{"10.0.0.0/8"}, false},
		{"notipaddress", "192.168.0.1", true, []string{"10.0.0.0/8"}, true},
		{"ipaddress", "not-an-ip", true, []string{"10.0.0.0/8"}, false},
		{"datelessthan", "x", true, []string{"y"}, false}, // unknown operators never match
	}
	for _, tc := range cases {
		got := evalCondition(condition{op: tc.op, key: "k", values: tc.values}, tc.value, tc.present)
		if got != tc.want {
			t.Errorf("%s(%q present=%v, %q) = %v, want %v", tc.op, tc.value, tc.present, tc.values, got, tc.want)
		}
	}
}

func TestParsePolicyErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Principal":"*","Resource":"acs:oss:*:*:b"}]}`:                                      "Statement[0].Action",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"acs:oss:*:*:b"}]}`:                                                 "Statement[0].Principal",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Principal":"*"}]}`:                                                            "Statement[0].Resource",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Principal":"*","Resource":"acs:oss:*:*:b","Condition":{"Bool":{"k":[{}]}}}]}`: "Statement[0].Condition.Bool.k",
		`{"Version":1,"Statement":[]}`: "Version",
		`[]`:                           "Policy",
	}
	for doc, field := range cases {
		_, err := parsePolicy([]byte(doc), "b")
		if err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("parsePolicy(%s) = %v, want an error about %s", doc, err, field)
		}
	}
	if _, err := parsePolicy([]byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Principal":{"RAM":["1"]},"Resource":["acs:oss:*:*:b/*"]}]}`), "b"); err != nil {
		t.Fatalf("valid policy refused: %v", err)
	}
}
