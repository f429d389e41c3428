package sls

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
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
