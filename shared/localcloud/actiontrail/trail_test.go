package actiontrail

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	atsdk "github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func TestCreateTrailValidationErrors(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.sls.addProject(f.outsider, "foreign-logs")
	f.oss.setBucket("audit-archive", mgmt)
	f.oss.setBucket("foreign-bucket", f.outsider)
	untrusted := f.roleTrusting(f.outsider, "no-trust", "ecs.aliyuncs.com")
	trusted := f.roleTrusting(f.outsider, "at-writer", ServicePrincipal)
	c := f.client(t, f.mgmt)

	if _, err := c.CreateTrail(func() *atsdk.CreateTrailRequest {
		r := createReq("existing-trail")
		r.SlsProjectArn = slsARN(mgmt, "audit-central")
		return r
	}()); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		edit   func(r *atsdk.CreateTrailRequest)
		code   string
		status int
	}{
		{"name too short", func(r *atsdk.CreateTrailRequest) { r.Name = "abc" }, "InvalidTrailNameException", 400},
		{"name too long", func(r *atsdk.CreateTrailRequest) { r.Name = "a" + strings.Repeat("b", 36) }, "InvalidTrailNameException", 400},
		{"name starts with a digit", func(r *atsdk.CreateTrailRequest) { r.Name = "1trail-x" }, "InvalidTrailNameException", 400},
		{"name with upper case", func(r *atsdk.CreateTrailRequest) { r.Name = "trailName" }, "InvalidTrailNameException", 400},
		{"name with a dot", func(r *atsdk.CreateTrailRequest) { r.Name = "trail.name" }, "InvalidTrailNameException", 400},
		{"prefix too short", func(r *atsdk.CreateTrailRequest) { r.OssBucketName, r.OssKeyPrefix = "audit-archive", "abc" }, "InvalidPrefixException", 400},
		{"prefix starts with a digit", func(r *atsdk.CreateTrailRequest) { r.OssBucketName, r.OssKeyPrefix = "audit-archive", "1logs-prefix" }, "InvalidPrefixException", 400},
		{"prefix too long", func(r *atsdk.CreateTrailRequest) {
			r.OssBucketName, r.OssKeyPrefix = "audit-archive", "p"+strings.Repeat("x", 32)
		}, "InvalidPrefixException", 400},
		{"no destination", func(r *atsdk.CreateTrailRequest) { r.SlsProjectArn = "" }, "InvalidDeliveryConfigurationException", 400},
		{"malformed project ARN", func(r *atsdk.CreateTrailRequest) { r.SlsProjectArn = "acs:log:cn-hangzhou:" + mgmt + ":logstore/x" }, "InvalidDeliveryConfigurationException", 400},
		{"bad EventRW", func(r *atsdk.CreateTrailRequest) { r.EventRW = "Everything" }, "InvalidQueryParameter", 400},
		{"bad TrailRegion", func(r *atsdk.CreateTrailRequest) { r.TrailRegion = "Hangzhou!" }, "InvalidQueryParameter", 400},
		{"missing project", func(r *atsdk.CreateTrailRequest) { r.SlsProjectArn = slsARN(mgmt, "no-such-project") }, "SlsProjectDoesNotExistException", 400},
		{"project in another account than the ARN says", func(r *atsdk.CreateTrailRequest) { r.SlsProjectArn = slsARN(mgmt, "foreign-logs") }, "SlsProjectDoesNotExistException", 400},
		{"missing bucket", func(r *atsdk.CreateTrailRequest) { r.OssBucketName = "no-such-bucket" }, "BucketDoesNotExistException", 404},
		{"cross-account project without role", func(r *atsdk.CreateTrailRequest) { r.SlsProjectArn = slsARN(f.outsider, "foreign-logs") }, "InsufficientSlsPolicyException", 403},
		{"cross-account project, role not trusting ActionTrail", func(r *atsdk.CreateTrailRequest) {
			r.SlsProjectArn, r.SlsWriteRoleArn = slsARN(f.outsider, "foreign-logs"), untrusted
		}, "InsufficientSlsPolicyException", 403},
		{"cross-account project, role missing", func(r *atsdk.CreateTrailRequest) {
			r.SlsProjectArn, r.SlsWriteRoleArn = slsARN(f.outsider, "foreign-logs"), "acs:ram::"+f.outsider+":role/ghost"
		}, "InsufficientSlsPolicyException", 403},
		{"cross-account project, role in the wrong account", func(r *atsdk.CreateTrailRequest) {
			r.SlsProjectArn, r.SlsWriteRoleArn = slsARN(f.outsider, "foreign-logs"), serviceLinkedRoleARN(mgmt)
		}, "InsufficientSlsPolicyException", 403},
		{"cross-account bucket without role", func(r *atsdk.CreateTrailRequest) { r.SlsProjectArn, r.OssBucketName = "", "foreign-bucket" }, "InsufficientBucketPolicyException", 403},
		{"cross-account bucket, untrusted role", func(r *atsdk.CreateTrailRequest) {
			r.SlsProjectArn, r.OssBucketName, r.OssWriteRoleArn = "", "foreign-bucket", untrusted
		}, "InsufficientBucketPolicyException", 403},
		{"name taken", func(r *atsdk.CreateTrailRequest) { r.Name = "existing-trail" }, "TrailAlreadyExistsException", 400},
		{"member may not create an organization trail", nil, "NotAllowCreateOrganizationTrail", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := createReq("valid-trail")
			r.SlsProjectArn = slsARN(mgmt, "audit-central")
			client := c
			if tc.edit != nil {
				tc.edit(r)
			} else {
				client = f.client(t, f.memberAK)
				r.IsOrganizationTrail = requests.NewBoolean(true)
				r.SlsProjectArn = ""
				r.OssBucketName = "audit-archive"
			}
			_, err := client.CreateTrail(r)
			mustCode(t, err, tc.code, tc.status)
		})
	}

	// Cross-account delivery with a trusting role in the destination account works.
	r := createReq("cross-account")
	r.SlsProjectArn, r.SlsWriteRoleArn = slsARN(f.outsider, "foreign-logs"), trusted
	r.OssBucketName, r.OssWriteRoleArn = "foreign-bucket", trusted
	resp, err := c.CreateTrail(r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.SlsWriteRoleArn != trusted || resp.OssWriteRoleArn != trusted {
		t.Fatalf("cross-account roles = %q %q", resp.SlsWriteRoleArn, resp.OssWriteRoleArn)
	}
	if _, ok := f.sls.ttl("foreign-logs", "actiontrail_cross-account"); !ok {
		t.Fatal("the Logstore was not created in the destination project")
	}
}

