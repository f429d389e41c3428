package sls

import (
	"sort"
	"strings"
	"time"
)

// validLogstoreName: 3 to 63 characters of [a-z0-9_-], starting and ending with a letter or digit.
func validLogstoreName(n string) bool {
	if len(n) < 3 || len(n) > 63 {
		return false
	}
	for i := 0; i < len(n); i++ {
		ch := n[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9'
		if !alnum && (ch != '-' && ch != '_' || i == 0 || i == len(n)-1) {
			return false
		}
	}
	return true
}

// serviceLogstoreName reports whether a name is reserved for service-written Logstores.
func serviceLogstoreName(n string) bool {
	return strings.HasPrefix(n, "actiontrail_") || strings.HasPrefix(n, "innertrail_")
}

var encryptTypes = map[string]bool{
	"default": true, "m4": true, "sm4_ecb": true, "sm4_cbc": true, "sm4_gcm": true,
	"aes_ecb": true, "aes_cbc": true, "aes_cfb": true, "aes_ofb": true, "aes_gcm": true,
}

// logstoreBody is the JSON of CreateLogStore and UpdateLogStore; pointers tell absent from zero.
type logstoreBody struct {
	LogstoreName   string       `json:"logstoreName"`
	TTL            *int         `json:"ttl"`
	ShardCount     *int         `json:"shardCount"`
	AutoSplit      *bool        `json:"autoSplit"`
	MaxSplitShard  *int         `json:"maxSplitShard"`
	AppendMeta     *bool        `json:"appendMeta"`
	EnableTracking *bool        `json:"enable_tracking"`
	TelemetryType  *string      `json:"telemetryType"`
	HotTTL         *int         `json:"hot_ttl"`
	Mode           *string      `json:"mode"`
	EncryptConf    *EncryptConf `json:"encrypt_conf"`
}

func validTTL(ttl int) *apiError {
	if ttl < 1 || ttl > maxTTLDays {
		return errParam("ttl %d is invalid: it must be from 1 to %d days", ttl, maxTTLDays)
	}
	return nil
}

func validEncrypt(e *EncryptConf) *apiError {
	if !encryptTypes[e.EncryptType] {
		return errParam("encrypt_conf.encrypt_type %q is invalid: it must be default, m4, sm4_ecb, sm4_cbc, sm4_gcm, aes_ecb, aes_cbc, aes_cfb, aes_ofb or aes_gcm", e.EncryptType)
	}
	if k := e.UserCmkInfo; k != nil && (k.CmkKeyID == "" || k.Arn == "" || k.RegionID == "") {
		return errParam("encrypt_conf.user_cmk_info needs cmk_key_id, arn and region_id")
	}
	return nil
}

// apply validates the present fields of b against ls (a new Logstore when create) and sets them.
func (b *logstoreBody) apply(ls *logstore, create bool) *apiError {
	if b.TTL != nil {
		if err := validTTL(*b.TTL); err != nil {
			return err
		}
	} else if create {
		return errParam("ttl is required: 1 to %d days", maxTTLDays)
	}
	if create {
		if b.ShardCount == nil {
			return errParam("shardCount is required: 1 to %d", maxShardCount)
		}
		if *b.ShardCount < 1 || *b.ShardCount > maxShardCount {
			return errParam("shardCount %d is invalid: it must be from 1 to %d", *b.ShardCount, maxShardCount)
		}
	}
	autoSplit := ls.autoSplit
	if b.AutoSplit != nil {
		autoSplit = *b.AutoSplit
	}
	maxSplit := ls.maxSplitShard
	if b.MaxSplitShard != nil {
		maxSplit = *b.MaxSplitShard
	}
	if autoSplit {
		if maxSplit == 0 {
			maxSplit = 64
		}
		if maxSplit < 1 || maxSplit > maxShardCount {
			return errParam("maxSplitShard %d is invalid: it must be from 1 to %d when autoSplit is true", maxSplit, maxShardCount)
		}
	}
	telemetry := ls.telemetryType
	if b.TelemetryType != nil {
		switch *b.TelemetryType {
		case "", "None", "Metrics":
		default:
			return errParam("telemetryType %q is invalid: it must be None or Metrics", *b.TelemetryType)
		}
		if !create && *b.TelemetryType != "" && *b.TelemetryType != ls.telemetryType && !(ls.telemetryType == "" && *b.TelemetryType == "None") {
			return errParam("telemetryType can not be modified after the Logstore is created")
		}
		if create {
			telemetry = *b.TelemetryType
		}
	}
	mode := ls.mode
	if b.Mode != nil && *b.Mode != "" {
		switch *b.Mode {
		case "standard", "query", "lite":
		default:
			return errParam("mode %q is invalid: it must be standard, query or lite", *b.Mode)
		}
		if !create && *b.Mode != ls.mode {
			return errParam("mode can not be modified after the Logstore is created")
		}
		mode = *b.Mode
	}
	ttl := ls.ttl
	if b.TTL != nil {
		ttl = *b.TTL
	}
	hot := ls.hotTTL
	if b.HotTTL != nil {
		hot = *b.HotTTL
	}
	if hot < 0 || hot > ttl {
		return errParam("hot_ttl %d is invalid: it must be from 0 to ttl (%d)", hot, ttl)
	}
	var enc *EncryptConf
	if b.EncryptConf != nil {
		if err := validEncrypt(b.EncryptConf); err != nil {
			return err
		}
		if ls.encrypt != nil && ls.encrypt.EncryptType != b.EncryptConf.EncryptType {
			return errParam("encrypt_conf.encrypt_type can not be modified once set (%s)", ls.encrypt.EncryptType)
		}
		e := *b.EncryptConf
		if e.UserCmkInfo != nil {
			k := *e.UserCmkInfo
			e.UserCmkInfo = &k
		}
		enc = &e
	}
	// Everything is valid: set it.
	ls.ttl, ls.hotTTL, ls.autoSplit, ls.telemetryType, ls.mode = ttl, hot, autoSplit, telemetry, mode
	if autoSplit || b.MaxSplitShard != nil {
		ls.maxSplitShard = maxSplit
	}
	if b.AppendMeta != nil {
		ls.appendMeta = *b.AppendMeta
	}
	if b.EnableTracking != nil {
		ls.webTracking = *b.EnableTracking
	}
	if enc != nil {
		ls.encrypt = enc
	}
	return nil
}

func newLogstore(name string, shardCount int, now time.Time) *logstore {
	return &logstore{
		name: name, mode: "standard", created: now, modified: now,
		shards: newShards(shardCount, now), nextShardID: shardCount,
		consumerGroups: map[string]*consumerGroup{},
	}
}

type logstoreJSON struct {
	LogstoreName   string       `json:"logstoreName"`
	TTL            int          `json:"ttl"`
	HotTTL         int          `json:"hot_ttl,omitempty"`
	ShardCount     int          `json:"shardCount"`
	EnableTracking bool         `json:"enable_tracking"`
	AutoSplit      bool         `json:"autoSplit"`
	MaxSplitShard  int          `json:"maxSplitShard"`
	AppendMeta     bool         `json:"appendMeta"`
	TelemetryType  string       `json:"telemetryType"`
	Mode           string       `json:"mode"`
	CreateTime     int64        `json:"createTime"`
	LastModifyTime int64        `json:"lastModifyTime"`
	EncryptConf    *EncryptConf `json:"encrypt_conf,omitempty"`
	ArchiveSeconds int          `json:"archiveSeconds"`
}

func (ls *logstore) json() logstoreJSON {
	telemetry := ls.telemetryType
	if telemetry == "" {
		telemetry = "None"
	}
	return logstoreJSON{
		LogstoreName: ls.name, TTL: ls.ttl, HotTTL: ls.hotTTL, ShardCount: len(ls.writable()),
		EnableTracking: ls.webTracking, AutoSplit: ls.autoSplit, MaxSplitShard: ls.maxSplitShard,
		AppendMeta: ls.appendMeta, TelemetryType: telemetry, Mode: ls.mode,
		CreateTime: ls.created.Unix(), LastModifyTime: ls.modified.Unix(), EncryptConf: ls.encrypt,
	}
}

func (c *call) logstoreParam(name string) {
	c.param("LogstoreName", name)
	c.resourceType, c.resourceName = "ACS::SLS::Logstore", c.project+"/"+name
}

func (c *call) createLogstore() error {
	var body logstoreBody
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	c.logstoreParam(body.LogstoreName)
	if body.TTL != nil {
		c.param("TTL", *body.TTL)
	}
	if body.ShardCount != nil {
		c.param("ShardCount", *body.ShardCount)
	}
	if !validLogstoreName(body.LogstoreName) {
		return errParam("logstoreName %q is invalid: it must be 3 to 63 characters of lowercase letters, digits, hyphens and underscores, starting and ending with a letter or digit", body.LogstoreName)
	}
	sc := 0
	if body.ShardCount != nil {
		sc = *body.ShardCount
	}
	if sc < 1 || sc > maxShardCount {
		sc = 1 // apply reports the precise error
	}
	ls := newLogstore(body.LogstoreName, sc, c.now)
	if err := body.apply(ls, true); err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, err := c.projectLocked()
	if err != nil {
		return err
	}
	if _, ok := p.logstores[ls.name]; ok {
		return errorf(400, "LogStoreAlreadyExist", "logstore %s already exists", ls.name)
	}
	if len(p.logstores) >= maxLogstoresPerProject {
		return errorf(400, "QuotaExceed", "logstore count in project %s exceeds the quota of %d", p.name, maxLogstoresPerProject)
	}
	p.logstores[ls.name] = ls
	return nil
}

func (c *call) getLogstore() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return err
	}
	return c.json(ls.json())
}

