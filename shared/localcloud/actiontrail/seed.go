package actiontrail

import (
	"encoding/hex"
	"math/rand"
	"sort"
	"strconv"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// apiKind is one kind of call the seeder makes up.
type apiKind struct {
	service, source, version, name, rw, resourceType string
	// resource names the resource acted on, from a random source; "" for calls on no resource.
	resource func(r *rand.Rand) string
	weight   int
}

func idOf(prefix string, n int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string { return prefix + randHex(r, n) }
}

func nameOf(names ...string) func(r *rand.Rand) string {
	return func(r *rand.Rand) string { return names[r.Intn(len(names))] }
}

// seedCatalog is a mix of the services an organization uses daily; reads outnumber writes
// about three to one, as in real accounts.
var seedCatalog = []apiKind{
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "DescribeInstances", "Read", "", nil, 30},
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "DescribeSecurityGroups", "Read", "", nil, 10},
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "RunInstances", "Write", "ACS::ECS::Instance", idOf("i-", 20), 4},
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "StopInstance", "Write", "ACS::ECS::Instance", idOf("i-", 20), 3},
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "StartInstance", "Write", "ACS::ECS::Instance", idOf("i-", 20), 3},
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "DeleteInstance", "Write", "ACS::ECS::Instance", idOf("i-", 20), 1},
	{"Ecs", "ecs.aliyuncs.com", "2014-05-26", "AuthorizeSecurityGroup", "Write", "ACS::ECS::SecurityGroup", idOf("sg-", 20), 2},
	{"Oss", "oss.aliyuncs.com", "", "GetBucketInfo", "Read", "ACS::OSS::Bucket", nameOf("app-assets", "rds-backup", "build-cache", "audit-archive"), 12},
	{"Oss", "oss.aliyuncs.com", "", "ListBuckets", "Read", "", nil, 6},
	{"Oss", "oss.aliyuncs.com", "", "PutBucket", "Write", "ACS::OSS::Bucket", idOf("bucket-", 8), 1},
	{"Oss", "oss.aliyuncs.com", "", "PutBucketAcl", "Write", "ACS::OSS::Bucket", nameOf("app-assets", "build-cache"), 1},
	{"Oss", "oss.aliyuncs.com", "", "PutBucketLifecycle", "Write", "ACS::OSS::Bucket", nameOf("rds-backup", "audit-archive"), 1},
	{"Ram", "ram.aliyuncs.com", "2015-05-01", "ListUsers", "Read", "", nil, 6},
	{"Ram", "ram.aliyuncs.com", "2015-05-01", "GetUser", "Read", "ACS::RAM::User", nameOf("ops", "dev-alice", "ci-bot", "auditor"), 4},
	{"Ram", "ram.aliyuncs.com", "2015-05-01", "CreateUser", "Write", "ACS::RAM::User", idOf("user-", 6), 1},
	{"Ram", "ram.aliyuncs.com", "2015-05-01", "CreateAccessKey", "Write", "ACS::RAM::User", nameOf("ci-bot", "dev-alice"), 1},
	{"Ram", "ram.aliyuncs.com", "2015-05-01", "AttachPolicyToUser", "Write", "ACS::RAM::User", nameOf("dev-alice", "auditor"), 1},
	{"Vpc", "vpc.aliyuncs.com", "2016-04-28", "DescribeVpcs", "Read", "", nil, 10},
	{"Vpc", "vpc.aliyuncs.com", "2016-04-28", "DescribeVSwitches", "Read", "", nil, 6},
	{"Vpc", "vpc.aliyuncs.com", "2016-04-28", "CreateVpc", "Write", "ACS::VPC::VPC", idOf("vpc-", 22), 1},
	{"Vpc", "vpc.aliyuncs.com", "2016-04-28", "CreateVSwitch", "Write", "ACS::VPC::VSwitch", idOf("vsw-", 22), 2},
	{"Vpc", "vpc.aliyuncs.com", "2016-04-28", "DeleteVSwitch", "Write", "ACS::VPC::VSwitch", idOf("vsw-", 22), 1},
	{"ResourceManager", "resourcemanager.aliyuncs.com", "2020-03-31", "ListAccounts", "Read", "", nil, 4},
	{"ResourceManager", "resourcemanager.aliyuncs.com", "2020-03-31", "GetResourceDirectory", "Read", "", nil, 2},
	{"ResourceManager", "resourcemanager.aliyuncs.com", "2020-03-31", "MoveAccount", "Write", "ACS::ResourceManager::Account", nil, 1},
	{"Sts", "sts.aliyuncs.com", "2015-04-01", "AssumeRole", "Write", "ACS::RAM::Role", nameOf("ResourceDirectoryAccountAccessRole", "deploy", "readonly-audit"), 5},
	{"Rds", "rds.aliyuncs.com", "2014-08-15", "DescribeDBInstances", "Read", "", nil, 6},
	{"Rds", "rds.aliyuncs.com", "2014-08-15", "ModifySecurityIps", "Write", "ACS::RDS::DBInstance", idOf("rm-", 18), 1},
	{"Slb", "slb.aliyuncs.com", "2014-05-15", "DescribeLoadBalancers", "Read", "", nil, 4},
	{"Actiontrail", ServicePrincipal, "2020-07-06", "LookupEvents", "Read", "", nil, 2},
	{"Actiontrail", ServicePrincipal, "2020-07-06", "DescribeTrails", "Read", "", nil, 1},
	{"AasSub", "signin.aliyun.com", "", "ConsoleSignin", "Write", "", nil, 3},
}