func TestTrailLifecycleThroughSDK(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.oss.setBucket("audit-archive", mgmt)
	c := f.client(t, f.mgmt)

	r := createReq("org-audit")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	r.OssBucketName, r.OssKeyPrefix = "audit-archive", "actiontrail"
	r.EventRW = "All"
	created, err := c.CreateTrail(r)
	if err != nil {
		t.Fatal(err)
	}
	slr := "acs:ram::" + mgmt + ":role/aliyunserviceroleforactiontrail"
	if created.Name != "org-audit" || created.HomeRegion != "cn-hangzhou" || created.TrailRegion != "All" || created.EventRW != "All" ||
		created.SlsWriteRoleArn != slr || created.OssWriteRoleArn != slr || created.OssKeyPrefix != "actiontrail" {
		t.Fatalf("CreateTrail response = %+v", created)
	}
	// Same-account delivery made the service-linked role implicitly, as the console does.
	f.w.Mu.RLock()
	_, hasRole := f.w.Roles[mgmt]["aliyunserviceroleforactiontrail"]
	slrFlag := f.w.ServiceLinkedRoles[mgmt][ServicePrincipal]
	f.w.Mu.RUnlock()
	if !hasRole || !slrFlag {
		t.Fatal("service-linked role not created")
	}
	if ttl, ok := f.sls.ttl("audit-central", "actiontrail_org-audit"); !ok || ttl != 180 {
		t.Fatalf("Logstore ttl = %d, %v", ttl, ok)
	}
	// The owner raises retention (CIS 2.23); starting the trail must not shorten it again.
	f.sls.mu.Lock()
	f.sls.stores["audit-central/actiontrail_org-audit"] = 365
	f.sls.mu.Unlock()

	d := atsdk.CreateDescribeTrailsRequest()
	list, err := c.DescribeTrails(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.TrailList) != 1 {
		t.Fatalf("TrailList = %+v", list.TrailList)
	}
	tr := list.TrailList[0]
	if tr.Status != "Fresh" || tr.IsShadowTrail != 0 || tr.IsOrganizationTrail || tr.Region != "cn-hangzhou" ||
		tr.TrailArn != "acs:actiontrail:cn-hangzhou:"+mgmt+":trail/org-audit" || tr.CreateTime == "" || tr.StartLoggingTime != "" ||
		tr.OssBucketLocation != "oss-cn-hangzhou" {
		t.Fatalf("trail = %+v", tr)
	}

	st := atsdk.CreateGetTrailStatusRequest()
	st.Name = "org-audit"
	status, err := c.GetTrailStatus(st)
	if err != nil {
		t.Fatal(err)
	}
	if status.IsLogging || !status.SlsLogStoreStatus || !status.OssBucketStatus {
		t.Fatalf("fresh status = %+v", status)
	}

	start := atsdk.CreateStartLoggingRequest()
	start.Name = "org-audit"
	if _, err := c.StartLogging(start); err != nil {
		t.Fatal(err)
	}
	status, _ = c.GetTrailStatus(st)
	if !status.IsLogging || status.StartLoggingTime == "" {
		t.Fatalf("started status = %+v", status)
	}
	if ttl, _ := f.sls.ttl("audit-central", "actiontrail_org-audit"); ttl != 365 {
		t.Fatalf("StartLogging changed the Logstore retention to %d", ttl)
	}

	up := atsdk.CreateUpdateTrailRequest()
	up.Name, up.EventRW, up.TrailRegion = "org-audit", "Write", "cn-hangzhou"
	updated, err := c.UpdateTrail(up)
	if err != nil {
		t.Fatal(err)
	}
	if updated.EventRW != "Write" || updated.TrailRegion != "cn-hangzhou" || updated.SlsProjectArn != slsARN(mgmt, "audit-central") || updated.OssBucketName != "audit-archive" {
		t.Fatalf("UpdateTrail kept/changed wrongly: %+v", updated)
	}

	stop := atsdk.CreateStopLoggingRequest()
	stop.Name = "org-audit"
	if _, err := c.StopLogging(stop); err != nil {
		t.Fatal(err)
	}
	if m := f.method("StopLogging"); m != "GET" {
		t.Fatalf("StopLogging travelled as %s, want GET", m)
	}
	if m := f.method("StartLogging"); m != "POST" {
		t.Fatalf("StartLogging travelled as %s, want POST", m)
	}
	list, _ = c.DescribeTrails(d)
	if list.TrailList[0].Status != "Disable" || list.TrailList[0].StopLoggingTime == "" {
		t.Fatalf("stopped trail = %+v", list.TrailList[0])
	}

	d.NameList = "nobody-here, another-one"
	if list, err = c.DescribeTrails(d); err != nil || len(list.TrailList) != 0 {
		t.Fatalf("unknown names: %+v %v", list, err)
	}

	del := atsdk.CreateDeleteTrailRequest()
	del.Name = "org-audit"
	if _, err := c.DeleteTrail(del); err != nil {
		t.Fatal(err)
	}
	// Every action on a missing trail answers 404 TrailNotFoundException.
	_, err = c.DeleteTrail(del)
	mustCode(t, err, "TrailNotFoundException", 404)
	_, err = c.StartLogging(start)
	mustCode(t, err, "TrailNotFoundException", 404)
	_, err = c.StopLogging(stop)
	mustCode(t, err, "TrailNotFoundException", 404)
	_, err = c.GetTrailStatus(st)
	mustCode(t, err, "TrailNotFoundException", 404)
	_, err = c.UpdateTrail(up)
	mustCode(t, err, "TrailNotFoundException", 404)

	// The trail calls left records naming the trail in the caller's history.
	evs := f.w.Recorder.Window(mgmt, f.clock.Now().Add(-time.Minute), f.clock.Now().Add(time.Minute))
	names := map[string]bool{}
	for _, ev := range evs {
		if ev.ErrorCode == "" {
			names[ev.EventName] = true
			if ev.ResourceName != "org-audit" || ev.ResourceType != "ACS::ActionTrail::Trail" {
				t.Fatalf("record %s names %q %q", ev.EventName, ev.ResourceType, ev.ResourceName)
			}
		}
	}
	for _, n := range []string{"CreateTrail", "StartLogging", "UpdateTrail", "StopLogging", "DeleteTrail"} {
		if !names[n] {
			t.Fatalf("no record of %s in %v", n, names)
		}
	}
}

