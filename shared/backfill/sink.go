package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-log-go-sdk/producer"
	kitlog "github.com/go-kit/kit/log"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/logstore"
)

// Shape of the backfilled logs: as ActionTrail ships records (one log per event, its JSON in the
// field "event", the log time the event time), so one query serves the trail's Logstore and the
// backfill Logstore; the topic is the member's account id.
const (
	eventField = "event"
	logSource  = "auditwarden-backfill"
)

// event is one record read from LookupEvents.
type event struct {
	id   string
	time time.Time
	raw  json.RawMessage
}

// parseEvents reads a page. A record without an eventId or a readable eventTime cannot be
// deduplicated or placed, so it is an error rather than something to copy blindly.
func parseEvents(raw []json.RawMessage) ([]event, error) {
	out := make([]event, 0, len(raw))
	for i, r := range raw {
		var head struct {
			EventID   string `json:"eventId"`
			EventTime string `json:"eventTime"`
		}
		if err := json.Unmarshal(r, &head); err != nil {
			return nil, fmt.Errorf("event %d of the page is not a JSON object: %v", i, err)
		}
		if head.EventID == "" {
			return nil, fmt.Errorf("event %d of the page has no eventId", i)
		}
		t, err := time.Parse(time.RFC3339, head.EventTime)
		if err != nil {
			return nil, fmt.Errorf("event %s: eventTime %q is not an ISO 8601 time", head.EventID, head.EventTime)
		}
		out = append(out, event{id: head.EventID, time: t.UTC(), raw: r})
	}
	return out, nil
}

// writeError is a page the producer could not write; Retryable says whether trying again may help.
type writeError struct {
	Code, Message, RequestID string
	Retryable                bool
}

func (e *writeError) Error() string {
	return fmt.Sprintf("PutLogs failed: %s: %s (request %s)", e.Code, e.Message, e.RequestID)
}

// sink writes pages into the backfill Logstore with the SLS producer and reads back what is
// there. One per step, shared by the accounts of the step (each account has its own topic, so
// each page is its own batch and its own PutLogs).
type sink struct {
	sess     *cloud.Session
	project  string
	logstore string
	query    *logstore.Client

	once    sync.Once
	prod    *producer.Producer
	prodErr error

	// The log SDK's client sets its timeouts lazily on first use without a lock; the producer's
	// I/O goroutines race on that when they start together. The first write runs alone.
	warm   sync.Mutex
	warmed atomic.Bool
}

func newSink(sess *cloud.Session, project, store string) *sink {
	return &sink{sess: sess, project: project, logstore: store, query: logstore.New(sess)}
}

func (s *sink) producer() (*producer.Producer, error) {
	s.once.Do(func() {
		cfg := producer.GetDefaultProducerConfig()
		cfg.Endpoint = s.sess.Endpoints().SLS
		creds := s.sess.Credentials()
		cfg.CredentialsProvider = sls.NewStaticCredentialsProvider(creds.AccessKeyID, creds.AccessKeySecret, creds.SecurityToken)
		if c, ok := s.sess.SLS().(*sls.Client); ok && c.HTTPClient != nil {
			cfg.HTTPClient = c.HTTPClient // the session's pool (and, locally, its dialer)
		}
		cfg.UserAgent = sls.DefaultLogUserAgent + " " + cloud.UserAgent
		cfg.Logger = kitlog.NewNopLogger()
		cfg.DisableRuntimeMetrics = true // its reporter races with SafeClose
		// One page is one batch, sent at once: a checkpoint waits for exactly its page.
		cfg.MaxBatchCount = 1
		cfg.LingerMs = 100
		// No blind retries: a PutLogs whose answer was lost may have landed, so a failed page is
		// retried by writePage after reading back what arrived.
		cfg.Retries = 0
		cfg.MaxReservedAttempts = 1
		s.prod, s.prodErr = producer.NewProducer(cfg)
		if s.prodErr == nil {
			s.prod.Start()
		}
	})
	return s.prod, s.prodErr
}

// close flushes what was handed to the producer and stops it.
func (s *sink) close() {
	s.once.Do(func() { s.prodErr = errors.New("sink closed") }) // never start one now
	if s.prod != nil {
		s.prod.SafeClose()
	}
}

type pageCallback chan *producer.Result

