package sls

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"golang.org/x/time/rate"
)

// Errors of the Go-level API (the service-side backend and accessors); test with errors.Is.
var (
	ErrProjectNotExist     = errors.New("sls: project does not exist")
	ErrProjectAlreadyExist = errors.New("sls: project already exists")
	ErrLogStoreNotExist    = errors.New("sls: logstore does not exist")
	ErrInvalid             = errors.New("sls: invalid argument")
)

// writeQuota is a project's write rate limit, a token bucket judged with the world clock.
type writeQuota struct {
	lim    *rate.Limiter
	perSec float64
}

// SetWriteQuota limits PutLogs requests of a project to perSecond (burst: one second's worth,
// at least 1); beyond it callers get 403 WriteQuotaExceed. perSecond <= 0 removes the limit.
// It may be set before the project exists. Service writes are never limited.
func (s *Server) SetWriteQuota(project string, perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quotas == nil {
		s.quotas = map[string]*writeQuota{}
	}
	if perSecond <= 0 {
		delete(s.quotas, project)
		return
	}
	burst := int(math.Ceil(perSecond))
	if burst < 1 {
		burst = 1
	}
	s.quotas[project] = &writeQuota{lim: rate.NewLimiter(rate.Limit(perSecond), burst), perSec: perSecond}
}

// ProjectOwner returns the account owning a project and whether it exists.
func (s *Server) ProjectOwner(project string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[project]
	if !ok {
		return "", false
	}
	return p.owner, true
}

// CreateServiceProject creates a project owned by owner (Log Audit's central project) if it is
// missing. An existing project of the same owner is fine; of another owner it is an error.
func (s *Server) CreateServiceProject(owner, project, region string) error {
	if !validProjectName(project) {
		return fmt.Errorf("%w: project name %q must be 3 to 63 characters of [a-z0-9-], starting and ending with a letter or digit", ErrInvalid, project)
	}
	if owner == "" {
		return fmt.Errorf("%w: owner account is required", ErrInvalid)
	}
	if region == "" {
		region = s.w.Region
	}
	now := s.w.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[project]; ok {
		if p.owner != owner {
			return fmt.Errorf("%w: %s is owned by account %s, not %s", ErrProjectAlreadyExist, project, p.owner, owner)
		}
		return nil
	}
	s.projects[project] = s.newProject(project, "", owner, region, "LRS", now)
	return nil
}

// defaultServiceTTL is the retention a service Logstore gets when the caller names none
// (the Inner-ActionTrail dedicated Logstore's 180 days).
const defaultServiceTTL = 180

// EnsureServiceLogstore creates a service-managed Logstore (actiontrail_*, innertrail_*) with an
// index for the service's fields, or adopts an existing one; either way callers can no longer
// write it. ttlDays > 0 sets the retention (also of an existing Logstore, as enabling
// Inner-ActionTrail does); 0 keeps it, or gives a new one 180 days.
func (s *Server) EnsureServiceLogstore(project, logstore string, ttlDays int) error {
	if !validLogstoreName(logstore) {
		return fmt.Errorf("%w: logstore name %q must be 3 to 63 characters of [a-z0-9_-], starting and ending with a letter or digit", ErrInvalid, logstore)
	}
	if ttlDays < 0 || ttlDays > maxTTLDays {
		return fmt.Errorf("%w: ttl %d must be from 1 to %d days (0 keeps the current one)", ErrInvalid, ttlDays, maxTTLDays)
	}
	now := s.w.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[project]
	if !ok {
		return fmt.Errorf("%w: %s", ErrProjectNotExist, project)
	}
	ls, ok := p.logstores[logstore]
	if !ok {
		if len(p.logstores) >= maxLogstoresPerProject {
			return fmt.Errorf("%w: project %s already has %d logstores", ErrInvalid, project, maxLogstoresPerProject)
		}
		ls = newLogstore(logstore, 2, now)
		ls.ttl, ls.autoSplit, ls.maxSplitShard = defaultServiceTTL, true, 64
		p.logstores[logstore] = ls
	}
	if ttlDays > 0 {
		ls.ttl = ttlDays
		if ls.hotTTL > ttlDays {
			ls.hotTTL = ttlDays
		}
		ls.modified = now
	}
	if ls.index == nil {
		ls.index = serviceIndex(logstore)
		ls.indexModified = now
	}
	ls.serviceManaged = true
	return nil
}

