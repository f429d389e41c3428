// Package archive manages the OSS bucket ActionTrail archives into, hardened for CIS 2.2, 5.1, 5.3, 5.4, 5.8.
package archive

// BucketSpec is the archive bucket as the policy wants it.
type BucketSpec struct {
	Name              string
	Create            bool   // create when missing (false: the bucket must exist)
	ACL               string // private
	Encryption        string // "" (none), AES256, KMS
	KMSKeyID          string
	RetentionDays     int  // WORM retention; 0 = none
	SecureTransport   bool // a bucket policy denying non-HTTPS access
	BlockPublicAccess bool
	LoggingBucket     string // access logging target (CIS 5.3); "" = none
	LoggingPrefix     string
	Lifecycle         Lifecycle
}

// Lifecycle is the archive's storage-class and expiry rule; zero days mean "not set".
type Lifecycle struct {
	TransitionToIADays      int
	TransitionToArchiveDays int
	ExpireDays              int
}

// WormState is the bucket's retention policy.
type WormState struct {
	ID            string
	State         string // InProgress | Locked | "" (none)
	RetentionDays int
}

// BucketState is the bucket as observed.
type BucketState struct {
	Exists              bool
	Owner               string
	Region              string // from the bucket's Location (oss-<region>), e.g. cn-hangzhou
	ACL                 string
	Encryption          string
	KMSKeyID            string
	Worm                WormState
	Policy              string // raw bucket policy JSON
	DeniesInsecure      bool   // the policy denies requests without secure transport
	PublicAccessBlocked bool
	LoggingBucket       string
	LoggingPrefix       string
	Lifecycle           Lifecycle // auditwarden's rule (ID LifecycleRuleID); zero when absent
	LifecycleConfigured bool
	LifecycleRules      int // every rule of the bucket's lifecycle configuration, auditwarden's included
}
