package sls

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"strconv"
	"strings"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

type shardJSON struct {
	ShardID           int    `json:"shardID"`
	Status            string `json:"status"`
	InclusiveBeginKey string `json:"inclusiveBeginKey"`
	ExclusiveEndKey   string `json:"exclusiveEndKey"`
	CreateTime        int64  `json:"createTime"`
}

func (sh *shard) json() shardJSON {
	return shardJSON{ShardID: sh.id, Status: sh.status, InclusiveBeginKey: sh.begin, ExclusiveEndKey: sh.end, CreateTime: sh.created.Unix()}
}

func (c *call) listShards() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return err
	}
	out := make([]shardJSON, len(ls.shards))
	for i, sh := range ls.shards {
		out[i] = sh.json()
	}
	return c.json(out)
}

// shardLocked resolves /logstores/{ls}/shards/{id}. Caller holds s.mu.
func (c *call) shardLocked() (*logstore, *shard, *apiError) {
	_, ls, err := c.logstoreLocked(c.segs[1])
	if err != nil {
		return nil, nil, err
	}
	id, perr := strconv.Atoi(c.segs[3])
	sh := ls.shardByID(id)
	if perr != nil || sh == nil {
		return ls, nil, errorf(400, "ShardNotExist", "Shard %s does not exist", c.segs[3])
	}
	return ls, sh, nil
}

func (c *call) splitShard() error {
	c.logstoreParam(c.segs[1])
	c.param("ShardID", c.segs[3])
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ls, sh, err := c.shardLocked()
	if err != nil {
		return err
	}
	if sh.status != "readwrite" {
		return errParam("shard %d is %s: only a readwrite shard can be split", sh.id, sh.status)
	}
	var ranges [][2]string
	if key := strings.ToLower(c.query.Get("key")); key != "" {
		if _, ok := parseKey(key); !ok || key <= sh.begin || key >= sh.end {
			return errParam("key %q is invalid: it must be 32 hex digits strictly inside the shard range [%s, %s)", key, sh.begin, sh.end)
		}
		ranges = [][2]string{{sh.begin, key}, {key, sh.end}}
	} else {
		n := 2
		if v := c.query.Get("shardCount"); v != "" {
			var e error
			n, e = strconv.Atoi(v)
			if e != nil || n < 2 || n > 64 {
				return errParam("shardCount %q is invalid: it must be from 2 to 64", v)
			}
		}
		ranges = splitRange(sh.begin, sh.end, n)
	}
	if len(ls.writable())-1+len(ranges) > maxShardCount {
		return errorf(400, "QuotaExceed", "a Logstore has at most %d readwrite shards", maxShardCount)
	}
	sh.status = "readonly"
	out := []shardJSON{sh.json()}
	for _, r := range ranges {
		n := &shard{id: ls.nextShardID, status: "readwrite", begin: r[0], end: r[1], created: c.now}
		ls.nextShardID++
		ls.shards = append(ls.shards, n)
		out = append(out, n.json())
	}
	ls.modified = c.now
	return c.json(out)
}

func (c *call) mergeShards() error {
	c.logstoreParam(c.segs[1])
	c.param("ShardID", c.segs[3])
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ls, sh, err := c.shardLocked()
	if err != nil {
		return err
	}
	var next *shard
	for _, o := range ls.shards {
		if o.status == "readwrite" && o.begin == sh.end {
			next = o
		}
	}
	if sh.status != "readwrite" || next == nil {
		return errParam("shard %d can not be merged: it must be readwrite and have a readwrite shard right after its range", sh.id)
	}
	sh.status, next.status = "readonly", "readonly"
	m := &shard{id: ls.nextShardID, status: "readwrite", begin: sh.begin, end: next.end, created: c.now}
	ls.nextShardID++
	ls.shards = append(ls.shards, m)
	ls.modified = c.now
	return c.json([]shardJSON{m.json(), sh.json(), next.json()})
}

func encodeCursor(n int64) string {
	return base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10)))
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil && n >= 0
}

// firstLive is the cursor of the first group with a log still inside retention.
func (ls *logstore) firstLive(sh *shard, c *call) int64 {
	for i, g := range sh.groups {
		if !g.allExpired(ls, c.now) {
			return sh.base + int64(i)
		}
	}
	return sh.base + int64(len(sh.groups))
}

func (c *call) getCursor() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	ls, sh, err := c.shardLocked()
	if err != nil {
		return err
	}
	end := sh.base + int64(len(sh.groups))
	var cur int64
	switch from := c.query.Get("from"); from {
	case "begin":
		cur = ls.firstLive(sh, c)
	case "end":
		cur = end
	default:
		t, perr := strconv.ParseInt(from, 10, 64)
		if perr != nil {
			return errParam("Parameter From is not valid: %q must be begin, end or a unix time in seconds", from)
		}
		cur = end
		for i, g := range sh.groups {
			if g.receive.Unix() >= t {
				cur = max(sh.base+int64(i), ls.firstLive(sh, c))
				break
			}
		}
	}
	return c.json(map[string]string{"cursor": encodeCursor(cur)})
}

// cursorLocked decodes a cursor parameter of the shard: within [base, end]; cursors of
// groups dropped by retention move to the first kept group.
func (c *call) cursorLocked(sh *shard, param string) (int64, *apiError) {
	raw := c.query.Get(param)
	n, ok := decodeCursor(raw)
	if !ok {
		return 0, errParam("Invalid cursor %s.", raw)
	}
	if end := sh.base + int64(len(sh.groups)); n > end {
		return 0, errorf(400, "InvalidCursor", "This cursor is invalid: %s is past the end of shard %d", raw, sh.id)
	}
	return max(n, sh.base), nil
}