func (c pageCallback) Success(r *producer.Result) { c <- r }
func (c pageCallback) Fail(r *producer.Result)    { c <- r }

// send writes events as one PutLogs with topic = account and waits for the producer's verdict.
func (s *sink) send(ctx context.Context, account string, evs []event) error {
	if len(evs) == 0 {
		return nil
	}
	p, err := s.producer()
	if err != nil {
		return fmt.Errorf("sls producer: %w", err)
	}
	logs := make([]*sls.Log, len(evs))
	for i, e := range evs {
		logs[i] = producer.GenerateLog(uint32(e.time.Unix()), map[string]string{eventField: string(e.raw)})
	}
	gated := !s.warmed.Load()
	if gated {
		s.warm.Lock()
	}
	cb := make(pageCallback, 1)
	if err := p.SendLogListWithCallBack(s.project, s.logstore, account, logSource, logs, cb); err != nil {
		if gated {
			s.warm.Unlock()
		}
		return &writeError{Code: "ProducerRefused", Message: err.Error(), Retryable: true}
	}
	select {
	case r := <-cb:
		if gated {
			s.warmed.Store(true)
			s.warm.Unlock()
		}
		if r.IsSuccessful() {
			return nil
		}
		e := &sls.Error{Code: r.GetErrorCode(), Message: r.GetErrorMessage(), RequestID: r.GetRequestId(), HTTPCode: -1}
		class := cloud.Classify(e)
		return &writeError{Code: e.Code, Message: e.Message, RequestID: e.RequestID,
			Retryable: class.ShouldRetry() || e.Code == "" || e.Code == "ServerBusy" || e.Code == "InternalServerError"}
	case <-ctx.Done():
		if gated {
			// The first page is still in flight: the next one waits for it to land (the producer
			// answers every page, at the latest when the sink closes).
			go func() {
				<-cb
				s.warmed.Store(true)
				s.warm.Unlock()
			}()
		}
		return ctx.Err()
	}
}

// topicQuery selects one account's backfilled logs.
func topicQuery(account string) string { return `__topic__: "` + account + `"` }

// deliveredQuery selects one account's records in a trail's Logstore (ActionTrail ships them
// all with the same topic).
func deliveredQuery(account string) string { return `event.recipientAccountId: "` + account + `"` }

// existing returns which of the account's event ids are already in the backfill Logstore within
// [from, to): the logs of that time range with the account's topic, read back. When trailStore
// is set (a failed data backfill job delivered part of the window there) it also returns which
// of the account's events that Logstore of the same project holds in the range; one that does
// not exist holds none.
func (s *sink) existing(ctx context.Context, account string, from, to time.Time, trailStore string) (backfilled, delivered map[string]bool, err error) {
	backfilled, err = s.eventIDs(ctx, s.logstore, topicQuery(account), from, to)
	if err != nil || trailStore == "" {
		return backfilled, map[string]bool{}, err
	}
	delivered, err = s.eventIDs(ctx, trailStore, deliveredQuery(account), from, to)
	if cloud.Code(err) == codeLogStoreNotExist {
		return backfilled, map[string]bool{}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading back %s/%s: %w", s.project, trailStore, err)
	}
	return backfilled, delivered, nil
}

// eventIDs is the event ids of the logs matching query in [from, to) of a Logstore of the project.
func (s *sink) eventIDs(ctx context.Context, store, query string, from, to time.Time) (map[string]bool, error) {
	rows, err := s.query.Query(ctx, s.project, store, from, to, query, 0)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(rows))
	for _, row := range rows {
		var head struct {
			EventID string `json:"eventId"`
		}
		if json.Unmarshal([]byte(row[eventField]), &head) == nil && head.EventID != "" {
			ids[head.EventID] = true
		}
	}
	return ids, nil
}

// count is how many logs matching query lie in [from, to) of a Logstore.
func count(ctx context.Context, c *logstore.Client, project, store string, from, to time.Time, query string) (int64, error) {
	if !from.Before(to) {
		return 0, nil
	}
	rows, err := c.Query(ctx, project, store, from, to, query+" | select count(*) as n", 0)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 {
		return 0, fmt.Errorf("count query on %s/%s returned %d rows", project, store, len(rows))
	}
	n, err := strconv.ParseInt(rows[0]["n"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("count query on %s/%s: n = %q is not a number", project, store, rows[0]["n"])
	}
	return n, nil
}
