package oss

import (
	"errors"
	"strings"
	"testing"
	"time"

	v2 "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

func TestWormLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()

	_, err := c.GetBucketWorm(b)
	svcErr(t, err, 404, "NoSuchWORMConfiguration")
	svcErr(t, c.AbortBucketWorm(b), 404, "NoSuchWORMConfiguration")

	id, err := c.InitiateBucketWorm(b, 10)
	if err != nil || len(id) != 32 {
		t.Fatalf("InitiateBucketWorm = %q, %v", id, err)
	}
	cfg, err := c.GetBucketWorm(b)
	if err != nil || cfg.WormId != id || cfg.State != "InProgress" || cfg.RetentionPeriodInDays != 10 || cfg.CreationDate == "" {
		t.Fatalf("GetBucketWorm = %+v, %v", cfg, err)
	}
	_, err = c.InitiateBucketWorm(b, 5)
	svcErr(t, err, 409, "WORMConfigurationAlreadyExist")
	if err := c.AbortBucketWorm(b); err != nil {
		t.Fatalf("abort InProgress: %v", err)
	}
	_, err = c.GetBucketWorm(b)
	svcErr(t, err, 404, "NoSuchWORMConfiguration")
	svcErr(t, c.CompleteBucketWorm(b, id), 404, "NoSuchWORMConfiguration")

	id, err = c.InitiateBucketWorm(b, 1)
	if err != nil {
		t.Fatal(err)
	}
	svcErr(t, c.ExtendBucketWorm(b, 2, id), 400, "InvalidArgument") // not locked yet
	svcErr(t, c.CompleteBucketWorm(b, "0000"), 404, "NoSuchWORMConfiguration")
	if err := c.CompleteBucketWorm(b, id); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := c.GetBucketWorm(b); cfg.State != "Locked" {
		t.Fatalf("state after complete: %+v", cfg)
	}
	svcErr(t, c.AbortBucketWorm(b), 403, "WORMConfigurationLocked")
	if err := c.ExtendBucketWorm(b, 3, id); err != nil {
		t.Fatal(err)
	}
	svcErr(t, c.ExtendBucketWorm(b, 2, id), 400, "InvalidArgument") // shortening
	svcErr(t, c.ExtendBucketWorm(b, 30, "bogus"), 404, "NoSuchWORMConfiguration")
	if cfg, _ := c.GetBucketWorm(b); cfg.RetentionPeriodInDays != 3 {
		t.Fatalf("days after extend: %+v", cfg)
	}
	_, err = c.InitiateBucketWorm(b, 0)
	svcErr(t, err, 400, "InvalidArgument")
	svcErr(t, e.v1(e.oroot).CompleteBucketWorm(b, id), 403, "AccessDenied")

	// sdk-v2 reads the same configuration.
	r, err := e.sdk2(e.root).GetBucketWorm(ctx, &v2.GetBucketWormRequest{Bucket: v2.Ptr(b)})
	if err != nil || *r.WormConfiguration.WormId != id || r.WormConfiguration.State != "Locked" {
		t.Fatalf("sdk-v2 GetBucketWorm = %+v, %v", r, err)
	}
}

func TestWormLockedRetentionRefusesDeleteAndOverwrite(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	if err := e.put(c, b, "trail/2026/log.json", "v1"); err != nil {
		t.Fatal(err)
	}
	id, err := c.InitiateBucketWorm(b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CompleteBucketWorm(b, id); err != nil {
		t.Fatal(err)
	}
	bk := e.obucket(c, b)
	se := svcErr(t, bk.DeleteObject("trail/2026/log.json"), 409, "FileImmutable")
	if !strings.Contains(se.Message, "immutable") {
		t.Fatalf("message %q", se.Message)
	}
	svcErr(t, e.put(c, b, "trail/2026/log.json", "v2"), 409, "FileImmutable")
	_, err = bk.DeleteObjects([]string{"trail/2026/log.json"})
	svcErr(t, err, 409, "FileImmutable")
	svcErr(t, c.DeleteBucket(b), 409, "BucketNotEmpty")
	e.clock.Advance(12 * time.Hour)
	if err := e.put(c, b, "trail/2026/new.json", "fresh"); err != nil {
		t.Fatalf("new objects are allowed: %v", err)
	}
	if err := e.srv.ServicePut(b, "trail/2026/log.json", []byte("v3"), "application/json"); !errors.Is(err, ErrImmutable) {
		t.Fatalf("ServicePut over a protected object: %v", err)
	}
	if got, _ := e.srv.Object(b, "trail/2026/log.json"); string(got) != "v1" {
		t.Fatalf("object changed: %q", got)
	}

	e.clock.Advance(12*time.Hour + time.Second)
	if err := bk.DeleteObject("trail/2026/log.json"); err != nil {
		t.Fatalf("delete after the period: %v", err)
	}
	svcErr(t, bk.DeleteObject("trail/2026/new.json"), 409, "FileImmutable") // written later, still inside
	if cfg, _ := c.GetBucketWorm(b); cfg.State != "Locked" {
		t.Fatal("a locked policy never lapses")
	}
}

func TestWormInProgressProtectsThenLapses(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	if err := e.put(c, b, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InitiateBucketWorm(b, 30); err != nil {
		t.Fatal(err)
	}
	svcErr(t, e.obucket(c, b).DeleteObject("k"), 409, "FileImmutable")
	e.clock.Advance(24 * time.Hour)
	_, err := c.GetBucketWorm(b)
	svcErr(t, err, 404, "NoSuchWORMConfiguration")
	if err := e.obucket(c, b).DeleteObject("k"); err != nil {
		t.Fatalf("delete after the InProgress policy lapsed: %v", err)
	}
	if info, _ := e.srv.Bucket(b); info.Worm != nil {
		t.Fatalf("lapsed policy still reported: %+v", info.Worm)
	}
	if _, err := c.InitiateBucketWorm(b, 1); err != nil {
		t.Fatalf("a new policy after the lapse: %v", err)
	}
}

func TestServicePut(t *testing.T) {
	e := newEnv(t)
	b := e.bucket()
	if err := e.v1(e.root).SetBucketPolicy(b, `{"Version":"1","Statement":[{"Effect":"Deny","Action":["oss:*"],"Principal":["*"],"Resource":["acs:oss:*:*:`+b+`/*"]}]}`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		bucket string
		key    string
		want   error
	}{
		{"ignores the bucket policy", b, "AliyunLogs/actiontrail/a.json.gz", nil},
		{"overwrites outside retention", b, "AliyunLogs/actiontrail/a.json.gz", nil},
		{"missing bucket", "no-such-" + b, "k", ErrNoSuchBucket},
		{"bad key", b, "/abs", ErrInvalidObject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.srv.ServicePut(tc.bucket, tc.key, []byte("data"), "application/gzip")
			if !errors.Is(err, tc.want) {
				t.Fatalf("ServicePut = %v, want %v", err, tc.want)
			}
			if tc.want != nil && !strings.Contains(err.Error(), tc.bucket[:3]) && !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error does not name the bucket or key: %v", err)
			}
		})
	}
	if got, ok := e.srv.Object(b, "AliyunLogs/actiontrail/a.json.gz"); !ok || string(got) != "data" {
		t.Fatalf("Object = %q, %v", got, ok)
	}
	if owner, ok := e.srv.BucketOwner(b); !ok || owner != e.mgmt {
		t.Fatalf("BucketOwner = %q, %v", owner, ok)
	}
	var backend = e.w.OSS
	if backend == nil {
		t.Fatal("New did not register the server as the world's OSS backend")
	}
}
