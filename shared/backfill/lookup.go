package backfill

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/logstore"
	"github.com/auditwarden/auditwarden/shared/trail"
)

// maxWriteAttempts bounds how often one page's write is tried within a step.
const maxWriteAttempts = 5

// runLookup copies the window with LookupEvents, a page at a time, until it is done or the step
// must stop.
func (t *task) runLookup(ctx context.Context) (more bool, err error) {
	j := &t.job
	if err := t.r.ensureLogstore(ctx); err != nil {
		return false, err
	}
	if j.Lookup == nil {
		if j.DedupeAgainst != "" {
			// Progress counts from what the failed data backfill job delivered within the window.
			n, err := t.deliveredIn(ctx, j.DedupeAgainst, j.WindowFrom, j.WindowTo)
			if err != nil && cloud.Code(err) != codeLogStoreNotExist {
				return false, fmt.Errorf("counting what the failed data backfill job delivered: %w", err)
			}
			j.EventsCopied = n
		}
		j.Lookup = &LookupCursor{SliceStart: j.WindowFrom}
	}
	c := j.Lookup
	// Found events count as copied when the step before died after writing them.
	countFound := t.resumed
	if t.resumed {
		c.Uncertain = true
	}
	account := j.AccountID
	for pages := 0; ; pages++ {
		if !c.SliceStart.Before(j.WindowTo) {
			return false, t.finishLookup(ctx)
		}
		if time.Now().After(t.sw.stopAt) || (t.r.o.pageLimit > 0 && pages >= t.r.o.pageLimit) {
			return true, nil
		}
		sliceEnd := earliest(c.SliceStart.Add(t.r.o.slice), j.WindowTo)
		if c.QueryEnd.IsZero() {
			c.QueryEnd = sliceEnd.Add(-time.Second) // EndTime is inclusive, to the second
		}
		member, err := t.r.sess.ForAccount(ctx, account)
		if err != nil {
			return false, err
		}
		q := trail.LookupQuery{Start: c.SliceStart, End: c.QueryEnd, NextToken: c.NextToken, MaxResults: trail.LookupMaxResults}
		page, err := trail.New(member).LookupEvents(ctx, q)
		if err != nil && c.NextToken != "" && badNextToken(err) {
			// The token expired or was refused: query the slice again below the oldest event
			// copied so far, reading back what is already there.
			t.log.Warn().Err(err).Time("sliceStart", c.SliceStart).Time("oldest", c.Oldest).Msg("LookupEvents refused the NextToken: restarting the slice query")
			c.NextToken = ""
			if !c.Oldest.IsZero() {
				c.QueryEnd = c.Oldest
			}
			c.Uncertain = true
			continue
		}
		if err != nil {
			return false, err
		}
		if err := t.at("looked-up"); err != nil {
			return false, err
		}
		evs, err := parseEvents(page.Events)
		if err != nil {
			return false, permanentf("account %s: LookupEvents: %v", account, err)
		}
		evs = t.inSlice(evs, c.SliceStart, sliceEnd)
		copied, err := t.writePage(ctx, evs, c.Uncertain, countFound)
		if err != nil {
			return false, err
		}
		if err := t.at("written"); err != nil {
			return false, err
		}
		if page.NextToken != "" {
			c.NextToken = page.NextToken
			for _, e := range evs {
				if c.Oldest.IsZero() || e.time.Before(c.Oldest) {
					c.Oldest = e.time
				}
			}
		} else {
			// The slice is done; the next one was never touched by any step.
			*c = LookupCursor{SliceStart: sliceEnd}
			countFound = false
		}
		j.EventsCopied += int64(copied)
		j.Pages++
		if err := t.save(ctx); err != nil {
			return false, err
		}
		if err := t.at("checkpointed"); err != nil {
			return false, err
		}
		t.log.Info().Str("method", MethodLookup).Int64("page", j.Pages).Int("events", len(evs)).Int("written", copied).
			Int64("copied", j.EventsCopied).Time("coveredUntil", j.coveredUntil()).
			Float64("done", j.fraction(t.r.o.slice)).Str("eta", j.eta(t.r.o.slice).String()).Msg("backfill page")
	}
}

