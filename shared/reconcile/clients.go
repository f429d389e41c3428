package reconcile

import (
	"context"
	"time"

	"github.com/auditwarden/auditwarden/shared/archive"
	"github.com/auditwarden/auditwarden/shared/directory"
	"github.com/auditwarden/auditwarden/shared/logaudit"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// The reconciler depends on these small interfaces; the adapters in shared/ implement them.

// Directory reads Resource Directory membership.
type Directory interface {
	Members(ctx context.Context) ([]directory.Member, error)
	Member(ctx context.Context, id string) (directory.Member, error)
}

// Trails manages ActionTrail trails of the central account.
type Trails interface {
	Observe(ctx context.Context, name string) (trail.State, error)
	Create(ctx context.Context, spec trail.Spec) error
	Update(ctx context.Context, spec trail.Spec) error
	StartLogging(ctx context.Context, name string) error
}

// Logstores manages the SLS project and Logstores.
type Logstores interface {
	ProjectExists(ctx context.Context, name string) (bool, error)
	CreateProject(ctx context.Context, name, description string) error
	ObserveLogstore(ctx context.Context, project, name string) (logstore.LogstoreState, error)
	CreateLogstore(ctx context.Context, spec logstore.LogstoreSpec) error
	UpdateLogstore(ctx context.Context, spec logstore.LogstoreSpec) error
	EnsureIndex(ctx context.Context, spec logstore.LogstoreSpec) (bool, error)
	Query(ctx context.Context, project, logstore string, from, to time.Time, query string, limit int) ([]map[string]string, error)
}

// Archive manages the archive bucket.
type Archive interface {
	Observe(ctx context.Context, bucket string) (archive.BucketState, error)
	Create(ctx context.Context, spec archive.BucketSpec) error
	Fix(ctx context.Context, spec archive.BucketSpec, f archive.Finding) error
}

// LogAudit reads and writes the Log Audit document.
type LogAudit interface {
	Observe(ctx context.Context) (logaudit.Config, bool, error)
	Write(ctx context.Context, cfg logaudit.Config) error
}

// Locker serializes writers of one shared document (the Log Audit configuration) across the
// event path, the timer and the API, which may run in different processes.
type Locker interface {
	Lock(ctx context.Context, name string) (unlock func(), err error)
}

// MemberTrails reaches the members' own single-account trails (through the role ForAccount
// assumes, its credentials cached) and the central role their ActionTrail delivers with.
type MemberTrails interface {
	// In returns the trails of a member. A member whose role STS refuses gives an error
	// wrapping *cloud.AssumeRoleError: it is unreachable, not a broken run.
	In(ctx context.Context, accountID string) (Trails, error)
	// ObserveDeliveryRole reads the central delivery role.
	ObserveDeliveryRole(ctx context.Context, name string) (trail.RoleState, error)
	// EnsureDeliveryRole makes the central delivery role with systemPolicies attached; its ARN.
	EnsureDeliveryRole(ctx context.Context, name string, systemPolicies []string) (string, error)
}
