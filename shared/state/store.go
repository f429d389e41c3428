// Package state keeps auditwarden's small shared state in OSS, for functions that may run in
// several instances at once: append-only streams of sequence-numbered JSON objects, leases
// (locks with an expiry) built on them, and create-only dedupe markers.
//
// Every write is a PutObject with x-oss-forbid-overwrite: true, which OSS answers with 409
// FileAlreadyExists when the key exists: nothing is ever overwritten, and of two writers racing
// for one key exactly one wins. That is the only primitive it relies on (If-Match on PUT is not a
// documented OSS guarantee). Keep the bucket out of WORM retention: old lease records are pruned.
//
// Layout under the prefix:
//
//	<prefix>/<stream>/<seq, 20 digits>.json   stream entries, seq 1, 2, 3, ...
//	<prefix>/lease/<name>/<seq>.json          a lease is the stream of its records
//	<prefix>/dedupe/<hex sha256(key)>         FirstTime markers
//
// A backfill checkpoint is a stream per job: Append after every page, Latest on resume.
package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// Errors callers can match with errors.Is.
var (
	// ErrLeaseHeld: another holder has the lease and it has not expired (see *HeldError).
	ErrLeaseHeld = errors.New("state: lease is held by another holder")
	// ErrLeaseLost: the lease expired and another holder took it (renew or release came too late).
	ErrLeaseLost = errors.New("state: lease was lost to another holder")
	// ErrWormBucket: the bucket has a retention policy; state needs to delete old lease records.
	ErrWormBucket = errors.New("state: the bucket has a WORM retention policy")
)

// Clock is where a Store reads the time (lease expiry); *core.ManualClock fits.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type options struct {
	do           func(ctx context.Context, api string, fn func() error) error
	clock        Clock
	log          zerolog.Logger
	lockTTL      time.Duration
	pollMin      time.Duration
	pollMax      time.Duration
	leaseHistory int
	sseAlgorithm string
	kmsKeyID     string
}

// Option configures a Store.
type Option func(*options)

// WithRetrier sends every OSS call through cloud's Retrier (rate limits, backoff on throttling
// and 5xx). Without it each call is made once.
func WithRetrier(r *cloud.Retrier) Option {
	return func(o *options) {
		if r != nil {
			o.do = r.Do
		}
	}
}

// WithClock sets the clock leases are timed by (default: the wall clock).
func WithClock(c Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithLogger sets the zerolog logger (default: none).
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// WithLockTTL sets the lease duration Lock uses (default 60 s; Lock renews at a third of it).
func WithLockTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTTL = d
		}
	}
}

// WithPollInterval bounds how often AcquireWait retries a held lease: from min, doubling to max
// (defaults 100 ms and 2 s), with jitter.
func WithPollInterval(min, max time.Duration) Option {
	return func(o *options) {
		if min > 0 {
			o.pollMin = min
		}
		if max >= o.pollMin {
			o.pollMax = max
		}
	}
}

// WithLeaseHistory sets how many of a lease's last records survive pruning (default 8, at least 2).
func WithLeaseHistory(n int) Option {
	return func(o *options) { o.leaseHistory = max(n, 2) }
}

// WithKMS makes EnsureBucket encrypt a new bucket with KMS (keyID "" = the OSS-managed CMK)
// instead of AES256.
func WithKMS(keyID string) Option {
	return func(o *options) { o.sseAlgorithm, o.kmsKeyID = "KMS", keyID }
}

// Store is state under one prefix of one bucket. Safe for concurrent use, across goroutines and
// processes alike.
type Store struct {
	client  *oss.Client
	bucket  *oss.Bucket
	name    string
	prefix  string
	initErr error
	o       options

	mu    sync.Mutex
	hints map[string]int64 // stream -> a sequence number known to exist (a lower bound of the tail)
}

// New returns a Store keeping its objects under prefix in bucket. It makes no call; a bad
// bucket name or prefix is reported by every method.
func New(client *oss.Client, bucket, prefix string, opts ...Option) *Store {
	s := &Store{client: client, name: bucket, hints: map[string]int64{}}
	s.o = options{
		do:           func(_ context.Context, _ string, fn func() error) error { return fn() },
		clock:        wallClock{},
		log:          zerolog.Nop(),
		lockTTL:      60 * time.Second,
		pollMin:      100 * time.Millisecond,
		pollMax:      2 * time.Second,
		leaseHistory: 8,
		sseAlgorithm: "AES256",
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&s.o)
		}
	}
	s.prefix = strings.Trim(prefix, "/")
	switch {
	case client == nil:
		s.initErr = errors.New("state: nil OSS client")
	case s.prefix != "":
		if err := checkName("prefix", s.prefix); err != nil {
			s.initErr = err
		}
	}
	if s.initErr == nil {
		b, err := client.Bucket(bucket)
		if err != nil {
			s.initErr = fmt.Errorf("state: bucket %q: %w", bucket, err)
		}
		s.bucket = b
	}
	return s
}

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.name }

// Prefix is the key prefix, without slashes at either end.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) now() time.Time { return s.o.clock.Now().UTC() }

