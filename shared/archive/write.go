package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// ErrRetentionShorten is returned (wrapped) when a locked retention policy is longer than the
// one asked for: OSS can only extend a locked policy, and auditwarden never tries to shorten one.
var ErrRetentionShorten = errors.New("a locked retention policy cannot be shortened")

// maxRetentionDays is OSS's limit on a WORM retention period (70 years).
const maxRetentionDays = 25550

// Create creates the bucket: private ACL, Standard storage, zone-redundant (ZRS) where the
// region offers it, else locally redundant. BucketAlreadyExists (bucket names are global) is
// verified: the bucket must be readable by us and owned by our account.
func (c *Client) Create(ctx context.Context, spec BucketSpec) error {
	switch {
	case spec.Name == "":
		return errors.New("bucket spec: Name is empty")
	case !spec.Create:
		return fmt.Errorf("oss bucket %s: the spec says create: false; the bucket must be created by its owner", spec.Name)
	}
	create := func(red oss.DataRedundancyType) error {
		return c.do(ctx, "PutBucket", func(cl *oss.Client) error {
			return cl.CreateBucket(spec.Name, oss.ACL(oss.ACLPrivate), oss.StorageClass(oss.StorageStandard), oss.RedundancyType(red))
		})
	}
	err := create(oss.RedundancyZRS)
	if zrsRefused(err) {
		err = create(oss.RedundancyLRS)
	}
	if err == nil {
		return nil
	}
	if cloud.Code(err) != codeBucketAlreadyExists {
		return fmt.Errorf("oss bucket %s: create: %w", spec.Name, err)
	}
	return c.verifyOwner(ctx, spec.Name, err)
}

// zrsRefused: the region does not offer zone-redundant storage. The exact code of that refusal
// is not documented; OSS answers malformed or unsupported creation arguments with a 400
// InvalidArgument, and its message names the redundancy type.
func zrsRefused(err error) bool {
	var se oss.ServiceError
	if !errors.As(err, &se) || se.StatusCode != 400 {
		return false
	}
	text := strings.ToLower(se.Code + " " + se.Message)
	return se.Code == "InvalidArgument" || strings.Contains(text, "redundancy") || strings.Contains(text, "zrs")
}

// verifyOwner checks that an existing bucket is ours after a create answered cause.
func (c *Client) verifyOwner(ctx context.Context, bucket string, cause error) error {
	info, err := c.bucketInfo(ctx, bucket)
	if err != nil {
		return fmt.Errorf("oss bucket %s: the name is taken and the bucket is not readable by this account (bucket names are global in OSS; choose another): %v: %w", bucket, cause, err)
	}
	me, err := c.s.CallerAccount(ctx)
	if err != nil {
		return fmt.Errorf("oss bucket %s: exists; checking its owner: %w", bucket, err)
	}
	if info.Owner.ID != me {
		return fmt.Errorf("oss bucket %s: exists but is owned by account %s, not %s (bucket names are global in OSS; choose another)", bucket, info.Owner.ID, me)
	}
	return nil
}

// SetACL sets the bucket ACL: private, public-read or public-read-write.
func (c *Client) SetACL(ctx context.Context, bucket, acl string) error {
	switch oss.ACLType(acl) {
	case oss.ACLPrivate, oss.ACLPublicRead, oss.ACLPublicReadWrite:
	default:
		return fmt.Errorf("oss bucket %s: ACL %q must be private, public-read or public-read-write", bucket, acl)
	}
	err := c.do(ctx, "PutBucketAcl", func(cl *oss.Client) error { return cl.SetBucketACL(bucket, oss.ACLType(acl)) })
	if err != nil {
		return fmt.Errorf("oss bucket %s: set ACL %s: %w", bucket, acl, err)
	}
	return nil
}

// SetEncryption sets default server-side encryption: AES256 (OSS-managed keys) or KMS, with
// kmsKeyID naming the CMK ("" lets OSS use its managed CMK in KMS).
func (c *Client) SetEncryption(ctx context.Context, bucket, algorithm, kmsKeyID string) error {
	rule := oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: algorithm}}
	switch algorithm {
	case "AES256":
		if kmsKeyID != "" {
			return fmt.Errorf("oss bucket %s: encryption: KMSKeyID %q is only allowed with KMS, not AES256", bucket, kmsKeyID)
		}
	case "KMS":
		rule.SSEDefault.KMSMasterKeyID = kmsKeyID
	default:
		return fmt.Errorf("oss bucket %s: encryption algorithm %q must be AES256 or KMS", bucket, algorithm)
	}
	err := c.do(ctx, "PutBucketEncryption", func(cl *oss.Client) error { return cl.SetBucketEncryption(bucket, rule) })
	if err != nil {
		return fmt.Errorf("oss bucket %s: set encryption %s: %w", bucket, algorithm, err)
	}
	return nil
}

