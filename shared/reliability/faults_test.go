package reliability

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// Restart drops every open connection (a kept-alive one included), comes back on the same
// gateway and OSS TLS addresses, and keeps all state.
func TestRestartDropsConnectionsAndKeepsState(t *testing.T) {
	e := start(t, localcloud.Options{Members: 3, Seed: 2})
	control := e.srv.Info().Endpoints.Control
	health := control + "/health"

	// A kept-alive connection, held open by the client across the restart.
	conn, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	get := "GET /__localcloud/health HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(conn, get); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, err := conn.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "200 OK") {
		t.Fatalf("before restart: %q %v", buf[:n], err)
	}
	accounts := len(e.activeMembers())
	e.srv.World.Stats.Add("probe", "Probe", "1", true, 200, false)

	down := make(chan error, 1)
	go func() { down <- e.srv.Restart(300 * time.Millisecond) }()
	// While it is down, nothing answers on the gateway.
	deadline := time.Now().Add(2 * time.Second)
	refused := false
	for time.Now().Before(deadline) && !refused {
		c, err := net.DialTimeout("tcp", e.srv.Addr(), 50*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	if !refused {
		t.Fatal("the gateway kept accepting connections during the restart")
	}
	if err := <-down; err != nil {
		t.Fatal(err)
	}

	// The old connection is gone: the next request on it gets nothing.
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(conn, get)
	if n, err := conn.Read(buf); err == nil && strings.Contains(string(buf[:n]), "200 OK") {
		t.Fatal("a connection opened before the restart still answers")
	}

	// Same address, same state.
	resp, err := http.Get(health)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after restart: %d", resp.StatusCode)
	}
	if got := len(e.activeMembers()); got != accounts {
		t.Fatalf("members %d after restart, want %d", got, accounts)
	}
	if calls, _, _ := e.srv.World.Stats.Sum("probe", "Probe"); calls != 1 {
		t.Fatalf("stats lost in the restart: %d", calls)
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err = tlsClient.Get(e.srv.Info().Endpoints.OSSTLS + "/__localcloud/health")
	if err != nil {
		t.Fatalf("OSS TLS after restart: %v", err)
	}
	resp.Body.Close()

	// The product's session finds it again too.
	rm, err := e.sess.ResourceManager()
	if err != nil {
		t.Fatal(err)
	}
	var dir *resourcemanager.GetResourceDirectoryResponse
	if err := e.sess.Do(context.Background(), "resourcemanager:GetResourceDirectory", func() error {
		var err error
		dir, err = rm.GetResourceDirectory(resourcemanager.CreateGetResourceDirectoryRequest())
		return err
	}); err != nil || dir.ResourceDirectory.RootFolderId != e.root() {
		t.Fatalf("session after restart: %v", err)
	}
}

// restarter restarts localcloud in the middle of an apply: as soon as the stats show the given
// number of write calls, from a goroutine, while the product's calls are in flight.
type restarter struct {
	begun atomic.Int32 // restarts under way or done
	fired atomic.Int32 // restarts done
	errs  chan error
	wg    sync.WaitGroup
	stop  chan struct{}
}

func restartOnWrites(e *env, pause time.Duration, atWrites ...int64) *restarter {
	r := &restarter{errs: make(chan error, len(atWrites)), stop: make(chan struct{})}
	if len(atWrites) == 0 {
		return r
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for _, n := range atWrites {
			for e.srv.World.Stats.WriteCalls() < n {
				select {
				case <-r.stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
			r.begun.Add(1)
			r.errs <- e.srv.Restart(pause)
			r.fired.Add(1)
		}
	}()
	return r
}

// done stops waiting for more writes and returns once no restart is under way (Close must not
// race a Restart).
func (r *restarter) done(t *testing.T) int {
	t.Helper()
	close(r.stop)
	r.wg.Wait()
	close(r.errs)
	for err := range r.errs {
		if err != nil {
			t.Errorf("restart: %v", err)
		}
	}
	return int(r.fired.Load())
}

// The fault matrix: under each fault, repeated full runs bootstrap a 30-member directory and
// converge; with the faults gone a dry run plans nothing, a real run writes nothing, and every
// active member is collected by Log Audit: no member lost.
func TestFaultMatrixConvergesWithNoMemberLost(t *testing.T) {
	const maxRuns = 6
	cases := []struct {
		name   string
		faults core.FaultConfig
		// restartAt restarts localcloud (pausing restartPause) once this many write calls are seen.
		restartAt    []int64
		restartPause time.Duration
		// check proves the fault really hit the product's calls (no vacuous pass).
		check func(calls, errors, throttled int64) error
	}{
		{name: "50% throttling", faults: core.FaultConfig{ThrottleRate: .5, Seed: 101},
			check: func(calls, errors, throttled int64) error {
				if throttled < calls/4 {
					return fmt.Errorf("%d of %d calls throttled", throttled, calls)
				}
				return nil
			}},
		{name: "10% 5xx", faults: core.FaultConfig{ErrorRate: .1, Seed: 102},
			check: func(calls, errors, throttled int64) error {
				if errors < calls/20 {
					return fmt.Errorf("%d of %d calls failed", errors, calls)
				}
				return nil
			}},
		{name: "10% timeouts", faults: core.FaultConfig{TimeoutRate: .1, TimeoutHoldMs: 20, Seed: 103},
			check: func(calls, errors, throttled int64) error {
				if errors < calls/20 {
					return fmt.Errorf("%d of %d calls dropped", errors, calls)
				}
				return nil
			}},
		// Latency keeps calls in flight when the restart cuts them: the cloud applied them but the
		// answers are lost, so retries meet "already exists" and must verify.
		{name: "localcloud restarted mid-apply", faults: core.FaultConfig{LatencyMs: 15},
			restartAt: []int64{3, 10}, restartPause: 150 * time.Millisecond},
		{name: "all at once", faults: core.FaultConfig{ThrottleRate: .2, ErrorRate: .05, TimeoutRate: .05, TimeoutHoldMs: 20, LatencyMs: 5, Seed: 104},
			restartAt: []int64{6}, restartPause: 100 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, localcloud.Options{Members: 30, Folders: 3, Pending: 2, Invited: 3, Seed: 21})
			pol := e.policy(t, e.policyDoc("", true))
			rec := reconcile.ForSession(e.sess, pol, nil, e.log)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			e.srv.World.Faults.Set(tc.faults)
			r := restartOnWrites(e, tc.restartPause, tc.restartAt...)
			converged := false
			var reports []string
			for run := 1; run <= maxRuns && !converged; run++ {
				rep, err := rec.Run(ctx, reconcile.Scope{}, false)
				if err != nil {
					r.done(t)
					t.Fatalf("run %d: %v", run, err)
				}
				if run == 1 && len(tc.restartAt) > 0 && r.begun.Load() == 0 {
					r.done(t)
					t.Fatalf("run 1 ended (%d write calls) before localcloud was restarted: the restart was not mid-apply",
						e.srv.World.Stats.WriteCalls())
				}
				converged = rep.Converged()
				for _, res := range rep.Results {
					if res.Outcome != reconcile.Applied {
						t.Logf("run %d: %s %s: %s %s", run, res.Kind, res.Outcome, res.Error, res.Cause)
					}
				}
				reports = append(reports, fmt.Sprintf("run %d: planned %d applied %d failed %d skipped %d problems %d",
					run, rep.Summary.Planned, rep.Summary.Applied, rep.Summary.Failed, rep.Summary.Skipped, rep.Summary.Problems))
				if !converged && run == maxRuns {
					t.Logf("last report:\n%s", rep.Table())
				}
			}
			fired := r.done(t)
			t.Logf("%s (restarts: %d)", strings.Join(reports, "; "), fired)
			if !converged {
				t.Fatalf("not converged after %d runs", maxRuns)
			}
			if fired != len(tc.restartAt) {
				t.Fatalf("%d restarts, want %d", fired, len(tc.restartAt))
			}
			if tc.check != nil {
				calls, errs, throttled := e.srv.World.Stats.Sum("", "")
				if err := tc.check(calls, errs, throttled); err != nil {
					t.Fatalf("the fault did not hit the product's calls: %v", err)
				}
			}

			// Faults off: nothing left to do, nothing written, nobody lost.
			e.srv.World.Faults.Set(core.FaultConfig{})
			dry, err := rec.Run(ctx, reconcile.Scope{}, true)
			if err != nil {
				t.Fatal(err)
			}
			if len(dry.Plan) != 0 || !dry.Converged() {
				t.Fatalf("dry run after convergence plans %d action(s):\n%s", len(dry.Plan), dry.Table())
			}
			e.srv.World.Stats.Reset()
			again, err := rec.Run(ctx, reconcile.Scope{}, false)
			if err != nil {
				t.Fatal(err)
			}
			if w := e.srv.World.Stats.WriteCalls(); w != 0 || len(again.Plan) != 0 {
				t.Fatalf("converged run made %d write call(s), planned %d:\n%s", w, len(again.Plan), again.Table())
			}
			active := e.activeMembers()
			if len(active) != 28 {
				t.Fatalf("%d active members, want 28 (30 seeded, 2 pending)", len(active))
			}
			e.assertCollected(t, active)
		})
	}
}

// The application's paths (event, timer, API) under faults: each invocation reads and writes its
// state (policy, run markers, dedupe markers, the Log Audit lease) in the state bucket as well as
// calling the cloud, and every one of those calls must ride out throttling, 5xx and dropped
// connections like the reconciler's own calls do.
func TestFaultMatrixAppPathsSucceed(t *testing.T) {
	cases := []struct {
		name   string
		faults core.FaultConfig
	}{
		{"30% throttling", core.FaultConfig{ThrottleRate: .3, Seed: 201}},
		{"10% 5xx", core.FaultConfig{ErrorRate: .1, Seed: 202}},
		{"10% timeouts", core.FaultConfig{TimeoutRate: .1, TimeoutHoldMs: 20, Seed: 203}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, localcloud.Options{Members: 4, Seed: 22}, noLogAuditLimit)
			a := e.newApp()
			api := e.api(t, a)
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			if _, err := a.Setup(ctx, []byte(e.policyDoc("", false))); err != nil {
				t.Fatal(err)
			}
			evs := e.subscribe(t, "CreateResourceAccount")
			rm := e.rm(t)
			var joined []string
			for i := 0; i < 6; i++ {
				req := resourcemanager.CreateCreateResourceAccountRequest()
				req.DisplayName, req.AccountNamePrefix = fmt.Sprintf("joiner-%d", i), fmt.Sprintf("joiner-%d", i)
				resp, err := rm.CreateResourceAccount(req)
				if err != nil {
					t.Fatal(err)
				}
				joined = append(joined, resp.Account.AccountId)
			}
			published := evs.wait(t, len(joined))

			e.srv.World.Faults.Set(tc.faults)
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for _, ce := range published {
				wg.Add(1)
				go func(ce core.CloudEvent) {
					defer wg.Done()
					if res, err := a.HandleMembershipEvent(ctx, payload(t, ce)); err != nil {
						errs <- fmt.Errorf("event for %v: %+v: %v", res.Members, res, err)
					}
				}(ce)
			}
			for _, id := range joined[:2] {
				wg.Add(1)
				go func(id string) {
					defer wg.Done()
					if r, err := call(api.URL, "POST", "/v1/members/"+id+"/enroll", "", true); err != nil || r.Status != 200 {
						errs <- fmt.Errorf("enroll %s: %v %d %.300s", id, err, r.Status, r.Raw)
					}
				}(id)
			}
			for _, mode := range []string{reconcile.ModeFull, reconcile.ModeIncremental} {
				res, err := a.HandleTimer(ctx, []byte(fmt.Sprintf(`{"payload":"{\"mode\":\"%s\"}"}`, mode)))
				if err != nil || res.Summary.Failed > 0 {
					errs <- fmt.Errorf("timer %s: %+v: %v", mode, res.Summary, err)
				}
			}
			if r, err := call(api.URL, "GET", "/v1/plan", "", false); err != nil || r.Status != 200 {
				errs <- fmt.Errorf("plan: %v %d %.300s", err, r.Status, r.Raw)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if _, failed, _ := e.srv.World.Stats.Sum("", ""); failed == 0 {
				t.Fatal("no call failed: the faults did not hit")
			}

			e.srv.World.Faults.Set(core.FaultConfig{})
			e.assertCollected(t, e.activeMembers())
			plan, err := a.Plan(ctx)
			if err != nil {
				t.Fatalf("final dry run: %v", err)
			}
			if len(plan.Plan) != 0 {
				t.Fatalf("final dry run plans %d action(s):\n%s", len(plan.Plan), plan.Table())
			}
		})
	}
}
