package state_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/state"
)

// A Store is a reconcile.Locker (the interface is restated so this package need not import reconcile).
var _ interface {
	Lock(ctx context.Context, name string) (unlock func(), err error)
} = (*state.Store)(nil)

const bucket = "auditwarden-state"

// recorder sees every request the OSS SDK sends, and can lose the answer to chosen ones.
type recorder struct {
	next http.RoundTripper

	mu         sync.Mutex
	puts       int
	overwrites []string // object PUTs sent without x-oss-forbid-overwrite: true
	loseNext   int      // answers to object PUTs to drop after the server handled them
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	isObjectPut := req.Method == http.MethodPut && strings.Count(strings.Trim(req.URL.Path, "/"), "/") >= 1 && req.URL.RawQuery == ""
	lose := false
	if isObjectPut {
		r.mu.Lock()
		r.puts++
		if req.Header.Get("x-oss-forbid-overwrite") != "true" {
			r.overwrites = append(r.overwrites, req.URL.Path)
		}
		if r.loseNext > 0 {
			r.loseNext--
			lose = true
		}
		r.mu.Unlock()
	}
	resp, err := r.next.RoundTrip(req)
	if lose && err == nil {
		resp.Body.Close()
		return nil, errors.New("read tcp: connection reset by peer (answer lost by the test)")
	}
	return resp, err
}

type fixture struct {
	srv   *localcloud.Server
	rec   *recorder
	clock *core.ManualClock
}

