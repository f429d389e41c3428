package archive

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// WORM states as GetBucketWorm reports them.
const (
	WormInProgress = "InProgress"
	WormLocked     = "Locked"
)

// LifecycleRuleID names auditwarden's lifecycle rule in the bucket's configuration.
const LifecycleRuleID = "auditwarden-archive"

// OSS error codes this adapter acts on.
const (
	codeNoSuchBucket        = "NoSuchBucket"
	codeBucketAlreadyExists = "BucketAlreadyExists"
	codeWormAlreadyExists   = "WORMConfigurationAlreadyExist"
	codeNoSuchWorm          = "NoSuchWORMConfiguration"
)

// Client manages one account's archive bucket through the OSS SDK (v3). Every call goes
// through the session's Do (rate limit, retries of throttling and 5xx). Safe for concurrent use.
type Client struct {
	s *cloud.Session
}

// New returns a Client acting with the session's credentials.
func New(s *cloud.Session) *Client { return &Client{s: s} }

// client builds an SDK client; building one makes no network call.
func (c *Client) client() (*oss.Client, error) { return c.s.OSS() }

// v4Client is a client signing with v4. It is used for the calls v3 has no method for
// (public access block), made through its generic Conn.Do: a v1 signature would leave the
// publicAccessBlock sub-resource out of the signed resource (it is not in v3's list), which
// real OSS rejects; v4 signs every query parameter.
func (c *Client) v4Client() (*oss.Client, error) {
	cl, err := c.s.OSS()
	if err != nil {
		return nil, err
	}
	cl.Config.AuthVersion = oss.AuthV4
	cl.Config.Region = c.s.Endpoints().Region
	return cl, nil
}

// do runs one SDK call through the session's Do.
func (c *Client) do(ctx context.Context, action string, fn func(cl *oss.Client) error) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	return c.s.Do(ctx, "oss:"+action, func() error { return fn(cl) })
}

// unset: an answer meaning "this setting is not configured" (NoSuchBucketPolicy,
// NoSuchLifecycle, NoSuchWORMConfiguration, NoSuchServerSideEncryptionRule, ...), as opposed to
// the bucket itself missing.
func unset(err error) bool {
	code := cloud.Code(err)
	return strings.HasPrefix(code, "NoSuch") && code != codeNoSuchBucket
}

func noBucket(err error) bool { return cloud.Code(err) == codeNoSuchBucket }

// Observe reads everything Drift compares. A missing bucket is Exists=false without an error;
// a setting that is not configured is its zero value.
func (c *Client) Observe(ctx context.Context, bucket string) (BucketState, error) {
	st, err := c.observe(ctx, bucket)
	if noBucket(err) {
		return BucketState{}, nil
	}
	if err != nil {
		return BucketState{}, fmt.Errorf("oss bucket %s: observe: %w", bucket, err)
	}
	return st, nil
}

func (c *Client) observe(ctx context.Context, bucket string) (BucketState, error) {
	info, err := c.bucketInfo(ctx, bucket)
	if err != nil {
		return BucketState{}, err
	}
	st := BucketState{Exists: true, Owner: info.Owner.ID, ACL: info.ACL, Region: regionOf(info.Location)}
	if alg := info.SseRule.SSEAlgorithm; alg != "" && !strings.EqualFold(alg, "None") {
		st.Encryption = alg
		if alg == "KMS" {
			st.KMSKeyID = info.SseRule.KMSMasterKeyID
		}
	}

	if st.Worm, err = c.worm(ctx, bucket); err != nil {
		return st, fmt.Errorf("retention (WORM): %w", err)
	}

	err = c.do(ctx, "GetBucketPolicy", func(cl *oss.Client) error {
		var e error
		st.Policy, e = cl.GetBucketPolicy(bucket)
		return e
	})
	if err != nil && !unset(err) {
		return st, fmt.Errorf("policy: %w", err)
	}
	// A policy we cannot read as a policy denies nothing we can vouch for: Drift then asks for
	// the secure-transport statement, and SetSecureTransportPolicy reports the document as bad.
	st.DeniesInsecure, _ = DeniesInsecure(st.Policy, bucket, st.Region, st.Owner)

	err = c.do(ctx, "GetBucketLogging", func(cl *oss.Client) error {
		res, e := cl.GetBucketLogging(bucket)
		if e == nil {
			st.LoggingBucket, st.LoggingPrefix = res.LoggingEnabled.TargetBucket, res.LoggingEnabled.TargetPrefix
		}
		return e
	})
	if err != nil && !unset(err) {
		return st, fmt.Errorf("logging: %w", err)
	}

	err = c.do(ctx, "GetBucketLifecycle", func(cl *oss.Client) error {
		res, e := cl.GetBucketLifecycle(bucket)
		if e == nil {
			st.LifecycleConfigured = true
			st.LifecycleRules = len(res.Rules)
			st.Lifecycle = ourLifecycle(res.Rules)
		}
		return e
	})
	if err != nil && !unset(err) {
		return st, fmt.Errorf("lifecycle: %w", err)
	}

	if st.PublicAccessBlocked, err = c.publicAccessBlock(ctx, bucket); err != nil && !unset(err) {
		return st, fmt.Errorf("public access block: %w", err)
	}
	return st, nil
}

