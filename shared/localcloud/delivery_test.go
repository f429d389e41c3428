package localcloud_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	alioss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	lcoss "github.com/auditwarden/auditwarden/shared/localcloud/oss"
	lcsls "github.com/auditwarden/auditwarden/shared/localcloud/sls"
)

// The end-to-end check, through the official SDKs only: an organization trail delivering to
// SLS and OSS records an API call made inside a member, found by GetLogs in actiontrail_<name> and
// as a gzip JSON object in the bucket.
func TestOrganizationTrailDeliversAMemberCallToSLSAndOSS(t *testing.T) {
	srv := start(t, localcloud.Options{Members: 3, Seed: 31, DeliveryInterval: 20 * time.Millisecond})
	info := srv.Info()
	mgmt := info.ManagementAccountID
	slsc := lcsls.NewTestClient(info.Endpoints.SLS, info.AccessKeyID, info.AccessKeySecret, "")
	if _, err := slsc.CreateProject("org-audit-logs", "trail destination"); err != nil && !strings.Contains(err.Error(), "ProjectAlreadyExist") {
		t.Fatal(err)
	}
	ossc, err := lcoss.NewTestClient(info.Endpoints.OSS, info.AccessKeyID, info.AccessKeySecret, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ossc.CreateBucket("org-audit-archive", alioss.ACL(alioss.ACLPrivate)); err != nil {
		t.Fatal(err)
	}

	at, _ := actiontrail.NewClientWithAccessKey(info.Region, info.AccessKeyID, info.AccessKeySecret)
	at.Domain = info.Endpoints.ActionTrail
	create := actiontrail.CreateCreateTrailRequest()
	create.Name = "org-audit"
	create.EventRW = "All"
	create.IsOrganizationTrail = "true"
	create.SlsProjectArn = "acs:log:" + info.Region + ":" + mgmt + ":project/org-audit-logs"
	create.OssBucketName = "org-audit-archive"
	create.OssKeyPrefix = "audit-prefix"
	if _, err := at.CreateTrail(create); err != nil {
		t.Fatal(err)
	}
	startReq := actiontrail.CreateStartLoggingRequest()
	startReq.Name = "org-audit"
	if _, err := at.StartLogging(startReq); err != nil {
		t.Fatal(err)
	}
	status := actiontrail.CreateGetTrailStatusRequest()
	status.Name = "org-audit"
	if st, err := at.GetTrailStatus(status); err != nil || !st.IsLogging {
		t.Fatalf("trail status %+v %v", st, err)
	}

	// A call made inside a member, with the member's own key.
	member := srv.Seeded.Members[0]
	mram, _ := ram.NewClientWithAccessKey(info.Region, member.Key.ID, member.Key.Secret)
	mram.Domain = info.Endpoints.RAM
	cr := ram.CreateCreateRoleRequest()
	cr.RoleName = "made-in-member"
	cr.AssumeRolePolicyDocument = core.TrustPolicyForAccounts(member.AccountID)
	if _, err := mram.CreateRole(cr); err != nil {
		t.Fatal(err)
	}

	var found map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for found == nil && time.Now().Before(deadline) {
		srv.ActionTrail.Flush()
		resp, err := slsc.GetLogs("org-audit-logs", "actiontrail_org-audit", "", time.Now().Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix(),
			"event.eventName: CreateRole", 100, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range resp.Logs {
			if strings.Contains(l["event"], member.AccountID) && strings.Contains(l["event"], "made-in-member") {
				found = l
			}
		}
		if found == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if found == nil {
		t.Fatal("the member's CreateRole never reached actiontrail_org-audit")
	}
	var rec struct {
		EventName          string `json:"eventName"`
		RecipientAccountID string `json:"recipientAccountId"`
		UserIdentity       struct {
			AccountID string `json:"accountId"`
		} `json:"userIdentity"`
	}
	if err := json.Unmarshal([]byte(found["event"]), &rec); err != nil || rec.RecipientAccountID != member.AccountID || rec.UserIdentity.AccountID != member.AccountID {
		t.Fatalf("record %s (%v)", found["event"], err)
	}
	// Writes into the trail's Logstore are refused to callers, as for the real service.
	lg := &slssdk.LogGroup{Logs: []*slssdk.Log{{Time: proto32(time.Now()), Contents: []*slssdk.LogContent{{Key: strp("k"), Value: strp("v")}}}}}
	if err := slsc.PutLogs("org-audit-logs", "actiontrail_org-audit", lg); err == nil {
		t.Fatal("a caller wrote into actiontrail_org-audit")
	}

	srv.ActionTrail.Flush()
	bucket, _ := ossc.Bucket("org-audit-archive")
	var objectHasIt bool
	res, err := bucket.ListObjectsV2(alioss.Prefix("audit-prefix/AliyunLogs/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range res.Objects {
		body, err := bucket.GetObject(obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(body)
		body.Close()
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s is not gzip: %v", obj.Key, err)
		}
		text, _ := io.ReadAll(zr)
		if strings.Contains(string(text), "made-in-member") {
			objectHasIt = true
		}
	}
	if !objectHasIt {
		t.Fatalf("no object under audit-prefix/AliyunLogs/ holds the record (%d objects)", len(res.Objects))
	}
}

func proto32(t time.Time) *uint32 { v := uint32(t.Unix()); return &v }
func strp(s string) *string       { return &s }
