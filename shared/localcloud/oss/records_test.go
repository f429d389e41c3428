package oss

import (
	"sync"
	"testing"
	"time"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func (e *env) history(account string) []*core.Event {
	return e.w.Recorder.Window(account, time.Time{}, e.w.Now().Add(time.Hour))
}

func TestActionTrailRecordsOfBucketWrites(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket(alioss.ACL(alioss.ACLPrivate))
	steps := []struct {
		event string
		call  func() error
	}{
		{"PutBucketAcl", func() error { return c.SetBucketACL(b, alioss.ACLPublicRead) }},
		{"PutBucketPolicy", func() error {
			return c.SetBucketPolicy(b, `{"Version":"1","Statement":[{"Effect":"Deny","Action":"oss:*","Principal":"*","Resource":"acs:oss:*:*:`+b+`/*","Condition":{"Bool":{"acs:SecureTransport":"false"}}}]}`)
		}},
		{"DeleteBucketPolicy", func() error { return c.DeleteBucketPolicy(b) }},
		{"PutBucketEncryption", func() error {
			return c.SetBucketEncryption(b, alioss.ServerEncryptionRule{SSEDefault: alioss.SSEDefaultRule{SSEAlgorithm: "KMS", KMSMasterKeyID: "key-1"}})
		}},
		{"DeleteBucketEncryption", func() error { return c.DeleteBucketEncryption(b) }},
		{"PutBucketLogging", func() error { return c.SetBucketLogging(b, b, "log/", true) }},
		{"DeleteBucketLogging", func() error { return c.DeleteBucketLogging(b) }},
		{"PutBucketLifecycle", func() error {
			return c.SetBucketLifecycle(b, []alioss.LifecycleRule{alioss.BuildLifecycleRuleByDays("r", "", true, 30)})
		}},
		{"DeleteBucketLifecycle", func() error { return c.DeleteBucketLifecycle(b) }},
		{"InitiateBucketWorm", func() error { _, err := c.InitiateBucketWorm(b, 1); return err }},
		{"AbortBucketWorm", func() error { return c.AbortBucketWorm(b) }},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.event, err)
		}
	}
	// Object calls are data events: not recorded.
	if err := e.put(c, b, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(c, b, "k"); err != nil {
		t.Fatal(err)
	}

	var names []string
	byName := map[string]*core.Event{}
	for _, ev := range e.history(e.mgmt) {
		names = append(names, ev.EventName)
		byName[ev.EventName] = ev
	}
	want := []string{"PutBucket"}
	for _, s := range steps {
		want = append(want, s.event)
	}
	if len(names) != len(want) {
		t.Fatalf("recorded %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("recorded %q, want %q", names, want)
		}
	}
	ev := byName["PutBucketAcl"]
	if ev.EventSource != "oss.aliyuncs.com" || ev.ServiceName != "Oss" || ev.EventRW != "Write" || ev.EventType != "ApiCall" ||
		ev.AcsRegion != region || ev.RecipientAccountID != e.mgmt || ev.UserIdentity.Type != core.PrincipalRoot ||
		ev.UserIdentity.AccessKeyID != e.root.ID || ev.RequestParameters["bucketName"] != b ||
		ev.RequestParameters["x-oss-acl"] != "public-read" || len(ev.RequestID) != 24 || ev.ErrorCode != "" {
		t.Fatalf("PutBucketAcl record: %+v", ev)
	}
	if p := byName["PutBucketEncryption"].RequestParameters; p["SSEAlgorithm"] != "KMS" || p["KMSMasterKeyID"] != "key-1" {
		t.Fatalf("PutBucketEncryption parameters: %+v", p)
	}
	if p := byName["InitiateBucketWorm"].RequestParameters; p["retentionPeriodInDays"] != 1 || p["wormId"] == "" {
		t.Fatalf("InitiateBucketWorm parameters: %+v", p)
	}
}

