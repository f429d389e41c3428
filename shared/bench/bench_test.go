package bench

import (
	"bytes"
	"context"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/resourcemanager"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// The function binaries pace with cloud.DefaultLimits; the bench's table must say the same, or
// localcloud would throttle a correctly paced client (or never bind it).
func TestLimitsMirrorTheClientDefaults(t *testing.T) {
	def := cloud.DefaultLimits()
	for _, l := range Limits {
		d, ok := def[l.API]
		if !ok {
			t.Errorf("%s: API key %q is not in cloud.DefaultLimits", l.Name, l.API)
			continue
		}
		if d.PerSecond != l.PerSecond || d.Burst != l.Burst {
			t.Errorf("%s: bench %v/s burst %d, client %v/s burst %d", l.Name, l.PerSecond, l.Burst, d.PerSecond, d.Burst)
		}
	}
	got := ClientLimits(Limits)
	for k, v := range got {
		if def[k] != v {
			t.Errorf("ClientLimits[%q] = %+v, DefaultLimits has %+v", k, v, def[k])
		}
	}
}

func TestServerRateLimits(t *testing.T) {
	rl := ServerRateLimits(Limits)
	byProduct := map[string]core.RateLimit{}
	for _, l := range rl {
		if !l.PerAccount {
			t.Errorf("%s: localcloud must count per caller account, as the cloud does", l.Product)
		}
		byProduct[l.Product+"/"+l.Action] = l
	}
	tests := []struct {
		key       string
		present   bool
		perSecond float64
		burst     int
	}{
		{"ResourceManager/", true, 20, 21},
		{"Actiontrail/", true, 20, 21},
		{"Sts/", true, 50, 51},
		{"Ram/", true, 20, 21},
		{"Sls/", true, 5, 6},
		{"Actiontrail/LookupEvents", false, 0, 0}, // ActionTrail's own limiter enforces it
		{"log/", false, 0, 0},                     // client pacing only
		{"oss/", false, 0, 0},
	}
	for _, tc := range tests {
		l, ok := byProduct[tc.key]
		if ok != tc.present {
			t.Errorf("%s: present %v, want %v", tc.key, ok, tc.present)
			continue
		}
		if ok && (l.PerSecond != tc.perSecond || l.Burst != tc.burst) {
			t.Errorf("%s: %v/s burst %d, want %v/s burst %d", tc.key, l.PerSecond, l.Burst, tc.perSecond, tc.burst)
		}
	}
}

func TestComputeFloor(t *testing.T) {
	tests := []struct {
		name       string
		calls      []CallCount
		seconds    float64
		burst      float64
		bottleneck string
	}{
		{name: "no calls"},
		{
			name: "one bucket: 101 pages of ListAccounts at 20/s",
			calls: []CallCount{
				{Product: "ResourceManager", Action: "ListAccounts", Account: "1", Calls: 101},
			},
			seconds: 5.05, burst: 4.05, bottleneck: "ResourceManager:ListAccounts",
		},
		{
			name: "actions of one product have their own buckets: the slowest wins, they do not add up",
			calls: []CallCount{
				{Product: "ResourceManager", Action: "ListAccounts", Calls: 40},
				{Product: "ResourceManager", Action: "ListFoldersForParent", Calls: 60},
			},
			seconds: 3, burst: 2, bottleneck: "ResourceManager:ListFoldersForParent",
		},
		{
			name: "the same action from two accounts shares the client's bucket",
			calls: []CallCount{
				{Product: "Sls", Action: "DescribeApp", Account: "1", Calls: 6},
				{Product: "Sls", Action: "DescribeApp", Account: "2", Calls: 4},
			},
			seconds: 2, burst: 1, bottleneck: "Sls:DescribeApp",
		},
		{
			name: "LookupEvents is limited per account",
			calls: []CallCount{
				{Product: "Actiontrail", Action: "LookupEvents", Account: "1", Calls: 40},
				{Product: "Actiontrail", Action: "LookupEvents", Account: "2", Calls: 30},
				{Product: "Actiontrail", Action: "DescribeTrails", Account: "1", Calls: 2},
			},
			seconds: 20, burst: 19.5, bottleneck: "Actiontrail:LookupEvents:1",
		},
		{
			name: "SLS and OSS are paced by the client only: no floor",
			calls: []CallCount{
				{Product: "oss", Action: "PutObject", Calls: 5000},
				{Product: "log", Action: "PutLogs", Calls: 5000},
				{Product: "Sts", Action: "AssumeRole", Calls: 25},
			},
			seconds: 0.5, burst: 0, bottleneck: "Sts:AssumeRole",
		},
		{
			name:    "product names match without regard to case",
			calls:   []CallCount{{Product: "resourcemanager", Action: "GetAccount", Calls: 10}},
			seconds: 0.5, bottleneck: "resourcemanager:GetAccount",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ComputeFloor(tc.calls, Limits)
			if math.Abs(f.Seconds-tc.seconds) > 1e-9 || math.Abs(f.BurstSeconds-tc.burst) > 1e-9 || f.Bottleneck != tc.bottleneck {
				t.Fatalf("floor %v s (burst-aware %v s) at %q, want %v s (%v s) at %q", f.Seconds, f.BurstSeconds, f.Bottleneck, tc.seconds, tc.burst, tc.bottleneck)
			}
			if len(f.Buckets) > 5 {
				t.Fatalf("%d buckets reported, at most 5", len(f.Buckets))
			}
		})
	}
}

