package actiontrail

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	atsdk "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func jobStatus(t *testing.T, c *atsdk.Client, id int) *atsdk.GetDeliveryHistoryJobResponse {
	t.Helper()
	g := atsdk.CreateGetDeliveryHistoryJobRequest()
	g.JobId = requests.NewInteger(id)
	resp, err := c.GetDeliveryHistoryJob(g)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDeliveryHistoryJobBackfillsExactlyOnce(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	// 30 days x 10 seeded records, plus two older than 90 days that backfill must not reach.
	SeedHistory(f.w, []string{mgmt}, 30, 10, rand.New(rand.NewSource(7)))
	f.w.Recorder.Seed([]*core.Event{
		{EventName: "Ancient", EventRW: "Write", AcsRegion: "cn-hangzhou", RecipientAccountID: mgmt, Time: f.clock.Now().Add(-100 * 24 * time.Hour)},
		{EventName: "Ancient", EventRW: "Read", AcsRegion: "cn-hangzhou", RecipientAccountID: mgmt, Time: f.clock.Now().Add(-95 * 24 * time.Hour)},
	})
	r := createReq("backfill-trail")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	r.EventRW = "All"
	startTrail(t, f, f.mgmt, r)
	live := f.record(mgmt, "RunInstances", "Write", "cn-hangzhou") // after the trail took effect
	c := f.client(t, f.mgmt)

	cr := atsdk.CreateCreateDeliveryHistoryJobRequest()
	cr.TrailName, cr.ClientToken = "backfill-trail", "token-1"
	created, err := c.CreateDeliveryHistoryJob(cr)
	if err != nil {
		t.Fatal(err)
	}
	if created.JobId <= 0 {
		t.Fatalf("JobId = %d", created.JobId)
	}
	// The same ClientToken is the same job.
	again, err := c.CreateDeliveryHistoryJob(cr)
	if err != nil || again.JobId != created.JobId {
		t.Fatalf("retry with the token: %v %v", again, err)
	}
	// One running job per account.
	cr.ClientToken = "token-2"
	_, err = c.CreateDeliveryHistoryJob(cr)
	mustCode(t, err, "DeliveryHistoryJobRunningException", 400)

	// Another account runs its own job meanwhile.
	f.sls.addProject(f.member, "member-logs")
	mr := createReq("member-trail")
	mr.SlsProjectArn = slsARN(f.member, "member-logs")
	startTrail(t, f, f.memberAK, mr)
	mcr := atsdk.CreateCreateDeliveryHistoryJobRequest()
	mcr.TrailName = "member-trail"
	if _, err := f.client(t, f.memberAK).CreateDeliveryHistoryJob(mcr); err != nil {
		t.Fatalf("second account's job: %v", err)
	}

	s := jobStatus(t, c, created.JobId)
	if s.JobStatus != 0 || s.TrailName != "backfill-trail" || s.HomeRegion != "cn-hangzhou" || len(s.Status) != 1 ||
		s.Status[0].Region != "cn-hangzhou" || s.Status[0].Status != 0 || int(s.JobId) != created.JobId {
		t.Fatalf("initial job = %+v", s)
	}
	start, _ := time.Parse(core.EventTimeFormat, s.StartTime)
	created0, _ := time.Parse(core.EventTimeFormat, s.CreatedTime)
	if created0.Sub(start) != 90*24*time.Hour {
		t.Fatalf("StartTime %s is not 90 days before CreatedTime %s", s.StartTime, s.CreatedTime)
	}
	f.clock.Advance(2 * time.Second)
	f.svc.Tick()
	if s := jobStatus(t, c, created.JobId); s.JobStatus != 1 || s.Status[0].Status != 1 {
		t.Fatalf("after 2s job = %+v", s)
	}
	for _, ev := range slsEvents(t, f.sls.written("audit-central", "actiontrail_backfill-trail")) {
		if ev.EventName != "StartLogging" && ev.EventID != live.EventID && ev.EventName != "CreateDeliveryHistoryJob" && ev.EventName != "CreateTrail" {
			t.Fatalf("history record %s (%s) delivered before the job completed", ev.EventID, ev.EventName)
		}
	}
	f.clock.Advance(3 * time.Second)
	f.svc.Tick()
	f.svc.Tick() // passes after completion do not deliver again
	if s := jobStatus(t, c, created.JobId); s.JobStatus != 2 {
		t.Fatalf("after 5s job = %+v", s)
	}
	f.svc.Flush()

	// History (seeded, minus the ancient), the CreateTrail record, then live records: each once.
	got := slsEvents(t, f.sls.written("audit-central", "actiontrail_backfill-trail"))
	seen := map[string]int{}
	for _, ev := range got {
		seen[ev.EventID]++
		if ev.EventName == "Ancient" {
			t.Fatal("an event older than 90 days was backfilled")
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", id, n)
		}
	}
	all := f.w.Recorder.Window(mgmt, f.clock.Now().Add(-90*24*time.Hour), f.clock.Now().Add(time.Minute))
	for _, ev := range all {
		if seen[ev.EventID] != 1 {
			t.Fatalf("record %s (%s at %s) not delivered exactly once: %d", ev.EventID, ev.EventName, ev.EventTime, seen[ev.EventID])
		}
	}
	if len(got) != len(all) || len(all) < 300+3 || seen[live.EventID] != 1 {
		t.Fatalf("delivered %d, history+live %d", len(got), len(all))
	}

	// A new job may run now; listing shows both, newest first; delete works, then 404.
	cr.ClientToken = "token-3"
	second, err := c.CreateDeliveryHistoryJob(cr)
	if err != nil {
		t.Fatal(err)
	}
	lr := atsdk.CreateListDeliveryHistoryJobsRequest()
	lr.PageSize = requests.NewInteger(1)
	page, err := c.ListDeliveryHistoryJobs(lr)
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount != 2 || page.PageSize != 1 || page.PageNumber != 1 || len(page.DeliveryHistoryJobs) != 1 || int(page.DeliveryHistoryJobs[0].JobId) != second.JobId {
		t.Fatalf("list page 1 = %+v", page)
	}
	lr.PageNumber = requests.NewInteger(2)
	page, _ = c.ListDeliveryHistoryJobs(lr)
	if len(page.DeliveryHistoryJobs) != 1 || int(page.DeliveryHistoryJobs[0].JobId) != created.JobId || page.DeliveryHistoryJobs[0].JobStatus != 2 {
		t.Fatalf("list page 2 = %+v", page)
	}
	del := atsdk.CreateDeleteDeliveryHistoryJobRequest()
	del.JobId = requests.NewInteger(second.JobId)
	if _, err := c.DeleteDeliveryHistoryJob(del); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteDeliveryHistoryJob(del)
	mustCode(t, err, "DeliveryHistoryJobNotFound", 404)
	g := atsdk.CreateGetDeliveryHistoryJobRequest()
	g.JobId = requests.NewInteger(second.JobId)
	_, err = c.GetDeliveryHistoryJob(g)
	mustCode(t, err, "DeliveryHistoryJobNotFound", 404)
	// Another account cannot see the job.
	g.JobId = requests.NewInteger(created.JobId)
	_, err = f.client(t, f.memberAK).GetDeliveryHistoryJob(g)
	mustCode(t, err, "DeliveryHistoryJobNotFound", 404)
}