// ServiceWrite appends logs as the service itself: one log group, no write protection, quota
// or faults. Empty logs are a no-op.
func (s *Server) ServiceWrite(project, logstore, topic, source string, logs []core.ServiceLog) error {
	if len(logs) == 0 {
		return nil
	}
	for i, l := range logs {
		for _, kv := range l.Contents {
			if kv[0] == "" || reservedKeys[kv[0]] {
				return fmt.Errorf("%w: log %d has key %q (empty and reserved keys are refused)", ErrInvalid, i, kv[0])
			}
			if !utf8.ValidString(kv[0]) || !utf8.ValidString(kv[1]) {
				return fmt.Errorf("%w: log %d key %q is not UTF-8", ErrInvalid, i, kv[0])
			}
		}
	}
	now := s.w.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[project]
	if !ok {
		return fmt.Errorf("%w: %s", ErrProjectNotExist, project)
	}
	ls, ok := p.logstores[logstore]
	if !ok {
		return fmt.Errorf("%w: %s/%s", ErrLogStoreNotExist, project, logstore)
	}
	sh := ls.nextWritable()
	if sh == nil {
		return fmt.Errorf("%w: %s/%s has no writable shard", ErrInvalid, project, logstore)
	}
	g := &logGroup{receive: now, topic: topic, source: source, logs: make([]entry, 0, len(logs))}
	if ls.appendMeta {
		g.tags = [][2]string{{"__receive_time__", fmt.Sprint(now.Unix())}}
	}
	for _, l := range logs {
		ls.seq++
		t := l.Time.UTC()
		if t.IsZero() {
			t = now
		}
		g.logs = append(g.logs, entry{time: t, timeNs: uint32(t.Nanosecond()), hasNs: t.Nanosecond() != 0,
			contents: append([][2]string(nil), l.Contents...), seq: ls.seq})
	}
	ls.store(sh, g, now)
	return nil
}

// ProjectInfo describes a project for Go callers.
type ProjectInfo struct {
	Name               string
	Description        string
	Owner              string
	Region             string
	DataRedundancyType string
	CreateTime         time.Time
	LastModifyTime     time.Time
	Logstores          []string // sorted
}

func (p *project) info() ProjectInfo {
	names := make([]string, 0, len(p.logstores))
	for n := range p.logstores {
		names = append(names, n)
	}
	sort.Strings(names)
	return ProjectInfo{Name: p.name, Description: p.description, Owner: p.owner, Region: p.region,
		DataRedundancyType: p.redundancy, CreateTime: p.created, LastModifyTime: p.modified, Logstores: names}
}

// Project describes one project.
func (s *Server) Project(name string) (ProjectInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[name]
	if !ok {
		return ProjectInfo{}, false
	}
	return p.info(), true
}

// Projects describes every project, sorted by name.
func (s *Server) Projects() []ProjectInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]ProjectInfo, 0, len(s.projects))
	for _, p := range s.projects {
		out = append(out, p.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LogstoreInfo describes a Logstore for Go callers.
type LogstoreInfo struct {
	Project        string
	Name           string
	TTL            int
	HotTTL         int
	ShardCount     int // readwrite shards
	AutoSplit      bool
	MaxSplitShard  int
	AppendMeta     bool
	WebTracking    bool
	TelemetryType  string
	Mode           string
	Encryption     *EncryptConf // nil when not configured
	CreateTime     time.Time
	LastModifyTime time.Time
	HasIndex       bool
	ServiceManaged bool // written only by its service (actiontrail_*, innertrail_*)
	ConsumerGroups []string
}

// Logstore describes one Logstore.
func (s *Server) Logstore(project, name string) (LogstoreInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[project]
	if !ok {
		return LogstoreInfo{}, false
	}
	ls, ok := p.logstores[name]
	if !ok {
		return LogstoreInfo{}, false
	}
	info := LogstoreInfo{
		Project: project, Name: ls.name, TTL: ls.ttl, HotTTL: ls.hotTTL, ShardCount: len(ls.writable()),
		AutoSplit: ls.autoSplit, MaxSplitShard: ls.maxSplitShard, AppendMeta: ls.appendMeta,
		WebTracking: ls.webTracking, TelemetryType: ls.json().TelemetryType, Mode: ls.mode,
		CreateTime: ls.created, LastModifyTime: ls.modified, HasIndex: ls.index != nil,
		ServiceManaged: ls.serviceManaged,
	}
	if ls.encrypt != nil {
		e := *ls.encrypt
		if e.UserCmkInfo != nil {
			k := *e.UserCmkInfo
			e.UserCmkInfo = &k
		}
		info.Encryption = &e
	}
	for n := range ls.consumerGroups {
		info.ConsumerGroups = append(info.ConsumerGroups, n)
	}
	sort.Strings(info.ConsumerGroups)
	return info, true
}

// Index returns a copy of a Logstore's index config as GetIndex shows it.
func (s *Server) Index(project, name string) (map[string]any, bool) {
	var raw []byte
	s.read(func() {
		if p, ok := s.projects[project]; ok {
			if store, ok := p.logstores[name]; ok && store.index != nil {
				raw, _ = json.Marshal(store.indexJSON())
			}
		}
	})
	var out map[string]any
	if raw == nil || json.Unmarshal(raw, &out) != nil {
		return nil, false
	}
	return out, true
}

// Logs returns the Logstore's logs inside retention (judged with the world clock), ordered by
// time and then arrival. Nil when the Logstore does not exist.
func (s *Server) Logs(project, logstore string) []StoredLog {
	now := s.w.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[project]
	if !ok {
		return nil
	}
	ls, ok := p.logstores[logstore]
	if !ok {
		return nil
	}
	refs := ls.collect(time.Time{}, time.Time{}, now)
	out := make([]StoredLog, len(refs))
	for i, r := range refs {
		out[i] = r.stored()
	}
	return out
}
