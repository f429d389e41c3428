package trail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	at "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

var (
	// ErrNotFound is wrapped when the trail does not exist (TrailNotFoundException).
	ErrNotFound = errors.New("trail does not exist")
	// ErrDiffers is wrapped when CreateTrail finds a trail of that name with other settings.
	ErrDiffers = errors.New("trail exists with other settings")
)

// Error codes the client acts on.
const (
	codeAlreadyExists = "TrailAlreadyExistsException"
	codeNotFound      = "TrailNotFoundException"
)

var (
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9_-]{5,35}$`)
	bucketRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	ossPrefixRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_./-]{5,31}$`)
)

// Client manages the trails of the account its session acts in. Safe for concurrent use:
// every call builds its own SDK client, as the RPC SDK's clients are not.
type Client struct {
	s *cloud.Session
}

// New makes a Client acting with the session's credentials, in the session's region.
func New(s *cloud.Session) *Client { return &Client{s: s} }

func (c *Client) at() (*at.Client, error) {
	cl, err := c.s.ActionTrail()
	if err != nil {
		return nil, fmt.Errorf("trail: actiontrail client: %w", err)
	}
	return cl, nil
}

// api is the rate limiter and metrics key of an ActionTrail action. ActionTrail limits each
// account's calls separately, so each account the client acts in gets its own bucket
// ("actiontrail:<Action>:<account>", see cloud.DefaultLimits): reading the trails of many members
// at once is bounded by the reconciler's concurrency, not by one shared 20 calls/s.
func (c *Client) api(action string) string {
	if id := c.s.AccountID(); id != "" {
		return "actiontrail:" + action + ":" + id
	}
	return "actiontrail:" + action
}

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("trail: name %q must be 6 to 36 characters of lowercase letters, digits, - and _, starting with a lowercase letter", name)
	}
	return nil
}

// Validate checks a Spec against ActionTrail's documented rules, naming the field and the rule.
func (s Spec) Validate() error {
	if err := checkName(s.Name); err != nil {
		return err
	}
	switch s.EventRW {
	case "", "All", "Write", "Read":
	default:
		return fmt.Errorf("trail %s: EventRW %q must be All, Write or Read", s.Name, s.EventRW)
	}
	if s.TrailRegion != "" && s.TrailRegion != "All" && !regionRE.MatchString(s.TrailRegion) {
		return fmt.Errorf("trail %s: TrailRegion %q must be All or a region id such as cn-hangzhou", s.Name, s.TrailRegion)
	}
	if s.SLSProjectARN == "" && s.OSSBucket == "" && s.MaxComputeProjectARN == "" {
		return fmt.Errorf("trail %s: needs at least one destination: SLSProjectARN, OSSBucket or MaxComputeProjectARN", s.Name)
	}
	if s.SLSProjectARN != "" {
		if _, err := ParseSLSProjectARN(s.SLSProjectARN); err != nil {
			return fmt.Errorf("trail %s: SLSProjectARN: %w", s.Name, err)
		}
	} else if s.SLSWriteRoleARN != "" {
		return fmt.Errorf("trail %s: SLSWriteRoleARN is set without SLSProjectARN", s.Name)
	}
	if s.OSSBucket != "" {
		if !bucketRE.MatchString(s.OSSBucket) {
			return fmt.Errorf("trail %s: OSSBucket %q must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit", s.Name, s.OSSBucket)
		}
	} else if s.OSSKeyPrefix != "" || s.OSSWriteRoleARN != "" {
		return fmt.Errorf("trail %s: OSSKeyPrefix or OSSWriteRoleARN is set without OSSBucket", s.Name)
	}
	if s.OSSKeyPrefix != "" && !ossPrefixRE.MatchString(s.OSSKeyPrefix) {
		return fmt.Errorf("trail %s: OSSKeyPrefix %q must be 6 to 32 characters of letters, digits and _ . / -, starting with a letter", s.Name, s.OSSKeyPrefix)
	}
	if s.MaxComputeProjectARN != "" && !strings.HasPrefix(s.MaxComputeProjectARN, "acs:odps:") {
		return fmt.Errorf("trail %s: MaxComputeProjectARN %q must look like acs:odps:<region>:<account id>:project/<name>", s.Name, s.MaxComputeProjectARN)
	}
	if s.MaxComputeProjectARN == "" && s.MaxComputeWriteRoleARN != "" {
		return fmt.Errorf("trail %s: MaxComputeWriteRoleARN is set without MaxComputeProjectARN", s.Name)
	}
	for _, r := range []struct{ field, v string }{
		{"SLSWriteRoleARN", s.SLSWriteRoleARN}, {"OSSWriteRoleARN", s.OSSWriteRoleARN}, {"MaxComputeWriteRoleARN", s.MaxComputeWriteRoleARN},
	} {
		if r.v == "" {
			continue
		}
		if _, _, err := parseRoleARN(r.v); err != nil {
			return fmt.Errorf("trail %s: %s: %w", s.Name, r.field, err)
		}
	}
	return nil
}