// inSlice drops duplicate event ids within a page and events outside the slice (ActionTrail
// honours the query's range; anything else would belong to another slice or to the trail).
func (t *task) inSlice(evs []event, from, to time.Time) []event {
	seen := make(map[string]bool, len(evs))
	out := evs[:0]
	for _, e := range evs {
		switch {
		case seen[e.id]:
			continue
		case e.time.Before(from) || !e.time.Before(to):
			t.log.Warn().Str("eventId", e.id).Time("eventTime", e.time).Time("sliceStart", from).Time("sliceEnd", to).
				Msg("LookupEvents returned an event outside the queried range: skipped")
			continue
		}
		seen[e.id] = true
		out = append(out, e)
	}
	return out
}

// writePage writes a page's events to the backfill Logstore. When check is set (a step may have
// written part of this slice before dying, or a write failed), and always when a failed data
// backfill job delivered part of the window (Job.DedupeAgainst), it first reads back the events
// of the page's time range and writes only the ones in neither Logstore. It returns how many of
// the page's events it counts as copied by this job: the written ones, plus those found in the
// backfill Logstore when countFound (those in the trail's Logstore were counted when the
// lookup began).
func (t *task) writePage(ctx context.Context, evs []event, check, countFound bool) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	account, trailStore := t.job.AccountID, t.job.DedupeAgainst
	check = check || trailStore != ""
	for attempt := 1; ; attempt++ {
		todo, found := evs, 0
		if check {
			from, to := evs[0].time, evs[0].time
			for _, e := range evs {
				from, to = earliest(from, e.time), latest(to, e.time)
			}
			backfilled, delivered, err := t.sw.sink.existing(ctx, account, from, to.Add(time.Second), trailStore)
			if err != nil {
				return 0, fmt.Errorf("reading back the backfill Logstore: %w", err)
			}
			todo = make([]event, 0, len(evs))
			for _, e := range evs {
				switch {
				case delivered[e.id]:
				case backfilled[e.id]:
					found++
				default:
					todo = append(todo, e)
				}
			}
		}
		if err := t.at("checked"); err != nil {
			return 0, err
		}
		err := t.sw.sink.send(ctx, account, todo)
		if err == nil {
			if countFound {
				return len(todo) + found, nil
			}
			return len(todo), nil
		}
		var we *writeError
		if !errors.As(err, &we) || !we.Retryable || attempt >= maxWriteAttempts {
			return 0, fmt.Errorf("writing %d events to %s/%s: %w", len(todo), t.r.p.Backfill.Project, t.r.p.Backfill.Logstore, err)
		}
		// The failed PutLogs may have landed after all: read back before writing again, and
		// count what is found, since this job wrote it.
		check, countFound = true, true
		t.log.Warn().Err(err).Int("attempt", attempt).Msg("backfill page write failed; retrying")
		if err := t.r.o.sleep(ctx, t.r.o.writeBackoff<<(attempt-1)); err != nil {
			return 0, err
		}
	}
}

// finishLookup counts what the backfill Logstore holds for the window, plus what a failed data
// backfill job delivered of it into the trail's Logstore (the pages wrote none of those), the
// authoritative number, and marks the job done.
func (t *task) finishLookup(ctx context.Context) error {
	j := &t.job
	cs, err := t.r.central(ctx)
	if err != nil {
		return err
	}
	n, err := count(ctx, logstore.New(cs), t.r.p.Backfill.Project, t.r.p.Backfill.Logstore, j.WindowFrom, j.WindowTo, topicQuery(j.AccountID))
	if err != nil {
		return fmt.Errorf("counting the backfilled events: %w", err)
	}
	if j.DedupeAgainst != "" {
		delivered, err := t.deliveredIn(ctx, j.DedupeAgainst, j.WindowFrom, j.WindowTo)
		if err != nil && cloud.Code(err) != codeLogStoreNotExist {
			return fmt.Errorf("counting the events the failed data backfill job delivered: %w", err)
		}
		n += delivered
	}
	if n != j.EventsCopied {
		t.log.Info().Int64("counted", j.EventsCopied).Int64("inLogstore", n).Msg("backfill count corrected from the Logstore")
	}
	return t.finish(ctx, n)
}

// badNextToken: LookupEvents refused the token itself (expired, or from another query).
func badNextToken(err error) bool {
	code := cloud.Code(err)
	return strings.Contains(code, "NextToken") || (cloud.Status(err) == 400 && strings.Contains(strings.ToLower(err.Error()), "nexttoken"))
}
