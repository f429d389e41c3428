package sls

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/gogo/protobuf/proto"
)

// naiveSort is the read path before logOrder: every stored log collected from the shards and
// stably sorted by time, then arrival.
func naiveSort(ls *logstore) []ref {
	var view []ref
	for _, sh := range ls.shards {
		for _, g := range sh.groups {
			for i := range g.logs {
				view = append(view, ref{g: g, e: &g.logs[i], shard: sh.id})
			}
		}
	}
	sort.SliceStable(view, func(i, j int) bool {
		if !view[i].e.time.Equal(view[j].e.time) {
			return view[i].e.time.Before(view[j].e.time)
		}
		return view[i].e.seq < view[j].e.seq
	})
	return view
}

// naiveCollect is collect before logOrder: binary searches on the naive view (naiveSort), then
// the expiry filter.
func naiveCollect(ls *logstore, view []ref, from, to, now time.Time) []ref {
	lo, hi := 0, len(view)
	if !from.IsZero() {
		lo = sort.Search(len(view), func(i int) bool { return !view[i].e.time.Before(from) })
	}
	if !to.IsZero() {
		hi = sort.Search(len(view), func(i int) bool { return !view[i].e.time.Before(to) })
	}
	var out []ref
	for _, r := range view[lo:max(lo, hi)] {
		if !ls.expired(r.e.time, now) {
			out = append(out, r)
		}
	}
	return out
}

// naiveLogs is GetLogs as it was answered before logOrder and topic scopes: every log of the
// range matched one by one. It returns the JSON of data and keys, and the processed rows.
func naiveLogs(t *testing.T, ls *logstore, view []ref, now time.Time, req logsRequest) (data, keys string, processed int64) {
	t.Helper()
	from, to, terr := timeRange(req.From, req.FromNs, req.To, req.ToNs)
	if terr != nil {
		t.Fatalf("bad request in test: %v", terr)
	}
	line := req.Line
	if line == 0 {
		line = 100
	}
	q, qerr := parseSearch(req.Query)
	if qerr != nil {
		t.Fatalf("bad query in test: %v", qerr)
	}
	refs := naiveCollect(ls, view, from, to, now)
	var matched []map[string]string
	for _, r := range refs {
		if req.Topic != "" && r.g.topic != req.Topic {
			continue
		}
		if f := r.fields(); q.Analytic() || q.Match(f) {
			matched = append(matched, f)
		}
	}
	var rows []map[string]string
	var cols []string
	if q.Analytic() {
		var err error
		if cols, rows, err = q.Analyze(matched); err != nil {
			t.Fatalf("Analyze: %v", err)
		}
		if rows == nil {
			rows = []map[string]string{}
		}
	} else {
		if req.Reverse {
			slices.Reverse(matched)
		}
		rows = page(matched, int(min(req.Offset, int64(len(matched)))), int(line))
		seen := map[string]bool{}
		for _, r := range rows {
			for k := range r {
				if !seen[k] {
					seen[k] = true
					cols = append(cols, k)
				}
			}
		}
		sort.Strings(cols)
	}
	d, _ := json.Marshal(rows)
	k, _ := json.Marshal(cols)
	return string(d), string(k), int64(len(refs))
}

// orderWorld is one Logstore driven through the server with a manual clock.
type orderWorld struct {
	t     *testing.T
	s     *Server
	key   *core.AccessKey
	clock *core.ManualClock
	rng   *rand.Rand
	seen  int // logs written
}

func newOrderWorld(t *testing.T, shards, ttl int, seed uint64) *orderWorld {
	t.Helper()
	clock := core.NewManualClock(testStart)
	s, key := projectServer(t, clock, "ord")
	o := &orderWorld{t: t, s: s, key: key, clock: clock, rng: rand.New(rand.NewPCG(seed, 7))}
	o.send("POST", "/logstores", fmt.Sprintf(`{"logstoreName":"events","ttl":%d,"shardCount":%d}`, ttl, shards), 200)
	o.send("POST", "/logstores/events/index", `{"line":{"token":[" "]}}`, 200)
	return o
}

func (o *orderWorld) send(method, target, body string, status int) []byte {
	o.t.Helper()
	rec := send(o.s, o.key, method, "ord."+TestEndpoint, target, []byte(body), nil)
	if rec.Code != status {
		o.t.Fatalf("%s %s answered %d, want %d: %s", method, target, rec.Code, status, rec.Body)
	}
	return rec.Body.Bytes()
}