func TestTrailQuotaPerRegion(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	c := f.client(t, f.mgmt)
	mk := func(client *atsdk.Client, name string, org bool) error {
		r := createReq(name)
		r.SlsProjectArn = slsARN(mgmt, "audit-central")
		if org {
			r.IsOrganizationTrail = requests.NewBoolean(true)
		}
		_, err := client.CreateTrail(r)
		return err
	}
	for i := 1; i <= 5; i++ {
		if err := mk(c, "trail-"+string(rune('a'+i)), false); err != nil {
			t.Fatalf("trail %d: %v", i, err)
		}
	}
	mustCode(t, mk(c, "trail-six", false), "MaximumNumberOfTrailsExceededException", 403)
	// The multi-account trail is counted apart, and another region has its own five.
	if err := mk(c, "org-trail", true); err != nil {
		t.Fatal(err)
	}
	if err := mk(f.regionClient(t, f.mgmt, "cn-shanghai"), "trail-shanghai", false); err != nil {
		t.Fatal(err)
	}
	// Names are unique in the account across regions.
	mustCode(t, mk(f.regionClient(t, f.mgmt, "cn-shanghai"), "trail-b", false), "TrailAlreadyExistsException", 400)
}

func TestOrganizationTrailRules(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	admin := core.NewAccountID()
	f.w.Mu.Lock()
	a := f.w.AddAccountLocked(admin, "log-admin", "ResourceAccount")
	f.w.JoinDirectoryLocked(a, f.w.Directory.RootFolderID, "CreateSuccess", "created")
	f.w.Mu.Unlock()
	adminKey := f.newKey(admin)
	f.sls.addProject(admin, "admin-logs")

	org := func(client *atsdk.Client, name, project, owner string) error {
		r := createReq(name)
		r.IsOrganizationTrail = requests.NewBoolean(true)
		r.SlsProjectArn = slsARN(owner, project)
		_, err := client.CreateTrail(r)
		return err
	}
	// A member that is not a delegated administrator is refused; so is an account outside the directory.
	f.sls.addProject(f.member, "member-logs")
	mustCode(t, org(f.client(t, f.memberAK), "member-org", "member-logs", f.member), "NotAllowCreateOrganizationTrail", 400)
	f.sls.addProject(f.outsider, "outsider-logs")
	mustCode(t, org(f.client(t, f.outAK), "outsider-org", "outsider-logs", f.outsider), "NotAllowCreateOrganizationTrail", 400)

	// A delegated administrator of actiontrail.aliyuncs.com may.
	mustCode(t, org(f.client(t, adminKey), "admin-org", "admin-logs", admin), "NotAllowCreateOrganizationTrail", 400)
	f.w.Mu.Lock()
	f.w.DelegatedAdmins[ServicePrincipal] = map[string]time.Time{admin: f.clock.Now()}
	f.w.Mu.Unlock()
	if err := org(f.client(t, adminKey), "admin-org", "admin-logs", admin); err != nil {
		t.Fatal(err)
	}
	// Only one multi-account trail per directory, whoever asks.
	mustCode(t, org(f.client(t, f.mgmt), "mgmt-org", "audit-central", mgmt), "MaximumNumberOfOrganizationTrailExceeded", 400)

	describe := func(key *core.AccessKey, region string, includeOrg, includeShadow bool) []atsdk.Trail {
		t.Helper()
		d := atsdk.CreateDescribeTrailsRequest()
		if includeOrg {
			d.IncludeOrganizationTrail = requests.NewBoolean(true)
		}
		if includeShadow {
			d.IncludeShadowTrails = requests.NewBoolean(true)
		}
		resp, err := f.regionClient(t, key, region).DescribeTrails(d)
		if err != nil {
			t.Fatal(err)
		}
		return resp.TrailList
	}
	// The owner sees its trail; a covered member only with IncludeOrganizationTrail; an outsider never.
	if l := describe(adminKey, "cn-hangzhou", false, false); len(l) != 1 || !l[0].IsOrganizationTrail {
		t.Fatalf("owner view = %+v", l)
	}
	if l := describe(f.memberAK, "cn-hangzhou", false, false); len(l) != 0 {
		t.Fatalf("member without IncludeOrganizationTrail sees %+v", l)
	}
	l := describe(f.memberAK, "cn-hangzhou", true, false)
	f.w.Mu.RLock()
	rd := f.w.Directory.ResourceDirectoryID
	f.w.Mu.RUnlock()
	if len(l) != 1 || l[0].Name != "admin-org" || !l[0].IsOrganizationTrail || l[0].OrganizationId != rd || l[0].IsShadowTrail != 0 ||
		l[0].TrailArn != "acs:actiontrail:cn-hangzhou:"+admin+":trail/admin-org" {
		t.Fatalf("member with IncludeOrganizationTrail sees %+v", l)
	}
	if l := describe(f.mgmt, "cn-hangzhou", true, false); len(l) != 1 {
		t.Fatalf("management account (covered) sees %+v", l)
	}
	if l := describe(f.outAK, "cn-hangzhou", true, true); len(l) != 0 {
		t.Fatalf("outsider sees %+v", l)
	}
	// In another region the trail is a shadow trail, shown only with IncludeShadowTrails.
	if l := describe(f.memberAK, "cn-shanghai", true, false); len(l) != 0 {
		t.Fatalf("shadow without IncludeShadowTrails: %+v", l)
	}
	if l := describe(f.memberAK, "cn-shanghai", true, true); len(l) != 1 || l[0].IsShadowTrail != 1 || l[0].Region != "cn-shanghai" || l[0].HomeRegion != "cn-hangzhou" {
		t.Fatalf("shadow view = %+v", l)
	}

	// A member reads the trail's status with IsOrganizationTrail, but cannot stop it.
	st := atsdk.CreateGetTrailStatusRequest()
	st.Name = "admin-org"
	_, err := f.client(t, f.memberAK).GetTrailStatus(st)
	mustCode(t, err, "TrailNotFoundException", 404)
	st.IsOrganizationTrail = requests.NewBoolean(true)
	if _, err := f.client(t, f.memberAK).GetTrailStatus(st); err != nil {
		t.Fatal(err)
	}
	stop := atsdk.CreateStopLoggingRequest()
	stop.Name = "admin-org"
	_, err = f.client(t, f.memberAK).StopLogging(stop)
	mustCode(t, err, "TrailNotFoundException", 404)
}

