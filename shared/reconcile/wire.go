package reconcile

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/archive"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// ForSession wires a Reconciler to the real adapters on one cloud session (the central account).
// lock may be nil (process-local); functions pass the OSS lease store.
func ForSession(sess *cloud.Session, p *policy.Policy, lock Locker, log zerolog.Logger) *Reconciler {
	return &Reconciler{
		Policy:       p,
		Directory:    directory.New(sess),
		Trails:       trail.New(sess),
		MemberTrails: sessionMembers{sess},
		Logstores:    logstore.New(sess),
		Archive:      archive.New(sess),
		LogAudit:     logaudit.New(sess, p.LogAudit.Region),
		Lock:         lock,
		Log:          log,
	}
}

// sessionMembers enters members with Session.ForAccount, whose credential cache and shared
// limiters make one AssumeRole per member per credential lifetime, not per call.
type sessionMembers struct{ sess *cloud.Session }

func (m sessionMembers) In(ctx context.Context, accountID string) (Trails, error) {
	ms, err := m.sess.ForAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return trail.New(ms), nil
}

func (m sessionMembers) ObserveDeliveryRole(ctx context.Context, name string) (trail.RoleState, error) {
	return trail.ObserveDeliveryRole(ctx, m.sess, name)
}

func (m sessionMembers) EnsureDeliveryRole(ctx context.Context, name string, systemPolicies []string) (string, error) {
	return trail.EnsureDeliveryRole(ctx, m.sess, name, systemPolicies...)
}
