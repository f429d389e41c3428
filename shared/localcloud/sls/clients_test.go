package sls

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	"github.com/aliyun/aliyun-log-go-sdk/producer"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	kitlog "github.com/go-kit/kit/log"
)

type countingCallback struct{ ok, failed atomic.Int64 }

func (c *countingCallback) Success(*producer.Result) { c.ok.Add(1) }
func (c *countingCallback) Fail(*producer.Result)    { c.failed.Add(1) }

func TestProducerWritesEverything(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-prod", "bulk", 30)
	cfg := producer.GetDefaultProducerConfig()
	cfg.Endpoint = TestEndpoint
	cfg.CredentialsProvider = slssdk.NewStaticCredentialsProvider(e.key.ID, e.key.Secret, "")
	cfg.HTTPClient = DialingHTTPClient(e.addr())
	cfg.Logger = kitlog.NewNopLogger()
	cfg.LingerMs = 100
	cfg.MaxBatchCount = 500
	cfg.GeneratePackId = true
	// The SDK's metrics reporter races with SafeClose (a bug in the producer, not here).
	cfg.DisableRuntimeMetrics = true
	p, err := producer.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	const total = 3000
	cb := &countingCallback{}
	// The SDK client sets its timeouts lazily on first use, racing when the producer's I/O
	// workers start together; one write waited for first initialises them in one goroutine.
	first := producer.GenerateLog(uint32(testStart.Unix()), map[string]string{"seq": "0", "kind": "0"})
	if err := p.SendLogWithCallBack("p-prod", "bulk", "producer", "", first, cb); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); cb.ok.Load()+cb.failed.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first producer write never completed")
		}
	}
	for i := 1; i < total; i++ {
		l := producer.GenerateLog(uint32(testStart.Unix())+uint32(i%60), map[string]string{"seq": strconv.Itoa(i), "kind": fmt.Sprint(i % 4)})
		if err := p.SendLogWithCallBack("p-prod", "bulk", "producer", "", l, cb); err != nil {
			t.Fatal(err)
		}
	}
	p.SafeClose()
	if cb.ok.Load() != total || cb.failed.Load() != 0 {
		t.Fatalf("callbacks: %d ok, %d failed", cb.ok.Load(), cb.failed.Load())
	}
	logs := e.s.Logs("p-prod", "bulk")
	if len(logs) != total {
		t.Fatalf("stored %d logs, want %d", len(logs), total)
	}
	seen := make([]bool, total)
	for _, l := range logs {
		v, _ := l.Get("seq")
		i, err := strconv.Atoi(v)
		if err != nil || seen[i] {
			t.Fatalf("log seq %q duplicated or invalid", v)
		}
		seen[i] = true
		if l.Topic != "producer" || len(l.Tags) == 0 || l.Tags[0][0] != "__pack_id__" {
			t.Fatalf("producer log = %+v", l)
		}
	}
	c := e.client()
	h, err := c.GetHistograms("p-prod", "bulk", "", testStart.Unix(), testStart.Unix()+60, "kind: 3")
	if err != nil || h.Count != total/4 {
		t.Fatalf("histogram of kind 3 = %+v, %v", h, err)
	}
	// Paging through GetLogs returns each log once.
	got := 0
	for off := int64(0); ; off += 100 {
		resp, err := c.GetLogs("p-prod", "bulk", "", testStart.Unix(), testStart.Unix()+60, "kind: 3", 100, off, false)
		if err != nil {
			t.Fatal(err)
		}
		got += len(resp.Logs)
		if len(resp.Logs) < 100 {
			break
		}
	}
	if got != total/4 {
		t.Fatalf("paged GetLogs returned %d logs, want %d", got, total/4)
	}
}

