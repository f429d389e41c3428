package actiontrail

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// How records land in SLS, as the real service ships them (ActionTrail "Log fields" topic of the
// SLS docs): each log has topic actiontrail_audit_event and one field, "event", holding the
// record as JSON; the Logstore's JSON index makes event.eventName, event.userIdentity.accountId,
// ... queryable. The source is not documented; "actiontrail" is our choice.
const (
	SLSTopic  = "actiontrail_audit_event"
	SLSSource = "actiontrail"
	// maxLogsPerWrite keeps one write within SLS's 4096-logs-per-PutLogs limit.
	maxLogsPerWrite = 4096
	// maxOSSBatch ships an OSS batch early when it grows this big.
	maxOSSBatch = 5000
)

// orgRecord is a record that an organization trail may cover; the router decides with the
// directory as it is (the hook itself never takes the world lock: callers of Recorder.Record
// may hold it).
type orgRecord struct {
	ev     *core.Event
	trails []*trail
}

// covers applies the trail's filters that need nothing but the record.
func (t *trail) covers(ev *core.Event) bool {
	if ev.Time.Before(t.StartLoggingTime) {
		return false // older records are backfill's business, never live delivery's
	}
	if !t.logging() && !t.ownStop(ev) {
		return false
	}
	return t.matches(ev)
}

// matches is the EventRW/TrailRegion filter, shared by live delivery and backfill.
func (t *trail) matches(ev *core.Event) bool {
	if t.EventRW != "All" && !strings.EqualFold(t.EventRW, ev.EventRW) {
		return false
	}
	return t.TrailRegion == "All" || ev.AcsRegion == t.TrailRegion
}

// ownStop: the record of the StopLogging call that stopped this trail is still delivered by it,
// so the trail's own destination shows who stopped it.
func (t *trail) ownStop(ev *core.Event) bool {
	if t.Status != StatusDisable || ev.EventName != "StopLogging" || ev.EventSource != ServicePrincipal || ev.ErrorCode != "" {
		return false
	}
	name, _ := ev.RequestParameters["Name"].(string)
	return name == t.Name && ev.RecipientAccountID == t.Owner && !ev.Time.Before(t.StopLoggingTime)
}

func (t *trail) enqueue(ev *core.Event, now time.Time) {
	if t.SlsProjectArn != "" {
		if len(t.sls.queue) == 0 {
			t.sls.since = now
		}
		t.sls.queue = append(t.sls.queue, ev)
	}
	if t.OssBucketName != "" {
		if len(t.oss.queue) == 0 {
			t.oss.since = now
		}
		t.oss.queue = append(t.oss.queue, ev)
	}
	if t.liveAtFirstStart != nil && ev.Time.Equal(t.FirstStart) {
		t.liveAtFirstStart[ev.EventID] = true
	}
}

// onRecord is the Recorder hook: it queues the record for every logging trail covering it.
func (s *Service) onRecord(ev *core.Event) {
	now := s.w.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, t := range s.byOwner[ev.RecipientAccountID] {
		if t.covers(ev) {
			t.enqueue(ev, now)
		}
	}
	var org []*trail
	for _, t := range s.org {
		if t.covers(ev) {
			org = append(org, t)
		}
	}
	if len(org) > 0 {
		s.orgInbox = append(s.orgInbox, orgRecord{ev: ev, trails: org})
	}
}

// route hands records to organization trails when their account is in the directory.
func (s *Service) route() {
	s.mu.Lock()
	inbox := s.orgInbox
	s.orgInbox = nil
	s.mu.Unlock()
	if len(inbox) == 0 {
		return
	}
	member := map[string]bool{}
	s.w.Mu.RLock()
	for _, r := range inbox {
		id := r.ev.RecipientAccountID
		if _, seen := member[id]; !seen {
			a, ok := s.w.Accounts[id]
			member[id] = ok && a.InDirectory
		}
	}
	s.w.Mu.RUnlock()
	now := s.w.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range inbox {
		if !member[r.ev.RecipientAccountID] {
			continue
		}
		for _, t := range r.trails {
			if !t.deleted {
				t.enqueue(r.ev, now)
			}
		}
	}
}

// probeSLS checks that the trail's Logstore can be written now (project exists in the named
// account, the write role is usable); it does not write.
func (s *Service) probeSLS(t trailSnapshot) error {
	p, err := ParseSLSProjectARN(t.SlsProjectArn)
	if err != nil {
		return err
	}
	sls, _ := s.backends()
	if sls == nil {
		return fmt.Errorf("SlsProjectDoesNotExistException: the SLS project %s does not exist", p.Project)
	}
	owner, ok := sls.ProjectOwner(p.Project)
	if !ok || owner != p.Account {
		return fmt.Errorf("SlsProjectDoesNotExistException: the SLS project %s does not exist in account %s", p.Project, p.Account)
	}
	s.w.Mu.RLock()
	err = checkWriteRoleLocked(s.w, t.SlsWriteRoleArn, owner)
	s.w.Mu.RUnlock()
	if err != nil {
		return fmt.Errorf("InsufficientSlsPolicyException: %v", err)
	}
	return nil
}

