// Package app is auditwarden's application layer: what the four functions do, independent of how
// they are triggered. Each function's handler decodes its trigger (package fcevent) and calls one
// method here; every method builds the invocation's session, loads the policy and state, and runs
// the reconciler.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/reconcile"
	"github.com/auditwarden/auditwarden/shared/settings"
	"github.com/auditwarden/auditwarden/shared/state"
)

// Config is what a function needs besides its credentials (see package settings).
type Config = settings.Config

// ConfigFromEnv reads the functions' environment.
func ConfigFromEnv() (Config, error) { return settings.FromEnv() }

// Streams in the state bucket.
const (
	streamReports = "reports" // full runs: what the status page shows
	streamRuns    = "runs"    // every timer or setup run: where incremental mode starts from
)

// reconciler is shared by the invocations of a warm instance that use the same session and
// policy, so concurrent events merge their Log Audit changes into one write (group commit).
func (a *App) reconciler(sess *cloud.Session, p *policy.Policy, store *state.Store) *reconcile.Reconciler {
	doc, _ := json.Marshal(p)
	sum := sha256.Sum256(doc)
	key := fmt.Sprintf("%p/%x", sess, sum[:8])
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec, ok := a.recs[key]; ok {
		return rec
	}
	if len(a.recs) >= 16 {
		a.recs = map[string]*reconcile.Reconciler{} // rotated keys or policies: start afresh
	}
	rec := reconcile.ForSession(sess, p, store, a.log)
	a.recs[key] = rec
	return rec
}

// Sessions makes the session of one invocation (FC rotates the function role's keys).
type Sessions func(ctx context.Context) (*cloud.Session, error)

// App is shared by every invocation of a function process.
type App struct {
	cfg      Config
	log      zerolog.Logger
	sessions Sessions
	// Now is the clock (tests).
	Now func() time.Time

	mu   sync.Mutex
	recs map[string]*reconcile.Reconciler
}

// New makes the application.
func New(cfg Config, log zerolog.Logger, sessions Sessions) *App {
	return &App{cfg: cfg, log: log, sessions: sessions, Now: time.Now, recs: map[string]*reconcile.Reconciler{}}
}

// invocation is everything one call works with.
type invocation struct {
	sess   *cloud.Session
	store  *state.Store
	policy *policy.Policy
	rec    *reconcile.Reconciler
}

