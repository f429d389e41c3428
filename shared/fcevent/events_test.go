package fcevent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/fcevent"
	"github.com/auditwarden/auditwarden/shared/policy"
)

// eventsDir holds the sample payloads the demo and the function tests replay.
const eventsDir = "../../events"

type sampleWant struct {
	// EventBridge
	kind     fcevent.Kind
	account  string
	accounts []string
	// timer
	mode fcevent.Mode
	// HTTP
	method, path string
	authed       bool
	query        string                       // encoded query
	body         func(t *testing.T, b []byte) // checks the decoded body
}

const (
	dev     = "5234567890123001"
	cloud   = "5234567890123002"
	guest   = "5234567890123003"
	scratch = "5234567890123004"
)

var samples = map[string]sampleWant{
	"timer-full.json":        {mode: fcevent.ModeFull},
	"timer-incremental.json": {mode: fcevent.ModeIncremental},

	"eventbridge-CreateResourceAccount.json":  {kind: fcevent.Enrol, account: dev},
	"eventbridge-CreateCloudAccount.json":     {kind: fcevent.Enrol, account: cloud},
	"eventbridge-AcceptHandshake.json":        {kind: fcevent.Enrol, account: guest},
	"eventbridge-PromoteResourceAccount.json": {kind: fcevent.Enrol, account: dev},
	"eventbridge-RemoveCloudAccount.json":     {kind: fcevent.Offboard, account: guest},
	"eventbridge-DeleteAccount.json":          {kind: fcevent.Offboard, account: scratch},
	"eventbridge-MoveAccount.json":            {kind: fcevent.Reevaluate, account: dev},
	"eventbridge-UpdateAccount.json":          {kind: fcevent.Reevaluate, account: dev},
	"eventbridge-TagResources.json":           {kind: fcevent.Reevaluate, account: dev, accounts: []string{dev, scratch}},
	"eventbridge-MoveAccount-failed.json":     {kind: fcevent.Ignore},
	"eventbridge-ecs-CreateInstance.json":     {kind: fcevent.Ignore},
	"eventbridge-rds-DeleteAccount.json":      {kind: fcevent.Ignore}, // same name, another service

	"http-get-root.json":   {method: "GET", path: "/"},
	"http-get-status.json": {method: "GET", path: "/v1/status"},
	"http-get-plan.json":   {method: "GET", path: "/v1/plan", authed: true},
	"http-post-setup.json": {method: "POST", path: "/v1/setup", authed: true, body: func(t *testing.T, b []byte) {
		if _, err := policy.Parse(b); err != nil {
			t.Fatalf("setup body is not a valid policy: %v", err)
		}
	}},
	"http-post-member-enroll.json": {method: "POST", path: "/v1/members/" + dev + "/enroll", authed: true},
	"http-delete-member.json":      {method: "DELETE", path: "/v1/members/" + guest, authed: true},
	"http-post-custom-auth.json": {method: "POST", path: "/v1/log-audit/custom-auth", authed: true, body: func(t *testing.T, b []byte) {
		var req struct{ AccountID, AccessKeyID, AccessKeySecret string }
		if err := json.Unmarshal(b, &req); err != nil || req.AccountID == "" || !strings.Contains(req.AccessKeyID, "FAKE") ||
			!strings.Contains(req.AccessKeySecret, "fake") {
			t.Fatalf("custom-auth body must carry an account and obviously fake keys: %s", b)
		}
	}},
	"http-post-backfill.json": {method: "POST", path: "/v1/backfill", authed: true, body: func(t *testing.T, b []byte) {
		if !strings.Contains(string(b), dev) {
			t.Fatalf("backfill body must name the member: %s", b)
		}
	}},
	"http-get-backfill.json": {method: "GET", path: "/v1/backfill", query: "accountId=" + dev},
}

func TestSampleEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s (%v)", eventsDir, err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := samples[name]
			if !ok {
				t.Fatalf("no expectation for %s: add it to the samples table", name)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasPrefix(name, "timer-"):
				ev, err := fcevent.DecodeTimer(raw)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Request.Mode != want.mode || ev.TriggerName == "" || ev.TriggerTime.IsZero() {
					t.Fatalf("timer = %+v, want mode %s with trigger name and time", ev, want.mode)
				}
			case strings.HasPrefix(name, "eventbridge-"):
				ev, err := fcevent.DecodeCloudEvent(raw)
				if err != nil {
					t.Fatal(err)
				}
				in, err := fcevent.MembershipIntent(ev)
				if err != nil {
					t.Fatal(err)
				}
				if in.Kind != want.kind || in.AccountID != want.account || in.Reason == "" || in.EventID == "" || in.EventTime.IsZero() {
					t.Fatalf("intent = %+v, want %s %q", in, want.kind, want.account)
				}
				wantIDs := want.accounts
				if wantIDs == nil && want.account != "" {
					wantIDs = []string{want.account}
				}
				if strings.Join(in.AccountIDs, ",") != strings.Join(wantIDs, ",") {
					t.Fatalf("AccountIDs = %v, want %v", in.AccountIDs, wantIDs)
				}
				// Every sample names its event in the file name, so the table cannot drift from the data.
				if !strings.Contains(name, "-"+in.EventName) {
					t.Fatalf("file %s holds a %s event", name, in.EventName)
				}
			case strings.HasPrefix(name, "http-"):
				req, err := fcevent.DecodeHTTP(raw)
				if err != nil {
					t.Fatal(err)
				}
				if req.Method != want.method || req.Path != want.path || req.Authenticated != want.authed ||
					req.Query.Encode() != want.query || req.RequestID == "" || req.SourceIP == "" || req.Host == "" {
					t.Fatalf("request = %s %s authed=%v query=%q id=%q ip=%q host=%q, want %s %s authed=%v query=%q",
						req.Method, req.Path, req.Authenticated, req.Query.Encode(), req.RequestID, req.SourceIP, req.Host,
						want.method, want.path, want.authed, want.query)
				}
				if want.body != nil {
					want.body(t, req.Body)
				} else if len(req.Body) != 0 {
					t.Fatalf("unexpected body %q", req.Body)
				}
			default:
				t.Fatalf("%s: unknown sample kind (want timer-, eventbridge- or http- prefix)", name)
			}
		})
	}
	var missing []string
	for name := range samples {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("expected samples missing from %s: %v", eventsDir, missing)
	}
}
