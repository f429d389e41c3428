package logstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// pageSize is GetLogs' maximum lines per call.
const pageSize = 100

// incompleteRetries bounds how often one page is asked again while SLS answers
// progress "Incomplete" (the query has not yet covered every shard).
const incompleteRetries = 5

// Query returns the logs of [from, to) matching query, oldest first, reading pages of 100 by
// offset until a page comes back short. limit caps the number of logs returned (0 = no cap).
// An analytic query ("... | select ...") is answered in one call: SLS ignores offset and line
// for SQL, and the statement's own LIMIT applies. Every value is a string, as SLS returns it;
// the reserved fields __time__, __source__ and __topic__ are included.
func (c *Client) Query(ctx context.Context, project, logstore string, from, to time.Time, query string, limit int) ([]map[string]string, error) {
	switch {
	case project == "" || logstore == "":
		return nil, fmt.Errorf("sls query: project and logstore are required (got %q, %q)", project, logstore)
	case !from.Before(to):
		return nil, fmt.Errorf("sls query %s/%s: from (%s) must be before to (%s)", project, logstore, from.Format(time.RFC3339), to.Format(time.RFC3339))
	case limit < 0:
		return nil, fmt.Errorf("sls query %s/%s: limit %d must be 0 (no limit) or positive", project, logstore, limit)
	}
	if strings.TrimSpace(query) == "" {
		query = "*"
	}
	var out []map[string]string
	for offset := int64(0); ; {
		lines := int64(pageSize)
		if limit > 0 && int64(limit-len(out)) < lines {
			lines = int64(limit - len(out))
		}
		req := &sls.GetLogRequest{
			From: from.Unix(), FromNsPart: int32(from.Nanosecond()),
			To: to.Unix(), ToNsPart: int32(to.Nanosecond()),
			Lines: lines, Offset: offset, Query: query,
		}
		resp, err := c.getLogs(ctx, project, logstore, req)
		if err != nil {
			return nil, fmt.Errorf("sls query %s/%s at offset %d: %w", project, logstore, offset, err)
		}
		out = append(out, resp.Logs...)
		if resp.Meta.HasSQL {
			if limit > 0 && len(out) > limit {
				out = out[:limit]
			}
			return out, nil
		}
		if int64(len(resp.Logs)) < lines || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		offset += int64(len(resp.Logs))
	}
}

// getLogs runs one GetLogs call, asking again while SLS says the result is incomplete.
func (c *Client) getLogs(ctx context.Context, project, logstore string, req *sls.GetLogRequest) (*sls.GetLogsV3Response, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var resp *sls.GetLogsV3Response
		err := c.s.Do(ctx, "sls:GetLogs", func() error {
			var e error
			resp, e = c.sls.GetLogsV3(project, logstore, req)
			return e
		})
		if err != nil {
			return nil, err
		}
		if resp.IsComplete() {
			return resp, nil
		}
		if attempt >= incompleteRetries {
			return nil, fmt.Errorf("progress still %q after %d calls: the query did not complete", resp.Meta.Progress, attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}