// SetSecureTransportPolicy makes the bucket policy deny every request made without HTTPS
// (CIS 5.4). The statement is merged into the existing policy, whose other statements are kept;
// a policy that already denies insecure transport is not written.
func (c *Client) SetSecureTransportPolicy(ctx context.Context, bucket string) error {
	info, err := c.bucketInfo(ctx, bucket)
	if err != nil {
		return fmt.Errorf("oss bucket %s: secure-transport policy: %w", bucket, err)
	}
	var doc string
	err = c.do(ctx, "GetBucketPolicy", func(cl *oss.Client) error {
		var e error
		doc, e = cl.GetBucketPolicy(bucket)
		return e
	})
	if err != nil && !unset(err) {
		return fmt.Errorf("oss bucket %s: secure-transport policy: read policy: %w", bucket, err)
	}
	if ok, _ := DeniesInsecure(doc, bucket, regionOf(info.Location), info.Owner.ID); ok {
		return nil
	}
	merged, err := MergeSecureTransport(doc, bucket, info.Owner.ID)
	if err != nil {
		return fmt.Errorf("oss bucket %s: secure-transport policy: %w", bucket, err)
	}
	err = c.do(ctx, "PutBucketPolicy", func(cl *oss.Client) error { return cl.SetBucketPolicy(bucket, merged) })
	if err != nil {
		return fmt.Errorf("oss bucket %s: secure-transport policy: write: %w", bucket, err)
	}
	return nil
}