// locked runs f on the Logstore under the read lock, as a reader would.
func (o *orderWorld) locked(f func(ls *logstore)) {
	o.s.mu.RLock()
	defer o.s.mu.RUnlock()
	f(o.s.projects["ord"].logstores["events"])
}

// logTime picks a log time around now: mostly recent, some already old, on a coarse grid so
// that many logs share a time and their order rests on arrival.
func (o *orderWorld) logTime(spanHours int) time.Time {
	now := o.clock.Now()
	sec := o.rng.IntN(spanHours*3600/60) * 60
	return now.Add(-time.Duration(sec) * time.Second).Truncate(time.Minute).Add(time.Duration(o.rng.IntN(3)) * time.Second)
}

// put writes one log group through PutLogs (load-balanced, or routed by a hash key).
func (o *orderWorld) put(topic string, n, spanHours int) {
	lg := &slssdk.LogGroup{Topic: proto.String(topic), Source: proto.String("src")}
	for i := 0; i < n; i++ {
		l := mkLog(o.logTime(spanHours), "n", strconv.Itoa(o.seen), "status", strconv.Itoa(200+o.rng.IntN(4)*100), "user", "u"+strconv.Itoa(o.rng.IntN(5)))
		if o.rng.IntN(4) == 0 {
			l.TimeNs = proto.Uint32(uint32(o.rng.IntN(1e9)))
		}
		lg.Logs = append(lg.Logs, l)
		o.seen++
	}
	body, _ := proto.Marshal(lg)
	target := "/logstores/events/shards/lb"
	if o.rng.IntN(3) == 0 {
		target = "/logstores/events/shards/route?key=" + strconv.Itoa(o.rng.IntN(1000))
	}
	rec := send(o.s, o.key, "POST", "ord."+TestEndpoint, target, body, map[string]string{"Content-Type": "application/x-protobuf", "x-log-compresstype": ""})
	if rec.Code != 200 {
		o.t.Fatalf("PutLogs answered %d: %s", rec.Code, rec.Body)
	}
}

// serviceWrite writes one log group as the service, some logs without a time (they take now).
func (o *orderWorld) serviceWrite(topic string, n, spanHours int) {
	logs := make([]core.ServiceLog, n)
	for i := range logs {
		logs[i].Contents = [][2]string{{"n", strconv.Itoa(o.seen)}, {"status", "500"}, {"user", "svc"}}
		if o.rng.IntN(5) > 0 {
			logs[i].Time = o.logTime(spanHours).Add(time.Duration(o.rng.IntN(2)) * time.Millisecond)
		}
		o.seen++
	}
	if err := o.s.ServiceWrite("ord", "events", topic, "svc", logs); err != nil {
		o.t.Fatal(err)
	}
}

// checkOrders proves the Logstore's orders hold exactly its stored logs, in the naive order, and
// that each topic's order is the naive order of that topic; then that Logs agrees.
func (o *orderWorld) checkOrders() {
	t := o.t
	t.Helper()
	now := o.clock.Now()
	o.locked(func(ls *logstore) {
		want := naiveSort(ls)
		checkOrder(t, "all", &ls.order, want)
		byTopic := map[string][]ref{}
		for _, r := range want {
			byTopic[r.g.topic] = append(byTopic[r.g.topic], r)
		}
		if len(byTopic) != len(ls.topics) {
			t.Fatalf("%d topic orders, %d topics stored", len(ls.topics), len(byTopic))
		}
		for topic, refs := range byTopic {
			checkOrder(t, "topic "+topic, ls.topics[topic], refs)
		}
		wantLive := naiveCollect(ls, want, time.Time{}, time.Time{}, now)
		got := ls.collect(time.Time{}, time.Time{}, now)
		if !sameRefs(got, wantLive) {
			t.Fatalf("collect: %d refs, naive %d (or another order)", len(got), len(wantLive))
		}
	})
}

func sameRefs(a, b []ref) bool {
	return slices.EqualFunc(a, b, func(x, y ref) bool { return x == y })
}

