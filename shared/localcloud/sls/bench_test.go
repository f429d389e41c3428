package sls

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/gogo/protobuf/proto"
)

// BenchmarkGetLogsPage measures one GetLogs page (search + offset) over 50,000 stored logs.
func BenchmarkGetLogsPage(b *testing.B) {
	s, key := fuzzServer(b)
	const n = 50000
	batch := make([]core.ServiceLog, 0, 1000)
	for i := 0; i < n; i++ {
		batch = append(batch, core.ServiceLog{Time: testStart.Add(time.Duration(i%86400) * time.Second),
			Contents: [][2]string{{"status", strconv.Itoa(200 + i%5*100)}, {"user", "u" + strconv.Itoa(i%97)}}})
		if len(batch) == cap(batch) {
			if err := s.ServiceWrite("fzz", "events", "t", "s", batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	body, _ := json.Marshal(slssdk.GetLogRequest{From: testStart.Unix(), To: testStart.Unix() + 86400, Query: "status: 500", Lines: 100, Offset: 500})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := send(s, key, "POST", "fzz."+TestEndpoint, "/logstores/events/logs", body, nil); rec.Code != 200 {
			b.Fatalf("GetLogs answered %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkBackfillInterleaved is the backfill lookup's load on one Logstore: 50 accounts, each
// its own topic holding 4,500 logs over five days; one op writes a page of 50 logs to topic k
// (PutLogs) and reads it back with GetLogs for a one-day slice and the query __topic__: "k"
// (every fourth op the count form, "| select count(*) as n"), so every read follows a write. The
// Logstore grows by 50 logs an op, as the real one does: compare runs of the same -benchtime Nx.
func BenchmarkBackfillInterleaved(b *testing.B) {
	s, key := fuzzServer(b)
	const topics, perTopic, page, days = 50, 4500, 50, 5
	topic := func(k int) string { return strconv.Itoa(1_000_000_000_000_000 + k*7919) }
	spread := time.Duration(days*86400/perTopic) * time.Second
	for k := 0; k < topics; k++ {
		batch := make([]core.ServiceLog, 0, page)
		for i := 0; i < perTopic; i++ {
			batch = append(batch, core.ServiceLog{Time: testStart.Add(time.Duration(i)*spread + time.Duration(k)*time.Second),
				Contents: [][2]string{{"event", `{"eventId":"` + strconv.Itoa(k*perTopic+i) + `"}`}}})
			if len(batch) == page {
				if err := s.ServiceWrite("fzz", "events", topic(k), "s", batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	sliceFrom := testStart.Unix() + 2*86400
	puts := make([][]byte, topics)
	reads := make([][][]byte, topics)
	for k := range puts {
		lg := &slssdk.LogGroup{Topic: proto.String(topic(k)), Source: proto.String("bench")}
		for i := 0; i < page; i++ {
			lg.Logs = append(lg.Logs, mkLog(time.Unix(sliceFrom+int64(i*1700+k), 0), "event", `{"eventId":"new-`+strconv.Itoa(i)+`"}`))
		}
		puts[k], _ = proto.Marshal(lg)
		q := `__topic__: "` + topic(k) + `"`
		search, _ := json.Marshal(slssdk.GetLogRequest{From: sliceFrom, To: sliceFrom + 86400, Query: q, Lines: 100})
		count, _ := json.Marshal(slssdk.GetLogRequest{From: sliceFrom, To: sliceFrom + 86400, Query: q + " | select count(*) as n", Lines: 100})
		reads[k] = [][]byte{search, count}
	}
	putHeader := map[string]string{"Content-Type": "application/x-protobuf", "x-log-compresstype": ""}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % topics
		if rec := send(s, key, "POST", "fzz."+TestEndpoint, "/logstores/events/shards/lb", puts[k], putHeader); rec.Code != 200 {
			b.Fatalf("PutLogs answered %d: %s", rec.Code, rec.Body)
		}
		read := reads[k][0]
		if i%4 == 3 {
			read = reads[k][1]
		}
		if rec := send(s, key, "POST", "fzz."+TestEndpoint, "/logstores/events/logs", read, nil); rec.Code != 200 {
			b.Fatalf("GetLogs answered %d: %s", rec.Code, rec.Body)
		}
	}
}
