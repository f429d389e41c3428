package sls

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// project is one SLS project; every field is guarded by Server.mu.
type project struct {
	name        string
	description string
	owner       string
	region      string
	redundancy  string
	created     time.Time
	modified    time.Time
	logstores   map[string]*logstore
	dashboards  map[string]*dashboard
}

// EncryptConf is a Logstore's encrypt_conf as the API shows it.
type EncryptConf struct {
	Enable      bool         `json:"enable"`
	EncryptType string       `json:"encrypt_type"`
	UserCmkInfo *UserCmkInfo `json:"user_cmk_info,omitempty"`
}

// UserCmkInfo names the customer master key of a BYOK-encrypted Logstore.
type UserCmkInfo struct {
	CmkKeyID string `json:"cmk_key_id"`
	Arn      string `json:"arn"`
	RegionID string `json:"region_id"`
}

type logstore struct {
	name          string
	ttl           int
	hotTTL        int
	maxSplitShard int
	autoSplit     bool
	appendMeta    bool
	webTracking   bool
	telemetryType string
	mode          string
	encrypt       *EncryptConf
	created       time.Time
	modified      time.Time

	shards      []*shard // ordered by id
	nextShardID int
	lbNext      int   // round robin over writable shards
	seq         int64 // arrival order of logs across shards, for stable time ordering

	index         map[string]any // nil: no index
	indexModified time.Time

	// serviceManaged Logstores (actiontrail_*, innertrail_*) refuse writes from callers.
	serviceManaged bool

	consumerGroups map[string]*consumerGroup
	lastPurge      time.Time

	// order is every stored log by time and then arrival; topics is the same per topic, so a
	// search on one topic reads only its logs. Both change with the groups (store, purge).
	order  logOrder
	topics map[string]*logOrder
}

type shard struct {
	id      int
	status  string // readwrite | readonly
	begin   string // inclusive, 32 hex digits
	end     string // exclusive, 32 hex digits
	created time.Time
	base    int64 // cursor of groups[0]; grows as expired groups are dropped
	groups  []*logGroup
}

type logGroup struct {
	receive time.Time
	topic   string
	source  string
	tags    [][2]string
	logs    []entry
}

type entry struct {
	time     time.Time
	timeNs   uint32
	hasNs    bool
	contents [][2]string
	seq      int64
}

// expired reports whether a log time is past the Logstore's retention at now.
func (ls *logstore) expired(t, now time.Time) bool {
	return t.Before(now.Add(-time.Duration(ls.ttl) * 24 * time.Hour))
}

// purge drops log groups whose every log is past retention. Cursors stay valid: each shard
// keeps the cursor of its first remaining group.
func (ls *logstore) purge(now time.Time) {
	if now.Sub(ls.lastPurge) < time.Minute && !ls.lastPurge.IsZero() {
		return
	}
	ls.lastPurge = now
	var gone map[*logGroup]bool
	for _, sh := range ls.shards {
		drop := 0
		for _, g := range sh.groups {
			if !g.allExpired(ls, now) {
				break
			}
			drop++
		}
		if drop > 0 {
			if gone == nil {
				gone = map[*logGroup]bool{}
			}
			for _, g := range sh.groups[:drop] {
				gone[g] = true
			}
			sh.groups = append([]*logGroup(nil), sh.groups[drop:]...)
			sh.base += int64(drop)
		}
	}
	if gone == nil {
		return
	}
	// Every dropped log is past retention, so all lie before the first live log of each order.
	live := func(r *ref) bool { return !ls.expired(r.e.time, now) }
	ls.order.remove(gone, live)
	topics := map[string]bool{}
	for g := range gone {
		topics[g.topic] = true
	}
	for topic := range topics {
		t := ls.topics[topic]
		if t.remove(gone, live); t.n == 0 {
			delete(ls.topics, topic)
		}
	}
}

// store appends a log group to a shard and adds its logs to the orders, then purges. Caller
// holds Server.mu exclusively.
func (ls *logstore) store(sh *shard, g *logGroup, now time.Time) {
	sh.groups = append(sh.groups, g)
	t := ls.topics[g.topic]
	if t == nil {
		if ls.topics == nil {
			ls.topics = map[string]*logOrder{}
		}
		t = &logOrder{}
		ls.topics[g.topic] = t
	}
	for i := range g.logs {
		r := ref{g: g, e: &g.logs[i], shard: sh.id}
		ls.order.insert(r)
		t.insert(r)
	}
	ls.purge(now)
}

func (g *logGroup) allExpired(ls *logstore, now time.Time) bool {
	for _, e := range g.logs {
		if !ls.expired(e.time, now) {
			return false
		}
	}
	return true
}

func (ls *logstore) shardByID(id int) *shard {
	for _, sh := range ls.shards {
		if sh.id == id {
			return sh
		}
	}
	return nil
}

func (ls *logstore) writable() []*shard {
	var out []*shard
	for _, sh := range ls.shards {
		if sh.status == "readwrite" {
			out = append(out, sh)
		}
	}
	return out
}

