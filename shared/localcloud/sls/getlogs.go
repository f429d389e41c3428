package sls

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// searchQuery is what the query engine gives for one query string: a search part matched per
// log and, after "|", an optional SQL part run over the matched rows.
type searchQuery interface {
	Match(fields map[string]string) bool
	Analytic() bool
	Analyze(rows []map[string]string) ([]string, []map[string]string, error)
}

// logsRequest is a GetLogs request in any of its wire forms.
type logsRequest struct {
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	FromNs   int64  `json:"fromNs"`
	ToNs     int64  `json:"toNs"`
	Topic    string `json:"topic"`
	Line     int64  `json:"line"`
	Offset   int64  `json:"offset"`
	Reverse  bool   `json:"reverse"`
	Query    string `json:"query"`
	PowerSQL bool   `json:"powerSql"`
}

type logsResult struct {
	rows      []map[string]string
	keys      []string
	hasSQL    bool
	processed int64
	where     string
	agg       string
	elapsed   time.Duration
}

func timeRange(from, fromNs, to, toNs int64) (time.Time, time.Time, *apiError) {
	if fromNs < 0 || fromNs >= 1e9 || toNs < 0 || toNs >= 1e9 {
		return time.Time{}, time.Time{}, errParam("fromNs and toNs must be from 0 to 999999999")
	}
	if from < 0 || to < 0 || from > maxUnixTime || to > maxUnixTime {
		return time.Time{}, time.Time{}, errorf(400, "InvalidTimeRange", "request time range is invalid: from (%d) and to (%d) must be unix times in seconds from 0 to %d", from, to, int64(maxUnixTime))
	}
	f, t := time.Unix(from, fromNs).UTC(), time.Unix(to, toNs).UTC()
	if !f.Before(t) {
		return f, t, errorf(400, "InvalidTimeRange", "request time range is invalid: from (%d) must be before to (%d)", from, to)
	}
	return f, t, nil
}

func parseSearch(q string) (searchQuery, *apiError) {
	sq, err := parseQuery(q)
	if err != nil {
		return nil, errorf(400, "InvalidQueryString", "query string is invalid: %v", err)
	}
	return sq, nil
}

func splitQuery(q string) (where, agg string) {
	where, agg, _ = strings.Cut(q, "|")
	return strings.TrimSpace(where), strings.TrimSpace(agg)
}

// runLogs answers one GetLogs request against a Logstore.
func (c *call) runLogs(name string, req logsRequest) (*logsResult, error) {
	started := time.Now()
	from, to, terr := timeRange(req.From, req.FromNs, req.To, req.ToNs)
	if terr != nil {
		return nil, terr
	}
	line := req.Line
	if line == 0 {
		line = 100
	}
	if line < 0 || line > 100 {
		return nil, errParam("line %d is invalid: it must be from 0 to 100", req.Line)
	}
	if req.Offset < 0 {
		return nil, errParam("offset %d is invalid: it must be >= 0", req.Offset)
	}
	q, qerr := parseSearch(req.Query)
	if qerr != nil {
		return nil, qerr
	}
	res := &logsResult{hasSQL: q.Analytic()}
	res.where, res.agg = splitQuery(req.Query)

	sel, err := c.scan(name, from, to, req.Topic, q, scopeOf(req.Query))
	if err != nil {
		return nil, err
	}
	res.processed = sel.processed

	if res.hasSQL {
		// An analytic query filters its rows itself (Analyze applies the search part).
		rows := make([]map[string]string, len(sel.refs))
		for i, r := range sel.refs {
			rows[i] = r.fields()
		}
		cols, out, aerr := q.Analyze(rows)
		if aerr != nil {
			return nil, errParam("%v", aerr)
		}
		res.rows, res.keys = out, cols
		if res.rows == nil {
			res.rows = []map[string]string{}
		}
	} else {
		matched, fields := sel.refs, []map[string]string(nil)
		if !sel.matched {
			matched = nil
			for _, r := range sel.refs {
				if f := r.fields(); q.Match(f) {
					matched, fields = append(matched, r), append(fields, f)
				}
			}
		}
		if req.Reverse {
			slices.Reverse(matched)
			slices.Reverse(fields)
		}
		// Only the page's logs are shown, so only theirs need their fields built.
		lo := int(min(req.Offset, int64(len(matched))))
		hi := lo + min(int(line), len(matched)-lo)
		res.rows = make([]map[string]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			if fields != nil {
				res.rows = append(res.rows, fields[i])
			} else {
				res.rows = append(res.rows, matched[i].fields())
			}
		}
		seen := map[string]bool{}
		for _, r := range res.rows {
			for k := range r {
				if !seen[k] {
					seen[k] = true
					res.keys = append(res.keys, k)
				}
			}
		}
		sort.Strings(res.keys)
	}
	res.elapsed = time.Since(started)
	return res, nil
}

