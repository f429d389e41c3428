package actiontrail

import (
	"strconv"
	"testing"
	"time"

	atsdk "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// seedLookup stores n records for account, one a minute going back from an hour ago, alternating
// EventName/EventRW/User so filters have something to select.
func seedLookup(f *fixture, account string, n int) []*core.Event {
	base := f.clock.Now().Add(-time.Hour).Truncate(time.Second)
	evs := make([]*core.Event, n)
	for i := range evs {
		name, rw, user := "DescribeInstances", "Read", "ops"
		if i%3 == 0 {
			name, rw, user = "RunInstances", "Write", "ci-bot"
		}
		evs[i] = &core.Event{
			EventID: "EV-" + strconv.Itoa(1000+i), EventName: name, EventRW: rw, EventSource: "ecs.aliyuncs.com", ServiceName: "Ecs",
			AcsRegion: "cn-hangzhou", RecipientAccountID: account, Time: base.Add(-time.Duration(i) * time.Minute),
			UserIdentity: core.UserIdentity{Type: core.PrincipalRAMUser, AccountID: account, UserName: user, AccessKeyID: "LTAI-" + user},
		}
	}
	f.w.Recorder.Seed(evs)
	return evs
}

func lookupReq(attrs ...string) *atsdk.LookupEventsRequest {
	r := atsdk.CreateLookupEventsRequest()
	var la []atsdk.LookupEventsLookupAttribute
	for i := 0; i+1 < len(attrs); i += 2 {
		la = append(la, atsdk.LookupEventsLookupAttribute{Key: attrs[i], Value: attrs[i+1]})
	}
	if la != nil {
		r.LookupAttribute = &la
	}
	return r
}

func eventIDs(resp *atsdk.LookupEventsResponse) []string {
	out := make([]string, len(resp.Events))
	for i, ev := range resp.Events {
		out[i], _ = ev["eventId"].(string)
	}
	return out
}

func TestLookupEventsPagesThroughThreePages(t *testing.T) {
	f := newFixture(t, Options{LookupRatePerSecond: -1})
	mgmt := f.w.ManagementAccountID
	seedLookup(f, mgmt, 120)
	seedLookup(f, f.member, 10) // another account's history never shows
	c := f.client(t, f.mgmt)
	for _, dir := range []string{"", "FORWARD"} {
		r := lookupReq()
		r.MaxResults, r.Direction = "50", dir
		var pages [][]string
		seen := map[string]bool{}
		var lastTime time.Time
		for {
			resp, err := c.LookupEvents(r)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, eventIDs(resp))
			for _, ev := range resp.Events {
				id := ev["eventId"].(string)
				if seen[id] {
					t.Fatalf("%s: %s returned twice", dir, id)
				}
				seen[id] = true
				at, _ := time.Parse(core.EventTimeFormat, ev["eventTime"].(string))
				if !lastTime.IsZero() && ((dir == "" && at.After(lastTime)) || (dir == "FORWARD" && at.Before(lastTime))) {
					t.Fatalf("%s: out of order at %s", dir, id)
				}
				lastTime = at
				if ev["recipientAccountId"] != mgmt {
					t.Fatalf("foreign event %v", ev)
				}
			}
			if resp.NextToken == "" {
				break
			}
			if len(pages) > 5 {
				t.Fatal("paging does not end")
			}
			r.NextToken = resp.NextToken
			f.clock.Advance(time.Minute) // later pages keep the first page's window
		}
		if len(pages) != 3 || len(pages[0]) != 50 || len(pages[1]) != 50 || len(pages[2]) != 20 {
			t.Fatalf("%s: page sizes %d/%d/%d", dir, len(pages[0]), len(pages[1]), len(pages[len(pages)-1]))
		}
		first := "EV-1000" // the newest
		if dir == "FORWARD" {
			first = "EV-1119"
		}
		if pages[0][0] != first {
			t.Fatalf("%s: first event %s, want %s", dir, pages[0][0], first)
		}
	}
}

func TestLookupEventsExactPageBoundaryHasNoToken(t *testing.T) {
	f := newFixture(t, Options{LookupRatePerSecond: -1})
	seedLookup(f, f.w.ManagementAccountID, 100)
	r := lookupReq()
	r.MaxResults = "50"
	c := f.client(t, f.mgmt)
	resp, err := c.LookupEvents(r)
	if err != nil || resp.NextToken == "" {
		t.Fatalf("page 1: %v, token %q", err, resp.NextToken)
	}
	r.NextToken = resp.NextToken
	resp, err = c.LookupEvents(r)
	if err != nil || len(resp.Events) != 50 || resp.NextToken != "" {
		t.Fatalf("page 2: %d events, token %q, %v", len(resp.Events), resp.NextToken, err)
	}
}

