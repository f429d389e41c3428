package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	lclogaudit "github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
)

// badInput is one request the API must refuse as bad input, naming the field.
type badInput struct {
	name, method, path, body string
	status                   int    // 400 unless said otherwise
	field                    string // error.field
	rule                     string // error.rule when it matters ("" = any); a trailing '*' matches a prefix
}

func (c badInput) check(t *testing.T, url string) {
	t.Helper()
	r, err := call(url, c.method, c.path, c.body, true)
	if err != nil {
		t.Fatal(err)
	}
	status := c.status
	if status == 0 {
		status = 400
	}
	if r.Status != status {
		t.Fatalf("status %d, want %d: %.400s", r.Status, status, r.Raw)
	}
	if got := r.errorField(); got != c.field {
		t.Errorf("error.field %q, want %q: %.400s", got, c.field, r.Raw)
	}
	rule := r.errorRule()
	switch {
	case c.rule == "":
	case strings.HasSuffix(c.rule, "*") && strings.HasPrefix(rule, strings.TrimSuffix(c.rule, "*")):
	case rule != c.rule:
		t.Errorf("error.rule %q, want %q", rule, c.rule)
	}
	if msg, _ := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
		t.Errorf("no error.message: %.400s", r.Raw)
	}
}

// policyCases are one broken rule each of shared/policy, applied to the suite's valid policy
// (base) by replacing old with new; every one must answer 400 naming the policy field.
func policyCases(base, root string) []badInput {
	// edit applies old/new pairs to base.
	edit := func(pairs ...string) string {
		doc := base
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(doc, pairs[i]) {
				panic("policy case edits a line the base policy lacks: " + pairs[i])
			}
			doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
		}
		return doc
	}
	const trail = "trail: {name: org-audit}"
	const sls = "sls: {enabled: true, ttlDays: 365}"
	const oss = "oss: {enabled: true, retentionDays: 30, lifecycle: {expireDays: 400}}"
	include := "include: {folders: [" + root + "]}"
	setup := func(name, doc, field, rule string) badInput {
		return badInput{name: "setup: " + name, method: "POST", path: "/v1/setup", body: doc, field: field, rule: rule}
	}
	return []badInput{
		// The document as a whole.
		setup("YAML syntax", "a: [", "policy", "yaml-syntax"),
		setup("only a comment", "# nothing here\n", "policy", "required"),
		setup("two documents", "apiVersion: auditwarden/v1\nkind: AuditPolicy\n---\nkind: x\n", "policy", "single-document"),
		setup("a list, not a mapping", "[1, 2]", "policy", "type mapping"),
		// Version and shape.
		setup("unsupported apiVersion", edit("apiVersion: auditwarden/v1", "apiVersion: auditwarden/v9"), "policy.apiVersion", "oneof auditwarden/v1"),
		setup("no apiVersion", edit("apiVersion: auditwarden/v1\n", ""), "policy.apiVersion", "required"),
		setup("wrong kind", edit("kind: AuditPolicy", "kind: Policy"), "policy.kind", "oneof AuditPolicy"),
		setup("duplicate key", edit("kind: AuditPolicy", "kind: AuditPolicy\nkind: AuditPolicy"), "policy.kind", "duplicate-key"),
		setup("unknown field", base+"bogus: 1\n", "policy.bogus", "unknown-field"),
		setup("wrong type", edit(trail, "trail: {name: [org-audit]}"), "policy.trail.name", "type *"),
		setup("a secret", edit(trail, "trail: {name: org-audit, accessKeySecret: hunter2}"), "policy.trail.accessKeySecret", "no-secrets"),
		// Values.
		setup("account id pattern", edit(`accountId: "`, `accountId: "12ab`), "policy.central.accountId", "pattern *"),
		setup("required value", edit(", region: cn-hangzhou}", "}"), "policy.central.region", "required"),
		setup("one of", edit(trail, "trail: {name: org-audit, eventRW: Sometimes}"), "policy.trail.eventRW", "oneof Write|Read|All"),
		setup("range", edit(sls, "sls: {enabled: true, ttlDays: 5000}"), "policy.destinations.sls.ttlDays", "range 1..3650"),
		setup("CIS rule", edit(sls, "sls: {enabled: true, ttlDays: 30}"), "policy.destinations.sls.ttlDays", "cis-2.23 ttl >= 365"),
		setup("unique", edit(include, "include: {folders: ["+root+", "+root+"]}"), "policy.logAudit.resourceDirectory.include.folders[1]", "unique"),
		setup("required with", edit(sls, `sls: {enabled: true, ttlDays: 365, project: abc, projectArn: "acs:log:cn-hangzhou:1234567890123456:project/abc"}`),
			"policy.destinations.sls.roleArn", "required-with projectArn"),
		setup("only with", edit("members: custom", "members: all"), "policy.logAudit.resourceDirectory.exclude", "only-with members=custom"),
		setup("ordering", edit(oss, "oss: {enabled: true, retentionDays: 30, lifecycle: {expireDays: 20}}"), "policy.destinations.oss.lifecycle.expireDays", "gt retentionDays"),
		setup("const", base+"offboarding: {keepData: false}\n", "policy.offboarding.keepData", "const true"),
		setup("no destination", edit(sls, "sls: {enabled: false}", oss, "oss: {enabled: false}"), "policy.destinations", "at-least-one-enabled"),
		setup("unknown product", edit("  region: cn-shanghai\n", "  region: cn-shanghai\n  products: {bogus: {enabled: true}}\n"), "policy.logAudit.products.bogus", "known-product"),
		setup("JSON body", `{"apiVersion":"auditwarden/v1","kind":"AuditPolicy","central":{"accountId":"abc","region":"cn-hangzhou"}}`, "policy.central.accountId", "pattern *"),
		{name: "setup: larger than 1 MiB", method: "POST", path: "/v1/setup", body: strings.Repeat("#", 1<<20+1), status: 413, field: "body", rule: "max-size"},
	}
}

