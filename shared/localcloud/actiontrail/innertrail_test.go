package actiontrail

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func TestInnerTrailShipsTheAccountsOSSOperations(t *testing.T) {
	f := newFixture(t, Options{})
	mgmt := f.w.ManagementAccountID
	f.sls.addProject(mgmt, "audit-central")
	f.sls.addProject(f.member, "member-logs")

	for _, tc := range []struct {
		account, project, name, want string
	}{
		{mgmt, "no-such-project", "platform-ops", "does not exist"},
		{mgmt, "member-logs", "platform-ops", "owned by account"},
		{mgmt, "audit-central", "Bad Name", "name"},
	} {
		if err := f.svc.EnableInnerTrail(tc.account, tc.project, tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("EnableInnerTrail(%s, %s): %v, want %q", tc.project, tc.name, err, tc.want)
		}
	}
	if err := f.svc.EnableInnerTrail(mgmt, "audit-central", "platform-ops"); err != nil {
		t.Fatal(err)
	}
	if ttl, ok := f.sls.ttl("audit-central", "innertrail_platform-ops"); !ok || ttl != 180 {
		t.Fatalf("innertrail Logstore ttl %d %v", ttl, ok)
	}
	op := core.OSSOperation{Time: f.clock.Now(), Account: mgmt, Caller: core.Principal{AccountID: mgmt, Type: core.PrincipalRoot},
		Bucket: "audit-archive", Key: "a/b.txt", Operation: "PutObject", Method: "PUT", Status: 200, RequestID: "REQ-1", SourceIP: "192.0.2.7", Bytes: 42}
	f.w.Recorder.EmitOSSOperation(op)
	f.w.Recorder.EmitOSSOperation(core.OSSOperation{Account: f.member, Bucket: "other", Operation: "GetObject"}) // not enabled there

	// Not writable: kept, reported, delivered once fixed.
	f.sls.setWriteErr(errors.New("Unauthorized"))
	f.svc.Flush()
	if st, _ := f.svc.InnerTrail(mgmt); st.Pending != 1 || !strings.Contains(st.LatestError, "Unauthorized") {
		t.Fatalf("status while failing = %+v", st)
	}
	f.sls.setWriteErr(nil)
	f.svc.Flush()
	logs := f.sls.written("audit-central", "innertrail_platform-ops")
	if len(logs) != 1 {
		t.Fatalf("%d innertrail logs", len(logs))
	}
	fields := map[string]string{}
	for _, kv := range logs[0].log.Contents {
		fields[kv[0]] = kv[1]
	}
	if fields["EventID"] != "REQ-1" || fields["EventProduct"] != "OSS" || fields["EventName"] != "PutObject" ||
		fields["ResourceID"] != "audit-archive/a/b.txt" || fields["ResourceOwnerID"] != mgmt || fields["EventVersion"] != "1.0.0" ||
		fields["EventTime"] != op.Time.UTC().Format(core.EventTimeFormat) || !strings.Contains(fields["EventAdditionalDetail"], `"status":200`) {
		t.Fatalf("fields = %v", fields)
	}
	if st, ok := f.svc.InnerTrail(mgmt); !ok || st.Pending != 0 || st.LatestError != "" || st.LatestDeliveryTime == "" {
		t.Fatalf("status = %+v", st)
	}

	// Enabling again resets the TTL to 180 days; disabling stops shipping.
	f.sls.mu.Lock()
	f.sls.stores["audit-central/innertrail_platform-ops"] = 7
	f.sls.mu.Unlock()
	if err := f.svc.EnableInnerTrail(mgmt, "audit-central", "platform-ops"); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := f.sls.ttl("audit-central", "innertrail_platform-ops"); ttl != 180 {
		t.Fatalf("ttl after re-enable %d", ttl)
	}
	if err := f.svc.DisableInnerTrail(mgmt); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DisableInnerTrail(mgmt); err == nil {
		t.Fatal("disabling twice succeeded")
	}
	f.w.Recorder.EmitOSSOperation(op)
	f.svc.Flush()
	if n := len(f.sls.written("audit-central", "innertrail_platform-ops")); n != 1 {
		t.Fatalf("%d logs after disable", n)
	}
}
