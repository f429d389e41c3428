package oss

import (
	"errors"
	"testing"

	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func TestFaultsAndStats(t *testing.T) {
	e := newEnv(t)
	c := e.v1(e.root)
	b := e.bucket()
	if err := e.put(c, b, "k", "v"); err != nil {
		t.Fatal(err)
	}

	t.Run("rate limit answers 503 SlowDown", func(t *testing.T) {
		e.w.Faults.Set(core.FaultConfig{RateLimits: []core.RateLimit{{Product: "oss", Action: "GetObject", PerSecond: 0.001, Burst: 1}}})
		defer e.w.Faults.Set(core.FaultConfig{})
		if _, err := e.get(c, b, "k"); err != nil {
			t.Fatalf("first call within the burst: %v", err)
		}
		_, err := e.get(c, b, "k")
		if se := svcErr(t, err, 503, "SlowDown"); se.Ec != "0004-00000302" {
			t.Fatalf("EC %q", se.Ec)
		}
		if _, _, throttled := e.w.Stats.Sum("oss", "GetObject"); throttled != 1 {
			t.Fatalf("throttled count %d", throttled)
		}
	})

	t.Run("scripted failure keeps its code", func(t *testing.T) {
		e.w.Faults.Script(core.FaultRule{Product: "oss", Action: "PutObject", Account: e.mgmt, Count: 1, Status: 500, Code: "InternalError", Message: "injected"})
		se := svcErr(t, e.put(c, b, "k2", "v"), 500, "InternalError")
		if se.Message != "injected" {
			t.Fatalf("message %q", se.Message)
		}
		if err := e.put(c, b, "k2", "v"); err != nil {
			t.Fatalf("the script fires once: %v", err)
		}
	})

	t.Run("scripted failure of another account does not apply", func(t *testing.T) {
		e.w.Faults.Script(core.FaultRule{Product: "oss", Action: "PutObject", Account: e.other, Count: 1, Status: 500, Code: "InternalError"})
		if err := e.put(c, b, "k3", "v"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("timeout drops the connection", func(t *testing.T) {
		// Forever: Go's transport silently retries an idempotent request once on a reused
		// connection that closes without an answer.
		e.w.Faults.Set(core.FaultConfig{TimeoutHoldMs: 1, Scripts: []core.FaultRule{{Product: "oss", Action: "HeadObject", Count: -1, Timeout: true}}})
		defer e.w.Faults.Set(core.FaultConfig{})
		_, err := e.obucket(c, b).GetObjectDetailedMeta("k")
		var se alioss.ServiceError
		if err == nil || errors.As(err, &se) {
			t.Fatalf("want a transport error, got %v", err)
		}
		if _, errs, _ := e.w.Stats.Sum("oss", "HeadObject"); errs < 1 {
			t.Fatalf("HeadObject errors %d", errs)
		}
	})

	var put core.StatRow
	for _, r := range e.w.Stats.Snapshot() {
		if r.Product == "oss" && r.Action == "PutObject" && r.Account == e.mgmt {
			put = r
		}
	}
	if !put.Write || put.Calls != 4 || put.Errors != 1 {
		t.Fatalf("PutObject stats %+v", put)
	}
}