func TestDeliveryHistoryJobPreconditions(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.oss.setBucket("audit-archive", mgmt)
	c := f.client(t, f.mgmt)
	mk := func(name string, edit func(*atsdk.CreateTrailRequest)) {
		r := createReq(name)
		edit(r)
		if _, err := c.CreateTrail(r); err != nil {
			t.Fatal(err)
		}
	}
	mk("org-wide", func(r *atsdk.CreateTrailRequest) {
		r.IsOrganizationTrail, r.SlsProjectArn = requests.NewBoolean(true), slsARN(mgmt, "audit-central")
	})
	mk("oss-only", func(r *atsdk.CreateTrailRequest) { r.OssBucketName = "audit-archive" })
	job := func(name string) error {
		r := atsdk.CreateCreateDeliveryHistoryJobRequest()
		r.TrailName = name
		_, err := c.CreateDeliveryHistoryJob(r)
		return err
	}
	mustCode(t, job("org-wide"), "InvalidQueryParameter", 400)
	mustCode(t, job("oss-only"), "InvalidQueryParameter", 400)
	mustCode(t, job("no-such-trail"), "TrailNotFoundException", 404)
	mustCode(t, job(""), "MissingParameter.TrailName", 400)

	g := atsdk.CreateGetDeliveryHistoryJobRequest()
	g.JobId = "not-a-number"
	_, err := c.GetDeliveryHistoryJob(g)
	mustCode(t, err, "InvalidParameter.JobId", 400)
	lr := atsdk.CreateListDeliveryHistoryJobsRequest()
	lr.PageSize = requests.NewInteger(101)
	_, err = c.ListDeliveryHistoryJobs(lr)
	mustCode(t, err, "InvalidParameter.PageSize", 400)
}

func TestDeliveryHistoryJobAllowListAndFailure(t *testing.T) {
	f := newFixture(t, Options{RequireDeliveryJobAllowList: true})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	r := createReq("needs-allowlist")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	c := f.client(t, f.mgmt)
	if _, err := c.CreateTrail(r); err != nil {
		t.Fatal(err)
	}
	cr := atsdk.CreateCreateDeliveryHistoryJobRequest()
	cr.TrailName = "needs-allowlist"
	_, err := c.CreateDeliveryHistoryJob(cr)
	mustCode(t, err, "NotSupportDeliveryHistoryJob", 403)
	f.svc.AllowDeliveryHistoryJob(mgmt, true)
	created, err := c.CreateDeliveryHistoryJob(cr)
	if err != nil {
		t.Fatal(err)
	}
	// The destination vanishes before the job delivers: the job fails (3), and a new one may start.
	f.sls.dropProject("audit-central")
	f.clock.Advance(10 * time.Second)
	f.svc.Tick()
	if s := jobStatus(t, c, created.JobId); s.JobStatus != 3 {
		t.Fatalf("job = %+v", s)
	}
	if _, err := c.CreateDeliveryHistoryJob(cr); err != nil {
		t.Fatalf("after a failed job: %v", err)
	}
}