// regionOf reads a bucket Location (oss-cn-hangzhou) as a region id.
func regionOf(location string) string { return strings.TrimPrefix(location, "oss-") }

func (c *Client) bucketInfo(ctx context.Context, bucket string) (oss.BucketInfo, error) {
	var info oss.BucketInfo
	err := c.do(ctx, "GetBucketInfo", func(cl *oss.Client) error {
		res, e := cl.GetBucketInfo(bucket)
		info = res.BucketInfo
		return e
	})
	return info, err
}

func (c *Client) worm(ctx context.Context, bucket string) (WormState, error) {
	var w WormState
	err := c.do(ctx, "GetBucketWorm", func(cl *oss.Client) error {
		res, e := cl.GetBucketWorm(bucket)
		if e == nil {
			w = WormState{ID: res.WormId, State: res.State, RetentionDays: res.RetentionPeriodInDays}
		}
		return e
	})
	if unset(err) {
		return WormState{}, nil
	}
	return w, err
}

// ourLifecycle reads auditwarden's rule (by ID) out of a lifecycle configuration.
func ourLifecycle(rules []oss.LifecycleRule) Lifecycle {
	var l Lifecycle
	for _, r := range rules {
		if r.ID != LifecycleRuleID || r.Status != "Enabled" {
			continue
		}
		for _, t := range r.Transitions {
			switch t.StorageClass {
			case oss.StorageIA:
				l.TransitionToIADays = t.Days
			case oss.StorageArchive:
				l.TransitionToArchiveDays = t.Days
			}
		}
		if r.Expiration != nil {
			l.ExpireDays = r.Expiration.Days
		}
	}
	return l
}

// publicAccessBlockConfiguration is the body of Get/PutBucketPublicAccessBlock.
type publicAccessBlockConfiguration struct {
	XMLName           xml.Name `xml:"PublicAccessBlockConfiguration"`
	BlockPublicAccess bool     `xml:"BlockPublicAccess"`
}

// publicAccessBlock reads GET /<bucket>/?publicAccessBlock, which v3 has no method for.
func (c *Client) publicAccessBlock(ctx context.Context, bucket string) (bool, error) {
	cl, err := c.v4Client()
	if err != nil {
		return false, err
	}
	var blocked bool
	err = c.s.Do(ctx, "oss:GetBucketPublicAccessBlock", func() error {
		resp, e := cl.Conn.DoWithContext(ctx, "GET", bucket, "", map[string]interface{}{"publicAccessBlock": nil}, nil, nil, 0, nil)
		if resp != nil {
			defer resp.Body.Close()
		}
		if e != nil {
			return e
		}
		body, e := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if e != nil {
			return e
		}
		blocked, e = decodePublicAccessBlock(body)
		return e
	})
	return blocked, err
}

// decodePublicAccessBlock reads a PublicAccessBlockConfiguration document.
func decodePublicAccessBlock(body []byte) (bool, error) {
	var cfg publicAccessBlockConfiguration
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&cfg); err != nil {
		return false, fmt.Errorf("PublicAccessBlockConfiguration: %v", err)
	}
	return cfg.BlockPublicAccess, nil
}
