package state

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud"
)

// TestStaleWriterCannotWinOnAPrunedNumber: a writer that read a lease long ago writes the next
// record at a number that has since been pruned; the create succeeds (the key is free again) but
// must not count, because newer records follow it.
func TestStaleWriterCannotWinOnAPrunedNumber(t *testing.T) {
	srv, err := localcloud.Start(localcloud.Options{NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.OSS.CreateBucket(srv.World.ManagementAccountID, "aw-stale", "private"); err != nil {
		t.Fatal(err)
	}
	info := srv.Info()
	c, err := oss.New(info.Endpoints.OSS, info.AccessKeyID, info.AccessKeySecret, oss.HTTPClient(http.DefaultClient))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := New(c, "aw-stale", "p", WithLeaseHistory(2))
	for i := 0; i < 5; i++ {
		l, err := s.Acquire(ctx, "x", "h", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if keys := srv.OSS.Keys("aw-stale", "p/lease/x/"); len(keys) != 2 || keys[1] != s.key("lease/x", 10) {
		t.Fatalf("after pruning: %v", keys)
	}
	won, err := s.writeLease(ctx, "lease/x", 2, LeaseRecord{Holder: "stale", Token: "t", Expires: time.Now().Add(time.Hour)})
	if err != nil || won {
		t.Fatalf("stale write won=%v err=%v", won, err)
	}
	if _, ok := srv.OSS.Object("aw-stale", s.key("lease/x", 2)); !ok {
		t.Fatal("the test did not re-create the pruned record, so it proved nothing")
	}
	// The stale record does not confuse anyone: the lease is free and continues after record 10.
	l, err := New(c, "aw-stale", "p").Acquire(ctx, "x", "next", time.Minute)
	if err != nil || l.seq != 11 {
		t.Fatalf("Acquire after the stale write: %+v %v", l, err)
	}
}

// FuzzNamesAndKeys: names and listed keys come from outside (callers, other processes' objects).
// Whatever they are, nothing panics, and every accepted name maps sequence numbers to keys and back.
func FuzzNamesAndKeys(f *testing.F) {
	for _, s := range []string{"jobs/a", "lease/logaudit/123", "a//b", "..", "x/00000000000000000001.json", "ü", ""} {
		f.Add(s, int64(7), "p/jobs/a/00000000000000000007.json")
	}
	s := &Store{prefix: "p"}
	f.Fuzz(func(t *testing.T, stream string, seq int64, key string) {
		_, _ = s.seqOf(stream, key)
		if checkStream(stream, false) != nil || seq <= 0 {
			return
		}
		got, ok := s.seqOf(stream, s.key(stream, seq))
		if !ok || got != seq {
			t.Fatalf("key(%q, %d) = %q reads back as %d, %v", stream, seq, s.key(stream, seq), got, ok)
		}
		if n, ok := s.seqOf(stream, key); ok && s.key(stream, n) != key {
			t.Fatalf("%q read as seq %d of %q, but that entry's key is %q", key, n, stream, s.key(stream, n))
		}
	})
}
