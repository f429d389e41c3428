package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/policy"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// Phases of the delivery-job method.
const (
	phaseTrail   = "trail"   // make the member's single-account trail, logging to the central project
	phaseJob     = "job"     // create the data backfill job (or adopt one a crashed step created)
	phasePoll    = "poll"    // wait for ActionTrail to finish it
	phaseCleanup = "cleanup" // count what arrived and remove the trail
)

// Error codes that mean "this account cannot use a delivery job": method auto falls back to lookup.
var fallbackCodes = map[string]string{
	"NotSupportDeliveryHistoryJob":           "the account is not allowed to use data backfill jobs",
	"MaximumNumberOfTrailsExceededException": "the account already has the maximum of single-account trails in the region",
	"InsufficientSlsPolicyException":         "ActionTrail in the member cannot write to the central project",
}

// codeDeliveryJobRunning is ActionTrail's answer to a second concurrent job (localcloud's code;
// the real one is UNVERIFIED).
const codeDeliveryJobRunning = "DeliveryHistoryJobRunningException"

// runDelivery drives the delivery-job method. fallback is non-empty when the account cannot use
// it and the policy lets auto fall back to lookup.
func (t *task) runDelivery(ctx context.Context) (more bool, fallback string, err error) {
	j := &t.job
	if j.Delivery == nil {
		j.Delivery = &DeliveryState{Phase: phaseTrail, Trail: t.r.p.Backfill.TrailName}
	}
	d := j.Delivery
	account := j.AccountID
	canFallBack := j.Method == policy.MethodAuto
	if j.DedupeAgainst != "" {
		// A step before found a failed job that had delivered part of the window: never another job.
		if canFallBack {
			return false, partialReason(d.JobID, j.DeliveredBefore), nil
		}
		return false, "", partialError(d.JobID, j.DeliveredBefore, j.DedupeAgainst)
	}
	refuse := func(err error) (bool, string, error) {
		reason, ok := fallbackCodes[cloud.Code(err)]
		if !ok {
			return false, "", err
		}
		if canFallBack {
			return false, fmt.Sprintf("%s (%s)", reason, cloud.Code(err)), nil
		}
		return false, "", permanentf("delivery-job: %s: %v", reason, err)
	}
	for {
		if time.Now().After(t.sw.stopAt) {
			return true, "", nil
		}
		member, err := t.r.sess.ForAccount(ctx, account)
		if err != nil {
			return false, "", err
		}
		tc := trail.New(member)
		switch d.Phase {
		case phaseTrail:
			if err := t.ensureTrail(ctx, tc); err != nil {
				return refuse(err)
			}
			d.Phase = phaseJob
			if err := t.save(ctx); err != nil {
				return false, "", err
			}

		case phaseJob:
			if d.JobID == 0 && !d.Creating.IsZero() {
				// The step before wrote its intent and may have created a job before dying.
				if err := t.adopt(ctx, tc, false); err != nil {
					return false, "", err
				}
			}
			if d.JobID != 0 {
				d.Phase = phasePoll
				continue
			}
			if wait := d.RetryAt.Sub(t.r.now()); wait > 0 {
				if !t.wait(ctx, wait) {
					return true, "", nil
				}
				continue
			}
			if d.Attempts > 0 {
				// A retry: count again what the failed job delivered, now that the backoff has
				// passed, since SLS makes logs searchable only shortly after they are written.
				if err := t.at("retry-due"); err != nil {
					return false, "", err
				}
				n, err := t.failedJobDelivered(ctx)
				if err != nil {
					return false, "", err
				}
				if n > 0 {
					return t.partlyDelivered(ctx, tc, n, canFallBack)
				}
			}
			d.Creating = t.r.now()
			if err := t.save(ctx); err != nil {
				return false, "", err
			}
			if err := t.at("job-intent"); err != nil {
				return false, "", err
			}
			id, err := tc.CreateDeliveryHistoryJob(ctx, d.Trail)
			if err := t.at("job-answered"); err != nil {
				return false, "", err
			}
			switch {
			case cloud.Code(err) == codeDeliveryJobRunning:
				// One job per account: ours from a lost answer (adopt it), or someone else's (wait).
				if aerr := t.adopt(ctx, tc, true); aerr != nil {
					return false, "", aerr
				}
				if d.JobID == 0 {
					t.log.Info().Msg("another data backfill job is running in the account; waiting for it to end")
					d.Creating, d.RetryAt = time.Time{}, t.r.now().Add(t.r.o.poll)
				}
			case cloud.Code(err) == "TrailNotFoundException":
				// The trail went away since it was made: make it again.
				t.log.Warn().Str("trail", d.Trail).Msg("the backfill trail is gone; making it again")
				d.Creating, d.Phase = time.Time{}, phaseTrail
			case err != nil:
				if _, known := fallbackCodes[cloud.Code(err)]; known {
					d.Creating = time.Time{}
				} // else keep the intent: the job may exist though the answer was lost
				return refuse(err)
			default:
				d.JobID, d.Attempts, d.Creating, d.JobStatus = id, d.Attempts+1, time.Time{}, trail.JobInitializing
				t.log.Info().Str("method", MethodDeliveryJob).Int64("job", id).Int("attempt", d.Attempts).Msg("data backfill job created")
			}
			if err := t.save(ctx); err != nil {
				return false, "", err
			}
			if err := t.at("job-created"); err != nil {
				return false, "", err
			}

		case phasePoll:
			st, err := tc.DeliveryHistoryJob(ctx, d.JobID)
			if cloud.Classify(err) == cloud.NotFound {
				// Gone before it said it completed: as for a failed job, another is exact only if
				// this one delivered nothing.
				n, cerr := t.failedJobDelivered(ctx)
				if cerr != nil {
					return false, "", cerr
				}
				if n > 0 {
					return t.partlyDelivered(ctx, tc, n, canFallBack)
				}
				t.log.Warn().Int64("job", d.JobID).Msg("the data backfill job is gone; creating another")
				d.JobID, d.Phase = 0, phaseJob
				if err := t.save(ctx); err != nil {
					return false, "", err
				}
				continue
			}
			if err != nil {
				return false, "", err
			}
			changed := st.Status != d.JobStatus || !st.Start.Equal(d.JobStart) || !st.End.Equal(d.JobEnd)
			d.JobStatus, d.JobStart, d.JobEnd = st.Status, st.Start, st.End
			switch st.Status {
			case trail.JobComplete:
				d.Phase = phaseCleanup
				if err := t.save(ctx); err != nil {
					return false, "", err
				}
			case trail.JobFailed:
				// A job may fail after delivering part of its window, and a new job delivers the
				// whole window again: retrying is exact only when the failed job delivered nothing.
				n, err := t.failedJobDelivered(ctx)
				if err != nil {
					return false, "", err
				}
				if n > 0 {
					return t.partlyDelivered(ctx, tc, n, canFallBack)
				}
				j.Error = fmt.Sprintf("data backfill job %d failed (attempt %d)", d.JobID, d.Attempts)
				if d.Attempts >= t.r.o.jobAttempts {
					return false, "", permanentf("%d data backfill jobs failed, the last %d", d.Attempts, d.JobID)
				}
				backoff := min(t.r.o.poll<<d.Attempts, time.Hour)
				t.log.Warn().Int64("job", d.JobID).Int("attempt", d.Attempts).Dur("retryIn", backoff).Msg("data backfill job failed; retrying")
				// Back to the trail: a deleted or changed trail is a common cause, and ensuring it is cheap.
				d.JobID, d.Phase, d.RetryAt = 0, phaseTrail, t.r.now().Add(backoff)
				if err := t.save(ctx); err != nil {
					return false, "", err
				}
			default:
				if changed {
					if err := t.save(ctx); err != nil {
						return false, "", err
					}
				}
				t.log.Info().Str("method", MethodDeliveryJob).Int64("job", d.JobID).Int("status", st.Status).Msg("backfill delivery job running")
				if !t.wait(ctx, t.r.o.poll) {
					return true, "", nil
				}
			}

		case phaseCleanup:
			n, err := t.deliveredCount(ctx)
			if err != nil {
				return false, "", err
			}
			// The trail would go on delivering everything the member does, which the
			// organization trail already covers.
			if err := tc.Delete(ctx, d.Trail); err != nil {
				t.log.Warn().Err(err).Str("trail", d.Trail).Msg("deleting the backfill trail failed; delete it by hand")
			}
			return false, "", t.finish(ctx, n)

		default:
			return false, "", permanentf("delivery-job: unknown phase %q in the checkpoint", d.Phase)
		}
	}
}

