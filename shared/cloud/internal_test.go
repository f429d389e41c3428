package cloud

import (
	"testing"
	"time"
)

func TestDelayIsFullJitter(t *testing.T) {
	r := NewRetrier(WithRetryPolicy(RetryPolicy{MaxAttempts: 8, Base: 100 * time.Millisecond, Cap: time.Second}))
	for attempt := 1; attempt <= 6; attempt++ {
		upper := r.policy.Backoff(attempt)
		var lo, hi time.Duration = upper, 0
		for i := 0; i < 2000; i++ {
			d := r.delay(attempt)
			if d < 0 || d > upper {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, upper)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range, not around the upper bound.
		if lo > upper/10 || hi < upper*9/10 {
			t.Fatalf("attempt %d: delays span only [%v, %v] of [0, %v]", attempt, lo, hi, upper)
		}
	}
	// The extremes of the random source map to the ends of the range.
	r.jitter = func(n int64) int64 { return n - 1 }
	if d := r.delay(3); d != 400*time.Millisecond {
		t.Fatalf("max jitter delay = %v", d)
	}
	r.jitter = func(int64) int64 { return 0 }
	if d := r.delay(3); d != 0 {
		t.Fatalf("min jitter delay = %v", d)
	}
}

func TestLogAuditRegionFollowsItsDomain(t *testing.T) {
	cases := []struct{ region, domain, want string }{
		{"cn-hangzhou", "cn-shanghai.log.aliyuncs.com/open-api", "cn-shanghai"},
		{"cn-hangzhou", "ap-southeast-1.log.aliyuncs.com/open-api", "ap-southeast-1"},
		{"cn-hangzhou", "127.0.0.1:7001/open-api", "cn-hangzhou"},
		{"cn-hangzhou", "evil.example.com/open-api", "cn-hangzhou"},
	}
	for _, tc := range cases {
		if got := logAuditRegion(Endpoints{Region: tc.region, LogAudit: tc.domain}); got != tc.want {
			t.Errorf("logAuditRegion(%q) = %q, want %q", tc.domain, got, tc.want)
		}
	}
}