// EnsureBucket creates the bucket, private and encrypted, when it is missing; an existing one
// is made private and encrypted if it is not. A bucket with a retention policy is refused
// (ErrWormBucket): leases prune their old records.
func (s *Store) EnsureBucket(ctx context.Context) error {
	if s.initErr != nil {
		return s.initErr
	}
	info, err := s.bucketInfo(ctx)
	if cloud.Code(err) == "NoSuchBucket" {
		err = s.o.do(ctx, "oss:PutBucket", func() error {
			return s.client.CreateBucket(s.name, oss.ACL(oss.ACLPrivate), oss.WithContext(ctx))
		})
		// BucketAlreadyExists: created meanwhile by another instance (ours to use) or owned by
		// another account (GetBucketInfo says so next).
		switch {
		case err == nil:
			s.o.log.Info().Str("bucket", s.name).Msg("state: created bucket")
		case cloud.Code(err) != "BucketAlreadyExists":
			return fmt.Errorf("state: creating bucket %s: %w", s.name, err)
		}
		info, err = s.bucketInfo(ctx)
	}
	if err != nil {
		return fmt.Errorf("state: bucket %s: %w", s.name, err)
	}
	var worm oss.WormConfiguration
	err = s.o.do(ctx, "oss:GetBucketWorm", func() error {
		var e error
		worm, e = s.client.GetBucketWorm(s.name, oss.WithContext(ctx))
		return e
	})
	switch {
	case err == nil && worm.State != "":
		return fmt.Errorf("state: bucket %s: %w (%s, %d days): use a bucket without retention for state", s.name, ErrWormBucket, worm.State, worm.RetentionPeriodInDays)
	case err != nil && cloud.Code(err) != "NoSuchWORMConfiguration":
		return fmt.Errorf("state: bucket %s: reading its retention policy: %w", s.name, err)
	}
	if info.SseRule.SSEAlgorithm == "" {
		rule := oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: s.o.sseAlgorithm, KMSMasterKeyID: s.o.kmsKeyID}}
		if err := s.o.do(ctx, "oss:PutBucketEncryption", func() error {
			return s.client.SetBucketEncryption(s.name, rule, oss.WithContext(ctx))
		}); err != nil {
			return fmt.Errorf("state: bucket %s: setting server-side encryption: %w", s.name, err)
		}
	}
	if info.ACL != string(oss.ACLPrivate) {
		if err := s.o.do(ctx, "oss:PutBucketAcl", func() error {
			return s.client.SetBucketACL(s.name, oss.ACLPrivate, oss.WithContext(ctx))
		}); err != nil {
			return fmt.Errorf("state: bucket %s: making it private (was %s): %w", s.name, info.ACL, err)
		}
	}
	return nil
}

func (s *Store) bucketInfo(ctx context.Context) (oss.BucketInfo, error) {
	var res oss.GetBucketInfoResult
	err := s.o.do(ctx, "oss:GetBucketInfo", func() error {
		var e error
		res, e = s.client.GetBucketInfo(s.name, oss.WithContext(ctx))
		return e
	})
	return res.BucketInfo, err
}

// checkName accepts slash-separated segments of [A-Za-z0-9._@=-], none empty, "." or "..".
func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("state: %s is empty", kind)
	}
	if len(name) > 512 {
		return fmt.Errorf("state: %s is %d bytes long; at most 512", kind, len(name))
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("state: %s %q: segments between slashes must not be empty, \".\" or \"..\"", kind, name)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@=-", c) >= 0) {
				return fmt.Errorf("state: %s %q: character %q is not allowed (use letters, digits and ._@=-, with / between segments)", kind, name, c)
			}
		}
	}
	return nil
}

func (s *Store) join(parts ...string) string {
	if s.prefix == "" {
		return strings.Join(parts, "/")
	}
	return s.prefix + "/" + strings.Join(parts, "/")
}

func (s *Store) streamDir(stream string) string { return s.join(stream) + "/" }

func (s *Store) key(stream string, seq int64) string {
	return s.streamDir(stream) + fmt.Sprintf("%020d.json", seq)
}

// seqOf reads the sequence number of a key in stream's directory; false for any other key.
func (s *Store) seqOf(stream, key string) (int64, bool) {
	name, ok := strings.CutPrefix(key, s.streamDir(stream))
	if !ok || len(name) != 25 || !strings.HasSuffix(name, ".json") {
		return 0, false
	}
	digits := name[:20]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// isExists reports the 409 FileAlreadyExists of a create-only write.
func isExists(err error) bool {
	return cloud.Code(err) == "FileAlreadyExists" || (cloud.Code(err) == "" && cloud.Status(err) == 409)
}

// put creates key with body, never overwriting. attempts says how many times the request was
// sent: after more than one, a 409 may be our own earlier attempt whose answer was lost.
func (s *Store) put(ctx context.Context, key string, body []byte) (attempts int, err error) {
	err = s.o.do(ctx, "oss:PutObject", func() error {
		attempts++
		return s.bucket.PutObject(key, bytes.NewReader(body), oss.ForbidOverWrite(true),
			oss.ContentType("application/json"), oss.WithContext(ctx))
	})
	return attempts, err
}

// get reads an object; found is false for NoSuchKey.
func (s *Store) get(ctx context.Context, key string) (data []byte, found bool, err error) {
	err = s.o.do(ctx, "oss:GetObject", func() error {
		rc, e := s.bucket.GetObject(key, oss.WithContext(ctx))
		if e != nil {
			return e
		}
		defer rc.Close()
		data, e = io.ReadAll(io.LimitReader(rc, maxObject+1))
		return e
	})
	if cloud.Code(err) == "NoSuchKey" {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if len(data) > maxObject {
		return nil, false, fmt.Errorf("state: object %s is larger than %d bytes", key, maxObject)
	}
	return data, true, nil
}

// maxObject bounds what a state read accepts: records are small; anything larger is not ours.
const maxObject = 16 << 20

// writtenBy reports whether the object at key carries our writer id.
func (s *Store) writtenBy(ctx context.Context, key, writer string) (bool, error) {
	data, found, err := s.get(ctx, key)
	if err != nil || !found {
		return false, err
	}
	var w struct {
		Writer string `json:"writer"`
	}
	return json.Unmarshal(data, &w) == nil && w.Writer == writer, nil
}
