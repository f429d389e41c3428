package actiontrail

import (
	"errors"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

func FuzzParseSLSProjectARN(f *testing.F) {
	for _, s := range []string{
		"acs:log:cn-hangzhou:1234567890123456:project/audit-central", "acs:log:::project/", "acs:log:cn-hangzhou:123:logstore/x",
		"acs:odps:cn-hangzhou:1:project/x", "", ":::::", "acs:log:cn-hangzhou:1:project/a:b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		p, err := ParseSLSProjectARN(arn)
		if err != nil {
			return
		}
		if p.String() != arn {
			t.Fatalf("round trip %q -> %q", arn, p.String())
		}
		if !slsProjectRE.MatchString(p.Project) || !accountRE.MatchString(p.Account) || !regionRE.MatchString(p.Region) {
			t.Fatalf("accepted bad parts %+v", p)
		}
		if _, err := ParseMaxComputeProjectARN(arn); err == nil {
			t.Fatalf("an SLS ARN parsed as MaxCompute: %q", arn)
		}
	})
}

func FuzzParseLookupTime(f *testing.F) {
	for _, s := range []string{"2021-01-01T00:00:00Z", "2021-01-01T00:00:00.123Z", "2021-01-01T08:00:00+08:00", "2021-13-01T00:00:00Z", "", "yesterday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tm, err := ParseLookupTime(v)
		if err == nil && tm.Location() != time.UTC {
			t.Fatalf("%q parsed to a non-UTC time %v", v, tm)
		}
		// The window rules never panic, whatever the two times are.
		_, _, _ = lookupWindow(v, "2021-01-01T00:00:00Z", time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC))
		_, _, _ = lookupWindow("2021-01-01T00:00:00Z", v, time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC))
	})
}

func FuzzDecodeNextToken(f *testing.F) {
	f.Add(encodeNextToken(lookupCursor{Start: 1, End: 2, Time: 2, ID: "EV-1", Query: "abcd"}))
	f.Add("")
	f.Add("!!!")
	f.Add("eyJ2IjoxfQ")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := decodeNextToken(tok)
		if err != nil {
			return
		}
		again, err := decodeNextToken(encodeNextToken(c))
		if err != nil || again != c {
			t.Fatalf("re-encoding %+v gave %+v, %v", c, again, err)
		}
	})
}

// FuzzLookupEventsParams drives the handler with arbitrary query values: it must answer a
// result or a 4xx *core.Error, never panic or 5xx.
func FuzzLookupEventsParams(f *testing.F) {
	f.Add("2021-01-01T00:00:00Z", "2021-01-02T00:00:00Z", "50", "FORWARD", "EventName", "RunInstances", "", "")
	f.Add("", "", "0", "", "Colour", "", "3", "x")
	f.Add("", "", "", "BACKWARD", "", "", "", "garbage")
	w := core.NewWorld("cn-hangzhou", core.NewManualClock(time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC)))
	s := New(w, Options{LookupRatePerSecond: -1, FlushInterval: time.Hour})
	f.Cleanup(s.Close)
	acct := core.NewAccountID()
	for i := 0; i < 30; i++ {
		w.Recorder.Record(&core.Event{EventName: "RunInstances", EventRW: "Write", RecipientAccountID: acct, Time: w.Now().Add(-time.Duration(i) * time.Minute)})
	}
	f.Fuzz(func(t *testing.T, start, end, maxResults, direction, key, value, idx, token string) {
		params := map[string]string{
			"StartTime": start, "EndTime": end, "MaxResults": maxResults, "Direction": direction,
			"LookupAttribute." + idx + ".Key": key, "LookupAttribute." + idx + ".Value": value, "NextToken": token,
		}
		c := &core.Call{World: w, Action: "LookupEvents", Region: "cn-hangzhou", Params: params, Caller: core.Principal{AccountID: acct}}
		out, err := s.lookupEvents(c)
		if err != nil {
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Status >= 500 || ce.Code == "" {
				t.Fatalf("error %v is not a 4xx API error", err)
			}
			return
		}
		if out == nil {
			t.Fatal("nil result")
		}
	})
}

// FuzzCreateTrailParams drives CreateTrail's parsing and validation with arbitrary values.
func FuzzCreateTrailParams(f *testing.F) {
	f.Add("audit-trail", "acs:log:cn-hangzhou:1000000000000001:project/audit-central", "bucket-a", "logs-prefix", "All", "All", "false", "")
	f.Add("x", "acs:log", "B", "1", "Nope", "moon-1", "maybe", "acs:ram::1:role/")
	w := core.NewWorld("cn-hangzhou", core.NewManualClock(time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC)))
	acct := "1000000000000001"
	sls, oss := newFakeSLS(), newFakeOSS()
	sls.addProject(acct, "audit-central")
	oss.setBucket("bucket-a", acct)
	w.SLS, w.OSS = sls, oss
	s := New(w, Options{FlushInterval: time.Hour})
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, name, slsArn, bucket, prefix, rw, region, org, role string) {
		params := map[string]string{
			"Name": name, "SlsProjectArn": slsArn, "OssBucketName": bucket, "OssKeyPrefix": prefix, "EventRW": rw,
			"TrailRegion": region, "IsOrganizationTrail": org, "SlsWriteRoleArn": role, "OssWriteRoleArn": role,
		}
		c := &core.Call{World: w, Action: "CreateTrail", Region: "cn-hangzhou", Params: params, Caller: core.Principal{AccountID: acct}}
		if _, err := s.createTrail(c); err != nil {
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Status >= 500 || ce.Code == "" {
				t.Fatalf("error %v is not a 4xx API error", err)
			}
		}
	})
}
