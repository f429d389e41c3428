// Package bench measures auditwarden at scale against localcloud (make bench): full reconciles of
// 100, 1,000 and 10,000 members from empty and converged, an incremental run, the event path,
// backfill by LookupEvents and the functions' cold starts, each judged against its target.
//
// localcloud runs in this process with a latency on every call and the rate table (Limits)
// enforced; the functions run as their real binaries on fchost, one fresh process per reconcile
// case, so a case's peak RSS (VmHWM) is the function's alone.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/fchost"
	"github.com/auditwarden/auditwarden/shared/logging"
)

// Case groups, for Options.Only.
const (
	CaseReconcile   = "reconcile"
	CaseIncremental = "incremental"
	CaseEvents      = "events"
	CaseBackfill    = "backfill"
	CaseStart       = "backfill-start"
	CaseMember      = "membertrails"
	CaseColdStart   = "coldstart"
)

// Cases are every case group, in the order they run.
var Cases = []string{CaseReconcile, CaseIncremental, CaseEvents, CaseMember, CaseBackfill, CaseStart, CaseColdStart}

// Options shape a bench run.
type Options struct {
	Config    string    // the s.yaml whose functions run (default s.yaml)
	BinDir    string    // where the function binaries are built (default target/bench/bin)
	Out       io.Writer // progress lines (default os.Stdout)
	Log       io.Writer // localcloud's, fchost's and the functions' JSON logs (default io.Discard)
	LatencyMs int       // localcloud's latency per call (default 30)
	Sizes     []int     // directory sizes of the full reconciles (default 100, 1000, 10000)
	// Changes is how many members join before the incremental run (default 10); Events how many
	// members the event path times (default 200); BackfillAccounts how many accounts backfill at
	// once (default 50).
	Changes          int
	Events           int
	BackfillAccounts int
	Quick            bool     // sizes 100 and 1,000 only
	Only             []string // case groups to run (default all)
}

func (o *Options) defaults() error {
	if o.Config == "" {
		o.Config = "s.yaml"
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join("target", "bench", "bin")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.LatencyMs == 0 {
		o.LatencyMs = 30
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{100, 1000, 10000}
		if o.Quick {
			o.Sizes = []int{100, 1000}
		}
	}
	sort.Ints(o.Sizes)
	if o.Changes == 0 {
		o.Changes = 10
	}
	if o.Events == 0 {
		o.Events = 200
	}
	if o.BackfillAccounts == 0 {
		o.BackfillAccounts = 50
	}
	for _, c := range o.Only {
		if !slices.Contains(Cases, c) {
			return fmt.Errorf("only: %q is not a case; cases are %s", c, strings.Join(Cases, ", "))
		}
	}
	for _, n := range o.Sizes {
		if n < 1 || n > 100000 {
			return fmt.Errorf("sizes: %d must be from 1 to 100000", n)
		}
	}
	if o.LatencyMs < 0 || o.Events < 1 || o.Changes < 1 || o.BackfillAccounts < 1 {
		return fmt.Errorf("latency, events, changes and backfill accounts must be positive")
	}
	return nil
}

func (o *Options) want(c string) bool { return len(o.Only) == 0 || slices.Contains(o.Only, c) }

type suite struct {
	o        Options
	cfgPath  string
	binaries map[string]string
	log      zerolog.Logger
	logw     io.Writer
	rep      *Report
}

func (s *suite) progress(format string, args ...any) {
	fmt.Fprintf(s.o.Out, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (s *suite) add(rs ...*Result) {
	for _, r := range rs {
		s.rep.Results = append(s.rep.Results, r)
		status := "done"
		if r.Error != "" {
			status = "ERROR: " + firstLine(r.Error)
		} else {
			for _, t := range r.Targets {
				if t.Status == Fail {
					status = "FAIL: " + t.Name
					break
				}
			}
		}
		s.progress("%s: %s", r.Name, status)
	}
}

// Run runs the selected cases and returns the report. It fails only when the bench itself cannot
// run (bad options, a build failure); a case that breaks or misses a target is in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	s := &suite{o: o, logw: o.Log, rep: &Report{StartedAt: time.Now().UTC(), Host: hostInfo(), Limits: Limits,
		Settings: Settings{LatencyMs: o.LatencyMs, Sizes: o.Sizes, Events: o.Events, Quick: o.Quick, Only: strings.Join(o.Only, ",")}}}
	s.log = logging.New(o.Log, "bench")
	began := time.Now()
	defer func() { s.rep.TookSeconds = time.Since(began).Seconds() }()

	needFunctions := o.want(CaseReconcile) || o.want(CaseIncremental) || o.want(CaseEvents) || o.want(CaseMember) || o.want(CaseColdStart)
	var cfg *fchost.Config
	if needFunctions {
		var err error
		if s.cfgPath, err = filepath.Abs(o.Config); err != nil {
			return nil, err
		}
		// The account id only fills ${config('AccountID')}; each world loads the file again with its own.
		if cfg, err = fchost.LoadConfigWith(s.cfgPath, fchost.ParseOptions{AccountID: "1000000000000001"}); err != nil {
			return nil, err
		}
		s.progress("building the functions of %s as deployed (CGO_ENABLED=0 -trimpath -ldflags \"-s -w\")", o.Config)
		if s.binaries, err = buildFunctions(ctx, cfg, o.BinDir); err != nil {
			return nil, err
		}
	}

	if o.want(CaseReconcile) || o.want(CaseIncremental) || o.want(CaseEvents) {
		for i, n := range o.Sizes {
			largest := i == len(o.Sizes)-1
			if !o.want(CaseReconcile) && !largest {
				continue
			}
			if err := s.directory(ctx, n, largest); err != nil {
				return s.rep, err
			}
		}
	}
	if o.want(CaseMember) {
		if err := s.memberTrails(ctx); err != nil {
			return s.rep, err
		}
	}
	if o.want(CaseBackfill) {
		s.backfill(ctx)
	}
	if o.want(CaseStart) {
		size := 10000
		if o.Quick {
			size = 1000
		}
		s.progress("backfill start for every member of a %d-member directory", size)
		s.add(s.backfillStartCase(ctx, size))
	}
	if o.want(CaseColdStart) {
		s.progress("cold starts of the %d function binaries", len(cfg.Functions))
		s.add(s.coldStartCase(ctx, cfg)...)
	}
	return s.rep, ctx.Err()
}

