package sls

import (
	"bytes"
	"compress/zlib"
	"crypto/md5"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// zstdDecoder decodes whole frames with the output capped, so a hostile frame cannot make the
// server allocate more than the largest accepted body.
var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxRawBodyBytes), zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderConcurrency(0))

// reservedKeys may not be written as content keys; the service derives them.
var reservedKeys = map[string]bool{
	"__time__": true, "__source__": true, "__topic__": true, "__partition_time__": true,
	"_extract_others_": true, "__extract_others__": true,
}

// decompressBody undoes x-log-compresstype (lz4 raw block, zstd frame, deflate, or none) and
// checks the result against x-log-bodyrawsize.
func decompressBody(body []byte, compressType, rawSizeHeader string) ([]byte, *apiError) {
	if rawSizeHeader == "" {
		return nil, errorf(400, "MissingBodyRawSize", "x-log-bodyrawsize does not exist in header when it is necessary.")
	}
	rawSize, err := strconv.Atoi(rawSizeHeader)
	if err != nil || rawSize < 0 {
		return nil, errorf(400, "InvalidBodyRawSize", "x-log-bodyrawsize %q is invalid: it must be the uncompressed body length in bytes", rawSizeHeader)
	}
	if rawSize > maxRawBodyBytes {
		return nil, errorf(400, "PostBodyTooLarge", "Logs must be less than or equal to %d bytes before compression, x-log-bodyrawsize is %d.", maxRawBodyBytes, rawSize)
	}
	uncompressErr := func(format string, args ...any) *apiError {
		e := errorf(400, "PostBodyUncompressError", "Failed to decompress logs: "+format, args...)
		return e
	}
	switch compressType {
	case "", "none":
		if len(body) != rawSize {
			return nil, errorf(400, "InvalidBodyRawSize", "x-log-bodyrawsize %d is not the length of the uncompressed body, %d", rawSize, len(body))
		}
		return body, nil
	case "lz4":
		out := make([]byte, rawSize)
		n, err := lz4.UncompressBlock(body, out)
		if err != nil {
			return nil, uncompressErr("lz4 block: %v", err)
		}
		if n != rawSize {
			return nil, uncompressErr("lz4 block holds %d bytes, x-log-bodyrawsize says %d", n, rawSize)
		}
		return out, nil
	case "zstd":
		out, err := zstdDecoder.DecodeAll(body, make([]byte, 0, rawSize))
		if err != nil {
			return nil, uncompressErr("zstd frame (x-log-bodyrawsize %d): %v", rawSize, err)
		}
		if len(out) != rawSize {
			return nil, uncompressErr("zstd frame holds %d bytes, x-log-bodyrawsize says %d", len(out), rawSize)
		}
		return out, nil
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, uncompressErr("deflate: %v", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(rawSize)+1))
		if err != nil {
			return nil, uncompressErr("deflate: %v", err)
		}
		if len(out) != rawSize {
			return nil, uncompressErr("deflate stream holds at least %d bytes, x-log-bodyrawsize says %d", len(out), rawSize)
		}
		return out, nil
	}
	return nil, errorf(400, "InvalidCompressType", "x-log-compresstype %s is unsupported.", compressType)
}

// decodeLogGroup is the whole PutLogs body decoder: decompression, protobuf, then the checks
// the service makes on every log (keys, encoding, non-empty).
func decodeLogGroup(body []byte, compressType, rawSizeHeader string) (*slssdk.LogGroup, *apiError) {
	raw, aerr := decompressBody(body, compressType, rawSizeHeader)
	if aerr != nil {
		return nil, aerr
	}
	lg := &slssdk.LogGroup{}
	if err := lg.Unmarshal(raw); err != nil {
		return nil, errorf(400, "PostBodyInvalid", "Protobuffer content cannot be parsed: %v", err)
	}
	if len(lg.Logs) == 0 {
		return nil, errorf(400, "PostBodyInvalid", "the log group has no logs")
	}
	invalidEncoding := func(what string) *apiError {
		return errorf(400, "InvalidEncoding", "Non-UTF8 characters are in logs: %s", what)
	}
	if !utf8.ValidString(lg.GetTopic()) {
		return nil, invalidEncoding("the topic")
	}
	if !utf8.ValidString(lg.GetSource()) {
		return nil, invalidEncoding("the source")
	}
	for i, t := range lg.LogTags {
		if t == nil || t.GetKey() == "" {
			return nil, errorf(400, "InvalidKey", "Invalid keys are in logs: tag %d has an empty key", i)
		}
		if !utf8.ValidString(t.GetKey()) || !utf8.ValidString(t.GetValue()) {
			return nil, invalidEncoding("tag " + strconv.Itoa(i))
		}
	}
	for i, l := range lg.Logs {
		if l == nil || len(l.Contents) == 0 {
			return nil, errorf(400, "PostBodyInvalid", "log %d has no contents", i)
		}
		for _, kv := range l.Contents {
			k := kv.GetKey()
			if k == "" || reservedKeys[k] {
				return nil, errorf(400, "InvalidKey", "Invalid keys are in logs: log %d has key %q (empty keys and __time__, __source__, __topic__, __partition_time__, _extract_others_, __extract_others__ are reserved)", i, k)
			}
			if !utf8.ValidString(k) || !utf8.ValidString(kv.GetValue()) {
				return nil, invalidEncoding("log " + strconv.Itoa(i) + " key " + strconv.Quote(k))
			}
		}
	}
	return lg, nil
}