func TestNeededCallsDropsThrottled(t *testing.T) {
	rows := []core.StatRow{
		{StatKey: core.StatKey{Product: "ResourceManager", Action: "ListAccounts", Account: "1"}, Calls: 105, Throttled: 4, Errors: 4},
		{StatKey: core.StatKey{Product: "Sls", Action: "DescribeApp", Account: "1"}, Calls: 2, Errors: 1}, // AppNotExist is a needed answer
		{StatKey: core.StatKey{Product: "Sts", Action: "AssumeRole", Account: "1"}, Calls: 3, Throttled: 3},
	}
	got := NeededCalls(rows)
	want := map[string]int64{"ListAccounts": 101, "DescribeApp": 2}
	if len(got) != len(want) {
		t.Fatalf("needed calls %+v, want %v", got, want)
	}
	for _, c := range got {
		if want[c.Action] != c.Calls {
			t.Errorf("%s: %d needed, want %d", c.Action, c.Calls, want[c.Action])
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted on purpose
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(5, 1, 3), 50, 3 * time.Millisecond},
		{"median of even is the lower (nearest rank)", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p1 of 100", ms(hundred...), 1, time.Millisecond},
		{"p0 is nothing", ms(1, 2), 0, 0},
		{"beyond 100 is the max", ms(1, 2), 150, 2 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.samples...)
			if got := Percentile(tc.samples, tc.p); got != tc.want {
				t.Fatalf("Percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.samples[i] {
					t.Fatal("Percentile reordered its argument")
				}
			}
		})
	}
}

func TestAbsorbStatsSeparatesBookkeepingFromConfigWrites(t *testing.T) {
	row := func(product, action string, write bool, calls, throttled, errs int64) core.StatRow {
		return core.StatRow{StatKey: core.StatKey{Product: product, Action: action, Account: "1"}, Write: write, Calls: calls, Throttled: throttled, Errors: errs}
	}
	var r Result
	r.absorbStats([]core.StatRow{
		row("oss", "PutObject", true, 4, 0, 0),
		row("oss", "DeleteMultipleObjects", true, 1, 0, 0),
		row("oss", "PutBucketPolicy", true, 1, 0, 0),
		row("Sls", "AnalyzeAppLog", true, 1, 0, 0),
		row("ResourceManager", "ListAccounts", false, 105, 4, 4),
		row("Sts", "AssumeRole", true, 3, 0, 0),
	})
	if r.Calls != 115 || r.WriteCalls != 10 || r.StateWrites != 5 || r.CredentialCalls != 3 || r.ConfigWrites != 2 || r.Throttled != 4 {
		t.Fatalf("calls %d writes %d state %d credentials %d config %d throttled %d", r.Calls, r.WriteCalls, r.StateWrites, r.CredentialCalls, r.ConfigWrites, r.Throttled)
	}
	if r.ThrottledByAction["ResourceManager:ListAccounts"] != 4 || r.CallsByAction["oss:PutObject"] != 4 {
		t.Fatalf("by action: %v %v", r.ThrottledByAction, r.CallsByAction)
	}
	r.discount("Sls:AnalyzeAppLog", 1, true)
	if r.ConfigWrites != 1 || r.Calls != 114 {
		t.Fatalf("after discount: config writes %d, calls %d", r.ConfigWrites, r.Calls)
	}
	if _, ok := r.CallsByAction["Sls:AnalyzeAppLog"]; ok {
		t.Fatal("a discounted action with no calls left is still listed")
	}
}