func (c *call) getCursorTime() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, sh, err := c.shardLocked()
	if err != nil {
		return err
	}
	n, cerr := c.cursorLocked(sh, "cursor")
	if cerr != nil {
		return cerr
	}
	t := c.now.Unix()
	if i := n - sh.base; i < int64(len(sh.groups)) {
		t = sh.groups[i].receive.Unix()
	} else if len(sh.groups) > 0 {
		t = sh.groups[len(sh.groups)-1].receive.Unix()
	}
	return c.json(map[string]int64{"cursor_time": t})
}

// pullLogs reads log groups of one shard from a cursor (the consumer's read path).
func (c *call) pullLogs() error {
	if c.query.Get("query") != "" {
		return errParam("query (SPL on PullLogs) is not supported by localcloud")
	}
	count := 1000
	if v := c.query.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return errParam("ParameterCount should be in [0-1000], got %q", v)
		}
		if n > 0 {
			count = n
		}
	}
	list, next, consecutive, err := c.readGroups(count)
	if err != nil {
		return err
	}
	raw, merr := proto.Marshal(list)
	if merr != nil {
		return errorf(500, "InternalServerError", "encode log groups: %v", merr)
	}
	body, ctype := compressResponse(raw, c.r.Header.Get("Accept-Encoding"))
	headers := []string{
		"X-Log-Cursor", encodeCursor(next),
		"X-Log-Count", strconv.Itoa(len(list.LogGroups)),
		"X-Log-Bodyrawsize", strconv.Itoa(len(raw)),
		"X-Log-Compresstype", ctype,
	}
	if len(list.LogGroups) > 0 && consecutive {
		headers = append(headers, "X-Log-Read-Last-Cursor", strconv.FormatInt(next-1, 10))
	}
	c.raw(body, "application/x-protobuf", headers...)
	return nil
}

// readGroups collects up to count log groups of the shard from the cursor (and before the end
// cursor), skipping groups whose logs are all past retention. It returns the next cursor and
// whether the returned groups are consecutive (then their own cursors can be derived).
func (c *call) readGroups(count int) (*slssdk.LogGroupList, int64, bool, *apiError) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	ls, sh, err := c.shardLocked()
	if err != nil {
		return nil, 0, false, err
	}
	start, err := c.cursorLocked(sh, "cursor")
	if err != nil {
		return nil, 0, false, err
	}
	stop := sh.base + int64(len(sh.groups))
	if c.query.Get("end_cursor") != "" {
		e, err := c.cursorLocked(sh, "end_cursor")
		if err != nil {
			return nil, 0, false, err
		}
		stop = min(stop, e)
	}
	list := &slssdk.LogGroupList{}
	next := start
	consecutive := true
	for next < stop && len(list.LogGroups) < count {
		g := sh.groups[next-sh.base]
		next++
		pg := ls.protoGroup(g, c)
		if len(pg.Logs) == 0 {
			consecutive = false
			continue
		}
		list.LogGroups = append(list.LogGroups, pg)
	}
	return list, next, consecutive, nil
}

// protoGroup is a stored group as PullLogs returns it, without logs past retention.
func (ls *logstore) protoGroup(g *logGroup, c *call) *slssdk.LogGroup {
	pg := &slssdk.LogGroup{Topic: proto.String(g.topic), Source: proto.String(g.source)}
	for _, t := range g.tags {
		pg.LogTags = append(pg.LogTags, &slssdk.LogTag{Key: proto.String(t[0]), Value: proto.String(t[1])})
	}
	for i := range g.logs {
		e := &g.logs[i]
		if ls.expired(e.time, c.now) {
			continue
		}
		l := &slssdk.Log{Time: proto.Uint32(uint32(e.time.Unix()))}
		if e.hasNs {
			l.TimeNs = proto.Uint32(e.timeNs)
		}
		for _, kv := range e.contents {
			l.Contents = append(l.Contents, &slssdk.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
		}
		pg.Logs = append(pg.Logs, l)
	}
	return pg
}

var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))

// compressResponse encodes a PullLogs body as the client accepts: zstd, deflate, or lz4 (default).
func compressResponse(raw []byte, accept string) ([]byte, string) {
	switch {
	case strings.Contains(accept, "zstd"):
		return zstdEncoder.EncodeAll(raw, nil), "zstd"
	case strings.Contains(accept, "deflate") && !strings.Contains(accept, "lz4"):
		var b bytes.Buffer
		zw := zlib.NewWriter(&b)
		zw.Write(raw)
		zw.Close()
		return b.Bytes(), "deflate"
	}
	return lz4Block(raw), "lz4"
}

// lz4Block is an LZ4 raw block (not a frame), as SLS sends and the SDK decodes.
func lz4Block(raw []byte) []byte {
	out := make([]byte, lz4.CompressBlockBound(len(raw)))
	n, err := lz4.CompressBlock(raw, out, nil)
	if err == nil && n > 0 {
		return out[:n]
	}
	// Incompressible (or empty) input: one sequence of literals only, which is a valid block.
	lit := make([]byte, 0, len(raw)+len(raw)/255+2)
	if l := len(raw); l < 15 {
		lit = append(lit, byte(l<<4))
	} else {
		lit = append(lit, 0xF0)
		r := l - 15
		for ; r >= 255; r -= 255 {
			lit = append(lit, 255)
		}
		lit = append(lit, byte(r))
	}
	return append(lit, raw...)
}