// checkOrder checks a logOrder's structure and that it holds want, in that order.
func checkOrder(t *testing.T, name string, o *logOrder, want []ref) {
	t.Helper()
	var got []ref
	for i, c := range o.chunks {
		if len(c) == 0 || len(c) > 2*chunkSize {
			t.Fatalf("%s: chunk %d holds %d refs", name, i, len(c))
		}
		got = append(got, c...)
	}
	if o.n != len(got) {
		t.Fatalf("%s: n = %d, chunks hold %d", name, o.n, len(got))
	}
	if !sameRefs(got, want) {
		t.Fatalf("%s: order holds %d refs, naive sort %d (or another order)", name, len(got), len(want))
	}
}

// orderQueries are searches of every scope; topics of the pool overlap by token ("a" matches "a b"
// and "A") so that one topic search can match several topics.
var orderQueries = []string{
	"", "*", `__topic__: "a"`, "__topic__: a", `__topic__: "a b"`, `__topic__: "1000000000000001"`,
	`__topic__: ""`, `__topic__: "none"`, "status: 500", "__topic__: a and status: 200", "user: u1 or n: 3",
	`__topic__: "a" | select count(*) as n`, `__topic__: b | select count(*) as n`,
	"* | select __topic__, count(*) as n group by __topic__ order by __topic__", "status: 300 | select count(*) as n",
}

var orderTopics = []string{"a", "b", "a b", "A", "1000000000000001", "acct-2", ""}

