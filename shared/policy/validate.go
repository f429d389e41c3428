package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// pattern is a regular expression with the words that explain it.
type pattern struct {
	re   *regexp.Regexp
	what string
}

func newPattern(expr, what string) pattern { return pattern{regexp.MustCompile(expr), what} }

func (p pattern) rule() string { return "pattern " + p.re.String() }

// Name rules of the services, from the API references (see shared/reference).
var (
	accountPattern   = newPattern(`^[0-9]{1,20}$`, "account id (1..20 digits)")
	regionPattern    = newPattern(`^[a-z]{2}-[a-z0-9-]+$`, "region id such as cn-hangzhou")
	trailNamePattern = newPattern(`^[a-z][a-z0-9_-]{5,35}$`,
		"trail name (6..36 chars: a lowercase letter, then lowercase letters, digits, '_' or '-')")
	slsProjectPattern = newPattern(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`,
		"SLS project name (3..63 chars: lowercase letters, digits and '-', starting and ending with a letter or digit)")
	bucketPattern = newPattern(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`,
		"OSS bucket name (3..63 chars: lowercase letters, digits and '-', starting and ending with a letter or digit)")
	ossPrefixPattern = newPattern(`^[A-Za-z][A-Za-z0-9_-]{5,31}$`,
		"OSS key prefix for ActionTrail (6..32 chars starting with a letter: letters, digits, '_' or '-')")
	logPrefixPattern = newPattern(`^[A-Za-z0-9/_.-]{1,64}$`, "access log prefix (1..64 chars: letters, digits, '/', '_', '.', '-')")
	logstorePattern  = newPattern(`^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$`,
		"Logstore name (2..63 chars: lowercase letters, digits, '_' and '-', starting and ending with a letter or digit)")
	roleArnPattern       = newPattern(`^acs:ram::([0-9]{1,20}):role/([A-Za-z0-9._-]{1,64})$`, "role ARN acs:ram::<uid>:role/<name>")
	slsProjectArnPattern = newPattern(`^acs:log:([a-z]{2}-[a-z0-9-]+):([0-9]{1,20}):project/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])$`,
		"SLS project ARN acs:log:<region>:<uid>:project/<name>")
	odpsProjectArnPattern = newPattern(`^acs:odps:([a-z]{2}-[a-z0-9-]+):([0-9]{1,20}):project/([A-Za-z][A-Za-z0-9_]{2,27})$`,
		"MaxCompute project ARN acs:odps:<region>:<uid>:project/<name>")
	odpsProjectPattern = newPattern(`^[A-Za-z][A-Za-z0-9_]{2,27}$`,
		"MaxCompute project name (3..28 chars: a letter, then letters, digits or '_')")
	folderPattern   = newPattern(`^(r|fd)-[A-Za-z0-9]{1,64}$`, "folder id (fd-... or the root r-...)")
	kmsKeyPattern   = newPattern(`^[A-Za-z0-9:/_-]{1,128}$`, "KMS key id or ARN")
	tagKeyPattern   = newPattern(`^[^=\s](?:[^=]{0,126}[^=\s])?$`, "tag key (1..128 chars, no '=', no surrounding spaces)")
	tagValuePattern = newPattern(`^(?:\S(?:.{0,126}\S)?)?$`, "tag value (0..128 chars on one line, no surrounding spaces)")

	slsProjectArnRe  = slsProjectArnPattern.re
	odpsProjectArnRe = odpsProjectArnPattern.re
	placeholderRe    = regexp.MustCompile(`\{[^{}]*\}`)
)

// Log Audit's central project can only live in these regions.
var logAuditRegions = []string{"cn-shanghai", "ap-southeast-1"}

const maxCollectionPolicy = 4096

// check collects problems; it never stops at the first.
type check struct {
	errs []FieldError
}

