package policy

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const minimal = `apiVersion: auditwarden/v1
kind: AuditPolicy
central:
  accountId: "1234567890123456"
  region: cn-hangzhou
`

func mustParse(t *testing.T, doc []byte) *Policy {
	t.Helper()
	p, err := Parse(doc)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// problemsOf turns an error into sorted "field|rule" strings.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *ValidationError: %v", err, err)
	}
	out := make([]string, 0, len(ve.Errors))
	for _, fe := range ve.Errors {
		out = append(out, fe.Field+"|"+fe.Rule)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestExampleParsesAndIsCompliant(t *testing.T) {
	onDisk, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, Example) {
		t.Fatal("Example differs from example.yaml")
	}
	p := mustParse(t, Example)
	var ids []string
	for _, c := range p.Compliance() {
		ids = append(ids, c.ID)
		if !c.Satisfied || !c.Applicable {
			t.Errorf("CIS %s: satisfied=%v applicable=%v: %s", c.ID, c.Satisfied, c.Applicable, c.Reason)
		}
		if c.Title == "" || c.Reason == "" {
			t.Errorf("CIS %s: empty title or reason: %+v", c.ID, c)
		}
	}
	want := []string{"2.1", "2.2", "2.3", "2.23", "5.1", "5.3", "5.4", "5.8"}
	if !slices.Equal(ids, want) {
		t.Errorf("CIS ids = %v, want %v", ids, want)
	}
	if !p.Destinations.OSS.Enabled || p.LogAudit.ResourceDirectory.Members != MembersCustom {
		t.Error("the example should show the OSS archive and a custom member selection")
	}
}