// codeLogStoreNotExist is SLS's answer for a Logstore that does not exist.
const codeLogStoreNotExist = "LogStoreNotExist"

// failedJobDelivered is how many of the account's events the job delivered before it failed.
func (t *task) failedJobDelivered(ctx context.Context) (int64, error) {
	n, err := t.deliveredCount(ctx)
	if cloud.Code(err) == codeLogStoreNotExist {
		return 0, nil // the trail's Logstore was never made: nothing was delivered
	}
	if err != nil {
		return 0, fmt.Errorf("counting what the failed data backfill job %d delivered: %w", t.job.Delivery.JobID, err)
	}
	return n, nil
}

// partlyDelivered handles a failed job that delivered n of the account's events before failing.
// Method auto falls back to lookup, deduplicating every page against the trail's Logstore;
// method delivery-job fails, as only another job, duplicating those n events, could go on.
// Either way the decision is recorded in the job, so no later step creates a job.
func (t *task) partlyDelivered(ctx context.Context, tc *trail.Client, n int64, canFallBack bool) (bool, string, error) {
	j, d := &t.job, t.job.Delivery
	j.DedupeAgainst, j.DeliveredBefore = "actiontrail_"+d.Trail, n
	t.log.Warn().Int64("job", d.JobID).Int64("delivered", n).Str("logstore", j.DedupeAgainst).Bool("fallback", canFallBack).
		Msg("data backfill job failed after delivering part of the window; not retrying it")
	if !canFallBack {
		// No job will run through the trail again, and it would go on delivering everything the
		// member does, which the organization trail already covers.
		if err := tc.Delete(ctx, d.Trail); err != nil {
			t.log.Warn().Err(err).Str("trail", d.Trail).Msg("deleting the backfill trail failed; delete it by hand")
		}
		return false, "", partialError(d.JobID, n, j.DedupeAgainst)
	}
	// Recorded before the fallback removes the trail: a step resuming from here falls back too.
	if err := t.save(ctx); err != nil {
		return false, "", err
	}
	if err := t.at("partly-delivered"); err != nil {
		return false, "", err
	}
	return false, partialReason(d.JobID, n), nil
}

