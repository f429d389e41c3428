package cloud

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Parallel calls fn for every item with at most n running at once and returns one error per
// item, in items' order (nil for success). Unlike errgroup it never cancels the others when
// one fails: the reconciler wants every member's result. Items not yet started when ctx ends
// get ctx's error without fn being called. A panic in fn becomes that item's error. n < 1 means 1.
func Parallel[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) []error {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return errs
	}
	n = max(1, min(n, len(items)))
	next := make(chan int)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = runItem(ctx, items[i], fn)
			}
		}()
	}
	for i := range items {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	close(next)
	wg.Wait()
	return errs
}

func runItem[T any](ctx context.Context, item T, fn func(context.Context, T) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, item)
}