func start(t *testing.T) *fixture {
	t.Helper()
	srv, err := localcloud.Start(localcloud.Options{NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &fixture{srv: srv, rec: &recorder{next: http.DefaultTransport.(*http.Transport).Clone()},
		clock: core.NewManualClock(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))}
	t.Cleanup(func() {
		f.rec.mu.Lock()
		defer f.rec.mu.Unlock()
		if len(f.rec.overwrites) > 0 {
			t.Errorf("object PUTs without x-oss-forbid-overwrite: %v", f.rec.overwrites)
		}
	})
	if err := srv.OSS.CreateBucket(srv.World.ManagementAccountID, bucket, "private"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) client(t *testing.T) *oss.Client {
	t.Helper()
	info := f.srv.Info()
	c, err := oss.New(info.Endpoints.OSS, info.AccessKeyID, info.AccessKeySecret, oss.HTTPClient(&http.Client{Transport: f.rec}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// store is one "process": its own client and hints.
func (f *fixture) store(t *testing.T, opts ...state.Option) *state.Store {
	t.Helper()
	base := []state.Option{
		state.WithRetrier(cloud.NewRetrier(cloud.WithRetryPolicy(cloud.RetryPolicy{MaxAttempts: 10, Base: time.Millisecond, Cap: 4 * time.Millisecond}),
			cloud.WithLimits(map[string]cloud.Limit{"oss": {}}))),
		state.WithClock(f.clock),
		state.WithPollInterval(time.Millisecond, 10*time.Millisecond),
	}
	return state.New(f.client(t), bucket, "aw/state", append(base, opts...)...)
}

func (f *fixture) ossCalls(action string) (calls, errs int64) {
	calls, errs, _ = f.srv.World.Stats.Sum("oss", action)
	return calls, errs
}

type item struct {
	Writer int `json:"writer"`
	N      int `json:"n"`
}

func TestAppendLatestList(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := f.store(t)
	if _, ok, err := s.Latest(ctx, "jobs/a", nil); ok || err != nil {
		t.Fatalf("Latest of an empty stream: %v %v", ok, err)
	}
	for i := 1; i <= 5; i++ {
		seq, err := s.Append(ctx, "jobs/a", item{N: i})
		if err != nil || seq != int64(i) {
			t.Fatalf("Append %d = %d, %v", i, seq, err)
		}
	}
	// A nested stream and a stray object share the directory and are not entries.
	if _, err := s.Append(ctx, "jobs/a/sub", item{N: 99}); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.OSS.ServicePut(bucket, "aw/state/jobs/a/notes.txt", []byte("x"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	var got item
	seq, ok, err := s.Latest(ctx, "jobs/a", &got)
	if err != nil || !ok || seq != 5 || got.N != 5 {
		t.Fatalf("Latest = %d %v %v %+v", seq, ok, err, got)
	}
	entries, err := s.List(ctx, "jobs/a", 2, 2)
	if err != nil || len(entries) != 2 || entries[0].Seq != 3 || entries[1].Seq != 4 {
		t.Fatalf("List(after 2, 2) = %+v, %v", entries, err)
	}
	if err := entries[1].Decode(&got); err != nil || got.N != 4 || !entries[1].Time.Equal(f.clock.Now()) {
		t.Fatalf("entry 4: %+v %v (time %v)", got, err, entries[1].Time)
	}
	if entries, _ := s.List(ctx, "jobs/a", 5, 0); len(entries) != 0 {
		t.Fatalf("List after the tail = %+v", entries)
	}
	// Another process, without hints, sees the same tail and continues it.
	other := f.store(t)
	if seq, ok, err := other.Latest(ctx, "jobs/a", nil); seq != 5 || !ok || err != nil {
		t.Fatalf("fresh Latest = %d %v %v", seq, ok, err)
	}
	if seq, err := f.store(t).Append(ctx, "jobs/a", item{N: 6}); seq != 6 || err != nil {
		t.Fatalf("fresh Append = %d %v", seq, err)
	}
	keys := f.srv.OSS.Keys(bucket, "aw/state/jobs/a/0")
	if len(keys) != 6 || keys[0] != "aw/state/jobs/a/00000000000000000001.json" {
		t.Fatalf("keys %v", keys)
	}
}

// TestConcurrentAppendsLoseNothing: 20 writers, half sharing a Store and half each with their
// own (as separate processes), append at once; every entry lands once, numbered 1..N.
func TestConcurrentAppendsLoseNothing(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	shared := f.store(t)
	const writers, each = 20, 3
	var wg sync.WaitGroup
	seqs := make(chan int64, writers*each)
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		s := shared
		if w%2 == 1 {
			s = f.store(t)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seq, err := s.Append(ctx, "events", item{Writer: w, N: i})
				if err != nil {
					errs <- err
					return
				}
				seqs <- seq
			}
		}()
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var got []int64
	for s := range seqs {
		got = append(got, s)
	}
	slices.Sort(got)
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("sequence numbers are not 1..%d without gaps or repeats: %v", writers*each, got)
		}
	}
	entries, err := shared.List(ctx, "events", 0, 1000)
	if err != nil || len(entries) != writers*each {
		t.Fatalf("List: %d entries, %v", len(entries), err)
	}
	seen := map[item]bool{}
	for _, e := range entries {
		var it item
		if err := e.Decode(&it); err != nil {
			t.Fatal(err)
		}
		if seen[it] {
			t.Fatalf("entry %+v stored twice", it)
		}
		seen[it] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*each)
	}
	calls, conflicts := f.ossCalls("PutObject")
	t.Logf("%d PutObject calls, %d refused with 409", calls, conflicts)
	if calls-conflicts != writers*each {
		t.Fatalf("%d successful PutObject calls for %d entries", calls-conflicts, writers*each)
	}
}

// TestLongStreamTailIsCheap: a stream of 5000 entries left by an earlier process is continued
// by a new one with a handful of list calls, not a walk over every page.
func TestLongStreamTailIsCheap(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	const n = 5000
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf(`{"seq":%d,"writer":"seed","time":"2025-01-01T00:00:00Z","data":{"n":%d}}`, i, i)
		if err := f.srv.OSS.ServicePut(bucket, fmt.Sprintf("aw/state/checkpoints/job1/%020d.json", i), []byte(body), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	// Keys that sort among the entries but are not entries.
	for _, k := range []string{"aw/state/checkpoints/job1/00000000000000000003x/00000000000000000001.json", "aw/state/checkpoints/job1/zz.json"} {
		if err := f.srv.OSS.ServicePut(bucket, k, []byte(`{}`), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	s := f.store(t)
	before, _ := f.ossCalls("ListObjectsV2")
	var got item
	seq, ok, err := s.Latest(ctx, "checkpoints/job1", &got)
	if err != nil || !ok || seq != n || got.N != n {
		t.Fatalf("Latest = %d %v %v %+v", seq, ok, err, got)
	}
	after, _ := f.ossCalls("ListObjectsV2")
	if lists := after - before; lists > 25 {
		t.Fatalf("finding the tail of %d entries took %d list calls", n, lists)
	} else {
		t.Logf("tail of %d entries found with %d list calls", n, lists)
	}
	if seq, err := f.store(t).Append(ctx, "checkpoints/job1", item{N: n + 1}); seq != n+1 || err != nil {
		t.Fatalf("Append = %d %v", seq, err)
	}
}

// TestLeaseExclusivity: 10 processes increment a counter kept in a stream under a Lock; the
// final value is exact only if no two ever held the lock at once.
func TestLeaseExclusivity(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const workers, rounds = 10, 3
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		s := f.store(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				unlock, err := s.Lock(ctx, "counter")
				if err != nil {
					errs <- err
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				var v struct{ N int }
				if _, _, err := s.Latest(ctx, "counter", &v); err != nil {
					errs <- err
				}
				v.N++
				if _, err := s.Append(ctx, "counter", v); err != nil {
					errs <- err
				}
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var v struct{ N int }
	seq, _, err := f.store(t).Latest(ctx, "counter", &v)
	if err != nil || v.N != workers*rounds || seq != workers*rounds {
		t.Fatalf("counter = %d at seq %d (%v), want %d", v.N, seq, err, workers*rounds)
	}
	if overlaps.Load() != 0 {
		t.Fatalf("%d times two holders were inside at once", overlaps.Load())
	}
	// Released leases were pruned down to the last few records.
	if keys := f.srv.OSS.Keys(bucket, "aw/state/lease/counter/"); len(keys) > 8 {
		t.Fatalf("%d lease records kept, want at most 8: %v", len(keys), keys)
	}
	var rec state.LeaseRecord
	if seq, ok, err := f.store(t).Latest(ctx, "lease/counter", &rec); err != nil || !ok || !rec.Released || seq < 2*workers*rounds {
		t.Fatalf("last lease record %d: %+v %v %v", seq, rec, ok, err)
	}
}

func TestLeaseExpiryAndTakeover(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	a, b := f.store(t), f.store(t)

	la, err := a.Acquire(ctx, "logaudit/123", "a", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Acquire(ctx, "logaudit/123", "b", time.Minute)
	var held *state.HeldError
	if !errors.Is(err, state.ErrLeaseHeld) || !errors.As(err, &held) || held.Holder != "a" || !held.Expires.Equal(la.Expires()) {
		t.Fatalf("second holder: %v", err)
	}
	// Renewing within the ttl keeps it.
	f.clock.Advance(8 * time.Second)
	if err := la.Renew(ctx, 10*time.Second); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	f.clock.Advance(8 * time.Second)
	if _, err := b.Acquire(ctx, "logaudit/123", "b", time.Minute); !errors.Is(err, state.ErrLeaseHeld) {
		t.Fatalf("after renewal: %v", err)
	}
	// Past expiry another holder takes over; the old one finds out when it renews or releases.
	f.clock.Advance(3 * time.Second)
	lb, err := b.Acquire(ctx, "logaudit/123", "b", time.Minute)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if err := la.Renew(ctx, 10*time.Second); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("old holder renewing: %v", err)
	}
	if _, err := a.Acquire(ctx, "logaudit/123", "a", time.Minute); !errors.Is(err, state.ErrLeaseHeld) {
		t.Fatalf("old holder acquiring again: %v", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if _, err := a.Acquire(ctx, "logaudit/123", "a", time.Minute); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}

	// A holder that lets its lease lapse and releases after a takeover is told so.
	lc, err := a.Acquire(ctx, "other", "c", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Second)
	if _, err := b.Acquire(ctx, "other", "d", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := lc.Release(ctx); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("release after takeover: %v", err)
	}
}

// TestAcquireWaitWaitsForExpiry: a waiter gets the lease once the holder's lapses.
func TestAcquireWaitWaitsForExpiry(t *testing.T) {
	f := start(t)
	s := f.store(t)
	ctx := context.Background()
	if _, err := s.Acquire(ctx, "w", "gone", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := f.store(t).AcquireWait(ctx, "w", "waiter", time.Minute)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("AcquireWait returned while the lease was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	f.clock.Advance(6 * time.Second)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AcquireWait did not take the expired lease")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := s.AcquireWait(cctx, "w", "third", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcquireWait past its context: %v", err)
	}
}

func TestFirstTimeExactlyOnce(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var firsts atomic.Int32
	for i := 0; i < 20; i++ {
		s := f.store(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := s.FirstTime(ctx, "event/0b5c3f2e-1111")
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		}()
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d callers were first", firsts.Load())
	}
	s := f.store(t)
	if first, err := s.FirstTime(ctx, "event/another"); !first || err != nil {
		t.Fatalf("another key: %v %v", first, err)
	}
	if _, ok := f.srv.OSS.Object(bucket, s.DedupeKey("event/another")); !ok || !strings.HasPrefix(s.DedupeKey("x"), "aw/state/dedupe/") {
		t.Fatalf("marker %s missing", s.DedupeKey("event/another"))
	}
}

// TestRetriedWriteRecognisesItself: the server stored the object but its answer was lost; the
// retry meets 409 and must see that the object is its own, not a competitor's.
func TestRetriedWriteRecognisesItself(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := f.store(t)
	lose := func() {
		f.rec.mu.Lock()
		f.rec.loseNext = 1
		f.rec.mu.Unlock()
	}
	// Each operation below must meet exactly one 409: its own first attempt.
	conflicts := func() int64 { _, errs := f.ossCalls("PutObject"); return errs }
	lose()
	seq, err := s.Append(ctx, "retried", item{N: 1})
	if err != nil || seq != 1 || conflicts() != 1 {
		t.Fatalf("Append = %d, %v (%d conflicts)", seq, err, conflicts())
	}
	if keys := f.srv.OSS.Keys(bucket, "aw/state/retried/"); len(keys) != 1 {
		t.Fatalf("keys %v: the entry was written twice", keys)
	}
	lose()
	if first, err := s.FirstTime(ctx, "k"); !first || err != nil || conflicts() != 2 {
		t.Fatalf("FirstTime after a lost answer = %v, %v (%d conflicts)", first, err, conflicts())
	}
	lose()
	l, err := s.Acquire(ctx, "retried", "h", time.Minute)
	if err != nil || conflicts() != 3 {
		t.Fatalf("Acquire after a lost answer: %v (%d conflicts)", err, conflicts())
	}
	if _, err := f.store(t).Acquire(ctx, "retried", "other", time.Minute); !errors.Is(err, state.ErrLeaseHeld) {
		t.Fatalf("the lease acquired through a retry is not held: %v", err)
	}
	_ = l
}

func TestServerFaultsAreRetried(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := f.store(t)
	for _, action := range []string{"PutObject", "ListObjectsV2", "GetObject"} {
		f.srv.World.Faults.Script(core.FaultRule{Product: "oss", Action: action, Count: 2, Status: 503, Code: "SlowDown"})
	}
	if seq, err := s.Append(ctx, "faulty", item{N: 1}); seq != 1 || err != nil {
		t.Fatalf("Append = %d, %v", seq, err)
	}
	if seq, ok, err := f.store(t).Latest(ctx, "faulty", nil); seq != 1 || !ok || err != nil {
		t.Fatalf("Latest = %d %v %v", seq, ok, err)
	}
	// Without a retrier, a fault comes straight back, named.
	plain := state.New(f.client(t), bucket, "aw/state")
	f.srv.World.Faults.Script(core.FaultRule{Product: "oss", Action: "PutObject", Count: 1, Status: 503, Code: "SlowDown"})
	if _, err := plain.Append(ctx, "faulty", item{}); cloud.Code(err) != "SlowDown" || !strings.Contains(err.Error(), "append to faulty") {
		t.Fatalf("Append without a retrier: %v", err)
	}
}

func TestEnsureBucket(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := state.New(f.client(t), "aw-new-state", "")
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	info, ok := f.srv.OSS.Bucket("aw-new-state")
	if !ok || info.ACL != "private" || info.Encryption == nil || info.Encryption.Algorithm != "AES256" {
		t.Fatalf("bucket %+v", info)
	}
	before := f.srv.World.Stats.WriteCalls()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.World.Stats.WriteCalls() - before; n != 0 {
		t.Fatalf("EnsureBucket of a ready bucket made %d writes", n)
	}
	// An existing public, unencrypted bucket is fixed, with KMS when asked.
	if err := f.srv.OSS.CreateBucket(f.srv.World.ManagementAccountID, "aw-public", "public-read"); err != nil {
		t.Fatal(err)
	}
	if err := state.New(f.client(t), "aw-public", "p", state.WithKMS("")).EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if info, _ := f.srv.OSS.Bucket("aw-public"); info.ACL != "private" || info.Encryption == nil || info.Encryption.Algorithm != "KMS" {
		t.Fatalf("fixed bucket %+v", info)
	}
	// A WORM bucket is refused.
	c := f.client(t)
	if _, err := c.InitiateBucketWorm(bucket, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.store(t).EnsureBucket(ctx); !errors.Is(err, state.ErrWormBucket) {
		t.Fatalf("WORM bucket: %v", err)
	}
}

func TestNamesAreChecked(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := f.store(t)
	for _, stream := range []string{"", "a//b", "/a", "a/", "a/../b", "a b", "lease/x", "dedupe", "ü", strings.Repeat("a", 513)} {
		if _, err := s.Append(ctx, stream, 1); err == nil {
			t.Errorf("Append(%q) accepted", stream)
		}
	}
	if _, _, err := s.Latest(ctx, "dedupe/x", nil); err == nil {
		t.Error("Latest of the dedupe directory accepted")
	}
	if _, err := s.Acquire(ctx, "a//b", "h", time.Second); err == nil {
		t.Error("bad lease name accepted")
	}
	if _, err := s.Acquire(ctx, "ok", "", time.Second); err == nil {
		t.Error("empty holder accepted")
	}
	if _, err := s.Acquire(ctx, "ok", "h", 0); err == nil {
		t.Error("zero ttl accepted")
	}
	if _, err := s.FirstTime(ctx, ""); err == nil {
		t.Error("empty dedupe key accepted")
	}
	bad := state.New(f.client(t), "Bad_Bucket", "p")
	if _, err := bad.Append(ctx, "x", 1); err == nil || !strings.Contains(err.Error(), "Bad_Bucket") {
		t.Errorf("bad bucket name: %v", err)
	}
	if _, err := state.New(f.client(t), bucket, "a b").FirstTime(ctx, "k"); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("bad prefix: %v", err)
	}
	if n, _ := f.ossCalls(""); n != 0 {
		t.Errorf("%d OSS calls for refused names", n)
	}
}

// TestCreateOnlyOnce: of many concurrent Creates of one stream exactly one wins, with one write
// each; the loser's value is not stored; a Create whose answer was lost still knows it won; and
// Create on a stream that already has entries (by Append) reports it exists.
func TestCreateOnlyOnce(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	const writers = 12
	var won atomic.Int64
	winner := atomic.Int64{}
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			created, err := f.store(t).Create(ctx, "jobs/x", item{Writer: i})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
			if created {
				won.Add(1)
				winner.Store(int64(i))
			}
		}(i)
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d writers created the stream; want exactly 1", won.Load())
	}
	var got item
	if seq, ok, err := f.store(t).Latest(ctx, "jobs/x", &got); seq != 1 || !ok || err != nil || int64(got.Writer) != winner.Load() {
		t.Fatalf("Latest = %d %v %v %+v; want the winner %d's entry as seq 1", seq, ok, err, got, winner.Load())
	}
	if puts, _ := f.ossCalls("PutObject"); puts != writers {
		t.Fatalf("%d PutObject calls for %d Creates; want one each", puts, writers)
	}

	f.rec.mu.Lock()
	f.rec.loseNext = 1
	f.rec.mu.Unlock()
	if created, err := f.store(t).Create(ctx, "jobs/lost-answer", item{N: 1}); !created || err != nil {
		t.Fatalf("Create whose answer was lost = %v, %v; want created", created, err)
	}

	s := f.store(t)
	if _, err := s.Append(ctx, "jobs/appended", item{N: 1}); err != nil {
		t.Fatal(err)
	}
	if created, err := s.Create(ctx, "jobs/appended", item{N: 2}); created || err != nil {
		t.Fatalf("Create on a stream with entries = %v, %v; want not created", created, err)
	}
	if _, err := s.Create(ctx, "lease/x", item{}); err == nil || !strings.Contains(err.Error(), "belong to the store") {
		t.Fatalf("Create in a reserved stream: %v", err)
	}
}

// TestStreamsListsChildren: the streams directly under a parent, across listing pages, without
// the parent's own entries, nested streams or stray objects.
func TestStreamsListsChildren(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := f.store(t)
	var want []string
	for i := 0; i < 1205; i++ { // more than one page of 1,000
		name := fmt.Sprintf("jobs/%05d", i)
		want = append(want, name)
		if created, err := s.Create(ctx, name, item{N: i}); !created || err != nil {
			t.Fatalf("Create %s = %v, %v", name, created, err)
		}
	}
	if _, err := s.Append(ctx, "jobs", item{N: -1}); err != nil { // the parent's own entry
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "jobs/00001/nested", item{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "other/1", item{}); err != nil {
		t.Fatal(err)
	}
	got, err := f.store(t).Streams(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Streams(jobs) = %d names (first %v); want %d", len(got), got[:min(3, len(got))], len(want))
	}
	if lists, _ := f.ossCalls("ListObjectsV2"); lists > 2+4 {
		t.Fatalf("%d list calls; want 2 for 1,205 streams (plus the few the appends made)", lists)
	}
	if got, err := s.Streams(ctx, "none"); len(got) != 0 || err != nil {
		t.Fatalf("Streams of an empty parent = %v, %v", got, err)
	}
	if _, err := s.Streams(ctx, "bad name"); err == nil {
		t.Fatal("Streams accepted a bad name")
	}
}

// TestStreamsPage pages through the streams under a parent: each page at most limit names, in
// order, resuming after the last name given, past a page of the parent's own entries, and bad
// cursors refused.
func TestStreamsPage(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	s := f.store(t)
	for i := 0; i < 5; i++ { // the parent's own entries come first in key order
		if _, err := s.Append(ctx, "p", item{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := 0; i < 7; i++ {
		name := fmt.Sprintf("p/%03d", i)
		want = append(want, name)
		for j := 0; j < 3; j++ { // several entries each: a page must skip past all of them
			if _, err := s.Append(ctx, name, item{N: j}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []string
	after, pages := "", 0
	for {
		page, more, err := f.store(t).StreamsPage(ctx, "p", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) > 3 || pages > 10 {
			t.Fatalf("page %d: %v (more %v)", pages, page, more)
		}
		got = append(got, page...)
		if !more {
			break
		}
		after = strings.TrimPrefix(page[len(page)-1], "p/")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged streams = %v, want %v", got, want)
	}
	for _, bad := range []string{"a/b", "..", "a b"} {
		if _, _, err := s.StreamsPage(ctx, "p", bad, 3); err == nil {
			t.Errorf("StreamsPage after %q: no error", bad)
		}
	}
}
