package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/archive"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// memberPlanMaxAge is how old a Log Audit document the event path may plan on.
const memberPlanMaxAge = 2 * time.Second

// Scope says what a run looks at.
type Scope struct {
	// Member limits the run to one account (the event path); empty means the whole directory.
	Member string `json:"member,omitempty"`
	// Incremental runs look only at Members (those changed since the last run) and, when
	// Organization is set, re-read the bucket and Logstores too.
	Incremental  bool     `json:"incremental,omitempty"`
	Members      []string `json:"members,omitempty"`
	Organization bool     `json:"organization,omitempty"`
}

// Whole reports whether the scope is the entire directory.
func (s Scope) Whole() bool { return s.Member == "" && !s.Incremental }

// orgResources reports whether the run reads the bucket and Logstores.
func (s Scope) orgResources() bool { return s.Whole() || s.Organization }

// Problem is something that could not be observed; nothing is planned for it this run.
type Problem struct {
	Control  Control `json:"control"`
	Resource string  `json:"resource"`
	Error    string  `json:"error"`
	// Member is set when the problem concerns one member alone (its trail could not be read).
	Member string `json:"member,omitempty"`
}

// Observed is the cloud as one run saw it.
type Observed struct {
	At    time.Time `json:"at"`
	Scope Scope     `json:"scope"`
	// Members are the directory's members in scope (sorted by id).
	Members []directory.Member `json:"members"`
	// Departed are accounts in scope that are no longer members (removed, deleted, unknown).
	Departed []string `json:"departed,omitempty"`

	Trail            trail.State            `json:"trail"`
	ProjectExists    bool                   `json:"projectExists"`
	TrailLogstore    logstore.LogstoreState `json:"trailLogstore"`
	BackfillLogstore logstore.LogstoreState `json:"backfillLogstore"`
	InnerLogstore    logstore.LogstoreState `json:"innerLogstore"`
	Bucket           archive.BucketState    `json:"bucket"`
	LogAudit         logaudit.Config        `json:"logAudit"`
	LogAuditExists   bool                   `json:"logAuditExists"`
	// MemberTrails are the members' own trails (memberTrails.enabled) by account id; a member
	// that should have one and is missing here could not be read (see Problems).
	MemberTrails map[string]MemberTrail `json:"memberTrails,omitempty"`
	// DeliveryRole is the central role member trails deliver through, read by runs that read
	// the organization's resources.
	DeliveryRole trail.RoleState `json:"deliveryRole"`

	Problems []Problem `json:"problems,omitempty"`
	// observedOK records which parts were read successfully, so the planner never acts on a guess.
	observedOK map[string]bool
}

// OK reports whether a part ("directory", "trail", "project", "trailLogstore", "backfillLogstore",
// "bucket", "logaudit", "deliveryRole") was observed.
func (o *Observed) OK(part string) bool { return o.observedOK[part] }

