package trail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	at "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
)

// Data backfill (delivery history) job statuses.
const (
	JobInitializing = 0
	JobDelivering   = 1
	JobComplete     = 2
	JobFailed       = 3
)

// JobState is a data backfill job as ActionTrail reports it.
type JobState struct {
	ID         int64
	TrailName  string
	HomeRegion string
	Status     int            // JobInitializing .. JobFailed
	Regions    map[string]int // per-region status; GetDeliveryHistoryJob only (nil from the list)
	Start, End time.Time      // the history the job covers
	Created    time.Time
	Updated    time.Time
}

// Done reports whether the job has finished, well or not.
func (j JobState) Done() bool { return j.Status == JobComplete || j.Status == JobFailed }

// CreateDeliveryHistoryJob starts the data backfill of a single-account trail delivering to SLS
// (one running job per account). A ClientToken drawn once per call makes the retries of Do
// idempotent: a retry after a lost answer gets the same job back, not a second one.
func (c *Client) CreateDeliveryHistoryJob(ctx context.Context, trailName string) (int64, error) {
	if err := checkName(trailName); err != nil {
		return 0, err
	}
	cl, err := c.at()
	if err != nil {
		return 0, err
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return 0, fmt.Errorf("trail %s: client token: %w", trailName, err)
	}
	token := hex.EncodeToString(tok[:])
	var resp *at.CreateDeliveryHistoryJobResponse
	err = c.s.Do(ctx, c.api("CreateDeliveryHistoryJob"), func() error {
		req := at.CreateCreateDeliveryHistoryJobRequest()
		req.TrailName = trailName
		req.ClientToken = token
		var e error
		resp, e = cl.CreateDeliveryHistoryJob(req)
		return e
	})
	if err != nil {
		return 0, fmt.Errorf("trail %s: CreateDeliveryHistoryJob: %w", trailName, err)
	}
	if resp.JobId <= 0 {
		return 0, fmt.Errorf("trail %s: CreateDeliveryHistoryJob: JobId %d is not a job id", trailName, resp.JobId)
	}
	return int64(resp.JobId), nil
}

// DeliveryHistoryJob reads one job (GetDeliveryHistoryJob).
func (c *Client) DeliveryHistoryJob(ctx context.Context, jobID int64) (JobState, error) {
	if jobID <= 0 {
		return JobState{}, fmt.Errorf("trail: job id %d must be positive", jobID)
	}
	cl, err := c.at()
	if err != nil {
		return JobState{}, err
	}
	var resp *at.GetDeliveryHistoryJobResponse
	err = c.s.Do(ctx, c.api("GetDeliveryHistoryJob"), func() error {
		req := at.CreateGetDeliveryHistoryJobRequest()
		req.JobId = requests.NewInteger64(jobID)
		var e error
		resp, e = cl.GetDeliveryHistoryJob(req)
		return e
	})
	if err != nil {
		return JobState{}, fmt.Errorf("trail: GetDeliveryHistoryJob %d: %w", jobID, err)
	}
	j, err := jobState(resp.JobId, resp.TrailName, resp.HomeRegion, resp.JobStatus, resp.StartTime, resp.EndTime, resp.CreatedTime, resp.UpdatedTime)
	if err != nil {
		return JobState{}, fmt.Errorf("trail: GetDeliveryHistoryJob %d: %w", jobID, err)
	}
	j.Regions = make(map[string]int, len(resp.Status))
	for _, s := range resp.Status {
		j.Regions[s.Region] = s.Status
	}
	return j, nil
}

func jobState(id int64, trailName, home string, status int, start, end, created, updated string) (JobState, error) {
	j := JobState{ID: id, TrailName: trailName, HomeRegion: home, Status: status}
	for _, f := range []struct {
		name, v string
		dst     *time.Time
	}{
		{"StartTime", start, &j.Start}, {"EndTime", end, &j.End},
		{"CreatedTime", created, &j.Created}, {"UpdatedTime", updated, &j.Updated},
	} {
		t, err := parseTime(f.v)
		if err != nil {
			return JobState{}, fmt.Errorf("job %d: %s: %w", id, f.name, err)
		}
		*f.dst = t
	}
	return j, nil
}

// ListDeliveryHistoryJobs lists every job of the account, newest first (pages of 100).
func (c *Client) ListDeliveryHistoryJobs(ctx context.Context) ([]JobState, error) {
	cl, err := c.at()
	if err != nil {
		return nil, err
	}
	const size = 100
	var out []JobState
	seen := map[int64]bool{}
	for page := 1; ; page++ {
		var resp *at.ListDeliveryHistoryJobsResponse
		err := c.s.Do(ctx, c.api("ListDeliveryHistoryJobs"), func() error {
			req := at.CreateListDeliveryHistoryJobsRequest()
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(size)
			var e error
			resp, e = cl.ListDeliveryHistoryJobs(req)
			return e
		})
		if err != nil {
			return nil, fmt.Errorf("trail: ListDeliveryHistoryJobs page %d: %w", page, err)
		}
		for _, d := range resp.DeliveryHistoryJobs {
			if seen[d.JobId] { // a job created meanwhile shifts the pages
				continue
			}
			seen[d.JobId] = true
			j, err := jobState(d.JobId, d.TrailName, d.HomeRegion, d.JobStatus, d.StartTime, d.EndTime, d.CreatedTime, d.UpdatedTime)
			if err != nil {
				return nil, fmt.Errorf("trail: ListDeliveryHistoryJobs: %w", err)
			}
			out = append(out, j)
		}
		if len(resp.DeliveryHistoryJobs) == 0 || page*size >= resp.TotalCount {
			break
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].ID > out[b].ID })
	return out, nil
}

