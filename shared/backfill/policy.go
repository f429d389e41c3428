package backfill

import (
	"context"

	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/settings"
	"github.com/auditwarden/auditwarden/shared/state"
)

// CurrentPolicy is the policy in force (see package settings).
func CurrentPolicy(ctx context.Context, store *state.Store, deployed []byte) (*policy.Policy, error) {
	return settings.CurrentPolicy(ctx, store, deployed)
}
