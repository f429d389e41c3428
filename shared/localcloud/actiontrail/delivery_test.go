package actiontrail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	atsdk "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/rs/zerolog"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// startTrail creates and starts a trail through the SDK.
func startTrail(t *testing.T, f *fixture, key *core.AccessKey, r *atsdk.CreateTrailRequest) {
	t.Helper()
	c := f.client(t, key)
	if _, err := c.CreateTrail(r); err != nil {
		t.Fatal(err)
	}
	s := atsdk.CreateStartLoggingRequest()
	s.Name = r.Name
	if _, err := c.StartLogging(s); err != nil {
		t.Fatal(err)
	}
}

// slsEvents decodes the "event" field of every log written to a Logstore.
func slsEvents(t *testing.T, logs []fakeLog) []core.Event {
	t.Helper()
	out := make([]core.Event, 0, len(logs))
	for _, l := range logs {
		if l.topic != SLSTopic || len(l.log.Contents) != 1 || l.log.Contents[0][0] != "event" {
			t.Fatalf("log shape: topic %q contents %v", l.topic, l.log.Contents)
		}
		var ev core.Event
		if err := json.Unmarshal([]byte(l.log.Contents[0][1]), &ev); err != nil {
			t.Fatal(err)
		}
		if !l.log.Time.Equal(mustTime(t, ev.EventTime)) {
			t.Fatalf("log time %v, event time %s", l.log.Time, ev.EventTime)
		}
		out = append(out, ev)
	}
	return out
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(core.EventTimeFormat, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ids(evs []core.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.EventID
	}
	return out
}

// ossEvents reads every delivered object of a bucket, checking the key layout.
func ossEvents(t *testing.T, f *fixture, bucket string, keyRE *regexp.Regexp) []core.Event {
	t.Helper()
	objs := f.oss.objectsIn(bucket)
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []core.Event
	for _, k := range keys {
		m := keyRE.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("object key %q does not match %s", k, keyRE)
		}
		zr, err := gzip.NewReader(bytes.NewReader(objs[k]))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		raw, _ := io.ReadAll(zr)
		var evs []core.Event
		if err := json.Unmarshal(raw, &evs); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if !strings.Contains(k, "_"+strconv.Itoa(len(evs))+"_"+strconv.Itoa(len(objs[k]))+"_") {
			t.Fatalf("key %s does not carry count %d and size %d", k, len(evs), len(objs[k]))
		}
		out = append(out, evs...)
	}
	return out
}

func TestLiveDeliveryToSLSAndOSS(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.oss.setBucket("audit-archive", mgmt)
	r := createReq("main-trail")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	r.OssBucketName, r.OssKeyPrefix = "audit-archive", "at-logs"
	r.EventRW = "Write"
	r.TrailRegion = "cn-hangzhou"
	startTrail(t, f, f.mgmt, r)

	want := []string{}
	for i := 0; i < 5; i++ {
		want = append(want, f.record(mgmt, "RunInstances", "Write", "cn-hangzhou").EventID)
	}
	f.record(mgmt, "DescribeInstances", "Read", "cn-hangzhou") // EventRW filter
	f.record(mgmt, "RunInstances", "Write", "cn-beijing")      // TrailRegion filter
	f.record(f.member, "RunInstances", "Write", "cn-hangzhou") // another account
	old := &core.Event{EventName: "RunInstances", EventRW: "Write", AcsRegion: "cn-hangzhou", RecipientAccountID: mgmt, Time: f.clock.Now().Add(-time.Hour)}
	f.w.Recorder.Record(old) // older than StartLoggingTime: backfill's business
	f.svc.Flush()

	got := slsEvents(t, f.sls.written("audit-central", "actiontrail_main-trail"))
	// The StartLogging call itself is the first record the trail delivers.
	if len(got) != 6 || got[0].EventName != "StartLogging" {
		t.Fatalf("SLS got %d records: %v", len(got), ids(got))
	}
	if strings.Join(ids(got[1:]), ",") != strings.Join(want, ",") {
		t.Fatalf("SLS records %v, want %v", ids(got[1:]), want)
	}
	keyRE := regexp.MustCompile(`^at-logs/AliyunLogs/Actiontrail/cn-hangzhou/\d{4}/\d{2}/\d{2}/Actiontrail_cn-hangzhou_\d{14}_1002_\d+_\d+_[0-9a-f]{32}\.gz$`)
	ossGot := ossEvents(t, f, "audit-archive", keyRE)
	if strings.Join(ids(ossGot), ",") != strings.Join(ids(got), ",") {
		t.Fatalf("OSS records %v, SLS records %v", ids(ossGot), ids(got))
	}
	st := atsdk.CreateGetTrailStatusRequest()
	st.Name = "main-trail"
	status, err := f.client(t, f.mgmt).GetTrailStatus(st)
	if err != nil {
		t.Fatal(err)
	}
	if status.LatestDeliveryTime == "" || status.LatestDeliveryLogServiceTime == "" || status.LatestDeliveryError != "" ||
		status.LatestDeliveryLogServiceError != "" || !status.OssBucketStatus || !status.SlsLogStoreStatus {
		t.Fatalf("status = %+v", status)
	}

	// A stopped trail delivers the record of its own StopLogging, then nothing more.
	stop := atsdk.CreateStopLoggingRequest()
	stop.Name = "main-trail"
	if _, err := f.client(t, f.mgmt).StopLogging(stop); err != nil {
		t.Fatal(err)
	}
	f.record(mgmt, "RunInstances", "Write", "cn-hangzhou")
	f.svc.Flush()
	got = slsEvents(t, f.sls.written("audit-central", "actiontrail_main-trail"))
	if len(got) != 7 || got[6].EventName != "StopLogging" {
		t.Fatalf("after stop: %d records, last %s", len(got), got[len(got)-1].EventName)
	}
}

