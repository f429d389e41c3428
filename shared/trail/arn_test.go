package trail

import (
	"strings"
	"testing"
	"time"
)

func TestParseSLSProjectARN(t *testing.T) {
	for _, tc := range []struct {
		arn  string
		want SLSProject
		err  string // a part of the error; "" for success
	}{
		{arn: "acs:log:cn-hangzhou:1234567890123456:project/aw-central", want: SLSProject{"cn-hangzhou", "1234567890123456", "aw-central"}},
		{arn: "acs:log:ap-southeast-1:42:project/a1b", want: SLSProject{"ap-southeast-1", "42", "a1b"}},
		{arn: "acs:log:cn-hangzhou:123:project/aw:x", err: "project name"},
		{arn: "acs:ram::123:role/x", err: "not acs:log"},
		{arn: "acs:log:cn-hangzhou:123", err: "must look like"},
		{arn: "acs:log:Hangzhou:123:project/aw-central", err: "region"},
		{arn: "acs:log:cn-hangzhou:12a:project/aw-central", err: "account id"},
		{arn: "acs:log:cn-hangzhou:123:logstore/aw-central", err: "project/"},
		{arn: "acs:log:cn-hangzhou:123:project/AW", err: "project name"},
		{arn: "acs:log:cn-hangzhou:123:project/-aw-", err: "project name"},
		{arn: "", err: "must look like"},
	} {
		got, err := ParseSLSProjectARN(tc.arn)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSLSProjectARN(%q) error = %v, want one containing %q", tc.arn, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.arn {
			t.Errorf("ParseSLSProjectARN(%q) = %+v, %v; want %+v", tc.arn, got, err, tc.want)
		}
	}
	if got := RoleARN("123", ServiceLinkedRole); got != "acs:ram::123:role/aliyunserviceroleforactiontrail" {
		t.Errorf("RoleARN = %s", got)
	}
	if uid, role, err := parseRoleARN(RoleARN("123", "AuditWriter")); err != nil || uid != "123" || role != "AuditWriter" {
		t.Errorf("parseRoleARN(RoleARN) = %s %s %v", uid, role, err)
	}
	if got := trailOwner("acs:actiontrail:cn-hangzhou:1234:trail/aw-org"); got != "1234" {
		t.Errorf("trailOwner = %q", got)
	}
}

// FuzzParseSLSProjectARN: never panics; whatever parses prints back as the same ARN and
// rebuilds through SLSProjectARN.
func FuzzParseSLSProjectARN(f *testing.F) {
	for _, s := range []string{
		"acs:log:cn-hangzhou:1234567890123456:project/aw-central", "acs:log:::project/", "acs:log:a-b:1:project/abc:",
		"acs:odps:cn-hangzhou:1:project/x", "::::", "acs:log:cn-hangzhou:1:project/a\x00b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		p, err := ParseSLSProjectARN(arn)
		if err != nil {
			if p != (SLSProject{}) {
				t.Fatalf("error %v with a non-zero result %+v", err, p)
			}
			return
		}
		if p.String() != arn {
			t.Fatalf("%q parsed to %+v, which prints as %q", arn, p, p.String())
		}
		again, err := ParseSLSProjectARN(SLSProjectARN(p.Region, p.AccountID, p.Project))
		if err != nil || again != p {
			t.Fatalf("round trip of %+v: %+v, %v", p, again, err)
		}
	})
}

func FuzzParseRoleARN(f *testing.F) {
	for _, s := range []string{"acs:ram::123:role/x", "acs:ram::123:role/", "acs:ram:::role/x", "acs:ram::1:user/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		uid, role, err := parseRoleARN(arn)
		if err == nil && RoleARN(uid, role) != arn {
			t.Fatalf("%q parsed to %s/%s, which rebuilds as %q", arn, uid, role, RoleARN(uid, role))
		}
		_ = trailOwner(arn)
	})
}

// FuzzParseTime: the service's time strings never panic the parser, and what parses is UTC.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2021-03-01T06:27:28Z", "2021-01-18T08:01:50.522Z", "2021-03-01 06:27:28", "", "2021-13-01T00:00:00Z", "+08:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseTime(v)
		if err != nil {
			if !strings.Contains(err.Error(), "ISO 8601") {
				t.Fatalf("error %v does not say what is expected", err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("parseTime(%q) = %v, not UTC", v, got)
		}
	})
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2021-03-01T06:27:28Z", time.Date(2021, 3, 1, 6, 27, 28, 0, time.UTC)},
		{"2021-01-18T08:01:50.522Z", time.Date(2021, 1, 18, 8, 1, 50, 522e6, time.UTC)},
		{"2021-03-01T14:27:28+08:00", time.Date(2021, 3, 1, 6, 27, 28, 0, time.UTC)},
		{"", time.Time{}},
	} {
		got, err := parseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseTime("yesterday"); err == nil {
		t.Error("parseTime(yesterday): no error")
	}
}