func TestShadowTrailsOfOwnTrails(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	for _, tc := range []struct{ name, region string }{{"all-regions", "All"}, {"only-beijing", "cn-beijing"}} {
		r := createReq(tc.name)
		r.SlsProjectArn, r.TrailRegion = slsARN(mgmt, "audit-central"), tc.region
		if _, err := f.client(t, f.mgmt).CreateTrail(r); err != nil {
			t.Fatal(err)
		}
	}
	sh := f.regionClient(t, f.mgmt, "cn-shanghai")
	d := atsdk.CreateDescribeTrailsRequest()
	if resp, err := sh.DescribeTrails(d); err != nil || len(resp.TrailList) != 0 {
		t.Fatalf("cn-shanghai without shadows: %+v %v", resp, err)
	}
	d.IncludeShadowTrails = requests.NewBoolean(true)
	resp, err := sh.DescribeTrails(d)
	if err != nil {
		t.Fatal(err)
	}
	// Only the trail covering cn-shanghai has a shadow there.
	if len(resp.TrailList) != 1 || resp.TrailList[0].Name != "all-regions" || resp.TrailList[0].IsShadowTrail != 1 {
		t.Fatalf("shadows = %+v", resp.TrailList)
	}
	// Trail actions are regional: the home region's trail is not found elsewhere.
	st := atsdk.CreateGetTrailStatusRequest()
	st.Name = "all-regions"
	_, err = sh.GetTrailStatus(st)
	mustCode(t, err, "TrailNotFoundException", 404)
}

