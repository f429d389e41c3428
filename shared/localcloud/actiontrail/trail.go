package actiontrail

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// Trail statuses as DescribeTrails shows them.
const (
	StatusFresh   = "Fresh"
	StatusEnable  = "Enable"
	StatusDisable = "Disable"
)

const maxTrailsPerRegion = 5

// trailConfig is what CreateTrail and UpdateTrail set.
type trailConfig struct {
	EventRW                string
	TrailRegion            string
	OssBucketName          string
	OssKeyPrefix           string
	OssWriteRoleArn        string
	SlsProjectArn          string
	SlsWriteRoleArn        string
	MaxComputeProjectArn   string
	MaxComputeWriteRoleArn string
}

// trail is one trail with its delivery state. Guarded by Service.mu.
type trail struct {
	Name           string
	Owner          string
	HomeRegion     string
	IsOrganization bool
	OrganizationID string
	trailConfig

	Status           string
	CreateTime       time.Time
	UpdateTime       time.Time
	StartLoggingTime time.Time
	StopLoggingTime  time.Time
	// FirstStart is when the trail first took effect: backfill jobs cover the history before it.
	FirstStart time.Time
	// liveAtFirstStart holds ids of records of FirstStart's second that live delivery took, so a
	// backfill job delivers that second's other records and nothing twice.
	liveAtFirstStart map[string]bool

	deleted bool
	sls     destState
	oss     destState
}

// destState is one destination's queue and health.
type destState struct {
	queue     []*core.Event
	since     time.Time // world time the oldest queued record was queued
	gen       int       // bumped when the destination changes, so an in-flight delivery does not commit
	lastTime  time.Time
	lastError string
	// ensured is false until the Logstore is known to exist (SLS only).
	ensured bool
}

func (t *trail) arn() string {
	return "acs:actiontrail:" + t.HomeRegion + ":" + t.Owner + ":trail/" + t.Name
}

func (t *trail) logging() bool { return t.Status == StatusEnable }

func (t *trail) logstore() string { return "actiontrail_" + t.Name }

var (
	trailNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]{5,35}$`)
	ossPrefixRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_./-]{5,31}$`)
	bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
)

func invalidParam(field, rule string, args ...any) *core.Error {
	return core.Errorf(400, "InvalidQueryParameter", "The parameter %s is invalid: %s", field, fmt.Sprintf(rule, args...))
}

func trailNotFound(name string) *core.Error {
	return core.Errorf(404, "TrailNotFoundException", "The specified Trail %s does not exist.", name)
}

func validateName(name string) error {
	if name == "" {
		return core.Errorf(400, "MissingParameter.Name", "The parameter Name is required.")
	}
	if !trailNameRE.MatchString(name) {
		return core.Errorf(400, "InvalidTrailNameException",
			"The parameter Name %q is invalid: 6 to 36 characters, starting with a lowercase letter, of lowercase letters, digits, hyphens (-) and underscores (_).", name)
	}
	return nil
}