// selection is what a read gets of a Logstore: the live logs of its time range it must look at,
// in time order, and how many live logs the range held.
type selection struct {
	refs      []ref
	processed int64
	// matched: every ref is known to match the search part, which then need not run per log.
	matched bool
}

// scan selects the live logs of a queryable Logstore with from <= time < to (and the topic, when
// given) under the read lock. A search whose scope is the topic alone is decided once per stored
// topic instead of once per log, and only the matching topics' logs are read; the refs are
// copied out, so they stay valid after the lock is released (stored logs never change).
func (c *call) scan(name string, from, to time.Time, topic string, q searchQuery, scope searchScope) (selection, *apiError) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, ls, err := c.logstoreLocked(name)
	if err != nil {
		return selection{}, err
	}
	if err := c.indexMissing(ls); err != nil {
		return selection{}, err
	}
	all := ls.order.live(ls, from, to, c.now)
	sel := selection{processed: int64(all.len()), matched: scope == scopeAll}
	var topics []*logOrder
	switch {
	case topic != "":
		// The topic parameter keeps one topic: read its order alone.
		if t := ls.topics[topic]; t != nil && (scope != scopeTopic || q.Match(topicFields(topic))) {
			topics = []*logOrder{t}
		}
		sel.matched = sel.matched || scope == scopeTopic
	case scope == scopeTopic && len(ls.topics) <= all.len():
		// Deciding the search per topic costs one match per stored topic: worth it unless the
		// range holds fewer logs than the Logstore has topics.
		sel.matched = true
		for tp, t := range ls.topics {
			if q.Match(topicFields(tp)) {
				topics = append(topics, t)
			}
		}
		if len(topics) == len(ls.topics) {
			sel.refs = all.appendTo(make([]ref, 0, all.len()))
			return sel, nil
		}
	default:
		sel.refs = all.appendTo(make([]ref, 0, all.len()))
		return sel, nil
	}
	for _, t := range topics {
		sel.refs = t.live(ls, from, to, c.now).appendTo(sel.refs)
	}
	if len(topics) > 1 {
		slices.SortFunc(sel.refs, func(a, b ref) int { return compareRefs(&a, &b) })
	}
	return sel, nil
}

// topicFields is all a topic-scoped search reads of a log.
func topicFields(topic string) map[string]string { return map[string]string{"__topic__": topic} }

// getLogsV3 is POST /logstores/{ls}/logs, the form every current SDK uses: meta and data in the body.
func (c *call) getLogsV3() error {
	var req logsRequest
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	res, err := c.runLogs(c.segs[1], req)
	if err != nil {
		return err
	}
	type meta struct {
		Progress           string   `json:"progress"`
		AggQuery           string   `json:"aggQuery"`
		WhereQuery         string   `json:"whereQuery"`
		HasSQL             bool     `json:"hasSQL"`
		ProcessedRows      int64    `json:"processedRows"`
		ElapsedMillisecond int64    `json:"elapsedMillisecond"`
		CPUSec             float64  `json:"cpuSec"`
		CPUCores           float64  `json:"cpuCores"`
		Limited            int64    `json:"limited"`
		Count              int64    `json:"count"`
		ProcessedBytes     int64    `json:"processedBytes"`
		TelemetryType      string   `json:"telementryType"`
		PowerSQL           bool     `json:"powerSql"`
		InsertedSQL        string   `json:"insertedSQL"`
		Keys               []string `json:"keys"`
		Terms              []any    `json:"terms"`
		Mode               int      `json:"mode"`
		IsAccurate         bool     `json:"isAccurate"`
	}
	mode := 0
	if res.hasSQL {
		mode = 1
	}
	return c.json(struct {
		Meta meta                `json:"meta"`
		Data []map[string]string `json:"data"`
	}{
		Meta: meta{
			Progress: "Complete", AggQuery: res.agg, WhereQuery: res.where, HasSQL: res.hasSQL,
			ProcessedRows: res.processed, ElapsedMillisecond: res.elapsed.Milliseconds(), Count: int64(len(res.rows)),
			TelemetryType: "None", Keys: res.keys, Terms: []any{}, Mode: mode, IsAccurate: true,
		},
		Data: res.rows,
	})
}

