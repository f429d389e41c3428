package actiontrail

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// Delivery history job statuses (GetDeliveryHistoryJob JobStatus).
const (
	JobInitializing = 0
	JobDelivering   = 1
	JobComplete     = 2
	JobFailed       = 3
)

// historyWindow is how far back ActionTrail keeps events, and so what a backfill job covers.
const historyWindow = 90 * 24 * time.Hour

// job is one data backfill task. Guarded by Service.mu.
type job struct {
	ID         int64
	Owner      string
	TrailName  string
	HomeRegion string
	Status     int
	Created    time.Time
	Updated    time.Time
	// From and To bound the history delivered: 90 days before creation up to when the trail
	// first took effect (or the creation, for a trail never started).
	From, To time.Time
	// claimed is set while one goroutine delivers, so the history goes out exactly once.
	claimed   bool
	Delivered int
	Error     string
	// failAfter >= 0 makes the delivery fail after that many records (FailNextJobsAfter);
	// -1 means it delivers normally.
	failAfter int
}

func (j *job) running() bool { return j.Status == JobInitializing || j.Status == JobDelivering }

func (s *Service) createDeliveryHistoryJob(c *core.Call) (any, error) {
	name, err := c.Require("TrailName")
	if err != nil {
		return nil, err
	}
	owner := c.Caller.AccountID
	token := c.Get("ClientToken")
	now := c.World.Now().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != "" {
		if id, ok := s.tokens[owner+"/"+token]; ok {
			return map[string]any{"JobId": id}, nil // an idempotent retry
		}
	}
	if s.opts.RequireDeliveryJobAllowList && !s.allowed[owner] {
		return nil, core.Errorf(403, "NotSupportDeliveryHistoryJob",
			"Your account does not allow you to use deliveryHistoryJob feature. Submit a ticket to get customer support.")
	}
	t, err := s.ownTrailLocked(c, name)
	if err != nil {
		return nil, err
	}
	if t.IsOrganization {
		return nil, invalidParam("TrailName", "%s is a multi-account trail; data backfill needs a single-account trail", name)
	}
	if t.SlsProjectArn == "" {
		return nil, invalidParam("TrailName", "%s does not deliver to SLS; data backfill delivers only into an SLS Logstore", name)
	}
	for _, j := range s.jobs {
		if j.Owner == owner && j.running() {
			return nil, core.Errorf(400, "DeliveryHistoryJobRunningException",
				"The account already has the running data backfill job %d; only one may run at a time.", j.ID)
		}
	}
	s.nextJob++
	j := &job{
		ID: s.nextJob, Owner: owner, TrailName: name, HomeRegion: t.HomeRegion, Status: JobInitializing,
		Created: now, Updated: now, From: now.Add(-historyWindow), To: now, failAfter: -1,
	}
	if s.failJobs > 0 {
		s.failJobs--
		j.failAfter = s.failAfter
	}
	if !t.FirstStart.IsZero() {
		j.To = t.FirstStart
	}
	s.jobs[j.ID] = j
	if token != "" {
		s.tokens[owner+"/"+token] = j.ID
	}
	if c.Record != nil {
		c.Record.ResourceType = "ACS::ActionTrail::Trail"
		c.Record.ResourceName = name
		c.Record.ResponseElements = map[string]any{"JobId": j.ID}
	}
	return map[string]any{"JobId": j.ID}, nil
}

// FailNextJobsAfter makes the next jobs data backfill jobs created (in any account) fail, as
// the real service's jobs sometimes do, after writing the first events records of their history
// into the trail's Logstore: the job ends in status 3 (failed) having delivered part of its
// window, with a LogStoreWriteError. events 0 fails a job before it delivers anything; events at
// or beyond the job's history delivers it all and fails nonetheless. jobs <= 0 cancels what is
// still planned. Jobs created before the call, and idempotent retries of CreateDeliveryHistoryJob
// (the same ClientToken), are not affected. Safe for concurrent use.
func (s *Service) FailNextJobsAfter(jobs, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failJobs, s.failAfter = max(jobs, 0), max(events, 0)
}

// advanceJobs moves jobs through 0 -> 1 -> 2 by the world clock; the move to 2 delivers the history.
func (s *Service) advanceJobs() {
	now := s.w.Now()
	var due []*job
	s.mu.Lock()
	for _, j := range s.jobs {
		if !j.running() || j.claimed {
			continue
		}
		startAt := j.Created.Add(s.opts.DeliveryJobInitDelay)
		doneAt := startAt.Add(s.opts.DeliveryJobRunTime)
		if j.Status == JobInitializing && !now.Before(startAt) {
			j.Status, j.Updated = JobDelivering, startAt
		}
		if j.Status == JobDelivering && !now.Before(doneAt) {
			j.claimed = true
			due = append(due, j)
		}
	}
	s.mu.Unlock()
	sort.Slice(due, func(a, b int) bool { return due[a].ID < due[b].ID })
	for _, j := range due {
		n, err := s.deliverHistory(j)
		s.mu.Lock()
		j.claimed = false
		if _, alive := s.jobs[j.ID]; alive {
			j.Delivered = n
			j.Updated = j.Created.Add(s.opts.DeliveryJobInitDelay + s.opts.DeliveryJobRunTime)
			if err != nil {
				j.Status, j.Error = JobFailed, err.Error()
				s.log.Warn().Int64("job", j.ID).Str("error", j.Error).Msg("data backfill job failed")
			} else {
				j.Status = JobComplete
			}
		}
		s.mu.Unlock()
	}
}

