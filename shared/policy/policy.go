package policy

import (
	_ "embed"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document identity. A document with any other apiVersion is refused outright:
// its fields may mean something this build does not know.
const (
	APIVersion = "auditwarden/v1"
	Kind       = "AuditPolicy"
)

// Values of the enumerated fields.
const (
	EventWrite = "Write"
	EventRead  = "Read"
	EventAll   = "All"

	RegionAll = "All"

	EncryptionNone   = "none"
	EncryptionAES256 = "AES256"
	EncryptionKMS    = "KMS"

	ModeResourceDirectory    = "resourceDirectory"
	ModeCustomAuthentication = "customAuthentication"

	MembersAll    = "all"
	MembersCustom = "custom"

	DestinationSLS = "sls"
	DestinationOSS = "oss"

	MethodAuto        = "auto"
	MethodDeliveryJob = "delivery-job"
	MethodLookup      = "lookup"

	OnRemoveDetach = "detach"
	OnRemoveReport = "report"
)

// AccountPlaceholder is the only placeholder memberTrails.nameTemplate knows.
const AccountPlaceholder = "{accountId}"

// Example is example.yaml: a complete, commented policy that parses and
// satisfies every CIS item Compliance checks.
//
//go:embed example.yaml
var Example []byte

// Policy is the desired state of an organization's audit logging.
type Policy struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	// AllowNonCompliant turns the CIS rules from errors into findings reported by
	// Compliance only.
	AllowNonCompliant bool             `yaml:"allowNonCompliant" json:"allowNonCompliant"`
	Central           Central          `yaml:"central" json:"central"`
	Trail             Trail            `yaml:"trail" json:"trail"`
	Destinations      Destinations     `yaml:"destinations" json:"destinations"`
	LogAudit          LogAudit         `yaml:"logAudit" json:"logAudit"`
	InnerActionTrail  InnerActionTrail `yaml:"innerActionTrail" json:"innerActionTrail"`
	MemberTrails      MemberTrails     `yaml:"memberTrails" json:"memberTrails"`
	Backfill          Backfill         `yaml:"backfill" json:"backfill"`
	Offboarding       Offboarding      `yaml:"offboarding" json:"offboarding"`
}

// Central names the account auditwarden runs in (the management account or a
// delegated administrator) and its home region.
type Central struct {
	AccountID string `yaml:"accountId" json:"accountId"`
	Region    string `yaml:"region" json:"region"`
}

// Trail is the ActionTrail trail created in the central account.
type Trail struct {
	Name        string `yaml:"name" json:"name"`
	EventRW     string `yaml:"eventRW" json:"eventRW"`
	TrailRegion string `yaml:"trailRegion" json:"trailRegion"`
	// Organization makes it a multi-account trail covering every member.
	Organization bool `yaml:"organization" json:"organization"`
}

// Destinations are where the trail delivers; at least one must be enabled.
type Destinations struct {
	SLS        SLSDestination        `yaml:"sls" json:"sls"`
	OSS        OSSDestination        `yaml:"oss" json:"oss"`
	MaxCompute MaxComputeDestination `yaml:"maxCompute" json:"maxCompute"`
}

// SLSDestination is the trail's Logstore (actiontrail_<trail name>) project.
// ProjectArn and RoleArn together deliver to a project of another account.
type SLSDestination struct {
	Enabled    bool   `yaml:"enabled" json:"enabled"`
	Project    string `yaml:"project" json:"project"`
	Region     string `yaml:"region" json:"region"`
	TTLDays    int    `yaml:"ttlDays" json:"ttlDays"`
	ProjectArn string `yaml:"projectArn" json:"projectArn"`
	RoleArn    string `yaml:"roleArn" json:"roleArn"`
}

// OSSDestination is the archive bucket.
type OSSDestination struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Bucket  string `yaml:"bucket" json:"bucket"`
	// Create lets auditwarden create the bucket when it is missing; false means
	// it must already exist.
	Create     bool   `yaml:"create" json:"create"`
	Region     string `yaml:"region" json:"region"`
	Prefix     string `yaml:"prefix" json:"prefix"`
	Encryption string `yaml:"encryption" json:"encryption"`
	KMSKeyID   string `yaml:"kmsKeyId" json:"kmsKeyId"`
	// RetentionDays is the WORM retention; 0 disables it. A locked WORM
	// policy cannot be shortened or removed, hence no default.
	RetentionDays     int           `yaml:"retentionDays" json:"retentionDays"`
	Lifecycle         Lifecycle     `yaml:"lifecycle" json:"lifecycle"`
	AccessLogging     AccessLogging `yaml:"accessLogging" json:"accessLogging"`
	SecureTransport   bool          `yaml:"secureTransport" json:"secureTransport"`
	BlockPublicAccess bool          `yaml:"blockPublicAccess" json:"blockPublicAccess"`
	// RoleArn is the role ActionTrail assumes to write into a bucket of another account.
	RoleArn string `yaml:"roleArn" json:"roleArn"`
}

