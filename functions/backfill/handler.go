package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/backfill"
	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/settings"
	"github.com/auditwarden/auditwarden/shared/state"
)

// handler runs one step per invocation with what that invocation needs: a session of its own
// credentials (FC rotates the function role's keys), the state store, the policy in force and
// an invoker to continue with.
type handler struct {
	cfg settings.Config
	log zerolog.Logger
	// transport is shared by the sessions of a warm instance, so connections stay open.
	transport *http.Transport
	// newSession and newInvoker are replaced in tests.
	newSession func(ctx context.Context) (*cloud.Session, error)
	newInvoker func(ctx context.Context, sess *cloud.Session) (backfill.Invoker, error)
	opts       []backfill.Option
}

func newHandler(cfg settings.Config, log zerolog.Logger) *handler {
	h := &handler{cfg: cfg, log: log, transport: http.DefaultTransport.(*http.Transport).Clone()}
	h.transport.MaxIdleConnsPerHost = 64
	h.newSession = func(ctx context.Context) (*cloud.Session, error) {
		return cloud.NewSessionFromEnv(ctx, cloud.WithLogger(log), cloud.WithTransport(h.transport))
	}
	h.newInvoker = func(ctx context.Context, sess *cloud.Session) (backfill.Invoker, error) {
		return backfill.NewFCInvoker(ctx, sess)
	}
	return h
}

// Handle decodes the payload (a backfill.StepRequest) and runs one step. A payload that does
// not decode is refused with an error naming the field.
func (h *handler) Handle(ctx context.Context, payload []byte) (backfill.StepResult, error) {
	req, err := backfill.ParseStepRequest(payload)
	if err != nil {
		h.log.Warn().Err(err).Msg("backfill payload refused")
		return backfill.StepResult{}, err
	}
	sess, err := h.newSession(ctx)
	if err != nil {
		return backfill.StepResult{}, fmt.Errorf("session: %w", err)
	}
	ossClient, err := sess.OSS()
	if err != nil {
		return backfill.StepResult{}, fmt.Errorf("state store: %w", err)
	}
	store := state.New(ossClient, h.cfg.StateBucket, h.cfg.StatePrefix, state.WithRetrier(sess.Retrier()), state.WithLogger(h.log))
	p, err := backfill.CurrentPolicy(ctx, store, h.cfg.DeployedPolicy)
	if err != nil {
		return backfill.StepResult{}, err
	}
	inv, err := h.newInvoker(ctx, sess)
	if err != nil {
		return backfill.StepResult{}, err
	}
	return backfill.New(sess, store, p, inv, h.log, h.opts...).Step(ctx, req)
}