// readConfig reads the destination parameters; on update, absent parameters keep base's values.
func readConfig(c *core.Call, base trailConfig, create bool) (trailConfig, error) {
	cfg := base
	set := func(field string, dst *string) {
		if v, ok := c.Params[field]; ok && (v != "" || !create) {
			*dst = strings.TrimSpace(v)
		}
	}
	set("EventRW", &cfg.EventRW)
	set("TrailRegion", &cfg.TrailRegion)
	set("OssBucketName", &cfg.OssBucketName)
	set("OssKeyPrefix", &cfg.OssKeyPrefix)
	set("OssWriteRoleArn", &cfg.OssWriteRoleArn)
	set("SlsProjectArn", &cfg.SlsProjectArn)
	set("SlsWriteRoleArn", &cfg.SlsWriteRoleArn)
	set("MaxComputeProjectArn", &cfg.MaxComputeProjectArn)
	set("MaxComputeWriteRoleArn", &cfg.MaxComputeWriteRoleArn)
	if cfg.EventRW == "" {
		cfg.EventRW = "Write"
	}
	if cfg.TrailRegion == "" {
		cfg.TrailRegion = "All"
	}
	switch cfg.EventRW {
	case "Write", "Read", "All":
	default:
		return cfg, invalidParam("EventRW", "%q must be Write, Read or All", cfg.EventRW)
	}
	if cfg.TrailRegion != "All" && !regionRE.MatchString(cfg.TrailRegion) {
		return cfg, invalidParam("TrailRegion", "%q must be All or a region id such as cn-hangzhou", cfg.TrailRegion)
	}
	if cfg.OssKeyPrefix != "" {
		if strings.HasPrefix(cfg.OssKeyPrefix, "http://") || strings.HasPrefix(cfg.OssKeyPrefix, "https://") || !ossPrefixRE.MatchString(cfg.OssKeyPrefix) {
			return cfg, core.Errorf(400, "InvalidPrefixException",
				"The parameter OssKeyPrefix %q is invalid: 6 to 32 characters, starting with a letter, of letters, digits, '.', '/', '-' and '_'.", cfg.OssKeyPrefix)
		}
	}
	if cfg.OssBucketName != "" && !bucketNameRE.MatchString(cfg.OssBucketName) {
		return cfg, invalidParam("OssBucketName", "%q must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit", cfg.OssBucketName)
	}
	if cfg.SlsProjectArn == "" && cfg.OssBucketName == "" && cfg.MaxComputeProjectArn == "" {
		return cfg, core.Errorf(400, "InvalidDeliveryConfigurationException",
			"The trail has no destination: set at least one of SlsProjectArn, OssBucketName and MaxComputeProjectArn.")
	}
	if cfg.SlsProjectArn != "" {
		if _, err := ParseSLSProjectARN(cfg.SlsProjectArn); err != nil {
			return cfg, core.Errorf(400, "InvalidDeliveryConfigurationException", "%v.", err)
		}
	}
	if cfg.MaxComputeProjectArn != "" {
		if _, err := ParseMaxComputeProjectARN(cfg.MaxComputeProjectArn); err != nil {
			return cfg, core.Errorf(400, "InvalidDeliveryConfigurationException", "%v.", err)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"SlsWriteRoleArn", cfg.SlsWriteRoleArn}, {"OssWriteRoleArn", cfg.OssWriteRoleArn}, {"MaxComputeWriteRoleArn", cfg.MaxComputeWriteRoleArn},
	} {
		if f.v == "" {
			continue
		}
		if _, _, ok := core.ParseRoleARN(f.v); !ok {
			return cfg, core.Errorf(400, "InvalidDeliveryConfigurationException", "The parameter %s %q must look like acs:ram::<account id>:role/<name>.", f.name, f.v)
		}
	}
	return cfg, nil
}

// checkDestinations verifies that the SLS project and OSS bucket exist and that ActionTrail may
// write to them. A destination in the owner's own account gets the service-linked role (created
// here, as the console does) when no role is given; one in another account needs a role there
// trusting actiontrail.aliyuncs.com. It fills the role ARNs the trail will show.
func (s *Service) checkDestinations(owner string, cfg *trailConfig) error {
	sls, oss := s.backends()
	var slsOwner, ossOwner string
	if cfg.SlsProjectArn != "" {
		p, _ := ParseSLSProjectARN(cfg.SlsProjectArn)
		var ok bool
		if sls != nil {
			slsOwner, ok = sls.ProjectOwner(p.Project)
		}
		if !ok || slsOwner != p.Account {
			return core.Errorf(400, "SlsProjectDoesNotExistException", "The SLS project %s does not exist in account %s.", p.Project, p.Account)
		}
	}
	if cfg.OssBucketName != "" {
		var ok bool
		if oss != nil {
			ossOwner, ok = oss.BucketOwner(cfg.OssBucketName)
		}
		if !ok {
			return core.Errorf(404, "BucketDoesNotExistException", "The OSS bucket %s does not exist.", cfg.OssBucketName)
		}
	}
	w := s.w
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if cfg.SlsProjectArn != "" {
		if slsOwner == owner && cfg.SlsWriteRoleArn == "" {
			ensureServiceLinkedRoleLocked(w, owner)
			cfg.SlsWriteRoleArn = serviceLinkedRoleARN(owner)
		}
		if err := checkWriteRoleLocked(w, cfg.SlsWriteRoleArn, slsOwner); err != nil {
			return core.Errorf(403, "InsufficientSlsPolicyException", "ActionTrail cannot write to SLS project %s: %v.", cfg.SlsProjectArn, err)
		}
	}
	if cfg.OssBucketName != "" {
		if ossOwner == owner && cfg.OssWriteRoleArn == "" {
			ensureServiceLinkedRoleLocked(w, owner)
			cfg.OssWriteRoleArn = serviceLinkedRoleARN(owner)
		}
		if err := checkWriteRoleLocked(w, cfg.OssWriteRoleArn, ossOwner); err != nil {
			return core.Errorf(403, "InsufficientBucketPolicyException", "ActionTrail cannot write to OSS bucket %s: %v.", cfg.OssBucketName, err)
		}
	}
	return nil
}

