package oss

import (
	"net/http"
	"strings"
	"testing"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func TestCreateBucketAndInfo(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket(alioss.ACL(alioss.ACLPublicRead), alioss.StorageClass(alioss.StorageIA), alioss.RedundancyType(alioss.RedundancyZRS))

	info, err := c.GetBucketInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	got := info.BucketInfo
	if got.Name != b || got.ACL != "public-read" || got.StorageClass != "IA" || got.RedundancyType != "ZRS" ||
		got.Location != "oss-"+region || got.Owner.ID != e.mgmt || got.CreationDate.IsZero() || got.SseRule.SSEAlgorithm != "" {
		t.Fatalf("GetBucketInfo = %+v", got)
	}
	r2, err := e.sdk2(e.root).GetBucketInfo(ctx, &v2.GetBucketInfoRequest{Bucket: v2.Ptr(b)})
	if err != nil {
		t.Fatal(err)
	}
	if *r2.BucketInfo.Name != b || *r2.BucketInfo.ACL != "public-read" || *r2.BucketInfo.DataRedundancyType != "ZRS" {
		t.Fatalf("sdk-v2 GetBucketInfo = %+v", r2.BucketInfo)
	}
	loc, err := c.GetBucketLocation(b)
	if err != nil || loc != "oss-"+region {
		t.Fatalf("GetBucketLocation = %q, %v", loc, err)
	}

	cases := []struct {
		name   string
		create func() error
		status int
		code   string
	}{
		{"owner again, same settings", func() error {
			return c.CreateBucket(b, alioss.StorageClass(alioss.StorageIA), alioss.RedundancyType(alioss.RedundancyZRS))
		}, 0, ""},
		{"owner again, other storage class", func() error { return c.CreateBucket(b, alioss.RedundancyType(alioss.RedundancyZRS)) }, 409, "BucketAlreadyExists"},
		{"another account", func() error { return e.v1(e.oroot).CreateBucket(b) }, 409, "BucketAlreadyExists"},
		{"bad ACL", func() error { return c.CreateBucket("fresh-"+b, alioss.ACL("bogus")) }, 400, "InvalidArgument"},
		{"bad storage class", func() error { return c.CreateBucket("fresh-"+b, alioss.StorageClass("Glacier")) }, 400, "InvalidArgument"},
		{"anonymous", func() error {
			resp := e.raw(nil, http.MethodPut, "/anon-"+b+"/", nil, nil)
			if resp.StatusCode != 403 {
				t.Fatalf("anonymous PutBucket: %d", resp.StatusCode)
			}
			return nil
		}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.create()
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			svcErr(t, err, tc.status, tc.code)
		})
	}
	if info, _ := e.srv.Bucket(b); info.StorageClass != "IA" || info.Owner != e.mgmt {
		t.Fatalf("bucket changed by failed creates: %+v", info)
	}
}

func TestBucketNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"abc": true, "a-b-1": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "-ab": false, "ab-": false, "Abc": false, "a_b": false, "a.b": false,
	} {
		if got := checkBucketName(name) == nil; got != ok {
			t.Errorf("checkBucketName(%q) ok = %v, want %v", name, got, ok)
		}
	}
	e := newEnv(t)
	resp := e.raw(e.root, http.MethodPut, "/Bad_Name/", nil, nil)
	if body := readAll(t, resp.Body); resp.StatusCode != 400 || !strings.Contains(body, "InvalidBucketName") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func TestListAndDeleteBuckets(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	names := map[string]bool{}
	for i := 0; i < 3; i++ {
		names[e.bucket()] = true
	}
	if err := e.v1(e.oroot).CreateBucket("other-" + strings.ToLower(e.other[:8])); err != nil {
		t.Fatal(err)
	}
	res, err := c.ListBuckets()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Buckets) != 3 || res.Owner.ID != e.mgmt {
		t.Fatalf("ListBuckets = %+v", res)
	}
	for _, bp := range res.Buckets {
		if !names[bp.Name] || bp.Location != "oss-"+region || bp.Region != region {
			t.Fatalf("unexpected bucket %+v", bp)
		}
	}
	page, err := c.ListBuckets(alioss.MaxKeys(2))
	if err != nil || len(page.Buckets) != 2 || !page.IsTruncated || page.NextMarker != page.Buckets[1].Name {
		t.Fatalf("page = %+v, %v", page, err)
	}
	rest, err := c.ListBuckets(alioss.Marker(page.NextMarker))
	if err != nil || len(rest.Buckets) != 1 || rest.IsTruncated {
		t.Fatalf("rest = %+v, %v", rest, err)
	}

	var b string
	for n := range names {
		b = n
	}
	if err := e.put(c, b, "k", "v"); err != nil {
		t.Fatal(err)
	}
	svcErr(t, e.v1(e.oroot).DeleteBucket(b), 403, "AccessDenied")
	se := svcErr(t, c.DeleteBucket(b), 409, "BucketNotEmpty")
	if se.Ec != "0015-00000301" {
		t.Fatalf("EC %q", se.Ec)
	}
	if err := e.obucket(c, b).DeleteObject("k"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBucket(b); err != nil {
		t.Fatal(err)
	}
	svcErr(t, c.DeleteBucket(b), 404, "NoSuchBucket")
	if _, ok := e.srv.BucketOwner(b); ok {
		t.Fatal("bucket still exists")
	}
}

