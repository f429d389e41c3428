package oss

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

var _ core.OSSBackend = (*Server)(nil)

// Errors of the Go-level API; callers match them with errors.Is.
var (
	ErrNoSuchBucket  = errors.New("oss: the specified bucket does not exist (NoSuchBucket)")
	ErrImmutable     = errors.New("oss: the object is protected by the bucket's retention policy (FileImmutable)")
	ErrBucketExists  = errors.New("oss: the bucket name is taken (BucketAlreadyExists)")
	ErrInvalidBucket = errors.New("oss: invalid bucket name (InvalidBucketName)")
	ErrInvalidObject = errors.New("oss: invalid object name (InvalidObjectName)")
)

// BucketOwner returns the account owning a bucket and whether it exists.
func (s *Server) BucketOwner(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[name]
	if !ok {
		return "", false
	}
	return b.owner, true
}

// ServicePut writes an object as a cloud service (ActionTrail delivery): the bucket policy
// and ACL do not apply, but a retention policy does: an object inside its period is never
// overwritten.
func (s *Server) ServicePut(bucketName, key string, body []byte, contentType string) error {
	if err := checkObjectName(key); err != nil {
		return fmt.Errorf("%w: %q: %s", ErrInvalidObject, key, err.Message)
	}
	data := append([]byte(nil), body...)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSuchBucket, bucketName)
	}
	now := s.w.Now()
	if old := b.objects[key]; old != nil && b.protected(old, now) {
		return fmt.Errorf("%w: oss://%s/%s", ErrImmutable, bucketName, key)
	}
	o := newObject(data, contentType, now)
	if e := b.encryption; e != nil {
		o.sse, o.sseKeyID = e.Algorithm, e.KMSMasterKeyID
		if o.sse == "KMS" && o.sseKeyID == "" {
			o.sseKeyID = managedKeyID(b.owner)
		}
	}
	b.objects[key] = o
	return nil
}

// CreateBucket makes a bucket owned by account without going through HTTP (seeding tests
// and demos). acl is private, public-read or public-read-write ("" is private).
func (s *Server) CreateBucket(account, name, acl string) error {
	if checkBucketName(name) != nil {
		return fmt.Errorf("%w: %q", ErrInvalidBucket, name)
	}
	if acl == "" {
		acl = "private"
	}
	if !bucketACLs[acl] {
		return fmt.Errorf("acl: %q must be private, public-read or public-read-write", acl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; ok {
		return fmt.Errorf("%w: %s", ErrBucketExists, name)
	}
	s.buckets[name] = &bucket{
		name: name, owner: account, region: s.w.Region, created: s.w.Now(), acl: acl,
		storageClass: "Standard", redundancy: "LRS", objects: map[string]*object{},
	}
	return nil
}

// Object returns a copy of an object's bytes.
func (s *Server) Object(bucketName, key string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil, false
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), o.data...), true
}

// Keys lists a bucket's keys under prefix, sorted.
func (s *Server) Keys(bucketName, prefix string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return nil
	}
	var keys []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// WormConfig is a bucket's retention policy as GetBucketWorm shows it.
type WormConfig struct {
	ID            string
	State         string // InProgress | Locked
	RetentionDays int
	Created       time.Time
}

// LifecycleRule is the part of a lifecycle rule callers usually check.
type LifecycleRule struct {
	ID             string
	Prefix         string
	Status         string
	ExpirationDays int // 0 when the rule has no Days-based expiration
}

// BucketInfo is a snapshot of a bucket's configuration.
type BucketInfo struct {
	Name              string
	Owner             string
	Region            string
	Created           time.Time
	ACL               string
	StorageClass      string
	Redundancy        string
	Policy            string // the JSON document; "" when none
	Logging           *LoggingConfig
	Encryption        *EncryptionConfig
	Worm              *WormConfig // nil when none (or an InProgress one lapsed)
	Lifecycle         []LifecycleRule
	BlockPublicAccess bool // bucket level
	AccountBlock      bool // account level Block Public Access of the owner
	Objects           int
}

// Bucket returns a snapshot of a bucket's configuration.
func (s *Server) Bucket(name string) (BucketInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.buckets[name]
	if !ok {
		return BucketInfo{}, false
	}
	info := BucketInfo{
		Name: b.name, Owner: b.owner, Region: b.region, Created: b.created, ACL: b.acl,
		StorageClass: b.storageClass, Redundancy: b.redundancy, Policy: b.policyDoc,
		BlockPublicAccess: b.blockPub, AccountBlock: s.accountBlock[b.owner], Objects: len(b.objects),
	}
	if b.logging != nil {
		l := *b.logging
		info.Logging = &l
	}
	if b.encryption != nil {
		e := *b.encryption
		info.Encryption = &e
	}
	if w := b.activeWorm(s.w.Now()); w != nil {
		state := "InProgress"
		if w.locked {
			state = "Locked"
		}
		info.Worm = &WormConfig{ID: w.id, State: state, RetentionDays: w.days, Created: w.created}
	}
	if b.lifecycle != nil {
		for _, r := range b.lifecycle.Rules {
			lr := LifecycleRule{ID: r.ID, Status: r.Status}
			if r.Prefix != nil {
				lr.Prefix = *r.Prefix
			}
			if r.Expiration != nil && r.Expiration.Days != nil {
				lr.ExpirationDays = *r.Expiration.Days
			}
			info.Lifecycle = append(info.Lifecycle, lr)
		}
	}
	return info, true
}
