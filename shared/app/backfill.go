package app

import (
	"context"
	"fmt"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/httpapi"
)

// StartBackfill queues backfill jobs (every active member and the central account when accounts is empty).
func (a *App) StartBackfill(ctx context.Context, accounts []string) ([]backfill.Progress, error) {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	if !inv.policy.Backfill.Enabled {
		return nil, fmt.Errorf("%w: backfill.enabled is false in the policy", httpapi.ErrConflict)
	}
	return a.startBackfill(ctx, inv, accounts)
}

func (a *App) runner(ctx context.Context, inv *invocation) (*backfill.Runner, error) {
	invoker, err := backfill.NewFCInvoker(ctx, inv.sess)
	if err != nil {
		return nil, err
	}
	return backfill.New(inv.sess, inv.store, inv.policy, invoker, a.log), nil
}

func (a *App) startBackfill(ctx context.Context, inv *invocation, accounts []string) ([]backfill.Progress, error) {
	r, err := a.runner(ctx, inv)
	if err != nil {
		return nil, err
	}
	return r.Start(ctx, accounts)
}

// BackfillStatus is one page of jobs' progress, by account, after the account after.
func (a *App) BackfillStatus(ctx context.Context, after string, limit int) ([]backfill.Progress, string, error) {
	inv, err := a.open(ctx, nil)
	if err != nil {
		return nil, "", err
	}
	// Reading progress invokes nothing: no invoker needed.
	return backfill.New(inv.sess, inv.store, inv.policy, nil, a.log).StatusPage(ctx, after, limit)
}
