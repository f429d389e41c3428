package actiontrail

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

const (
	lookupDefaultWindow = 7 * 24 * time.Hour
	lookupMaxResults    = 50
	lookupDefaultMax    = 20
	maxLookupAttributes = 2
)

// lookupKeys are the LookupAttribute keys ActionTrail accepts.
var lookupKeys = map[string]func(ev *core.Event, v string) bool{
	"ServiceName": func(ev *core.Event, v string) bool { return strings.EqualFold(ev.ServiceName, v) },
	"EventName":   func(ev *core.Event, v string) bool { return ev.EventName == v },
	"User": func(ev *core.Event, v string) bool {
		u := ev.UserIdentity
		return u.UserName == v || u.SessionName == v || (u.Type == core.PrincipalRoot && v == "root")
	},
	"EventId":      func(ev *core.Event, v string) bool { return ev.EventID == v },
	"ResourceType": func(ev *core.Event, v string) bool { return strings.EqualFold(ev.ResourceType, v) },
	"ResourceName": func(ev *core.Event, v string) bool {
		for _, n := range strings.Split(ev.ResourceName, ";") {
			if n == v {
				return true
			}
		}
		return false
	},
	"EventRW":          func(ev *core.Event, v string) bool { return strings.EqualFold(ev.EventRW, v) },
	"EventAccessKeyId": func(ev *core.Event, v string) bool { return ev.UserIdentity.AccessKeyID == v },
	"SensitiveAction": func(ev *core.Event, v string) bool {
		want := v == "1" || strings.EqualFold(v, "true")
		return sensitiveActions[ev.EventName] == want
	},
}

// sensitiveActions are the events ActionTrail flags as sensitive: ones that weaken auditing or
// grant access.
var sensitiveActions = map[string]bool{
	"StopLogging": true, "DeleteTrail": true, "UpdateTrail": true, "DeleteLogStore": true, "DeleteProject": true,
	"DeleteBucket": true, "PutBucketAcl": true, "DeleteBucketPolicy": true, "PutBucketPolicy": true,
	"CreateAccessKey": true, "AttachPolicyToUser": true, "AttachPolicyToRole": true, "CreateLoginProfile": true,
	"DeleteMFADevice": true, "UnbindMFADevice": true, "RemoveCloudAccount": true, "DeleteAccount": true,
}