// hashKeyOf normalises a shard hash key: 32 hex digits as sent, anything else hashed with md5
// (the producer's AdjustShardHash does the same on its side).
func hashKeyOf(k string) string {
	k = strings.ToLower(k)
	if _, ok := parseKey(k); ok {
		return k
	}
	sum := md5.Sum([]byte(k))
	return hex.EncodeToString(sum[:])
}

func (c *call) putLogs() error {
	name := c.segs[1]
	hashKey := c.r.Header.Get("X-Log-Hashkey")
	if len(c.segs) == 4 && c.segs[3] == "route" {
		hashKey = c.query.Get("key")
		if hashKey == "" {
			return errParam("key is required by /shards/route: the hash key of the shard to write")
		}
	}
	lg, aerr := decodeLogGroup(c.body, c.r.Header.Get("X-Log-Compresstype"), c.r.Header.Get("X-Log-Bodyrawsize"))
	if aerr != nil {
		// The Logstore's existence is still reported first, as the service does.
		var lerr *apiError
		c.s.read(func() { _, _, lerr = c.logstoreLocked(name) })
		if lerr != nil {
			return lerr
		}
		return aerr
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, ls, err := c.logstoreLocked(name)
	if err != nil {
		return err
	}
	if ls.serviceManaged || serviceLogstoreName(ls.name) {
		// actiontrail_* and innertrail_* are written by their service only; callers meet a RAM denial.
		return denied(ramAction("PutLogs"), p.region, p.owner, fmtResource(p.name, ls.name))
	}
	if q := c.s.quotas[p.name]; q != nil && !q.lim.AllowN(c.now, 1) {
		return errorf(403, "WriteQuotaExceed", "Project write quota exceed: qps: %g", q.perSec)
	}
	var sh *shard
	if hashKey != "" {
		sh = ls.shardForKey(hashKeyOf(hashKey))
	} else {
		sh = ls.nextWritable()
	}
	if sh == nil {
		return errorf(400, "LogStoreWithoutShard", "the logstore has no shard")
	}
	source := lg.GetSource()
	if source == "" {
		source = sourceIP(c.r)
	}
	tags := make([][2]string, 0, len(lg.LogTags)+2)
	for _, t := range lg.LogTags {
		tags = append(tags, [2]string{t.GetKey(), t.GetValue()})
	}
	if ls.appendMeta {
		tags = append(tags, [2]string{"__client_ip__", sourceIP(c.r)}, [2]string{"__receive_time__", strconv.FormatInt(c.now.Unix(), 10)})
	}
	g := &logGroup{receive: c.now, topic: lg.GetTopic(), source: source, tags: tags, logs: make([]entry, 0, len(lg.Logs))}
	for _, l := range lg.Logs {
		contents := make([][2]string, len(l.Contents))
		for i, kv := range l.Contents {
			contents[i] = [2]string{kv.GetKey(), kv.GetValue()}
		}
		ls.seq++
		e := entry{time: time.Unix(int64(l.GetTime()), 0).UTC(), contents: contents, seq: ls.seq}
		if l.TimeNs != nil {
			e.time = e.time.Add(time.Duration(l.GetTimeNs() % 1e9))
			e.timeNs, e.hasNs = l.GetTimeNs(), true
		}
		g.logs = append(g.logs, e)
	}
	ls.store(sh, g, c.now)
	return nil
}
