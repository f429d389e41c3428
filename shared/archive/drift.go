package archive

import (
	"fmt"
	"strings"
)

// Finding is one way the observed bucket differs from the spec; Fix applies exactly one SDK
// write (two or three for Retention) for it. Field names the setting (and the action), Want and
// Got are human-readable values, CIS the benchmark items it restores ("" for settings the CIS
// logging items do not name).
type Finding struct {
	Field string `json:"field"`
	Want  string `json:"want"`
	Got   string `json:"got"`
	CIS   string `json:"cis,omitempty"`
}

// Fields a Finding can name, in the order Drift reports them.
const (
	FieldACL               = "ACL"
	FieldPublicAccessBlock = "PublicAccessBlock"
	FieldEncryption        = "Encryption"
	FieldSecureTransport   = "SecureTransport"
	FieldLogging           = "Logging"
	FieldRetention         = "Retention"
	FieldLifecycle         = "Lifecycle"
)

func (s BucketSpec) encryptionValue() string {
	if s.Encryption == "KMS" && s.KMSKeyID != "" {
		return "KMS:" + s.KMSKeyID
	}
	return s.Encryption
}

func (st BucketState) encryptionValue(withKey bool) string {
	if st.Encryption == "" {
		return "none"
	}
	if st.Encryption == "KMS" && withKey && st.KMSKeyID != "" {
		return "KMS:" + st.KMSKeyID
	}
	return st.Encryption
}

func loggingValue(bucket, prefix string) string {
	if bucket == "" {
		return "disabled"
	}
	return bucket + "/" + prefix
}

func wormValue(w WormState) string {
	if w.State == "" {
		return "none"
	}
	return fmt.Sprintf("%s %d days", w.State, w.RetentionDays)
}

func (l Lifecycle) String() string {
	if l == (Lifecycle{}) {
		return "none"
	}
	var parts []string
	if l.TransitionToIADays > 0 {
		parts = append(parts, fmt.Sprintf("IA after %d days", l.TransitionToIADays))
	}
	if l.TransitionToArchiveDays > 0 {
		parts = append(parts, fmt.Sprintf("Archive after %d days", l.TransitionToArchiveDays))
	}
	if l.ExpireDays > 0 {
		parts = append(parts, fmt.Sprintf("expire after %d days", l.ExpireDays))
	}
	return strings.Join(parts, ", ")
}

// Drift lists what differs between the spec and an existing bucket, one Finding per setting.
// Settings the spec leaves unset are not compared: auditwarden never removes what it was not
// asked to manage. A retention longer than wanted is not drift (it cannot be shortened).
func (s BucketSpec) Drift(st BucketState) []Finding {
	var out []Finding
	if s.ACL != "" && st.ACL != s.ACL {
		out = append(out, Finding{Field: FieldACL, Want: s.ACL, Got: orNone(st.ACL), CIS: "2.2, 5.1"})
	}
	if s.BlockPublicAccess && !st.PublicAccessBlocked {
		out = append(out, Finding{Field: FieldPublicAccessBlock, Want: "blocked", Got: "not blocked", CIS: "2.2, 5.1"})
	}
	if s.Encryption != "" {
		keyWanted := s.Encryption == "KMS" && s.KMSKeyID != ""
		if st.Encryption != s.Encryption || (keyWanted && st.KMSKeyID != s.KMSKeyID) {
			out = append(out, Finding{Field: FieldEncryption, Want: s.encryptionValue(), Got: st.encryptionValue(keyWanted), CIS: "5.8"})
		}
	}
	if s.SecureTransport && !st.DeniesInsecure {
		got := "no bucket policy"
		if st.Policy != "" {
			got = "policy without a deny of non-HTTPS requests"
		}
		out = append(out, Finding{Field: FieldSecureTransport, Want: "deny non-HTTPS requests", Got: got, CIS: "5.4"})
	}
	if s.LoggingBucket != "" && (st.LoggingBucket != s.LoggingBucket || st.LoggingPrefix != s.LoggingPrefix) {
		out = append(out, Finding{Field: FieldLogging, Want: loggingValue(s.LoggingBucket, s.LoggingPrefix),
			Got: loggingValue(st.LoggingBucket, st.LoggingPrefix), CIS: "5.3"})
	}
	if s.RetentionDays > 0 && (st.Worm.State != WormLocked || st.Worm.RetentionDays < s.RetentionDays) {
		out = append(out, Finding{Field: FieldRetention, Want: fmt.Sprintf("%s %d days", WormLocked, s.RetentionDays), Got: wormValue(st.Worm)})
	}
	if s.Lifecycle != (Lifecycle{}) && (st.Lifecycle != s.Lifecycle || st.LifecycleRules != 1) {
		got := st.Lifecycle.String()
		if others := st.LifecycleRules; others > 0 && st.Lifecycle == (Lifecycle{}) {
			got = fmt.Sprintf("%d other rule(s)", others)
		} else if others > 1 {
			got += fmt.Sprintf(" and %d other rule(s)", others-1)
		}
		out = append(out, Finding{Field: FieldLifecycle, Want: s.Lifecycle.String(), Got: got})
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
