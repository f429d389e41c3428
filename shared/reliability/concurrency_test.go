package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// The timer (full and incremental), 30 membership events and API calls (enrol, dry-run plan) all
// run at once while 30 members join: every writer of the Log Audit document goes through its own
// invocation (a fresh reconciler each, as in FC), so only the state lease and the read-modify-write
// keep them from losing each other's members. Afterwards every active member is collected, no run
// failed, and a full dry run plans nothing.
func TestTimerEventsAndAPIAtOnceLoseNothing(t *testing.T) {
	const joiners, perJoiner = 3, 10
	e := start(t, localcloud.Options{Members: 5, Folders: 2, Seed: 70}, noLogAuditLimit)
	a := e.newApp()
	api := e.api(t, a)
	if r, err := call(api.URL, "POST", "/v1/setup", e.policyDoc("", false), true); err != nil || r.Status != 200 {
		t.Fatalf("setup: %v %d %s", err, r.Status, r.Raw)
	}
	evs := e.subscribe(t, "CreateResourceAccount")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	e.srv.World.Stats.Reset()

	var wg sync.WaitGroup
	errs := make(chan error, 1024)
	fail := func(format string, args ...any) { errs <- fmt.Errorf(format, args...) }
	joined := make(chan string, joiners*perJoiner)
	var joining sync.WaitGroup

	// Members join, three at a time, through the Resource Manager API.
	for j := 0; j < joiners; j++ {
		joining.Add(1)
		wg.Add(1)
		go func(j int) {
			defer wg.Done()
			defer joining.Done()
			rm := e.rm(t)
			for i := 0; i < perJoiner; i++ {
				req := resourcemanager.CreateCreateResourceAccountRequest()
				req.DisplayName = fmt.Sprintf("joiner-%d-%02d", j, i)
				req.AccountNamePrefix = req.DisplayName
				resp, err := rm.CreateResourceAccount(req)
				if err != nil {
					fail("create %s: %v", req.DisplayName, err)
					continue
				}
				joined <- resp.Account.AccountId
				time.Sleep(5 * time.Millisecond)
			}
		}(j)
	}
	go func() {
		joining.Wait()
		close(joined)
	}()

	// The member-events function: every CloudEvent handled as it arrives, concurrently.
	wg.Add(1)
	go func() {
		defer wg.Done()
		var handlers sync.WaitGroup
		defer handlers.Wait()
		for n := 1; n <= joiners*perJoiner; n++ {
			list, err := evs.next(ctx, n)
			if err != nil {
				fail("events: %v", err)
				return
			}
			body, _ := json.Marshal(list[n-1])
			handlers.Add(1)
			go func(ce core.CloudEvent, body []byte) {
				defer handlers.Done()
				res, err := a.HandleMembershipEvent(ctx, body)
				if err != nil {
					fail("event %s for %v: %+v: %v", ce.ID, res.Members, res, err)
				}
			}(list[n-1], body)
		}
	}()

	// The timer: full and incremental runs back to back until the joining is over, then one more.
	wg.Add(1)
	go func() {
		defer wg.Done()
		timerDone := make(chan struct{})
		go func() { joining.Wait(); close(timerDone) }()
		for i := 0; ; i++ {
			mode := reconcile.ModeFull
			if i%2 == 1 {
				mode = reconcile.ModeIncremental
			}
			res, err := a.HandleTimer(ctx, []byte(fmt.Sprintf(`{"triggerName":"reconcile","payload":"{\"mode\":\"%s\"}"}`, mode)))
			switch {
			case err != nil:
				fail("timer %s: %v", mode, err)
			case res.Summary.Failed > 0 || res.Summary.Skipped > 0:
				fail("timer %s: %+v", mode, res.Summary)
			}
			select {
			case <-timerDone:
				if i > 0 {
					return
				}
			default:
			}
		}
	}()

	// The API: every joiner enrolled by hand as well, and dry runs in between.
	wg.Add(1)
	go func() {
		defer wg.Done()
		var calls sync.WaitGroup
		defer calls.Wait()
		for id := range joined {
			calls.Add(1)
			go func(id string) {
				defer calls.Done()
				r, err := call(api.URL, "POST", "/v1/members/"+id+"/enroll", "", true)
				if err != nil || r.Status != 200 {
					fail("enroll %s: %v %d %s", id, err, r.Status, r.Raw)
					return
				}
				if s, _ := r.Body["summary"].(map[string]any); s["failed"] != float64(0) || s["skipped"] != float64(0) {
					fail("enroll %s: summary %v", id, s)
				}
			}(id)
			if r, err := call(api.URL, "GET", "/v1/plan", "", false); err != nil || r.Status != 200 {
				fail("plan: %v %d %s", err, r.Status, r.Raw)
			}
		}
	}()

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	writes, _, _ := e.srv.World.Stats.Sum("Sls", "AnalyzeAppLog")
	t.Logf("%d Log Audit writes for %d joiners (events, enrolments and timer runs)", writes, joiners*perJoiner)

	active := e.activeMembers()
	if len(active) != 5+joiners*perJoiner {
		t.Fatalf("%d active members, want %d", len(active), 5+joiners*perJoiner)
	}
	e.assertCollected(t, active)
	plan, err := a.Plan(ctx)
	if err != nil || len(plan.Plan) != 0 {
		t.Fatalf("final dry run: %v\n%s", err, table(plan))
	}
}