func (s *Service) probeOSS(t trailSnapshot) error {
	_, oss := s.backends()
	if oss == nil {
		return fmt.Errorf("BucketDoesNotExistException: the OSS bucket %s does not exist", t.OssBucketName)
	}
	owner, ok := oss.BucketOwner(t.OssBucketName)
	if !ok {
		return fmt.Errorf("BucketDoesNotExistException: the OSS bucket %s does not exist", t.OssBucketName)
	}
	s.w.Mu.RLock()
	err := checkWriteRoleLocked(s.w, t.OssWriteRoleArn, owner)
	s.w.Mu.RUnlock()
	if err != nil {
		return fmt.Errorf("InsufficientBucketPolicyException: %v", err)
	}
	return nil
}

// pending is one destination's work taken out of the lock.
type pending struct {
	t       *trail
	snap    trailSnapshot
	events  []*core.Event
	gen     int
	ensured bool
}

func (s *Service) deliverAll(force bool) {
	now := s.w.Now()
	var slsWork, ossWork []pending
	s.mu.Lock()
	for _, t := range s.trails {
		if t.SlsProjectArn != "" && (len(t.sls.queue) > 0 || t.sls.lastError != "") {
			slsWork = append(slsWork, pending{t: t, snap: t.snapshot(), events: t.sls.queue[:len(t.sls.queue):len(t.sls.queue)], gen: t.sls.gen, ensured: t.sls.ensured})
		}
		due := force || len(t.oss.queue) >= maxOSSBatch || !now.Before(t.oss.since.Add(s.opts.OSSBatchWindow))
		if t.OssBucketName != "" && ((len(t.oss.queue) > 0 && due) || t.oss.lastError != "") {
			ossWork = append(ossWork, pending{t: t, snap: t.snapshot(), events: t.oss.queue[:len(t.oss.queue):len(t.oss.queue)], gen: t.oss.gen})
		}
	}
	s.mu.Unlock()
	sortPending(slsWork)
	sortPending(ossWork)
	for _, p := range slsWork {
		s.deliverSLS(p)
	}
	for _, p := range ossWork {
		s.deliverOSS(p, now)
	}
}

func sortPending(ps []pending) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].snap.Owner != ps[j].snap.Owner {
			return ps[i].snap.Owner < ps[j].snap.Owner
		}
		return ps[i].snap.Name < ps[j].snap.Name
	})
}

// commit removes the first n delivered records and records the outcome. A queue reset while
// the delivery ran (gen changed: the destination was removed) is left alone; an outcome for a
// destination that has since been replaced (sameDest false) is not recorded.
func (s *Service) commit(d *destState, label string, gen, n int, errMsg string, sameDest bool, now time.Time) {
	if d.gen != gen {
		return
	}
	if n > 0 {
		d.queue = append([]*core.Event(nil), d.queue[n:]...)
		d.since = now
	}
	if !sameDest {
		return
	}
	if errMsg != "" {
		if d.lastError != errMsg {
			s.log.Warn().Str("destination", label).Str("error", errMsg).Int("queued", len(d.queue)).Msg("trail delivery failed; records stay queued")
		}
		d.lastError = errMsg
		return
	}
	if d.lastError != "" {
		s.log.Info().Str("destination", label).Msg("trail delivery recovered")
	}
	d.lastError = ""
	if n > 0 {
		d.lastTime = now
	}
}