func (c *call) updateLogstore() error {
	name := c.segs[1]
	c.logstoreParam(name)
	var body logstoreBody
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	if body.TTL != nil {
		c.param("TTL", *body.TTL)
	}
	if body.LogstoreName != "" && body.LogstoreName != name {
		return errParam("logstoreName %q in the body differs from the Logstore %q of the path", body.LogstoreName, name)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, ls, err := c.logstoreLocked(name)
	if err != nil {
		return err
	}
	// apply validates every field before it sets any, so a refused update changes nothing.
	if err := body.apply(ls, false); err != nil {
		return err
	}
	ls.modified = c.now
	return nil
}

func (c *call) deleteLogstore() error {
	name := c.segs[1]
	c.logstoreParam(name)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, _, err := c.logstoreLocked(name)
	if err != nil {
		return err
	}
	delete(p.logstores, name)
	return nil
}

func (c *call) listLogstores() error {
	offset, size, perr := c.pageParams(200, 500)
	if perr != nil {
		return perr
	}
	nameFilter, telemetry := c.query.Get("logstoreName"), c.query.Get("telemetryType")
	var all []string
	var err *apiError
	c.s.read(func() {
		var p *project
		if p, err = c.projectLocked(); err != nil {
			return
		}
		for name, ls := range p.logstores {
			if nameFilter != "" && !strings.Contains(name, nameFilter) {
				continue
			}
			if telemetry != "" && !strings.EqualFold(telemetry, ls.json().TelemetryType) {
				continue
			}
			all = append(all, name)
		}
	})
	if err != nil {
		return err
	}
	sort.Strings(all)
	items := page(all, offset, size)
	return c.json(struct {
		Count     int      `json:"count"`
		Total     int      `json:"total"`
		Logstores []string `json:"logstores"`
	}{len(items), len(all), items})
}