func TestJobIDsAreIntegersOnTheWire(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	r := createReq("wire-check")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	c := f.client(t, f.mgmt)
	if _, err := c.CreateTrail(r); err != nil {
		t.Fatal(err)
	}
	cr := atsdk.CreateCreateDeliveryHistoryJobRequest()
	cr.TrailName = "wire-check"
	resp, err := c.CreateDeliveryHistoryJob(cr)
	if err != nil {
		t.Fatal(err)
	}
	body := resp.GetHttpContentString()
	if want := `"JobId":` + strconv.Itoa(resp.JobId) + `}`; !strings.Contains(body, want) {
		t.Fatalf("body %s lacks the integer %s", body, want)
	}
}

// TestFailNextJobsAfter: planned failures hit the next jobs created, each delivering the oldest
// records of its history up to the limit and then failing (status 3); the job after them
// delivers normally, and a cancelled plan fails nothing.
func TestFailNextJobsAfter(t *testing.T) {
	const history = 10 * 4
	cases := []struct {
		name          string
		jobs, events  int
		cancel        bool
		wantDelivered int // history records in the Logstore after each failing job
		wantFailed    int
	}{
		{name: "before the first record", jobs: 1, events: 0, wantDelivered: 0, wantFailed: 1},
		{name: "partway", jobs: 2, events: 7, wantDelivered: 7, wantFailed: 2},
		{name: "beyond the history", jobs: 1, events: 1000, wantDelivered: history, wantFailed: 1},
		{name: "negative counts as none", jobs: 1, events: -3, wantDelivered: 0, wantFailed: 1},
		{name: "cancelled", jobs: 2, events: 5, cancel: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			mgmt := f.w.ManagementAccountID
			f.sls.addProject(mgmt, "audit-central")
			SeedHistory(f.w, []string{mgmt}, 10, 4, rand.New(rand.NewSource(9)))
			r := createReq("partial")
			r.SlsProjectArn = slsARN(mgmt, "audit-central")
			r.EventRW = "All"
			startTrail(t, f, f.mgmt, r)
			f.svc.FailNextJobsAfter(tc.jobs, tc.events)
			if tc.cancel {
				f.svc.FailNextJobsAfter(0, 0)
			}
			c := f.client(t, f.mgmt)
			// historyIDs is the history records (before the trail took effect) in the Logstore.
			historyIDs := func(end time.Time) []string {
				var ids []string
				for _, ev := range slsEvents(t, f.sls.written("audit-central", "actiontrail_partial")) {
					if mustTime(t, ev.EventTime).Before(end) {
						ids = append(ids, ev.EventID)
					}
				}
				return ids
			}
			oldest := f.w.Recorder.Window(mgmt, time.Time{}, f.clock.Now())
			for i := 0; ; i++ {
				cr := atsdk.CreateCreateDeliveryHistoryJobRequest()
				cr.TrailName = "partial"
				created, err := c.CreateDeliveryHistoryJob(cr)
				if err != nil {
					t.Fatal(err)
				}
				f.clock.Advance(5 * time.Second)
				f.svc.Tick()
				s := jobStatus(t, c, created.JobId)
				end := mustTime(t, s.EndTime)
				ids := historyIDs(end)
				if i < tc.wantFailed {
					if s.JobStatus != JobFailed {
						t.Fatalf("job %d: status %d, want %d (failed)", i+1, s.JobStatus, JobFailed)
					}
					// Each failing job delivers the same oldest records again: what a retry costs.
					want := (i + 1) * tc.wantDelivered
					if len(ids) != want {
						t.Fatalf("after failed job %d: %d history records in the Logstore, want %d", i+1, len(ids), want)
					}
					for k, id := range ids[i*tc.wantDelivered:] {
						if id != oldest[k].EventID {
							t.Fatalf("failed job %d delivered %s as record %d, want the oldest records first (%s)", i+1, id, k, oldest[k].EventID)
						}
					}
					continue
				}
				if s.JobStatus != JobComplete {
					t.Fatalf("job %d after the planned failures: status %d, want %d (complete)", i+1, s.JobStatus, JobComplete)
				}
				if want := tc.wantFailed*tc.wantDelivered + history; len(ids) != want {
					t.Fatalf("after the complete job: %d history records, want %d", len(ids), want)
				}
				break
			}
		})
	}
}