// compareReads asks GetLogs and GetHistograms random questions and checks each answer against
// the naive read of the same stored logs.
func (o *orderWorld) compareReads(n int) {
	t := o.t
	t.Helper()
	now := o.clock.Now()
	var view []ref // the stored logs do not change while reads are compared
	o.locked(func(ls *logstore) { view = naiveSort(ls) })
	for i := 0; i < n; i++ {
		span := int64(1+o.rng.IntN(5*24)) * 3600
		from := now.Unix() - int64(o.rng.IntN(6*86400)) + 3600
		req := logsRequest{From: from, To: from + span, Query: orderQueries[o.rng.IntN(len(orderQueries))],
			Line: int64(o.rng.IntN(101)), Offset: int64(o.rng.IntN(3) * o.rng.IntN(200)), Reverse: o.rng.IntN(2) == 0}
		if o.rng.IntN(3) == 0 {
			req.Topic = orderTopics[o.rng.IntN(len(orderTopics))]
		}
		body, _ := json.Marshal(req)
		var got struct {
			Meta struct {
				ProcessedRows int64           `json:"processedRows"`
				Count         int64           `json:"count"`
				Keys          json.RawMessage `json:"keys"`
			} `json:"meta"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(o.send("POST", "/logstores/events/logs", string(body), 200), &got); err != nil {
			t.Fatal(err)
		}
		var data, keys string
		var processed int64
		o.locked(func(ls *logstore) { data, keys, processed = naiveLogs(t, ls, view, now, req) })
		if string(got.Data) != data || string(got.Meta.Keys) != keys || got.Meta.ProcessedRows != processed {
			t.Fatalf("GetLogs %+v\n got  processed %d keys %s data %s\n want processed %d keys %s data %s",
				req, got.Meta.ProcessedRows, got.Meta.Keys, got.Data, processed, keys, data)
		}
		if strings.Contains(req.Query, "|") {
			continue
		}
		hq := url.Values{"type": {"histogram"}, "from": {strconv.FormatInt(req.From, 10)}, "to": {strconv.FormatInt(req.To, 10)},
			"query": {req.Query}, "topic": {req.Topic}}
		var buckets []struct {
			From, To, Count int64
		}
		if err := json.Unmarshal(o.send("GET", "/logstores/events?"+hq.Encode(), "", 200), &buckets); err != nil {
			t.Fatal(err)
		}
		want := make([]int64, len(buckets))
		o.locked(func(ls *logstore) {
			q, _ := parseSearch(req.Query)
			width := bucketWidth(req.To-req.From, 0)
			for _, r := range naiveCollect(ls, view, time.Unix(req.From, 0), time.Unix(req.To, 0), now) {
				if (req.Topic == "" || r.g.topic == req.Topic) && q.Match(r.fields()) {
					want[(r.e.time.Unix()-req.From)/width]++
				}
			}
		})
		for b := range buckets {
			if buckets[b].Count != want[b] {
				t.Fatalf("GetHistograms %q topic %q bucket %d: %d, naive %d", req.Query, req.Topic, b, buckets[b].Count, want[b])
			}
		}
	}
}

// TestOrderMatchesNaiveSort drives random interleavings of writes (PutLogs and service writes),
// clock moves that expire and purge logs, retention changes, shard splits and reads, and checks
// after each step that the incremental orders and every read equal the sort-everything answer.
func TestOrderMatchesNaiveSort(t *testing.T) {
	tests := []struct {
		name      string
		shards    int
		ttl       int // days
		steps     int
		maxGroup  int // logs per written group, at most
		spanHours int // how far back log times reach
		topics    []string
		advance   time.Duration // largest clock move of one step
	}{
		{"one shard, recent logs", 1, 30, 60, 40, 2, orderTopics, 10 * time.Second},
		{"two shards, ties and old logs", 2, 3, 80, 60, 24 * 5, orderTopics, 2 * time.Hour},
		{"short ttl, purges every step", 3, 1, 80, 30, 24 * 2, orderTopics, 6 * time.Hour},
		{"clock leaps past retention", 2, 1, 40, 50, 24, orderTopics[:3], 30 * time.Hour},
		{"many topics, per-log matching", 2, 2, 60, 5, 30, nil, 3 * time.Hour},
		{"chunks split and join", 2, 1, 60, 200, 12, orderTopics[:2], 8 * time.Hour},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := newOrderWorld(t, tc.shards, tc.ttl, uint64(i+1))
			topic := func() string {
				if tc.topics == nil {
					return "t" + strconv.Itoa(o.rng.IntN(400))
				}
				return tc.topics[o.rng.IntN(len(tc.topics))]
			}
			for step := 0; step < tc.steps; step++ {
				switch op := o.rng.IntN(20); {
				case op < 9:
					o.put(topic(), 1+o.rng.IntN(tc.maxGroup), tc.spanHours)
				case op < 13:
					o.serviceWrite(topic(), 1+o.rng.IntN(tc.maxGroup), tc.spanHours)
				case op < 17:
					o.clock.Advance(time.Duration(o.rng.Int64N(int64(tc.advance))))
				case op < 18:
					o.send("PUT", "/logstores/events", fmt.Sprintf(`{"ttl":%d}`, 1+o.rng.IntN(tc.ttl+1)), 200)
				default:
					var id = -1
					o.locked(func(ls *logstore) {
						if w := ls.writable(); len(w) < 8 {
							id = w[o.rng.IntN(len(w))].id
						}
					})
					if id >= 0 {
						o.send("POST", "/logstores/events/shards/"+strconv.Itoa(id)+"?action=split", "", 200)
					}
				}
				o.checkOrders()
				o.compareReads(2)
			}
			if o.seen == 0 {
				t.Fatal("no logs were written")
			}
		})
	}
}

// TestPurgeDropsFromOrders: a purge takes dropped groups out of both orders and drops a topic
// whose logs are all gone, while a group with one live log keeps its expired ones stored (and
// hidden from reads).
func TestPurgeDropsFromOrders(t *testing.T) {
	o := newOrderWorld(t, 1, 1, 1)
	old := testStart.Add(-2 * time.Hour)
	if err := o.s.ServiceWrite("ord", "events", "gone", "s", []core.ServiceLog{{Time: old, Contents: [][2]string{{"n", "1"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := o.s.ServiceWrite("ord", "events", "kept", "s", []core.ServiceLog{
		{Time: old, Contents: [][2]string{{"n", "2"}}}, {Time: testStart.Add(20 * time.Hour), Contents: [][2]string{{"n", "3"}}}}); err != nil {
		t.Fatal(err)
	}
	o.clock.Advance(23 * time.Hour) // the old logs are past the one-day retention; the purge needs a write
	if err := o.s.ServiceWrite("ord", "events", "new", "s", []core.ServiceLog{{Contents: [][2]string{{"n", "4"}}}}); err != nil {
		t.Fatal(err)
	}
	o.checkOrders()
	o.locked(func(ls *logstore) {
		// The first group went; the second stays whole, its old log too, until all of it expires.
		if ls.topics["gone"] != nil || ls.order.n != 3 || ls.topics["kept"].n != 2 || ls.shards[0].base != 1 {
			t.Fatalf("after purge: %d logs, topics %v, base %d", ls.order.n, slices.Sorted(maps.Keys(ls.topics)), ls.shards[0].base)
		}
	})
	var got []string
	for _, l := range o.s.Logs("ord", "events") {
		v, _ := l.Get("n")
		got = append(got, v)
	}
	if strings.Join(got, ",") != "3,4" {
		t.Fatalf("live logs after purge: %v", got)
	}
}

// TestLogOrder exercises logOrder alone against a sorted slice: inserts with many equal times
// (so order rests on seq), removals of whole expired groups, and seeks of every kind.
func TestLogOrder(t *testing.T) {
	tests := []struct {
		name   string
		groups int
		size   int
		times  int // distinct times
		drop   int // groups dropped per removal
	}{
		{"few logs", 20, 3, 5, 2},
		{"in order, many chunks", 60, 80, 1 << 20, 5},
		{"heavy ties", 40, 100, 7, 8},
		{"remove most", 30, 90, 50, 25},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			var o logOrder
			var groups []*logGroup
			var seq int64
			base := testStart
			for k := 0; k < tc.groups; k++ {
				g := &logGroup{topic: "t"}
				for j := 0; j < tc.size; j++ {
					seq++
					at := base.Add(time.Duration(rng.IntN(tc.times)) * time.Second)
					if tc.times > 1<<19 {
						at = base.Add(time.Duration(seq) * time.Second)
					}
					g.logs = append(g.logs, entry{time: at, seq: seq})
				}
				for j := range g.logs {
					o.insert(ref{g: g, e: &g.logs[j]})
				}
				groups = append(groups, g)
			}
			var want []ref
			for _, g := range groups {
				for j := range g.logs {
					want = append(want, ref{g: g, e: &g.logs[j]})
				}
			}
			sortNaive := func() {
				sort.SliceStable(want, func(a, b int) bool {
					if !want[a].e.time.Equal(want[b].e.time) {
						return want[a].e.time.Before(want[b].e.time)
					}
					return want[a].e.seq < want[b].e.seq
				})
			}
			sortNaive()
			checkOrder(t, "after inserts", &o, want)
			for round := 0; len(want) > 0 && round < 10; round++ {
				// Drop groups whose logs all lie before a cutoff, as a purge does.
				cutoff := want[rng.IntN(len(want))].e.time
				drop := map[*logGroup]bool{}
				for _, g := range groups {
					all := true
					for _, e := range g.logs {
						all = all && e.time.Before(cutoff)
					}
					if all && len(drop) < tc.drop {
						drop[g] = true
					}
				}
				o.remove(drop, func(r *ref) bool { return !r.e.time.Before(cutoff) })
				want = slices.DeleteFunc(want, func(r ref) bool { return drop[r.g] })
				groups = slices.DeleteFunc(groups, func(g *logGroup) bool { return drop[g] })
				checkOrder(t, "after removal", &o, want)
				for range 5 {
					at := base.Add(time.Duration(rng.IntN(tc.times+2)-1) * time.Second)
					if tc.times > 1<<19 {
						at = base.Add(time.Duration(rng.Int64N(seq+2)) * time.Second)
					}
					p := o.seek(func(r *ref) bool { return !r.e.time.Before(at) })
					n := sort.Search(len(want), func(i int) bool { return !want[i].e.time.Before(at) })
					if p.rank != n {
						t.Fatalf("seek %v: rank %d, naive %d", at, p.rank, n)
					}
					sp := span{o: &o, lo: p, hi: pos{ci: len(o.chunks), rank: o.n}}
					if !sameRefs(sp.appendTo(nil), want[n:]) {
						t.Fatalf("span from %v differs from the naive tail", at)
					}
				}
				// New logs keep arriving between purges.
				g := &logGroup{topic: "t"}
				for j := 0; j < tc.size; j++ {
					seq++
					g.logs = append(g.logs, entry{time: cutoff.Add(time.Duration(rng.IntN(100)) * time.Second), seq: seq})
				}
				for j := range g.logs {
					o.insert(ref{g: g, e: &g.logs[j]})
					want = append(want, ref{g: g, e: &g.logs[j]})
				}
				groups = append(groups, g)
				sortNaive()
				checkOrder(t, "after more inserts", &o, want)
			}
		})
	}
}

// TestScopeOf: only the plain forms are narrowed; every other spelling keeps the per-log match.
func TestScopeOf(t *testing.T) {
	tests := []struct {
		q    string
		want searchScope
	}{
		{"", scopeAll},
		{"   ", scopeAll},
		{"*", scopeAll},
		{" * | select count(*) as n", scopeAll},
		{"| select count(*) as n", scopeAll},
		{`__topic__: "1234567890123456"`, scopeTopic},
		{`__topic__: "1234567890123456" | select count(*) as n`, scopeTopic},
		{"__topic__:abc", scopeTopic},
		{" __topic__ : a-b.c_d ", scopeTopic},
		{"__topic__: a|select count(*) as n", scopeTopic},
		{`__topic__: "a b"`, scopeTopic},
		{`__topic__: ""`, scopeTopic},
		{`__topic__: "a|b"`, scopeTopic},
		{"__topic__: a*", scopeFields},
		{"__topic__: a?", scopeFields},
		{"__topic__: and", scopeFields},
		{"__topic__: NOT", scopeFields},
		{`__topic__: "a\"b"`, scopeFields},
		{`__topic__: "a"b`, scopeFields},
		{`__topic__: #"a"`, scopeFields},
		{`__topic__: "unterminated`, scopeFields},
		{"__topic__: a or b", scopeFields},
		{"__topic__: a and status: 500", scopeFields},
		{"__topic__: a b", scopeFields},
		{"not __topic__: a", scopeFields},
		{"(__topic__: a)", scopeFields},
		{"__topic__x: a", scopeFields},
		{`"__topic__": a`, scopeFields},
		{"__topic__ > 3", scopeFields},
		{"__source__: a", scopeFields},
		{"** ", scopeFields},
		{"a", scopeFields},
	}
	for _, tc := range tests {
		if got := scopeOf(tc.q); got != tc.want {
			t.Errorf("scopeOf(%q) = %d, want %d", tc.q, got, tc.want)
		}
	}
}

// TestConcurrentWritesAndReads: writers and readers of one Logstore at once (run with -race);
// readers copy refs out under the shared lock and build fields after it, so each read must see
// a whole number of its topic's pages, in order, and the orders end equal to the naive sort.
func TestConcurrentWritesAndReads(t *testing.T) {
	o := newOrderWorld(t, 2, 30, 3)
	const writers, pages, page = 4, 15, 20
	done := make(chan error, 2*writers)
	for w := 0; w < writers; w++ {
		topic := "acct-" + strconv.Itoa(w)
		go func() {
			for p := 0; p < pages; p++ {
				logs := make([]core.ServiceLog, page)
				for i := range logs {
					logs[i] = core.ServiceLog{Time: testStart.Add(time.Duration(p*page+i) * time.Second), Contents: [][2]string{{"n", strconv.Itoa(p*page + i)}}}
				}
				if err := o.s.ServiceWrite("ord", "events", topic, "s", logs); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		go func() {
			body, _ := json.Marshal(logsRequest{From: testStart.Unix(), To: testStart.Unix() + 86400, Query: `__topic__: "` + topic + `"`, Line: 100})
			for r := 0; r < pages; r++ {
				rec := send(o.s, o.key, "POST", "ord."+TestEndpoint, "/logstores/events/logs", body, nil)
				var got struct {
					Data []map[string]string `json:"data"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil {
					done <- fmt.Errorf("GetLogs answered %d: %s", rec.Code, rec.Body)
					return
				}
				if len(got.Data)%page != 0 && len(got.Data) != 100 {
					done <- fmt.Errorf("read %d logs of %s: not whole pages", len(got.Data), topic)
					return
				}
				for i, l := range got.Data {
					if l["n"] != strconv.Itoa(i) || l["__topic__"] != topic {
						done <- fmt.Errorf("log %d of %s read as %v", i, topic, l)
						return
					}
				}
			}
			done <- nil
		}()
	}
	for i := 0; i < 2*writers; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	o.checkOrders()
	if n := len(o.s.Logs("ord", "events")); n != writers*pages*page {
		t.Fatalf("%d logs stored, want %d", n, writers*pages*page)
	}
}