// Normalize fills what ActionTrail fills when a field is left out, so Spec.Drift compares like
// with like: EventRW Write, TrailRegion All, and the service-linked role for an SLS project or
// OSS bucket in the caller's own account (trails show it lower-cased). It may ask STS for the
// caller's account once per session.
func (c *Client) Normalize(ctx context.Context, s Spec) (Spec, error) {
	if s.EventRW == "" {
		s.EventRW = "Write"
	}
	if s.TrailRegion == "" {
		s.TrailRegion = "All"
	}
	needSLS := s.SLSProjectARN != "" && s.SLSWriteRoleARN == ""
	needOSS := s.OSSBucket != "" && s.OSSWriteRoleARN == ""
	if !needSLS && !needOSS {
		return s, nil
	}
	self, err := c.s.CallerAccount(ctx)
	if err != nil {
		return s, fmt.Errorf("trail %s: %w", s.Name, err)
	}
	if needSLS {
		if p, err := ParseSLSProjectARN(s.SLSProjectARN); err == nil && p.AccountID == self {
			s.SLSWriteRoleARN = RoleARN(self, ServiceLinkedRole)
		}
	}
	if needOSS { // a bucket without a role can only be the trail owner's own
		s.OSSWriteRoleARN = RoleARN(self, ServiceLinkedRole)
	}
	return s, nil
}

// describedTrail is DescribeTrails' entry with the MaxCompute fields the v1 SDK struct lacks.
type describedTrail struct {
	at.Trail
	MaxComputeProjectArn   string
	MaxComputeWriteRoleArn string
}

// describe finds the trail of that name the caller sees: its own, or the multi-account trail
// covering it. An own single-account trail wins over a multi-account trail of the same name.
func (c *Client) describe(ctx context.Context, cl *at.Client, name string) (*describedTrail, error) {
	var resp *at.DescribeTrailsResponse
	err := c.s.Do(ctx, c.api("DescribeTrails"), func() error {
		req := at.CreateDescribeTrailsRequest()
		req.NameList = name
		req.IncludeOrganizationTrail = requests.NewBoolean(true)
		var e error
		resp, e = cl.DescribeTrails(req)
		return e
	})
	if err != nil {
		return nil, fmt.Errorf("trail %s: DescribeTrails: %w", name, err)
	}
	// The v1 SDK drops MaxComputeProjectArn and MaxComputeWriteRoleArn: read them from the body.
	var raw struct {
		TrailList []struct {
			Name                   string `json:"Name"`
			MaxComputeProjectArn   string `json:"MaxComputeProjectArn"`
			MaxComputeWriteRoleArn string `json:"MaxComputeWriteRoleArn"`
		} `json:"TrailList"`
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &raw); err != nil {
		return nil, fmt.Errorf("trail %s: DescribeTrails: reading the MaxCompute fields: %w", name, err)
	}
	var pick *describedTrail
	for i, t := range resp.TrailList {
		if t.Name != name {
			continue
		}
		if pick != nil && !pick.IsOrganizationTrail {
			continue
		}
		d := &describedTrail{Trail: t}
		if i < len(raw.TrailList) && raw.TrailList[i].Name == t.Name {
			d.MaxComputeProjectArn, d.MaxComputeWriteRoleArn = raw.TrailList[i].MaxComputeProjectArn, raw.TrailList[i].MaxComputeWriteRoleArn
		}
		pick = d
	}
	return pick, nil
}