func TestRecordIdentitiesAndFailures(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	if err := e.v1(e.user).SetBucketACL(b, alioss.ACLPublicRead); err != nil {
		t.Fatal(err)
	}
	svcErr(t, e.v1(e.oroot).SetBucketACL(b, alioss.ACLPublicReadWrite), 403, "AccessDenied")
	svcErr(t, e.v1(e.oroot).CreateBucket(b), 409, "BucketAlreadyExists")

	h := e.history(e.mgmt)
	if len(h) != 3 {
		t.Fatalf("owner history: %d events", len(h))
	}
	if u := h[1].UserIdentity; u.Type != core.PrincipalRAMUser || u.UserName != "alice" || u.Arn != "acs:ram::"+e.mgmt+":user/alice" {
		t.Fatalf("RAM user identity: %+v", u)
	}
	if ev := h[2]; ev.ErrorCode != "AccessDenied" || ev.UserIdentity.AccountID != e.other {
		t.Fatalf("denied cross-account attempt: %+v", ev)
	}
	oh := e.history(e.other)
	if len(oh) != 1 || oh[0].EventName != "PutBucket" || oh[0].ErrorCode != "BucketAlreadyExists" {
		t.Fatalf("caller history: %+v", oh)
	}

	e.w.RecordReads = true
	if _, err := e.v1(e.root).GetBucketInfo(b); err != nil {
		t.Fatal(err)
	}
	last := e.history(e.mgmt)
	if ev := last[len(last)-1]; ev.EventName != "GetBucketInfo" || ev.EventRW != "Read" {
		t.Fatalf("read record: %+v", ev)
	}
}

func TestOSSOperationsEmitted(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	var mu sync.Mutex
	var ops []core.OSSOperation
	e.w.Recorder.OnOSSOperation(func(op core.OSSOperation) {
		mu.Lock()
		ops = append(ops, op)
		mu.Unlock()
	})
	c := e.v1(e.root)
	if err := e.put(c, b, "dir/k", "12345"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.get(c, b, "dir/k"); err != nil {
		t.Fatal(err)
	}
	bad, _ := NewTestClient(e.ts.URL, e.root.ID, "wrong", "")
	_, _ = e.get(bad, b, "dir/k")
	_, _ = e.obucket(e.v1(e.root), b).ListObjectsV2()

	mu.Lock()
	defer mu.Unlock()
	want := []struct {
		op      string
		status  int
		account string
		caller  string
		bytes   int64
	}{
		{"PutObject", 200, e.mgmt, e.mgmt, 5},
		{"GetObject", 200, e.mgmt, e.mgmt, 5},
		{"GetObject", 403, e.mgmt, "", -1},
		{"ListObjectsV2", 200, e.mgmt, e.mgmt, -1},
	}
	if len(ops) != len(want) {
		t.Fatalf("%d operations: %+v", len(ops), ops)
	}
	for i, w := range want {
		op := ops[i]
		if op.Operation != w.op || op.Status != w.status || op.Account != w.account || op.Caller.AccountID != w.caller ||
			op.Bucket != b || len(op.RequestID) != 24 || op.SourceIP != "127.0.0.1" || (w.bytes >= 0 && op.Bytes != w.bytes) {
			t.Fatalf("operation %d = %+v, want %+v", i, op, w)
		}
	}
	if ops[0].Key != "dir/k" || ops[0].Method != "PUT" {
		t.Fatalf("put op: %+v", ops[0])
	}
}

// TestRecordHookMayCallBack: hooks run after the server's lock is released, so a hook that
// writes into OSS (ActionTrail delivering a record) does not deadlock.
func TestRecordHookMayCallBack(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	delivered := make(chan error, 10)
	e.w.Recorder.OnRecord(func(ev *core.Event) {
		delivered <- e.srv.ServicePut(b, "AliyunLogs/"+ev.EventID+".json", []byte(ev.EventName), "application/json")
	})
	e.w.Recorder.OnOSSOperation(func(op core.OSSOperation) { _, _ = e.srv.Bucket(op.Bucket) })
	done := make(chan error, 1)
	go func() { done <- e.v1(e.root).SetBucketACL(b, alioss.ACLPublicRead) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: the record hook could not call back into the server")
	}
	if err := <-delivered; err != nil {
		t.Fatal(err)
	}
	if keys := e.srv.Keys(b, "AliyunLogs/"); len(keys) != 1 {
		t.Fatalf("delivered keys %q", keys)
	}
}