func TestOSSBatchesWaitForTheWindow(t *testing.T) {
	f := newFixture(t, Options{OSSBatchWindow: 10 * time.Second})
	mgmt := f.w.ManagementAccountID
	f.oss.setBucket("audit-archive", mgmt)
	r := createReq("oss-only")
	r.OssBucketName = "audit-archive"
	startTrail(t, f, f.mgmt, r)
	f.record(mgmt, "RunInstances", "Write", "cn-hangzhou")
	f.svc.Tick()
	if n := len(f.oss.objectsIn("audit-archive")); n != 0 {
		t.Fatalf("%d objects before the batch window passed", n)
	}
	f.clock.Advance(10 * time.Second)
	f.svc.Tick()
	if n := len(f.oss.objectsIn("audit-archive")); n != 1 {
		t.Fatalf("%d objects after the window, want 1 batch", n)
	}
}

func TestMissingDestinationIsReportedAndNothingIsLost(t *testing.T) {
	var logBuf bytes.Buffer
	lg := zerolog.New(&logBuf)
	f := newFixture(t, Options{Logger: &lg})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.oss.setBucket("audit-archive", mgmt)
	r := createReq("resilient")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	r.OssBucketName = "audit-archive"
	startTrail(t, f, f.mgmt, r)
	f.svc.Flush()
	status := func() *atsdk.GetTrailStatusResponse {
		t.Helper()
		st := atsdk.CreateGetTrailStatusRequest()
		st.Name = "resilient"
		resp, err := f.client(t, f.mgmt).GetTrailStatus(st)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// Both destinations disappear; records keep coming.
	f.sls.dropProject("audit-central")
	f.oss.setBucket("audit-archive", "")
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, f.record(mgmt, "CreateVpc", "Write", "cn-hangzhou").EventID)
	}
	f.svc.Flush()
	s := status()
	if s.SlsLogStoreStatus || s.OssBucketStatus || !strings.Contains(s.LatestDeliveryLogServiceError, "SlsProjectDoesNotExistException") ||
		!strings.Contains(s.LatestDeliveryError, "BucketDoesNotExistException") || !s.IsLogging {
		t.Fatalf("status while broken = %+v", s)
	}
	f.svc.Flush() // retries do not duplicate or lose anything either

	// SLS comes back as a project that refuses writes: still an error, still queued.
	f.sls.addProject(mgmt, "audit-central")
	f.sls.setWriteErr(errors.New("WriteQuotaExceed"))
	f.svc.Flush()
	if s := status(); s.SlsLogStoreStatus || !strings.Contains(s.LatestDeliveryLogServiceError, "WriteQuotaExceed") {
		t.Fatalf("status while unwritable = %+v", s)
	}

	// Fixed: everything queued arrives, once, in order; the Logstore was recreated.
	f.sls.setWriteErr(nil)
	f.oss.setBucket("audit-archive", mgmt)
	f.svc.Flush()
	gotSLS := ids(slsEvents(t, f.sls.written("audit-central", "actiontrail_resilient")))
	if strings.Join(gotSLS, ",") != strings.Join(want, ",") {
		t.Fatalf("SLS after fix %v, want %v", gotSLS, want)
	}
	keyRE := regexp.MustCompile(`^AliyunLogs/Actiontrail/cn-hangzhou/`)
	gotOSS := ids(ossEvents(t, f, "audit-archive", keyRE))
	// The OSS bucket got the StartLogging record first (delivered before the break).
	if len(gotOSS) != 8 || strings.Join(gotOSS[1:], ",") != strings.Join(want, ",") {
		t.Fatalf("OSS after fix %v, want StartLogging + %v", gotOSS, want)
	}
	s = status()
	if !s.SlsLogStoreStatus || !s.OssBucketStatus || s.LatestDeliveryLogServiceError != "" || s.LatestDeliveryError != "" {
		t.Fatalf("status after fix = %+v", s)
	}
	// State changes were logged as JSON, once per change rather than once per attempt.
	logs := logBuf.String()
	if strings.Count(logs, `"message":"trail delivery failed; records stay queued"`) != 3 ||
		!strings.Contains(logs, `"destination":"`+mgmt+`/resilient sls"`) || strings.Count(logs, "trail delivery recovered") != 2 {
		t.Fatalf("logs:\n%s", logs)
	}
}

