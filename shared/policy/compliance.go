package policy

import (
	"fmt"
	"sort"
	"strings"
)

// CISCheck is the verdict of the policy on one item of the CIS Alibaba Cloud
// Foundations Benchmark.
type CISCheck struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Applicable is false when the policy manages nothing the item is about
	// (for example the bucket items without an OSS destination); such an item is
	// reported as satisfied.
	Applicable bool   `json:"applicable"`
	Satisfied  bool   `json:"satisfied"`
	Reason     string `json:"reason"`
}

// cisItems are the logging items auditwarden is responsible for, in report order.
var cisItems = []struct{ id, title string }{
	{"2.1", "Ensure ActionTrail is configured to export copies of all log entries"},
	{"2.2", "Ensure the OSS bucket used to store ActionTrail logs is not publicly accessible"},
	{"2.3", "Ensure audit logs for multiple cloud resources are integrated with Log Service"},
	{"2.23", "Ensure Logstore data retention period is set to 365 days or greater"},
	{"5.1", "Ensure that OSS buckets are not anonymously or publicly accessible"},
	{"5.3", "Ensure that logging is enabled for OSS buckets"},
	{"5.4", "Ensure that secure transfer (HTTPS only) is required for OSS buckets"},
	{"5.8", "Ensure that server-side encryption is enabled for OSS buckets"},
}

// finding is one way the policy falls short of a CIS item, tied to the field
// that causes it.
type finding struct {
	ids     []string
	field   string
	rule    string
	message string
}

// Compliance reports, for CIS 2.1, 2.2, 2.3, 2.23, 5.1, 5.3, 5.4 and 5.8, whether
// the policy leaves the organization compliant. It ignores AllowNonCompliant:
// that setting only decides whether a shortfall is an error.
func (p *Policy) Compliance() []CISCheck {
	byID := map[string][]string{}
	for _, f := range p.cisFindings() {
		for _, id := range f.ids {
			byID[id] = append(byID[id], f.message)
		}
	}
	oss := p.Destinations.OSS
	out := make([]CISCheck, 0, len(cisItems))
	for _, it := range cisItems {
		c := CISCheck{ID: it.id, Title: it.title, Applicable: true}
		if msgs := byID[it.id]; len(msgs) > 0 {
			c.Reason = strings.Join(msgs, "; ")
		} else {
			c.Satisfied = true
			c.Reason = p.cisSatisfied(it.id)
		}
		if !oss.Enabled && (it.id == "2.2" || it.id == "5.1" || it.id == "5.3" || it.id == "5.4" || it.id == "5.8") {
			c.Applicable = false
		}
		out = append(out, c)
	}
	return out
}

func (p *Policy) cisSatisfied(id string) string {
	oss := p.Destinations.OSS
	if !oss.Enabled {
		switch id {
		case "2.2", "5.1", "5.3", "5.4", "5.8":
			return "not applicable: the policy manages no OSS bucket"
		}
	}
	switch id {
	case "2.1":
		return fmt.Sprintf("multi-account trail %q records all events in all regions and is kept logging", p.Trail.Name)
	case "2.2", "5.1":
		return fmt.Sprintf("bucket %q is private with public access blocked", oss.Bucket)
	case "2.3":
		return fmt.Sprintf("Log Audit collects ActionTrail logs from members in %s mode", p.LogAudit.Mode)
	case "2.23":
		return "every Logstore the policy manages keeps data for 365 days or more"
	case "5.3":
		return fmt.Sprintf("bucket %q logs access to %s/%s", oss.Bucket, oss.AccessLogging.TargetBucket, oss.AccessLogging.TargetPrefix)
	case "5.4":
		return fmt.Sprintf("bucket %q denies requests that are not HTTPS", oss.Bucket)
	case "5.8":
		return fmt.Sprintf("bucket %q encrypts objects with %s", oss.Bucket, oss.Encryption)
	}
	return ""
}

// cisFindings lists every shortfall against the CIS items, in a stable order.
func (p *Policy) cisFindings() []finding {
	var fs []finding
	add := func(field, rule, format string, args ...any) {
		id, _, _ := strings.Cut(strings.TrimPrefix(rule, "cis-"), " ")
		fs = append(fs, finding{ids: strings.Split(id, ","), field: field, rule: rule, message: fmt.Sprintf(format, args...)})
	}
	const retention = "cis-2.23 ttl >= 365"

	t := p.Trail
	if t.EventRW != EventAll {
		add("trail.eventRW", "cis-2.1 eventRW=All", "the trail records %q events, not All", clip(t.EventRW))
	}
	if t.TrailRegion != RegionAll {
		add("trail.trailRegion", "cis-2.1 trailRegion=All", "the trail covers %q, not All regions", clip(t.TrailRegion))
	}
	if !t.Organization {
		add("trail.organization", "cis-2.1 organization=true", "the trail is not a multi-account trail, so members are not covered")
	}

	if sls := p.Destinations.SLS; sls.Enabled && sls.TTLDays < 365 {
		add("destinations.sls.ttlDays", retention, "the trail Logstore keeps data %d days", sls.TTLDays)
	}

	if oss := p.Destinations.OSS; oss.Enabled {
		const base = "destinations.oss."
		if !oss.BlockPublicAccess {
			add(base+"blockPublicAccess", "cis-2.2,5.1 blockPublicAccess=true", "public access to the archive bucket is not blocked")
		}
		if !oss.AccessLogging.Enabled {
			add(base+"accessLogging.enabled", "cis-5.3 accessLogging", "access logging of the archive bucket is off")
		}
		if !oss.SecureTransport {
			add(base+"secureTransport", "cis-5.4 secureTransport", "the archive bucket accepts plain HTTP")
		}
		if oss.Encryption == EncryptionNone {
			add(base+"encryption", "cis-5.8 encryption", "the archive bucket is not encrypted")
		}
	}

	la := p.LogAudit
	if !la.Enabled {
		add("logAudit.enabled", "cis-2.3 enabled", "Log Audit multi-account collection is off")
	} else {
		if !la.Products["actiontrail"].Enabled {
			add("logAudit.products.actiontrail.enabled", "cis-2.3 actiontrail", "Log Audit does not collect ActionTrail logs")
		}
		rd := la.ResourceDirectory
		if la.Mode == ModeResourceDirectory && rd.Members == MembersCustom && rd.Include.empty() {
			add("logAudit.resourceDirectory.include", "cis-2.3 members selected", "custom members with an empty include select no member")
		}
		names := make([]string, 0, len(la.Products))
		for n := range la.Products {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			pr, info := la.Products[name], productByName[name]
			if !pr.Enabled || info.Name == "" {
				continue
			}
			field := "logAudit.products." + name
			if info.Central && pr.TTLDays < 365 {
				add(field+".ttlDays", retention, "Log Audit keeps %s logs %d days", name, pr.TTLDays)
			}
			if info.SyncTo != "" && !la.Products[info.SyncTo].Enabled {
				add("logAudit.products."+info.SyncTo+".enabled", "cis-2.23 central copy",
					"%s logs stay only in a %d-day regional Logstore because %s is off", name, pr.TTLDays, info.SyncTo)
			}
		}
	}

	if it := p.InnerActionTrail; it.Enabled && it.TTLDays < 365 {
		add("innerActionTrail.ttlDays", retention, "the Inner-ActionTrail Logstore keeps data %d days", it.TTLDays)
	}
	if b := p.Backfill; b.Enabled && b.TTLDays < 365 {
		add("backfill.ttlDays", retention, "the backfill Logstore keeps data %d days", b.TTLDays)
	}
	return fs
}
