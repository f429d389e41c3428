package core

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchPattern(t *testing.T) {
	event := `{"source":"acs.actiontrail","type":"resourcemanager:ActionTrail:ApiCall","data":{"eventName":"CreateResourceAccount","eventRW":"Write","tags":["a","b"]}}`
	cases := []struct {
		name, pattern string
		want          bool
	}{
		{"empty pattern matches all", `{}`, true},
		{"source list", `{"source":["acs.actiontrail"]}`, true},
		{"source list miss", `{"source":["acs.ecs"]}`, false},
		{"nested event name", `{"data":{"eventName":["AcceptHandshake","CreateResourceAccount"]}}`, true},
		{"nested miss", `{"data":{"eventName":["DeleteAccount"]}}`, false},
		{"prefix", `{"type":[{"prefix":"resourcemanager:"}]}`, true},
		{"suffix", `{"type":[{"suffix":":ApiCall"}]}`, true},
		{"suffix miss", `{"type":[{"suffix":":ConsoleOperation"}]}`, false},
		{"anything-but list", `{"data":{"eventRW":[{"anything-but":["Read"]}]}}`, true},
		{"anything-but hit", `{"data":{"eventRW":[{"anything-but":"Write"}]}}`, false},
		{"exists true", `{"data":{"eventName":[{"exists":true}]}}`, true},
		{"exists false on missing", `{"data":{"errorCode":[{"exists":false}]}}`, true},
		{"missing key", `{"data":{"errorCode":["x"]}}`, false},
		{"array value any", `{"data":{"tags":["b"]}}`, true},
		{"object where scalar", `{"source":{"x":["y"]}}`, false},
	}
	ev := decode(t, event)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchPattern(decode(t, tc.pattern), ev); got != tc.want {
				t.Fatalf("MatchPattern(%s) = %v, want %v", tc.pattern, got, tc.want)
			}
		})
	}
}

