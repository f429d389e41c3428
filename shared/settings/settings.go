// Package settings is what every function reads besides its credentials: the environment
// (state bucket, deployed policy) and the policy in force (the newest one setup stored in the
// state bucket, else the deployed document).
package settings

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/state"
)

// Environment variables the functions read (s.yaml sets them).
const (
	EnvStateBucket = "AUDITWARDEN_STATE_BUCKET" // the OSS bucket holding state (never the WORM archive)
	EnvStatePrefix = "AUDITWARDEN_STATE_PREFIX" // key prefix in that bucket (default "auditwarden")
	EnvPolicy      = "AUDITWARDEN_POLICY"       // the deployed policy, inline YAML
	EnvPolicyFile  = "AUDITWARDEN_POLICY_FILE"  // or a file shipped with the code
)

// PolicyStream is the state stream POST /v1/setup appends policies to.
const PolicyStream = "policy"

// Config is what a function needs besides its credentials.
type Config struct {
	StateBucket string
	StatePrefix string
	// DeployedPolicy is the policy shipped with the deployment; POST /v1/setup can store a newer one.
	DeployedPolicy []byte
}

// FromEnv reads the functions' environment.
func FromEnv() (Config, error) {
	cfg := Config{StateBucket: strings.TrimSpace(os.Getenv(EnvStateBucket)), StatePrefix: strings.TrimSpace(os.Getenv(EnvStatePrefix))}
	if cfg.StatePrefix == "" {
		cfg.StatePrefix = "auditwarden"
	}
	if cfg.StateBucket == "" {
		return cfg, fmt.Errorf("%s: required (the OSS bucket for auditwarden's state)", EnvStateBucket)
	}
	switch {
	case os.Getenv(EnvPolicy) != "":
		cfg.DeployedPolicy = []byte(os.Getenv(EnvPolicy))
	case os.Getenv(EnvPolicyFile) != "":
		b, err := os.ReadFile(os.Getenv(EnvPolicyFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
			// No policy shipped (a local host builds bare binaries): POST /v1/setup stores one.
		case err != nil:
			return cfg, fmt.Errorf("%s: %w", EnvPolicyFile, err)
		default:
			cfg.DeployedPolicy = b
		}
	}
	return cfg, nil
}

// ErrNoPolicy means neither a stored nor a deployed policy exists: call setup first.
var ErrNoPolicy = errors.New("no policy: POST /v1/setup with a policy, or deploy one in " + EnvPolicy)

// StoredPolicy is a policy document as kept in the state bucket.
type StoredPolicy struct {
	YAML     string    `json:"yaml"`
	StoredAt time.Time `json:"storedAt"`
}

// CurrentPolicy is the policy in force: the newest stored by setup, else the deployed document.
func CurrentPolicy(ctx context.Context, store *state.Store, deployed []byte) (*policy.Policy, error) {
	var sp StoredPolicy
	_, ok, err := store.Latest(ctx, PolicyStream, &sp)
	if err != nil && cloud.Classify(err) != cloud.NotFound {
		return nil, fmt.Errorf("read stored policy: %w", err)
	}
	// No state bucket yet (before the first setup) means no stored policy.
	doc := []byte(sp.YAML)
	if !ok {
		if len(deployed) == 0 {
			return nil, ErrNoPolicy
		}
		doc = deployed
	}
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// StorePolicy appends a validated policy document; the next invocation of every function uses it.
func StorePolicy(ctx context.Context, store *state.Store, doc []byte, now time.Time) error {
	_, err := store.Append(ctx, PolicyStream, StoredPolicy{YAML: string(doc), StoredAt: now.UTC()})
	return err
}
