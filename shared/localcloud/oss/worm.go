package oss

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// wormLockWindow is how long an unlocked (InProgress) retention policy lives.
const wormLockWindow = 24 * time.Hour

// wormState is a bucket's time-based retention policy.
type wormState struct {
	id      string
	locked  bool
	days    int
	created time.Time
}

// activeWorm is the bucket's retention policy unless it is an InProgress one older than
// 24 hours, which OSS drops. The caller holds s.mu.
func (b *bucket) activeWorm(now time.Time) *wormState {
	w := b.worm
	if w == nil || (!w.locked && now.Sub(w.created) >= wormLockWindow) {
		return nil
	}
	return w
}

// protected reports whether a retention policy (InProgress within its 24 hours, or Locked)
// forbids deleting or overwriting the object now: its period runs from the object's last
// modification.
func (b *bucket) protected(o *object, now time.Time) bool {
	w := b.activeWorm(now)
	return w != nil && now.Before(o.lastModified.Add(time.Duration(w.days)*24*time.Hour))
}

func errImmutable(key string) *apiError {
	return newErr(409, "FileImmutable", "The object you specified is immutable.").with("Key", key).ec("0026-00000005")
}

func errNoSuchWorm(msg string) *apiError {
	return newErr(404, "NoSuchWORMConfiguration", msg)
}

func newWormID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

func (s *Server) bucketWorm(rq *request) *apiError {
	now := s.w.Now()
	switch rq.op {
	case "GetBucketWorm":
		body, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			w := b.activeWorm(now)
			if w == nil {
				return nil, errNoSuchWorm("The WORM Configuration does not exist.")
			}
			state := "InProgress"
			if w.locked {
				state = "Locked"
			}
			return marshalXML(struct {
				XMLName      xml.Name `xml:"WormConfiguration"`
				WormID       string   `xml:"WormId"`
				State        string   `xml:"State"`
				Days         int      `xml:"RetentionPeriodInDays"`
				CreationDate string   `xml:"CreationDate"`
			}{WormID: w.id, State: state, Days: w.days, CreationDate: w.created.Format("2006-01-02T15:04:05")}), nil
		})
		if err != nil {
			return err
		}
		rq.writeXML(200, body)
		return nil

	case "InitiateBucketWorm":
		days, derr := decodeWormDays(rq.body, "InitiateWormConfiguration")
		if derr != nil {
			return derr
		}
		rq.params["retentionPeriodInDays"] = days
		var id string
		_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			if b.activeWorm(now) != nil {
				return nil, newErr(409, "WORMConfigurationAlreadyExist", "The bucket already has a WORM configuration; abort it or let it lapse first.")
			}
			id = newWormID()
			b.worm = &wormState{id: id, days: days, created: now}
			return nil, nil
		})
		if err != nil {
			return err
		}
		rq.params["wormId"] = id
		rq.w.Header().Set("x-oss-worm-id", id)
		rq.writeEmpty(200)
		return nil

	case "CompleteBucketWorm":
		id := rq.query.Get("wormId")
		rq.params["wormId"] = id
		_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			w := b.activeWorm(now)
			if w == nil || w.id != id {
				return nil, errNoSuchWorm("The specified WORM ID does not exist.")
			}
			w.locked = true
			return nil, nil
		})
		if err != nil {
			return err
		}
		rq.writeEmpty(200)
		return nil

	case "ExtendBucketWorm":
		id := rq.query.Get("wormId")
		rq.params["wormId"] = id
		days, derr := decodeWormDays(rq.body, "ExtendWormConfiguration")
		if derr != nil {
			return derr
		}
		rq.params["retentionPeriodInDays"] = days
		_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
			w := b.activeWorm(now)
			switch {
			case w == nil || w.id != id:
				return nil, errNoSuchWorm("The specified WORM ID does not exist.")
			case !w.locked:
				return nil, errInvalidArgument("Only a locked WORM configuration can be extended.", "wormId", id)
			case days <= w.days:
				return nil, errInvalidArgument("The retention period can only be extended: RetentionPeriodInDays must exceed "+strconv.Itoa(w.days)+".",
					"RetentionPeriodInDays", strconv.Itoa(days))
			}
			w.days = days
			return nil, nil
		})
		if err != nil {
			return err
		}
		rq.writeEmpty(200)
		return nil
	}

	// AbortBucketWorm
	_, err := s.managed(rq, kindManage, func(b *bucket) ([]byte, *apiError) {
		w := b.activeWorm(now)
		switch {
		case w == nil:
			b.worm = nil
			return nil, errNoSuchWorm("The WORM Configuration does not exist.")
		case w.locked:
			return nil, newErr(403, "WORMConfigurationLocked", "The WORM Configuration is locked.")
		}
		b.worm = nil
		return nil, nil
	})
	if err != nil {
		return err
	}
	rq.writeEmpty(204)
	return nil
}