func TestBucketACL(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	for _, acl := range []alioss.ACLType{alioss.ACLPublicRead, alioss.ACLPublicReadWrite, alioss.ACLPrivate} {
		if err := c.SetBucketACL(b, acl); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetBucketACL(b)
		if err != nil || got.ACL != string(acl) || got.Owner.ID != e.mgmt {
			t.Fatalf("GetBucketACL = %+v, %v; want %s", got, err, acl)
		}
	}
	svcErr(t, c.SetBucketACL(b, "bogus"), 400, "InvalidArgument")
	svcErr(t, e.v1(e.oroot).SetBucketACL(b, alioss.ACLPublicRead), 403, "AccessDenied")
	_, err := e.v1(e.oroot).GetBucketACL(b)
	svcErr(t, err, 403, "AccessDenied")
	if err := e.v1(e.user).SetBucketACL(b, alioss.ACLPublicRead); err != nil {
		t.Fatalf("RAM user of the owner account: %v", err)
	}
	svcErr(t, c.SetBucketACL("no-such-"+b, alioss.ACLPrivate), 404, "NoSuchBucket")
}

func TestBucketPolicyCRUD(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	_, err := c.GetBucketPolicy(b)
	svcErr(t, err, 404, "NoSuchBucketPolicy")
	doc := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["` + e.other + `"],"Resource":["acs:oss:*:*:` + b + `/*"]}]}`
	if err := c.SetBucketPolicy(b, doc); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketPolicy(b)
	if err != nil || got != doc {
		t.Fatalf("GetBucketPolicy = %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"not JSON":         `{`,
		"version":          `{"Version":"2","Statement":[]}`,
		"no statements":    `{"Version":"1","Statement":[]}`,
		"effect":           `{"Version":"1","Statement":[{"Effect":"Maybe","Action":"oss:*","Principal":"*","Resource":"acs:oss:*:*:` + b + `"}]}`,
		"action":           `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Principal":"*","Resource":"acs:oss:*:*:` + b + `"}]}`,
		"foreign resource": `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Principal":"*","Resource":"acs:oss:*:*:someone-else/*"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			se := svcErr(t, c.SetBucketPolicy(b, bad), 400, "InvalidPolicyDocument")
			if !strings.Contains(se.Message, "Invalid Policy: ") {
				t.Fatalf("message %q", se.Message)
			}
		})
	}
	if got, _ := c.GetBucketPolicy(b); got != doc {
		t.Fatal("a refused policy replaced the stored one")
	}
	svcErr(t, e.v1(e.oroot).SetBucketPolicy(b, doc), 403, "AccessDenied")
	if err := c.DeleteBucketPolicy(b); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketPolicy(b)
	svcErr(t, err, 404, "NoSuchBucketPolicy")
}

func TestBucketLogging(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b, logs := e.bucket(), e.bucket()
	foreign := "foreign-" + strings.ToLower(e.other[:8])
	if err := e.v1(e.oroot).CreateBucket(foreign); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketLogging(b)
	if err != nil || got.LoggingEnabled.TargetBucket != "" {
		t.Fatalf("fresh logging = %+v, %v", got, err)
	}
	if err := c.SetBucketLogging(b, logs, "access/", true); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetBucketLogging(b)
	if err != nil || got.LoggingEnabled.TargetBucket != logs || got.LoggingEnabled.TargetPrefix != "access/" {
		t.Fatalf("logging = %+v, %v", got, err)
	}
	if info, _ := c.GetBucketInfo(b); info.BucketInfo.Name != b {
		t.Fatal("bucket info")
	}
	svcErr(t, c.SetBucketLogging(b, "missing-"+logs, "x/", true), 400, "InvalidTargetBucketForLogging")
	svcErr(t, c.SetBucketLogging(b, foreign, "x/", true), 400, "InvalidTargetBucketForLogging")
	svcErr(t, c.SetBucketLogging(b, logs, strings.Repeat("p", 33), true), 400, "InvalidArgument")
	if err := c.SetBucketLogging(b, "", "", false); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if info, _ := e.srv.Bucket(b); info.Logging != nil {
		t.Fatal("logging still on after an empty BucketLoggingStatus")
	}
	if err := c.SetBucketLogging(b, logs, "a/", true); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBucketLogging(b); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.srv.Bucket(b); info.Logging != nil {
		t.Fatal("logging still on after DeleteBucketLogging")
	}
}

func TestBucketEncryption(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	_, err := c.GetBucketEncryption(b)
	svcErr(t, err, 404, "NoSuchServerSideEncryptionRule")

	cases := []struct {
		name   string
		rule   alioss.ServerEncryptionRule
		status int
		code   string
	}{
		{"AES256", alioss.ServerEncryptionRule{SSEDefault: alioss.SSEDefaultRule{SSEAlgorithm: "AES256"}}, 0, ""},
		{"KMS with key", alioss.ServerEncryptionRule{SSEDefault: alioss.SSEDefaultRule{SSEAlgorithm: "KMS", KMSMasterKeyID: "9468da86-3509-4f8d-a61e-6eab1eac0000"}}, 0, ""},
		{"KMS managed key", alioss.ServerEncryptionRule{SSEDefault: alioss.SSEDefaultRule{SSEAlgorithm: "KMS"}}, 0, ""},
		{"key with AES256", alioss.ServerEncryptionRule{SSEDefault: alioss.SSEDefaultRule{SSEAlgorithm: "AES256", KMSMasterKeyID: "k"}}, 400, "InvalidArgument"},
		{"unknown algorithm", alioss.ServerEncryptionRule{SSEDefault: alioss.SSEDefaultRule{SSEAlgorithm: "ROT13"}}, 400, "InvalidEncryptionAlgorithmError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.SetBucketEncryption(b, tc.rule)
			if tc.status != 0 {
				svcErr(t, err, tc.status, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.GetBucketEncryption(b)
			if err != nil || got.SSEDefault.SSEAlgorithm != tc.rule.SSEDefault.SSEAlgorithm || got.SSEDefault.KMSMasterKeyID != tc.rule.SSEDefault.KMSMasterKeyID {
				t.Fatalf("GetBucketEncryption = %+v, %v", got, err)
			}
			info, _ := c.GetBucketInfo(b)
			if info.BucketInfo.SseRule.SSEAlgorithm != tc.rule.SSEDefault.SSEAlgorithm {
				t.Fatalf("bucket info SSE = %+v", info.BucketInfo.SseRule)
			}
			if err := e.put(c, b, "enc", "secret"); err != nil {
				t.Fatal(err)
			}
			h, err := e.obucket(c, b).GetObjectDetailedMeta("enc")
			if err != nil || h.Get("x-oss-server-side-encryption") != tc.rule.SSEDefault.SSEAlgorithm {
				t.Fatalf("object SSE header %q, %v", h.Get("x-oss-server-side-encryption"), err)
			}
			if tc.rule.SSEDefault.SSEAlgorithm == "KMS" && h.Get("x-oss-server-side-encryption-key-id") == "" {
				t.Fatal("KMS object without key id")
			}
		})
	}
	if err := c.DeleteBucketEncryption(b); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketEncryption(b)
	svcErr(t, err, 404, "NoSuchServerSideEncryptionRule")
}

func TestBucketLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	_, err := c.GetBucketLifecycle(b)
	svcErr(t, err, 404, "NoSuchLifecycle")
	rules := []alioss.LifecycleRule{
		alioss.BuildLifecycleRuleByDays("expire-logs", "logs/", true, 365),
		{ID: "to-ia", Prefix: "data/", Status: "Enabled", Transitions: []alioss.LifecycleTransition{{Days: 30, StorageClass: alioss.StorageIA}}},
	}
	if err := c.SetBucketLifecycle(b, rules); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetBucketLifecycle(b)
	if err != nil || len(got.Rules) != 2 || got.Rules[0].ID != "expire-logs" || got.Rules[0].Expiration.Days != 365 ||
		got.Rules[1].Transitions[0].StorageClass != alioss.StorageIA {
		t.Fatalf("GetBucketLifecycle = %+v, %v", got, err)
	}
	info, _ := e.srv.Bucket(b)
	if len(info.Lifecycle) != 2 || info.Lifecycle[0].ExpirationDays != 365 || info.Lifecycle[0].Prefix != "logs/" {
		t.Fatalf("Bucket().Lifecycle = %+v", info.Lifecycle)
	}
	for name, x := range map[string]string{
		"no rules":   `<LifecycleConfiguration></LifecycleConfiguration>`,
		"bad status": `<LifecycleConfiguration><Rule><ID>a</ID><Prefix></Prefix><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`,
		"no action":  `<LifecycleConfiguration><Rule><ID>a</ID><Prefix></Prefix><Status>Enabled</Status></Rule></LifecycleConfiguration>`,
		"zero days":  `<LifecycleConfiguration><Rule><ID>a</ID><Prefix></Prefix><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>`,
		"duplicate ids": `<LifecycleConfiguration><Rule><ID>a</ID><Prefix>x</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>` +
			`<Rule><ID>a</ID><Prefix>y</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`,
		"not XML": `<LifecycleConfiguration>`,
	} {
		t.Run(name, func(t *testing.T) {
			err := c.SetBucketLifecycleXml(b, x)
			var se alioss.ServiceError
			if !asSvc(err, &se) || se.StatusCode != 400 || (se.Code != "MalformedXML" && se.Code != "InvalidArgument") {
				t.Fatalf("want 400 MalformedXML/InvalidArgument, got %v", err)
			}
		})
	}
	if err := c.DeleteBucketLifecycle(b); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketLifecycle(b)
	svcErr(t, err, 404, "NoSuchLifecycle")
}

func TestPublicAccessBlock(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	c2 := e.sdk2(e.root)
	b := e.bucket(alioss.ACL(alioss.ACLPublicRead))
	if err := e.put(c, b, "doc", "public"); err != nil {
		t.Fatal(err)
	}
	anonGet := func() int {
		resp, err := http.Get(e.ts.URL + "/" + b + "/doc")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := anonGet(); s != 200 {
		t.Fatalf("public-read before the block: %d", s)
	}
	got, err := c2.GetBucketPublicAccessBlock(ctx, &v2.GetBucketPublicAccessBlockRequest{Bucket: v2.Ptr(b)})
	if err != nil || *got.PublicAccessBlockConfiguration.BlockPublicAccess {
		t.Fatalf("initial block = %+v, %v", got, err)
	}
	if _, err := c2.PutBucketPublicAccessBlock(ctx, &v2.PutBucketPublicAccessBlockRequest{
		Bucket: v2.Ptr(b), PublicAccessBlockConfiguration: &v2.PublicAccessBlockConfiguration{BlockPublicAccess: v2.Ptr(true)},
	}); err != nil {
		t.Fatal(err)
	}
	got, err = c2.GetBucketPublicAccessBlock(ctx, &v2.GetBucketPublicAccessBlockRequest{Bucket: v2.Ptr(b)})
	if err != nil || !*got.PublicAccessBlockConfiguration.BlockPublicAccess {
		t.Fatalf("block = %+v, %v", got, err)
	}
	if s := anonGet(); s != 403 {
		t.Fatalf("public-read ACL must not apply while blocked: %d", s)
	}
	svcErr(t, c.SetBucketACL(b, alioss.ACLPublicReadWrite), 403, "AccessDenied")
	public := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["*"],"Resource":["acs:oss:*:*:` + b + `/*"]}]}`
	svcErr(t, c.SetBucketPolicy(b, public), 403, "AccessDenied")
	svcErr(t, e.put(c, b, "pub", "x", alioss.ObjectACL(alioss.ACLPublicRead)), 403, "AccessDenied")
	if err := c.SetBucketACL(b, alioss.ACLPrivate); err != nil {
		t.Fatalf("private stays allowed: %v", err)
	}
	if _, err := c2.DeleteBucketPublicAccessBlock(ctx, &v2.DeleteBucketPublicAccessBlockRequest{Bucket: v2.Ptr(b)}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBucketPolicy(b, public); err != nil {
		t.Fatalf("public policy after unblocking: %v", err)
	}
	if s := anonGet(); s != 200 {
		t.Fatalf("public policy grants anonymous read: %d", s)
	}

	// The account-level switch blocks every bucket of the account.
	if _, err := c2.PutPublicAccessBlock(ctx, &v2.PutPublicAccessBlockRequest{
		PublicAccessBlockConfiguration: &v2.PublicAccessBlockConfiguration{BlockPublicAccess: v2.Ptr(true)},
	}); err != nil {
		t.Fatal(err)
	}
	if s := anonGet(); s != 403 {
		t.Fatalf("account block must void the public policy: %d", s)
	}
	svcErr(t, c.CreateBucket("pub-"+b, alioss.ACL(alioss.ACLPublicRead)), 403, "AccessDenied")
	acct, err := c2.GetPublicAccessBlock(ctx, &v2.GetPublicAccessBlockRequest{})
	if err != nil || !*acct.PublicAccessBlockConfiguration.BlockPublicAccess {
		t.Fatalf("account block = %+v, %v", acct, err)
	}
}

func asSvc(err error, se *alioss.ServiceError) bool {
	s, ok := err.(alioss.ServiceError)
	if ok {
		*se = s
	}
	return ok
}