func (c *check) add(field, rule, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// need checks a required value against p.
func (c *check) need(field, v string, p pattern) {
	if v == "" {
		c.add(field, "required", "missing; expected a value: %s", p.what)
		return
	}
	c.match(field, v, p)
}

// needDerived is need for a value whose default comes from the central
// account or region: when those are invalid, their own error says it all.
func (c *check) needDerived(field, v string, p pattern, centralOK bool) {
	if v == "" && !centralOK {
		return
	}
	c.need(field, v, p)
}

// match checks an optional value against p.
func (c *check) match(field, v string, p pattern) {
	if v != "" && !p.re.MatchString(v) {
		c.add(field, p.rule(), "%q is not a valid %s", clip(v), p.what)
	}
}

func (c *check) oneOf(field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	if v == "" {
		c.add(field, "required", "one of %s is required", strings.Join(allowed, ", "))
		return
	}
	c.add(field, "oneof "+strings.Join(allowed, "|"), "%q is not one of %s (case matters)", clip(v), strings.Join(allowed, ", "))
}

func (c *check) between(field string, v, lo, hi int) {
	if v < lo || v > hi {
		c.add(field, fmt.Sprintf("range %d..%d", lo, hi), "%d is outside %d..%d", v, lo, hi)
	}
}

func (c *check) trailRegion(field, v string) {
	if v == RegionAll {
		return
	}
	if v == "" {
		c.add(field, "required", "trailRegion is required: All, or one region id")
		return
	}
	if !regionPattern.re.MatchString(v) {
		c.add(field, "pattern All|"+regionPattern.re.String(), "%q is neither All nor a region id", clip(v))
	}
}

// ids checks a list of ids against p and for repeats.
func (c *check) ids(field string, list []string, p pattern) {
	first := map[string]int{}
	for i, v := range list {
		f := index(field, i)
		c.need(f, v, p)
		if j, dup := first[v]; dup && v != "" {
			c.add(f, "unique", "%q is already listed at %s", clip(v), index(field, j))
			continue
		}
		first[v] = i
	}
}

func (c *check) trailName(field, name, orgTrail string) {
	c.need(field, name, trailNamePattern)
	if name != "" && name == orgTrail {
		c.add(field, "distinct trail.name", "%q is the multi-account trail's name; ActionTrail names are unique per account", name)
	}
}

// Validate checks a complete policy, such as one from Parse or Default, and
// returns a *ValidationError listing every problem. A disabled section is not
// checked, so a draft can stay in the document switched off.
func (p *Policy) Validate() error {
	return errorsOf(p.problems())
}

func (p *Policy) problems() []FieldError {
	c := &check{}
	if p.APIVersion != APIVersion {
		c.oneOf("apiVersion", p.APIVersion, APIVersion)
	}
	c.oneOf("kind", p.Kind, Kind)

	c.need("central.accountId", p.Central.AccountID, accountPattern)
	c.need("central.region", p.Central.Region, regionPattern)
	centralOK := accountPattern.re.MatchString(p.Central.AccountID) && regionPattern.re.MatchString(p.Central.Region)

	c.need("trail.name", p.Trail.Name, trailNamePattern)
	c.oneOf("trail.eventRW", p.Trail.EventRW, EventWrite, EventRead, EventAll)
	c.trailRegion("trail.trailRegion", p.Trail.TrailRegion)

	d := p.Destinations
	if !d.SLS.Enabled && !d.OSS.Enabled && !d.MaxCompute.Enabled {
		c.add("destinations", "at-least-one-enabled", "the trail needs a destination: enable sls, oss or maxCompute")
	}
	if d.SLS.Enabled {
		p.checkSLS(c, centralOK)
	}
	if d.OSS.Enabled {
		p.checkOSS(c, centralOK)
	}
	if d.MaxCompute.Enabled {
		p.checkMaxCompute(c, centralOK)
	}
	if p.LogAudit.Enabled {
		p.checkLogAudit(c, centralOK)
	}
	if it := p.InnerActionTrail; it.Enabled {
		c.trailName("innerActionTrail.name", it.Name, p.Trail.Name)
		c.needDerived("innerActionTrail.project", it.Project, slsProjectPattern, centralOK)
		c.between("innerActionTrail.ttlDays", it.TTLDays, 1, 3650)
	}
	if p.MemberTrails.Enabled {
		p.checkMemberTrails(c)
	}
	if p.Backfill.Enabled {
		p.checkBackfill(c, centralOK)
	}
	c.oneOf("offboarding.onRemove", p.Offboarding.OnRemove, OnRemoveDetach, OnRemoveReport)
	if !p.Offboarding.KeepData {
		c.add("offboarding.keepData", "const true",
			"auditwarden never deletes audit data; let Logstore TTLs and the bucket lifecycle expire it")
	}

	if !p.AllowNonCompliant {
		// A value already wrong for its own rule needs no CIS complaint on top.
		bad := map[string]bool{}
		for _, fe := range c.errs {
			bad[fe.Field] = true
		}
		for _, f := range p.cisFindings() {
			if !bad[f.field] {
				c.add(f.field, f.rule, "%s; set allowNonCompliant: true to accept this", f.message)
			}
		}
	}
	return c.errs
}

func (p *Policy) checkSLS(c *check, centralOK bool) {
	s := p.Destinations.SLS
	const base = "destinations.sls."
	c.needDerived(base+"project", s.Project, slsProjectPattern, centralOK)
	c.needDerived(base+"region", s.Region, regionPattern, centralOK)
	c.between(base+"ttlDays", s.TTLDays, 1, 3650)
	switch {
	case s.ProjectArn != "" && s.RoleArn == "":
		c.add(base+"roleArn", "required-with projectArn",
			"delivery to another account's project needs the role ActionTrail assumes there")
	case s.ProjectArn == "" && s.RoleArn != "":
		c.add(base+"projectArn", "required-with roleArn",
			"roleArn is for delivery to another account: give that account's project ARN too")
	}
	c.match(base+"projectArn", s.ProjectArn, slsProjectArnPattern)
	c.match(base+"roleArn", s.RoleArn, roleArnPattern)
	m := slsProjectArnRe.FindStringSubmatch(s.ProjectArn)
	if m == nil {
		return
	}
	if s.Project != "" && s.Project != m[3] {
		c.add(base+"project", "match projectArn", "%q differs from the project %q in projectArn", clip(s.Project), m[3])
	}
	if s.Region != "" && s.Region != m[1] {
		c.add(base+"region", "match projectArn", "%q differs from the region %q in projectArn", clip(s.Region), m[1])
	}
	if r := roleArnPattern.re.FindStringSubmatch(s.RoleArn); r != nil && r[1] != m[2] {
		c.add(base+"roleArn", "same-account projectArn",
			"the role must live in the project's account %s, not %s", m[2], r[1])
	}
}

func (p *Policy) checkOSS(c *check, centralOK bool) {
	o := p.Destinations.OSS
	const base = "destinations.oss."
	c.needDerived(base+"bucket", o.Bucket, bucketPattern, centralOK)
	c.needDerived(base+"region", o.Region, regionPattern, centralOK)
	c.need(base+"prefix", o.Prefix, ossPrefixPattern)
	c.oneOf(base+"encryption", o.Encryption, EncryptionNone, EncryptionAES256, EncryptionKMS)
	switch {
	case o.Encryption == EncryptionKMS && o.KMSKeyID == "":
		c.add(base+"kmsKeyId", "required-with encryption=KMS", "KMS encryption needs the key id")
	case o.Encryption != EncryptionKMS && o.KMSKeyID != "":
		c.add(base+"kmsKeyId", "only-with encryption=KMS", "a key id is used only with encryption: KMS")
	}
	c.match(base+"kmsKeyId", o.KMSKeyID, kmsKeyPattern)
	c.between(base+"retentionDays", o.RetentionDays, 0, 25550)

	lc := o.Lifecycle
	const lb = base + "lifecycle."
	c.between(lb+"transitionToIADays", lc.TransitionToIADays, 0, 36500)
	c.between(lb+"transitionToArchiveDays", lc.TransitionToArchiveDays, 0, 36500)
	c.between(lb+"expireDays", lc.ExpireDays, 0, 36500)
	if lc.TransitionToIADays > 0 && lc.TransitionToArchiveDays > 0 && lc.TransitionToArchiveDays <= lc.TransitionToIADays {
		c.add(lb+"transitionToArchiveDays", "gt lifecycle.transitionToIADays",
			"Archive (%d days) must come after IA (%d days)", lc.TransitionToArchiveDays, lc.TransitionToIADays)
	}
	if last := max(lc.TransitionToIADays, lc.TransitionToArchiveDays); lc.ExpireDays > 0 && last > 0 && lc.ExpireDays <= last {
		c.add(lb+"expireDays", "gt lifecycle transitions",
			"objects expire after %d days, before their last transition at %d days", lc.ExpireDays, last)
	}
	if lc.ExpireDays > 0 && o.RetentionDays > 0 && lc.ExpireDays <= o.RetentionDays {
		c.add(lb+"expireDays", "gt retentionDays",
			"objects cannot expire after %d days while WORM retention protects them for %d", lc.ExpireDays, o.RetentionDays)
	}

	if al := o.AccessLogging; al.Enabled {
		c.needDerived(base+"accessLogging.targetBucket", al.TargetBucket, bucketPattern, centralOK)
		c.need(base+"accessLogging.targetPrefix", al.TargetPrefix, logPrefixPattern)
	}
	c.match(base+"roleArn", o.RoleArn, roleArnPattern)
	if o.RoleArn != "" && o.Create {
		c.add(base+"roleArn", "only-with create=false",
			"auditwarden creates buckets only in the central account: a bucket another account owns needs create: false")
	}
}

func (p *Policy) checkMaxCompute(c *check, centralOK bool) {
	m := p.Destinations.MaxCompute
	const base = "destinations.maxCompute."
	c.needDerived(base+"region", m.Region, regionPattern, centralOK)
	c.match(base+"roleArn", m.RoleArn, roleArnPattern)
	if m.Project == "" {
		c.add(base+"project", "required", "a MaxCompute project name or ARN is required")
		return
	}
	arn := odpsProjectArnRe.FindStringSubmatch(m.Project)
	if arn == nil {
		if strings.HasPrefix(m.Project, "acs:") || !odpsProjectPattern.re.MatchString(m.Project) {
			c.add(base+"project", "pattern name|acs:odps:<region>:<uid>:project/<name>",
				"%q is neither a %s nor a %s", clip(m.Project), odpsProjectPattern.what, odpsProjectArnPattern.what)
		}
		return
	}
	if m.Region != "" && m.Region != arn[1] {
		c.add(base+"region", "match project", "%q differs from the region %q in the project ARN", clip(m.Region), arn[1])
	}
	if arn[2] != p.Central.AccountID && m.RoleArn == "" {
		c.add(base+"roleArn", "required-with cross-account project",
			"the project belongs to account %s: ActionTrail needs a role there to write", arn[2])
	}
}

func (p *Policy) checkLogAudit(c *check, centralOK bool) {
	la := p.LogAudit
	if la.Region != "" || centralOK {
		c.oneOf("logAudit.region", la.Region, logAuditRegions...)
	}
	c.oneOf("logAudit.mode", la.Mode, ModeResourceDirectory, ModeCustomAuthentication)
	rd := la.ResourceDirectory
	switch la.Mode {
	case ModeResourceDirectory:
		c.oneOf("logAudit.resourceDirectory.members", rd.Members, MembersAll, MembersCustom)
		for name, s := range map[string]Selector{"include": rd.Include, "exclude": rd.Exclude} {
			field := "logAudit.resourceDirectory." + name
			if rd.Members == MembersAll && !s.empty() {
				c.add(field, "only-with members=custom",
					"members: all collects every member; to choose members use members: custom")
			}
			c.selector(field, s)
		}
		if len(la.CustomAuthentication.Accounts) > 0 {
			c.add("logAudit.customAuthentication", "only-with mode=customAuthentication",
				"Log Audit keeps one mode: resource directory mode overwrites a custom authentication list")
		}
	case ModeCustomAuthentication:
		if rd.Members != "" || !rd.Include.empty() || !rd.Exclude.empty() {
			c.add("logAudit.resourceDirectory", "only-with mode=resourceDirectory",
				"Log Audit keeps one mode: leaving resource directory mode needs its configuration cleared")
		}
		c.ids("logAudit.customAuthentication.accounts", la.CustomAuthentication.Accounts, accountPattern)
	}

	names := make([]string, 0, len(la.Products))
	for n := range la.Products {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		pr := la.Products[name]
		field := "logAudit.products." + name
		info, ok := productByName[name]
		if !ok {
			c.add(field, "known-product", "unknown Log Audit product %q; known: %s",
				clip(name), strings.Join(productNames(), ", "))
			continue
		}
		c.between(field+".ttlDays", pr.TTLDays, 1, 3650)
		if pr.CollectionPolicy != "" && info.CollectionPolicyKey == "" {
			c.add(field+".collectionPolicy", "only-with collection-policy products", "%s takes no collection policy", name)
		}
		if len(pr.CollectionPolicy) > maxCollectionPolicy {
			c.add(field+".collectionPolicy", fmt.Sprintf("len 0..%d", maxCollectionPolicy),
				"the collection policy is %d bytes long", len(pr.CollectionPolicy))
		}
		if len(pr.Logs) > 0 && info.Logs == nil {
			c.add(field+".logs", "only-with product sas", "only sas has per-log switches")
			continue
		}
		seen := map[string]bool{}
		for i, l := range pr.Logs {
			f := index(field+".logs", i)
			c.oneOf(f, l, info.Logs...)
			if seen[l] {
				c.add(f, "unique", "%q is listed twice", clip(l))
			}
			seen[l] = true
		}
	}
}

func (c *check) selector(field string, s Selector) {
	c.ids(field+".folders", s.Folders, folderPattern)
	c.ids(field+".accounts", s.Accounts, accountPattern)
	for i, t := range s.Tags {
		f := index(field+".tags", i)
		c.need(f, t.Key, tagKeyPattern)
		if !t.AnyValue {
			c.match(f, t.Value, tagValuePattern)
		}
	}
}

func (p *Policy) checkMemberTrails(c *check) {
	mt := p.MemberTrails
	const base = "memberTrails."
	switch bad := unknownPlaceholders(mt.NameTemplate); {
	case mt.NameTemplate == "":
		c.add(base+"nameTemplate", "required", "a trail name template such as auditwarden-%s is required", AccountPlaceholder)
	case bad != "":
		c.add(base+"nameTemplate", "placeholders "+AccountPlaceholder, "unknown placeholder %s; only %s is expanded", clip(bad), AccountPlaceholder)
	default:
		// The longest account id gives the longest name.
		longest := strings.ReplaceAll(mt.NameTemplate, AccountPlaceholder, "12345678901234567890")
		if !trailNamePattern.re.MatchString(longest) {
			c.add(base+"nameTemplate", trailNamePattern.rule(),
				"expands to %q for a 20-digit account id, which is not a valid %s", clip(longest), trailNamePattern.what)
		} else if p.MemberTrailName(p.Central.AccountID) == p.Trail.Name {
			c.add(base+"nameTemplate", "distinct trail.name",
				"expands to the multi-account trail's name %q in the central account", p.Trail.Name)
		}
	}
	c.oneOf(base+"eventRW", mt.EventRW, EventWrite, EventRead, EventAll)
	c.trailRegion(base+"trailRegion", mt.TrailRegion)
	c.oneOf(base+"destination", mt.Destination, DestinationSLS, DestinationOSS)
	if mt.Destination == DestinationSLS && !p.Destinations.SLS.Enabled {
		c.add(base+"destination", "requires destinations.sls.enabled", "member trails deliver to the SLS destination, which is disabled")
	}
	if mt.Destination == DestinationOSS && !p.Destinations.OSS.Enabled {
		c.add(base+"destination", "requires destinations.oss.enabled", "member trails deliver to the OSS destination, which is disabled")
	}
}

func unknownPlaceholders(template string) string {
	for _, ph := range placeholderRe.FindAllString(template, -1) {
		if ph != AccountPlaceholder {
			return ph
		}
	}
	return ""
}

func (p *Policy) checkBackfill(c *check, centralOK bool) {
	b := p.Backfill
	const base = "backfill."
	c.oneOf(base+"method", b.Method, MethodAuto, MethodDeliveryJob, MethodLookup)
	if b.Method == MethodDeliveryJob && !p.Destinations.SLS.Enabled {
		c.add(base+"method", "requires destinations.sls.enabled",
			"delivery history jobs replay events through a trail that delivers to SLS; enable destinations.sls or use lookup")
	}
	c.between(base+"days", b.Days, 1, 90)
	c.needDerived(base+"project", b.Project, slsProjectPattern, centralOK)
	c.needDerived(base+"region", b.Region, regionPattern, centralOK)
	c.need(base+"logstore", b.Logstore, logstorePattern)
	for _, reserved := range []string{"actiontrail_", "innertrail_"} {
		if strings.HasPrefix(b.Logstore, reserved) {
			c.add(base+"logstore", "not-prefix actiontrail_|innertrail_",
				"%s* Logstores are written only by the service and refuse writes from API callers", reserved)
		}
	}
	c.between(base+"ttlDays", b.TTLDays, 1, 3650)
	c.trailName(base+"trailName", b.TrailName, p.Trail.Name)
}
