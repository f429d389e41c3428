package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/policy"
)

// LogAuditChange is what one Log Audit write must achieve. Apply re-reads the document and applies
// the change to what it finds, so a member added by a concurrent writer is never dropped.
type LogAuditChange struct {
	Mode     string            `json:"mode"`
	RDType   string            `json:"rdType,omitempty"`
	Add      []string          `json:"add,omitempty"`
	Remove   []string          `json:"remove,omitempty"`
	Switches map[string]string `json:"switches,omitempty"`
}

// DesiredSwitches are the VariableMap product keys the policy controls.
func (r *Reconciler) DesiredSwitches() map[string]string {
	products := r.Policy.LogAudit.Products
	out := map[string]string{}
	for _, info := range policy.LogAuditProducts() {
		pr, listed := products[info.Name]
		on := listed && pr.Enabled
		if info.EnabledKey != "" {
			out[info.EnabledKey] = strconv.FormatBool(on)
		}
		for _, l := range info.Logs {
			out["sas_"+l+"_enabled"] = strconv.FormatBool(on && slices.Contains(pr.Logs, l))
		}
		if on && info.TTLKey != "" && pr.TTLDays > 0 {
			out[info.TTLKey] = strconv.Itoa(pr.TTLDays)
		}
		if on && info.CollectionPolicyKey != "" && pr.CollectionPolicy != "" {
			out[info.CollectionPolicyKey] = pr.CollectionPolicy
		}
	}
	return out
}

func (r *Reconciler) planLogAudit(pl *Plan, findings *[]Finding, obs *Observed) {
	p := r.Policy
	cur := obs.LogAudit
	res := "logaudit/" + p.Central.AccountID
	change := LogAuditChange{Switches: map[string]string{}}
	var drift []string
	if !obs.LogAuditExists {
		drift = append(drift, "Log Audit is not configured")
	}
	current := map[string]bool{}
	for _, m := range cur.Members {
		current[m] = true
	}

	switch p.LogAudit.Mode {
	case policy.ModeResourceDirectory:
		change.Mode, change.RDType = logaudit.ModeResourceDirectory, p.LogAudit.ResourceDirectory.Members
		if cur.Mode == logaudit.ModeCustomAuthentication && len(cur.Members) > 0 {
			drift = append(drift, fmt.Sprintf("resource directory mode overwrites the custom authentication configuration of %d member(s)", len(cur.Members)))
			current = map[string]bool{} // those members are not resource directory members of the list
		} else if obs.LogAuditExists && (cur.Mode != change.Mode || cur.RDType != change.RDType) {
			drift = append(drift, fmt.Sprintf("mode is %s/%s, policy wants %s/%s", orNone(cur.Mode), orNone(cur.RDType), change.Mode, change.RDType))
		}
		if change.RDType == policy.MembersCustom {
			change.Add, change.Remove = r.customMembersDelta(findings, obs, current)
		}
	case policy.ModeCustomAuthentication:
		change.Mode = logaudit.ModeCustomAuthentication
		if cur.Mode == logaudit.ModeResourceDirectory && (cur.RDType == policy.MembersAll || len(cur.Members) > 0) {
			*findings = append(*findings, Finding{Control: ControlLogAudit, Resource: res,
				Message: "Log Audit is in resource directory mode: switching to custom authentication needs the configuration cleared first " +
					"(set resource directory mode to custom with no members, e.g. POST /v1/log-audit/clear); nothing was changed"})
			return
		}
		if cur.Mode != change.Mode && obs.LogAuditExists {
			drift = append(drift, fmt.Sprintf("mode is %s, policy wants %s", orNone(cur.Mode), change.Mode))
		}
		for _, id := range p.LogAudit.CustomAuthentication.Accounts {
			if !current[id] {
				change.Add = append(change.Add, id)
			}
		}
		// Members authorized at run time (AccessKey pair) are not in the policy: never removed here.
	}
	if len(change.Add) > 0 {
		drift = append(drift, fmt.Sprintf("%d member(s) not collected", len(change.Add)))
	}
	if len(change.Remove) > 0 {
		drift = append(drift, fmt.Sprintf("%d member(s) collected that the policy excludes or that left the directory", len(change.Remove)))
	}
	if obs.Scope.orgResources() {
		var changed []string
		for k, v := range r.DesiredSwitches() {
			if cur.Switches[k] != v {
				change.Switches[k] = v
				changed = append(changed, fmt.Sprintf("%s=%q (was %q)", k, v, cur.Switches[k]))
			}
		}
		sort.Strings(changed)
		if len(changed) > 0 {
			drift = append(drift, "product switches: "+strings.Join(changed, ", "))
		}
	}
	if len(drift) == 0 {
		return
	}
	members := append(append([]string{}, change.Add...), change.Remove...)
	pl.Add(Action{ID: idLogAudit, Kind: "WriteLogAudit", Control: ControlLogAudit, Resource: res, Members: members,
		Drift: strings.Join(drift, "; "), apply: func(ctx context.Context) error { return r.ApplyLogAudit(ctx, change) }})
}

