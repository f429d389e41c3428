package archive

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	tBucket = "audit"
	tRegion = "cn-hangzhou"
	tOwner  = "1000000000000001"
)

// stmt builds a statement with the canonical deny and lets a case override one element.
func stmt(override map[string]any) string {
	st := map[string]any{
		"Effect":    "Deny",
		"Action":    []string{"oss:*"},
		"Principal": []string{"*"},
		"Resource":  []string{"acs:oss:*:*:audit", "acs:oss:*:*:audit/*"},
		"Condition": map[string]any{"Bool": map[string]any{"acs:SecureTransport": []string{"false"}}},
	}
	for k, v := range override {
		if v == nil {
			delete(st, k)
		} else {
			st[k] = v
		}
	}
	b, _ := json.Marshal(st)
	return string(b)
}

func policy(stmts ...string) string {
	return `{"Version":"1","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func TestDeniesInsecure(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want bool
		err  bool
	}{
		{"no policy", "", false, false},
		{"canonical", policy(stmt(nil)), true, false},
		{"scalar forms and boolean value", policy(stmt(map[string]any{"Action": "oss:*", "Principal": "*",
			"Condition": map[string]any{"bool": map[string]any{"ACS:securetransport": false}}})), true, false},
		{"action *", policy(stmt(map[string]any{"Action": []string{"*"}})), true, false},
		{"principal RAM object", policy(stmt(map[string]any{"Principal": map[string]any{"RAM": []string{"*"}}})), true, false},
		{"explicit region and owner", policy(stmt(map[string]any{"Resource": []string{"acs:oss:cn-hangzhou:1000000000000001:audit", "acs:oss:cn-hangzhou:1000000000000001:audit/*"}})), true, false},
		{"split across two statements", policy(stmt(map[string]any{"Resource": "acs:oss:*:*:audit"}), stmt(map[string]any{"Resource": "acs:oss:*:*:audit/*"})), true, false},
		{"wildcard bucket pattern", policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:*:aud*"}})), true, false},
		{"objects only", policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:*:audit/*"}})), false, false},
		{"bucket only", policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:*:audit"}})), false, false},
		{"some objects only", policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:*:audit", "acs:oss:*:*:audit/logs/*"}})), false, false},
		{"another region", policy(stmt(map[string]any{"Resource": []string{"acs:oss:cn-beijing:*:audit", "acs:oss:cn-beijing:*:audit/*"}})), false, false},
		{"another owner", policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:2:audit", "acs:oss:*:2:audit/*"}})), false, false},
		{"another bucket", policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:*:other", "acs:oss:*:*:other/*"}})), false, false},
		{"allow, not deny", policy(stmt(map[string]any{"Effect": "Allow"})), false, false},
		{"some actions", policy(stmt(map[string]any{"Action": []string{"oss:GetObject"}})), false, false},
		{"some principals", policy(stmt(map[string]any{"Principal": []string{"2000000000000002"}})), false, false},
		{"true, not false", policy(stmt(map[string]any{"Condition": map[string]any{"Bool": map[string]any{"acs:SecureTransport": "true"}}})), false, false},
		{"narrowed by an extra condition", policy(stmt(map[string]any{"Condition": map[string]any{
			"Bool": map[string]any{"acs:SecureTransport": "false"}, "IpAddress": map[string]any{"acs:SourceIp": "10.0.0.0/8"}}})), false, false},
		{"no condition (denies everything, but is not this control)", policy(stmt(map[string]any{"Condition": nil})), false, false},
		{"NotAction", policy(stmt(map[string]any{"NotAction": []string{"oss:GetObject"}})), false, false},
		{"statement of the wrong shape is skipped", policy(`"x"`, stmt(nil)), true, false},
		{"not JSON", "{", false, true},
		{"Statement not a list", `{"Statement":{}}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeniesInsecure(tc.doc, tBucket, tRegion, tOwner)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v; want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("DeniesInsecure = %v; want %v for %s", got, tc.want, tc.doc)
			}
		})
	}
	// Unknown owner: only an account wildcard can be vouched for.
	explicit := policy(stmt(map[string]any{"Resource": []string{"acs:oss:*:1000000000000001:audit", "acs:oss:*:1000000000000001:audit/*"}}))
	if got, _ := DeniesInsecure(explicit, tBucket, tRegion, ""); got {
		t.Error("an explicit owner was vouched for while the owner is unknown")
	}
}