func TestPageLogTimesPages(t *testing.T) {
	var sink bytes.Buffer
	p := &pageLog{next: &sink, pages: map[string][]pageMark{}}
	lines := []string{
		`{"component":"backfill","account":"111","copied":50,"message":"backfill page"}`,
		`{"component":"backfill","account":"111","message":"backfill job created"}`,
		`{"component":"backfill","account":"222","copied":50,"message":"backfill page"}`,
		`not json at all "backfill page"`,
		`{"component":"backfill","account":"111","copied":100,"message":"backfill page"}`,
	}
	for _, l := range lines {
		if _, err := io.WriteString(p, l+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(sink.String(), "\n"); got != len(lines) {
		t.Fatalf("%d lines passed on, want %d", got, len(lines))
	}
	if n := len(p.pages["111"]); n != 2 {
		t.Fatalf("account 111: %d pages, want 2", n)
	}
	p.pages["111"][0].at = p.pages["111"][1].at.Add(-500 * time.Millisecond)
	rate, pages := p.steady("111")
	if pages != 2 || math.Abs(rate-100) > 1e-6 {
		t.Fatalf("steady rate %v over %d pages, want 100 over 2", rate, pages)
	}
	if rate, pages := p.steady("222"); rate != 0 || pages != 1 {
		t.Fatalf("one page: rate %v pages %d, want 0 and 1", rate, pages)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{"defaults", Options{}, ""},
		{"quick", Options{Quick: true}, ""},
		{"unknown case", Options{Only: []string{"reconcile", "speed"}}, `only: "speed" is not a case`},
		{"size zero", Options{Sizes: []int{0}}, "sizes: 0 must be from 1 to 100000"},
		{"negative events", Options{Events: -1}, "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			err := o.defaults()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
	o := Options{Quick: true}
	_ = o.defaults()
	if len(o.Sizes) != 2 || o.Sizes[0] != 100 || o.Sizes[1] != 1000 || o.LatencyMs != 30 || o.Events != 200 {
		t.Fatalf("quick defaults: %+v", o)
	}
}

func TestReportPrintsVerdicts(t *testing.T) {
	rep := &Report{Host: hostInfo(), Settings: Settings{LatencyMs: 30}}
	ok := &Result{Name: "a", WallSeconds: 1.5, Floor: &Floor{Seconds: 1.2, Bottleneck: "x:y"}, Ratio: 1.25}
	ok.target("ratio", "<= 1.25", "1.25", true)
	bad := &Result{Name: "b"}
	bad.target("p99", "< 1 s", "1.2 s", false)
	bad.targetNA("ratio", "<= 1.25", "3", "floor 0.1 s < 1 s")
	broken := &Result{Name: "c", Error: "localcloud: boom\nmore"}
	rep.Results = []*Result{ok, bad, broken}
	var out bytes.Buffer
	rep.Print(&out)
	s := out.String()
	for _, want := range []string{"PASS", "FAIL", "n/a", "1 passed, 2 failed", "ERROR: localcloud: boom", "floor 0.1 s < 1 s"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if rep.Failed() != 2 {
		t.Fatalf("Failed() = %d, want 2", rep.Failed())
	}
}

// A client paced by ClientLimits is never throttled by a localcloud enforcing ServerRateLimits,
// and is held to the documented rate.
func TestPacedClientIsNotThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a second and a half")
	}
	srv, err := localcloud.Start(localcloud.Options{Members: 3, Faults: core.FaultConfig{LatencyMs: 2, RateLimits: ServerRateLimits(Limits)}, NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sess, err := srv.CloudInfo().Session(cloud.WithLimits(ClientLimits(Limits)))
	if err != nil {
		t.Fatal(err)
	}
	const calls = 50 // 20 at once (the burst), then 30 at 20/s: 1.5 s at least
	started := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rm, err := sess.ResourceManager()
			if err != nil {
				errs <- err
				return
			}
			errs <- sess.Do(context.Background(), "resourcemanager:GetResourceDirectory", func() error {
				_, err := rm.GetResourceDirectory(resourcemanager.CreateGetResourceDirectoryRequest())
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(started)
	n, _, throttled := srv.World.Stats.Sum("ResourceManager", "GetResourceDirectory")
	if n != calls || throttled != 0 {
		t.Fatalf("%d calls reached localcloud, %d throttled; want %d and 0", n, throttled, calls)
	}
	if floor := time.Duration(float64(calls-20) / 20 * float64(time.Second)); took < floor-50*time.Millisecond {
		t.Fatalf("%d calls took %v: faster than the 20/s limit allows (%v)", calls, took, floor)
	}
	f := ComputeFloor(NeededCalls(srv.World.Stats.Snapshot()), Limits)
	if f.Bottleneck != "ResourceManager:GetResourceDirectory" || f.Seconds != 2.5 {
		t.Fatalf("floor %+v, want 2.5 s at ResourceManager:GetResourceDirectory", f)
	}
}