func TestConsumerLibraryReadsAll(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-cons", "", 0)
	c := e.client()
	// One shard: the SDK client inside the consumer sets its timeouts lazily on first use, and
	// two shard workers starting together race on them (an SDK bug the race detector reports).
	if err := c.CreateLogStore("p-cons", "stream", 30, 1, false, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateIndex("p-cons", "stream", *slssdk.CreateDefaultIndex()); err != nil {
		t.Fatal(err)
	}
	const groups, perGroup = 40, 5
	for i := 0; i < groups; i++ {
		var logs []*slssdk.Log
		for j := 0; j < perGroup; j++ {
			logs = append(logs, mkLog(testStart, "i", strconv.Itoa(i*perGroup+j)))
		}
		if err := c.PutLogs("p-cons", "stream", mkGroup("", "", logs...)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	done := make(chan struct{})
	var once sync.Once
	opt := consumer.LogHubConfig{
		Endpoint: TestEndpoint, AccessKeyID: e.key.ID, AccessKeySecret: e.key.Secret,
		Project: "p-cons", Logstore: "stream", ConsumerGroupName: "readers", ConsumerName: "c1",
		CursorPosition: consumer.BEGIN_CURSOR, HeartbeatIntervalInSecond: 1, DataFetchIntervalInMs: 20,
		HTTPClient: DialingHTTPClient(e.addr()), Logger: kitlog.NewNopLogger(), AutoCommitIntervalInMS: 100,
		DisableRuntimeMetrics: true,
	}
	w := consumer.InitConsumerWorkerWithCheckpointTracker(opt, func(shard int, gl *slssdk.LogGroupList, tr consumer.CheckPointTracker) (string, error) {
		mu.Lock()
		for _, g := range gl.LogGroups {
			for _, l := range g.Logs {
				seen[l.Contents[0].GetValue()] = true
			}
		}
		n := len(seen)
		mu.Unlock()
		tr.SaveCheckPoint(true)
		if n == groups*perGroup {
			once.Do(func() { close(done) })
		}
		return "", nil
	})
	w.Start()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		w.StopAndWait()
		t.Fatalf("consumer read %d of %d logs", n, groups*perGroup)
	}
	w.StopAndWait()
	cps, err := c.GetCheckpoint("p-cons", "stream", "readers")
	if err != nil || len(cps) == 0 {
		t.Fatalf("checkpoints after consuming = %+v, %v", cps, err)
	}
}

func TestWriteQuota(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-wq", "events", 30)
	c := e.client()
	e.s.SetWriteQuota("p-wq", 2)
	put := func() error { return c.PutLogs("p-wq", "events", mkGroup("", "", mkLog(testStart, "k", "v"))) }
	for i := 0; i < 2; i++ {
		if err := put(); err != nil {
			t.Fatalf("write %d inside the quota: %v", i, err)
		}
	}
	slsErr(t, put(), 403, "WriteQuotaExceed")
	// The bucket refills with the world clock; service writes are never limited.
	if err := e.s.ServiceWrite("p-wq", "events", "", "", []core.ServiceLog{{Contents: [][2]string{{"k", "svc"}}}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if err := put(); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	_, _, throttled := e.w.Stats.Sum(Product, "PutLogs")
	if throttled != 1 {
		t.Fatalf("stats count %d throttled PutLogs, want 1", throttled)
	}
	e.s.SetWriteQuota("p-wq", 0)
	for i := 0; i < 10; i++ {
		if err := put(); err != nil {
			t.Fatalf("quota removed, write %d: %v", i, err)
		}
	}
	// A quota may be set before its project exists.
	e.s.SetWriteQuota("p-later", 1)
	e.mustProject("p-later", "events", 30)
	if err := c.PutLogs("p-later", "events", mkGroup("", "", mkLog(testStart, "k", "v"))); err != nil {
		t.Fatal(err)
	}
	slsErr(t, c.PutLogs("p-later", "events", mkGroup("", "", mkLog(testStart, "k", "v"))), 403, "WriteQuotaExceed")
}

func TestFaultsAndStats(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-f", "events", 30)
	c := e.client()

	e.w.Faults.Set(core.FaultConfig{ActionLatencyMs: map[string]int{"GetProject": 60}})
	started := time.Now()
	if _, err := c.GetProject("p-f"); err != nil || time.Since(started) < 60*time.Millisecond {
		t.Fatalf("latency: %v after %v", err, time.Since(started))
	}
	e.w.Faults.Set(core.FaultConfig{})

	e.w.Faults.Script(core.FaultRule{Product: Product, Action: "GetProject", Count: 1, Status: 403, Code: "ProjectForbidden", Message: "The project is forbidden."})
	_, err := c.GetProject("p-f")
	slsErr(t, err, 403, "ProjectForbidden")
	if _, err := c.GetProject("p-f"); err != nil {
		t.Fatalf("the script was for one call: %v", err)
	}

	// A 5xx on a GET is retried by the SDK and then succeeds.
	e.w.Faults.Script(core.FaultRule{Product: Product, Action: "ListLogStores", Count: 1, Status: 503, Code: "ServerBusy", Message: "The server is busy, please try again later."})
	if _, err := c.ListLogStore("p-f"); err != nil {
		t.Fatalf("ListLogStore after one 503: %v", err)
	}

	// Throttling without a code becomes the SLS quota errors.
	e.w.Faults.AddRateLimit(core.RateLimit{Product: Product, Action: "PutLogs", PerSecond: 0.001, Burst: 1})
	put := func() error { return c.PutLogs("p-f", "events", mkGroup("", "", mkLog(testStart, "k", "v"))) }
	if err := put(); err != nil {
		t.Fatal(err)
	}
	slsErr(t, put(), 403, "WriteQuotaExceed")
	e.w.Faults.Set(core.FaultConfig{ThrottleRate: 1, Seed: 1})
	_, err = c.GetLogs("p-f", "events", "", testStart.Unix(), testStart.Unix()+1, "", 10, 0, false)
	slsErr(t, err, 403, "ReadQuotaExceed")

	// A dropped connection is a transport error, not an SLS answer.
	e.w.Faults.Set(core.FaultConfig{TimeoutRate: 1, TimeoutHoldMs: 1, Seed: 1})
	err = put()
	if err == nil {
		t.Fatal("a dropped PutLogs succeeded")
	}
	if se, ok := err.(*slssdk.Error); ok && se.HTTPCode > 0 {
		t.Fatalf("a dropped connection surfaced as an SLS answer: %v", err)
	}
	e.w.Faults.Set(core.FaultConfig{})

	calls, errs, throttled := e.w.Stats.Sum(Product, "PutLogs")
	if calls != 3 || errs != 2 || throttled != 1 {
		t.Fatalf("PutLogs stats: calls %d errors %d throttled %d", calls, errs, throttled)
	}
	found := false
	for _, r := range e.w.Stats.Snapshot() {
		if r.Product == Product && r.Action == "CreateProject" && r.Account == e.owner && r.Write && r.Calls == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no CreateProject stats row for the owner: %+v", e.w.Stats.Snapshot())
	}
}

func TestActionTrailRecords(t *testing.T) {
	e := newEnv(t)
	e.mustProject("p-rec", "events", 30)
	c := e.client()
	if err := c.UpdateLogStore("p-rec", "events", 7, 2); err != nil {
		t.Fatal(err)
	}
	_, _ = e.otherClient().GetProject("p-rec")
	if err := c.PutLogs("p-rec", "events", mkGroup("", "", mkLog(testStart, "k", "v"))); err != nil {
		t.Fatal(err)
	}
	evs := e.w.Recorder.Window(e.owner, testStart.Add(-time.Minute), testStart.Add(time.Minute))
	var names []string
	for _, ev := range evs {
		names = append(names, ev.EventName)
	}
	if fmt.Sprint(names) != "[CreateProject CreateLogStore CreateIndex UpdateLogStore]" {
		t.Fatalf("recorded events = %v (reads and PutLogs are not recorded by default)", names)
	}
	upd := evs[3]
	if upd.EventRW != "Write" || upd.RequestParameters["ProjectName"] != "p-rec" || upd.RequestParameters["LogstoreName"] != "events" ||
		upd.RequestParameters["TTL"] != 7 || upd.UserIdentity.AccountID != e.owner || upd.RecipientAccountID != e.owner || upd.ErrorCode != "" {
		t.Fatalf("UpdateLogStore record = %+v", upd)
	}
	if n := e.w.Recorder.Count(e.other); n != 0 {
		t.Fatalf("a refused read was recorded for the other account: %d", n)
	}
	e.w.Mu.Lock()
	e.w.RecordReads = true
	e.w.Mu.Unlock()
	_, _ = e.otherClient().GetProject("p-rec")
	evs = e.w.Recorder.Window(e.other, testStart.Add(-time.Minute), testStart.Add(time.Minute))
	if len(evs) != 1 || evs[0].EventName != "GetProject" || evs[0].ErrorCode != "Unauthorized" || evs[0].EventRW != "Read" {
		t.Fatalf("refused read with RecordReads = %+v", evs)
	}
}
