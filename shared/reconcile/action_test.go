package reconcile

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestApplyOrdersByDependencySkipsDependentsOfFailures(t *testing.T) {
	var mu sync.Mutex
	var order []string
	step := func(id string, err error) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			order = append(order, id)
			mu.Unlock()
			return err
		}
	}
	p := &Plan{}
	p.Add(Action{ID: "project", apply: step("project", nil)})
	p.Add(Action{ID: "logstore", DependsOn: []string{"project"}, apply: step("logstore", nil)})
	p.Add(Action{ID: "bucket", apply: step("bucket", errors.New("AccessDenied"))})
	p.Add(Action{ID: "trail", DependsOn: []string{"logstore", "bucket"}, apply: step("trail", nil)})
	p.Add(Action{ID: "start", DependsOn: []string{"trail"}, apply: step("start", nil)})
	p.Add(Action{ID: "audit", apply: step("audit", nil)})
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	res := Apply(context.Background(), p, 4)
	want := map[string]Outcome{"project": Applied, "logstore": Applied, "bucket": Failed, "trail": Skipped, "start": Skipped, "audit": Applied}
	for _, r := range res {
		if r.Outcome != want[r.ID] {
			t.Errorf("%s: %s, want %s", r.ID, r.Outcome, want[r.ID])
		}
		if r.ID == "start" && r.Cause != "bucket" {
			t.Errorf("start skipped because of %q, want bucket", r.Cause)
		}
		if r.ID == "bucket" && r.Error != "AccessDenied" {
			t.Errorf("bucket error %q", r.Error)
		}
	}
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	if pos["logstore"] < pos["project"] {
		t.Errorf("logstore ran before project: %v", order)
	}
	if _, ran := pos["trail"]; ran {
		t.Errorf("trail ran although bucket failed: %v", order)
	}
	a, f, s := summarize(res)
	if a != 3 || f != 1 || s != 2 {
		t.Errorf("summary %d/%d/%d", a, f, s)
	}
}

func TestApplyRunsIndependentActionsConcurrentlyWithinBound(t *testing.T) {
	var running, peak int32
	p := &Plan{}
	for i := 0; i < 20; i++ {
		p.Add(Action{ID: string(rune('a' + i)), apply: func(context.Context) error {
			n := atomic.AddInt32(&running, 1)
			for {
				old := atomic.LoadInt32(&peak)
				if n <= old || atomic.CompareAndSwapInt32(&peak, old, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			atomic.AddInt32(&running, -1)
			return nil
		}})
	}
	res := Apply(context.Background(), p, 5)
	if a, _, _ := summarize(res); a != 20 {
		t.Fatalf("applied %d", a)
	}
	if peak > 5 || peak < 2 {
		t.Fatalf("peak concurrency %d, want 2..5", peak)
	}
}

func TestPlanValidate(t *testing.T) {
	cases := []struct {
		name    string
		actions []Action
		wantErr bool
	}{
		{"ok", []Action{{ID: "a"}, {ID: "b", DependsOn: []string{"a"}}}, false},
		{"duplicate", []Action{{ID: "a"}, {ID: "a"}}, true},
		{"unknown dependency", []Action{{ID: "a", DependsOn: []string{"x"}}}, true},
		{"cycle", []Action{{ID: "a", DependsOn: []string{"b"}}, {ID: "b", DependsOn: []string{"a"}}}, true},
	}
	for _, tc := range cases {
		p := &Plan{Actions: tc.actions}
		if err := p.Validate(); (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}

func TestApplyStopsStartingWorkWhenContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	p := &Plan{Actions: []Action{{ID: "a", apply: func(context.Context) error { ran = true; return nil }}}}
	res := Apply(ctx, p, 1)
	if ran || res[0].Outcome != Failed {
		t.Fatalf("ran=%v outcome=%s", ran, res[0].Outcome)
	}
}