func FuzzMatchPattern(f *testing.F) {
	f.Add(`{"data":{"eventName":["A",{"prefix":"C"}]}}`, `{"data":{"eventName":"CreateResourceAccount"}}`)
	f.Add(`{"a":[{"anything-but":{"prefix":"x"}}]}`, `{"a":["x1",2,null]}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		var p, e map[string]any
		if json.Unmarshal([]byte(pattern), &p) != nil || json.Unmarshal([]byte(event), &e) != nil {
			return
		}
		MatchPattern(p, e) // must not panic on any shape
	})
}

func TestBusDeliversMatchingWriteRecordsInOrderOverHTTP(t *testing.T) {
	w := NewWorld("cn-hangzhou", nil)
	w.Mu.Lock()
	w.EnableDirectoryLocked(NewAccountID(), "mgmt")
	w.Mu.Unlock()
	defer w.Bus.Close()
	var mu sync.Mutex
	var got []CloudEvent
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ce CloudEvent
		if err := json.NewDecoder(r.Body).Decode(&ce); err != nil {
			t.Errorf("decode: %v", err)
		}
		mu.Lock()
		got = append(got, ce)
		mu.Unlock()
	}))
	defer srv.Close()
	pattern := json.RawMessage(`{"source":["acs.actiontrail"],"data":{"eventName":["CreateResourceAccount","AcceptHandshake"]}}`)
	if _, err := w.Bus.Subscribe("", pattern, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	w.Recorder.OnRecord(w.Bus.PublishRecord)
	mk := func(name, rw string) *Event {
		return &Event{EventName: name, EventRW: rw, EventType: "ApiCall", EventSource: "resourcemanager.aliyuncs.com", RecipientAccountID: w.ManagementAccountID, AcsRegion: "cn-hangzhou"}
	}
	w.Recorder.Record(mk("CreateResourceAccount", "Write"))
	w.Recorder.Record(mk("ListAccounts", "Read"))
	w.Recorder.Record(mk("CreateFolder", "Write"))
	w.Recorder.Record(mk("AcceptHandshake", "Write"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Data.EventName != "CreateResourceAccount" || got[1].Data.EventName != "AcceptHandshake" {
		t.Fatalf("delivered %+v", got)
	}
	if got[0].Type != "resourcemanager:ActionTrail:ApiCall" || got[0].Source != "acs.actiontrail" || got[0].SpecVersion != "1.0" || got[0].AliyunAccountID != w.ManagementAccountID {
		t.Fatalf("envelope %+v", got[0])
	}
}

func TestRecorderWindowIsOrderedAndBounded(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := NewWorld("cn-hangzhou", clock)
	base := clock.Now()
	var seeded []*Event
	for _, h := range []int{5, 1, 3} {
		seeded = append(seeded, &Event{EventName: "E", RecipientAccountID: "a", Time: base.Add(time.Duration(h) * time.Hour)})
	}
	w.Recorder.Seed(seeded)
	got := w.Recorder.Window("a", base.Add(2*time.Hour), base.Add(5*time.Hour))
	if len(got) != 1 || !got[0].Time.Equal(base.Add(3*time.Hour)) {
		t.Fatalf("window = %+v", got)
	}
	all := w.Recorder.Window("a", base, base.Add(24*time.Hour))
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatal("not ordered")
		}
	}
	if all[0].EventID == "" || all[0].EventTime != base.Add(time.Hour).Format(EventTimeFormat) {
		t.Fatalf("fields not filled: %+v", all[0])
	}
}

func TestFaultsDecide(t *testing.T) {
	f := NewFaults()
	f.Set(FaultConfig{
		ActionLatencyMs: map[string]int{"ListAccounts": 30},
		Scripts:         []FaultRule{{Action: "CreateTrail", Count: 2, Status: 500, Code: "InternalError"}},
		RateLimits:      []RateLimit{{Action: "LookupEvents", PerSecond: 2, Burst: 2, PerAccount: true}},
		Seed:            7,
	})
	if d := f.Decide("ResourceManager", "ListAccounts", "a"); d.Latency != 30*time.Millisecond || d.Failed() {
		t.Fatalf("latency decision %+v", d)
	}
	for i := 0; i < 2; i++ {
		if d := f.Decide("Actiontrail", "CreateTrail", "a"); d.Code != "InternalError" {
			t.Fatalf("scripted call %d: %+v", i, d)
		}
	}
	if d := f.Decide("Actiontrail", "CreateTrail", "a"); d.Failed() {
		t.Fatalf("script should be used up: %+v", d)
	}
	var throttled int
	for i := 0; i < 3; i++ {
		if f.Decide("Actiontrail", "LookupEvents", "a").Throttled {
			throttled++
		}
	}
	if throttled != 1 {
		t.Fatalf("account a throttled %d of 3 calls, want 1", throttled)
	}
	if f.Decide("Actiontrail", "LookupEvents", "b").Throttled {
		t.Fatal("account b has its own bucket")
	}
	f.Set(FaultConfig{ThrottleRate: 0.5, Seed: 1})
	n := 0
	for i := 0; i < 1000; i++ {
		if f.Decide("x", "y", "z").Throttled {
			n++
		}
	}
	if n < 400 || n > 600 {
		t.Fatalf("50%% throttle rate gave %d/1000", n)
	}
}

func TestParseTrustPolicy(t *testing.T) {
	acc, svc := ParseTrustPolicy(TrustPolicyForAccounts("111", "222"))
	if len(acc) != 2 || acc[0] != "111" || acc[1] != "222" || len(svc) != 0 {
		t.Fatalf("accounts %v services %v", acc, svc)
	}
	_, svc = ParseTrustPolicy(TrustPolicyForServices("actiontrail.aliyuncs.com"))
	if len(svc) != 1 || svc[0] != "actiontrail.aliyuncs.com" {
		t.Fatalf("services %v", svc)
	}
	if a, s := ParseTrustPolicy("not json"); a != nil || s != nil {
		t.Fatal("garbage trusts nobody")
	}
}