func partialReason(job, n int64) string {
	return fmt.Sprintf("data backfill job %d failed after delivering %d events; lookup copies the events it did not deliver", job, n)
}

func partialError(job, n int64, store string) error {
	return permanentf("delivery-job: data backfill job %d delivered %d events into %s before failing; a new job would deliver them again (duplicates): use method auto or lookup to finish the window exactly",
		job, n, store)
}

// wait sleeps d unless the step must stop first; false means stop.
func (t *task) wait(ctx context.Context, d time.Duration) bool {
	if time.Now().Add(d).After(t.sw.stopAt) {
		return false
	}
	if err := t.r.o.sleep(ctx, d); err != nil {
		return false
	}
	if err := t.renew(ctx); err != nil {
		return false
	}
	return true
}

// ensureTrail makes the member's single-account trail deliver every event to the central
// project and log; it is the one the data backfill job replays through.
func (t *task) ensureTrail(ctx context.Context, tc *trail.Client) error {
	b := t.r.p.Backfill
	central := t.r.p.Central.AccountID
	spec := trail.Spec{
		Name: b.TrailName, EventRW: policy.EventAll, TrailRegion: policy.RegionAll,
		SLSProjectARN: trail.SLSProjectARN(b.Region, central, b.Project),
	}
	if t.job.AccountID != central {
		role, err := t.r.ensureDeliveryRole(ctx)
		if err != nil {
			return err
		}
		spec.SLSWriteRoleARN = role
	}
	err := tc.Create(ctx, spec)
	if errors.Is(err, trail.ErrDiffers) {
		err = tc.Update(ctx, spec) // our trail's name, someone else's settings: ours win
	}
	if err != nil {
		return err
	}
	st, err := tc.Observe(ctx, spec.Name)
	if err != nil {
		return err
	}
	if !st.Logging {
		// A data backfill job covers the history up to shortly after its trail took effect.
		return tc.StartLogging(ctx, spec.Name)
	}
	return nil
}