func TestMaxComputeDestinationIsAcceptedAndEchoed(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	c := f.client(t, f.mgmt)
	common := func(action string, params map[string]string) (map[string]any, error) {
		req := requests.NewCommonRequest()
		req.Method = "POST"
		req.Scheme = "http"
		req.Domain = f.host()
		req.Version = "2020-07-06"
		req.ApiName = action
		req.Product = "Actiontrail"
		for k, v := range params {
			req.QueryParams[k] = v
		}
		resp, err := c.ProcessCommonRequest(req)
		if err != nil {
			return nil, err
		}
		var out map[string]any
		return out, json.Unmarshal(resp.GetHttpContentBytes(), &out)
	}
	odps := "acs:odps:cn-hangzhou:" + mgmt + ":project/actiontrail_" + mgmt
	role := "acs:ram::" + mgmt + ":role/aliyunserviceroleforactiontrail"
	if _, err := common("CreateTrail", map[string]string{"Name": "to-maxcompute", "MaxComputeProjectArn": odps, "MaxComputeWriteRoleArn": role}); err != nil {
		t.Fatal(err)
	}
	_, err := common("CreateTrail", map[string]string{"Name": "bad-maxcompute", "MaxComputeProjectArn": "acs:odps:cn-hangzhou:" + mgmt + ":table/x"})
	mustCode(t, err, "InvalidDeliveryConfigurationException", 400)
	out, err := common("DescribeTrails", map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := out["TrailList"].([]any)
	if len(list) != 1 {
		t.Fatalf("TrailList = %v", out)
	}
	tr := list[0].(map[string]any)
	if tr["MaxComputeProjectArn"] != odps || tr["MaxComputeWriteRoleArn"] != role {
		t.Fatalf("trail = %v", tr)
	}
}

func TestUpdateTrailValidation(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.oss.setBucket("audit-archive", mgmt)
	c := f.client(t, f.mgmt)
	r := createReq("to-update")
	r.SlsProjectArn = slsARN(mgmt, "audit-central")
	if _, err := c.CreateTrail(r); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		edit   func(u *atsdk.UpdateTrailRequest)
		code   string
		status int
	}{
		{"bad name", func(u *atsdk.UpdateTrailRequest) { u.Name = "Bad" }, "InvalidTrailNameException", 400},
		{"unknown trail", func(u *atsdk.UpdateTrailRequest) { u.Name = "not-a-trail" }, "TrailNotFoundException", 404},
		{"bad prefix", func(u *atsdk.UpdateTrailRequest) { u.OssBucketName, u.OssKeyPrefix = "audit-archive", "9lives-x" }, "InvalidPrefixException", 400},
		{"missing bucket", func(u *atsdk.UpdateTrailRequest) { u.OssBucketName = "gone-bucket" }, "BucketDoesNotExistException", 404},
		{"missing project", func(u *atsdk.UpdateTrailRequest) { u.SlsProjectArn = slsARN(mgmt, "gone-project") }, "SlsProjectDoesNotExistException", 400},
		{"bad EventRW", func(u *atsdk.UpdateTrailRequest) { u.EventRW = "write" }, "InvalidQueryParameter", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := atsdk.CreateUpdateTrailRequest()
			u.Name = "to-update"
			tc.edit(u)
			_, err := c.UpdateTrail(u)
			mustCode(t, err, tc.code, tc.status)
		})
	}
	// Adding OSS to an SLS trail keeps SLS and gives OSS the service-linked role.
	u := atsdk.CreateUpdateTrailRequest()
	u.Name, u.OssBucketName, u.OssKeyPrefix = "to-update", "audit-archive", "trail-logs"
	resp, err := c.UpdateTrail(u)
	if err != nil {
		t.Fatal(err)
	}
	if resp.SlsProjectArn != slsARN(mgmt, "audit-central") || resp.OssWriteRoleArn != serviceLinkedRoleARN(mgmt) || resp.OssKeyPrefix != "trail-logs" {
		t.Fatalf("update = %+v", resp)
	}
}