func TestLookupEventsAttributeFilters(t *testing.T) {
	f := newFixture(t, Options{LookupRatePerSecond: -1})
	evs := seedLookup(f, f.w.ManagementAccountID, 30)
	c := f.client(t, f.mgmt)
	cases := []struct {
		attrs []string
		want  int
	}{
		{[]string{"EventName", "RunInstances"}, 10},
		{[]string{"EventRW", "Read"}, 20},
		{[]string{"User", "ci-bot"}, 10},
		{[]string{"EventAccessKeyId", "LTAI-ops"}, 20},
		{[]string{"ServiceName", "Ecs", "EventRW", "Write"}, 10},
		{[]string{"EventName", "RunInstances", "User", "ops"}, 0},
		{[]string{"EventId", evs[7].EventID}, 1},
		{[]string{"SensitiveAction", "1"}, 0},
	}
	for _, tc := range cases {
		r := lookupReq(tc.attrs...)
		r.MaxResults = "50"
		resp, err := c.LookupEvents(r)
		if err != nil {
			t.Fatalf("%v: %v", tc.attrs, err)
		}
		if len(resp.Events) != tc.want || resp.NextToken != "" {
			t.Fatalf("%v: %d events (token %q), want %d", tc.attrs, len(resp.Events), resp.NextToken, tc.want)
		}
	}
	// Filtered paging: 10 matches over pages of 4 -> 4, 4, 2.
	r := lookupReq("EventName", "RunInstances")
	r.MaxResults = "4"
	var sizes []int
	for {
		resp, err := c.LookupEvents(r)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(resp.Events))
		if resp.NextToken == "" {
			break
		}
		r.NextToken = resp.NextToken
	}
	if len(sizes) != 3 || sizes[0] != 4 || sizes[1] != 4 || sizes[2] != 2 {
		t.Fatalf("filtered pages %v", sizes)
	}
}

func TestLookupEventsParameterErrors(t *testing.T) {
	f := newFixture(t, Options{LookupRatePerSecond: -1})
	seedLookup(f, f.w.ManagementAccountID, 60)
	c := f.client(t, f.mgmt)
	now := f.clock.Now().UTC()
	page1 := lookupReq()
	page1.MaxResults = "10"
	resp, err := c.LookupEvents(page1)
	if err != nil {
		t.Fatal(err)
	}
	token := resp.NextToken
	cases := []struct {
		name string
		edit func(r *atsdk.LookupEventsRequest)
		code string
	}{
		{"StartTime without EndTime", func(r *atsdk.LookupEventsRequest) { r.StartTime = now.Add(-time.Hour).Format(core.EventTimeFormat) }, "InvalidParameterCombination"},
		{"EndTime without StartTime", func(r *atsdk.LookupEventsRequest) { r.EndTime = now.Format(core.EventTimeFormat) }, "InvalidParameterCombination"},
		{"bad StartTime", func(r *atsdk.LookupEventsRequest) {
			r.StartTime, r.EndTime = "yesterday", now.Format(core.EventTimeFormat)
		}, "InvalidParameterStartTime"},
		{"bad EndTime", func(r *atsdk.LookupEventsRequest) {
			r.StartTime, r.EndTime = now.Format(core.EventTimeFormat), "2021-13-01T00:00:00Z"
		}, "InvalidParameterEndTime"},
		{"start after end", func(r *atsdk.LookupEventsRequest) {
			r.StartTime, r.EndTime = now.Format(core.EventTimeFormat), now.Add(-time.Hour).Format(core.EventTimeFormat)
		}, "InvalidParameterCombination"},
		{"MaxResults 51", func(r *atsdk.LookupEventsRequest) { r.MaxResults = "51" }, "InvalidParameter.MaxResults"},
		{"MaxResults 0", func(r *atsdk.LookupEventsRequest) { r.MaxResults = "0" }, "InvalidParameter.MaxResults"},
		{"bad Direction", func(r *atsdk.LookupEventsRequest) { r.Direction = "SIDEWAYS" }, "InvalidParameter.Direction"},
		{"three attributes", func(r *atsdk.LookupEventsRequest) {
			*r = *lookupReq("EventName", "a", "EventRW", "Read", "User", "ops")
		}, "InvalidParameterCombination"},
		{"unknown attribute key", func(r *atsdk.LookupEventsRequest) { *r = *lookupReq("Colour", "blue") }, "InvalidParameter.LookupAttribute"},
		{"garbage token", func(r *atsdk.LookupEventsRequest) { r.NextToken = "!!not-a-token!!" }, "InvalidParameter.NextToken"},
		{"token of another query", func(r *atsdk.LookupEventsRequest) { r.NextToken, r.Direction = token, "FORWARD" }, "InvalidParameter.NextToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := lookupReq()
			tc.edit(r)
			_, err := c.LookupEvents(r)
			mustCode(t, err, tc.code, 400)
		})
	}

	// An explicit window: EndTime inclusive; a start beyond 90 days is moved to the 90-day edge.
	r := lookupReq()
	r.StartTime = now.Add(-100 * 24 * time.Hour).Format(core.EventTimeFormat)
	r.EndTime = now.Add(-time.Hour - 9*time.Minute).Format(core.EventTimeFormat)
	r.MaxResults = "50"
	resp, err = c.LookupEvents(r)
	if err != nil {
		t.Fatal(err)
	}
	// Minutes 9..59 before the newest record match: 51 events, so 50 and a token.
	if len(resp.Events) != 50 || resp.NextToken == "" {
		t.Fatalf("%d events, token %q", len(resp.Events), resp.NextToken)
	}
	if resp.StartTime != now.Truncate(time.Second).Add(-90*24*time.Hour).Format(core.EventTimeFormat) || resp.EndTime != r.EndTime {
		t.Fatalf("window %s..%s", resp.StartTime, resp.EndTime)
	}
	if ids := eventIDs(resp); ids[0] != "EV-1009" {
		t.Fatalf("first event %s, want EV-1009 (EndTime is inclusive)", ids[0])
	}
}