func (s *Service) deliverSLS(p pending) {
	now := s.w.Now()
	err := s.probeSLS(p.snap)
	ensured := p.ensured
	if err == nil && !ensured {
		// The project came back (or the Logstore went away): recreate the Logstore before writing.
		if e := s.ensureLogstore(p.snap); e != nil {
			err = fmt.Errorf("InsufficientSlsPolicyException: cannot create Logstore actiontrail_%s: %v", p.snap.Name, e)
		} else {
			ensured = true
		}
	}
	done := 0
	sls, _ := s.backends()
	if err == nil && sls == nil {
		err = fmt.Errorf("SlsProjectDoesNotExistException: SLS is not available")
	}
	if err == nil {
		proj, _ := ParseSLSProjectARN(p.snap.SlsProjectArn)
		for done < len(p.events) && err == nil {
			end := min(done+maxLogsPerWrite, len(p.events))
			if e := sls.ServiceWrite(proj.Project, "actiontrail_"+p.snap.Name, SLSTopic, SLSSource, slsLogs(p.events[done:end])); e != nil {
				err = fmt.Errorf("LogStoreWriteError: %v", e)
				ensured = false // the Logstore may be gone; recreate it before the next attempt
				break
			}
			done = end
		}
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	same := p.t.SlsProjectArn == p.snap.SlsProjectArn && p.t.SlsWriteRoleArn == p.snap.SlsWriteRoleArn
	if same {
		p.t.sls.ensured = ensured
	}
	s.commit(&p.t.sls, p.snap.Owner+"/"+p.snap.Name+" sls", p.gen, done, msg, same, now)
}

func slsLogs(evs []*core.Event) []core.ServiceLog {
	out := make([]core.ServiceLog, len(evs))
	for i, ev := range evs {
		body, _ := json.Marshal(ev)
		out[i] = core.ServiceLog{Time: ev.Time, Contents: [][2]string{{"event", string(body)}}}
	}
	return out
}

// ossGroup is the records of one OSS object: one account, one region, one day.
type ossGroup struct {
	account, region, day string
	events               []*core.Event
}

func (s *Service) deliverOSS(p pending, now time.Time) {
	err := s.probeOSS(p.snap)
	done := 0
	_, oss := s.backends()
	if err == nil && oss == nil {
		err = fmt.Errorf("BucketDoesNotExistException: OSS is not available")
	}
	if err == nil && len(p.events) > 0 {
		// Objects go out in queue order, so a failure leaves a contiguous undelivered tail.
		groups := groupForOSS(p.events)
		for _, g := range groups {
			key, body, e := ossObject(p.snap, g, now)
			if e == nil {
				e = oss.ServicePut(p.snap.OssBucketName, key, body, "application/octet-stream")
			}
			if e != nil {
				err = fmt.Errorf("OssWriteError: %v", e)
				break
			}
			done += len(g.events)
		}
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	same := p.t.OssBucketName == p.snap.OssBucketName && p.t.OssWriteRoleArn == p.snap.OssWriteRoleArn && p.t.OssKeyPrefix == p.snap.OssKeyPrefix
	s.commit(&p.t.oss, p.snap.Owner+"/"+p.snap.Name+" oss", p.gen, done, msg, same, now)
}

// groupForOSS splits records into runs of the same account, region and day, keeping queue order.
func groupForOSS(evs []*core.Event) []ossGroup {
	var out []ossGroup
	index := map[string]int{}
	for _, ev := range evs {
		day := ev.Time.UTC().Format("2006/01/02")
		k := ev.RecipientAccountID + "|" + ev.AcsRegion + "|" + day
		i, ok := index[k]
		// A key seen before but not the last group would reorder records; start a new run instead.
		if !ok || i != len(out)-1 {
			out = append(out, ossGroup{account: ev.RecipientAccountID, region: ev.AcsRegion, day: day})
			i = len(out) - 1
			index[k] = i
		}
		out[i].events = append(out[i].events, ev)
	}
	return out
}

// ossObject builds one gzip JSON-array object under the real ActionTrail layout:
// single-account  <prefix>/AliyunLogs/Actiontrail/<region>/<YYYY>/<MM>/<DD>/Actiontrail_<region>_<YYYYMMDDHHMMSS>_1002_<count>_<size>_<md5>.gz
// multi-account   <prefix>/AliyunLogs/Actiontrail/<rd id>/<account id>/<region>/<YYYY>/<MM>/<DD>/...
// (ActionTrail FAQ "What is the storage path of an event that is delivered to an OSS bucket?").
func ossObject(t trailSnapshot, g ossGroup, now time.Time) (string, []byte, error) {
	raw, err := json.Marshal(g.events)
	if err != nil {
		return "", nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", nil, err
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	body := buf.Bytes()
	sum := md5.Sum(body)
	region := g.region
	if region == "" {
		region = t.HomeRegion
	}
	parts := []string{}
	if p := strings.Trim(t.OssKeyPrefix, "/"); p != "" {
		parts = append(parts, p)
	}
	parts = append(parts, "AliyunLogs", "Actiontrail")
	if t.IsOrganization {
		parts = append(parts, t.OrganizationID, g.account)
	}
	file := fmt.Sprintf("Actiontrail_%s_%s_1002_%d_%d_%s.gz", region, now.UTC().Format("20060102150405"), len(g.events), len(body), hex.EncodeToString(sum[:]))
	parts = append(parts, region, g.day, file)
	return strings.Join(parts, "/"), body, nil
}
