package core

import (
	"sort"
	"sync"
	"time"
)

// UserIdentity is the userIdentity block of an ActionTrail record.
type UserIdentity struct {
	Type        string `json:"type"`
	AccountID   string `json:"accountId"`
	PrincipalID string `json:"principalId"`
	UserName    string `json:"userName,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	SessionName string `json:"sessionName,omitempty"`
	Arn         string `json:"arn,omitempty"`
}

// Event is one ActionTrail record with the field names of the real service.
type Event struct {
	EventID            string         `json:"eventId"`
	EventVersion       string         `json:"eventVersion"`
	EventName          string         `json:"eventName"`
	EventSource        string         `json:"eventSource"`
	EventType          string         `json:"eventType"`
	EventRW            string         `json:"eventRW"`
	EventTime          string         `json:"eventTime"`
	AcsRegion          string         `json:"acsRegion"`
	ServiceName        string         `json:"serviceName"`
	APIVersion         string         `json:"apiVersion,omitempty"`
	RequestID          string         `json:"requestId"`
	SourceIPAddress    string         `json:"sourceIpAddress"`
	UserAgent          string         `json:"userAgent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	UserIdentity       UserIdentity   `json:"userIdentity"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements,omitempty"`
	ResourceType       string         `json:"resourceType,omitempty"`
	ResourceName       string         `json:"resourceName,omitempty"`
	ErrorCode          string         `json:"errorCode"`
	ErrorMessage       string         `json:"errorMessage"`
	// Time is EventTime parsed, for ordering and windows; not part of the record.
	Time time.Time `json:"-"`
}

// EventTimeFormat is the ActionTrail time layout (no milliseconds).
const EventTimeFormat = "2006-01-02T15:04:05Z"

// Recorder keeps every account's event history, ordered by time, and tells hooks of each new record.
type Recorder struct {
	w        *World
	mu       sync.RWMutex
	history  map[string][]*Event // account -> events ascending by Time
	hooks    []func(*Event)
	ossHooks []func(OSSOperation)
}

func newRecorder(w *World) *Recorder { return &Recorder{w: w, history: map[string][]*Event{}} }

// OnRecord registers a hook called (synchronously, outside locks) for every live record.
func (r *Recorder) OnRecord(h func(*Event)) {
	r.mu.Lock()
	r.hooks = append(r.hooks, h)
	r.mu.Unlock()
}

// Record stores a live event (filling id and time when empty) and runs the hooks.
func (r *Recorder) Record(ev *Event) {
	r.fill(ev)
	r.mu.Lock()
	r.insert(ev)
	hooks := append([]func(*Event){}, r.hooks...)
	r.mu.Unlock()
	for _, h := range hooks {
		h(ev)
	}
}

// Seed stores historical events without running hooks (they predate any trail).
func (r *Recorder) Seed(evs []*Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		r.fill(ev)
		r.insert(ev)
	}
}

func (r *Recorder) fill(ev *Event) {
	if ev.EventID == "" {
		ev.EventID = NewRequestID()
	}
	if ev.EventVersion == "" {
		ev.EventVersion = "1"
	}
	if ev.Time.IsZero() {
		ev.Time = r.w.Now()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Second)
	ev.EventTime = ev.Time.Format(EventTimeFormat)
	if ev.RequestParameters == nil {
		ev.RequestParameters = map[string]any{}
	}
}

func (r *Recorder) insert(ev *Event) {
	h := r.history[ev.RecipientAccountID]
	i := sort.Search(len(h), func(i int) bool { return h[i].Time.After(ev.Time) })
	h = append(h, nil)
	copy(h[i+1:], h[i:])
	h[i] = ev
	r.history[ev.RecipientAccountID] = h
}

// Window returns the account's events with from <= Time < to, ascending. Events must not be mutated.
func (r *Recorder) Window(account string, from, to time.Time) []*Event {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h := r.history[account]
	lo := sort.Search(len(h), func(i int) bool { return !h[i].Time.Before(from) })
	hi := sort.Search(len(h), func(i int) bool { return !h[i].Time.Before(to) })
	if lo >= hi {
		return nil
	}
	return append([]*Event(nil), h[lo:hi]...)
}

// Count is the number of events stored for an account.
func (r *Recorder) Count(account string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.history[account])
}

// SLSBackend is what ActionTrail and Log Audit need from the SLS emulator.
type SLSBackend interface {
	// ProjectOwner returns the account owning a project and whether it exists.
	ProjectOwner(project string) (string, bool)
	// EnsureServiceLogstore creates a service-managed Logstore (actiontrail_*, innertrail_*) with its index.
	EnsureServiceLogstore(project, logstore string, ttlDays int) error
	// ServiceWrite appends logs as the service itself, bypassing the write protection callers face.
	ServiceWrite(project, logstore, topic, source string, logs []ServiceLog) error
	// CreateServiceProject creates a project owned by account (Log Audit's central project), if missing.
	CreateServiceProject(owner, project, region string) error
}

// ServiceLog is one log written by a service: its time and key/value contents.
type ServiceLog struct {
	Time     time.Time
	Contents [][2]string
}

// OSSBackend is what ActionTrail needs from the OSS emulator.
type OSSBackend interface {
	BucketOwner(bucket string) (string, bool)
	// ServicePut writes an object as the service (delivery honours WORM: it never overwrites).
	ServicePut(bucket, key string, body []byte, contentType string) error
}

// OSSOperation is one request OSS served, as Inner-ActionTrail ships it to innertrail_* Logstores.
type OSSOperation struct {
	Time      time.Time
	Account   string // bucket owner
	Caller    Principal
	Bucket    string
	Key       string
	Operation string // PutObject, GetObject, PutBucketAcl, ...
	Method    string
	Status    int
	RequestID string
	SourceIP  string
	Bytes     int64
}

// OnOSSOperation registers a hook for every OSS request served (Inner-ActionTrail uses it).
func (r *Recorder) OnOSSOperation(h func(OSSOperation)) {
	r.mu.Lock()
	r.ossHooks = append(r.ossHooks, h)
	r.mu.Unlock()
}

// EmitOSSOperation runs the OSS operation hooks; the OSS server calls it after answering.
func (r *Recorder) EmitOSSOperation(op OSSOperation) {
	r.mu.RLock()
	hooks := append([]func(OSSOperation){}, r.ossHooks...)
	r.mu.RUnlock()
	for _, h := range hooks {
		h(op)
	}
}