func TestErrorClearsWhenDestinationReturnsWithoutNewRecords(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	r := createReq("quiet-trail")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	startTrail(t, f, f.mgmt, r)
	f.sls.dropProject("audit-central")
	f.record(mgmt, "CreateVpc", "Write", "cn-hangzhou")
	f.svc.Flush()
	f.sls.addProject(mgmt, "audit-central")
	f.svc.Flush()
	f.svc.Flush()
	f.svc.mu.Lock()
	tr := f.svc.trails[trailKey(mgmt, "quiet-trail")]
	errMsg, queued := tr.sls.lastError, len(tr.sls.queue)
	f.svc.mu.Unlock()
	if errMsg != "" || queued != 0 {
		t.Fatalf("error %q, %d queued", errMsg, queued)
	}
	// Deleting the service-linked role breaks same-account delivery, visibly.
	f.w.Mu.Lock()
	delete(f.w.Roles[mgmt], "aliyunserviceroleforactiontrail")
	f.w.Mu.Unlock()
	f.record(mgmt, "CreateVpc", "Write", "cn-hangzhou")
	f.svc.Flush()
	f.svc.mu.Lock()
	errMsg = tr.sls.lastError
	f.svc.mu.Unlock()
	if !strings.Contains(errMsg, "InsufficientSlsPolicyException") {
		t.Fatalf("error after role deletion = %q", errMsg)
	}
}

func TestOrganizationTrailDeliversEveryDirectoryAccount(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.oss.setBucket("audit-archive", mgmt)
	r := createReq("org-trail")
	r.IsOrganizationTrail = requests.NewBoolean(true)
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	r.OssBucketName = "audit-archive"
	startTrail(t, f, f.mgmt, r)
	m := f.record(f.member, "RunInstances", "Write", "cn-hangzhou")
	g := f.record(mgmt, "CreateVpc", "Write", "cn-shanghai")
	f.record(f.outsider, "RunInstances", "Write", "cn-hangzhou") // not in the directory
	// A member leaving the directory is no longer covered.
	f.w.Mu.Lock()
	left := f.w.AddAccountLocked(core.NewAccountID(), "leaver", "ResourceAccount")
	f.w.Mu.Unlock()
	f.record(left.AccountID, "RunInstances", "Write", "cn-hangzhou")
	f.svc.Flush()
	got := ids(slsEvents(t, f.sls.written("audit-central", "actiontrail_org-trail")))
	if len(got) != 3 || got[1] != m.EventID || got[2] != g.EventID {
		t.Fatalf("org trail delivered %v (member %s, management %s)", got, m.EventID, g.EventID)
	}
	f.w.Mu.RLock()
	rd := f.w.Directory.ResourceDirectoryID
	f.w.Mu.RUnlock()
	keyRE := regexp.MustCompile(`^AliyunLogs/Actiontrail/` + rd + `/(\d+)/(cn-[a-z]+)/\d{4}/\d{2}/\d{2}/Actiontrail_(cn-[a-z]+)_\d{14}_1002_\d+_\d+_[0-9a-f]{32}\.gz$`)
	ossGot := ossEvents(t, f, "audit-archive", keyRE)
	if len(ossGot) != 3 {
		t.Fatalf("OSS got %d records", len(ossGot))
	}
	for k := range f.oss.objectsIn("audit-archive") {
		sm := keyRE.FindStringSubmatch(k)
		if sm[2] != sm[3] || (sm[1] != mgmt && sm[1] != f.member) {
			t.Fatalf("key %s: account/region parts wrong", k)
		}
	}
}