func TestLookupEventsRateLimitIsPerAccount(t *testing.T) {
	f := newFixture(t, Options{})
	seedLookup(f, f.w.ManagementAccountID, 5)
	mgmt := f.client(t, f.mgmt)
	member := f.client(t, f.memberAK)
	for i := 0; i < 2; i++ {
		if _, err := mgmt.LookupEvents(lookupReq()); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err := mgmt.LookupEvents(lookupReq())
	mustCode(t, err, "Throttling.User", 400)
	// Another account has its own budget.
	for i := 0; i < 2; i++ {
		if _, err := member.LookupEvents(lookupReq()); err != nil {
			t.Fatalf("member call %d: %v", i+1, err)
		}
	}
	// A second later the first account may call again.
	f.clock.Advance(time.Second)
	if _, err := mgmt.LookupEvents(lookupReq()); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	_, _, throttled := f.w.Stats.Sum("Actiontrail", "LookupEvents")
	if throttled != 1 {
		t.Fatalf("stats counted %d throttled calls", throttled)
	}
}

func TestLookupRateIsConfigurable(t *testing.T) {
	f := newFixture(t, Options{LookupRatePerSecond: 5})
	c := f.client(t, f.mgmt)
	for i := 0; i < 5; i++ {
		if _, err := c.LookupEvents(lookupReq()); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err := c.LookupEvents(lookupReq())
	mustCode(t, err, "Throttling.User", 400)
}

func TestLookupEventsKeepsNinetyDays(t *testing.T) {
	f := newFixture(t, Options{LookupRatePerSecond: -1})
	mgmt := f.w.ManagementAccountID
	now := f.clock.Now().UTC().Truncate(time.Second)
	f.w.Recorder.Seed([]*core.Event{
		{EventID: "EV-OLD", EventName: "RunInstances", EventRW: "Write", RecipientAccountID: mgmt, Time: now.Add(-95 * 24 * time.Hour)},
		{EventID: "EV-KEPT", EventName: "RunInstances", EventRW: "Write", RecipientAccountID: mgmt, Time: now.Add(-89 * 24 * time.Hour)},
		{EventID: "EV-RECENT", EventName: "RunInstances", EventRW: "Write", RecipientAccountID: mgmt, Time: now.Add(-8 * 24 * time.Hour)},
	})
	c := f.client(t, f.mgmt)
	r := lookupReq()
	r.StartTime, r.EndTime = now.Add(-100*24*time.Hour).Format(core.EventTimeFormat), now.Format(core.EventTimeFormat)
	resp, err := c.LookupEvents(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(resp); len(got) != 2 || got[0] != "EV-RECENT" || got[1] != "EV-KEPT" {
		t.Fatalf("events %v, want EV-RECENT, EV-KEPT", got)
	}
	// Without a window, the last 7 days only.
	resp, err = c.LookupEvents(lookupReq())
	if err != nil || len(resp.Events) != 0 {
		t.Fatalf("default window returned %v (%v)", eventIDs(resp), err)
	}
}