// directory runs the cases of one directory size: the full reconciles, then, on the largest, the
// incremental run and the event path (which need a converged directory).
func (s *suite) directory(ctx context.Context, n int, largest bool) error {
	s.progress("localcloud with %d members (latency %d ms, rate limits enforced)", n, s.o.LatencyMs)
	started := time.Now()
	w, err := s.newWorld(ctx, s.worldOptions(n))
	if err != nil {
		return err
	}
	defer w.close()
	s.progress("  seeded in %s", time.Since(started).Round(time.Millisecond))
	for _, state := range []string{"empty", "converged"} {
		r := w.reconcileCase(ctx, state)
		if s.o.want(CaseReconcile) {
			s.add(r)
		} else if r.Error != "" {
			return fmt.Errorf("preparing a converged directory: %s", r.Error)
		}
	}
	if !largest {
		return ctx.Err()
	}
	if s.o.want(CaseIncremental) {
		s.add(w.incrementalCase(ctx, s.o.Changes))
	}
	if s.o.want(CaseEvents) {
		s.progress("event path: %d members, one after another", s.o.Events)
		s.add(w.eventsCase(ctx, s.o.Events))
	}
	return ctx.Err()
}

func (s *suite) backfill(ctx context.Context) {
	n := s.o.BackfillAccounts
	s.progress("localcloud with %d+1 members and %d events of history each (backfill)", n, historyDays*historyPerDay)
	b, err := s.newBackfillWorld(ctx, n+1)
	if err != nil {
		s.add(&Result{Name: "backfill", Error: err.Error()})
		return
	}
	defer b.close()
	accounts := b.backfillAccounts()
	if len(accounts) < n+1 {
		s.add(&Result{Name: "backfill", Error: fmt.Sprintf("%d active members seeded, want %d", len(accounts), n+1)})
		return
	}
	s.add(b.backfillCase(ctx, "backfill/lookup/1", accounts[:1]))
	s.progress("backfill of %d accounts at once", n)
	s.add(b.backfillCase(ctx, fmt.Sprintf("backfill/lookup/%d", n), accounts[1:n+1]))
	b.close()
}

// memberTrails runs the full reconcile with memberTrails on a directory of 1,000 members (100
// with -quick), from empty and converged: every active member's role is assumed and its trail read
// (and, from empty, created), so STS's 50 calls/s sets the floor.
func (s *suite) memberTrails(ctx context.Context) error {
	n := 1000
	if s.o.Quick {
		n = 100
	}
	s.progress("localcloud with %d members and memberTrails on", n)
	w, err := s.newWorld(ctx, s.worldOptions(n))
	if err != nil {
		return err
	}
	defer w.close()
	w.memberTrails = true
	for _, state := range []string{"empty", "converged"} {
		s.add(w.reconcileCase(ctx, state))
	}
	return nil
}