func TestBackgroundWorkerDeliversWithoutFlush(t *testing.T) {
	f := newFixture(t, Options{FlushInterval: 5 * time.Millisecond})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	r := createReq("auto-trail")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	startTrail(t, f, f.mgmt, r)
	f.record(mgmt, "RunInstances", "Write", "cn-hangzhou")
	deadline := time.Now().Add(5 * time.Second)
	for len(f.sls.written("audit-central", "actiontrail_auto-trail")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not deliver within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.svc.Close()
	f.svc.Close() // idempotent
	f.record(mgmt, "RunInstances", "Write", "cn-hangzhou")
	f.svc.Flush()
	if n := len(f.sls.written("audit-central", "actiontrail_auto-trail")); n != 2 {
		t.Fatalf("records after Close were delivered: %d", n)
	}
}

func TestUpdateTrailMovesBacklogToNewProject(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "old-project")
	r := createReq("moving-trail")
	r.SlsProjectArn = slsARN(mgmt, "old-project")
	startTrail(t, f, f.mgmt, r)
	f.sls.dropProject("old-project")
	ev := f.record(mgmt, "RunInstances", "Write", "cn-hangzhou")
	f.svc.Flush()
	f.sls.addProject(mgmt, "new-project")
	up := atsdk.CreateUpdateTrailRequest()
	up.Name, up.SlsProjectArn = "moving-trail", slsARN(mgmt, "new-project")
	if _, err := f.client(t, f.mgmt).UpdateTrail(up); err != nil {
		t.Fatal(err)
	}
	f.svc.Flush()
	got := ids(slsEvents(t, f.sls.written("new-project", "actiontrail_moving-trail")))
	if len(got) < 2 || got[1] != ev.EventID {
		t.Fatalf("new project got %v, want StartLogging and %s first", got, ev.EventID)
	}
}

// Records arriving from many goroutines while the worker and explicit flushes run, and while
// the destination breaks and heals, are each delivered exactly once and in per-writer order.
func TestConcurrentRecordsAreDeliveredExactlyOnce(t *testing.T) {
	f := newFixture(t, Options{FlushInterval: time.Millisecond})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	r := createReq("busy-trail")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	startTrail(t, f, f.mgmt, r)
	const writers, each = 8, 150
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ev := &core.Event{EventName: "W" + strconv.Itoa(g), EventID: fmt.Sprintf("g%d-%04d", g, i), EventRW: "Write",
					AcsRegion: "cn-hangzhou", RecipientAccountID: mgmt}
				f.w.Recorder.Record(ev)
				if i%50 == 0 {
					f.svc.Flush()
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			f.sls.setWriteErr(errors.New("Unavailable"))
			f.svc.Tick()
			f.sls.setWriteErr(nil)
			f.svc.Tick()
		}
	}()
	wg.Wait()
	f.sls.setWriteErr(nil)
	f.svc.Flush()
	got := slsEvents(t, f.sls.written("audit-central", "actiontrail_busy-trail"))
	last := map[string]string{}
	seen := map[string]bool{}
	for _, ev := range got[1:] { // after StartLogging
		if seen[ev.EventID] {
			t.Fatalf("%s delivered twice", ev.EventID)
		}
		seen[ev.EventID] = true
		if ev.EventID <= last[ev.EventName] {
			t.Fatalf("%s after %s: out of order", ev.EventID, last[ev.EventName])
		}
		last[ev.EventName] = ev.EventID
	}
	if len(seen) != writers*each {
		t.Fatalf("%d of %d records delivered", len(seen), writers*each)
	}
}
