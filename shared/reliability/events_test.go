package reliability

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/app"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
)

// membershipNames are the Resource Manager records the member-events function is subscribed to.
var membershipNames = []string{"CreateResourceAccount", "MoveAccount", "DeleteAccount", "RemoveCloudAccount",
	"PromoteResourceAccount", "TagResources", "UntagResources"}

// directoryScript makes real membership changes through the Resource Manager API; localcloud's
// ActionTrail records each one and EventBridge publishes it as a CloudEvent.
type directoryScript struct {
	rm  *resourcemanager.Client
	evs *events
	// n counts the changes made, which is the number of CloudEvents to wait for.
	n          int
	quarantine string
}

func (s *directoryScript) create(t *testing.T, name string) string {
	t.Helper()
	req := resourcemanager.CreateCreateResourceAccountRequest()
	req.DisplayName, req.AccountNamePrefix = name, name
	resp, err := s.rm.CreateResourceAccount(req)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	s.n++
	return resp.Account.AccountId
}

func (s *directoryScript) move(t *testing.T, id, folder string) {
	t.Helper()
	req := resourcemanager.CreateMoveAccountRequest()
	req.AccountId, req.DestinationFolderId = id, folder
	if _, err := s.rm.MoveAccount(req); err != nil {
		t.Fatalf("move %s: %v", id, err)
	}
	s.n++
}

func (s *directoryScript) delete(t *testing.T, id string) {
	t.Helper()
	req := resourcemanager.CreateDeleteAccountRequest()
	req.AccountId = id
	if _, err := s.rm.DeleteAccount(req); err != nil {
		t.Fatalf("delete %s: %v", id, err)
	}
	s.n++
}

func (s *directoryScript) promote(t *testing.T, id, email string) {
	t.Helper()
	req := resourcemanager.CreatePromoteResourceAccountRequest()
	req.AccountId, req.Email = id, email
	if _, err := s.rm.PromoteResourceAccount(req); err != nil {
		t.Fatalf("promote %s: %v", id, err)
	}
	s.n++
}

func (s *directoryScript) remove(t *testing.T, id string) {
	t.Helper()
	req := resourcemanager.CreateRemoveCloudAccountRequest()
	req.AccountId = id
	if _, err := s.rm.RemoveCloudAccount(req); err != nil {
		t.Fatalf("remove %s: %v", id, err)
	}
	s.n++
}

func (s *directoryScript) tag(t *testing.T, id, key, value string) {
	t.Helper()
	req := resourcemanager.CreateTagResourcesRequest()
	req.ResourceType, req.ResourceId = "Account", &[]string{id}
	req.Tag = &[]resourcemanager.TagResourcesTag{{Key: key, Value: value}}
	if _, err := s.rm.TagResources(req); err != nil {
		t.Fatalf("tag %s: %v", id, err)
	}
	s.n++
}

// eventsEnv is a small directory, set up through the app with a quarantine folder the policy excludes.
func eventsEnv(t *testing.T, seed int64) (*env, *app.App, *directoryScript) {
	t.Helper()
	e := start(t, localcloud.Options{Members: 6, Folders: 2, Invited: 2, Seed: seed}, noLogAuditLimit)
	rm := e.rm(t)
	req := resourcemanager.CreateCreateFolderRequest()
	req.FolderName, req.ParentFolderId = "Quarantine", e.root()
	folder, err := rm.CreateFolder(req)
	if err != nil {
		t.Fatal(err)
	}
	a := e.newApp()
	rep, err := a.Setup(context.Background(), []byte(e.policyDoc(folder.Folder.FolderId, false)))
	if err != nil || !rep.Converged() {
		t.Fatalf("setup: %v\n%s", err, table(rep))
	}
	e.assertCollected(t, e.activeMembers())
	return e, a, &directoryScript{rm: rm, evs: e.subscribe(t, membershipNames...), quarantine: folder.Folder.FolderId}
}

// seededOf returns the seeded members of one join method ("created" or "invited").
func seededOf(e *env, join string) []string {
	var out []string
	for _, m := range e.srv.Seeded.Members {
		if m.JoinMethod == join {
			out = append(out, m.AccountID)
		}
	}
	return out
}

