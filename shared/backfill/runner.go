// Package backfill copies the events each account made before the organization trail covered
// it (the last 90 days at most) into the central account, completely and exactly once.
//
// One job per account lives in the state bucket as a stream of create-only, sequence-numbered
// objects (shared/state); each entry is the whole job, so the newest entry is the checkpoint. A
// lease per account makes one worker at a time append to it. Two methods copy the events:
//
//   - delivery-job: a single-account trail in the member delivering to the central SLS project
//     (through a role in the central account that ActionTrail may assume), a data backfill job
//     (CreateDeliveryHistoryJob), polled until ActionTrail says it is complete, retried with
//     backoff when it fails having delivered nothing (a job that delivered part of its window is
//     never retried: a new one would deliver that part again; auto then copies the window with
//     lookup, skipping what the job delivered, and delivery-job fails);
//   - lookup: LookupEvents in the member, 50 events a page at ActionTrail's 2 calls/s, each page
//     written with the SLS producer into the central backfill Logstore (topic = account id,
//     one log per event with the record in the field "event", as ActionTrail ships them) and
//     checkpointed once the producer confirms it.
//
// Method auto tries delivery-job and falls back to lookup where the account may not use it.
//
// Exactly once: a page is written only after the checkpoint of the page before it, and a step
// that finds the job as a crashed step left it (no "parked" entry last) reads back the
// Logstore for the rest of the current slice and writes only the events not there yet.
//
// The worker is the backfill function: Step advances its accounts until shortly before the
// function's deadline, then invokes the function again asynchronously with the accounts still
// running.
package backfill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/state"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// Streams and leases in the state bucket.
const (
	jobsParent  = "backfill/jobs" // + "/" + account: the job's entries
	leasePrefix = "backfill/"     // + account: who works on the job
)

func jobStream(account string) string { return jobsParent + "/" + account }

// listJobsFrom is how many accounts make Start list the job streams once (one call per 1,000
// accounts) instead of looking for each account's job (one call per account).
const listJobsFrom = 20

func leaseName(account string) string { return leasePrefix + account }

// ErrDisabled is Start's answer when the policy turns backfill off.
var ErrDisabled = errors.New("backfill is disabled in the policy (backfill.enabled: false)")

// errKilled ends a step abruptly at a test's crash point: nothing more is written.
var errKilled = errors.New("backfill: worker killed (test crash point)")

// Clock is where a Runner reads world time (windows, job times); *core.ManualClock fits.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type options struct {
	clock        Clock
	sleep        func(ctx context.Context, d time.Duration) error
	slice        time.Duration
	parallel     int
	leaseTTL     time.Duration
	poll         time.Duration
	function     string
	reserveMin   time.Duration
	reserveFrac  float64
	budget       time.Duration
	staleAfter   time.Duration
	jobAttempts  int
	maxFailures  int
	roleName     string
	rolePolicy   string
	writeBackoff time.Duration
	pageLimit    int
}

// Option configures a Runner.
type Option func(*options)

// WithClock sets the world clock (default: the wall clock).
func WithClock(c Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithSleep replaces how the Runner waits (lease expiry, delivery-job polls, write retries).
// Tests pass a function that advances a manual clock instead of sleeping.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) {
		if f != nil {
			o.sleep = f
		}
	}
}

// WithSliceLength sets how much of the window one LookupEvents query covers (default 24h).
func WithSliceLength(d time.Duration) Option {
	return func(o *options) {
		if d >= time.Minute {
			o.slice = d.Truncate(time.Second)
		}
	}
}

// WithParallel bounds how many accounts one invocation works on at once (default 10).
func WithParallel(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.parallel = n
		}
	}
}

// WithLeaseTTL sets how long an account's lease lasts unless renewed (default 2 min): how long a
// crashed worker blocks its job.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.leaseTTL = d
		}
	}
}

// WithPollInterval sets how often a delivery job is polled (default 15 s).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.poll = d
		}
	}
}

// WithFunction names the function to invoke (default FunctionName()).
func WithFunction(name string) Option {
	return func(o *options) {
		if name != "" {
			o.function = name
		}
	}
}

// WithReserve sets the time kept free before the deadline: the larger of frac of the function's
// timeout and min (defaults 20% and 30 s), at most half the timeout.
func WithReserve(min time.Duration, frac float64) Option {
	return func(o *options) {
		if min >= 0 {
			o.reserveMin = min
		}
		if frac >= 0 && frac < 1 {
			o.reserveFrac = frac
		}
	}
}

// WithStepBudget bounds a step whose context has no deadline (default 10 min).
func WithStepBudget(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.budget = d
		}
	}
}

