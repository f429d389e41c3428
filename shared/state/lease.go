package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// LeaseRecord is one record of a lease's stream. The newest record says who holds the lease:
// nobody when it is released or expired.
type LeaseRecord struct {
	Holder   string    `json:"holder"`
	Token    string    `json:"token"` // one per acquisition; renewals keep it
	Expires  time.Time `json:"expires"`
	Released bool      `json:"released,omitempty"`
}

// HeldError is Acquire's answer when another holder has the lease; errors.Is(err, ErrLeaseHeld).
type HeldError struct {
	Name    string
	Holder  string
	Expires time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("state: lease %s is held by %s until %s", e.Name, e.Holder, e.Expires.Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrLeaseHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrLeaseHeld }

// Lease is a held lease. Renew it before it expires; Release it when done.
type Lease struct {
	s      *Store
	name   string
	stream string
	holder string
	token  string

	mu      sync.Mutex
	seq     int64
	expires time.Time
	done    bool
}

// Name is the lease's name.
func (l *Lease) Name() string { return l.name }

// Holder is who holds it.
func (l *Lease) Holder() string { return l.holder }

// Expires is when the lease lapses unless renewed.
func (l *Lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expires
}

func leaseStream(name string) string { return "lease/" + name }

func checkLease(name, holder string, ttl time.Duration) error {
	if err := checkName("lease name", name); err != nil {
		return err
	}
	if holder == "" || len(holder) > 256 {
		return fmt.Errorf("state: lease %s: holder must be 1 to 256 bytes, got %d", name, len(holder))
	}
	if ttl <= 0 {
		return fmt.Errorf("state: lease %s: ttl %v must be positive", name, ttl)
	}
	return nil
}

// Acquire takes the lease name for holder for ttl, unless another holder has it and it has not
// expired (then the error is a *HeldError, errors.Is ErrLeaseHeld). A holder may acquire a lease
// it already holds. Two acquirers racing for a free lease: both write the next record create-only,
// one gets 409 FileAlreadyExists, re-reads and finds the lease held. Expiry is judged by this
// Store's clock: keep ttl well above the clock skew between instances.
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	if s.initErr != nil {
		return nil, s.initErr
	}
	if err := checkLease(name, holder, ttl); err != nil {
		return nil, err
	}
	stream := leaseStream(name)
	for conflicts := 0; ; conflicts++ {
		cur, ok, err := s.latest(ctx, stream)
		if err != nil {
			return nil, fmt.Errorf("state: lease %s: %w", name, err)
		}
		var seq int64
		if ok {
			seq = cur.Seq
			var rec LeaseRecord
			if err := cur.Decode(&rec); err != nil {
				return nil, fmt.Errorf("state: lease %s record %d: %w", name, cur.Seq, err)
			}
			if !rec.Released && rec.Holder != holder && s.now().Before(rec.Expires) {
				return nil, &HeldError{Name: name, Holder: rec.Holder, Expires: rec.Expires}
			}
		}
		rec := LeaseRecord{Holder: holder, Token: newID(), Expires: s.now().Add(ttl)}
		won, err := s.writeLease(ctx, stream, seq+1, rec)
		if err != nil {
			return nil, fmt.Errorf("state: lease %s: %w", name, err)
		}
		if won {
			s.o.log.Debug().Str("lease", name).Str("holder", holder).Int64("seq", seq+1).Time("expires", rec.Expires).Msg("state: lease acquired")
			return &Lease{s: s, name: name, stream: stream, holder: holder, token: rec.Token, seq: seq + 1, expires: rec.Expires}, nil
		}
		if conflicts >= maxConflicts {
			return nil, fmt.Errorf("state: lease %s: lost %d races", name, conflicts+1)
		}
	}
}

// AcquireWait is Acquire that waits, polling with backoff and jitter, while another holder has
// the lease; it gives up when ctx ends.
func (s *Store) AcquireWait(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	delay := s.o.pollMin
	for {
		l, err := s.Acquire(ctx, name, holder, ttl)
		var held *HeldError
		if err == nil || !errors.As(err, &held) {
			return l, err
		}
		wait := delay/2 + time.Duration(rand.Int64N(int64(delay/2)+1))
		if until := held.Expires.Sub(s.now()); until > 0 && until < wait {
			wait = until // it lapses sooner than the next poll
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("state: waiting for lease %s (held by %s): %w", name, held.Holder, err)
		}
		delay = min(2*delay, s.o.pollMax)
	}
}