// ParseLookupTime reads an ActionTrail time: ISO 8601 in UTC (2021-01-01T00:00:00Z), with or
// without fractional seconds; an explicit offset is accepted and converted to UTC.
func ParseLookupTime(v string) (time.Time, error) {
	for _, layout := range []string{core.EventTimeFormat, time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 UTC time such as 2021-01-01T00:00:00Z", v)
}

// lookupCursor is what a NextToken carries: the query window (so later pages see the same one,
// whatever the clock does) and the last event returned.
type lookupCursor struct {
	V     int    `json:"v"`
	Start int64  `json:"s"`
	End   int64  `json:"e"`
	Time  int64  `json:"t"`
	ID    string `json:"i"`
	Query string `json:"q"` // fingerprint of the parameters that must repeat
}

const cursorVersion = 1

// encodeNextToken makes an opaque, URL-safe token.
func encodeNextToken(c lookupCursor) string {
	c.V = cursorVersion
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeNextToken reads a token; any damage is an error, never a panic.
func decodeNextToken(tok string) (lookupCursor, error) {
	var c lookupCursor
	if len(tok) > 1024 {
		return c, fmt.Errorf("too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return c, fmt.Errorf("not base64url: %v", err)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("not a token: %v", err)
	}
	if c.V != cursorVersion || c.Start > c.End || c.ID == "" || c.Query == "" {
		return lookupCursor{}, fmt.Errorf("not a token of this service")
	}
	return c, nil
}

func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// allowLookup applies the service's own LookupEvents limit, per caller account, on the world clock.
func (s *Service) allowLookup(account string) bool {
	if s.opts.LookupRatePerSecond < 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.limiters[account]
	if !ok {
		burst := max(1, int(s.opts.LookupRatePerSecond))
		lim = rate.NewLimiter(rate.Limit(s.opts.LookupRatePerSecond), burst)
		s.limiters[account] = lim
	}
	return lim.AllowN(s.w.Now(), 1)
}

type lookupAttr struct {
	key, value string
	match      func(*core.Event, string) bool
}

func (s *Service) lookupEvents(c *core.Call) (any, error) {
	account := c.Caller.AccountID
	if !s.allowLookup(account) {
		return nil, core.Errorf(400, "Throttling.User", "Request was denied due to user flow control.")
	}
	maxResults := lookupDefaultMax
	if v := c.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > lookupMaxResults {
			return nil, core.Errorf(400, "InvalidParameter.MaxResults", "The parameter MaxResults %q must be an integer from 1 to %d.", v, lookupMaxResults)
		}
		maxResults = n
	}
	direction := c.Get("Direction")
	switch strings.ToUpper(direction) {
	case "", "BACKWARD":
		direction = "BACKWARD"
	case "FORWARD":
		direction = "FORWARD"
	default:
		return nil, core.Errorf(400, "InvalidParameter.Direction", "The parameter Direction %q must be BACKWARD or FORWARD.", direction)
	}
	var attrs []lookupAttr
	raw := c.RepeatList("LookupAttribute")
	if len(raw) > maxLookupAttributes {
		return nil, core.Errorf(400, "InvalidParameterCombination", "At most %d LookupAttribute entries may be given; got %d.", maxLookupAttributes, len(raw))
	}
	attrKeys := make([]string, 0, len(raw))
	for i, a := range raw {
		key, value := a["Key"], a["Value"]
		match, ok := lookupKeys[key]
		if !ok {
			return nil, core.Errorf(400, "InvalidParameter.LookupAttribute", "LookupAttribute.%d.Key %q must be one of ServiceName, EventName, User, EventId, ResourceType, ResourceName, EventRW, EventAccessKeyId, SensitiveAction.", i+1, key)
		}
		if value == "" {
			return nil, core.Errorf(400, "InvalidParameter.LookupAttribute", "LookupAttribute.%d.Value is required.", i+1)
		}
		attrs = append(attrs, lookupAttr{key: key, value: value, match: match})
		attrKeys = append(attrKeys, key+"="+value)
	}
	sort.Strings(attrKeys)

	now := c.World.Now().Truncate(time.Second)
	rawStart, rawEnd := c.Get("StartTime"), c.Get("EndTime")
	fp := fingerprint(rawStart, rawEnd, direction, strings.Join(attrKeys, "&"))
	var start, end time.Time
	var cursor *lookupCursor
	if tok := c.Get("NextToken"); tok != "" {
		cur, err := decodeNextToken(tok)
		if err != nil {
			return nil, core.Errorf(400, "InvalidParameter.NextToken", "The parameter NextToken is invalid: %v.", err)
		}
		if cur.Query != fp {
			return nil, core.Errorf(400, "InvalidParameter.NextToken", "The parameter NextToken belongs to a query with other StartTime, EndTime, Direction or LookupAttribute values; repeat the first page's parameters.")
		}
		start, end = time.Unix(cur.Start, 0).UTC(), time.Unix(cur.End, 0).UTC()
		cursor = &cur
	} else {
		var err error
		if start, end, err = lookupWindow(rawStart, rawEnd, now); err != nil {
			return nil, err
		}
	}

	evs := c.World.Recorder.Window(account, start, end.Add(time.Second)) // EndTime is inclusive
	sort.SliceStable(evs, func(i, j int) bool { return eventBefore(evs[i], evs[j]) })
	if direction == "BACKWARD" {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	from := 0
	if cursor != nil {
		ct := time.Unix(cursor.Time, 0).UTC()
		from = sort.Search(len(evs), func(i int) bool {
			ev := evs[i]
			if direction == "FORWARD" {
				return ev.Time.After(ct) || (ev.Time.Equal(ct) && ev.EventID > cursor.ID)
			}
			return ev.Time.Before(ct) || (ev.Time.Equal(ct) && ev.EventID < cursor.ID)
		})
	}
	page := make([]*core.Event, 0, maxResults)
	more := false
	for i := from; i < len(evs); i++ {
		if !matchAll(evs[i], attrs) {
			continue
		}
		if len(page) == maxResults {
			more = true // one more match exists: the caller gets a NextToken
			break
		}
		page = append(page, evs[i])
	}
	out := map[string]any{"StartTime": fmtTime(start), "EndTime": fmtTime(end), "Events": page}
	if more {
		last := page[len(page)-1]
		out["NextToken"] = encodeNextToken(lookupCursor{Start: start.Unix(), End: end.Unix(), Time: last.Time.Unix(), ID: last.EventID, Query: fp})
	}
	return out, nil
}

// lookupWindow applies the StartTime/EndTime rules: both or neither (default the last 7 days),
// start not after end, and nothing older than the 90 days ActionTrail keeps.
func lookupWindow(rawStart, rawEnd string, now time.Time) (time.Time, time.Time, error) {
	if (rawStart == "") != (rawEnd == "") {
		return time.Time{}, time.Time{}, core.Errorf(400, "InvalidParameterCombination", "StartTime and EndTime must be given together, or neither (the last 7 days).")
	}
	start, end := now.Add(-lookupDefaultWindow), now
	if rawStart != "" {
		var err error
		if start, err = ParseLookupTime(rawStart); err != nil {
			return start, end, core.Errorf(400, "InvalidParameterStartTime", "The parameter StartTime is invalid: %v.", err)
		}
		if end, err = ParseLookupTime(rawEnd); err != nil {
			return start, end, core.Errorf(400, "InvalidParameterEndTime", "The parameter EndTime is invalid: %v.", err)
		}
		start, end = start.Truncate(time.Second), end.Truncate(time.Second)
	}
	if start.After(end) {
		return start, end, core.Errorf(400, "InvalidParameterCombination", "StartTime %s is after EndTime %s.", fmtTime(start), fmtTime(end))
	}
	if oldest := now.Add(-historyWindow); start.Before(oldest) {
		start = oldest // events are kept 90 days; older ones are simply gone
	}
	if end.After(now) {
		end = now
	}
	if start.After(end) {
		start = end
	}
	return start, end, nil
}

func eventBefore(a, b *core.Event) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.EventID < b.EventID
}

func matchAll(ev *core.Event, attrs []lookupAttr) bool {
	for _, a := range attrs {
		if !a.match(ev, a.value) {
			return false
		}
	}
	return true
}