func (a *App) open(ctx context.Context, override *policy.Policy) (*invocation, error) {
	sess, err := a.sessions(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	ossClient, err := sess.OSS()
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	store := a.store(sess, ossClient)
	inv := &invocation{sess: sess, store: store, policy: override}
	if inv.policy == nil {
		if inv.policy, err = settings.CurrentPolicy(ctx, store, a.cfg.DeployedPolicy); err != nil {
			return nil, err
		}
	}
	inv.rec = a.reconciler(sess, inv.policy, store)
	return inv, nil
}

// store is the state bucket, with the session's retries and limits.
func (a *App) store(sess *cloud.Session, client *oss.Client) *state.Store {
	return state.New(client, a.cfg.StateBucket, a.cfg.StatePrefix, state.WithRetrier(sess.Retrier()), state.WithLogger(a.log))
}

// Setup validates and stores a policy (or uses the deployed one when doc is empty), then applies it.
func (a *App) Setup(ctx context.Context, doc []byte) (*reconcile.Report, error) {
	var p *policy.Policy
	if len(strings.TrimSpace(string(doc))) > 0 {
		var err error
		if p, err = policy.Parse(doc); err != nil {
			return nil, err
		}
	}
	inv, err := a.open(ctx, p)
	if errors.Is(err, settings.ErrNoPolicy) {
		return nil, &fcevent.FieldError{Field: "body", Rule: fcevent.RuleRequired,
			Message: "no policy is deployed or stored yet: the body must be a policy document (YAML or JSON)"}
	}
	if err != nil {
		return nil, err
	}
	if err := inv.store.EnsureBucket(ctx); err != nil {
		return nil, fmt.Errorf("state bucket: %w", err)
	}
	if p != nil {
		if err := settings.StorePolicy(ctx, inv.store, doc, a.Now()); err != nil {
			return nil, fmt.Errorf("store policy: %w", err)
		}
	}
	return a.run(ctx, inv, reconcile.Scope{}, nil)
}

// Plan is a dry run of the whole directory: exactly what apply would do.
func (a *App) Plan(ctx context.Context) (*reconcile.Report, error) {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	return inv.rec.Run(ctx, reconcile.Scope{}, true)
}

// Reconcile is the timer path: a full run, or an incremental one from the last stored report.
func (a *App) Reconcile(ctx context.Context, mode string) (*reconcile.Report, error) {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	scope := reconcile.Scope{}
	var last runMarker
	if mode == reconcile.ModeIncremental {
		_, ok, err := inv.store.Latest(ctx, streamRuns, &last)
		if err != nil {
			return nil, fmt.Errorf("read last run: %w", err)
		}
		if ok {
			changed, err := inv.rec.ChangedSince(ctx, last.StartedAt, last.Collected)
			if err != nil {
				a.log.Warn().Err(err).Msg("incremental read failed: falling back to a full run")
			} else {
				scope = changed
			}
		}
	}
	return a.run(ctx, inv, scope, last.Collected)
}

// Member enrols one account now (POST /v1/members/{id}/enroll): it must be a directory member.
func (a *App) Member(ctx context.Context, accountID string) (*reconcile.Report, error) {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	rep, err := inv.rec.Run(ctx, reconcile.Scope{Member: accountID}, false)
	if err != nil {
		return nil, err
	}
	for _, m := range rep.Members {
		if m.AccountID == accountID {
			return rep, nil
		}
	}
	return rep, &fcevent.FieldError{Field: "id", Rule: "member", Message: "account " + accountID + " is not a member of the resource directory"}
}

// Status is the latest stored report (the timer and setup write one per full run).
func (a *App) Status(ctx context.Context) (*reconcile.Report, bool, error) {
	sess, err := a.sessions(ctx)
	if err != nil {
		return nil, false, err
	}
	ossClient, err := sess.OSS()
	if err != nil {
		return nil, false, err
	}
	var rep reconcile.Report
	_, ok, err := a.store(sess, ossClient).Latest(ctx, streamReports, &rep)
	if cloud.Classify(err) == cloud.NotFound {
		return nil, false, nil // no state bucket before the first setup
	}
	if err != nil || !ok {
		return nil, ok, err
	}
	return &rep, true, nil
}

// run applies a whole-directory or incremental scope and stores its report and run marker.
// collected carries the last full run's collected members through incremental runs.
func (a *App) run(ctx context.Context, inv *invocation, scope reconcile.Scope, collected []string) (*reconcile.Report, error) {
	rep, err := inv.rec.Run(ctx, scope, false)
	if err != nil {
		return nil, err
	}
	marker := runMarker{Mode: rep.Mode, StartedAt: rep.StartedAt, Converged: rep.Converged(), Collected: collected}
	if scope.Whole() {
		if _, err := inv.store.Append(ctx, streamReports, rep); err != nil {
			return rep, fmt.Errorf("store report: %w", err)
		}
		marker.Collected = nil
		for _, m := range rep.Members {
			if st := m.Controls[reconcile.ControlLogAudit].Status; st == reconcile.StatusOK || st == reconcile.StatusFixed {
				marker.Collected = append(marker.Collected, m.AccountID)
			}
		}
	}
	if _, err := inv.store.Append(ctx, streamRuns, marker); err != nil {
		return rep, fmt.Errorf("store run marker: %w", err)
	}
	return rep, nil
}

// runMarker records when a run started, so the next incremental run reads only what changed since.
type runMarker struct {
	Mode      string    `json:"mode"`
	StartedAt time.Time `json:"startedAt"`
	Converged bool      `json:"converged"`
	// Collected are the members Log Audit collected after the last full run: an incremental run
	// re-checks any of them missing from the list.
	Collected []string `json:"collected,omitempty"`
}
