package actiontrail

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// Inner-ActionTrail (platform operation logs) has no OpenAPI: it is enabled in the SLS or
// ActionTrail console, which creates the innertrail_<name> Logstore. The assembly exposes
// EnableInnerTrail/DisableInnerTrail on localcloud's control endpoint. The real feature ships
// operations Alibaba Cloud staff and systems perform on the account's resources; localcloud has
// no staff, so it ships the OSS operations the OSS emulator reports for the bucket owner.

const (
	innerTrailTTLDays = 180
	innerTrailTopic   = "" // not documented; the fields below are the documented ones
)

type innerTrail struct {
	Project   string
	Name      string
	queue     []core.ServiceLog
	gen       int
	lastTime  time.Time
	lastError string
}

// InnerTrailStatus is what the control endpoint shows about one account's Inner-ActionTrail.
type InnerTrailStatus struct {
	Project            string `json:"project"`
	Logstore           string `json:"logstore"`
	Pending            int    `json:"pending"`
	LatestDeliveryTime string `json:"latestDeliveryTime,omitempty"`
	LatestError        string `json:"latestError,omitempty"`
}

// EnableInnerTrail ships the account's OSS operations to innertrail_<name> in project, which the
// account must own. The Logstore is write-protected (a service Logstore) and its TTL is reset to
// 180 days on every enable. One destination per account: enabling again moves it.
func (s *Service) EnableInnerTrail(account, project, name string) error {
	if !trailNameRE.MatchString(name) {
		return fmt.Errorf("name %q: 6 to 36 characters, starting with a lowercase letter, of lowercase letters, digits, '-' and '_'", name)
	}
	sls, _ := s.backends()
	if sls == nil {
		return fmt.Errorf("project %s: SLS is not available", project)
	}
	owner, ok := sls.ProjectOwner(project)
	if !ok {
		return fmt.Errorf("project %s: does not exist", project)
	}
	if owner != account {
		return fmt.Errorf("project %s: owned by account %s, not %s", project, owner, account)
	}
	if err := sls.EnsureServiceLogstore(project, "innertrail_"+name, innerTrailTTLDays); err != nil {
		return fmt.Errorf("logstore innertrail_%s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.inner[account]; ok {
		// Moving keeps the backlog: it is delivered to the new Logstore.
		it.Project, it.Name, it.lastError = project, name, ""
		it.gen++
		return nil
	}
	s.inner[account] = &innerTrail{Project: project, Name: name}
	return nil
}

// DisableInnerTrail stops shipping the account's OSS operations; operations not yet delivered are discarded with it.
func (s *Service) DisableInnerTrail(account string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inner[account]; !ok {
		return fmt.Errorf("account %s: Inner-ActionTrail is not enabled", account)
	}
	delete(s.inner, account)
	return nil
}

// InnerTrail reports the account's Inner-ActionTrail, if enabled.
func (s *Service) InnerTrail(account string) (InnerTrailStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.inner[account]
	if !ok {
		return InnerTrailStatus{}, false
	}
	return InnerTrailStatus{Project: it.Project, Logstore: "innertrail_" + it.Name, Pending: len(it.queue),
		LatestDeliveryTime: fmtTime(it.lastTime), LatestError: it.lastError}, true
}

func (s *Service) onOSSOperation(op core.OSSOperation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	it, ok := s.inner[op.Account]
	if !ok {
		return
	}
	it.queue = append(it.queue, innerLog(op, s.w.Region))
}

// innerLog lays an OSS operation out with the documented Inner-ActionTrail fields.
func innerLog(op core.OSSOperation, region string) core.ServiceLog {
	at := op.Time
	if at.IsZero() {
		at = time.Now()
	}
	id := op.RequestID
	if id == "" {
		id = core.NewRequestID()
	}
	resource := op.Bucket
	if op.Key != "" {
		resource += "/" + op.Key
	}
	detail, _ := json.Marshal(map[string]any{
		"method": op.Method, "status": op.Status, "bytes": op.Bytes, "sourceIp": op.SourceIP,
		"callerAccountId": op.Caller.AccountID, "callerType": op.Caller.Type, "callerArn": op.Caller.ARN(),
	})
	return core.ServiceLog{Time: at.UTC(), Contents: [][2]string{
		{"EventID", id},
		{"EventVersion", "1.0.0"},
		{"EventLocation", "CN"},
		{"EventProduct", "OSS"},
		{"EventName", op.Operation},
		{"EventDescription", op.Method + " " + resource + " answered " + strconv.Itoa(op.Status)},
		{"EventType", "Service"},
		{"EventMethod", "API"},
		{"ResourceType", "Acs::Oss::Bucket"},
		{"ResourceID", resource},
		{"ResourceRegionID", region},
		{"ResourceOwnerID", op.Account},
		{"EventAdditionalDetail", string(detail)},
		{"EventTime", at.UTC().Format(core.EventTimeFormat)},
		{"EventLevel", "Normal"},
	}}
}

func (s *Service) deliverInner() {
	type work struct {
		it            *innerTrail
		project, name string
		logs          []core.ServiceLog
		gen           int
	}
	var todo []work
	s.mu.Lock()
	for _, it := range s.inner {
		if len(it.queue) > 0 {
			todo = append(todo, work{it, it.Project, it.Name, it.queue[:len(it.queue):len(it.queue)], it.gen})
		}
	}
	s.mu.Unlock()
	sls, _ := s.backends()
	for _, wk := range todo {
		var err error
		done := 0
		if sls == nil {
			err = fmt.Errorf("SLS is not available")
		}
		for err == nil && done < len(wk.logs) {
			end := min(done+maxLogsPerWrite, len(wk.logs))
			if err = sls.ServiceWrite(wk.project, "innertrail_"+wk.name, innerTrailTopic, SLSSource, wk.logs[done:end]); err == nil {
				done = end
			}
		}
		now := s.w.Now()
		s.mu.Lock()
		// Only a pass removes from a queue (passes are serialized), so its head is what was sent;
		// a disabled Inner-ActionTrail's queue went with it.
		it := wk.it
		it.queue = append([]core.ServiceLog(nil), it.queue[done:]...)
		if it.gen == wk.gen { // not moved meanwhile: the outcome is about its Logstore
			if err != nil {
				it.lastError = err.Error()
			} else {
				it.lastError, it.lastTime = "", now
			}
		}
		s.mu.Unlock()
	}
}