// customMembersDelta compares the selected active members with the list (resource directory custom mode).
func (r *Reconciler) customMembersDelta(findings *[]Finding, obs *Observed, current map[string]bool) (add, remove []string) {
	detach := r.Policy.Offboarding.OnRemove != policy.OnRemoveReport
	inScope := map[string]bool{}
	for _, m := range obs.Members {
		inScope[m.AccountID] = true
		selected := r.memberSelected(m)
		switch {
		case m.Active() && selected && !current[m.AccountID]:
			add = append(add, m.AccountID)
		case !selected && current[m.AccountID]:
			remove = append(remove, m.AccountID)
		}
	}
	departed := obs.Departed
	if obs.Scope.Whole() {
		departed = nil
		for id := range current {
			if !inScope[id] {
				departed = append(departed, id)
			}
		}
		sort.Strings(departed)
	}
	for _, id := range departed {
		if !current[id] {
			continue
		}
		if detach {
			remove = append(remove, id)
		} else {
			*findings = append(*findings, Finding{Control: ControlLogAudit, Resource: "member/" + id, Members: []string{id},
				Message: "left the directory but is still in the Log Audit list (offboarding.onRemove: report)"})
		}
	}
	sort.Strings(add)
	sort.Strings(remove)
	return add, remove
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ApplyLogAudit writes a change under the Log Audit lock: read, modify, write, then read back to
// verify, because the document has no compare-and-swap and a writer outside the lock may race.
// Changes arriving while a write is under way are merged into the next one (group commit): a burst
// of 50 enrolments makes a couple of writes, not 50, against an API limited to a few calls a second.
func (r *Reconciler) ApplyLogAudit(ctx context.Context, change LogAuditChange) error {
	req := &laRequest{change: change, done: make(chan error, 1)}
	b := &r.laBatch
	b.mu.Lock()
	b.pending = append(b.pending, req)
	leader := !b.running
	b.running = true
	b.mu.Unlock()
	if leader {
		// The leader's caller may give up; the batch it carries must still be written.
		go r.drainLogAudit(context.WithoutCancel(ctx))
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type laRequest struct {
	change LogAuditChange
	done   chan error
}

type laBatcher struct {
	mu      sync.Mutex
	pending []*laRequest
	running bool
}

func (r *Reconciler) drainLogAudit(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	b := &r.laBatch
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		// Changes for different modes cannot share a write; the policy makes them rare.
		for len(batch) > 0 {
			merged, group, rest := mergeChanges(batch)
			err := r.writeLogAudit(ctx, merged)
			for _, req := range group {
				req.done <- err
			}
			batch = rest
		}
	}
}

// mergeChanges folds the requests with the first one's mode into one change, in arrival order.
func mergeChanges(batch []*laRequest) (LogAuditChange, []*laRequest, []*laRequest) {
	first := batch[0].change
	merged := LogAuditChange{Mode: first.Mode, RDType: first.RDType, Switches: map[string]string{}}
	add, remove := map[string]bool{}, map[string]bool{}
	var group, rest []*laRequest
	for _, req := range batch {
		c := req.change
		if c.Mode != first.Mode || c.RDType != first.RDType {
			rest = append(rest, req)
			continue
		}
		group = append(group, req)
		for _, m := range c.Add {
			add[m], remove[m] = true, false
		}
		for _, m := range c.Remove {
			remove[m], add[m] = true, false
		}
		for k, v := range c.Switches {
			merged.Switches[k] = v
		}
	}
	for m, ok := range add {
		if ok {
			merged.Add = append(merged.Add, m)
		}
	}
	for m, ok := range remove {
		if ok {
			merged.Remove = append(merged.Remove, m)
		}
	}
	sort.Strings(merged.Add)
	sort.Strings(merged.Remove)
	return merged, group, rest
}

func (r *Reconciler) writeLogAudit(ctx context.Context, change LogAuditChange) error {
	unlock, err := r.locker().Lock(ctx, "logaudit/"+r.Policy.Central.AccountID)
	if err != nil {
		return fmt.Errorf("log audit lock: %w", err)
	}
	defer unlock()
	for attempt := 0; attempt < 3; attempt++ {
		cur, ok, err := r.LogAudit.Observe(ctx)
		if err != nil {
			return fmt.Errorf("read log audit configuration: %w", err)
		}
		next := r.mergeLogAudit(cur, ok, change)
		if ok && sameConfig(cur, next) {
			return nil // already as wanted: a concurrent writer did it
		}
		if err := r.LogAudit.Write(ctx, next); err != nil {
			// A member that left the directory (its removal event late or lost) makes Log Audit
			// refuse the whole list: drop departed members and write again rather than block
			// every other enrolment until the timer runs.
			pruned, perr := r.withoutDeparted(ctx, next, err)
			if perr != nil {
				return fmt.Errorf("write log audit configuration: %w", err)
			}
			if err := r.LogAudit.Write(ctx, pruned); err != nil {
				return fmt.Errorf("write log audit configuration: %w", err)
			}
		}
		got, ok, err := r.LogAudit.Observe(ctx)
		if err != nil {
			return fmt.Errorf("verify log audit configuration: %w", err)
		}
		if ok && holds(got, change) {
			r.laObserved.remember(got, ok)
			return nil
		}
	}
	return fmt.Errorf("log audit configuration did not hold after 3 writes: another writer outside auditwarden's lock is changing it")
}

func (r *Reconciler) mergeLogAudit(cur logaudit.Config, exists bool, change LogAuditChange) logaudit.Config {
	next := logaudit.Config{Region: r.Policy.LogAudit.Region, AliUID: r.Policy.Central.AccountID, Mode: change.Mode, RDType: change.RDType,
		Switches: map[string]string{}}
	if exists {
		for k, v := range cur.Switches {
			next.Switches[k] = v
		}
	}
	for k, v := range change.Switches {
		next.Switches[k] = v
	}
	keep := map[string]bool{}
	// Members carry over only within the same mode: resource directory mode overwrites custom authentication.
	if exists && cur.Mode == change.Mode && (change.Mode != logaudit.ModeResourceDirectory || cur.RDType == change.RDType) {
		for _, m := range cur.Members {
			keep[m] = true
		}
	}
	for _, m := range change.Remove {
		delete(keep, m)
	}
	for _, m := range change.Add {
		keep[m] = true
	}
	if change.Mode == logaudit.ModeResourceDirectory && change.RDType == policy.MembersAll {
		keep = nil
	}
	for m := range keep {
		next.Members = append(next.Members, m)
	}
	sort.Strings(next.Members)
	return next
}

func sameConfig(a, b logaudit.Config) bool {
	if a.Mode != b.Mode || a.RDType != b.RDType || a.Region != b.Region || strings.Join(a.Members, ",") != strings.Join(b.Members, ",") {
		return false
	}
	for k, v := range b.Switches {
		if a.Switches[k] != v {
			return false
		}
	}
	return true
}

// holds reports whether the observed document carries the change (other writers' members may be there too).
func holds(got logaudit.Config, change LogAuditChange) bool {
	if got.Mode != change.Mode || got.RDType != change.RDType {
		return false
	}
	have := map[string]bool{}
	for _, m := range got.Members {
		have[m] = true
	}
	for _, m := range change.Add {
		if !have[m] {
			return false
		}
	}
	for _, m := range change.Remove {
		if have[m] {
			return false
		}
	}
	for k, v := range change.Switches {
		if got.Switches[k] != v {
			return false
		}
	}
	return true
}

// ClearLogAudit empties the multi-account configuration the way the console's rules ask before a
// mode switch or a change of delegated administrator: resource directory mode, custom, no members.
// Product switches are kept.
func (r *Reconciler) ClearLogAudit(ctx context.Context) error {
	unlock, err := r.locker().Lock(ctx, "logaudit/"+r.Policy.Central.AccountID)
	if err != nil {
		return fmt.Errorf("log audit lock: %w", err)
	}
	defer unlock()
	cur, ok, err := r.LogAudit.Observe(ctx)
	if err != nil {
		return fmt.Errorf("read log audit configuration: %w", err)
	}
	next := logaudit.Config{Region: r.Policy.LogAudit.Region, AliUID: r.Policy.Central.AccountID,
		Mode: logaudit.ModeResourceDirectory, RDType: policy.MembersCustom, Switches: map[string]string{}}
	if ok {
		for k, v := range cur.Switches {
			next.Switches[k] = v
		}
		if sameConfig(cur, next) {
			return nil
		}
	}
	return r.LogAudit.Write(ctx, next)
}

// withoutDeparted answers a refused resource directory write: it lists the directory and returns
// the configuration without the listed members that are no longer active members. It returns an
// error (the original refusal) when that does not change the list, so nothing is written twice.
func (r *Reconciler) withoutDeparted(ctx context.Context, cfg logaudit.Config, refusal error) (logaudit.Config, error) {
	if cfg.Mode != logaudit.ModeResourceDirectory || len(cfg.Members) == 0 || cloud.Classify(refusal).ShouldRetry() {
		return cfg, refusal
	}
	members, err := r.Directory.Members(ctx)
	if err != nil {
		return cfg, refusal
	}
	active := map[string]bool{}
	for _, m := range members {
		if m.Active() {
			active[m.AccountID] = true
		}
	}
	var kept, gone []string
	for _, id := range cfg.Members {
		if active[id] {
			kept = append(kept, id)
		} else {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return cfg, refusal
	}
	r.Log.Warn().Strs("members", gone).Err(refusal).Msg("log audit refused members that left the directory: dropping them")
	cfg.Members = kept
	return cfg, nil
}