// WithStaleAfter sets when Start re-enqueues an active job nobody works on (default 15 min).
func WithStaleAfter(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.staleAfter = d
		}
	}
}

// WithDeliveryRole names the role in the central account that members' ActionTrail assumes to
// deliver into the central project, and the RAM system policy attached to it when created
// (defaults AuditWardenBackfillDelivery and AliyunLogFullAccess).
func WithDeliveryRole(role, systemPolicy string) Option {
	return func(o *options) {
		if role != "" {
			o.roleName = role
		}
		if systemPolicy != "" {
			o.rolePolicy = systemPolicy
		}
	}
}

// WithRetries sets how many data backfill jobs one account may use (default 5) and after how
// many consecutive failed steps a job fails (default 8).
func WithRetries(jobAttempts, maxFailures int) Option {
	return func(o *options) {
		if jobAttempts > 0 {
			o.jobAttempts = jobAttempts
		}
		if maxFailures > 0 {
			o.maxFailures = maxFailures
		}
	}
}

// WithPageLimit bounds the pages one step copies per account (default: none, only the deadline).
func WithPageLimit(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.pageLimit = n
		}
	}
}

func defaults() options {
	return options{
		clock:        wallClock{},
		sleep:        sleepCtx,
		slice:        24 * time.Hour,
		parallel:     10,
		leaseTTL:     2 * time.Minute,
		poll:         15 * time.Second,
		function:     FunctionName(),
		reserveMin:   30 * time.Second,
		reserveFrac:  0.2,
		budget:       10 * time.Minute,
		staleAfter:   15 * time.Minute,
		jobAttempts:  5,
		maxFailures:  8,
		roleName:     trail.DeliveryRoleName,
		rolePolicy:   trail.PolicyLogWrite,
		writeBackoff: time.Second,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Runner is the backfill of one organization, for one invocation: sess acts in the central
// account, store is the state bucket, p the policy in force.
type Runner struct {
	sess  *cloud.Session
	store *state.Store
	p     *policy.Policy
	inv   Invoker
	log   zerolog.Logger
	o     options

	mu      sync.Mutex
	lsReady bool   // the backfill Logstore was ensured by this Runner
	roleARN string // the delivery role, once ensured

	// crash, in tests, names the points where a step dies as if its process were killed.
	crash func(point string) bool
}

// New makes a Runner. inv enqueues and continues steps; it may be nil for Status alone.
func New(sess *cloud.Session, store *state.Store, p *policy.Policy, inv Invoker, log zerolog.Logger, opts ...Option) *Runner {
	o := defaults()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return &Runner{sess: sess, store: store, p: p, inv: inv, log: log.With().Str("component", "backfill").Logger(), o: o}
}

func (r *Runner) now() time.Time { return r.o.clock.Now().UTC() }

// invoke enqueues one step for accounts.
func (r *Runner) invoke(ctx context.Context, req StepRequest) error {
	if r.inv == nil {
		return errors.New("backfill: no invoker to enqueue the backfill function with")
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if err := r.inv.InvokeAsync(ctx, r.o.function, payload); err != nil {
		return fmt.Errorf("backfill: enqueue %s for %v: %w", r.o.function, req.Accounts, err)
	}
	return nil
}

func (r *Runner) central(ctx context.Context) (*cloud.Session, error) {
	return r.sess.ForAccount(ctx, r.p.Central.AccountID)
}

// ---- Start ----

// coverage is when the trail began covering accounts, as observed once per Start.
type coverage struct {
	start        time.Time // StartLoggingTime of the trail, zero when it is not logging
	organization bool      // it covers the members too
	name         string
}

func (r *Runner) observeCoverage(ctx context.Context) (coverage, error) {
	cs, err := r.central(ctx)
	if err != nil {
		return coverage{}, err
	}
	st, err := trail.New(cs).Observe(ctx, r.p.Trail.Name)
	if err != nil {
		return coverage{}, fmt.Errorf("backfill: reading trail %s: %w", r.p.Trail.Name, err)
	}
	cov := coverage{name: r.p.Trail.Name, organization: st.Exists && st.Organization}
	if st.Exists && st.Logging {
		cov.start = st.StartLoggingTime
	}
	return cov, nil
}

// window is [now - days, coveredFrom): the history nobody else delivers. Both ends are whole
// seconds; coveredFrom is rounded up, so the second the trail started is copied rather than lost.
func (r *Runner) window(cov coverage, account string, joined time.Time, now time.Time) (from, to time.Time, why string) {
	now = now.Truncate(time.Second)
	from = now.Add(-time.Duration(r.p.Backfill.Days) * 24 * time.Hour)
	isCentral := account == r.p.Central.AccountID
	switch {
	case cov.start.IsZero():
		to, why = now, fmt.Sprintf("trail %s is not logging: the window ends when the job was created", cov.name)
	case !isCentral && !cov.organization:
		to, why = now, fmt.Sprintf("trail %s is not a multi-account trail: the window ends when the job was created", cov.name)
	case isCentral || !joined.After(cov.start):
		to, why = cov.start, fmt.Sprintf("trail %s logging since %s", cov.name, cov.start.Format(time.RFC3339))
	default:
		to, why = joined, fmt.Sprintf("member joined at %s, after trail %s started", joined.Format(time.RFC3339), cov.name)
	}
	if t := to.Truncate(time.Second); !t.Equal(to) {
		to = t.Add(time.Second)
	}
	to = earliest(to, now)
	if to.Before(from) {
		to = from
	}
	return from, to, why
}

// Start creates a job for each account that has none (idempotently: at most one job per
// account, and a finished job is never redone), re-queues failed jobs, and enqueues one step
// invocation per job it created or re-queued, and per active job nobody worked on for a while.
// No accounts means every active member plus the central account.
func (r *Runner) Start(ctx context.Context, accounts []string) ([]Progress, error) {
	if !r.p.Backfill.Enabled {
		return nil, ErrDisabled
	}
	members := map[string]directory.Member{}
	if len(accounts) == 0 {
		list, err := directory.New(r.sess).Members(ctx)
		if err != nil {
			return nil, fmt.Errorf("backfill: listing members: %w", err)
		}
		accounts = append(accounts, r.p.Central.AccountID)
		for _, m := range list {
			if m.Active() && m.AccountID != r.p.Central.AccountID {
				members[m.AccountID] = m
				accounts = append(accounts, m.AccountID)
			}
		}
	} else {
		seen := map[string]bool{}
		var uniq []string
		for i, a := range accounts {
			if !accountRE.MatchString(a) {
				return nil, fmt.Errorf("backfill: accounts[%d]: %q is not an account id (1 to 32 digits)", i, a)
			}
			if !seen[a] {
				seen[a] = true
				uniq = append(uniq, a)
			}
		}
		accounts = uniq
	}
	cov, err := r.observeCoverage(ctx)
	if err != nil {
		return nil, err
	}
	// hasJob, when listed, says which accounts have a job, so a new account costs one create-only
	// write and nothing else: what keeps Start for 10,000 members inside one api invocation.
	var hasJob map[string]bool
	if len(accounts) >= listJobsFrom {
		streams, err := r.store.Streams(ctx, jobsParent)
		if err != nil {
			return nil, fmt.Errorf("backfill: listing the jobs: %w", err)
		}
		hasJob = make(map[string]bool, len(streams))
		for _, s := range streams {
			hasJob[strings.TrimPrefix(s, jobsParent+"/")] = true
		}
	}
	now := r.now()
	out := make([]Progress, len(accounts))
	enqueue := make([]bool, len(accounts))
	idx := make([]int, len(accounts))
	for i := range idx {
		idx[i] = i
	}
	errs := cloud.Parallel(ctx, r.o.parallel, idx, func(ctx context.Context, i int) error {
		a := accounts[i]
		m, known := members[a]
		lookFirst := hasJob == nil || hasJob[a]
		p, enq, err := r.startOne(ctx, a, m, known, lookFirst, cov, now)
		out[i], enqueue[i] = p, enq
		return err
	})
	var queued []string
	for i, a := range accounts {
		if errs[i] == nil && enqueue[i] {
			queued = append(queued, a)
		}
	}
	if r.p.Backfill.Method != policy.MethodLookup && slices.ContainsFunc(queued, func(a string) bool { return a != r.p.Central.AccountID }) {
		// Made once here rather than by every step at once; a step still ensures it.
		if _, err := r.ensureDeliveryRole(ctx); err != nil {
			r.log.Warn().Err(err).Str("role", r.o.roleName).Msg("backfill: the delivery role could not be ensured; steps will try again")
		}
	}
	// One step per WithParallel accounts: a step works on that many at once, and 10,000 new jobs
	// cost 1,000 asynchronous invocations rather than 10,000.
	enqueueErr := map[string]error{}
	for chunk := range slices.Chunk(queued, r.o.parallel) {
		if err := r.invoke(ctx, StepRequest{Accounts: chunk}); err != nil {
			for _, a := range chunk {
				enqueueErr[a] = err
			}
		}
	}
	for i, a := range accounts {
		if errs[i] == nil {
			errs[i] = enqueueErr[a]
		}
		if errs[i] != nil {
			errs[i] = fmt.Errorf("account %s: %w", a, errs[i])
			if out[i].AccountID == "" {
				out[i] = Progress{AccountID: a, Method: r.p.Backfill.Method, State: StateFailed, Error: errs[i].Error(), UpdatedAt: now}
			}
		}
	}
	return out, errors.Join(errs...)
}

// startOne creates account's job when it has none, or reports it (re-queueing it when it failed
// or nobody worked on it for a while). lookFirst is false when a listing just showed the account
// has no job: then the create-only write is the only call.
func (r *Runner) startOne(ctx context.Context, account string, m directory.Member, known, lookFirst bool, cov coverage, now time.Time) (Progress, bool, error) {
	if lookFirst {
		// Most calls find the job finished or under way: answered from a read, nothing written.
		var cur Job
		_, ok, err := r.store.Latest(ctx, jobStream(account), &cur)
		if err != nil {
			return Progress{}, false, err
		}
		if ok {
			return r.existingJob(ctx, account, cur, now)
		}
	}
	j, err := r.newJob(ctx, account, m, known, cov, now)
	if err != nil {
		return Progress{}, false, err
	}
	// Create-only: of two Starts racing for one account, one job wins and the other reports it.
	created, err := r.store.Create(ctx, jobStream(account), j)
	if err != nil {
		return Progress{}, false, err
	}
	if !created {
		var cur Job
		if _, ok, err := r.store.Latest(ctx, jobStream(account), &cur); err != nil || !ok {
			return Progress{}, false, err
		}
		return cur.progress(r.o.slice), false, nil
	}
	r.log.Info().Str("account", account).Str("method", j.Method).Time("windowFrom", j.WindowFrom).Time("windowTo", j.WindowTo).
		Str("coverage", j.Coverage).Str("state", j.State).Msg("backfill job created")
	return j.progress(r.o.slice), j.State != StateDone, nil
}

// existingJob reports a job as it stands, or re-queues it, under its lease, when it failed or sat
// idle longer than WithStaleAfter.
func (r *Runner) existingJob(ctx context.Context, account string, cur Job, now time.Time) (Progress, bool, error) {
	if cur.State == StateDone || (cur.active() && now.Sub(cur.UpdatedAt) <= r.o.staleAfter) {
		return cur.progress(r.o.slice), false, nil
	}
	lease, err := r.store.Acquire(ctx, leaseName(account), newHolder("start"), r.o.leaseTTL)
	if errors.Is(err, state.ErrLeaseHeld) {
		// A worker holds the job: it is running; report it as it stands.
		return cur.progress(r.o.slice), false, nil
	}
	if err != nil {
		return Progress{}, false, err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil {
			r.log.Warn().Err(rerr).Str("account", account).Msg("releasing the backfill lease failed; it lapses at its expiry")
		}
	}()
	var j Job
	if _, _, err := r.store.Latest(ctx, jobStream(account), &j); err != nil { // again, under the lease
		return Progress{}, false, err
	}
	switch {
	case j.active():
		stale := now.Sub(j.UpdatedAt) > r.o.staleAfter
		if stale {
			r.log.Info().Str("account", account).Time("updatedAt", j.UpdatedAt).Msg("backfill job idle too long: enqueueing it again")
		}
		return j.progress(r.o.slice), stale, nil
	case j.State == StateFailed:
		// Retry from where it failed: the checkpoint is kept, the window too.
		j.State, j.Error, j.Failures, j.Attempt = StateQueued, "", 0, j.Attempt+1
		if j.Delivery != nil {
			j.Delivery.Attempts, j.Delivery.RetryAt = 0, time.Time{}
		}
		if j.DedupeAgainst != "" && j.Method == policy.MethodDeliveryJob && r.p.Backfill.Method != policy.MethodDeliveryJob {
			// A failed job delivered part of the window, so method delivery-job cannot finish it
			// (its error says so): the policy's method now does, deduplicating against that part.
			r.log.Info().Str("account", account).Str("method", r.p.Backfill.Method).Msg("backfill job failed by a partial data backfill job: re-queued with the policy's method")
			j.Method = r.p.Backfill.Method
			if j.Method == policy.MethodLookup {
				j.Using = MethodLookup
			}
		}
		j.UpdatedAt = now
		if _, err := r.store.Append(ctx, jobStream(account), j); err != nil {
			return Progress{}, false, err
		}
		r.log.Info().Str("account", account).Int("attempt", j.Attempt).Msg("backfill job re-queued")
		return j.progress(r.o.slice), true, nil
	default:
		return j.progress(r.o.slice), false, nil
	}
}

// newJob is account's job as Start creates it: its window from the trail's coverage and, for a
// member, when it joined.
func (r *Runner) newJob(ctx context.Context, account string, m directory.Member, known bool, cov coverage, now time.Time) (Job, error) {
	var joined time.Time
	if account != r.p.Central.AccountID {
		if !known {
			mm, err := directory.New(r.sess).Member(ctx, account)
			if err != nil {
				return Job{}, err
			}
			m = mm
		}
		if !m.Active() {
			return Job{}, fmt.Errorf("not an active member (status %s): nothing to backfill yet", m.Status)
		}
		joined = m.JoinTime
	}
	from, to, why := r.window(cov, account, joined, now)
	j := Job{
		AccountID: account, ID: account + "-" + strconv.FormatInt(now.Unix(), 10), Method: r.p.Backfill.Method,
		State: StateQueued, WindowFrom: from, WindowTo: to, Coverage: why, CreatedAt: now, UpdatedAt: now, Attempt: 1,
		Parked: true,
	}
	if r.p.Backfill.Method != policy.MethodAuto {
		j.Using = r.p.Backfill.Method
	}
	if !from.Before(to) {
		// Covered for the whole window already: nothing to copy, and no delivery job that would
		// only duplicate what the trail delivered.
		j.State, j.FinishedAt = StateDone, now
	}
	return j, nil
}

func newHolder(kind string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return kind + "/" + host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b)
}

// ---- Status ----

// Status is every job's progress, ordered by account. It reads every job (two state-bucket calls
// each): for thousands of accounts, page with StatusPage.
func (r *Runner) Status(ctx context.Context) ([]Progress, error) {
	var all []Progress
	for after := ""; ; {
		page, next, err := r.StatusPage(ctx, after, MaxStatusPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

// MaxStatusPage is the most jobs one StatusPage returns.
const MaxStatusPage = 1000

// StatusPage is the progress of up to limit jobs (1 to MaxStatusPage) of the accounts after the
// account id after ("" for the first page), ordered by account; next is the account to continue
// after, "" on the last page. It costs one listing and two state-bucket calls per job.
func (r *Runner) StatusPage(ctx context.Context, after string, limit int) (page []Progress, next string, err error) {
	if after != "" && !accountRE.MatchString(after) {
		return nil, "", fmt.Errorf("backfill status: after: %q is not an account id (1 to 32 digits)", after)
	}
	streams, more, err := r.store.StreamsPage(ctx, jobsParent, after, min(max(limit, 1), MaxStatusPage))
	if err != nil {
		return nil, "", fmt.Errorf("backfill status: %w", err)
	}
	accounts := make([]string, len(streams))
	for i, s := range streams {
		accounts[i] = strings.TrimPrefix(s, jobsParent+"/")
	}
	if more && len(accounts) > 0 {
		next = accounts[len(accounts)-1]
	}
	out := make([]Progress, len(accounts))
	found := make([]bool, len(accounts))
	idx := make([]int, len(accounts))
	for i := range idx {
		idx[i] = i
	}
	errs := cloud.Parallel(ctx, r.o.parallel, idx, func(ctx context.Context, i int) error {
		var j Job
		_, ok, err := r.store.Latest(ctx, jobStream(accounts[i]), &j)
		if err != nil || !ok {
			return err
		}
		out[i], found[i] = j.progress(r.o.slice), true
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		return nil, "", fmt.Errorf("backfill status: %w", err)
	}
	page = make([]Progress, 0, len(out))
	for i, p := range out {
		if found[i] {
			page = append(page, p)
		}
	}
	// Account ids are digits, so key order is id order.
	return page, next, nil
}

// ---- Step ----

// Step advances the jobs of req's accounts until shortly before the invocation's deadline
// (ctx's deadline; the reserve is WithReserve of the function's timeout), then, for the jobs
// still running, invokes the backfill function again asynchronously. More accounts than
// WithParallel are split off at once into invocations of their own, so they run side by side.
func (r *Runner) Step(ctx context.Context, req StepRequest) (StepResult, error) {
	if err := req.Validate(); err != nil {
		return StepResult{}, err
	}
	if !r.p.Backfill.Enabled {
		// Turned off since the chain began: end it quietly (an error would only make FC retry).
		r.log.Info().Strs("accounts", req.Accounts).Msg("backfill is disabled in the policy: step skipped, chain ended")
		return StepResult{Progress: []Progress{}}, nil
	}
	began := time.Now()
	stopAt := r.stopAt(ctx, began)
	if stopAt.Sub(began) < time.Second {
		// Re-invoking without doing anything would only spin: fail, and let FC retry.
		return StepResult{}, fmt.Errorf("backfill step: %v of work time before the deadline's reserve; raise the function's timeout",
			stopAt.Sub(began).Round(time.Millisecond))
	}
	accounts, rest := req.Accounts, []string(nil)
	if len(accounts) > r.o.parallel {
		accounts, rest = accounts[:r.o.parallel], accounts[r.o.parallel:]
	}
	var errs []error
	for len(rest) > 0 {
		n := min(len(rest), r.o.parallel)
		if err := r.invoke(ctx, StepRequest{Accounts: rest[:n], Hop: req.Hop}); err != nil {
			errs = append(errs, err)
		}
		rest = rest[n:]
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw := &stepWorld{cancel: cancel, sink: newSinkFor(r), holder: newHolder("step"), stopAt: stopAt, hop: req.Hop, accounts: accounts}
	results := make([]taskResult, len(accounts))
	idx := make([]int, len(accounts))
	for i := range idx {
		idx[i] = i
	}
	perr := cloud.Parallel(runCtx, len(accounts), idx, func(ctx context.Context, i int) error {
		results[i] = r.runAccount(ctx, sw, accounts[i])
		return nil
	})
	sw.sink.close()
	if sw.killed.Load() {
		return StepResult{}, errKilled
	}
	res := StepResult{Progress: []Progress{}}
	for i, tr := range results {
		if perr[i] != nil && tr.err == nil {
			tr.err = perr[i]
		}
		if tr.progress.AccountID != "" {
			res.Progress = append(res.Progress, tr.progress)
		}
		if tr.more {
			res.Continuing = append(res.Continuing, accounts[i])
		}
		if tr.err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", accounts[i], tr.err))
		}
	}
	if len(res.Continuing) > 0 {
		if r.crashAt(sw, "reinvoke") {
			return StepResult{}, errKilled
		}
		if err := r.invoke(ctx, StepRequest{Accounts: res.Continuing, Hop: req.Hop + 1}); err != nil {
			errs = append(errs, err)
		} else {
			res.Reinvoked = true
		}
	}
	r.log.Info().Int("hop", req.Hop).Strs("accounts", accounts).Strs("continuing", res.Continuing).
		Bool("reinvoked", res.Reinvoked).Dur("took", time.Since(began)).Msg("backfill step finished")
	return res, errors.Join(errs...)
}

// stopAt is when a step stops taking work: the deadline minus the reserve.
func (r *Runner) stopAt(ctx context.Context, now time.Time) time.Time {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(r.o.budget)
	}
	total := deadline.Sub(now)
	if fc, ok := fccontext.FromContext(ctx); ok && fc.Function.Timeout > 0 {
		total = time.Duration(fc.Function.Timeout) * time.Second
	}
	reserve := max(time.Duration(float64(total)*r.o.reserveFrac), r.o.reserveMin)
	reserve = min(reserve, total/2)
	return deadline.Add(-reserve)
}

// stepWorld is what the accounts of one step share.
type stepWorld struct {
	cancel   context.CancelFunc
	sink     *sink
	holder   string
	stopAt   time.Time
	hop      int
	accounts []string
	killed   atomic.Bool
}

func newSinkFor(r *Runner) *sink {
	return newSink(r.sess, r.p.Backfill.Project, r.p.Backfill.Logstore)
}

// crashAt reports whether a test wants the step to die here, and kills it if so.
func (r *Runner) crashAt(sw *stepWorld, point string) bool {
	if r.crash == nil || sw.killed.Load() || !r.crash(point) {
		return sw.killed.Load()
	}
	sw.killed.Store(true)
	sw.cancel()
	r.log.Debug().Str("point", point).Strs("accounts", sw.accounts).Msg("backfill step killed at a test crash point")
	return true
}

type taskResult struct {
	more     bool
	progress Progress
	err      error
}

// errBusy: another worker holds the account's lease. alive says the holder renewed it while
// we watched; otherwise it may have died, and the lease outlived this step's budget.
type errBusy struct {
	holder string
	alive  bool
}

func (e errBusy) Error() string { return "another worker holds the job: " + e.holder }

// acquire takes the account's lease. A held lease is watched until it expires (a crashed
// worker never releases; its lease lapses) or is renewed (a live worker has the job), for as
// long as the step may run.
func (r *Runner) acquire(ctx context.Context, sw *stepWorld, account string) (*state.Lease, error) {
	var seen time.Time
	for {
		l, err := r.store.Acquire(ctx, leaseName(account), sw.holder, r.o.leaseTTL)
		var held *state.HeldError
		if !errors.As(err, &held) {
			return l, err
		}
		if !seen.IsZero() && held.Expires.After(seen) {
			return nil, errBusy{holder: held.Holder, alive: true}
		}
		seen = held.Expires
		left := time.Until(sw.stopAt)
		if left <= 0 {
			return nil, errBusy{holder: held.Holder}
		}
		wait := max(min(held.Expires.Sub(r.now())+10*time.Millisecond, left, r.o.leaseTTL/2), 10*time.Millisecond)
		if err := r.o.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// task is one account's job within one step.
type task struct {
	r        *Runner
	sw       *stepWorld
	job      Job
	lease    *state.Lease
	renewed  time.Time // wall time of the last lease renewal
	lastSave time.Time // wall time the job's ActiveTime counts from
	resumed  bool      // the previous step did not park: a page may be written beyond the checkpoint
	log      zerolog.Logger
}

func (r *Runner) runAccount(ctx context.Context, sw *stepWorld, account string) (res taskResult) {
	log := r.log.With().Str("account", account).Int("hop", sw.hop).Logger()
	lease, err := r.acquire(ctx, sw, account)
	var busy errBusy
	if errors.As(err, &busy) {
		var j Job
		if _, ok, _ := r.store.Latest(ctx, jobStream(account), &j); ok {
			res.progress = j.progress(r.o.slice)
		}
		if busy.alive {
			log.Info().Str("holder", busy.holder).Msg("backfill job is worked on by another invocation; leaving it to that one")
			return res
		}
		// The holder went quiet and its lease outlives this step: the next step waits on.
		log.Info().Str("holder", busy.holder).Msg("backfill job's lease is held by a silent worker; continuing in the next step")
		res.more = true
		return res
	}
	if err != nil {
		return taskResult{err: err}
	}
	t := &task{r: r, sw: sw, lease: lease, renewed: time.Now(), lastSave: time.Now(), log: log}
	defer func() {
		if sw.killed.Load() {
			return // a killed process releases nothing
		}
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil {
			log.Warn().Err(rerr).Msg("releasing the backfill lease failed; it lapses at its expiry")
		}
	}()
	if r.crashAt(sw, "leased") {
		return taskResult{err: errKilled}
	}
	_, ok, err := r.store.Latest(ctx, jobStream(account), &t.job)
	if err != nil {
		return taskResult{err: err}
	}
	if !ok {
		log.Warn().Msg("no backfill job for this account: Start creates one")
		return taskResult{err: fmt.Errorf("no backfill job (Start creates one)")}
	}
	if !t.job.active() {
		return taskResult{progress: t.job.progress(r.o.slice)}
	}
	t.resumed = !t.job.Parked
	if t.job.Parked {
		// Unpark before anything is written: should this step die mid-page, the next one must
		// not trust the old parked entry.
		t.job.Parked = false
		if err := t.save(ctx); err != nil {
			return taskResult{err: err}
		}
		if err := t.at("unparked"); err != nil {
			return taskResult{err: err}
		}
	}
	more, err := t.run(ctx)
	if sw.killed.Load() || errors.Is(err, errKilled) {
		return taskResult{err: errKilled}
	}
	switch {
	case err != nil:
		more, err = t.failed(ctx, err) // not parked: it may have failed between a write and its checkpoint
	case t.job.active():
		// Park: nothing was written after this entry, so the next step need not read back.
		t.job.Parked = true
		err = t.save(ctx)
	}
	return taskResult{more: more && t.job.active(), progress: t.job.progress(r.o.slice), err: err}
}

// run advances the job until it finishes or the step must stop; more says it needs another step.
func (t *task) run(ctx context.Context) (more bool, err error) {
	j := &t.job
	if j.State == StateQueued {
		j.State, j.StartedAt = StateRunning, t.r.now()
	}
	j.Steps++
	if j.Failures > 0 {
		// Back off after failed steps before trying again.
		wait := min(time.Duration(1<<min(j.Failures, 6))*time.Second, time.Minute)
		if time.Now().Add(wait).After(t.sw.stopAt) {
			return true, nil
		}
		if err := t.r.o.sleep(ctx, wait); err != nil {
			return true, nil
		}
	}
	if !j.WindowFrom.Before(j.WindowTo) {
		return false, t.finish(ctx, 0)
	}
	if j.Using == "" || j.Using == MethodDeliveryJob {
		if j.Using == "" {
			j.Using = MethodDeliveryJob
		}
		more, fallback, err := t.runDelivery(ctx)
		if err != nil || fallback == "" {
			return more, err
		}
		if err := t.fallBack(ctx, fallback); err != nil {
			return false, err
		}
	}
	return t.runLookup(ctx)
}

// failed records a step's error: the job fails at once on errors retrying cannot fix, after
// maxFailures consecutive failed steps otherwise, and is continued (after a backoff) until then.
func (t *task) failed(ctx context.Context, cause error) (more bool, err error) {
	if errors.Is(cause, state.ErrLeaseLost) {
		// Another worker took the job over after our lease lapsed: it is theirs now.
		t.log.Warn().Err(cause).Msg("backfill lease lost; leaving the job to its new holder")
		return false, nil
	}
	j := &t.job
	j.Failures++
	j.Error = cause.Error()
	class := cloud.Classify(cause)
	var are *cloud.AssumeRoleError
	// Permanent when the service said so (a code or status retrying cannot change); errors
	// without either (a query still incomplete, a cut connection) get the retries.
	refused := (cloud.Code(cause) != "" || cloud.Status(cause) != 0) && (class == cloud.Permanent || class == cloud.NotFound)
	permanent := errors.As(cause, &are) || errors.Is(cause, errPermanent) || (ctx.Err() == nil && refused)
	if permanent || j.Failures >= t.r.o.maxFailures {
		j.State, j.FinishedAt = StateFailed, t.r.now()
	}
	t.log.Warn().Err(cause).Str("class", class.String()).Int("failures", j.Failures).Str("state", j.State).Msg("backfill step failed")
	saveCtx := ctx
	if ctx.Err() != nil {
		// The step's own deadline ended it: still record where it stands.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		saveCtx = c
	}
	// Not parked: the failure may have come between a write and its checkpoint.
	if err := t.save(saveCtx); err != nil {
		return false, fmt.Errorf("%v; and recording it failed: %w", cause, err)
	}
	return j.active(), nil
}

// errPermanent marks errors that fail the job at once.
var errPermanent = errors.New("permanent")

func permanentf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPermanent, fmt.Sprintf(format, args...))
}

// at is a crash point.
func (t *task) at(point string) error {
	if t.r.crashAt(t.sw, point) {
		return errKilled
	}
	return nil
}

// save appends the job as it stands (the checkpoint), renewing the lease when due; a lost
// lease stops the task before it writes anything more.
func (t *task) save(ctx context.Context) error {
	if err := t.renew(ctx); err != nil {
		return err
	}
	now := time.Now()
	t.job.ActiveTime += now.Sub(t.lastSave)
	t.lastSave = now
	t.job.UpdatedAt = t.r.now()
	if _, err := t.r.store.Append(ctx, jobStream(t.job.AccountID), t.job); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// renew extends the lease once a third of it has passed.
func (t *task) renew(ctx context.Context) error {
	ttl := t.r.o.leaseTTL
	if time.Since(t.renewed) < ttl/3 && t.lease.Expires().Sub(t.r.now()) > 2*ttl/3 {
		return nil
	}
	if err := t.lease.Renew(ctx, ttl); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	t.renewed = time.Now()
	return nil
}

// finish marks the job done with its final count.
func (t *task) finish(ctx context.Context, copied int64) error {
	j := &t.job
	j.EventsCopied = copied
	j.State, j.FinishedAt, j.Error, j.Failures, j.Parked = StateDone, t.r.now(), "", 0, true
	if err := t.save(ctx); err != nil {
		return err
	}
	t.log.Info().Str("method", j.method()).Int64("copied", copied).Int64("pages", j.Pages).
		Dur("activeTime", j.ActiveTime).Int("steps", j.Steps).Msg("backfill job done")
	return nil
}

// ensureLogstore creates the backfill Logstore (index included) once per Runner; reconcile
// plans it too, so usually it exists.
func (r *Runner) ensureLogstore(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lsReady {
		return nil
	}
	cs, err := r.central(ctx)
	if err != nil {
		return err
	}
	b := r.p.Backfill
	spec := logstore.LogstoreSpec{Project: b.Project, Name: b.Logstore, TTLDays: b.TTLDays, AutoSplit: true, IndexKeys: logstore.ActionTrailIndexKeys}
	if err := logstore.New(cs).CreateLogstore(ctx, spec); err != nil {
		return fmt.Errorf("backfill Logstore %s/%s: %w", b.Project, b.Logstore, err)
	}
	r.lsReady = true
	return nil
}