func TestMergeSecureTransport(t *testing.T) {
	foreign := `{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["2"],"Resource":["acs:oss:*:*:audit/x/*"],"Sid":"keep-me"}`
	cases := []struct {
		name       string
		doc        string
		statements int
		err        string
	}{
		{"no policy", "", 1, ""},
		{"foreign statement kept", policy(foreign), 2, ""},
		{"no Version gets one", `{"Statement":[` + foreign + `]}`, 2, ""},
		{"not JSON", "nope", 0, "not a JSON object"},
		{"too big", policy(foreign + strings.Repeat(","+foreign, 200)), 0, "over OSS's limit"},
		{"bad bucket name", "", 0, "bucket name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bucket := tBucket
			if tc.name == "bad bucket name" {
				bucket = "Audit*"
			}
			out, err := MergeSecureTransport(tc.doc, bucket, tOwner)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Version   string
				Statement []json.RawMessage
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatal(err)
			}
			if p.Version != "1" || len(p.Statement) != tc.statements {
				t.Fatalf("merged = %s; want Version 1 and %d statements", out, tc.statements)
			}
			if tc.statements > 1 && !strings.Contains(out, `"Sid":"keep-me"`) {
				t.Errorf("foreign statement lost a field: %s", out)
			}
			if ok, err := DeniesInsecure(out, tBucket, tRegion, tOwner); !ok || err != nil {
				t.Errorf("merged policy does not deny insecure transport (%v): %s", err, out)
			}
		})
	}
}

// FuzzBucketPolicy feeds bucket policies (outside input: anyone with PutBucketPolicy writes
// them) to the parser and the merge: no panic, and a successful merge always denies insecure
// transport while keeping every statement it was given.
func FuzzBucketPolicy(f *testing.F) {
	f.Add(policy(stmt(nil)), "audit")
	f.Add(policy(stmt(map[string]any{"Resource": "acs:oss:*:*:a*/*"})), "abc")
	f.Add(`{"Version":"1","Statement":[{"Effect":"Deny","Principal":{"RAM":"*"},"Action":"*","Resource":"acs:oss:*:*:b","Condition":{"Bool":{"acs:SecureTransport":[false,"x"]}}}]}`, "b")
	f.Add(`{"Statement":null}`, "x")
	f.Add(`[]`, "x")
	f.Add("", "x")
	f.Fuzz(func(t *testing.T, doc, bucket string) {
		_, perr := DeniesInsecure(doc, bucket, tRegion, tOwner)
		out, err := MergeSecureTransport(doc, bucket, tOwner)
		if err != nil {
			return
		}
		if perr != nil && strings.TrimSpace(doc) != "" {
			t.Fatalf("merge accepted what the parser refused: %v", perr)
		}
		ok, err := DeniesInsecure(out, bucket, tRegion, tOwner)
		if err != nil || !ok {
			t.Fatalf("merged policy does not deny insecure transport (%v): %s", err, out)
		}
		before, _ := parsePolicyDoc(doc)
		after, err := parsePolicyDoc(out)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if before != nil {
			n = len(before.statements)
		}
		if len(after.statements) != n+1 {
			t.Fatalf("merge has %d statements; want %d", len(after.statements), n+1)
		}
	})
}

func FuzzDecodePublicAccessBlock(f *testing.F) {
	f.Add([]byte(`<PublicAccessBlockConfiguration><BlockPublicAccess>true</BlockPublicAccess></PublicAccessBlockConfiguration>`))
	f.Add([]byte(`<PublicAccessBlockConfiguration><BlockPublicAccess>maybe</BlockPublicAccess></PublicAccessBlockConfiguration>`))
	f.Add([]byte(`<Other/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = decodePublicAccessBlock(body)
	})
}

func TestDecodePublicAccessBlock(t *testing.T) {
	cases := []struct {
		body string
		want bool
		err  bool
	}{
		{`<?xml version="1.0"?><PublicAccessBlockConfiguration><BlockPublicAccess>true</BlockPublicAccess></PublicAccessBlockConfiguration>`, true, false},
		{`<PublicAccessBlockConfiguration><BlockPublicAccess>false</BlockPublicAccess></PublicAccessBlockConfiguration>`, false, false},
		{`<PublicAccessBlockConfiguration><BlockPublicAccess>yes</BlockPublicAccess></PublicAccessBlockConfiguration>`, false, true},
		{`<Other><BlockPublicAccess>true</BlockPublicAccess></Other>`, false, true},
		{``, false, true},
	}
	for _, tc := range cases {
		got, err := decodePublicAccessBlock([]byte(tc.body))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("decode(%q) = %v, %v; want %v, error %v", tc.body, got, err, tc.want, tc.err)
		}
	}
}