// BlockPublicAccess turns on the bucket's Block Public Access, which voids public ACLs and
// public policy grants (CIS 2.2, 5.1). v3 has no method for it: this is PUT
// /<bucket>/?publicAccessBlock through the client's generic Conn.Do, signed with v4.
func (c *Client) BlockPublicAccess(ctx context.Context, bucket string) error {
	cl, err := c.v4Client()
	if err != nil {
		return err
	}
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<PublicAccessBlockConfiguration><BlockPublicAccess>true</BlockPublicAccess></PublicAccessBlockConfiguration>`)
	err = c.s.Do(ctx, "oss:PutBucketPublicAccessBlock", func() error {
		resp, e := cl.Conn.DoWithContext(ctx, "PUT", bucket, "", map[string]interface{}{"publicAccessBlock": nil},
			map[string]string{oss.HTTPHeaderContentType: "application/xml"}, bytes.NewReader(body), 0, nil)
		if resp != nil {
			resp.Body.Close()
		}
		return e
	})
	if err != nil {
		return fmt.Errorf("oss bucket %s: block public access: %w", bucket, err)
	}
	return nil
}

// SetLogging turns on access logging into target under prefix (CIS 5.3).
func (c *Client) SetLogging(ctx context.Context, bucket, target, prefix string) error {
	if target == "" {
		return fmt.Errorf("oss bucket %s: logging: target bucket is empty", bucket)
	}
	err := c.do(ctx, "PutBucketLogging", func(cl *oss.Client) error { return cl.SetBucketLogging(bucket, target, prefix, true) })
	if err != nil {
		return fmt.Errorf("oss bucket %s: set logging to %s/%s: %w", bucket, target, prefix, err)
	}
	return nil
}

func (l Lifecycle) validate() error {
	switch {
	case l == (Lifecycle{}):
		return errors.New("lifecycle: no step is set")
	case l.TransitionToIADays < 0 || l.TransitionToArchiveDays < 0 || l.ExpireDays < 0:
		return errors.New("lifecycle: days must not be negative")
	case l.TransitionToIADays > 0 && l.TransitionToArchiveDays > 0 && l.TransitionToArchiveDays <= l.TransitionToIADays:
		return fmt.Errorf("lifecycle: TransitionToArchiveDays %d must be after TransitionToIADays %d", l.TransitionToArchiveDays, l.TransitionToIADays)
	case l.ExpireDays > 0 && l.ExpireDays <= max(l.TransitionToIADays, l.TransitionToArchiveDays):
		return fmt.Errorf("lifecycle: ExpireDays %d must be after every transition", l.ExpireDays)
	}
	return nil
}

// rules is the lifecycle configuration for l: one rule over the whole bucket.
func (l Lifecycle) rules() []oss.LifecycleRule {
	r := oss.LifecycleRule{ID: LifecycleRuleID, Prefix: "", Status: "Enabled"}
	if l.TransitionToIADays > 0 {
		r.Transitions = append(r.Transitions, oss.LifecycleTransition{Days: l.TransitionToIADays, StorageClass: oss.StorageIA})
	}
	if l.TransitionToArchiveDays > 0 {
		r.Transitions = append(r.Transitions, oss.LifecycleTransition{Days: l.TransitionToArchiveDays, StorageClass: oss.StorageArchive})
	}
	if l.ExpireDays > 0 {
		r.Expiration = &oss.LifecycleExpiration{Days: l.ExpireDays}
	}
	return []oss.LifecycleRule{r}
}

// SetLifecycle writes the bucket's lifecycle configuration as exactly auditwarden's one rule.
// PutBucketLifecycle replaces the whole configuration, and that is intended: another rule on an
// audit archive (an earlier expiry, say) would undo the retention the policy asks for.
func (c *Client) SetLifecycle(ctx context.Context, bucket string, l Lifecycle) error {
	if err := l.validate(); err != nil {
		return fmt.Errorf("oss bucket %s: %w", bucket, err)
	}
	err := c.do(ctx, "PutBucketLifecycle", func(cl *oss.Client) error { return cl.SetBucketLifecycle(bucket, l.rules()) })
	if err != nil {
		return fmt.Errorf("oss bucket %s: set lifecycle (%s): %w", bucket, l, err)
	}
	return nil
}

// LockRetention leaves the bucket with a Locked WORM retention policy of at least days:
//   - none: InitiateBucketWorm, then CompleteBucketWorm
//   - InProgress with the same days: CompleteBucketWorm
//   - InProgress with other days (not yet binding): AbortBucketWorm, then as for none
//   - Locked with fewer days: ExtendBucketWorm
//   - Locked with the same days: nothing
//   - Locked with more days: ErrRetentionShorten
//
// Answers that show another writer (or a retried call) got there first are re-observed.
func (c *Client) LockRetention(ctx context.Context, bucket string, days int) error {
	if days < 1 || days > maxRetentionDays {
		return fmt.Errorf("oss bucket %s: retention %d days must be from 1 to %d", bucket, days, maxRetentionDays)
	}
	const rounds = 3
	for round := 1; ; round++ {
		again, err := c.lockStep(ctx, bucket, days)
		if err != nil {
			return fmt.Errorf("oss bucket %s: retention: %w", bucket, err)
		}
		if !again {
			return nil
		}
		if round == rounds {
			return fmt.Errorf("oss bucket %s: retention: the WORM configuration kept changing under us after %d rounds", bucket, rounds)
		}
	}
}

// lockStep does one observe-then-act round of LockRetention; again asks for another round.
func (c *Client) lockStep(ctx context.Context, bucket string, days int) (again bool, err error) {
	w, err := c.worm(ctx, bucket)
	if err != nil {
		return false, err
	}
	switch {
	case w.State == "":
		var id string
		err := c.do(ctx, "InitiateBucketWorm", func(cl *oss.Client) error {
			var e error
			id, e = cl.InitiateBucketWorm(bucket, days)
			return e
		})
		if cloud.Code(err) == codeWormAlreadyExists {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("initiate %d days: %w", days, err)
		}
		return c.complete(ctx, bucket, id)
	case w.State == WormInProgress && w.RetentionDays == days:
		return c.complete(ctx, bucket, w.ID)
	case w.State == WormInProgress:
		err := c.do(ctx, "AbortBucketWorm", func(cl *oss.Client) error { return cl.AbortBucketWorm(bucket) })
		if err != nil && cloud.Code(err) != codeNoSuchWorm {
			return false, fmt.Errorf("abort the unlocked %d-day policy to replace it with %d days: %w", w.RetentionDays, days, err)
		}
		return true, nil
	case w.State == WormLocked && w.RetentionDays == days:
		return false, nil
	case w.State == WormLocked && w.RetentionDays < days:
		err := c.do(ctx, "ExtendBucketWorm", func(cl *oss.Client) error { return cl.ExtendBucketWorm(bucket, days, w.ID) })
		if err != nil {
			return false, fmt.Errorf("extend from %d to %d days: %w", w.RetentionDays, days, err)
		}
		return false, nil
	case w.State == WormLocked:
		return false, fmt.Errorf("%w: it is locked at %d days and %d were asked for", ErrRetentionShorten, w.RetentionDays, days)
	}
	return false, fmt.Errorf("GetBucketWorm answered state %q; expected InProgress or Locked", w.State)
}

func (c *Client) complete(ctx context.Context, bucket, id string) (again bool, err error) {
	if id == "" {
		return false, errors.New("InitiateBucketWorm answered without an x-oss-worm-id")
	}
	err = c.do(ctx, "CompleteBucketWorm", func(cl *oss.Client) error { return cl.CompleteBucketWorm(bucket, id) })
	if cloud.Code(err) == codeNoSuchWorm {
		return true, nil // it lapsed or was replaced between the read and the lock
	}
	if err != nil {
		return false, fmt.Errorf("complete (lock) %s: %w", id, err)
	}
	return false, nil
}

// Fix applies the write that resolves one Finding of spec.Drift.
func (c *Client) Fix(ctx context.Context, spec BucketSpec, f Finding) error {
	switch f.Field {
	case FieldACL:
		return c.SetACL(ctx, spec.Name, spec.ACL)
	case FieldPublicAccessBlock:
		return c.BlockPublicAccess(ctx, spec.Name)
	case FieldEncryption:
		return c.SetEncryption(ctx, spec.Name, spec.Encryption, spec.KMSKeyID)
	case FieldSecureTransport:
		return c.SetSecureTransportPolicy(ctx, spec.Name)
	case FieldLogging:
		return c.SetLogging(ctx, spec.Name, spec.LoggingBucket, spec.LoggingPrefix)
	case FieldRetention:
		return c.LockRetention(ctx, spec.Name, spec.RetentionDays)
	case FieldLifecycle:
		return c.SetLifecycle(ctx, spec.Name, spec.Lifecycle)
	}
	return fmt.Errorf("oss bucket %s: no fix for finding field %q", spec.Name, f.Field)
}
