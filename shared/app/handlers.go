package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/reconcile"
)

// SessionsFromEnv builds each invocation's session from FC's credentials (or the environment, or
// localcloud's line), keeping one per key so member credentials stay cached across invocations of
// a warm instance.
func SessionsFromEnv(log zerolog.Logger) Sessions {
	var mu sync.Mutex
	byKey := map[string]*cloud.Session{}
	return func(ctx context.Context) (*cloud.Session, error) {
		creds, err := cloud.FromFC(ctx)
		if err != nil {
			creds, _ = cloud.FromEnv() // outside FC: the cache key only
		}
		mu.Lock()
		defer mu.Unlock()
		if s, ok := byKey[creds.AccessKeyID]; ok && creds.AccessKeyID != "" {
			return s, nil
		}
		s, err := cloud.NewSessionFromEnv(ctx, cloud.WithLogger(log))
		if err != nil {
			return nil, err
		}
		if len(byKey) > 8 {
			byKey = map[string]*cloud.Session{} // rotated keys: drop the old sessions
		}
		byKey[creds.AccessKeyID] = s
		return s, nil
	}
}

// MembershipResult is what the member-events function returns for one event.
type MembershipResult struct {
	Action    string   `json:"action"` // reconciled | ignored | duplicate
	EventID   string   `json:"eventId"`
	EventName string   `json:"eventName"`
	Members   []string `json:"members,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Applied   int      `json:"applied"`
	Failed    int      `json:"failed"`
}

// HandleMembershipEvent is the member-events function: an ActionTrail record of a Resource
// Directory change, delivered by EventBridge. The member is re-read from the API, never trusted
// from the event; duplicate and out-of-order deliveries are harmless because the run is idempotent.
func (a *App) HandleMembershipEvent(ctx context.Context, payload []byte) (MembershipResult, error) {
	ev, err := fcevent.DecodeCloudEvent(payload)
	if err != nil {
		a.log.Warn().Err(err).Msg("malformed event rejected")
		return MembershipResult{}, err
	}
	intent, err := fcevent.MembershipIntent(ev)
	if err != nil {
		a.log.Warn().Err(err).Str("eventId", ev.ID).Str("eventName", ev.Data.EventName).Msg("membership event rejected")
		return MembershipResult{}, err
	}
	res := MembershipResult{EventID: intent.EventID, EventName: intent.EventName, Members: intent.AccountIDs, Reason: intent.Reason}
	log := a.log.With().Str("eventId", intent.EventID).Str("eventName", intent.EventName).Strs("members", intent.AccountIDs).Logger()
	if intent.Kind == fcevent.Ignore {
		res.Action = "ignored"
		log.Info().Str("reason", intent.Reason).Msg("event acknowledged, nothing to do")
		return res, nil
	}
	inv, err := a.open(ctx, nil)
	if err != nil {
		return res, err
	}
	for _, id := range intent.AccountIDs {
		rep, err := inv.rec.Run(ctx, reconcile.Scope{Member: id}, false)
		if err != nil {
			return res, fmt.Errorf("reconcile member %s: %w", id, err)
		}
		res.Applied += rep.Summary.Applied
		res.Failed += rep.Summary.Failed + rep.Summary.Skipped
		log.Info().Str("member", id).Int("applied", rep.Summary.Applied).Int("failed", rep.Summary.Failed).Msg("member reconciled")
		if intent.Kind == fcevent.Enrol && inv.policy.Backfill.Enabled {
			if _, err := a.startBackfill(ctx, inv, []string{id}); err != nil {
				log.Warn().Err(err).Str("member", id).Msg("backfill not started: the next setup or API call retries")
			}
		}
	}
	res.Action = "reconciled"
	if res.Failed > 0 {
		// Let FC retry the event: the failure may be throttling or a member still settling.
		return res, fmt.Errorf("%d action(s) failed for event %s", res.Failed, intent.EventID)
	}
	// A duplicate delivery re-checks the member (harmless: the run is idempotent) and is reported as such.
	if first, err := inv.store.FirstTime(ctx, "event/"+intent.EventID); err != nil {
		log.Warn().Err(err).Msg("could not mark the event handled")
	} else if !first {
		res.Action = "duplicate"
	}
	return res, nil
}

// ReconcileResult is what the reconcile function returns: the summary (the full report is in the state bucket).
type ReconcileResult struct {
	Mode      string            `json:"mode"`
	Converged bool              `json:"converged"`
	Summary   reconcile.Summary `json:"summary"`
}

// HandleTimer is the reconcile function: a timer payload selects full or incremental.
func (a *App) HandleTimer(ctx context.Context, payload []byte) (ReconcileResult, error) {
	ev, err := fcevent.DecodeTimer(payload)
	if err != nil {
		return ReconcileResult{}, err
	}
	rep, err := a.Reconcile(ctx, string(ev.Request.Mode))
	if err != nil {
		return ReconcileResult{}, err
	}
	a.log.Info().Str("mode", rep.Mode).Int("members", rep.Summary.Members).Int("compliant", rep.Summary.Compliant).
		Int("applied", rep.Summary.Applied).Int("failed", rep.Summary.Failed).Msg("reconcile finished")
	return ReconcileResult{Mode: rep.Mode, Converged: rep.Converged(), Summary: rep.Summary}, nil
}