// Observe reads everything the plan needs for scope, concurrently. Failures become Problems.
func (r *Reconciler) Observe(ctx context.Context, scope Scope) *Observed {
	p := r.Policy
	obs := &Observed{At: r.now(), Scope: scope, observedOK: map[string]bool{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	part := func(name string, control Control, resource string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				obs.Problems = append(obs.Problems, Problem{Control: control, Resource: resource, Error: err.Error()})
				return
			}
			obs.observedOK[name] = true
		}()
	}

	part("directory", ControlLogAudit, "directory", func() error {
		members, departed, err := r.observeMembers(ctx, scope)
		if err != nil {
			return err
		}
		mu.Lock()
		obs.Members, obs.Departed = members, departed
		mu.Unlock()
		if p.MemberTrails.Enabled {
			// Members' trails need the member list; they are read while the other parts run.
			trails, problems := r.observeMemberTrails(ctx, scope, members)
			mu.Lock()
			obs.MemberTrails = trails
			obs.Problems = append(obs.Problems, problems...)
			mu.Unlock()
		}
		return nil
	})
	part("trail", ControlTrail, "trail/"+p.Trail.Name, func() error {
		st, err := r.Trails.Observe(ctx, p.Trail.Name)
		mu.Lock()
		obs.Trail = st
		mu.Unlock()
		return err
	})
	if p.LogAudit.Enabled {
		part("logaudit", ControlLogAudit, "logaudit/"+p.Central.AccountID, func() error {
			// The event path may plan on a document read or verified in the last two seconds: apply
			// re-reads under the lock anyway, and the next incremental run re-checks what it missed.
			var maxAge time.Duration
			if scope.Member != "" {
				maxAge = memberPlanMaxAge
			}
			cfg, ok, err := r.laObserved.do(ctx, maxAge, r.LogAudit.Observe)
			mu.Lock()
			obs.LogAudit, obs.LogAuditExists = cfg, ok
			mu.Unlock()
			return err
		})
	}
	// The event path reads only what one member can change; organization resources are the timer's.
	if scope.orgResources() {
		if p.MemberTrails.Enabled && r.deliveryRoleManaged() && r.MemberTrails != nil {
			part("deliveryRole", ControlMemberTrail, "ram/role/"+r.deliveryRoleName(), func() error {
				st, err := r.MemberTrails.ObserveDeliveryRole(ctx, r.deliveryRoleName())
				mu.Lock()
				obs.DeliveryRole = st
				mu.Unlock()
				return err
			})
		}
		if r.slsInCentral() {
			part("project", ControlRetention, "sls/"+p.Destinations.SLS.Project, func() error {
				ok, err := r.Logstores.ProjectExists(ctx, p.Destinations.SLS.Project)
				mu.Lock()
				obs.ProjectExists = ok
				mu.Unlock()
				return err
			})
			part("trailLogstore", ControlRetention, "sls/"+p.Destinations.SLS.Project+"/"+p.TrailLogstore(), func() error {
				st, err := r.Logstores.ObserveLogstore(ctx, p.Destinations.SLS.Project, p.TrailLogstore())
				mu.Lock()
				obs.TrailLogstore = st
				mu.Unlock()
				return err
			})
		}
		if r.backfillLogstoreWanted() {
			part("backfillLogstore", ControlBackfill, "sls/"+p.Backfill.Project+"/"+p.Backfill.Logstore, func() error {
				st, err := r.Logstores.ObserveLogstore(ctx, p.Backfill.Project, p.Backfill.Logstore)
				mu.Lock()
				obs.BackfillLogstore = st
				mu.Unlock()
				return err
			})
		}
		if it := p.InnerActionTrail; it.Enabled && it.Project != "" {
			part("innerLogstore", ControlRetention, "sls/"+it.Project+"/"+p.InnerTrailLogstore(), func() error {
				st, err := r.Logstores.ObserveLogstore(ctx, it.Project, p.InnerTrailLogstore())
				mu.Lock()
				obs.InnerLogstore = st
				mu.Unlock()
				return err
			})
		}
		if p.Destinations.OSS.Enabled {
			part("bucket", ControlArchive, "oss/"+p.Destinations.OSS.Bucket, func() error {
				st, err := r.Archive.Observe(ctx, p.Destinations.OSS.Bucket)
				mu.Lock()
				obs.Bucket = st
				mu.Unlock()
				return err
			})
		}
	}
	wg.Wait()
	sort.Slice(obs.Problems, func(i, j int) bool { return obs.Problems[i].Resource < obs.Problems[j].Resource })
	return obs
}

// observeMembers lists the directory (whole scope) or re-reads the accounts in scope: the event
// path never trusts an event's claims about a member.
func (r *Reconciler) observeMembers(ctx context.Context, scope Scope) ([]directory.Member, []string, error) {
	if scope.Whole() {
		ms, err := r.Directory.Members(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list members: %w", err)
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].AccountID < ms[j].AccountID })
		return ms, nil, nil
	}
	ids := scope.Members
	if scope.Member != "" {
		ids = append([]string{scope.Member}, ids...)
	}
	var members []directory.Member
	var departed []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		m, err := r.Directory.Member(ctx, id)
		switch {
		case errors.Is(err, directory.ErrNotMember):
			departed = append(departed, id)
		case err != nil:
			return nil, nil, fmt.Errorf("read member %s: %w", id, err)
		default:
			members = append(members, m)
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].AccountID < members[j].AccountID })
	sort.Strings(departed)
	return members, departed, nil
}
