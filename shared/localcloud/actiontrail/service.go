// Package actiontrail is localcloud's ActionTrail 2020-07-06: trails (single-account and
// multi-account), their asynchronous delivery of the world's records into SLS Logstores and
// OSS buckets, data backfill (delivery history) jobs, LookupEvents with its own 2 calls/s
// per-account limit, synthetic history seeding, and Inner-ActionTrail shipping of OSS operations.
//
// The gateway (core.RPCServer) authenticates, throttles, counts and records every call; this
// package only answers them. SLS and OSS are reached through w.SLS and w.OSS, which may be nil:
// then a destination simply does not exist, and delivery waits until it does.
package actiontrail

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// ServicePrincipal is ActionTrail's service name in trust policies and delegated administration.
const ServicePrincipal = "actiontrail.aliyuncs.com"

// ServiceLinkedRoleName is the role ActionTrail delivers with inside the trail owner's account.
const ServiceLinkedRoleName = "AliyunServiceRoleForActionTrail"

// Options tunes timings and limits; the zero value gives the defaults.
type Options struct {
	// FlushInterval is how often the background worker routes and delivers (default 1s).
	FlushInterval time.Duration
	// OSSBatchWindow is how long events wait to be gathered into one OSS object (default 5s of
	// world time). The real service writes a file about every 5 minutes; Flush() forces a batch out.
	OSSBatchWindow time.Duration
	// LookupRatePerSecond is LookupEvents' per-account limit: 0 means the real 2 calls/s,
	// a negative value turns the limit off.
	LookupRatePerSecond float64
	// DeliveryJobInitDelay is how long a data backfill job stays in status 0 (default 2s);
	// DeliveryJobRunTime how long it then stays in status 1 before delivering and completing (default 3s).
	DeliveryJobInitDelay time.Duration
	DeliveryJobRunTime   time.Duration
	// RequireDeliveryJobAllowList makes CreateDeliveryHistoryJob answer NotSupportDeliveryHistoryJob
	// for accounts not passed to AllowDeliveryHistoryJob, as the real service does for accounts
	// that did not ask for the feature. Off by default.
	RequireDeliveryJobAllowList bool
	// LogstoreTTLDays, when set, is the retention given to actiontrail_<name> Logstores each time
	// the service ensures them (CreateTrail, StartLogging, recovery). 0, the default, leaves an
	// existing Logstore's retention alone (the owner may have raised it, CIS 2.23 asks for 365
	// days) and lets the SLS backend give a new one its default (180 days).
	LogstoreTTLDays int
	// Logger receives delivery state changes (JSON); nil means no logs.
	Logger *zerolog.Logger
}

func (o *Options) defaults() {
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.OSSBatchWindow <= 0 {
		o.OSSBatchWindow = 5 * time.Second
	}
	if o.LookupRatePerSecond == 0 {
		o.LookupRatePerSecond = 2
	}
	if o.DeliveryJobInitDelay <= 0 {
		o.DeliveryJobInitDelay = 2 * time.Second
	}
	if o.DeliveryJobRunTime <= 0 {
		o.DeliveryJobRunTime = 3 * time.Second
	}
	if o.LogstoreTTLDays < 0 {
		o.LogstoreTTLDays = 0
	}
}

// Service is the ActionTrail emulator of one world.
type Service struct {
	w    *core.World
	opts Options
	log  zerolog.Logger

	mu       sync.Mutex
	trails   map[string]*trail   // owner + "/" + name
	byOwner  map[string][]*trail // single-account trails by owner, for the record hook
	org      []*trail            // multi-account trails (at most one today), for the record hook
	orgInbox []orgRecord         // records an organization trail may cover, awaiting the router
	jobs     map[int64]*job
	nextJob  int64
	tokens   map[string]int64 // owner + "/" + ClientToken -> job id
	allowed  map[string]bool  // accounts allowed to create delivery history jobs
	limiters map[string]*rate.Limiter
	inner    map[string]*innerTrail // account -> Inner-ActionTrail
	closed   bool
	// failJobs is how many new jobs are still to fail after failAfter records (FailNextJobsAfter).
	failJobs, failAfter int

	flushMu sync.Mutex // one delivery pass at a time
	stop    chan struct{}
	done    chan struct{}
}

// New makes the service, subscribes it to the world's records and OSS operations, and starts
// its delivery worker. Call Close to stop the worker.
func New(w *core.World, opts Options) *Service {
	opts.defaults()
	s := &Service{
		w:        w,
		opts:     opts,
		log:      zerolog.Nop(),
		trails:   map[string]*trail{},
		byOwner:  map[string][]*trail{},
		jobs:     map[int64]*job{},
		nextJob:  16601, // real job ids are five-digit and up
		tokens:   map[string]int64{},
		allowed:  map[string]bool{},
		limiters: map[string]*rate.Limiter{},
		inner:    map[string]*innerTrail{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if opts.Logger != nil {
		s.log = opts.Logger.With().Str("service", "actiontrail").Logger()
	}
	w.Recorder.OnRecord(s.onRecord)
	w.Recorder.OnOSSOperation(s.onOSSOperation)
	go s.run()
	return s
}

// RPC is the Actiontrail 2020-07-06 product to register on a core.RPCServer.
func (s *Service) RPC() *core.Service {
	return &core.Service{
		Product: "Actiontrail", Version: "2020-07-06", EventSource: ServicePrincipal, ServiceName: "Actiontrail",
		Actions: map[string]core.Action{
			"CreateTrail":              {Handler: s.createTrail, Write: true},
			"UpdateTrail":              {Handler: s.updateTrail, Write: true},
			"DeleteTrail":              {Handler: s.deleteTrail, Write: true},
			"DescribeTrails":           {Handler: s.describeTrails},
			"GetTrailStatus":           {Handler: s.getTrailStatus},
			"StartLogging":             {Handler: s.startLogging, Write: true},
			"StopLogging":              {Handler: s.stopLogging, Write: true},
			"CreateDeliveryHistoryJob": {Handler: s.createDeliveryHistoryJob, Write: true},
			"GetDeliveryHistoryJob":    {Handler: s.getDeliveryHistoryJob},
			"ListDeliveryHistoryJobs":  {Handler: s.listDeliveryHistoryJobs},
			"DeleteDeliveryHistoryJob": {Handler: s.deleteDeliveryHistoryJob, Write: true},
			"LookupEvents":             {Handler: s.lookupEvents},
		},
	}
}

// AllowDeliveryHistoryJob allow-lists an account for data backfill jobs (see Options.RequireDeliveryJobAllowList).
func (s *Service) AllowDeliveryHistoryJob(account string, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed[account] = allowed
}

func (s *Service) run() {
	defer close(s.done)
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.pass(false)
		}
	}
}

// Tick runs one background pass now: route new records, move delivery jobs forward by the
// world clock, deliver to SLS and ship the OSS batches that are due. Tests call it after
// advancing a core.ManualClock instead of sleeping.
func (s *Service) Tick() { s.pass(false) }

// Flush is Tick that also ships every pending OSS batch, however young.
func (s *Service) Flush() { s.pass(true) }

// Close stops the worker after a last Flush. Records arriving later are ignored.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.pass(true)
}

func (s *Service) pass(force bool) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.route()
	s.advanceJobs()
	s.deliverAll(force)
	s.deliverInner()
}

func trailKey(owner, name string) string { return owner + "/" + name }