// deliverHistory writes the account's history in [From, To) (and the records of the trail's
// first second that live delivery did not take) into the trail's Logstore.
func (s *Service) deliverHistory(j *job) (int, error) {
	s.mu.Lock()
	t, ok := s.trails[trailKey(j.Owner, j.TrailName)]
	var snap trailSnapshot
	var liveAtStart map[string]bool
	var firstStart time.Time
	var filter func(*core.Event) bool
	failAfter := j.failAfter
	if ok {
		snap = t.snapshot()
		firstStart = t.FirstStart
		liveAtStart = make(map[string]bool, len(t.liveAtFirstStart))
		for id := range t.liveAtFirstStart {
			liveAtStart[id] = true
		}
		cp := *t // the filters read only settings
		filter = cp.matches
	}
	s.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("TrailNotFoundException: the trail %s was deleted", j.TrailName)
	}
	if snap.SlsProjectArn == "" {
		return 0, fmt.Errorf("the trail %s no longer delivers to SLS", j.TrailName)
	}
	if err := s.probeSLS(snap); err != nil {
		return 0, err
	}
	if err := s.ensureLogstore(snap); err != nil {
		return 0, err
	}
	to := j.To
	if to.Equal(firstStart) {
		to = to.Add(time.Second) // the first second is split by record id below
	}
	var evs []*core.Event
	for _, ev := range s.w.Recorder.Window(j.Owner, j.From, to) {
		if ev.Time.Equal(firstStart) && liveAtStart[ev.EventID] {
			continue
		}
		if filter(ev) {
			evs = append(evs, ev)
		}
	}
	sls, _ := s.backends()
	if sls == nil {
		return 0, fmt.Errorf("SLS is not available")
	}
	proj, _ := ParseSLSProjectARN(snap.SlsProjectArn)
	limit := len(evs)
	if failAfter >= 0 {
		limit = min(failAfter, len(evs))
	}
	for done := 0; done < limit; {
		end := min(done+maxLogsPerWrite, limit)
		if err := sls.ServiceWrite(proj.Project, "actiontrail_"+snap.Name, SLSTopic, SLSSource, slsLogs(evs[done:end])); err != nil {
			return done, fmt.Errorf("LogStoreWriteError: %v", err)
		}
		done = end
	}
	if failAfter >= 0 {
		return limit, fmt.Errorf("LogStoreWriteError: delivery stopped after %d of %d records (FailNextJobsAfter)", limit, len(evs))
	}
	return len(evs), nil
}

func jobResult(j *job) map[string]any {
	return map[string]any{
		"JobId": j.ID, "TrailName": j.TrailName, "HomeRegion": j.HomeRegion, "JobStatus": j.Status,
		"StartTime": fmtTime(j.From), "EndTime": fmtTime(j.To),
		"CreatedTime": fmtTime(j.Created), "UpdatedTime": fmtTime(j.Updated),
	}
}

func (s *Service) jobParam(c *core.Call) (int64, error) {
	v, err := c.Require("JobId")
	if err != nil {
		return 0, err
	}
	id, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil || id <= 0 {
		return 0, core.Errorf(400, "InvalidParameter.JobId", "The parameter JobId %q must be a positive integer.", v)
	}
	return id, nil
}

func jobNotFound(id int64) *core.Error {
	return core.Errorf(404, "DeliveryHistoryJobNotFound", "The data backfill job %d does not exist.", id)
}

func (s *Service) getDeliveryHistoryJob(c *core.Call) (any, error) {
	id, err := s.jobParam(c)
	if err != nil {
		return nil, err
	}
	s.advanceJobs() // reads see the status the clock says, even between worker passes
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok || j.Owner != c.Caller.AccountID {
		return nil, jobNotFound(id)
	}
	out := jobResult(j)
	out["Status"] = []map[string]any{{"Region": j.HomeRegion, "Status": j.Status}}
	return out, nil
}

func (s *Service) listDeliveryHistoryJobs(c *core.Call) (any, error) {
	page, err := c.Int("PageNumber", 1, 1, 1<<30)
	if err != nil {
		return nil, err
	}
	size, err := c.Int("PageSize", 20, 1, 100)
	if err != nil {
		return nil, err
	}
	s.advanceJobs()
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []*job
	for _, j := range s.jobs {
		if j.Owner == c.Caller.AccountID {
			mine = append(mine, j)
		}
	}
	sort.Slice(mine, func(a, b int) bool { return mine[a].ID > mine[b].ID }) // newest first
	list := make([]map[string]any, 0, size)
	for i := (page - 1) * size; i < len(mine) && len(list) < size; i++ {
		list = append(list, jobResult(mine[i]))
	}
	return map[string]any{"TotalCount": len(mine), "PageNumber": page, "PageSize": size, "DeliveryHistoryJobs": list}, nil
}

func (s *Service) deleteDeliveryHistoryJob(c *core.Call) (any, error) {
	id, err := s.jobParam(c)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok || j.Owner != c.Caller.AccountID {
		return nil, jobNotFound(id)
	}
	if j.claimed {
		return nil, core.Errorf(400, "DeliveryHistoryJobRunningException", "The data backfill job %d is delivering now; delete it when it has finished.", id)
	}
	// Deleting a job that has not delivered yet cancels it.
	delete(s.jobs, id)
	if c.Record != nil {
		c.Record.ResourceType = "ACS::ActionTrail::Trail"
		c.Record.ResourceName = j.TrailName
	}
	return map[string]any{}, nil
}