// adopt finds a job of our trail created since the intent (or any running one of our trail
// when running is set) and records it.
func (t *task) adopt(ctx context.Context, tc *trail.Client, running bool) error {
	d := t.job.Delivery
	jobs, err := tc.ListDeliveryHistoryJobs(ctx)
	if err != nil {
		return err
	}
	for _, jb := range jobs { // newest first
		if jb.TrailName != d.Trail {
			continue
		}
		mine := !d.Creating.IsZero() && !jb.Created.Before(d.Creating.Add(-time.Minute))
		if mine || (running && !jb.Done()) {
			t.log.Info().Int64("job", jb.ID).Msg("adopting the data backfill job a previous step created")
			d.JobID, d.JobStatus, d.Attempts = jb.ID, jb.Status, d.Attempts+1
			break
		}
	}
	d.Creating = time.Time{}
	return nil
}

// deliveredCount is how many of the account's events the job delivered into the trail's
// Logstore within the job's window (the backfill job's window while ActionTrail has not said).
func (t *task) deliveredCount(ctx context.Context) (int64, error) {
	d := t.job.Delivery
	from, to := d.JobStart, d.JobEnd
	if from.IsZero() || to.IsZero() {
		from, to = t.job.WindowFrom, t.job.WindowTo
	}
	return t.deliveredIn(ctx, "actiontrail_"+d.Trail, from, to)
}

// deliveredIn is how many of the account's events a trail's Logstore holds within [from, to).
func (t *task) deliveredIn(ctx context.Context, store string, from, to time.Time) (int64, error) {
	cs, err := t.r.central(ctx)
	if err != nil {
		return 0, err
	}
	return count(ctx, logstore.New(cs), t.r.p.Backfill.Project, store, from, to, deliveredQuery(t.job.AccountID))
}

// fallBack switches an auto job from delivery-job to lookup, removing the trail it may have made.
func (t *task) fallBack(ctx context.Context, reason string) error {
	j := &t.job
	member, err := t.r.sess.ForAccount(ctx, j.AccountID)
	if err != nil {
		return err
	}
	if err := trail.New(member).Delete(ctx, j.Delivery.Trail); err != nil {
		t.log.Warn().Err(err).Str("trail", j.Delivery.Trail).Msg("removing the unused backfill trail failed")
	}
	j.Using, j.Delivery.Fallback, j.Error = MethodLookup, reason, ""
	t.log.Info().Str("reason", reason).Msg("backfill: delivery-job not possible here, falling back to lookup")
	return t.save(ctx)
}

// ensureDeliveryRole makes the central account's role that members' ActionTrail assumes to
// write into the central project (trail.EnsureDeliveryRole; the member trails of reconcile share
// it). An existing role of that name that does not trust ActionTrail fails the job: retrying
// cannot fix it.
func (r *Runner) ensureDeliveryRole(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.roleARN != "" {
		return r.roleARN, nil
	}
	cs, err := r.central(ctx)
	if err != nil {
		return "", err
	}
	arn, err := trail.EnsureDeliveryRole(ctx, cs, r.o.roleName, r.o.rolePolicy)
	if errors.Is(err, trail.ErrRoleNotTrusted) {
		return "", permanentf("%v", err)
	}
	if err != nil {
		return "", err
	}
	r.roleARN = arn
	return arn, nil
}
