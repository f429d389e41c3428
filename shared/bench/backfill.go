package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/logging"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/state"
)

// Backfill bench shape: every account holds historyDays × historyPerDay events, enough for
// over 20 full LookupEvents pages per account.
const (
	historyDays      = 2
	historyPerDay    = 1000
	lookupPageEvents = 50
	lookupPerSecond  = 2.0
	stepTimeout      = 900 * time.Second // the backfill function's timeout in s.yaml
	backfillBucket   = "auditwarden-state-bench"
	minPages         = 20 // pages an account must copy for its rate to count
)

// pageLog reads the Runner's own "backfill page" log lines (one per checkpointed page) on their
// way to the bench log, to time each account's pages.
type pageLog struct {
	next io.Writer
	mu   sync.Mutex
	// pages[account] are the pages' checkpoint times and the events copied so far at each.
	pages map[string][]pageMark
}

type pageMark struct {
	at     time.Time
	copied int64
}

func (p *pageLog) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte(`"backfill page"`)) {
		var line struct {
			Account string `json:"account"`
			Copied  int64  `json:"copied"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &line) == nil && line.Message == "backfill page" {
			p.mu.Lock()
			p.pages[line.Account] = append(p.pages[line.Account], pageMark{at: time.Now(), copied: line.Copied})
			p.mu.Unlock()
		}
	}
	return p.next.Write(b)
}

func (p *pageLog) reset() {
	p.mu.Lock()
	p.pages = map[string][]pageMark{}
	p.mu.Unlock()
}

// steady is an account's copy rate from its first to its last page: the pace of the page loop,
// without the step's fixed start (session, lease, role) and end (counting what the Logstore holds).
func (p *pageLog) steady(account string) (rate float64, pages int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	marks := p.pages[account]
	if len(marks) < 2 {
		return 0, len(marks)
	}
	first, last := marks[0], marks[len(marks)-1]
	if d := last.at.Sub(first.at).Seconds(); d > 0 {
		rate = float64(last.copied-first.copied) / d
	}
	return rate, len(marks)
}

// backfillWorld is localcloud seeded with history, and the pieces a backfill invocation needs.
type backfillWorld struct {
	*world
	pol       *policy.Policy
	transport *http.Transport
	log       zerolog.Logger
	pages     *pageLog

	mu    sync.Mutex
	wg    sync.WaitGroup
	steps []stepRecord
	errs  []error
}

// stepRecord is one invocation of the backfill worker.
type stepRecord struct {
	accounts []string
	start    time.Time
	end      time.Time
	res      backfill.StepResult
}

func (s *suite) newBackfillWorld(ctx context.Context, accounts int) (*backfillWorld, error) {
	opts := s.worldOptions(accounts)
	opts.Folders, opts.Pending, opts.Invited = 2, 0, 0
	opts.HistoryDays, opts.HistoryPerDay = historyDays, historyPerDay
	w, err := s.newWorld(ctx, opts)
	if err != nil {
		return nil, err
	}
	b := &backfillWorld{world: w, transport: http.DefaultTransport.(*http.Transport).Clone(), pages: &pageLog{next: s.logw, pages: map[string][]pageMark{}}}
	b.log = logging.New(b.pages, "bench")
	b.transport.MaxIdleConnsPerHost = 64
	b.pol = policy.Default(w.info.ManagementAccountID, w.info.Region)
	b.pol.Backfill.Method, b.pol.Backfill.Days = policy.MethodLookup, historyDays
	if err := w.srv.OSS.CreateBucket(w.info.ManagementAccountID, backfillBucket, "private"); err != nil {
		w.close()
		return nil, err
	}
	sess, err := b.session()
	if err != nil {
		w.close()
		return nil, err
	}
	if err := logstore.New(sess).CreateProject(ctx, b.pol.Backfill.Project, "auditwarden bench"); err != nil {
		w.close()
		return nil, fmt.Errorf("backfill project: %w", err)
	}
	return b, nil
}

// session is what one backfill invocation builds: its own session (own rate limiters, as each FC
// instance has), sharing the warm connection pool, paced by the rate table.
func (b *backfillWorld) session() (*cloud.Session, error) {
	return b.info.Session(cloud.WithLimits(ClientLimits(Limits)), cloud.WithTransport(b.transport), cloud.WithLogger(b.log))
}

func (b *backfillWorld) runner(sess *cloud.Session) (*backfill.Runner, error) {
	ossClient, err := sess.OSS()
	if err != nil {
		return nil, err
	}
	store := state.New(ossClient, backfillBucket, "auditwarden", state.WithRetrier(sess.Retrier()), state.WithLogger(b.log))
	return backfill.New(sess, store, b.pol, b, b.log, backfill.WithFunction(backfill.DefaultFunction)), nil
}

// InvokeAsync is FC's asynchronous invocation: each request runs at once in its own "instance"
// (a goroutine with its own session) under the function's timeout.
func (b *backfillWorld) InvokeAsync(_ context.Context, _ string, payload []byte) error {
	req, err := backfill.ParseStepRequest(payload)
	if err != nil {
		return err
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		rec := stepRecord{accounts: req.Accounts, start: time.Now()}
		sess, err := b.session()
		if err == nil {
			var r *backfill.Runner
			if r, err = b.runner(sess); err == nil {
				rec.res, err = r.Step(ctx, req)
			}
		}
		rec.end = time.Now()
		b.mu.Lock()
		b.steps = append(b.steps, rec)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("step %v: %w", req.Accounts, err))
		}
		b.mu.Unlock()
	}()
	return nil
}

// backfillCase backfills accounts (all at once) and reports events per second per account
// against the LookupEvents ceiling of 2 calls/s × 50 events.
func (b *backfillWorld) backfillCase(ctx context.Context, name string, accounts []string) *Result {
	r := &Result{Name: name, Members: len(accounts)}
	r.Summary = fmt.Sprintf("backfill by LookupEvents of %d account(s) with %d events each (%d days × %d), through backfill.Runner with FC-style async steps",
		len(accounts), historyDays*historyPerDay, historyDays, historyPerDay)
	b.mu.Lock()
	b.steps, b.errs = nil, nil
	b.mu.Unlock()
	sess, err := b.session()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	start, err := b.runner(sess)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	b.quiet()
	b.pages.reset()
	began := time.Now()
	if _, err := start.Start(ctx, accounts); err != nil {
		r.Error = err.Error()
		return r
	}
	started := time.Since(began)
	b.wg.Wait()
	took := time.Since(began)
	rows := b.srv.World.Stats.Snapshot()
	r.absorbStats(rows)
	r.WallSeconds = took.Seconds()
	if len(b.errs) > 0 {
		r.Error = b.errs[0].Error()
		return r
	}

	// Per account: the steady page rate, and the events its job copied over its steps' whole time.
	type acct struct {
		events int64
		busy   time.Duration
		done   bool
	}
	per := map[string]*acct{}
	for _, a := range accounts {
		per[a] = &acct{}
	}
	for _, st := range b.steps {
		for _, a := range st.accounts {
			if p := per[a]; p != nil {
				p.busy += st.end.Sub(st.start)
			}
		}
		for _, p := range st.res.Progress {
			if a := per[p.AccountID]; a != nil {
				a.events = max(a.events, p.EventsCopied)
				a.done = a.done || p.State == backfill.StateDone
			}
		}
	}
	var steady, whole []float64
	var total int64
	notDone, fewPages := 0, 0
	for id, a := range per {
		total += a.events
		if !a.done {
			notDone++
		}
		if a.busy > 0 {
			whole = append(whole, float64(a.events)/a.busy.Seconds())
		}
		rate, pages := b.pages.steady(id)
		if pages < minPages {
			fewPages++
		}
		steady = append(steady, rate)
	}
	lookups := r.CallsByAction["Actiontrail:LookupEvents"]
	ceiling := lookupPerSecond * lookupPageEvents
	meanSteady, meanWhole := mean(steady), mean(whole)
	r.metric("accounts", float64(len(accounts)))
	r.metric("events", float64(total))
	r.metric("lookupCalls", float64(lookups))
	r.metric("eventsPerCall", round2(float64(total)/float64(max(lookups, 1))))
	r.metric("eventsPerSecondPerAccount", round2(meanSteady))
	r.metric("slowestAccountEventsPerSecond", round2(slices.Min(steady)))
	r.metric("eventsPerSecondPerAccountWholeStep", round2(meanWhole))
	r.metric("eventsPerSecondTotal", round2(float64(total)/took.Seconds()))
	r.metric("startSeconds", round2(started.Seconds()))
	r.metric("steps", float64(len(b.steps)))
	floor := ComputeFloor(NeededCalls(rows), Limits)
	r.Floor = &floor
	if floor.Seconds > 0 {
		r.Ratio = r.WallSeconds / floor.Seconds
	}
	r.target("every job done", fmt.Sprintf("%d of %d accounts", len(accounts), len(accounts)), fmt.Sprintf("%d", len(accounts)-notDone), notDone == 0)
	want := minLookupEff * ceiling
	got := fmt.Sprintf("%.1f (%.0f%%; slowest %.1f)", meanSteady, 100*meanSteady/ceiling, slices.Min(steady))
	if fewPages > 0 {
		r.targetNA("events/s per account", fmt.Sprintf(">= %.0f (90%% of 2 calls/s × 50)", want), got, fmt.Sprintf("%d account(s) had fewer than %d pages", fewPages, minPages))
	} else {
		r.target("events/s per account", fmt.Sprintf(">= %.0f (90%% of 2 calls/s × 50)", want), got, meanSteady >= want)
	}
	r.note("events/s per account is the page loop's pace, first to last page (%d+ pages each); over each step's whole time, "+
		"with its start (session, lease, role, Logstore check) and end (counting the Logstore), it is %.1f", minPages, meanWhole)
	return r
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// backfillAccounts are the seeded members, sorted.
func (b *backfillWorld) backfillAccounts() []string {
	var ids []string
	for _, m := range b.srv.Seeded.Members {
		if m.Status == "CreateSuccess" || m.Status == "InviteSuccess" {
			ids = append(ids, m.AccountID)
		}
	}
	sort.Strings(ids)
	return ids
}

// enqueued counts the step invocations Start asks for, without running them.
type enqueued struct{ n atomic.Int64 }

func (e *enqueued) InvokeAsync(context.Context, string, []byte) error {
	e.n.Add(1)
	return nil
}

// apiTimeout is the api function's timeout in s.yaml: POST /v1/backfill runs Start inside it.
const apiTimeout = 600 * time.Second

// backfillStartCase times Runner.Start for every member of an n-member directory (what POST
// /v1/backfill with no accounts does inside the api function): it lists the directory and creates
// one job per account, then enqueues a step per job. Steps are counted, not run.
func (s *suite) backfillStartCase(ctx context.Context, n int) *Result {
	r := &Result{Name: fmt.Sprintf("backfill/start/%d", n), Members: n,
		Summary: fmt.Sprintf("backfill.Runner.Start for every member of a %d-member directory (POST /v1/backfill with no accounts): jobs created, steps enqueued but not run", n)}
	opts := s.worldOptions(n)
	w, err := s.newWorld(ctx, opts)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer w.close()
	b := &backfillWorld{world: w, transport: http.DefaultTransport.(*http.Transport).Clone(), log: s.log}
	b.pol = policy.Default(w.info.ManagementAccountID, w.info.Region)
	b.pol.Backfill.Method = policy.MethodLookup
	if err := w.srv.OSS.CreateBucket(w.info.ManagementAccountID, backfillBucket, "private"); err != nil {
		r.Error = err.Error()
		return r
	}
	sess, err := b.session()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	ossClient, err := sess.OSS()
	if err != nil {
		r.Error = err.Error()
		return r
	}
	inv := &enqueued{}
	store := state.New(ossClient, backfillBucket, "auditwarden", state.WithRetrier(sess.Retrier()), state.WithLogger(s.log))
	runner := backfill.New(sess, store, b.pol, inv, s.log, backfill.WithFunction(backfill.DefaultFunction))
	w.quiet()
	began := time.Now()
	progress, err := runner.Start(ctx, nil)
	took := time.Since(began)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.absorbStats(w.srv.World.Stats.Snapshot())
	r.WallSeconds = took.Seconds()
	// No API floor: Start calls the rate-limited APIs a handful of times; its time goes to the
	// state bucket (one create-only write per new account), which the client paces at 100/s.
	jobs := len(progress)
	r.metric("jobs", float64(jobs))
	r.metric("enqueued", float64(inv.n.Load()))
	r.metric("msPerAccount", ms(took/time.Duration(max(jobs, 1))))
	r.metric("callsPerAccount", round2(float64(r.Calls)/float64(max(jobs, 1))))
	r.metric("stateWritesPerAccount", round2(float64(r.CallsByAction["oss:PutObject"])/float64(max(jobs, 1))))
	if n >= 10000 {
		r.target("Start for 10,000 members fits the api function", "< 600 s", fmt.Sprintf("%.0f s", took.Seconds()), took < apiTimeout)
	} else {
		// Start costs every new account the same one write, so its time grows linearly.
		at10k := took / time.Duration(max(jobs, 1)) * 10000
		r.metric("secondsAt10000", round2(at10k.Seconds()))
		r.target("Start for 10,000 members fits the api function", "< 600 s",
			fmt.Sprintf("%.0f s (%d accounts in %.1f s, extrapolated)", at10k.Seconds(), jobs, took.Seconds()), at10k < apiTimeout)
	}
	// GET /v1/backfill and the status page read one page of jobs.
	pageStart := time.Now()
	page, next, err := runner.StatusPage(ctx, "", backfill.MaxStatusPage)
	pageTook := time.Since(pageStart)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.metric("statusPageSeconds", round2(pageTook.Seconds()))
	r.target("a page of backfill status (GET /v1/backfill)", "< 30 s", fmt.Sprintf("%.1f s for %d jobs (more: %v)", pageTook.Seconds(), len(page), next != ""),
		pageTook < 30*time.Second && len(page) == min(jobs, backfill.MaxStatusPage))
	r.target("steps enqueued", "one per 10 accounts", fmt.Sprintf("%d for %d accounts", inv.n.Load(), jobs), inv.n.Load() <= int64((jobs+9)/10))
	return r
}