func stateOf(d *describedTrail) (State, error) {
	st := State{
		Spec: Spec{
			Name: d.Name, EventRW: d.EventRW, TrailRegion: d.TrailRegion, Organization: d.IsOrganizationTrail,
			SLSProjectARN: d.SlsProjectArn, SLSWriteRoleARN: d.SlsWriteRoleArn,
			OSSBucket: d.OssBucketName, OSSKeyPrefix: d.OssKeyPrefix, OSSWriteRoleARN: d.OssWriteRoleArn,
			MaxComputeProjectARN: d.MaxComputeProjectArn, MaxComputeWriteRoleARN: d.MaxComputeWriteRoleArn,
		},
		Exists: true, Status: d.Status, Logging: d.Status == "Enable", HomeRegion: d.HomeRegion,
		ARN: d.TrailArn, OwnerAccountID: trailOwner(d.TrailArn), OrganizationID: d.OrganizationId,
	}
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Time
	}{
		{"CreateTime", d.CreateTime, &st.CreateTime}, {"UpdateTime", d.UpdateTime, &st.UpdateTime},
		{"StartLoggingTime", d.StartLoggingTime, &st.StartLoggingTime}, {"StopLoggingTime", d.StopLoggingTime, &st.StopLoggingTime},
	} {
		t, err := parseTime(f.v)
		if err != nil {
			return State{}, fmt.Errorf("trail %s: DescribeTrails: %s: %w", d.Name, f.name, err)
		}
		*f.dst = t
	}
	return st, nil
}

// Observe reads a trail (DescribeTrails, then GetTrailStatus when it exists). A trail that does
// not exist is State{Exists: false} and no error.
func (c *Client) Observe(ctx context.Context, name string) (State, error) {
	if err := checkName(name); err != nil {
		return State{}, err
	}
	cl, err := c.at()
	if err != nil {
		return State{}, err
	}
	d, err := c.describe(ctx, cl, name)
	if err != nil || d == nil {
		return State{Spec: Spec{Name: name}}, err
	}
	st, err := stateOf(d)
	if err != nil {
		return State{}, err
	}
	var resp *at.GetTrailStatusResponse
	err = c.s.Do(ctx, c.api("GetTrailStatus"), func() error {
		req := at.CreateGetTrailStatusRequest()
		req.Name = name
		req.IsOrganizationTrail = requests.NewBoolean(d.IsOrganizationTrail)
		var e error
		resp, e = cl.GetTrailStatus(req)
		return e
	})
	if cloud.Code(err) == codeNotFound {
		return State{Spec: Spec{Name: name}}, nil // deleted between the two calls
	}
	if err != nil {
		return State{}, fmt.Errorf("trail %s: GetTrailStatus: %w", name, err)
	}
	st.Logging = resp.IsLogging
	st.LatestDeliveryError = resp.LatestDeliveryError
	st.LatestDeliveryLogServiceError = resp.LatestDeliveryLogServiceError
	st.SLSLogStoreOK, st.OSSBucketOK = resp.SlsLogStoreStatus, resp.OssBucketStatus
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Time
	}{
		{"StartLoggingTime", resp.StartLoggingTime, &st.StartLoggingTime}, {"StopLoggingTime", resp.StopLoggingTime, &st.StopLoggingTime},
		{"LatestDeliveryTime", resp.LatestDeliveryTime, &st.LatestDeliveryTime},
		{"LatestDeliveryLogServiceTime", resp.LatestDeliveryLogServiceTime, &st.LatestDeliveryLogServiceTime},
	} {
		if f.v == "" {
			continue // keep what DescribeTrails said
		}
		t, err := parseTime(f.v)
		if err != nil {
			return State{}, fmt.Errorf("trail %s: GetTrailStatus: %s: %w", name, f.name, err)
		}
		*f.dst = t
	}
	return st, nil
}