func (s *Service) backends() (core.SLSBackend, core.OSSBackend) {
	s.w.Mu.RLock()
	defer s.w.Mu.RUnlock()
	return s.w.SLS, s.w.OSS
}

func (s *Service) ensureLogstore(t trailSnapshot) error {
	sls, _ := s.backends()
	if sls == nil || t.SlsProjectArn == "" {
		return fmt.Errorf("SLS is not available")
	}
	p, _ := ParseSLSProjectARN(t.SlsProjectArn)
	return sls.EnsureServiceLogstore(p.Project, "actiontrail_"+t.Name, s.opts.LogstoreTTLDays)
}

// trailSnapshot is a copy of a trail's settings, used outside Service.mu.
type trailSnapshot struct {
	Name, Owner, HomeRegion, OrganizationID string
	IsOrganization                          bool
	trailConfig
}

func (t *trail) snapshot() trailSnapshot {
	return trailSnapshot{Name: t.Name, Owner: t.Owner, HomeRegion: t.HomeRegion, OrganizationID: t.OrganizationID, IsOrganization: t.IsOrganization, trailConfig: t.trailConfig}
}

func trailResult(t trailSnapshot) map[string]any {
	return map[string]any{
		"Name": t.Name, "HomeRegion": t.HomeRegion, "EventRW": t.EventRW, "TrailRegion": t.TrailRegion,
		"OssBucketName": t.OssBucketName, "OssKeyPrefix": t.OssKeyPrefix, "OssWriteRoleArn": t.OssWriteRoleArn,
		"SlsProjectArn": t.SlsProjectArn, "SlsWriteRoleArn": t.SlsWriteRoleArn,
		"MaxComputeProjectArn": t.MaxComputeProjectArn, "MaxComputeWriteRoleArn": t.MaxComputeWriteRoleArn,
	}
}