// Lifecycle rules of the archive bucket, in days after object creation; 0 disables a step.
type Lifecycle struct {
	TransitionToIADays      int `yaml:"transitionToIADays" json:"transitionToIADays"`
	TransitionToArchiveDays int `yaml:"transitionToArchiveDays" json:"transitionToArchiveDays"`
	ExpireDays              int `yaml:"expireDays" json:"expireDays"`
}

// AccessLogging is OSS bucket logging of the archive bucket (CIS 5.3).
type AccessLogging struct {
	Enabled      bool   `yaml:"enabled" json:"enabled"`
	TargetBucket string `yaml:"targetBucket" json:"targetBucket"`
	TargetPrefix string `yaml:"targetPrefix" json:"targetPrefix"`
}

// MaxComputeDestination delivers the trail to a MaxCompute project, given by
// name or by ARN (acs:odps:<region>:<uid>:project/<name>).
type MaxComputeDestination struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Region  string `yaml:"region" json:"region"`
	Project string `yaml:"project" json:"project"`
	RoleArn string `yaml:"roleArn" json:"roleArn"`
}

// LogAudit is the Log Audit Service multi-account collection.
type LogAudit struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Region is Log Audit's central region: cn-shanghai or ap-southeast-1.
	Region               string               `yaml:"region" json:"region"`
	Mode                 string               `yaml:"mode" json:"mode"`
	ResourceDirectory    DirectoryCollection  `yaml:"resourceDirectory" json:"resourceDirectory"`
	CustomAuthentication CustomAuthentication `yaml:"customAuthentication" json:"customAuthentication"`
	// Products maps a product name (see LogAuditProducts) to its switch.
	Products map[string]Product `yaml:"products" json:"products"`
}

// DirectoryCollection is resource directory mode: every member, or the members
// chosen by Include minus Exclude.
type DirectoryCollection struct {
	Members string   `yaml:"members" json:"members"`
	Include Selector `yaml:"include" json:"include"`
	Exclude Selector `yaml:"exclude" json:"exclude"`
}

// Selector chooses members by folder (with all its descendants), account id or tag.
type Selector struct {
	Folders  []string      `yaml:"folders,omitempty" json:"folders,omitempty"`
	Accounts []string      `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	Tags     []TagSelector `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// CustomAuthentication is custom authentication mode. Accounts are the members
// authorized by hand; members authorized with an AccessKey pair arrive through
// the API at run time, because secrets never go in the policy.
type CustomAuthentication struct {
	Accounts []string `yaml:"accounts,omitempty" json:"accounts,omitempty"`
}

// Product is one Log Audit product switch. A product listed in the policy is
// enabled unless it says enabled: false; a product not listed is disabled,
// except actiontrail, which is on by default. Logs applies to sas only: the
// Security Center logs to switch on, all of them when empty.
type Product struct {
	Enabled          bool     `yaml:"enabled" json:"enabled"`
	TTLDays          int      `yaml:"ttlDays" json:"ttlDays"`
	CollectionPolicy string   `yaml:"collectionPolicy" json:"collectionPolicy"`
	Logs             []string `yaml:"logs,omitempty" json:"logs,omitempty"`
}

// UnmarshalYAML makes a listed product enabled unless it says otherwise.
func (p *Product) UnmarshalYAML(n *yaml.Node) error {
	type plain Product
	v := plain{Enabled: true}
	if err := n.Decode(&v); err != nil {
		return err
	}
	*p = Product(v)
	return nil
}

// InnerActionTrail ships the platform operation logs of cloud services into the
// dedicated Logstore innertrail_<name> of Project.
type InnerActionTrail struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Name    string `yaml:"name" json:"name"`
	Project string `yaml:"project" json:"project"`
	// TTLDays is re-applied by auditwarden: enabling the feature resets the
	// Logstore to 180 days.
	TTLDays int `yaml:"ttlDays" json:"ttlDays"`
}