// lookupAttributeKeys are the LookupAttribute keys ActionTrail accepts.
var lookupAttributeKeys = []string{"ServiceName", "EventName", "User", "EventId", "ResourceType", "ResourceName", "EventRW", "EventAccessKeyId", "SensitiveAction"}

// LookupQuery is one LookupEvents page request. Start and End are both set or both zero (the
// last 7 days); a later page repeats the first page's query with its NextToken.
type LookupQuery struct {
	Start, End time.Time
	NextToken  string
	MaxResults int               // 1..50; 0 means 50
	Attributes map[string]string // at most 2, keys from ServiceName, EventName, User, EventId, ...
}

// LookupPage is one page of events, each the JSON object ActionTrail returned; NextToken is ""
// on the last page.
type LookupPage struct {
	Events    []json.RawMessage
	NextToken string
}

// LookupMaxResults is LookupEvents' largest page.
const LookupMaxResults = 50

func (q LookupQuery) validate() error {
	if q.Start.IsZero() != q.End.IsZero() {
		return fmt.Errorf("trail: LookupEvents: Start and End must be set together, or neither (the last 7 days)")
	}
	if !q.Start.IsZero() && q.Start.After(q.End) {
		return fmt.Errorf("trail: LookupEvents: Start %s is after End %s", q.Start.UTC().Format(time.RFC3339), q.End.UTC().Format(time.RFC3339))
	}
	if q.MaxResults < 0 || q.MaxResults > LookupMaxResults {
		return fmt.Errorf("trail: LookupEvents: MaxResults %d must be from 1 to %d (0 means %d)", q.MaxResults, LookupMaxResults, LookupMaxResults)
	}
	if len(q.Attributes) > 2 {
		return fmt.Errorf("trail: LookupEvents: at most 2 Attributes, got %d", len(q.Attributes))
	}
	for k, v := range q.Attributes {
		ok := false
		for _, known := range lookupAttributeKeys {
			ok = ok || k == known
		}
		if !ok {
			return fmt.Errorf("trail: LookupEvents: attribute %q must be one of %v", k, lookupAttributeKeys)
		}
		if v == "" {
			return fmt.Errorf("trail: LookupEvents: attribute %s has an empty value", k)
		}
	}
	return nil
}

// LookupEvents reads one page of the account's event history, newest first. Its rate limiter
// is per account (ActionTrail allows 2 calls a second to each), keyed
// "actiontrail:LookupEvents:<account>".
func (c *Client) LookupEvents(ctx context.Context, q LookupQuery) (LookupPage, error) {
	if err := q.validate(); err != nil {
		return LookupPage{}, err
	}
	account, err := c.s.CallerAccount(ctx)
	if err != nil {
		return LookupPage{}, fmt.Errorf("trail: LookupEvents: %w", err)
	}
	cl, err := c.at()
	if err != nil {
		return LookupPage{}, err
	}
	pageSize := q.MaxResults
	if pageSize == 0 {
		pageSize = LookupMaxResults
	}
	keys := make([]string, 0, len(q.Attributes))
	for k := range q.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable order: later pages must repeat the first page's parameters
	var resp *at.LookupEventsResponse
	err = c.s.Do(ctx, "actiontrail:LookupEvents:"+account, func() error {
		req := at.CreateLookupEventsRequest()
		if !q.Start.IsZero() {
			req.StartTime = q.Start.UTC().Format("2006-01-02T15:04:05Z")
			req.EndTime = q.End.UTC().Format("2006-01-02T15:04:05Z")
		}
		req.MaxResults = fmt.Sprint(pageSize)
		req.NextToken = q.NextToken
		if len(keys) > 0 {
			attrs := make([]at.LookupEventsLookupAttribute, len(keys))
			for i, k := range keys {
				attrs[i] = at.LookupEventsLookupAttribute{Key: k, Value: q.Attributes[k]}
			}
			req.LookupAttribute = &attrs
		}
		var e error
		resp, e = cl.LookupEvents(req)
		return e
	})
	if err != nil {
		return LookupPage{}, fmt.Errorf("trail: LookupEvents in account %s: %w", account, err)
	}
	// Events are kept as the service sent them: the SDK's map[string]interface{} would turn
	// numbers into float64 and lose key order.
	var raw struct {
		Events    []json.RawMessage `json:"Events"`
		NextToken string            `json:"NextToken"`
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &raw); err != nil {
		return LookupPage{}, fmt.Errorf("trail: LookupEvents in account %s: reading the events: %w", account, err)
	}
	return LookupPage{Events: raw.Events, NextToken: raw.NextToken}, nil
}
