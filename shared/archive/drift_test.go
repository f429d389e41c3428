package archive

import (
	"reflect"
	"testing"
)

func TestDrift(t *testing.T) {
	full := BucketSpec{Name: "b", ACL: "private", Encryption: "KMS", KMSKeyID: "k1", RetentionDays: 365,
		SecureTransport: true, BlockPublicAccess: true, LoggingBucket: "logs", LoggingPrefix: "b/",
		Lifecycle: Lifecycle{TransitionToIADays: 30}}
	good := BucketState{Exists: true, ACL: "private", Encryption: "KMS", KMSKeyID: "k1",
		Worm: WormState{ID: "W", State: WormLocked, RetentionDays: 365}, DeniesInsecure: true, PublicAccessBlocked: true,
		LoggingBucket: "logs", LoggingPrefix: "b/", Lifecycle: Lifecycle{TransitionToIADays: 30}, LifecycleConfigured: true, LifecycleRules: 1}
	with := func(f func(*BucketState)) BucketState { st := good; f(&st); return st }

	cases := []struct {
		name string
		spec BucketSpec
		st   BucketState
		want []Finding
	}{
		{"converged", full, good, nil},
		{"public ACL", full, with(func(s *BucketState) { s.ACL = "public-read" }),
			[]Finding{{FieldACL, "private", "public-read", "2.2, 5.1"}}},
		{"public access not blocked", full, with(func(s *BucketState) { s.PublicAccessBlocked = false }),
			[]Finding{{FieldPublicAccessBlock, "blocked", "not blocked", "2.2, 5.1"}}},
		{"no encryption", full, with(func(s *BucketState) { s.Encryption, s.KMSKeyID = "", "" }),
			[]Finding{{FieldEncryption, "KMS:k1", "none", "5.8"}}},
		{"other KMS key", full, with(func(s *BucketState) { s.KMSKeyID = "k2" }),
			[]Finding{{FieldEncryption, "KMS:k1", "KMS:k2", "5.8"}}},
		{"AES256 wanted, KMS found", BucketSpec{Encryption: "AES256"}, with(func(s *BucketState) {}),
			[]Finding{{FieldEncryption, "AES256", "KMS", "5.8"}}},
		{"KMS without a key id accepts any key", BucketSpec{Encryption: "KMS"}, good, nil},
		{"policy removed", full, with(func(s *BucketState) { s.DeniesInsecure, s.Policy = false, "" }),
			[]Finding{{FieldSecureTransport, "deny non-HTTPS requests", "no bucket policy", "5.4"}}},
		{"policy without the deny", full, with(func(s *BucketState) { s.DeniesInsecure, s.Policy = false, "{}" }),
			[]Finding{{FieldSecureTransport, "deny non-HTTPS requests", "policy without a deny of non-HTTPS requests", "5.4"}}},
		{"logging off", full, with(func(s *BucketState) { s.LoggingBucket, s.LoggingPrefix = "", "" }),
			[]Finding{{FieldLogging, "logs/b/", "disabled", "5.3"}}},
		{"logging prefix changed", full, with(func(s *BucketState) { s.LoggingPrefix = "x/" }),
			[]Finding{{FieldLogging, "logs/b/", "logs/x/", "5.3"}}},
		{"retention none", full, with(func(s *BucketState) { s.Worm = WormState{} }),
			[]Finding{{FieldRetention, "Locked 365 days", "none", ""}}},
		{"retention unlocked", full, with(func(s *BucketState) { s.Worm.State = WormInProgress }),
			[]Finding{{FieldRetention, "Locked 365 days", "InProgress 365 days", ""}}},
		{"retention longer is fine", full, with(func(s *BucketState) { s.Worm.RetentionDays = 3650 }), nil},
		{"lifecycle absent", full, with(func(s *BucketState) { s.Lifecycle, s.LifecycleConfigured, s.LifecycleRules = Lifecycle{}, false, 0 }),
			[]Finding{{FieldLifecycle, "IA after 30 days", "none", ""}}},
		{"lifecycle only foreign rules", full, with(func(s *BucketState) { s.Lifecycle, s.LifecycleRules = Lifecycle{}, 2 }),
			[]Finding{{FieldLifecycle, "IA after 30 days", "2 other rule(s)", ""}}},
		{"lifecycle ours plus a foreign rule", full, with(func(s *BucketState) { s.LifecycleRules = 2 }),
			[]Finding{{FieldLifecycle, "IA after 30 days", "IA after 30 days and 1 other rule(s)", ""}}},
		{"lifecycle days changed", full, with(func(s *BucketState) { s.Lifecycle.ExpireDays = 400 }),
			[]Finding{{FieldLifecycle, "IA after 30 days", "IA after 30 days, expire after 400 days", ""}}},
		{"unset spec compares nothing", BucketSpec{Name: "b"}, BucketState{Exists: true, ACL: "public-read-write"}, nil},
		{"everything at once, in order", full, BucketState{Exists: true, ACL: "public-read"}, []Finding{
			{FieldACL, "private", "public-read", "2.2, 5.1"},
			{FieldPublicAccessBlock, "blocked", "not blocked", "2.2, 5.1"},
			{FieldEncryption, "KMS:k1", "none", "5.8"},
			{FieldSecureTransport, "deny non-HTTPS requests", "no bucket policy", "5.4"},
			{FieldLogging, "logs/b/", "disabled", "5.3"},
			{FieldRetention, "Locked 365 days", "none", ""},
			{FieldLifecycle, "IA after 30 days", "none", ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.spec.Drift(tc.st); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Drift =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestLifecycleValidate(t *testing.T) {
	cases := []struct {
		l   Lifecycle
		err bool
	}{
		{Lifecycle{TransitionToIADays: 30, TransitionToArchiveDays: 180, ExpireDays: 3650}, false},
		{Lifecycle{ExpireDays: 1}, false},
		{Lifecycle{}, true},
		{Lifecycle{TransitionToIADays: -1}, true},
		{Lifecycle{TransitionToIADays: 180, TransitionToArchiveDays: 30}, true},
		{Lifecycle{TransitionToArchiveDays: 30, ExpireDays: 30}, true},
	}
	for _, tc := range cases {
		if err := tc.l.validate(); (err != nil) != tc.err {
			t.Errorf("validate(%+v) = %v; want error %v", tc.l, err, tc.err)
		}
	}
}