// shardForKey picks the writable shard whose [begin, end) range holds a hash key.
func (ls *logstore) shardForKey(key string) *shard {
	w := ls.writable()
	for _, sh := range w {
		if key >= sh.begin && (key < sh.end || sh.end == maxKey && key <= sh.end) {
			return sh
		}
	}
	if len(w) > 0 {
		return w[len(w)-1]
	}
	return nil
}

// nextWritable round-robins over writable shards (the LoadBalance write mode).
func (ls *logstore) nextWritable() *shard {
	w := ls.writable()
	if len(w) == 0 {
		return nil
	}
	ls.lbNext = (ls.lbNext + 1) % len(w)
	return w[ls.lbNext]
}

const maxKey = "ffffffffffffffffffffffffffffffff"

var keySpace = new(big.Int).Lsh(big.NewInt(1), 128)

func formatKey(v *big.Int) string {
	if v.Cmp(keySpace) >= 0 {
		return maxKey
	}
	return fmt.Sprintf("%032x", v)
}

func parseKey(s string) (*big.Int, bool) {
	if len(s) != 32 {
		return nil, false
	}
	v, ok := new(big.Int).SetString(s, 16)
	return v, ok
}

// splitRange cuts [begin, end) into n even parts (n >= 1).
func splitRange(begin, end string, n int) [][2]string {
	b, _ := parseKey(begin)
	e, _ := parseKey(end)
	if end == maxKey {
		e = new(big.Int).Set(keySpace)
	}
	width := new(big.Int).Sub(e, b)
	out := make([][2]string, n)
	for i := 0; i < n; i++ {
		lo := new(big.Int).Add(b, new(big.Int).Div(new(big.Int).Mul(width, big.NewInt(int64(i))), big.NewInt(int64(n))))
		hi := new(big.Int).Add(b, new(big.Int).Div(new(big.Int).Mul(width, big.NewInt(int64(i+1))), big.NewInt(int64(n))))
		out[i] = [2]string{formatKey(lo), formatKey(hi)}
	}
	out[n-1][1] = end
	return out
}

func newShards(n int, now time.Time) []*shard {
	ranges := splitRange(strings.Repeat("0", 32), maxKey, n)
	out := make([]*shard, n)
	for i, r := range ranges {
		out[i] = &shard{id: i, status: "readwrite", begin: r[0], end: r[1], created: now}
	}
	return out
}

// StoredLog is one stored log as tests and other localcloud parts read it.
type StoredLog struct {
	Time        time.Time // log time (seconds, plus TimeNs when the writer sent it)
	Topic       string
	Source      string
	Tags        [][2]string // without the __tag__: prefix
	Contents    [][2]string // in write order
	Shard       int
	ReceiveTime time.Time
}

// Get returns the last value of a content key.
func (l StoredLog) Get(key string) (string, bool) {
	v, ok := "", false
	for _, kv := range l.Contents {
		if kv[0] == key {
			v, ok = kv[1], true
		}
	}
	return v, ok
}

// Fields is the log as GetLogs shows it: contents plus __time__, __topic__, __source__ and
// each tag as __tag__:<key>, every value a string.
func (l StoredLog) Fields() map[string]string {
	return fieldsOf(l.Time, l.Topic, l.Source, l.Tags, l.Contents, l.Time.Nanosecond() != 0)
}

func fieldsOf(t time.Time, topic, source string, tags, contents [][2]string, withNs bool) map[string]string {
	m := make(map[string]string, len(contents)+len(tags)+3)
	for _, kv := range contents {
		m[kv[0]] = kv[1]
	}
	for _, kv := range tags {
		m["__tag__:"+kv[0]] = kv[1]
	}
	m["__time__"] = strconv.FormatInt(t.Unix(), 10)
	m["__topic__"] = topic
	m["__source__"] = source
	if withNs {
		m["__time_ns_part__"] = strconv.Itoa(t.Nanosecond())
	}
	return m
}

// ref points at one stored log while a read is assembled.
type ref struct {
	g     *logGroup
	e     *entry
	shard int
}

func (r ref) stored() StoredLog {
	return StoredLog{
		Time: r.e.time, Topic: r.g.topic, Source: r.g.source,
		Tags: append([][2]string(nil), r.g.tags...), Contents: append([][2]string(nil), r.e.contents...),
		Shard: r.shard, ReceiveTime: r.g.receive,
	}
}

func (r ref) fields() map[string]string {
	return fieldsOf(r.e.time, r.g.topic, r.g.source, r.g.tags, r.e.contents, r.e.hasNs)
}

// collect returns the live logs with from <= time < to (zero times mean unbounded), ordered by
// time and then arrival. Caller holds Server.mu.
func (ls *logstore) collect(from, to, now time.Time) []ref {
	sp := ls.order.live(ls, from, to, now)
	return sp.appendTo(make([]ref, 0, sp.len()))
}
