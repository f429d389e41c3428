package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

func TestParallelBoundsConcurrencyAndKeepsEveryResult(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 3, 8, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			items := make([]int, 40)
			for i := range items {
				items[i] = i
			}
			var running, peak atomic.Int64
			gate := make(chan struct{})
			close(gate)
			errs := cloud.Parallel(context.Background(), n, items, func(_ context.Context, i int) error {
				r := running.Add(1)
				for {
					p := peak.Load()
					if r <= p || peak.CompareAndSwap(p, r) {
						break
					}
				}
				defer running.Add(-1)
				<-gate
				if i%3 == 0 {
					return fmt.Errorf("item %d failed", i)
				}
				return nil
			})
			limit := int64(max(1, min(n, len(items))))
			if peak.Load() > limit {
				t.Fatalf("peak concurrency %d > %d", peak.Load(), limit)
			}
			if len(errs) != len(items) {
				t.Fatalf("%d results for %d items", len(errs), len(items))
			}
			for i, err := range errs {
				want := i%3 == 0
				if (err != nil) != want || (want && err.Error() != fmt.Sprintf("item %d failed", i)) {
					t.Fatalf("item %d: err %v", i, err)
				}
			}
		})
	}
}

func TestParallelReachesPeakConcurrency(t *testing.T) {
	const n = 5
	release := make(chan struct{})
	var started atomic.Int64
	done := make(chan []error)
	go func() {
		done <- cloud.Parallel(context.Background(), n, make([]int, 20), func(context.Context, int) error {
			if started.Add(1) == n {
				close(release) // all n running at once: the bound is reached, not just respected
			}
			<-release
			return nil
		})
	}()
	for _, err := range <-done {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestParallelCancelledContextSkipsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	errs := cloud.Parallel(ctx, 1, make([]int, 10), func(context.Context, int) error {
		if calls.Add(1) == 3 {
			cancel()
		}
		return nil
	})
	if c := calls.Load(); c != 3 {
		t.Fatalf("fn called %d times after cancel at 3", c)
	}
	for i, err := range errs {
		if (i < 3) != (err == nil) || (err != nil && !errors.Is(err, context.Canceled)) {
			t.Fatalf("item %d: %v", i, err)
		}
	}
}

func TestParallelTurnsPanicsIntoErrors(t *testing.T) {
	errs := cloud.Parallel(context.Background(), 2, []string{"ok", "boom", "ok"}, func(_ context.Context, s string) error {
		if s == "boom" {
			panic("member exploded")
		}
		return nil
	})
	if errs[0] != nil || errs[2] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "member exploded") {
		t.Fatalf("errs = %v", errs)
	}
	if got := cloud.Parallel[int](context.Background(), 4, nil, nil); len(got) != 0 {
		t.Fatalf("empty input: %v", got)
	}
}
