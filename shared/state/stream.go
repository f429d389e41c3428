package state

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Entry is one stream entry.
type Entry struct {
	Seq  int64
	Time time.Time       // when it was written, by the writer's clock
	Data json.RawMessage // the value given to Append, as JSON
}

// Decode unmarshals the entry's value into v.
func (e Entry) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// envelope is the stored form of an entry. Writer identifies one write, so a writer whose PUT
// was retried can tell its own object from a competitor's.
type envelope struct {
	Seq    int64           `json:"seq"`
	Writer string          `json:"writer"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// reserved first segments of stream names: Append may not write there.
var reservedStreams = map[string]bool{"lease": true, "dedupe": true}

func checkStream(stream string, write bool) error {
	if err := checkName("stream", stream); err != nil {
		return err
	}
	first, _, _ := strings.Cut(stream, "/")
	if first == "dedupe" || (write && reservedStreams[first]) {
		return fmt.Errorf("state: stream %q: streams under %q/ belong to the store itself", stream, first)
	}
	return nil
}

// listPage is how many keys one ListObjectsV2 call asks for (the most OSS returns).
const listPage = 1000

// maxConflicts bounds how often one Append or Acquire may lose a race before giving up.
const maxConflicts = 1000

func (s *Store) hint(stream string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hints[stream]
	return h, ok
}

// advance raises stream's hint to seq (hints never go down: they are lower bounds of the tail).
func (s *Store) advance(stream string, seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > s.hints[stream] {
		s.hints[stream] = seq
	}
}

// Append writes v (as JSON) as the next entry of stream and returns its sequence number.
// Concurrent writers, in this process or others, get distinct, gap-free numbers and no entry is
// lost: each write is create-only, and the loser of a race moves on to the next number.
func (s *Store) Append(ctx context.Context, stream string, v any) (int64, error) {
	if s.initErr != nil {
		return 0, s.initErr
	}
	if err := checkStream(stream, true); err != nil {
		return 0, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("state: append to %s: encoding the value: %w", stream, err)
	}
	return s.append(ctx, stream, data)
}

func (s *Store) append(ctx context.Context, stream string, data json.RawMessage) (int64, error) {
	next, ok := s.hint(stream)
	if !ok {
		t, err := s.tail(ctx, stream, 0)
		if err != nil {
			return 0, fmt.Errorf("state: append to %s: %w", stream, err)
		}
		next = t
	}
	writer := newID()
	for conflicts := 0; ; conflicts++ {
		next++
		body, err := json.Marshal(envelope{Seq: next, Writer: writer, Time: s.now(), Data: data})
		if err != nil {
			return 0, fmt.Errorf("state: append to %s: %w", stream, err)
		}
		key := s.key(stream, next)
		attempts, err := s.put(ctx, key, body)
		if err == nil {
			s.advance(stream, next)
			return next, nil
		}
		if !isExists(err) {
			return 0, fmt.Errorf("state: append to %s (seq %d): %w", stream, next, err)
		}
		if attempts > 1 {
			if mine, err := s.writtenBy(ctx, key, writer); err != nil {
				return 0, fmt.Errorf("state: append to %s (seq %d): checking a retried write: %w", stream, next, err)
			} else if mine {
				s.advance(stream, next)
				return next, nil
			}
		}
		if conflicts >= maxConflicts {
			return 0, fmt.Errorf("state: append to %s: lost %d races for the next sequence number", stream, conflicts+1)
		}
		// Someone else wrote next: find the tail from there and try after it.
		t, err := s.tail(ctx, stream, next)
		if err != nil {
			return 0, fmt.Errorf("state: append to %s: %w", stream, err)
		}
		s.advance(stream, t)
		next = t
		if conflicts >= 2 {
			if err := sleep(ctx, time.Duration(rand.Int64N(int64(min(conflicts, 20))*int64(time.Millisecond)))); err != nil {
				return 0, err
			}
		}
	}
}

// Latest decodes the last entry of stream into v (v may be nil) and returns its sequence
// number; ok is false when the stream is empty.
func (s *Store) Latest(ctx context.Context, stream string, v any) (seq int64, ok bool, err error) {
	if s.initErr != nil {
		return 0, false, s.initErr
	}
	if err := checkStream(stream, false); err != nil {
		return 0, false, err
	}
	e, ok, err := s.latest(ctx, stream)
	if err != nil || !ok {
		return 0, false, err
	}
	if v != nil {
		if err := e.Decode(v); err != nil {
			return 0, false, fmt.Errorf("state: stream %s seq %d: decoding: %w", stream, e.Seq, err)
		}
	}
	return e.Seq, true, nil
}

func (s *Store) latest(ctx context.Context, stream string) (Entry, bool, error) {
	for attempt := 0; attempt < 5; attempt++ {
		from, _ := s.hint(stream)
		t, err := s.tail(ctx, stream, from)
		if err != nil {
			return Entry{}, false, fmt.Errorf("state: stream %s: %w", stream, err)
		}
		if t == 0 {
			return Entry{}, false, nil
		}
		e, found, err := s.read(ctx, stream, t)
		if err != nil {
			return Entry{}, false, err
		}
		if found {
			s.advance(stream, t)
			return e, true, nil
		}
		// Listed, then gone: pruned in between. Look again.
	}
	return Entry{}, false, fmt.Errorf("state: stream %s: its last entry kept disappearing while it was read", stream)
}

func (s *Store) read(ctx context.Context, stream string, seq int64) (Entry, bool, error) {
	data, found, err := s.get(ctx, s.key(stream, seq))
	if err != nil {
		return Entry{}, false, fmt.Errorf("state: stream %s seq %d: %w", stream, seq, err)
	}
	if !found {
		return Entry{}, false, nil
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Entry{}, false, fmt.Errorf("state: stream %s seq %d: not a state entry: %w", stream, seq, err)
	}
	if env.Seq != seq {
		return Entry{}, false, fmt.Errorf("state: stream %s seq %d: the object says it is seq %d", stream, seq, env.Seq)
	}
	return Entry{Seq: seq, Time: env.Time, Data: env.Data}, true, nil
}

// List returns up to limit entries of stream after afterSeq, in order (limit <= 0 means 100;
// at most 1000). Page with afterSeq = the last Seq returned.
func (s *Store) List(ctx context.Context, stream string, afterSeq int64, limit int) ([]Entry, error) {
	if s.initErr != nil {
		return nil, s.initErr
	}
	if err := checkStream(stream, false); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, listPage)
	seqs, _, err := s.seqsAfter(ctx, stream, max(afterSeq, 0), limit)
	if err != nil {
		return nil, fmt.Errorf("state: stream %s: %w", stream, err)
	}
	out := make([]Entry, 0, len(seqs))
	for _, seq := range seqs {
		e, found, err := s.read(ctx, stream, seq)
		if err != nil {
			return nil, err
		}
		if found { // a pruned lease record is simply no longer there
			out = append(out, e)
		}
	}
	if len(seqs) > 0 {
		s.advance(stream, seqs[len(seqs)-1])
	}
	return out, nil
}

// seqsAfter lists up to max sequence numbers of stream greater than after, in order. more says
// the listing stopped at max with keys left.
func (s *Store) seqsAfter(ctx context.Context, stream string, after int64, max int) (seqs []int64, more bool, err error) {
	opts := []oss.Option{oss.Prefix(s.streamDir(stream)), oss.Delimiter("/"), oss.WithContext(ctx)}
	if after > 0 {
		opts = append(opts, oss.StartAfter(s.key(stream, after)))
	}
	token := ""
	for {
		res, err := s.listPage(ctx, token, append(opts[:len(opts):len(opts)], oss.MaxKeys(min(max-len(seqs), listPage))))
		if err != nil {
			return nil, false, fmt.Errorf("listing %s: %w", s.streamDir(stream), err)
		}
		// Other keys (nested streams come back as common prefixes) are skipped.
		for _, o := range res.Objects {
			if n, ok := s.seqOf(stream, o.Key); ok && n > after {
				seqs = append(seqs, n)
			}
		}
		if !res.IsTruncated || res.NextContinuationToken == "" {
			return seqs, false, nil
		}
		if len(seqs) >= max {
			return seqs, true, nil
		}
		token = res.NextContinuationToken
	}
}

// firstAfter is the first sequence number of stream greater than after.
func (s *Store) firstAfter(ctx context.Context, stream string, after int64) (int64, bool, error) {
	seqs, _, err := s.seqsAfter(ctx, stream, after, 1)
	if err != nil || len(seqs) == 0 {
		return 0, false, err
	}
	return seqs[0], true, nil
}

// tail finds the last sequence number of stream, 0 for an empty stream. from must be a lower
// bound (0, or a number that was written). A short tail costs one list call; a long one is
// found by galloping and then bisecting with one-key lists, so even a stream of millions of
// entries costs a few dozen calls, never a walk over all of them.
func (s *Store) tail(ctx context.Context, stream string, from int64) (int64, error) {
	seqs, more, err := s.seqsAfter(ctx, stream, from, listPage)
	if err != nil {
		return 0, err
	}
	if len(seqs) == 0 {
		return from, nil
	}
	lo := seqs[len(seqs)-1] // exists
	if !more {
		return lo, nil
	}
	var hi int64
	for step := int64(listPage); ; step *= 2 {
		probe := lo + step
		first, ok, err := s.firstAfter(ctx, stream, probe)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = probe // nothing after hi; lo exists
			break
		}
		lo = first
	}
	for hi-lo > listPage {
		mid := lo + (hi-lo)/2
		first, ok, err := s.firstAfter(ctx, stream, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = first
		} else {
			hi = mid
		}
	}
	seqs, _, err = s.seqsAfter(ctx, stream, lo, listPage)
	if err != nil {
		return 0, err
	}
	if len(seqs) > 0 {
		return seqs[len(seqs)-1], nil
	}
	return lo, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Create writes v as the first entry of stream, only if the stream has none: created is false
// when its first entry already exists (whoever wrote it). It costs one create-only write, so a
// caller that makes many streams at once need neither a lease nor a listing first.
func (s *Store) Create(ctx context.Context, stream string, v any) (created bool, err error) {
	if s.initErr != nil {
		return false, s.initErr
	}
	if err := checkStream(stream, true); err != nil {
		return false, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("state: create %s: encoding the value: %w", stream, err)
	}
	writer := newID()
	body, err := json.Marshal(envelope{Seq: 1, Writer: writer, Time: s.now(), Data: data})
	if err != nil {
		return false, fmt.Errorf("state: create %s: %w", stream, err)
	}
	key := s.key(stream, 1)
	attempts, err := s.put(ctx, key, body)
	switch {
	case err == nil:
	case !isExists(err):
		return false, fmt.Errorf("state: create %s: %w", stream, err)
	case attempts > 1:
		// A retried write may have been ours, its answer lost.
		mine, werr := s.writtenBy(ctx, key, writer)
		if werr != nil {
			return false, fmt.Errorf("state: create %s: checking a retried write: %w", stream, werr)
		}
		if !mine {
			return false, nil
		}
	default:
		return false, nil
	}
	s.advance(stream, 1)
	return true, nil
}

// Streams names the streams directly under parent (parent + "/" + name), in order: how a caller
// enumerates its streams without keeping an index of them. It costs one list call per 1,000.
func (s *Store) Streams(ctx context.Context, parent string) ([]string, error) {
	var names []string
	for after := ""; ; {
		page, more, err := s.StreamsPage(ctx, parent, after, listPage)
		if err != nil {
			return nil, err
		}
		names = append(names, page...)
		if !more || len(page) == 0 {
			return names, nil
		}
		after = strings.TrimPrefix(page[len(page)-1], parent+"/")
	}
}

// StreamsPage names up to limit (1 to 1,000) streams directly under parent whose names come after
// the name after ("" for the first page), in the order of their keys; more says some are left. It
// costs one list call, so a caller can show a long set of streams page by page.
func (s *Store) StreamsPage(ctx context.Context, parent, after string, limit int) (names []string, more bool, err error) {
	if s.initErr != nil {
		return nil, false, s.initErr
	}
	if err := checkStream(parent, false); err != nil {
		return nil, false, err
	}
	if after != "" {
		if err := checkName("stream", after); err != nil || strings.Contains(after, "/") {
			return nil, false, fmt.Errorf("state: streams under %s after %q: not a stream name", parent, after)
		}
	}
	limit = min(max(limit, 1), listPage)
	dir := s.streamDir(parent)
	opts := []oss.Option{oss.Prefix(dir), oss.Delimiter("/"), oss.MaxKeys(limit), oss.WithContext(ctx)}
	if after != "" {
		// "~" sorts after every character a name may hold, so the listing resumes past all of
		// the stream's own keys.
		opts = append(opts, oss.StartAfter(dir+after+"/~"))
	}
	for token := ""; ; {
		res, err := s.listPage(ctx, token, opts)
		if err != nil {
			return nil, false, fmt.Errorf("state: listing the streams under %s: %w", parent, err)
		}
		for _, p := range res.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(p, dir), "/")
			if checkName("stream", name) == nil && !strings.Contains(name, "/") {
				names = append(names, parent+"/"+name)
			}
		}
		// A page of the parent's own entries (or stray keys) names no stream: read on.
		if len(names) > 0 || !res.IsTruncated || res.NextContinuationToken == "" {
			return names, res.IsTruncated, nil
		}
		token = res.NextContinuationToken
	}
}

// listPage is one ListObjectsV2 call with opts, continuing after token when it is set.
func (s *Store) listPage(ctx context.Context, token string, opts []oss.Option) (oss.ListObjectsResultV2, error) {
	if token != "" {
		opts = append(opts[:len(opts):len(opts)], oss.ContinuationToken(token))
	}
	var res oss.ListObjectsResultV2
	err := s.o.do(ctx, "oss:ListObjectsV2", func() error {
		var e error
		res, e = s.bucket.ListObjectsV2(opts...)
		return e
	})
	return res, err
}