// Create makes the trail (CreateTrail). It does not start logging: a new trail is Fresh until
// StartLogging. When a trail of that name already exists, Create observes it and returns nil
// only if it matches spec (so a retried or repeated Create is harmless); otherwise the error
// wraps ErrDiffers and lists the differences.
func (c *Client) Create(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	cl, err := c.at()
	if err != nil {
		return err
	}
	err = c.s.Do(ctx, c.api("CreateTrail"), func() error {
		req := at.CreateCreateTrailRequest()
		req.Name = spec.Name
		req.EventRW = spec.EventRW
		req.TrailRegion = spec.TrailRegion
		req.IsOrganizationTrail = requests.NewBoolean(spec.Organization)
		req.SlsProjectArn = spec.SLSProjectARN
		req.SlsWriteRoleArn = spec.SLSWriteRoleARN
		req.OssBucketName = spec.OSSBucket
		req.OssKeyPrefix = spec.OSSKeyPrefix
		req.OssWriteRoleArn = spec.OSSWriteRoleARN
		// Not in the v1 SDK's struct; the query is signed as a whole, so extra keys are fine.
		setIf(req.QueryParams, "MaxComputeProjectArn", spec.MaxComputeProjectARN)
		setIf(req.QueryParams, "MaxComputeWriteRoleArn", spec.MaxComputeWriteRoleARN)
		_, e := cl.CreateTrail(req)
		return e
	})
	if err == nil {
		return nil
	}
	if cloud.Code(err) != codeAlreadyExists {
		return fmt.Errorf("trail %s: CreateTrail: %w", spec.Name, err)
	}
	st, oerr := c.Observe(ctx, spec.Name)
	if oerr != nil {
		return fmt.Errorf("trail %s: CreateTrail said it exists; verifying: %w", spec.Name, oerr)
	}
	if !st.Exists {
		return fmt.Errorf("trail %s: CreateTrail said it exists, but DescribeTrails does not show it: %w", spec.Name, err)
	}
	want, nerr := c.Normalize(ctx, spec)
	if nerr != nil {
		return nerr
	}
	if d := want.Drift(st); len(d) > 0 {
		return fmt.Errorf("trail %s: %w: %s", spec.Name, ErrDiffers, strings.Join(d, "; "))
	}
	return nil
}

func setIf(q map[string]string, k, v string) {
	if v != "" {
		q[k] = v
	}
}