// Duplicated, reordered and stale CloudEvents are harmless: whatever the order and however many
// times each is delivered, the event path re-reads every member and Log Audit ends up collecting
// exactly the selected active members.
func TestMembershipEventsDuplicatedReorderedAndStaleAreHarmless(t *testing.T) {
	orders := []struct {
		name string
		// live delivers each change's events as soon as they are published (before the next change).
		live bool
		// deliveries orders the published events (index order = publication order) after the script.
		deliveries func(n int, r *rand.Rand) []int
		// concurrent delivers the late deliveries all at once, each from its own goroutine.
		concurrent bool
	}{
		{name: "each twice in a row", deliveries: func(n int, _ *rand.Rand) []int {
			var out []int
			for i := 0; i < n; i++ {
				out = append(out, i, i)
			}
			return out
		}},
		{name: "reversed: every removal before its creation, then again in order", deliveries: func(n int, _ *rand.Rand) []int {
			var out []int
			for i := n - 1; i >= 0; i-- {
				out = append(out, i)
			}
			for i := 0; i < n; i++ {
				out = append(out, i)
			}
			return out
		}},
		{name: "shuffled, each twice", deliveries: func(n int, r *rand.Rand) []int {
			out := make([]int, 0, 2*n)
			for i := 0; i < n; i++ {
				out = append(out, i, i)
			}
			r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			return out
		}},
		// Handled as they happen (so a created member is first collected, then detached), then every
		// event again, late and shuffled: a stale CreateResourceAccount must not bring back a member
		// that has since left.
		{name: "live, then all again stale", live: true, deliveries: func(n int, r *rand.Rand) []int {
			return r.Perm(n)
		}},
		{name: "each twice, all at once", concurrent: true, deliveries: func(n int, r *rand.Rand) []int {
			out := make([]int, 0, 2*n)
			for i := 0; i < n; i++ {
				out = append(out, i, i)
			}
			r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			return out
		}},
	}
	for i, tc := range orders {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, a, s := eventsEnv(t, 40+int64(i))
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			handled := 0
			first := map[string]int{} // event id -> deliveries that were not reported duplicate
			deliver := func(ce core.CloudEvent) {
				t.Helper()
				res, err := a.HandleMembershipEvent(ctx, payload(t, ce))
				if err != nil {
					t.Errorf("%s %s (%s): %v", ce.Data.EventName, ce.ID, res.Action, err)
					return
				}
				if res.Action == "ignored" {
					t.Errorf("%s %s ignored: %s", ce.Data.EventName, ce.ID, res.Reason)
				}
				if res.Action != "duplicate" {
					first[ce.ID]++
				}
			}
			step := func() {
				if !tc.live {
					return
				}
				for _, ce := range s.evs.wait(t, s.n)[handled:] {
					deliver(ce)
				}
				handled = s.n
			}

			collected := func(id string, want bool) {
				t.Helper()
				if !tc.live {
					return
				}
				if _, uids := lclogaudit.Members(e.srv.World, e.info.ManagementAccountID); contains(uids, id) != want {
					t.Fatalf("live: member %s collected=%v, want %v", id, !want, want)
				}
			}
			created, invited := seededOf(e, "created"), seededOf(e, "invited")
			stays, left, exempt := created[0], invited[0], created[1]
			kept := s.create(t, "kept")
			step()
			quarantined := s.create(t, "quarantined")
			step()
			s.move(t, quarantined, s.quarantine)
			step()
			deleted := s.create(t, "deleted")
			step()
			collected(deleted, true) // live: collected first, so its stale creation later must not bring it back
			s.delete(t, deleted)
			step()
			collected(deleted, false)
			promoted := s.create(t, "promoted")
			step()
			s.promote(t, promoted, "promoted@example.com")
			step()
			s.remove(t, promoted)
			step()
			s.remove(t, left)
			step()
			s.move(t, stays, s.quarantine) // out of the selection and back: selected in the end
			step()
			s.move(t, stays, e.root())
			step()
			s.tag(t, exempt, "audit", "exempt")
			step()

			published := s.evs.wait(t, s.n)
			if len(published) != s.n {
				t.Fatalf("%d CloudEvents for %d changes", len(published), s.n)
			}
			order := tc.deliveries(len(published), rand.New(rand.NewSource(int64(7+i))))
			if tc.concurrent {
				var mu sync.Mutex
				var wg sync.WaitGroup
				for _, k := range order {
					wg.Add(1)
					go func(ce core.CloudEvent, body []byte) {
						defer wg.Done()
						res, err := a.HandleMembershipEvent(ctx, body)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							t.Errorf("%s %s: %v", ce.Data.EventName, ce.ID, err)
						} else if res.Action != "duplicate" {
							first[ce.ID]++
						}
					}(published[k], payload(t, published[k]))
				}
				wg.Wait()
			} else {
				for _, k := range order {
					deliver(published[k])
				}
			}

			want := without(e.activeMembers(), exempt, quarantined)
			if !contains(want, stays) || !contains(want, kept) || contains(want, left) || contains(want, deleted) || contains(want, promoted) {
				t.Fatalf("the script did not leave the directory as planned: %v", want)
			}
			e.assertCollected(t, want)
			// Deduplication: however they race, every event id is handled as new exactly once.
			for _, ce := range published {
				if first[ce.ID] != 1 {
					t.Errorf("%s %s handled as new %d times, want 1", ce.Data.EventName, ce.ID, first[ce.ID])
				}
			}
			// And the timer's full scan agrees there is nothing left to do.
			plan, err := a.Plan(ctx)
			if err != nil || len(plan.Plan) != 0 {
				t.Fatalf("dry run after the events: %v\n%s", err, table(plan))
			}
		})
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// A member that left the directory while its event was lost or is still on its way stays in the
// Log Audit list until something detaches it. Meanwhile, another member's enrolment must still
// work: the event path's write must not carry the departed member into a document Log Audit
// refuses ("account ... is not a member of the resource directory").
func TestDepartedMemberStillListedDoesNotBlockEnrolment(t *testing.T) {
	e, a, s := eventsEnv(t, 60)
	left := seededOf(e, "invited")[0]
	s.remove(t, left) // its RemoveCloudAccount event is never delivered
	newcomer := s.create(t, "newcomer")
	published := s.evs.wait(t, s.n)
	var create core.CloudEvent
	for _, ce := range published {
		if ce.Data.EventName == "CreateResourceAccount" {
			create = ce
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.HandleMembershipEvent(ctx, payload(t, create))
	if err != nil {
		t.Errorf("enrolment of %s while departed %s is still listed: %+v: %v", newcomer, left, res, err)
	}
	_, collected := lclogaudit.Members(e.srv.World, e.info.ManagementAccountID)
	if !contains(collected, newcomer) {
		t.Errorf("new member %s not collected", newcomer)
	}
}