func (s *Service) createTrail(c *core.Call) (any, error) {
	name := c.Get("Name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	isOrg, err := c.Bool("IsOrganizationTrail", false)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(c, trailConfig{}, true)
	if err != nil {
		return nil, err
	}
	owner := c.Caller.AccountID
	var orgID string
	if isOrg {
		w := c.World
		w.Mu.RLock()
		allowed := w.Directory != nil && (owner == w.ManagementAccountID || w.IsDelegatedAdminLocked(owner, ServicePrincipal))
		if w.Directory != nil {
			orgID = w.Directory.ResourceDirectoryID
		}
		w.Mu.RUnlock()
		if !allowed {
			return nil, core.Errorf(400, "NotAllowCreateOrganizationTrail",
				"Only the management account or a delegated administrator of %s of a resource directory can create a multi-account trail.", ServicePrincipal)
		}
	}
	if err := s.checkCapacity(owner, name, c.Region, isOrg); err != nil {
		return nil, err
	}
	if err := s.checkDestinations(owner, &cfg); err != nil {
		return nil, err
	}
	now := c.World.Now().Truncate(time.Second)
	t := &trail{
		Name: name, Owner: owner, HomeRegion: c.Region, IsOrganization: isOrg, OrganizationID: orgID,
		trailConfig: cfg, Status: StatusFresh, CreateTime: now, UpdateTime: now,
	}
	if cfg.SlsProjectArn != "" {
		if err := s.ensureLogstore(t.snapshot()); err != nil {
			return nil, core.Errorf(403, "InsufficientSlsPolicyException", "ActionTrail cannot create Logstore %s in %s: %v.", t.logstore(), cfg.SlsProjectArn, err)
		}
		t.sls.ensured = true
	}
	s.mu.Lock()
	// Checked again: another call may have taken the name or the last slot meanwhile.
	if err := s.checkCapacityLocked(owner, name, c.Region, isOrg); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.trails[trailKey(owner, name)] = t
	if isOrg {
		s.org = append(s.org, t)
	} else {
		s.byOwner[owner] = append(s.byOwner[owner], t)
	}
	snap := t.snapshot()
	s.mu.Unlock()
	s.enrich(c, name, snap)
	return trailResult(snap), nil
}

func (s *Service) checkCapacity(owner, name, region string, isOrg bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkCapacityLocked(owner, name, region, isOrg)
}

func (s *Service) checkCapacityLocked(owner, name, region string, isOrg bool) error {
	if _, exists := s.trails[trailKey(owner, name)]; exists {
		return core.Errorf(400, "TrailAlreadyExistsException", "The trail %s already exists in this account.", name)
	}
	if isOrg {
		if len(s.org) > 0 {
			return core.Errorf(400, "MaximumNumberOfOrganizationTrailExceeded",
				"The resource directory already has the multi-account trail %s; only one is allowed.", s.org[0].Name)
		}
		return nil
	}
	n := 0
	for _, t := range s.byOwner[owner] {
		if t.HomeRegion == region {
			n++
		}
	}
	if n >= maxTrailsPerRegion {
		return core.Errorf(403, "MaximumNumberOfTrailsExceededException",
			"The account already has %d single-account trails in region %s, the maximum.", n, region)
	}
	return nil
}

// enrich names the trail in the call's own record, as real records of trail calls do.
func (s *Service) enrich(c *core.Call, name string, snap trailSnapshot) {
	if c.Record == nil {
		return
	}
	c.Record.ResourceType = "ACS::ActionTrail::Trail"
	c.Record.ResourceName = name
	if snap.Name != "" {
		c.Record.ResponseElements = trailResult(snap)
	}
}

// ownTrail finds a trail the caller owns in the call's region.
func (s *Service) ownTrailLocked(c *core.Call, name string) (*trail, error) {
	t, ok := s.trails[trailKey(c.Caller.AccountID, name)]
	if !ok || t.HomeRegion != c.Region {
		return nil, trailNotFound(name)
	}
	return t, nil
}

func (s *Service) updateTrail(c *core.Call) (any, error) {
	name := c.Get("Name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	t, err := s.ownTrailLocked(c, name)
	var base trailConfig
	if err == nil {
		base = t.trailConfig
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(c, base, false)
	if err != nil {
		return nil, err
	}
	// A destination whose project or bucket changed gets its role resolved afresh.
	if cfg.SlsProjectArn != base.SlsProjectArn && c.Params["SlsWriteRoleArn"] == "" {
		cfg.SlsWriteRoleArn = ""
	}
	if cfg.OssBucketName != base.OssBucketName && c.Params["OssWriteRoleArn"] == "" {
		cfg.OssWriteRoleArn = ""
	}
	if cfg.SlsProjectArn == "" {
		cfg.SlsWriteRoleArn = ""
	}
	if cfg.OssBucketName == "" {
		cfg.OssWriteRoleArn, cfg.OssKeyPrefix = "", ""
	}
	if err := s.checkDestinations(c.Caller.AccountID, &cfg); err != nil {
		return nil, err
	}
	snapCfg := trailSnapshot{Name: name, trailConfig: cfg}
	ensured := false
	if cfg.SlsProjectArn != "" && cfg.SlsProjectArn != base.SlsProjectArn {
		if err := s.ensureLogstore(snapCfg); err != nil {
			return nil, core.Errorf(403, "InsufficientSlsPolicyException", "ActionTrail cannot create Logstore actiontrail_%s in %s: %v.", name, cfg.SlsProjectArn, err)
		}
		ensured = true
	}
	s.mu.Lock()
	t, err = s.ownTrailLocked(c, name)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	old := t.trailConfig
	t.trailConfig = cfg
	t.UpdateTime = c.World.Now().Truncate(time.Second)
	if cfg.SlsProjectArn != old.SlsProjectArn {
		// The backlog follows the trail to its new project; a removed destination takes it along.
		t.sls.ensured, t.sls.lastError = ensured, ""
		if cfg.SlsProjectArn == "" {
			t.sls.queue = nil
			t.sls.gen++
		}
	}
	if cfg.OssBucketName != old.OssBucketName || cfg.OssKeyPrefix != old.OssKeyPrefix {
		t.oss.lastError = ""
		if cfg.OssBucketName == "" {
			t.oss.queue = nil
			t.oss.gen++
		}
	}
	snap := t.snapshot()
	s.mu.Unlock()
	s.enrich(c, name, snap)
	return trailResult(snap), nil
}

func (s *Service) deleteTrail(c *core.Call) (any, error) {
	name := c.Get("Name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ownTrailLocked(c, name)
	if err != nil {
		return nil, err
	}
	t.deleted = true
	delete(s.trails, trailKey(t.Owner, t.Name))
	if t.IsOrganization {
		s.org = without(s.org, t)
	} else {
		s.byOwner[t.Owner] = without(s.byOwner[t.Owner], t)
	}
	s.enrich(c, name, trailSnapshot{})
	return map[string]any{}, nil
}

func (s *Service) startLogging(c *core.Call) (any, error) {
	name := c.Get("Name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	t, err := s.ownTrailLocked(c, name)
	var snap trailSnapshot
	needEnsure := false
	if err == nil {
		snap = t.snapshot()
		needEnsure = t.SlsProjectArn != ""
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// The Logstore is (re)created on start, as the console does; a failure shows in GetTrailStatus.
	var ensureErr error
	if needEnsure {
		ensureErr = s.ensureLogstore(snap)
	}
	now := c.World.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, err = s.ownTrailLocked(c, name); err != nil {
		return nil, err
	}
	if needEnsure && t.SlsProjectArn == snap.SlsProjectArn {
		if ensureErr != nil {
			t.sls.lastError = "InsufficientSlsPolicyException: " + ensureErr.Error()
			t.sls.ensured = false
		} else {
			t.sls.ensured = true
		}
	}
	if !t.logging() {
		t.Status = StatusEnable
		t.StartLoggingTime = now.Truncate(time.Second)
		if t.FirstStart.IsZero() {
			t.FirstStart = t.StartLoggingTime
			t.liveAtFirstStart = map[string]bool{}
		}
	}
	s.enrich(c, name, trailSnapshot{})
	return map[string]any{}, nil
}

func (s *Service) stopLogging(c *core.Call) (any, error) {
	name := c.Get("Name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ownTrailLocked(c, name)
	if err != nil {
		return nil, err
	}
	if t.Status != StatusDisable {
		t.Status = StatusDisable
		t.StopLoggingTime = c.World.Now().Truncate(time.Second)
	}
	s.enrich(c, name, trailSnapshot{})
	return map[string]any{}, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return core.APITimeSeconds(t)
}

func (s *Service) describeTrails(c *core.Call) (any, error) {
	includeOrg, err := c.Bool("IncludeOrganizationTrail", false)
	if err != nil {
		return nil, err
	}
	includeShadow, err := c.Bool("IncludeShadowTrails", false)
	if err != nil {
		return nil, err
	}
	var names map[string]bool
	if nl := c.Get("NameList"); nl != "" {
		names = map[string]bool{}
		for _, n := range strings.Split(nl, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names[n] = true
			}
		}
	}
	caller := c.Caller.AccountID
	w := c.World
	w.Mu.RLock()
	inDirectory := false
	if a, ok := w.Accounts[caller]; ok && a.InDirectory && w.Directory != nil {
		inDirectory = true
	}
	w.Mu.RUnlock()

	s.mu.Lock()
	list := make([]map[string]any, 0)
	for _, t := range s.trails {
		if names != nil && !names[t.Name] {
			continue
		}
		own := t.Owner == caller
		if !own {
			// Another account's trail is visible only as the multi-account trail covering the caller.
			if !t.IsOrganization || !inDirectory || !includeOrg {
				continue
			}
		}
		shadow := t.HomeRegion != c.Region
		if shadow && (!includeShadow || (t.TrailRegion != "All" && t.TrailRegion != c.Region)) {
			continue
		}
		list = append(list, describeTrail(t, c.Region, shadow))
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a["HomeRegion"] != b["HomeRegion"] {
			return a["HomeRegion"].(string) < b["HomeRegion"].(string)
		}
		return a["Name"].(string) < b["Name"].(string)
	})
	return map[string]any{"TrailList": list}, nil
}

func describeTrail(t *trail, region string, shadow bool) map[string]any {
	m := trailResult(t.snapshot())
	shown := t.HomeRegion
	isShadow := 0
	if shadow {
		shown, isShadow = region, 1
	}
	location := ""
	if t.OssBucketName != "" {
		location = "oss-" + t.HomeRegion
	}
	for k, v := range map[string]any{
		"Status": t.Status, "Region": shown, "IsOrganizationTrail": t.IsOrganization, "OrganizationId": t.OrganizationID,
		"TrailArn": t.arn(), "OssBucketLocation": location, "IsShadowTrail": isShadow,
		"CreateTime": fmtTime(t.CreateTime), "UpdateTime": fmtTime(t.UpdateTime),
		"StartLoggingTime": fmtTime(t.StartLoggingTime), "StopLoggingTime": fmtTime(t.StopLoggingTime),
	} {
		m[k] = v
	}
	return m
}

// visibleTrailLocked finds the trail GetTrailStatus asks about: the caller's own trail in the
// region, or with IsOrganizationTrail the multi-account trail covering the caller.
func (s *Service) visibleTrailLocked(c *core.Call, name string, org, inDirectory bool) (*trail, error) {
	if t, err := s.ownTrailLocked(c, name); err == nil {
		return t, nil
	}
	if org && inDirectory {
		for _, t := range s.org {
			if t.Name == name {
				return t, nil
			}
		}
	}
	return nil, trailNotFound(name)
}

func (s *Service) getTrailStatus(c *core.Call) (any, error) {
	name := c.Get("Name")
	if err := validateName(name); err != nil {
		return nil, err
	}
	org, err := c.Bool("IsOrganizationTrail", false)
	if err != nil {
		return nil, err
	}
	c.World.Mu.RLock()
	a, ok := c.World.Accounts[c.Caller.AccountID]
	inDirectory := ok && a.InDirectory
	c.World.Mu.RUnlock()

	s.mu.Lock()
	t, err := s.visibleTrailLocked(c, name, org, inDirectory)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	snap := t.snapshot()
	out := map[string]any{
		"IsLogging":                     t.logging(),
		"StartLoggingTime":              fmtTime(t.StartLoggingTime),
		"StopLoggingTime":               fmtTime(t.StopLoggingTime),
		"LatestDeliveryTime":            fmtTime(t.oss.lastTime),
		"LatestDeliveryError":           t.oss.lastError,
		"LatestDeliveryLogServiceTime":  fmtTime(t.sls.lastTime),
		"LatestDeliveryLogServiceError": t.sls.lastError,
	}
	slsErr, ossErr := t.sls.lastError, t.oss.lastError
	s.mu.Unlock()
	// Health is the last delivery's outcome and, when that was fine, the destination as it is now.
	out["SlsLogStoreStatus"] = snap.SlsProjectArn != "" && slsErr == "" && s.probeSLS(snap) == nil
	out["OssBucketStatus"] = snap.OssBucketName != "" && ossErr == "" && s.probeOSS(snap) == nil
	return out, nil
}

// without returns a copy of list minus t.
func without(list []*trail, t *trail) []*trail {
	out := make([]*trail, 0, len(list))
	for _, x := range list {
		if x != t {
			out = append(out, x)
		}
	}
	return out
}