// Update makes the trail match spec (UpdateTrail; IsOrganizationTrail cannot change and is an
// error). It reads the trail first (DescribeTrails) and writes nothing when it already matches;
// otherwise it sends every field spec sets and clears with an explicit empty value the
// destination fields the trail has but spec leaves out, as the console and Terraform do.
func (c *Client) Update(ctx context.Context, spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	want, err := c.Normalize(ctx, spec)
	if err != nil {
		return err
	}
	cl, err := c.at()
	if err != nil {
		return err
	}
	d, err := c.describe(ctx, cl, spec.Name)
	if err != nil {
		return err
	}
	if d == nil {
		return fmt.Errorf("trail %s: UpdateTrail: %w", spec.Name, ErrNotFound)
	}
	cur, err := stateOf(d)
	if err != nil {
		return err
	}
	if cur.Organization != want.Organization {
		return fmt.Errorf("trail %s: IsOrganizationTrail is %v and UpdateTrail cannot change it to %v: delete and re-create the trail", spec.Name, cur.Organization, want.Organization)
	}
	if len(want.Drift(cur)) == 0 && strings.EqualFold(want.MaxComputeWriteRoleARN, cur.MaxComputeWriteRoleARN) {
		return nil
	}
	err = c.s.Do(ctx, c.api("UpdateTrail"), func() error {
		req := at.CreateUpdateTrailRequest()
		req.Name = want.Name
		q := req.QueryParams
		for _, f := range []struct {
			key, want, have string
			clearable       bool
		}{
			{"EventRW", want.EventRW, cur.EventRW, false},
			{"TrailRegion", want.TrailRegion, cur.TrailRegion, false},
			{"SlsProjectArn", want.SLSProjectARN, cur.SLSProjectARN, true},
			{"SlsWriteRoleArn", want.SLSWriteRoleARN, cur.SLSWriteRoleARN, true},
			{"OssBucketName", want.OSSBucket, cur.OSSBucket, true},
			{"OssKeyPrefix", want.OSSKeyPrefix, cur.OSSKeyPrefix, true},
			{"OssWriteRoleArn", want.OSSWriteRoleARN, cur.OSSWriteRoleARN, true},
			{"MaxComputeProjectArn", want.MaxComputeProjectARN, cur.MaxComputeProjectARN, true},
			{"MaxComputeWriteRoleArn", want.MaxComputeWriteRoleARN, cur.MaxComputeWriteRoleARN, true},
		} {
			switch {
			case f.want != "":
				q[f.key] = f.want
			case f.clearable && f.have != "":
				q[f.key] = "" // sent as "Key=": removes the destination
			}
		}
		_, e := cl.UpdateTrail(req)
		return e
	})
	if cloud.Code(err) == codeNotFound {
		return fmt.Errorf("trail %s: UpdateTrail: %w", spec.Name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("trail %s: UpdateTrail: %w", spec.Name, err)
	}
	return nil
}

// StartLogging turns logging on (Fresh or Disable -> Enable). Starting a logging trail is harmless.
func (c *Client) StartLogging(ctx context.Context, name string) error {
	return c.byName(ctx, "StartLogging", name, func(cl *at.Client) error {
		req := at.CreateStartLoggingRequest()
		req.Name = name
		_, err := cl.StartLogging(req)
		return err
	})
}

// StopLogging turns logging off (the SDK sends it as GET, as the API wants).
func (c *Client) StopLogging(ctx context.Context, name string) error {
	return c.byName(ctx, "StopLogging", name, func(cl *at.Client) error {
		req := at.CreateStopLoggingRequest()
		req.Name = name
		_, err := cl.StopLogging(req)
		return err
	})
}

func (c *Client) byName(ctx context.Context, action, name string, call func(*at.Client) error) error {
	if err := checkName(name); err != nil {
		return err
	}
	cl, err := c.at()
	if err != nil {
		return err
	}
	err = c.s.Do(ctx, c.api(action), func() error { return call(cl) })
	if cloud.Code(err) == codeNotFound {
		return fmt.Errorf("trail %s: %s: %w", name, action, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("trail %s: %s: %w", name, action, err)
	}
	return nil
}

// Delete removes the trail. A trail already gone is success once Observe confirms the caller
// has no such trail (a multi-account trail owned by another account does not count).
func (c *Client) Delete(ctx context.Context, name string) error {
	err := c.byName(ctx, "DeleteTrail", name, func(cl *at.Client) error {
		req := at.CreateDeleteTrailRequest()
		req.Name = name
		_, err := cl.DeleteTrail(req)
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	st, oerr := c.Observe(ctx, name)
	if oerr != nil {
		return fmt.Errorf("trail %s: DeleteTrail said it does not exist; verifying: %w", name, oerr)
	}
	if !st.Exists {
		return nil
	}
	if st.Organization && st.OwnerAccountID != "" {
		self, serr := c.s.CallerAccount(ctx)
		if serr != nil {
			return fmt.Errorf("trail %s: %w", name, serr)
		}
		if st.OwnerAccountID != self {
			return nil // the multi-account trail of account st.OwnerAccountID, not ours to delete
		}
	}
	return fmt.Errorf("trail %s: DeleteTrail said it does not exist, yet DescribeTrails still shows it (%s)", name, st.ARN)
}

// parseTime reads ActionTrail's times ("2021-03-01T06:27:28Z"); empty is the zero time.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.000Z0700", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time such as 2021-03-01T06:27:28Z", v)
}