// writeLease writes rec as record seq of a lease, create-only. It reports false when the number
// was taken: by a competitor, or, when it was pruned long ago and the write re-created it, by the
// newer records after it (a writer that read the lease long ago must not win on a stale number).
func (s *Store) writeLease(ctx context.Context, stream string, seq int64, rec LeaseRecord) (bool, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	writer := newID()
	body, err := json.Marshal(envelope{Seq: seq, Writer: writer, Time: s.now(), Data: data})
	if err != nil {
		return false, err
	}
	key := s.key(stream, seq)
	attempts, err := s.put(ctx, key, body)
	if err != nil {
		if !isExists(err) {
			return false, fmt.Errorf("writing record %d: %w", seq, err)
		}
		if attempts <= 1 {
			return false, nil
		}
		if mine, err := s.writtenBy(ctx, key, writer); err != nil || !mine {
			return false, err
		}
	}
	later, found, err := s.firstAfter(ctx, stream, seq)
	if err != nil {
		return false, fmt.Errorf("verifying record %d: %w", seq, err)
	}
	if found {
		s.o.log.Debug().Str("stream", stream).Int64("seq", seq).Int64("later", later).Msg("state: stale lease record")
		return false, nil
	}
	s.advance(stream, seq)
	return true, nil
}

// Renew extends the lease to ttl from now. It fails with ErrLeaseLost when another holder took
// the lease after it expired.
func (l *Lease) Renew(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("state: renewing lease %s: ttl %v must be positive", l.name, ttl)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return fmt.Errorf("state: renewing lease %s: it was released or lost", l.name)
	}
	exp := l.s.now().Add(ttl)
	won, err := l.s.writeLease(ctx, l.stream, l.seq+1, LeaseRecord{Holder: l.holder, Token: l.token, Expires: exp})
	if err != nil {
		return fmt.Errorf("state: renewing lease %s: %w", l.name, err)
	}
	if !won {
		l.done = true
		return fmt.Errorf("state: renewing lease %s: %w", l.name, ErrLeaseLost)
	}
	l.seq++
	l.expires = exp
	return nil
}

// Release gives the lease up and prunes its old records, keeping the last few. Releasing twice
// is a no-op; releasing a lease another holder took after it expired reports ErrLeaseLost.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	now := l.s.now()
	won, err := l.s.writeLease(ctx, l.stream, l.seq+1, LeaseRecord{Holder: l.holder, Token: l.token, Expires: now, Released: true})
	if err != nil {
		return fmt.Errorf("state: releasing lease %s: %w", l.name, err)
	}
	l.done = true
	if !won {
		return fmt.Errorf("state: releasing lease %s: %w", l.name, ErrLeaseLost)
	}
	l.seq++
	l.expires = now
	l.s.o.log.Debug().Str("lease", l.name).Str("holder", l.holder).Int64("seq", l.seq).Msg("state: lease released")
	if err := l.s.prune(ctx, l.stream, l.seq-int64(l.s.o.leaseHistory)); err != nil {
		l.s.o.log.Warn().Err(err).Str("lease", l.name).Msg("state: pruning old lease records failed (harmless; retried on the next release)")
	}
	return nil
}

// prune deletes a stream's records up to and including upTo (one list, one multi-delete).
func (s *Store) prune(ctx context.Context, stream string, upTo int64) error {
	if upTo <= 0 {
		return nil
	}
	seqs, _, err := s.seqsAfter(ctx, stream, 0, listPage)
	if err != nil {
		return err
	}
	var keys []string
	for _, seq := range seqs {
		if seq <= upTo {
			keys = append(keys, s.key(stream, seq))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return s.o.do(ctx, "oss:DeleteMultipleObjects", func() error {
		_, e := s.bucket.DeleteObjects(keys, oss.DeleteObjectsQuiet(true), oss.WithContext(ctx))
		return e
	})
}

// Lock takes the lease name, waiting while it is held, and keeps it renewed (every third of
// WithLockTTL) until unlock is called. It makes a Store a reconcile.Locker across processes.
// A lease lost despite renewal (the process stalled past the TTL) is logged at error level: the
// Locker interface has no way to tell the caller.
func (s *Store) Lock(ctx context.Context, name string) (unlock func(), err error) {
	ttl := s.o.lockTTL
	l, err := s.AcquireWait(ctx, name, lockHolder(), ttl)
	if err != nil {
		return nil, err
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(context.Background(), ttl/3)
			err := l.Renew(rctx, ttl)
			cancel()
			switch {
			case errors.Is(err, ErrLeaseLost):
				s.o.log.Error().Err(err).Str("lease", name).Msg("state: lock lost: another holder took it after it expired")
				return
			case err != nil:
				s.o.log.Warn().Err(err).Str("lease", name).Msg("state: renewing lock failed; retrying")
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-stopped
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := l.Release(rctx); err != nil {
				s.o.log.Warn().Err(err).Str("lease", name).Msg("state: releasing lock failed; it lapses at its expiry")
			}
		})
	}, nil
}

var hostName = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}()

// lockHolder names one Lock call: host, process and a random part, so no two calls share a holder.
func lockHolder() string {
	return hostName + "/" + strconv.Itoa(os.Getpid()) + "/" + newID()[:12]
}