// MemberTrails are optional single-account trails created in every member, on
// top of the multi-account trail.
type MemberTrails struct {
	Enabled      bool   `yaml:"enabled" json:"enabled"`
	NameTemplate string `yaml:"nameTemplate" json:"nameTemplate"`
	EventRW      string `yaml:"eventRW" json:"eventRW"`
	TrailRegion  string `yaml:"trailRegion" json:"trailRegion"`
	Destination  string `yaml:"destination" json:"destination"`
}

// Backfill recovers the events a member made before it was covered.
type Backfill struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Method  string `yaml:"method" json:"method"`
	Days    int    `yaml:"days" json:"days"`
	Project string `yaml:"project" json:"project"`
	Region  string `yaml:"region" json:"region"`
	// Logstore receives looked-up events; actiontrail_* and innertrail_*
	// Logstores refuse writes.
	Logstore string `yaml:"logstore" json:"logstore"`
	TTLDays  int    `yaml:"ttlDays" json:"ttlDays"`
	// TrailName is the single-account trail a delivery job needs in the member.
	TrailName string `yaml:"trailName" json:"trailName"`
}

// Offboarding is what happens when a member leaves the directory.
type Offboarding struct {
	OnRemove string `yaml:"onRemove" json:"onRemove"`
	// KeepData must stay true: auditwarden never deletes audit data; TTLs
	// and the bucket lifecycle expire it.
	KeepData bool `yaml:"keepData" json:"keepData"`
}

// Default returns the policy a document naming only the central account and
// region parses to.
func Default(accountID, region string) *Policy {
	p := preset()
	p.APIVersion = APIVersion
	p.Kind = Kind
	p.Central = Central{AccountID: accountID, Region: region}
	p.applyDefaults()
	return p
}

// preset holds the defaults that decoding may override: the booleans that
// default to true and the products map, which decoding merges into.
func preset() *Policy {
	return &Policy{
		Trail: Trail{Organization: true},
		Destinations: Destinations{
			SLS: SLSDestination{Enabled: true},
			OSS: OSSDestination{
				Create:            true,
				SecureTransport:   true,
				BlockPublicAccess: true,
				AccessLogging:     AccessLogging{Enabled: true},
			},
		},
		LogAudit: LogAudit{
			Enabled:  true,
			Products: map[string]Product{"actiontrail": {Enabled: true}},
		},
		Backfill:    Backfill{Enabled: true},
		Offboarding: Offboarding{KeepData: true},
	}
}