func TestMinimalPolicyGetsDefaults(t *testing.T) {
	p := mustParse(t, []byte(minimal))
	const project = "auditwarden-1234567890123456-cn-hangzhou"
	for _, c := range []struct {
		field string
		got   any
		want  any
	}{
		{"trail.name", p.Trail.Name, "auditwarden"},
		{"trail.eventRW", p.Trail.EventRW, "All"},
		{"trail.trailRegion", p.Trail.TrailRegion, "All"},
		{"trail.organization", p.Trail.Organization, true},
		{"destinations.sls.enabled", p.Destinations.SLS.Enabled, true},
		{"destinations.sls.project", p.Destinations.SLS.Project, project},
		{"destinations.sls.region", p.Destinations.SLS.Region, "cn-hangzhou"},
		{"destinations.sls.ttlDays", p.Destinations.SLS.TTLDays, 365},
		{"destinations.oss.enabled", p.Destinations.OSS.Enabled, false},
		{"destinations.oss.create", p.Destinations.OSS.Create, true},
		{"destinations.oss.prefix", p.Destinations.OSS.Prefix, "actiontrail"},
		{"destinations.oss.encryption", p.Destinations.OSS.Encryption, "AES256"},
		{"destinations.oss.retentionDays", p.Destinations.OSS.RetentionDays, 0},
		{"destinations.oss.accessLogging.enabled", p.Destinations.OSS.AccessLogging.Enabled, true},
		{"destinations.oss.secureTransport", p.Destinations.OSS.SecureTransport, true},
		{"destinations.oss.blockPublicAccess", p.Destinations.OSS.BlockPublicAccess, true},
		{"destinations.maxCompute.enabled", p.Destinations.MaxCompute.Enabled, false},
		{"logAudit.enabled", p.LogAudit.Enabled, true},
		{"logAudit.region", p.LogAudit.Region, "cn-shanghai"},
		{"logAudit.mode", p.LogAudit.Mode, ModeResourceDirectory},
		{"logAudit.resourceDirectory.members", p.LogAudit.ResourceDirectory.Members, MembersAll},
		{"logAudit.products", p.LogAudit.Products, map[string]Product{"actiontrail": {Enabled: true, TTLDays: 365}}},
		{"innerActionTrail.enabled", p.InnerActionTrail.Enabled, false},
		{"innerActionTrail.project", p.InnerActionTrail.Project, project},
		{"memberTrails.enabled", p.MemberTrails.Enabled, false},
		{"memberTrails.nameTemplate", p.MemberTrails.NameTemplate, "auditwarden-{accountId}"},
		{"backfill.enabled", p.Backfill.Enabled, true},
		{"backfill.method", p.Backfill.Method, MethodAuto},
		{"backfill.days", p.Backfill.Days, 90},
		{"backfill.project", p.Backfill.Project, project},
		{"backfill.region", p.Backfill.Region, "cn-hangzhou"},
		{"backfill.logstore", p.Backfill.Logstore, "auditwarden_backfill"},
		{"backfill.ttlDays", p.Backfill.TTLDays, 365},
		{"backfill.trailName", p.Backfill.TrailName, "auditwarden-backfill"},
		{"offboarding.onRemove", p.Offboarding.OnRemove, OnRemoveDetach},
		{"offboarding.keepData", p.Offboarding.KeepData, true},
		{"allowNonCompliant", p.AllowNonCompliant, false},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	if d := Default("1234567890123456", "cn-hangzhou"); !reflect.DeepEqual(d, p) {
		t.Errorf("Default differs from the parsed minimal policy:\n%+v\n%+v", d, p)
	}
	for _, c := range p.Compliance() {
		if !c.Satisfied {
			t.Errorf("defaults leave CIS %s unsatisfied: %s", c.ID, c.Reason)
		}
	}
}

func TestJSONInput(t *testing.T) {
	doc := `{"apiVersion": "auditwarden/v1", "kind": "AuditPolicy",
 "central": {"accountId": "1234567890123456", "region": "cn-hangzhou"},
 "backfill": {"method": "lookup", "days": 30}}`
	p := mustParse(t, []byte(doc))
	if p.Backfill.Method != MethodLookup || p.Backfill.Days != 30 || p.Trail.Name != "auditwarden" {
		t.Errorf("JSON policy not read as expected: %+v", p.Backfill)
	}
}

func TestDefaultsFollowCentralRegion(t *testing.T) {
	p := Default("1234567890123456", "eu-central-1")
	if p.LogAudit.Region != "ap-southeast-1" {
		t.Errorf("logAudit.region = %q, want ap-southeast-1 outside the mainland", p.LogAudit.Region)
	}
	if p.Destinations.SLS.Project != "auditwarden-1234567890123456-eu-central-1" {
		t.Errorf("sls.project = %q", p.Destinations.SLS.Project)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func TestValidateRules(t *testing.T) {
	const otherArn = "acs:log:cn-hangzhou:2234567890123456:project/auditwarden-1234567890123456-cn-hangzhou"
	const otherRole = "acs:ram::2234567890123456:role/actiontrail-delivery"
	for _, tc := range []struct {
		name string
		edit func(p *Policy)
		want []string
	}{
		{"apiVersion", func(p *Policy) { p.APIVersion = "auditwarden/v2" }, []string{"apiVersion|oneof auditwarden/v1"}},
		{"kind", func(p *Policy) { p.Kind = "Policy" }, []string{"kind|oneof AuditPolicy"}},
		{"accountId required", func(p *Policy) { p.Central.AccountID = "" }, []string{"central.accountId|required"}},
		{"accountId digits", func(p *Policy) { p.Central.AccountID = "12ab" }, []string{"central.accountId|pattern ^[0-9]{1,20}$"}},
		{"accountId length", func(p *Policy) { p.Central.AccountID = "123456789012345678901" }, []string{"central.accountId|pattern ^[0-9]{1,20}$"}},
		{"region", func(p *Policy) { p.Central.Region = "Hangzhou" }, []string{"central.region|pattern ^[a-z]{2}-[a-z0-9-]+$"}},
		{"trail name", func(p *Policy) { p.Trail.Name = "Trail" }, []string{"trail.name|pattern ^[a-z][a-z0-9_-]{5,35}$"}},
		{"trail name too long", func(p *Policy) { p.Trail.Name = "a" + strings.Repeat("b", 36) }, []string{"trail.name|pattern ^[a-z][a-z0-9_-]{5,35}$"}},
		{"eventRW value", func(p *Policy) { p.Trail.EventRW = "write" }, []string{"trail.eventRW|oneof Write|Read|All"}},
		{"eventRW cis", func(p *Policy) { p.Trail.EventRW = "Write" }, []string{"trail.eventRW|cis-2.1 eventRW=All"}},
		{"trailRegion value", func(p *Policy) { p.Trail.TrailRegion = "mars" }, []string{"trail.trailRegion|pattern All|^[a-z]{2}-[a-z0-9-]+$"}},
		{"trailRegion cis", func(p *Policy) { p.Trail.TrailRegion = "cn-hangzhou" }, []string{"trail.trailRegion|cis-2.1 trailRegion=All"}},
		{"organization cis", func(p *Policy) { p.Trail.Organization = false }, []string{"trail.organization|cis-2.1 organization=true"}},
		{"no destination", func(p *Policy) {
			p.Destinations.SLS.Enabled, p.Destinations.OSS.Enabled = false, false
		}, []string{"destinations|at-least-one-enabled"}},

		{"sls project", func(p *Policy) { p.Destinations.SLS.Project = "Bad_Project" },
			[]string{"destinations.sls.project|pattern ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"}},
		{"sls ttl low", func(p *Policy) { p.Destinations.SLS.TTLDays = 0 }, []string{"destinations.sls.ttlDays|range 1..3650"}},
		{"sls ttl high", func(p *Policy) { p.Destinations.SLS.TTLDays = 3651 }, []string{"destinations.sls.ttlDays|range 1..3650"}},
		{"sls ttl cis", func(p *Policy) { p.Destinations.SLS.TTLDays = 180 }, []string{"destinations.sls.ttlDays|cis-2.23 ttl >= 365"}},
		{"sls projectArn without roleArn", func(p *Policy) { p.Destinations.SLS.ProjectArn = otherArn },
			[]string{"destinations.sls.roleArn|required-with projectArn"}},
		{"sls roleArn without projectArn", func(p *Policy) { p.Destinations.SLS.RoleArn = otherRole },
			[]string{"destinations.sls.projectArn|required-with roleArn"}},
		{"sls projectArn format", func(p *Policy) {
			p.Destinations.SLS.ProjectArn, p.Destinations.SLS.RoleArn = "acs:log:cn-hangzhou:abc:project/x", otherRole
		}, []string{"destinations.sls.projectArn|" + slsProjectArnPattern.rule()}},
		{"sls roleArn format", func(p *Policy) {
			p.Destinations.SLS.ProjectArn, p.Destinations.SLS.RoleArn = otherArn, "arn:aws:iam::1:role/x"
		}, []string{"destinations.sls.roleArn|" + roleArnPattern.rule()}},
		{"sls project differs from ARN", func(p *Policy) {
			p.Destinations.SLS.ProjectArn = "acs:log:cn-hangzhou:2234567890123456:project/org-audit"
			p.Destinations.SLS.RoleArn = otherRole
		}, []string{"destinations.sls.project|match projectArn"}},
		{"sls region differs from ARN", func(p *Policy) {
			p.Destinations.SLS.ProjectArn = strings.Replace(otherArn, "cn-hangzhou", "cn-beijing", 1)
			p.Destinations.SLS.RoleArn = otherRole
		}, []string{"destinations.sls.region|match projectArn"}},
		{"sls role in another account", func(p *Policy) {
			p.Destinations.SLS.ProjectArn = otherArn
			p.Destinations.SLS.RoleArn = "acs:ram::3234567890123456:role/actiontrail-delivery"
		}, []string{"destinations.sls.roleArn|same-account projectArn"}},

		{"oss bucket", func(p *Policy) { p.Destinations.OSS.Bucket = "My_Bucket" },
			[]string{"destinations.oss.bucket|pattern ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"}},
		{"oss prefix", func(p *Policy) { p.Destinations.OSS.Prefix = "ab" }, []string{"destinations.oss.prefix|" + ossPrefixPattern.rule()}},
		{"oss encryption value", func(p *Policy) { p.Destinations.OSS.Encryption = "aes256" },
			[]string{"destinations.oss.encryption|oneof none|AES256|KMS"}},
		{"oss encryption cis", func(p *Policy) { p.Destinations.OSS.Encryption = "none" }, []string{"destinations.oss.encryption|cis-5.8 encryption"}},
		{"oss KMS without key", func(p *Policy) { p.Destinations.OSS.Encryption = "KMS" },
			[]string{"destinations.oss.kmsKeyId|required-with encryption=KMS"}},
		{"oss key without KMS", func(p *Policy) { p.Destinations.OSS.KMSKeyID = "key-1" },
			[]string{"destinations.oss.kmsKeyId|only-with encryption=KMS"}},
		{"oss KMS key format", func(p *Policy) {
			p.Destinations.OSS.Encryption, p.Destinations.OSS.KMSKeyID = "KMS", "key 1"
		}, []string{"destinations.oss.kmsKeyId|" + kmsKeyPattern.rule()}},
		{"oss retention", func(p *Policy) {
			p.Destinations.OSS.RetentionDays = 25551
			p.Destinations.OSS.Lifecycle.ExpireDays = 0
		},
			[]string{"destinations.oss.retentionDays|range 0..25550"}},
		{"oss lifecycle range", func(p *Policy) { p.Destinations.OSS.Lifecycle.TransitionToIADays = -1 },
			[]string{"destinations.oss.lifecycle.transitionToIADays|range 0..36500"}},
		{"oss lifecycle order", func(p *Policy) { p.Destinations.OSS.Lifecycle.TransitionToArchiveDays = 60 },
			[]string{"destinations.oss.lifecycle.transitionToArchiveDays|gt lifecycle.transitionToIADays"}},
		{"oss expire before transition", func(p *Policy) {
			p.Destinations.OSS.RetentionDays = 0
			p.Destinations.OSS.Lifecycle.ExpireDays = 150
		}, []string{"destinations.oss.lifecycle.expireDays|gt lifecycle transitions"}},
		{"oss expire within retention", func(p *Policy) {
			p.Destinations.OSS.Lifecycle = Lifecycle{ExpireDays: 300}
		}, []string{"destinations.oss.lifecycle.expireDays|gt retentionDays"}},
		{"oss access logging cis", func(p *Policy) { p.Destinations.OSS.AccessLogging.Enabled = false },
			[]string{"destinations.oss.accessLogging.enabled|cis-5.3 accessLogging"}},
		{"oss access log prefix", func(p *Policy) { p.Destinations.OSS.AccessLogging.TargetPrefix = "" },
			[]string{"destinations.oss.accessLogging.targetPrefix|required"}},
		{"oss secure transport cis", func(p *Policy) { p.Destinations.OSS.SecureTransport = false },
			[]string{"destinations.oss.secureTransport|cis-5.4 secureTransport"}},
		{"oss public access cis", func(p *Policy) { p.Destinations.OSS.BlockPublicAccess = false },
			[]string{"destinations.oss.blockPublicAccess|cis-2.2,5.1 blockPublicAccess=true"}},
		{"oss cross-account bucket created", func(p *Policy) { p.Destinations.OSS.RoleArn = otherRole },
			[]string{"destinations.oss.roleArn|only-with create=false"}},

		{"maxCompute project required", func(p *Policy) {
			p.Destinations.MaxCompute.Enabled, p.Destinations.MaxCompute.Project = true, ""
		}, []string{"destinations.maxCompute.project|required"}},
		{"maxCompute project format", func(p *Policy) {
			p.Destinations.MaxCompute.Enabled, p.Destinations.MaxCompute.Project = true, "1bad"
		}, []string{"destinations.maxCompute.project|pattern name|acs:odps:<region>:<uid>:project/<name>"}},
		{"maxCompute cross-account without role", func(p *Policy) {
			p.Destinations.MaxCompute.Enabled = true
			p.Destinations.MaxCompute.Project = "acs:odps:cn-hangzhou:2234567890123456:project/actiontrail_org"
		}, []string{"destinations.maxCompute.roleArn|required-with cross-account project"}},
		{"maxCompute region differs from ARN", func(p *Policy) {
			p.Destinations.MaxCompute.Enabled = true
			p.Destinations.MaxCompute.Project = "acs:odps:cn-beijing:1234567890123456:project/actiontrail_org"
		}, []string{"destinations.maxCompute.region|match project"}},

		{"logAudit region", func(p *Policy) { p.LogAudit.Region = "cn-hangzhou" },
			[]string{"logAudit.region|oneof cn-shanghai|ap-southeast-1"}},
		{"logAudit disabled cis", func(p *Policy) { p.LogAudit.Enabled = false }, []string{"logAudit.enabled|cis-2.3 enabled"}},
		{"logAudit mode", func(p *Policy) { p.LogAudit.Mode = "rd" },
			[]string{"logAudit.mode|oneof resourceDirectory|customAuthentication"}},
		{"members value", func(p *Policy) { p.LogAudit.ResourceDirectory.Members = "some" },
			[]string{"logAudit.resourceDirectory.members|oneof all|custom"}},
		{"members all with include", func(p *Policy) {
			p.LogAudit.ResourceDirectory.Members = MembersAll
			p.LogAudit.ResourceDirectory.Exclude = Selector{}
		}, []string{"logAudit.resourceDirectory.include|only-with members=custom"}},
		{"include account format", func(p *Policy) {
			p.LogAudit.ResourceDirectory.Include.Accounts = []string{"1", "2", "12ab"}
		}, []string{"logAudit.resourceDirectory.include.accounts[2]|pattern ^[0-9]{1,20}$"}},
		{"include account repeated", func(p *Policy) {
			p.LogAudit.ResourceDirectory.Include.Accounts = []string{"1", "2", "1"}
		}, []string{"logAudit.resourceDirectory.include.accounts[2]|unique"}},
		{"exclude folder format", func(p *Policy) {
			p.LogAudit.ResourceDirectory.Exclude.Folders = []string{"sandbox"}
		}, []string{"logAudit.resourceDirectory.exclude.folders[0]|" + folderPattern.rule()}},
		{"exclude tag key", func(p *Policy) {
			p.LogAudit.ResourceDirectory.Exclude.Tags = []TagSelector{{Key: "a=b", AnyValue: true}}
		}, []string{"logAudit.resourceDirectory.exclude.tags[0]|" + tagKeyPattern.rule()}},
		{"empty include cis", func(p *Policy) { p.LogAudit.ResourceDirectory.Include = Selector{} },
			[]string{"logAudit.resourceDirectory.include|cis-2.3 members selected"}},
		{"custom authentication with directory settings", func(p *Policy) {
			p.LogAudit.Mode = ModeCustomAuthentication
			p.LogAudit.CustomAuthentication.Accounts = []string{"4234567890123456"}
		}, []string{"logAudit.resourceDirectory|only-with mode=resourceDirectory"}},
		{"custom authentication account format", func(p *Policy) {
			p.LogAudit.Mode = ModeCustomAuthentication
			p.LogAudit.ResourceDirectory = DirectoryCollection{}
			p.LogAudit.CustomAuthentication.Accounts = []string{"4234567890123456", "x"}
		}, []string{"logAudit.customAuthentication.accounts[1]|pattern ^[0-9]{1,20}$"}},
		{"directory mode with custom authentication accounts", func(p *Policy) {
			p.LogAudit.CustomAuthentication.Accounts = []string{"4234567890123456"}
		}, []string{"logAudit.customAuthentication|only-with mode=customAuthentication"}},
		{"unknown product", func(p *Policy) { p.LogAudit.Products["s3"] = Product{Enabled: true, TTLDays: 365} },
			[]string{"logAudit.products.s3|known-product"}},
		{"product ttl range", func(p *Policy) { p.LogAudit.Products["waf"] = Product{Enabled: true} },
			[]string{"logAudit.products.waf.ttlDays|range 1..3650"}},
		{"product ttl cis", func(p *Policy) { p.LogAudit.Products["waf"] = Product{Enabled: true, TTLDays: 180} },
			[]string{"logAudit.products.waf.ttlDays|cis-2.23 ttl >= 365"}},
		{"disabled product ttl is no cis matter", func(p *Policy) {
			p.LogAudit.Products["waf"] = Product{Enabled: false, TTLDays: 180}
		}, nil},
		{"actiontrail product off cis", func(p *Policy) { p.LogAudit.Products["actiontrail"] = Product{TTLDays: 365} },
			[]string{"logAudit.products.actiontrail.enabled|cis-2.3 actiontrail"}},
		{"regional product without central copy", func(p *Policy) { p.LogAudit.Products["oss_sync"] = Product{TTLDays: 365} },
			[]string{"logAudit.products.oss_sync.enabled|cis-2.23 central copy"}},
		{"collection policy on a product without one", func(p *Policy) {
			p.LogAudit.Products["waf"] = Product{Enabled: true, TTLDays: 365, CollectionPolicy: "accept"}
		}, []string{"logAudit.products.waf.collectionPolicy|only-with collection-policy products"}},
		{"collection policy too long", func(p *Policy) {
			p.LogAudit.Products["rds"] = Product{Enabled: true, TTLDays: 365, CollectionPolicy: strings.Repeat("x", 4097)}
		}, []string{"logAudit.products.rds.collectionPolicy|len 0..4096"}},
		{"logs on a product other than sas", func(p *Policy) {
			p.LogAudit.Products["waf"] = Product{Enabled: true, TTLDays: 365, Logs: []string{"login"}}
		}, []string{"logAudit.products.waf.logs|only-with product sas"}},
		{"unknown sas log", func(p *Policy) {
			p.LogAudit.Products["sas"] = Product{Enabled: true, TTLDays: 365, Logs: []string{"login", "keylogger"}}
		}, []string{"logAudit.products.sas.logs[1]|oneof " + strings.Join(sasLogs, "|")}},

		{"inner trail name clash", func(p *Policy) {
			p.InnerActionTrail.Enabled, p.InnerActionTrail.Name = true, "auditwarden"
		}, []string{"innerActionTrail.name|distinct trail.name"}},
		{"inner trail ttl cis", func(p *Policy) {
			p.InnerActionTrail.Enabled, p.InnerActionTrail.TTLDays = true, 180
		}, []string{"innerActionTrail.ttlDays|cis-2.23 ttl >= 365"}},
		{"inner trail project", func(p *Policy) {
			p.InnerActionTrail.Enabled, p.InnerActionTrail.Project = true, ""
		}, []string{"innerActionTrail.project|required"}},

		{"member trail placeholder", func(p *Policy) {
			p.MemberTrails.Enabled, p.MemberTrails.NameTemplate = true, "aw-{accountName}"
		}, []string{"memberTrails.nameTemplate|placeholders {accountId}"}},
		{"member trail name too long", func(p *Policy) {
			p.MemberTrails.Enabled, p.MemberTrails.NameTemplate = true, "auditwarden-member-{accountId}"
		}, []string{"memberTrails.nameTemplate|" + trailNamePattern.rule()}},
		{"member trail name clash", func(p *Policy) {
			p.MemberTrails.Enabled, p.MemberTrails.NameTemplate = true, "auditwarden"
		}, []string{"memberTrails.nameTemplate|distinct trail.name"}},
		{"member trail destination", func(p *Policy) {
			p.MemberTrails.Enabled, p.MemberTrails.Destination = true, "maxCompute"
		}, []string{"memberTrails.destination|oneof sls|oss"}},
		{"member trail destination disabled", func(p *Policy) {
			p.MemberTrails.Enabled, p.MemberTrails.Destination = true, DestinationOSS
			p.Destinations.OSS.Enabled = false
		}, []string{"memberTrails.destination|requires destinations.oss.enabled"}},

		{"backfill method", func(p *Policy) { p.Backfill.Method = "replay" },
			[]string{"backfill.method|oneof auto|delivery-job|lookup"}},
		{"backfill delivery job without sls", func(p *Policy) {
			p.Backfill.Method = MethodDeliveryJob
			p.Destinations.SLS.Enabled = false
		}, []string{"backfill.method|requires destinations.sls.enabled"}},
		{"backfill days", func(p *Policy) { p.Backfill.Days = 91 }, []string{"backfill.days|range 1..90"}},
		{"backfill reserved logstore", func(p *Policy) { p.Backfill.Logstore = "actiontrail_auditwarden" },
			[]string{"backfill.logstore|not-prefix actiontrail_|innertrail_"}},
		{"backfill logstore format", func(p *Policy) { p.Backfill.Logstore = "Backfill" },
			[]string{"backfill.logstore|" + logstorePattern.rule()}},
		{"backfill ttl cis", func(p *Policy) { p.Backfill.TTLDays = 30 }, []string{"backfill.ttlDays|cis-2.23 ttl >= 365"}},
		{"backfill trail name clash", func(p *Policy) { p.Backfill.TrailName = "auditwarden" },
			[]string{"backfill.trailName|distinct trail.name"}},
		{"backfill project without sls", func(p *Policy) {
			p.Destinations.SLS.Enabled = false
			p.Backfill.Project = ""
		}, []string{"backfill.project|required"}},

		{"onRemove", func(p *Policy) { p.Offboarding.OnRemove = "delete" }, []string{"offboarding.onRemove|oneof detach|report"}},
		{"keepData", func(p *Policy) { p.Offboarding.KeepData = false }, []string{"offboarding.keepData|const true"}},

		{"allowNonCompliant accepts CIS shortfalls", func(p *Policy) {
			p.AllowNonCompliant = true
			p.Destinations.OSS.Encryption = EncryptionNone
			p.Trail.EventRW = EventWrite
			p.Destinations.SLS.TTLDays = 30
		}, nil},
		{"a disabled section is not checked", func(p *Policy) {
			p.Destinations.MaxCompute = MaxComputeDestination{Project: "?"}
			p.Backfill.Enabled, p.Backfill.Days = false, 1000
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, Example)
			tc.edit(p)
			got := problemsOf(t, p.Validate())
			if want := sorted(tc.want); !slices.Equal(got, want) {
				t.Errorf("problems\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []string
		line int // of the first problem, when set
	}{
		{"unknown top-level field", minimal + "trial:\n  name: x\n", []string{"trial|unknown-field"}, 6},
		{"unknown nested field", minimal + "destinations:\n  sls:\n    ttl: 30\n",
			[]string{"destinations.sls.ttl|unknown-field"}, 8},
		{"integer type", minimal + "destinations:\n  sls:\n    ttlDays: forever\n",
			[]string{"destinations.sls.ttlDays|type integer"}, 8},
		{"bool type", minimal + "trail:\n  organization: maybe\n", []string{"trail.organization|type bool"}, 7},
		{"list type", minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      accounts: \"123\"\n",
			[]string{"logAudit.resourceDirectory.include.accounts|type list"}, 10},
		{"list element type", minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      accounts: [\"1\", [2], \"x\"]\n",
			[]string{"logAudit.resourceDirectory.include.accounts[1]|type string",
				"logAudit.resourceDirectory.include.accounts[2]|pattern ^[0-9]{1,20}$"}, 0},
		{"empty list element", minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      accounts: [\"1\", null, \"x\"]\n",
			[]string{"logAudit.resourceDirectory.include.accounts[1]|required",
				"logAudit.resourceDirectory.include.accounts[2]|pattern ^[0-9]{1,20}$"}, 10},
		{"mapping type", minimal + "trail: auditwarden\n", []string{"trail|type mapping"}, 6},
		{"tag type", minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      tags: [[a]]\n",
			[]string{"logAudit.resourceDirectory.include.tags[0]|type tag"}, 10},
		{"unknown tag field", minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      tags: [{key: a, val: b}]\n",
			[]string{"logAudit.resourceDirectory.include.tags[0].val|unknown-field"}, 10},
		{"duplicate key", minimal + "trail:\n  name: abcdefg\n  name: hijklmn\n", []string{"trail.name|duplicate-key"}, 8},
		{"unknown product field", minimal + "logAudit:\n  products:\n    waf:\n      ttl: 30\n",
			[]string{"logAudit.products.waf.ttl|unknown-field"}, 9},
		{"unknown product", minimal + "logAudit:\n  products:\n    s3: {}\n", []string{"logAudit.products.s3|known-product"}, 8},
		{"bad apiVersion hides the rest", "apiVersion: auditwarden/v2\nkind: Nope\nwhatever: 1\n",
			[]string{"apiVersion|oneof auditwarden/v1"}, 1},
		{"missing apiVersion", "kind: AuditPolicy\ncentral: {accountId: \"1\", region: cn-hangzhou}\n",
			[]string{"apiVersion|required"}, 0},
		{"tab indentation", "apiVersion: auditwarden/v1\n\tkind: AuditPolicy\n", []string{"|yaml-syntax"}, 2},
		{"syntax error", minimal + "trail:\n  name: [unclosed\n", []string{"|yaml-syntax"}, 6}, // yaml.v3 names the enclosing mapping's line
		{"empty document", "", []string{"|required"}, 0},
		{"comment only", "# nothing\n", []string{"|required"}, 0},
		{"second document", minimal + "---\nkind: AuditPolicy\n", []string{"|single-document"}, 0},
		{"not a mapping", "- apiVersion: auditwarden/v1\n", []string{"|type mapping"}, 1},
		{"secret at the top", minimal + "accessKeySecret: abc\n", []string{"accessKeySecret|no-secrets"}, 6},
		{"secrets in custom authentication", minimal +
			"logAudit:\n  mode: customAuthentication\n  customAuthentication:\n    accounts: [\"4234567890123456\"]\n    accessKeyId: LTAI000\n    access_key_secret: s3cr3t\n",
			[]string{"logAudit.customAuthentication.accessKeyId|no-secrets",
				"logAudit.customAuthentication.access_key_secret|no-secrets"}, 10},
		{"secret under an unknown field", minimal + "extra:\n  nested:\n    - password: hunter2\n",
			[]string{"extra|unknown-field", "extra.nested[0].password|no-secrets"}, 6},
		{"secret in a tag", minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      tags: [{key: a, secret: b}]\n",
			[]string{"logAudit.resourceDirectory.include.tags[0].secret|no-secrets"}, 10},
		{"secret as a product", minimal + "logAudit:\n  products:\n    AccessKeySecret: x\n",
			[]string{"logAudit.products.AccessKeySecret|no-secrets"}, 8},
		{"alias bomb", "apiVersion: auditwarden/v1\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
			"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
			[]string{"|max-nodes 65536"}, 0},
		{"anchor containing itself", minimal + "logAudit: {resourceDirectory: {members: custom, include: &i {accounts: ['1'], tags: [*i]}}}\n",
			[]string{"logAudit.resourceDirectory.include.tags[0]|recursive-alias"}, 6},
		{"merge of itself", minimal + "trail: &t {<<: *t}\n", []string{"trail|recursive-alias"}, 6},
		{"root used as a field", "&r {apiVersion: auditwarden/v1, kind: AuditPolicy, central: {accountId: '1', region: cn-hangzhou}, trail: *r}",
			[]string{"trail|recursive-alias"}, 1},
		{"too large", minimal + "# " + strings.Repeat("x", MaxSize) + "\n", []string{"|max-size 1048576"}, 0},
		{"an unknown field does not hide other problems", minimal + "destinations:\n  sls: {enabled: false, colour: blue}\n",
			[]string{"destinations.sls.colour|unknown-field", "destinations|at-least-one-enabled", "backfill.project|required"}, 0},
		{"a discarded value hides the verdicts that depend on it", minimal + "destinations:\n  sls: {enabled: nope}\n",
			[]string{"destinations.sls.enabled|type bool"}, 7},
		{"type errors and rule errors together", minimal + "trail:\n  name: X\n  eventRW: sometimes\n  organization: 3\n",
			[]string{"trail.eventRW|oneof Write|Read|All", "trail.name|pattern ^[a-z][a-z0-9_-]{5,35}$", "trail.organization|type bool"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			if p != nil {
				t.Error("Parse returned a policy along with errors")
			}
			got := problemsOf(t, err)
			if want := sorted(tc.want); !slices.Equal(got, want) {
				t.Fatalf("problems\n got %q\nwant %q\n%v", got, want, err)
			}
			var ve *ValidationError
			errors.As(err, &ve)
			if tc.line != 0 && ve.Errors[0].Line != tc.line {
				t.Errorf("line = %d, want %d", ve.Errors[0].Line, tc.line)
			}
			for _, secret := range []string{"s3cr3t", "hunter2", "LTAI000"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error repeats the secret %q: %v", secret, err)
				}
			}
		})
	}
}

func TestAllErrorsAreCollected(t *testing.T) {
	doc := `apiVersion: auditwarden/v1
kind: AuditPolicy
central:
  accountId: "1234567890123456"
  region: cn-hangzhou
trail:
  eventRW: Write
destinations:
  sls:
    ttlDays: 30
  oss:
    enabled: true
    encryption: none
    colour: blue
backfill:
  days: 120
`
	_, err := Parse([]byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	want := []FieldError{
		{Field: "backfill.days", Rule: "range 1..90", Line: 16},
		{Field: "destinations.oss.colour", Rule: "unknown-field", Line: 14},
		{Field: "destinations.oss.encryption", Rule: "cis-5.8 encryption", Line: 13},
		{Field: "destinations.sls.ttlDays", Rule: "cis-2.23 ttl >= 365", Line: 10},
		{Field: "trail.eventRW", Rule: "cis-2.1 eventRW=All", Line: 7},
	}
	if len(ve.Errors) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ve.Errors), len(want), err)
	}
	for i, w := range want {
		g := ve.Errors[i]
		if g.Field != w.Field || g.Rule != w.Rule || g.Line != w.Line {
			t.Errorf("problem %d = %s|%s line %d, want %s|%s line %d", i, g.Field, g.Rule, g.Line, w.Field, w.Rule, w.Line)
		}
		if g.Message == "" {
			t.Errorf("problem %d has no message", i)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 1+len(want) {
		t.Errorf("Error() has %d lines, want a header and one per problem:\n%s", len(lines), err)
	}
	if !strings.Contains(lines[1], "backfill.days") || !strings.Contains(lines[1], "line 16") {
		t.Errorf("first line %q should name the field and the line", lines[1])
	}
}

func TestNullMeansOmitted(t *testing.T) {
	p := mustParse(t, []byte(minimal+"trail:\ndestinations:\n  sls:\n    ttlDays:\nlogAudit:\n  products:\n    waf:\n"))
	if !p.Trail.Organization || p.Destinations.SLS.TTLDays != 365 {
		t.Errorf("empty values should keep the defaults: %+v %+v", p.Trail, p.Destinations.SLS)
	}
	if waf := p.LogAudit.Products["waf"]; !waf.Enabled || waf.TTLDays != 365 {
		t.Errorf("a listed product with no settings should be on with the default TTL, got %+v", waf)
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	doc := minimal + `trail:
  <<: &rw {eventRW: All, trailRegion: All}
  name: orgtrail
memberTrails:
  <<: *rw
  enabled: true
logAudit:
  products:
    oss_access:
    sas: {logs: &logs [login, crack]}
`
	p := mustParse(t, []byte(doc))
	if p.Trail.Name != "orgtrail" || p.MemberTrails.EventRW != EventAll || !p.MemberTrails.Enabled {
		t.Errorf("merge keys not applied: %+v %+v", p.Trail, p.MemberTrails)
	}
	if sync := p.LogAudit.Products["oss_sync"]; !sync.Enabled || sync.TTLDays != 365 {
		t.Errorf("listing oss_access should turn its central copy on, got %+v", sync)
	}
	if access := p.LogAudit.Products["oss_access"]; access.TTLDays != 7 {
		t.Errorf("regional buffer ttl = %d, want 7", access.TTLDays)
	}
}

func TestTagForms(t *testing.T) {
	doc := minimal + `logAudit:
  resourceDirectory:
    members: custom
    include:
      tags:
        - env=prod
        - audited
        - {key: team, value: ""}
        - {key: owner}
        - " cost = 42 "
`
	p := mustParse(t, []byte(doc))
	want := []TagSelector{
		{Key: "env", Value: "prod"},
		{Key: "audited", AnyValue: true},
		{Key: "team", Value: ""},
		{Key: "owner", AnyValue: true},
		{Key: "cost", Value: "42"},
	}
	if got := p.LogAudit.ResourceDirectory.Include.Tags; !reflect.DeepEqual(got, want) {
		t.Errorf("tags = %+v, want %+v", got, want)
	}
}

func TestMemberSelected(t *testing.T) {
	custom := func(include, exclude Selector) *Policy {
		p := Default("1234567890123456", "cn-hangzhou")
		p.LogAudit.ResourceDirectory = DirectoryCollection{Members: MembersCustom, Include: include, Exclude: exclude}
		return p
	}
	prod := Member{AccountID: "111", FolderPath: []string{"r-root", "fd-prod", "fd-payments"}, Tags: map[string]string{"env": "prod"}}
	sandbox := Member{AccountID: "222", FolderPath: []string{"r-root", "fd-sandbox"}, Tags: map[string]string{"env": "dev", "audit": "exempt"}}
	loose := Member{AccountID: "333", FolderPath: []string{"r-root"}}

	for _, tc := range []struct {
		name   string
		policy *Policy
		member Member
		want   bool
	}{
		{"all members", Default("1234567890123456", "cn-hangzhou"), loose, true},
		{"log audit off", func() *Policy { p := Default("1", "cn-hangzhou"); p.LogAudit.Enabled = false; return p }(), prod, false},
		{"empty include selects nobody", custom(Selector{}, Selector{}), prod, false},
		{"account included", custom(Selector{Accounts: []string{"111"}}, Selector{}), prod, true},
		{"account not included", custom(Selector{Accounts: []string{"111"}}, Selector{}), sandbox, false},
		{"folder includes descendants", custom(Selector{Folders: []string{"fd-prod"}}, Selector{}), prod, true},
		{"root folder includes everyone", custom(Selector{Folders: []string{"r-root"}}, Selector{}), loose, true},
		{"leaf folder does not include parents", custom(Selector{Folders: []string{"fd-payments"}}, Selector{}), loose, false},
		{"tag value matches", custom(Selector{Tags: []TagSelector{{Key: "env", Value: "prod"}}}, Selector{}), prod, true},
		{"tag value differs", custom(Selector{Tags: []TagSelector{{Key: "env", Value: "prod"}}}, Selector{}), sandbox, false},
		{"tag with any value", custom(Selector{Tags: []TagSelector{{Key: "env", AnyValue: true}}}, Selector{}), sandbox, true},
		{"tag missing", custom(Selector{Tags: []TagSelector{{Key: "env", AnyValue: true}}}, Selector{}), loose, false},
		{"exclude wins over include by account", custom(Selector{Folders: []string{"r-root"}}, Selector{Accounts: []string{"111"}}), prod, false},
		{"exclude by folder", custom(Selector{Folders: []string{"r-root"}}, Selector{Folders: []string{"fd-sandbox"}}), sandbox, false},
		{"exclude by tag", custom(Selector{Folders: []string{"r-root"}}, Selector{Tags: []TagSelector{{Key: "audit", Value: "exempt"}}}), sandbox, false},
		{"exclude does not touch others", custom(Selector{Folders: []string{"r-root"}}, Selector{Folders: []string{"fd-sandbox"}}), prod, true},
		{"custom authentication lists accounts", func() *Policy {
			p := Default("1", "cn-hangzhou")
			p.LogAudit.Mode, p.LogAudit.ResourceDirectory = ModeCustomAuthentication, DirectoryCollection{}
			p.LogAudit.CustomAuthentication.Accounts = []string{"333"}
			return p
		}(), loose, true},
		{"custom authentication ignores the rest", func() *Policy {
			p := Default("1", "cn-hangzhou")
			p.LogAudit.Mode, p.LogAudit.ResourceDirectory = ModeCustomAuthentication, DirectoryCollection{}
			p.LogAudit.CustomAuthentication.Accounts = []string{"333"}
			return p
		}(), prod, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.MemberSelected(tc.member); got != tc.want {
				t.Errorf("MemberSelected(%s) = %v, want %v", tc.member.AccountID, got, tc.want)
			}
		})
	}
}

func TestComplianceReportsShortfalls(t *testing.T) {
	doc := minimal + `allowNonCompliant: true
trail: {eventRW: Write}
destinations:
  oss: {enabled: true, encryption: none, secureTransport: false}
logAudit:
  products:
    waf: {ttlDays: 30}
`
	p := mustParse(t, []byte(doc))
	got := map[string]bool{}
	for _, c := range p.Compliance() {
		got[c.ID] = c.Satisfied
		if !c.Satisfied && !strings.Contains(c.Reason, " ") {
			t.Errorf("CIS %s: reason %q should explain", c.ID, c.Reason)
		}
	}
	want := map[string]bool{"2.1": false, "2.2": true, "2.3": true, "2.23": false, "5.1": true, "5.3": true, "5.4": false, "5.8": false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("satisfied = %v, want %v", got, want)
	}

	off := Default("1234567890123456", "cn-hangzhou").Compliance()
	for _, c := range off {
		bucketItem := c.ID == "2.2" || c.ID == "5.1" || c.ID == "5.3" || c.ID == "5.4" || c.ID == "5.8"
		if c.Applicable == bucketItem || !c.Satisfied {
			t.Errorf("without OSS, CIS %s: applicable=%v satisfied=%v", c.ID, c.Applicable, c.Satisfied)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for name, doc := range map[string][]byte{"example": Example, "minimal": []byte(minimal)} {
		p := mustParse(t, doc)
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: re-parsing the marshalled policy: %v\n%s", name, err, out)
		}
		if !reflect.DeepEqual(p, again) {
			t.Errorf("%s: round trip changed the policy:\n%+v\n%+v", name, p, again)
		}
	}
}

func TestHelpers(t *testing.T) {
	p := mustParse(t, Example)
	for _, c := range []struct{ got, want string }{
		{p.TrailLogstore(), "actiontrail_auditwarden"},
		{p.InnerTrailLogstore(), "innertrail_auditwarden-inner"},
		{p.SLSProjectArn(), "acs:log:cn-hangzhou:1234567890123456:project/auditwarden-1234567890123456-cn-hangzhou"},
		{p.MemberTrailName("2234567890123456"), "auditwarden-2234567890123456"},
		{p.LogAuditProject(), "slsaudit-center-1234567890123456-cn-shanghai"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	var at, sas ProductInfo
	for _, pi := range LogAuditProducts() {
		switch pi.Name {
		case "actiontrail":
			at = pi
		case "sas":
			sas = pi
		}
	}
	if at.EnabledKey != "actiontrail_enabled" || at.TTLKey != "actiontrail_ttl" || !at.Central {
		t.Errorf("actiontrail = %+v", at)
	}
	if sas.EnabledKey != "" || sas.TTLKey != "sas_ttl" || !slices.Contains(sas.Logs, "security_alert") {
		t.Errorf("sas = %+v", sas)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example)
	f.Add([]byte(minimal))
	for _, broken := range []string{
		"",
		"apiVersion: auditwarden/v1\n",
		"apiVersion: auditwarden/v1\nkind: AuditPolicy\ncentral: [1, 2]\n",
		minimal + "trail:\n  name: [unclosed\n",
		minimal + "a: &a [*a]\n",
		minimal + "logAudit:\n  products:\n    waf:\n    sas: {logs: [login, login]}\n",
		minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include:\n      tags: [\"a=b\", {key: c}, 3]\n",
		minimal + "trail:\n  <<: [&x {name: abcdefg}, *x]\n",
		minimal + "logAudit: {resourceDirectory: {members: custom, include: &i {accounts: ['1'], tags: [*i]}}}\n",
		minimal + "accessKeySecret: x\n---\nkind: x\n",
		// Valid variants, so that mutations start from policies that parse.
		minimal + "logAudit:\n  mode: customAuthentication\n  customAuthentication:\n    accounts: [\"4234567890123456\"]\n",
		minimal + "logAudit:\n  resourceDirectory:\n    members: custom\n    include: {folders: [r-root], tags: [env=prod, {key: team}]}\n    exclude: {accounts: [\"2\"]}\n",
		minimal + "destinations:\n  oss: {enabled: true, encryption: KMS, kmsKeyId: key-1, retentionDays: 30, lifecycle: {expireDays: 60}}\n  maxCompute: {enabled: true, project: actiontrail_org}\n",
		minimal + "memberTrails: {enabled: true}\ninnerActionTrail: {enabled: true}\nbackfill: {method: delivery-job, days: 7}\n",
		minimal + "allowNonCompliant: true\ntrail: {eventRW: Write, organization: false}\nlogAudit: {enabled: false}\n",
		"{\"apiVersion\": \"auditwarden/v1\", \"kind\": \"AuditPolicy\", \"central\": {\"accountId\": \"1\", \"region\": \"cn-hangzhou\"}}",
	} {
		f.Add([]byte(broken))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error is not a non-empty *ValidationError: %v", err)
			}
			if p != nil {
				t.Fatal("a policy came back with errors")
			}
			for _, fe := range ve.Errors {
				// The walk must leave nothing the decoder refuses, bar
				// yaml.v3's own limit on alias expansion.
				if fe.Rule == "yaml-decode" && !strings.Contains(fe.Message, "alias") {
					t.Fatalf("the walk let through what decoding refuses: %v", fe)
				}
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a parsed policy does not re-validate: %v", err)
		}
		_ = p.Compliance()
		out, err := yaml.Marshal(p)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("the marshalled policy does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, again)
		}
	})
}
