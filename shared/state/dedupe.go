package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// dedupeMarker is the body of a FirstTime marker: who created it, for retried writes to recognise.
type dedupeMarker struct {
	Writer string    `json:"writer"`
	Time   time.Time `json:"time"`
}

// DedupeKey is the object FirstTime creates for key.
func (s *Store) DedupeKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.join("dedupe", hex.EncodeToString(sum[:]))
}

// FirstTime reports whether this is the first call for key, across every process: it creates the
// marker <prefix>/dedupe/<sha256(key)> create-only, so exactly one caller gets true (an event
// delivered twice is handled once). Markers are never deleted by the store; expire them with a
// bucket lifecycle rule on the dedupe/ prefix if they pile up.
func (s *Store) FirstTime(ctx context.Context, key string) (bool, error) {
	if s.initErr != nil {
		return false, s.initErr
	}
	if key == "" {
		return false, errors.New("state: dedupe key is empty")
	}
	writer := newID()
	body, err := json.Marshal(dedupeMarker{Writer: writer, Time: s.now()})
	if err != nil {
		return false, err
	}
	obj := s.DedupeKey(key)
	attempts, err := s.put(ctx, obj, body)
	switch {
	case err == nil:
		return true, nil
	case !isExists(err):
		return false, fmt.Errorf("state: dedupe marker %s: %w", obj, err)
	case attempts > 1:
		// Our first attempt may have created it before its answer was lost.
		mine, err := s.writtenBy(ctx, obj, writer)
		if err != nil {
			return false, fmt.Errorf("state: dedupe marker %s: checking a retried write: %w", obj, err)
		}
		return mine, nil
	}
	return false, nil
}
