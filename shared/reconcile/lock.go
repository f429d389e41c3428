package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/logaudit"
)

// LocalLocker serializes writers inside one process. Across processes use an OSS lease (shared/state).
type LocalLocker struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

// NewLocalLocker returns a ready LocalLocker.
func NewLocalLocker() *LocalLocker { return &LocalLocker{locks: map[string]chan struct{}{}} }

// Lock waits for name (or ctx) and returns its unlock function.
func (l *LocalLocker) Lock(ctx context.Context, name string) (func(), error) {
	l.mu.Lock()
	ch, ok := l.locks[name]
	if !ok {
		ch = make(chan struct{}, 1)
		l.locks[name] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// observeFlight shares one in-flight Log Audit read among concurrent planners (a burst of
// membership events); apply never uses it: it reads afresh under the lock.
type observeFlight struct {
	mu   sync.Mutex
	call *observeCall
	// last is the newest document read or verified here; member-scoped planning may reuse it
	// while it is young (each enrolment would otherwise spend one of Log Audit's 5 calls/s on it).
	last   *observeCall
	lastAt time.Time
}

// remember records a document just written and verified.
func (f *observeFlight) remember(cfg logaudit.Config, exists bool) {
	f.mu.Lock()
	f.last, f.lastAt = &observeCall{cfg: cfg, exists: exists}, time.Now()
	f.mu.Unlock()
}

type observeCall struct {
	done   chan struct{}
	cfg    logaudit.Config
	exists bool
	err    error
}

func (f *observeFlight) do(ctx context.Context, maxAge time.Duration, read func(context.Context) (logaudit.Config, bool, error)) (logaudit.Config, bool, error) {
	f.mu.Lock()
	if maxAge > 0 && f.last != nil && time.Since(f.lastAt) < maxAge {
		last := f.last
		f.mu.Unlock()
		return last.cfg, last.exists, nil
	}
	c := f.call
	if c == nil {
		c = &observeCall{done: make(chan struct{})}
		f.call = c
		f.mu.Unlock()
		c.cfg, c.exists, c.err = read(context.WithoutCancel(ctx))
		f.mu.Lock()
		f.call = nil
		if c.err == nil {
			f.last, f.lastAt = c, time.Now()
		}
		f.mu.Unlock()
		close(c.done)
	} else {
		f.mu.Unlock()
	}
	select {
	case <-c.done:
		return c.cfg, c.exists, c.err
	case <-ctx.Done():
		return logaudit.Config{}, false, ctx.Err()
	}
}
