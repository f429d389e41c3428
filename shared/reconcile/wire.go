package reconcile

import (
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
		Policy:    p,
		Directory: directory.New(sess),
		Trails:    trail.New(sess),
		Logstores: logstore.New(sess),
		Archive:   archive.New(sess),
		LogAudit:  logaudit.New(sess, p.LogAudit.Region),
		Lock:      lock,
		Log:       log,
	}
}