var (
	seedWeightTotal int
	globalServices  = map[string]bool{"Ram": true, "ResourceManager": true, "Sts": true, "AasSub": true}
	seedRegions     = []string{"cn-hangzhou", "cn-hangzhou", "cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1"}
	seedAgents      = []string{
		"AlibabaCloud (linux; amd64) Go/1.22.4 Core/1.63.107",
		"aliyun-cli/v3.0.204 (darwin; arm64)",
		"Terraform/1.8.5 terraform-provider-alicloud/1.226.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	}
	seedErrors = [][2]string{
		{"Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM."},
		{"InvalidParameter", "The specified parameter is not valid."},
		{"Throttling.User", "Request was denied due to user flow control."},
	}
)

func init() {
	for _, k := range seedCatalog {
		seedWeightTotal += k.weight
	}
}

func randHex(r *rand.Rand, n int) string {
	b := make([]byte, (n+1)/2)
	r.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randUUID(r *rand.Rand) string {
	var b [16]byte
	r.Read(b[:])
	const digits = "0123456789ABCDEF"
	out := make([]byte, 36)
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&15]
		j += 2
	}
	return string(out)
}

// seedActor is one identity making calls in an account.
type seedActor struct {
	identity core.UserIdentity
}

func actorsFor(account string, r *rand.Rand) []seedActor {
	key := func() string { return "LTAI5t" + randHex(r, 18) }
	user := func(name string) seedActor {
		id := "2" + account[1:len(account)-2] + strconv.Itoa(10+r.Intn(90))
		return seedActor{core.UserIdentity{Type: core.PrincipalRAMUser, AccountID: account, PrincipalID: id, UserName: name, AccessKeyID: key(),
			Arn: "acs:ram::" + account + ":user/" + name}}
	}
	role := func(roleName, session string) seedActor {
		roleID := "3" + randDigits(r, 18)
		return seedActor{core.UserIdentity{Type: core.PrincipalAssumedRole, AccountID: account, PrincipalID: roleID + ":" + session,
			AccessKeyID: "STS.NT" + randHex(r, 20), SessionName: session, Arn: "acs:ram::" + account + ":assumed-role/" + roleName + "/" + session}}
	}
	return []seedActor{
		{core.UserIdentity{Type: core.PrincipalRoot, AccountID: account, PrincipalID: account, UserName: "root", AccessKeyID: key(), Arn: "acs:ram::" + account + ":root"}},
		user("ops"), user("ops"), user("dev-alice"), user("ci-bot"), user("ci-bot"), user("ci-bot"), user("auditor"),
		role("ResourceDirectoryAccountAccessRole", "auditwarden"), role("deploy", "github-actions"),
	}
}

func randDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.Intn(10))
	}
	return string(b)
}

// SeedHistory gives each account perDay synthetic records a day over the last days days (a mix
// of services, reads and writes, users, roles and console sign-ins, with a few failures), stored
// as history: no hook runs, so no trail delivers them (backfill does). Deterministic for a given rnd.
func SeedHistory(w *core.World, accounts []string, days, perDay int, rnd *rand.Rand) {
	if days <= 0 || perDay <= 0 {
		return
	}
	now := w.Now().Truncate(time.Second)
	home := w.Region
	if home == "" {
		home = "cn-hangzhou"
	}
	for _, account := range accounts {
		if len(account) < 4 {
			continue // not an account id
		}
		actors := actorsFor(account, rnd)
		evs := make([]*core.Event, 0, days*perDay)
		for d := 0; d < days; d++ {
			dayEnd := now.Add(-time.Duration(d) * 24 * time.Hour)
			for i := 0; i < perDay; i++ {
				at := dayEnd.Add(-time.Duration(rnd.Int63n(int64(24 * time.Hour))))
				evs = append(evs, seedEvent(account, home, at, actors, rnd))
			}
		}
		sort.Slice(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
		w.Recorder.Seed(evs)
	}
}

func pickKind(r *rand.Rand) apiKind {
	n := r.Intn(seedWeightTotal)
	for _, k := range seedCatalog {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return seedCatalog[0]
}

func seedEvent(account, home string, at time.Time, actors []seedActor, r *rand.Rand) *core.Event {
	k := pickKind(r)
	actor := actors[r.Intn(len(actors))]
	region := seedRegions[r.Intn(len(seedRegions))]
	if globalServices[k.service] {
		region = home
	}
	agent := seedAgents[r.Intn(len(seedAgents))]
	eventType := "ApiCall"
	if k.name == "ConsoleSignin" {
		eventType, agent = "ConsoleSignin", seedAgents[len(seedAgents)-1]
		actor = actors[r.Intn(len(actors)-2)] // roles do not sign in with a password
	} else if agent == seedAgents[len(seedAgents)-1] {
		eventType = "ConsoleOperation"
	}
	id := randUUID(r)
	ev := &core.Event{
		EventID: id, EventVersion: "1", EventName: k.name, EventSource: k.source, EventType: eventType, EventRW: k.rw,
		AcsRegion: region, ServiceName: k.service, APIVersion: k.version, RequestID: id,
		SourceIPAddress:    "203.0.113." + strconv.Itoa(1+r.Intn(254)),
		UserAgent:          agent,
		RecipientAccountID: account,
		UserIdentity:       actor.identity,
		RequestParameters:  make(map[string]any, 2),
		Time:               at,
	}
	ev.RequestParameters["RegionId"] = region
	if k.resource != nil {
		ev.ResourceType, ev.ResourceName = k.resourceType, k.resource(r)
		ev.RequestParameters["ResourceId"] = ev.ResourceName
	} else if k.resourceType != "" {
		ev.ResourceType, ev.ResourceName = k.resourceType, account
	}
	if k.name == "ConsoleSignin" {
		ev.RequestParameters = map[string]any{"MFAChecked": strconv.FormatBool(r.Intn(4) != 0)}
	}
	if r.Intn(40) == 0 {
		e := seedErrors[r.Intn(len(seedErrors))]
		ev.ErrorCode, ev.ErrorMessage = e[0], e[1]
	}
	return ev
}