// getLogsV2 is GET /logstores/{ls}?type=log, the older form: logs in the body, meta in headers.
func (c *call) getLogsV2() error {
	var req logsRequest
	var perr *apiError
	num := func(k string) int64 {
		v := c.query.Get(k)
		if v == "" || perr != nil {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			perr = errParam("%s %q is invalid: it must be an integer", k, v)
		}
		return n
	}
	req.From, req.To, req.FromNs, req.ToNs = num("from"), num("to"), num("fromNs"), num("toNs")
	req.Line, req.Offset = num("line"), num("offset")
	if perr != nil {
		return perr
	}
	req.Topic, req.Query = c.query.Get("topic"), c.query.Get("query")
	req.Reverse = c.query.Get("reverse") == "true"
	res, err := c.runLogs(c.segs[1], req)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]any{"keys": res.keys, "terms": []any{}, "limited": ""})
	body, _ := json.Marshal(res.rows)
	c.raw(body, "application/json",
		"X-Log-Progress", "Complete",
		"X-Log-Count", strconv.Itoa(len(res.rows)),
		"X-Log-Processed-Rows", strconv.FormatInt(res.processed, 10),
		"X-Log-Elapsed-Millisecond", strconv.FormatInt(res.elapsed.Milliseconds(), 10),
		"X-Log-Has-Sql", strconv.FormatBool(res.hasSQL),
		"X-Log-Where-Query", res.where,
		"X-Log-Agg-Query", res.agg,
		"X-Log-Query-Info", string(info),
	)
	return nil
}

// histogramWidths are the bucket widths GetHistograms picks from when no interval is asked.
var histogramWidths = []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

const maxHistogramBuckets = 100000

// maxUnixTime bounds request times (about the year 4147) so range arithmetic cannot overflow.
const maxUnixTime = 1 << 36

func bucketWidth(span, interval int64) int64 {
	if interval > 0 {
		return min(interval, span)
	}
	for _, w := range histogramWidths {
		if (span+w-1)/w <= 60 {
			return w
		}
	}
	days := (span + 60*86400 - 1) / (60 * 86400)
	return days * 86400
}

func (c *call) getHistograms() error {
	var perr *apiError
	num := func(k string, required bool) int64 {
		v := c.query.Get(k)
		if perr != nil {
			return 0
		}
		if v == "" {
			if required {
				perr = errParam("%s is required: a unix time in seconds", k)
			}
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			perr = errParam("%s %q is invalid: it must be an integer", k, v)
		}
		return n
	}
	from, to, interval := num("from", true), num("to", true), num("interval", false)
	if perr != nil {
		return perr
	}
	if interval < 0 {
		return errParam("interval %d is invalid: it must be >= 0 seconds", interval)
	}
	fromT, toT, terr := timeRange(from, 0, to, 0)
	if terr != nil {
		return terr
	}
	q, qerr := parseSearch(c.query.Get("query"))
	if qerr != nil {
		return qerr
	}
	if q.Analytic() {
		return errorf(400, "InvalidQueryString", "query string is invalid: GetHistograms takes a search statement only, without | select")
	}
	span := to - from
	width := bucketWidth(span, interval)
	n := span / width
	if span%width != 0 {
		n++
	}
	if n > maxHistogramBuckets {
		return errParam("interval %d is too small for the time range: at most %d buckets", interval, maxHistogramBuckets)
	}
	type bucket struct {
		From     int64  `json:"from"`
		To       int64  `json:"to"`
		Count    int64  `json:"count"`
		Progress string `json:"progress"`
	}
	buckets := make([]bucket, n)
	for i := range buckets {
		b := from + int64(i)*width
		buckets[i] = bucket{From: b, To: min(b+width, to), Progress: "Complete"}
	}
	topic := c.query.Get("topic")
	var total int64
	sel, err := c.scan(c.segs[1], fromT, toT, topic, q, scopeOf(c.query.Get("query")))
	if err != nil {
		return err
	}
	for _, r := range sel.refs {
		if sel.matched || q.Match(r.fields()) {
			buckets[(r.e.time.Unix()-from)/width].Count++
			total++
		}
	}
	return c.json(buckets, "X-Log-Progress", "Complete", "X-Log-Count", strconv.FormatInt(total, 10))
}
