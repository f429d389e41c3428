package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CloudEvent is an EventBridge delivery (CloudEvents 1.0 with Alibaba's extensions).
type CloudEvent struct {
	ID                      string `json:"id"`
	Source                  string `json:"source"`
	SpecVersion             string `json:"specversion"`
	Type                    string `json:"type"`
	Subject                 string `json:"subject"`
	Time                    string `json:"time"`
	DataContentType         string `json:"datacontenttype"`
	AliyunAccountID         string `json:"aliyunaccountid"`
	AliyunOriginalAccountID string `json:"aliyunoriginalaccountid"`
	AliyunPublishTime       string `json:"aliyunpublishtime"`
	AliyunEventBusName      string `json:"aliyuneventbusname"`
	AliyunRegionID          string `json:"aliyunregionid"`
	Data                    *Event `json:"data"`
}

// Subscription routes matching events of one account's default bus to a URL or a function.
type Subscription struct {
	ID      string          `json:"id"`
	Account string          `json:"account"`
	URL     string          `json:"url,omitempty"`
	Pattern json.RawMessage `json:"pattern,omitempty"`
	// Delivered and Failed count deliveries (after retries) for tests and the stats page.
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`

	fn      func(CloudEvent)
	pattern map[string]any
	queue   chan CloudEvent
}

// Bus is EventBridge's default bus per account, fed by ActionTrail write records.
type Bus struct {
	w      *World
	mu     sync.Mutex
	subs   map[string]*Subscription
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client
}

func newBus(w *World) *Bus {
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{w: w, subs: map[string]*Subscription{}, ctx: ctx, cancel: cancel, client: &http.Client{Timeout: 30 * time.Second}}
}

// Subscribe registers a subscription; a URL gets HTTP POSTs, fn (in-process) gets calls. Deliveries
// to one subscriber keep their order; failed HTTP deliveries are retried with backoff, as EventBridge does.
func (b *Bus) Subscribe(account string, pattern json.RawMessage, url string, fn func(CloudEvent)) (*Subscription, error) {
	var p map[string]any
	if len(pattern) > 0 && string(pattern) != "null" {
		if err := json.Unmarshal(pattern, &p); err != nil {
			return nil, fmt.Errorf("pattern: must be a JSON object: %w", err)
		}
	}
	if url == "" && fn == nil {
		return nil, fmt.Errorf("url: required")
	}
	if account == "" {
		b.w.Mu.RLock()
		account = b.w.ManagementAccountID
		b.w.Mu.RUnlock()
	}
	s := &Subscription{ID: "sub-" + NewID(mixedAlnum[26:], 10), Account: account, URL: url, Pattern: pattern, fn: fn, pattern: p, queue: make(chan CloudEvent, 4096)}
	b.mu.Lock()
	b.subs[s.ID] = s
	b.mu.Unlock()
	b.wg.Add(1)
	go b.deliver(s)
	return s, nil
}

// Unsubscribe stops deliveries to a subscription.
func (b *Bus) Unsubscribe(id string) bool {
	b.mu.Lock()
	s, ok := b.subs[id]
	delete(b.subs, id)
	b.mu.Unlock()
	if ok {
		close(s.queue)
	}
	return ok
}

// Subscriptions lists the current subscriptions.
func (b *Bus) Subscriptions() []Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Subscription, 0, len(b.subs))
	for _, s := range b.subs {
		out = append(out, Subscription{ID: s.ID, Account: s.Account, URL: s.URL, Pattern: s.Pattern, Delivered: s.Delivered, Failed: s.Failed})
	}
	return out
}

// Close stops every delivery goroutine.
func (b *Bus) Close() {
	b.cancel()
	b.mu.Lock()
	for id, s := range b.subs {
		close(s.queue)
		delete(b.subs, id)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// PublishRecord turns a write record into a CloudEvent on its account's bus.
func (b *Bus) PublishRecord(ev *Event) {
	if ev.EventRW == "Read" {
		return // EventBridge receives only write events from ActionTrail
	}
	service := strings.ToLower(strings.SplitN(ev.EventSource, ".", 2)[0])
	now := b.w.Now()
	ce := CloudEvent{
		ID:                      ev.EventID,
		Source:                  "acs.actiontrail",
		SpecVersion:             "1.0",
		Type:                    service + ":ActionTrail:" + ev.EventType,
		Subject:                 fmt.Sprintf("acs.%s:%s:%s:%s", service, ev.AcsRegion, ev.RecipientAccountID, ev.EventName),
		Time:                    ev.Time.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339),
		DataContentType:         "application/json;charset=utf-8",
		AliyunAccountID:         ev.RecipientAccountID,
		AliyunOriginalAccountID: ev.RecipientAccountID,
		AliyunPublishTime:       now.Format("2006-01-02T15:04:05.000Z"),
		AliyunEventBusName:      "default",
		AliyunRegionID:          ev.AcsRegion,
		Data:                    ev,
	}
	var doc map[string]any
	raw, _ := json.Marshal(ce)
	_ = json.Unmarshal(raw, &doc)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if s.Account != ev.RecipientAccountID || !MatchPattern(s.pattern, doc) {
			continue
		}
		select {
		case s.queue <- ce:
		default:
			s.Failed++ // a subscriber this far behind loses events, as a full EventBridge target would
		}
	}
}

func (b *Bus) deliver(s *Subscription) {
	defer b.wg.Done()
	for ce := range s.queue {
		ok := false
		if s.fn != nil {
			s.fn(ce)
			ok = true
		} else {
			ok = b.post(s.URL, ce)
		}
		b.mu.Lock()
		if ok {
			s.Delivered++
		} else {
			s.Failed++
		}
		b.mu.Unlock()
	}
}

func (b *Bus) post(url string, ce CloudEvent) bool {
	body, _ := json.Marshal(ce)
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt < 6; attempt++ {
		req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
		resp, err := b.client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return true
			}
		}
		select {
		case <-b.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return false
}

// MatchPattern applies an EventBridge event pattern to an event decoded as generic JSON.
// Supported: nested objects, value lists, {"prefix"}, {"suffix"}, {"anything-but"}, {"exists"}.
func MatchPattern(pattern map[string]any, event map[string]any) bool {
	for key, want := range pattern {
		got, present := event[key]
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !MatchPattern(w, sub) {
				return false
			}
		case []any:
			if !matchAny(w, got, present) {
				return false
			}
		default:
			if !present || !scalarEqual(w, got) {
				return false
			}
		}
	}
	return true
}

func matchAny(rules []any, got any, present bool) bool {
	values := []any{got}
	if arr, ok := got.([]any); ok {
		values = arr
	}
	for _, rule := range rules {
		if m, ok := rule.(map[string]any); ok {
			if e, ok := m["exists"].(bool); ok {
				if e == present {
					return true
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchRule(rule, v) {
				return true
			}
		}
	}
	return false
}

func matchRule(rule, v any) bool {
	m, ok := rule.(map[string]any)
	if !ok {
		return scalarEqual(rule, v)
	}
	s, isString := v.(string)
	if p, ok := m["prefix"].(string); ok {
		return isString && strings.HasPrefix(s, p)
	}
	if p, ok := m["suffix"].(string); ok {
		return isString && strings.HasSuffix(s, p)
	}
	if ab, ok := m["anything-but"]; ok {
		if list, ok := ab.([]any); ok {
			for _, x := range list {
				if scalarEqual(x, v) {
					return false
				}
			}
			return true
		}
		if sub, ok := ab.(map[string]any); ok {
			return !matchRule(sub, v)
		}
		return !scalarEqual(ab, v)
	}
	return false
}

func scalarEqual(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