// Every API route answers bad input with 400 and {"error":{"field":...}} naming the field, through
// the real application on localcloud (shared/httpapi's own tests cover parsing with a stand-in).
func TestEveryRouteRejectsBadInputNamingTheField(t *testing.T) {
	e := start(t, localcloud.Options{Members: 3, Invited: 1, Seed: 80}, noLogAuditLimit)
	api := e.api(t, e.newApp())

	// Before any setup: no policy is stored and none is deployed, so the body is required.
	t.Run("before setup: setup without a policy", func(t *testing.T) {
		badInput{method: "POST", path: "/v1/setup", body: "  \n", field: "body", rule: "required"}.check(t, api.URL)
	})
	for _, path := range []string{"/v1/plan", "/v1/status", "/v1/backfill"} {
		t.Run("before setup: GET "+path, func(t *testing.T) {
			r, err := call(api.URL, "GET", path, "", false)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("%d, want a 4xx saying there is no policy yet: %.300s", r.Status, r.Raw)
			}
		})
	}

	base := e.policyDoc("", false)
	if r, err := call(api.URL, "POST", "/v1/setup", base, true); err != nil || r.Status != 200 {
		t.Fatalf("setup: %v %d %.300s", err, r.Status, r.Raw)
	}
	member := e.srv.Seeded.Members[0].AccountID
	cases := policyCases(base, e.root())
	cases = append(cases, []badInput{
		{name: "enroll: not digits", method: "POST", path: "/v1/members/abc/enroll", field: "id", rule: "account-id"},
		{name: "enroll: too long", method: "POST", path: "/v1/members/123456789012345678901/enroll", field: "id", rule: "account-id"},
		{name: "enroll: not a member", method: "POST", path: "/v1/members/1234567890123456/enroll", field: "id"},
		{name: "offboard: not digits", method: "DELETE", path: "/v1/members/12x4", field: "id", rule: "account-id"},
		{name: "offboard: too long", method: "DELETE", path: "/v1/members/123456789012345678901", field: "id", rule: "account-id"},
		{name: "custom-auth: not JSON", method: "POST", path: "/v1/log-audit/custom-auth", body: "accountId=1", field: "body", rule: "json"},
		{name: "custom-auth: unknown field", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"account":"1"}`, field: "body", rule: "json"},
		{name: "custom-auth: id as a number", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accountId":123}`, field: "body", rule: "json"},
		{name: "custom-auth: empty object", method: "POST", path: "/v1/log-audit/custom-auth", body: `{}`, field: "accountId", rule: "required"},
		{name: "custom-auth: no key id", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accountId":"` + member + `","accessKeySecret":"s"}`, field: "accessKeyId", rule: "required"},
		{name: "custom-auth: no secret", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accountId":"` + member + `","accessKeyId":"LTAIx"}`, field: "accessKeySecret", rule: "required"},
		{name: "custom-auth: malformed account id", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accountId":"12-34","accessKeyId":"LTAIx","accessKeySecret":"s"}`, field: "accountId", rule: "account-id"},
		{name: "custom-auth: both forms", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accounts":"1,2","accountId":"3"}`, field: "accounts", rule: "exclusive"},
		{name: "custom-auth: malformed manual ids", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accounts":"123|abc"}`, field: "accounts", rule: "format"},
		{name: "custom-auth: manual id too long", method: "POST", path: "/v1/log-audit/custom-auth", body: `{"accounts":"123456789012345678901"}`, field: "accounts", rule: "format"},
		{name: "backfill: not JSON", method: "POST", path: "/v1/backfill", body: "accounts=1", field: "body", rule: "json"},
		{name: "backfill: accounts not a list", method: "POST", path: "/v1/backfill", body: `{"accounts":"1"}`, field: "body", rule: "json"},
		{name: "backfill: unknown field", method: "POST", path: "/v1/backfill", body: `{"acounts":["1"]}`, field: "body", rule: "json"},
		{name: "backfill: malformed account", method: "POST", path: "/v1/backfill", body: `{"accounts":["1","x"]}`, field: "accounts[1]", rule: "account-id"},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, api.URL) })
	}

	// None of it changed anything: the policy still applies cleanly and the members are still collected.
	plan, err := e.newApp().Plan(context.Background())
	if err != nil || len(plan.Plan) != 0 {
		t.Fatalf("after the bad input, a dry run: %v\n%s", err, table(plan))
	}
	e.assertCollected(t, e.activeMembers())

	// Routes that take no input ignore junk in the query and body.
	for _, path := range []string{"/?x=%zz", "/v1/status?mode=1", "/v1/plan?dry=no"} {
		if r, err := call(api.URL, "GET", path, "junk", false); err != nil || r.Status != 200 {
			t.Errorf("GET %s with junk: %v %d %.300s", path, err, r.Status, r.Raw)
		}
	}
}

// Custom authentication's AccessKey pair is checked against the cloud: each way it can be wrong
// answers 400 naming the field at fault (and never echoes the secret).
func TestCustomAuthenticationKeyErrorsNameTheField(t *testing.T) {
	e := start(t, localcloud.Options{Members: 3, Seed: 81}, noLogAuditLimit)
	api := e.api(t, e.newApp())
	doc := strings.Replace(e.policyDoc("", false), "  mode: resourceDirectory\n  resourceDirectory:\n    members: custom\n    include: {folders: ["+e.root()+
		"]}\n    exclude: {tags: [audit=exempt]}\n", "  mode: customAuthentication\n", 1)
	if r, err := call(api.URL, "POST", "/v1/setup", doc, true); err != nil || r.Status != 200 {
		t.Fatalf("setup: %v %d %.300s", err, r.Status, r.Raw)
	}
	member, other := e.srv.Seeded.Members[0].AccountID, e.srv.Seeded.Members[1].AccountID
	w := e.srv.World
	w.Mu.Lock()
	good := w.NewAccessKeyLocked(member, "ram-admin")
	readonly := w.NewAccessKeyLocked(member, "auditor-readonly")
	foreign := w.NewAccessKeyLocked(other, "ram-admin")
	w.Mu.Unlock()
	body := func(account, id, secret string) string {
		return fmt.Sprintf(`{"accountId":%q,"accessKeyId":%q,"accessKeySecret":%q}`, account, id, secret)
	}
	cases := []badInput{
		{name: "unknown AccessKey ID", body: body(member, "LTAI5tNoSuchKeyAtAll00", "whatever-secret-1"), field: "accessKeyId", rule: "rejected"},
		{name: "wrong secret", body: body(member, good.ID, "wrong-secret-value-123"), field: "accessKeySecret", rule: "rejected"},
		{name: "another account's key", body: body(member, foreign.ID, foreign.Secret), field: "accessKeyId", rule: "account-mismatch"},
		{name: "no RAM write permission", body: body(member, readonly.ID, readonly.Secret), field: "accessKeyId", rule: "ram-write-permission"},
		{name: "the central account itself", body: body(e.info.ManagementAccountID, e.info.AccessKeyID, e.info.AccessKeySecret), field: "accountId"},
	}
	for _, c := range cases {
		c.method, c.path = "POST", "/v1/log-audit/custom-auth"
		t.Run(c.name, func(t *testing.T) {
			c.check(t, api.URL)
			r, _ := call(api.URL, c.method, c.path, c.body, true)
			for _, secret := range []string{good.Secret, readonly.Secret, foreign.Secret, e.info.AccessKeySecret, "wrong-secret-value-123"} {
				if strings.Contains(r.Raw, secret) {
					t.Fatal("the answer echoes a secret")
				}
			}
		})
	}
	if _, uids := lclogaudit.Members(w, e.info.ManagementAccountID); len(uids) != 0 {
		t.Fatalf("refused authorizations added members: %v", uids)
	}
}

// Every mutating route answers 401 without the platform's authentication, through the real
// application, and makes no change: not one write call reaches the cloud.
func TestEveryMutatingRouteNeedsAuthentication(t *testing.T) {
	e := start(t, localcloud.Options{Members: 3, Seed: 82}, noLogAuditLimit)
	api := e.api(t, e.newApp())
	base := e.policyDoc("", false)
	if r, err := call(api.URL, "POST", "/v1/setup", base, true); err != nil || r.Status != 200 {
		t.Fatalf("setup: %v %d %.300s", err, r.Status, r.Raw)
	}
	before := e.activeMembers()
	member := before[0]
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/setup", strings.Replace(base, "members: custom", "members: all", 1)},
		{"POST", "/v1/setup", ""},
		{"POST", "/v1/members/" + member + "/enroll", ""},
		{"DELETE", "/v1/members/" + member, ""},
		{"POST", "/v1/log-audit/custom-auth", `{"accounts":"` + member + `"}`},
		{"POST", "/v1/log-audit/clear", ""},
		{"POST", "/v1/backfill", `{"accounts":["` + member + `"]}`},
	}
	e.srv.World.Stats.Reset()
	for _, rt := range routes {
		r, err := call(api.URL, rt.method, rt.path, rt.body, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 401 || r.errorField() != "Authorization" || r.errorRule() != "authenticated" {
			t.Errorf("%s %s without authentication: %d %.300s", rt.method, rt.path, r.Status, r.Raw)
		}
	}
	// Reads stay open.
	for _, path := range []string{"/v1/plan", "/v1/status", "/"} {
		if r, err := call(api.URL, "GET", path, "", false); err != nil || r.Status != 200 {
			t.Errorf("GET %s without authentication: %v %d", path, err, r.Status)
		}
	}
	if n := e.srv.World.Stats.WriteCalls(); n != 0 {
		t.Fatalf("unauthenticated calls made %d write call(s): %+v", n, e.srv.World.Stats.Snapshot())
	}
	e.assertCollected(t, before)
}