// applyDefaults fills what is still empty after decoding. It is idempotent, and
// it copies central values only when they are valid so that one bad central
// field yields one error, not one per derived field.
func (p *Policy) applyDefaults() {
	acct, region := "", ""
	if accountPattern.re.MatchString(p.Central.AccountID) {
		acct = p.Central.AccountID
	}
	if regionPattern.re.MatchString(p.Central.Region) {
		region = p.Central.Region
	}
	orDefault := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	orDays := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}

	t := &p.Trail
	orDefault(&t.Name, "auditwarden")
	orDefault(&t.EventRW, EventAll)
	orDefault(&t.TrailRegion, RegionAll)

	sls := &p.Destinations.SLS
	if m := slsProjectArnRe.FindStringSubmatch(sls.ProjectArn); m != nil {
		orDefault(&sls.Region, m[1])
		orDefault(&sls.Project, m[3])
	}
	orDefault(&sls.Region, region)
	if sls.Enabled && acct != "" && sls.Region != "" {
		orDefault(&sls.Project, "auditwarden-"+acct+"-"+sls.Region)
	}
	orDays(&sls.TTLDays, 365)

	oss := &p.Destinations.OSS
	orDefault(&oss.Region, region)
	if oss.Enabled && acct != "" && oss.Region != "" {
		orDefault(&oss.Bucket, "auditwarden-"+acct+"-"+oss.Region)
	}
	orDefault(&oss.Prefix, "actiontrail")
	orDefault(&oss.Encryption, EncryptionAES256)
	orDefault(&oss.AccessLogging.TargetBucket, oss.Bucket)
	orDefault(&oss.AccessLogging.TargetPrefix, "access-log/")

	mc := &p.Destinations.MaxCompute
	if m := odpsProjectArnRe.FindStringSubmatch(mc.Project); m != nil {
		orDefault(&mc.Region, m[1])
	}
	orDefault(&mc.Region, region)

	la := &p.LogAudit
	if region != "" {
		// Log Audit's central region can only be one of two; pick the one
		// on the same side of the mainland border as the central account.
		if strings.HasPrefix(region, "cn-") {
			orDefault(&la.Region, "cn-shanghai")
		} else {
			orDefault(&la.Region, "ap-southeast-1")
		}
	}
	orDefault(&la.Mode, ModeResourceDirectory)
	if la.Mode == ModeResourceDirectory {
		orDefault(&la.ResourceDirectory.Members, MembersAll)
	}
	for _, s := range []*Selector{&la.ResourceDirectory.Include, &la.ResourceDirectory.Exclude} {
		s.Folders = nilIfEmpty(s.Folders)
		s.Accounts = nilIfEmpty(s.Accounts)
		s.Tags = nilIfEmpty(s.Tags)
	}
	la.CustomAuthentication.Accounts = nilIfEmpty(la.CustomAuthentication.Accounts)
	if la.Products == nil {
		la.Products = map[string]Product{}
	}
	for name, pr := range la.Products {
		// A regional store keeps days, not a year: keep its central copy
		// on unless the policy says otherwise.
		if info, ok := productByName[name]; ok && pr.Enabled && info.SyncTo != "" {
			if _, listed := la.Products[info.SyncTo]; !listed {
				la.Products[info.SyncTo] = Product{Enabled: true}
			}
		}
	}
	for name, pr := range la.Products {
		if info, ok := productByName[name]; ok {
			orDays(&pr.TTLDays, info.DefaultTTLDays)
		}
		pr.Logs = nilIfEmpty(pr.Logs)
		la.Products[name] = pr
	}

	// Backfilled events and inner-trail logs stay in the central account, so
	// they default to the SLS destination only when that lives there too.
	localProject, localRegion := "", region
	if sls.Enabled && p.slsInCentralAccount() {
		localProject, localRegion = sls.Project, sls.Region
	}

	it := &p.InnerActionTrail
	orDefault(&it.Name, "auditwarden-inner")
	orDefault(&it.Project, localProject)
	orDays(&it.TTLDays, 365)

	mt := &p.MemberTrails
	orDefault(&mt.NameTemplate, "auditwarden-"+AccountPlaceholder)
	orDefault(&mt.EventRW, EventAll)
	orDefault(&mt.TrailRegion, RegionAll)
	orDefault(&mt.Destination, DestinationSLS)

	b := &p.Backfill
	orDefault(&b.Method, MethodAuto)
	orDays(&b.Days, 90)
	if b.Project == "" {
		b.Project = localProject
		orDefault(&b.Region, localRegion)
	}
	orDefault(&b.Region, region)
	orDefault(&b.Logstore, "auditwarden_backfill")
	orDays(&b.TTLDays, 365)
	orDefault(&b.TrailName, "auditwarden-backfill")

	orDefault(&p.Offboarding.OnRemove, OnRemoveDetach)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// slsInCentralAccount reports whether the SLS destination project belongs to the
// central account (no projectArn, or one naming the central account).
func (p *Policy) slsInCentralAccount() bool {
	arn := p.Destinations.SLS.ProjectArn
	if arn == "" {
		return true
	}
	m := slsProjectArnRe.FindStringSubmatch(arn)
	return m != nil && m[2] == p.Central.AccountID
}

// TrailLogstore is the Logstore ActionTrail creates for the trail in the SLS project.
func (p *Policy) TrailLogstore() string { return "actiontrail_" + p.Trail.Name }

// InnerTrailLogstore is the dedicated Logstore of Inner-ActionTrail.
func (p *Policy) InnerTrailLogstore() string { return "innertrail_" + p.InnerActionTrail.Name }

// SLSProjectArn is the SlsProjectArn the trail is configured with.
func (p *Policy) SLSProjectArn() string {
	s := p.Destinations.SLS
	if s.ProjectArn != "" {
		return s.ProjectArn
	}
	return fmt.Sprintf("acs:log:%s:%s:project/%s", s.Region, p.Central.AccountID, s.Project)
}

// MemberTrailName is the single-account trail name memberTrails gives accountID.
func (p *Policy) MemberTrailName(accountID string) string {
	return strings.ReplaceAll(p.MemberTrails.NameTemplate, AccountPlaceholder, accountID)
}

// LogAuditProject is the central project Log Audit writes to.
func (p *Policy) LogAuditProject() string {
	return fmt.Sprintf("slsaudit-center-%s-%s", p.Central.AccountID, p.LogAudit.Region)
}
