package archive_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/archive"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func hardened(name string) archive.BucketSpec {
	return archive.BucketSpec{Name: name, Create: true, ACL: "private", Encryption: "AES256",
		SecureTransport: true, BlockPublicAccess: true, LoggingBucket: name, LoggingPrefix: "access-log/",
		Lifecycle: archive.Lifecycle{TransitionToIADays: 30, TransitionToArchiveDays: 180}}
}

func fields(fs []archive.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Field)
	}
	return out
}

// converge observes, fixes every finding once, and checks the bucket then has no drift.
func converge(t *testing.T, ctx context.Context, c *archive.Client, spec archive.BucketSpec) archive.BucketState {
	t.Helper()
	st, err := c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range spec.Drift(st) {
		if err := c.Fix(ctx, spec, f); err != nil {
			t.Fatalf("fix %s: %v", f.Field, err)
		}
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if d := spec.Drift(st); len(d) > 0 {
		t.Fatalf("still drifting after one fix per finding: %+v", d)
	}
	return st
}

func TestCreateObserveHarden(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := archive.New(f.s)
	spec := hardened("audit-archive")

	st, err := c.Observe(ctx, spec.Name)
	if err != nil || st.Exists {
		t.Fatalf("observe a missing bucket = %+v, %v; want absent, no error", st, err)
	}
	if err := c.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.ACL != "private" || st.Owner != f.info.ManagementAccountID || st.Region != "cn-hangzhou" ||
		st.Encryption != "" || st.Policy != "" || st.PublicAccessBlocked || st.LoggingBucket != "" || st.LifecycleConfigured || st.Worm.State != "" {
		t.Fatalf("new bucket observed as %+v; want private, unconfigured, owned by the management account", st)
	}
	info, err := f.raw(t).GetBucketInfo(spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if info.BucketInfo.RedundancyType != "ZRS" || info.BucketInfo.StorageClass != "Standard" {
		t.Errorf("created %s/%s; want ZRS/Standard", info.BucketInfo.RedundancyType, info.BucketInfo.StorageClass)
	}

	wantFields := []string{archive.FieldPublicAccessBlock, archive.FieldEncryption, archive.FieldSecureTransport, archive.FieldLogging, archive.FieldLifecycle}
	if got := fields(spec.Drift(st)); !slices.Equal(got, wantFields) {
		t.Fatalf("drift of a new bucket = %v; want %v", got, wantFields)
	}
	st = converge(t, ctx, c, spec)
	if st.Encryption != "AES256" || !st.DeniesInsecure || !st.PublicAccessBlocked ||
		st.LoggingBucket != spec.Name || st.LoggingPrefix != "access-log/" || st.Lifecycle != spec.Lifecycle || st.LifecycleRules != 1 {
		t.Errorf("hardened bucket observed as %+v", st)
	}

	// Converged: observing and planning again writes nothing; a second create is verified.
	w0 := f.writes()
	st, err = c.Observe(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if d := spec.Drift(st); len(d) > 0 {
		t.Fatalf("converged bucket drifts: %+v", d)
	}
	if got := f.writes() - w0; got != 0 {
		t.Errorf("observing a converged bucket made %d write calls; want 0", got)
	}
	if err := c.Create(ctx, spec); err != nil {
		t.Errorf("second Create: %v", err)
	}

	noCreate := spec
	noCreate.Create = false
	if err := c.Create(ctx, noCreate); err == nil || !strings.Contains(err.Error(), "create: false") {
		t.Errorf("Create with create: false = %v; want a refusal naming the setting", err)
	}
}

func TestDriftObservedAndHealed(t *testing.T) {
	cases := []struct {
		name  string
		drift func(t *testing.T, f *fixture, raw *oss.Client, bucket string)
		want  []string
	}{
		{"public-read ACL", func(t *testing.T, f *fixture, raw *oss.Client, b string) {
			f.unblockPublicAccess(t, b)
			must(t, raw.SetBucketACL(b, oss.ACLPublicRead))
		}, []string{archive.FieldACL, archive.FieldPublicAccessBlock}},
		{"encryption removed", func(t *testing.T, _ *fixture, raw *oss.Client, b string) {
			must(t, raw.DeleteBucketEncryption(b))
		}, []string{archive.FieldEncryption}},
		{"encryption switched to KMS", func(t *testing.T, _ *fixture, raw *oss.Client, b string) {
			must(t, raw.SetBucketEncryption(b, oss.ServerEncryptionRule{SSEDefault: oss.SSEDefaultRule{SSEAlgorithm: "KMS", KMSMasterKeyID: "key-1"}}))
		}, []string{archive.FieldEncryption}},
		{"policy removed", func(t *testing.T, _ *fixture, raw *oss.Client, b string) {
			must(t, raw.DeleteBucketPolicy(b))
		}, []string{archive.FieldSecureTransport}},
		{"logging removed", func(t *testing.T, _ *fixture, raw *oss.Client, b string) {
			must(t, raw.DeleteBucketLogging(b))
		}, []string{archive.FieldLogging}},
		{"lifecycle replaced by a foreign expiry", func(t *testing.T, _ *fixture, raw *oss.Client, b string) {
			must(t, raw.SetBucketLifecycle(b, []oss.LifecycleRule{{ID: "cleanup", Prefix: "", Status: "Enabled",
				Expiration: &oss.LifecycleExpiration{Days: 7}}}))
		}, []string{archive.FieldLifecycle}},
	}
	f := start(t)
	ctx := context.Background()
	c := archive.New(f.s)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := hardened("drift-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-"))
			if err := c.Create(ctx, spec); err != nil {
				t.Fatal(err)
			}
			converge(t, ctx, c, spec)
			tc.drift(t, f, f.raw(t), spec.Name)
			st, err := c.Observe(ctx, spec.Name)
			if err != nil {
				t.Fatal(err)
			}
			d := spec.Drift(st)
			if got := fields(d); !slices.Equal(got, tc.want) {
				t.Fatalf("drift = %+v; want fields %v", d, tc.want)
			}
			for _, fd := range d {
				if fd.Want == fd.Got || fd.Got == "" {
					t.Errorf("finding %+v does not say what was found", fd)
				}
			}
			converge(t, ctx, c, spec)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecureTransportPolicyKeepsForeignStatements(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := archive.New(f.s)
	raw := f.raw(t)
	const b = "audit-policy"
	must(t, c.Create(ctx, archive.BucketSpec{Name: b, Create: true}))
	foreign := `{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["1234567890123456"],"Resource":["acs:oss:*:*:audit-policy/reports/*"]}`
	must(t, raw.SetBucketPolicy(b, `{"Version":"1","Statement":[`+foreign+`]}`))

	st, err := c.Observe(ctx, b)
	if err != nil || st.DeniesInsecure {
		t.Fatalf("before: %+v, %v; want a policy that does not deny insecure transport", st, err)
	}
	must(t, c.SetSecureTransportPolicy(ctx, b))
	doc, err := raw.GetBucketPolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Version   string
		Statement []json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "1" || len(p.Statement) != 2 {
		t.Fatalf("merged policy = %s; want Version 1 and two statements", doc)
	}
	var got, want any
	_ = json.Unmarshal(p.Statement[0], &got)
	_ = json.Unmarshal([]byte(foreign), &want)
	if gb, _ := json.Marshal(got); string(gb) != string(mustMarshal(want)) {
		t.Errorf("foreign statement changed: %s; want %s", gb, foreign)
	}
	if st, _ = c.Observe(ctx, b); !st.DeniesInsecure {
		t.Errorf("after merge the policy does not deny insecure transport: %s", st.Policy)
	}

	// Again: nothing to write.
	before := f.calls("PutBucketPolicy")
	must(t, c.SetSecureTransportPolicy(ctx, b))
	if got := f.calls("PutBucketPolicy") - before; got != 0 {
		t.Errorf("second SetSecureTransportPolicy wrote the policy %d times; want 0", got)
	}

	// The statement does what it says: a RAM user of the owner over plain HTTP is refused,
	// while the owner's root identity (which a bucket policy cannot lock out) is not.
	w := f.srv.World
	w.Mu.Lock()
	key := w.NewAccessKeyLocked(w.ManagementAccountID, "alice")
	w.Mu.Unlock()
	alice := archive.New(f.session(t, cloud.Credentials{AccessKeyID: key.ID, AccessKeySecret: key.Secret}, w.ManagementAccountID))
	if _, err := alice.Observe(ctx, b); err == nil || cloud.Code(err) != "AccessDenied" {
		t.Errorf("RAM user over HTTP: %v; want AccessDenied by the bucket policy", err)
	}
	if _, err := c.Observe(ctx, b); err != nil {
		t.Errorf("owner root over HTTP: %v", err)
	}
}

func mustMarshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestLockRetention(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := archive.New(f.s)
	raw := f.raw(t)
	for _, b := range []string{"worm-new", "worm-pending", "worm-other-days"} {
		must(t, c.Create(ctx, archive.BucketSpec{Name: b, Create: true}))
	}
	worm := func(b string) archive.WormState {
		st, err := c.Observe(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return st.Worm
	}
	counts := func() map[string]int64 {
		m := map[string]int64{}
		for _, a := range []string{"InitiateBucketWorm", "CompleteBucketWorm", "ExtendBucketWorm", "AbortBucketWorm"} {
			m[a] = f.calls(a)
		}
		return m
	}
	delta := func(before map[string]int64) map[string]int64 {
		m := map[string]int64{}
		for a, n := range counts() {
			if d := n - before[a]; d != 0 {
				m[a] = d
			}
		}
		return m
	}
	same := func(a, b map[string]int64) bool {
		if len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if b[k] != v {
				return false
			}
		}
		return true
	}

	steps := []struct {
		name   string
		bucket string
		setup  func()
		days   int
		want   archive.WormState // ID ignored
		calls  map[string]int64
		errIs  error
	}{
		{name: "none: initiate then lock", bucket: "worm-new", days: 30,
			want: archive.WormState{State: archive.WormLocked, RetentionDays: 30}, calls: map[string]int64{"InitiateBucketWorm": 1, "CompleteBucketWorm": 1}},
		{name: "locked at the same days: nothing", bucket: "worm-new", days: 30,
			want: archive.WormState{State: archive.WormLocked, RetentionDays: 30}, calls: map[string]int64{}},
		{name: "locked with fewer days: extend", bucket: "worm-new", days: 60,
			want: archive.WormState{State: archive.WormLocked, RetentionDays: 60}, calls: map[string]int64{"ExtendBucketWorm": 1}},
		{name: "locked with more days: refuse to shorten", bucket: "worm-new", days: 30, errIs: archive.ErrRetentionShorten,
			want: archive.WormState{State: archive.WormLocked, RetentionDays: 60}, calls: map[string]int64{}},
		{name: "in progress with the same days: lock it", bucket: "worm-pending", days: 10,
			setup: func() { _, err := raw.InitiateBucketWorm("worm-pending", 10); must(t, err) },
			want:  archive.WormState{State: archive.WormLocked, RetentionDays: 10}, calls: map[string]int64{"CompleteBucketWorm": 1}},
		{name: "in progress with other days: replace, then lock", bucket: "worm-other-days", days: 10,
			setup: func() { _, err := raw.InitiateBucketWorm("worm-other-days", 5); must(t, err) },
			want:  archive.WormState{State: archive.WormLocked, RetentionDays: 10},
			calls: map[string]int64{"AbortBucketWorm": 1, "InitiateBucketWorm": 1, "CompleteBucketWorm": 1}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.setup != nil {
				s.setup()
			}
			before := counts()
			err := c.LockRetention(ctx, s.bucket, s.days)
			switch {
			case s.errIs != nil && !errors.Is(err, s.errIs):
				t.Fatalf("err = %v; want %v", err, s.errIs)
			case s.errIs == nil && err != nil:
				t.Fatal(err)
			}
			got := worm(s.bucket)
			if got.State != s.want.State || got.RetentionDays != s.want.RetentionDays || got.ID == "" {
				t.Errorf("worm = %+v; want %s %d days", got, s.want.State, s.want.RetentionDays)
			}
			if d := delta(before); !same(d, s.calls) {
				t.Errorf("WORM calls = %v; want %v", d, s.calls)
			}
		})
	}

	// A locked policy longer than wanted is no drift; a shorter one is.
	spec := archive.BucketSpec{Name: "worm-new", RetentionDays: 30}
	if d := spec.Drift(archive.BucketState{Exists: true, Worm: worm("worm-new")}); len(d) != 0 {
		t.Errorf("locked 60 days against 30 wanted drifts: %+v", d)
	}
	spec.RetentionDays = 90
	if got := fields(spec.Drift(archive.BucketState{Exists: true, Worm: worm("worm-new")})); !slices.Equal(got, []string{archive.FieldRetention}) {
		t.Errorf("locked 60 days against 90 wanted: drift %v; want Retention", got)
	}
	if err := c.LockRetention(ctx, "worm-new", 0); err == nil || !strings.Contains(err.Error(), "retention 0 days") {
		t.Errorf("LockRetention 0 days = %v; want a range error", err)
	}
}

func TestCreateVerifiesOwnerOfAnExistingName(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	other := archive.New(f.otherAccount(t))
	must(t, other.Create(ctx, archive.BucketSpec{Name: "taken-name", Create: true}))
	err := archive.New(f.s).Create(ctx, archive.BucketSpec{Name: "taken-name", Create: true})
	if err == nil || !strings.Contains(err.Error(), "taken-name") || !strings.Contains(err.Error(), "global") {
		t.Fatalf("Create of another account's bucket name = %v; want an error naming it and saying names are global", err)
	}
}

func TestCreateFallsBackToLRSWhereZRSIsRefused(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	f.srv.World.Faults.Script(core.FaultRule{Product: "oss", Action: "PutBucket", Count: 1, Status: 400,
		Code: "InvalidArgument", Message: "The DataRedundancyType ZRS is not supported in this region."})
	must(t, archive.New(f.s).Create(ctx, archive.BucketSpec{Name: "lrs-only", Create: true}))
	info, err := f.raw(t).GetBucketInfo("lrs-only")
	if err != nil {
		t.Fatal(err)
	}
	if info.BucketInfo.RedundancyType != "LRS" {
		t.Errorf("redundancy = %s; want LRS after ZRS was refused", info.BucketInfo.RedundancyType)
	}
}

// A storm of 503 SlowDown on every OSS call still converges: Do retries throttling.
func TestThrottlingStormConverges(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f.srv.World.Faults.Set(core.FaultConfig{ThrottleRate: 0.5, Seed: 7})
	c := archive.New(f.s)
	spec := hardened("audit-storm")
	spec.RetentionDays = 365
	if err := c.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	st := converge(t, ctx, c, spec)
	if st.Worm.State != archive.WormLocked || st.Worm.RetentionDays != 365 {
		t.Errorf("worm after the storm = %+v", st.Worm)
	}
	_, _, throttled := f.srv.World.Stats.Sum("oss", "")
	if throttled == 0 {
		t.Fatal("no call was throttled: the storm did not happen")
	}
	t.Logf("%d OSS calls throttled on the way", throttled)
}
