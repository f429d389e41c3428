package fcevent_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

const mgmtID = "1234567890123456"

// envelope is a valid delivery of a Resource Manager record; tests change what they test.
func envelope() map[string]any {
	return map[string]any{
		"id": "45ef-0001", "source": "acs.actiontrail", "specversion": "1.0",
		"type":    "resourcemanager:ActionTrail:ApiCall",
		"subject": "acs.resourcemanager:cn-hangzhou:" + mgmtID + ":MoveAccount",
		"time":    "2025-06-01T20:00:05+08:00", "datacontenttype": "application/json;charset=utf-8",
		"aliyunaccountid": mgmtID, "aliyunoriginalaccountid": mgmtID, "aliyunpublishtime": "2025-06-01T12:00:05.318Z",
		"aliyuneventbusname": "default", "aliyunregionid": "cn-hangzhou",
		"data": map[string]any{
			"eventId": "3462D6AF-0001", "eventVersion": "1", "eventName": "MoveAccount",
			"eventSource": "resourcemanager.aliyuncs.com", "eventType": "ApiCall", "eventRW": "Write",
			"eventTime": "2025-06-01T12:00:00Z", "acsRegion": "cn-hangzhou", "serviceName": "ResourceManager",
			"requestId": "7A21-0001", "recipientAccountId": mgmtID,
			"userIdentity": map[string]any{
				"type": "ram-user", "accountId": mgmtID, "principalId": "208012345", "userName": "ops", "accessKeyId": "LTAI5tFAKE",
			},
			"requestParameters": map[string]any{"AccountId": dev, "DestinationFolderId": "fd-x1"},
			"responseElements":  map[string]any{"RequestId": "7A21-0001"},
			"errorCode":         "", "errorMessage": "",
		},
	}
}

func data(env map[string]any) map[string]any { return env["data"].(map[string]any) }

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantFieldError asserts err is a *FieldError naming field and rule.
func wantFieldError(t *testing.T, err error, field, rule string) {
	t.Helper()
	var fe *fcevent.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want a *FieldError on %s/%s", err, err, field, rule)
	}
	if fe.Field != field || fe.Rule != rule {
		t.Fatalf("error = %q, want field %q rule %q", fe.Error(), field, rule)
	}
	if fe.Message == "" || !strings.HasPrefix(fe.Error(), field+": "+rule+": ") {
		t.Fatalf("error text %q does not name the field and rule", fe.Error())
	}
}

func TestDecodeCloudEvent(t *testing.T) {
	ev, err := fcevent.DecodeCloudEvent(encode(t, envelope()))
	if err != nil {
		t.Fatal(err)
	}
	d := ev.Data
	switch {
	case ev.ID != "45ef-0001" || ev.Source != "acs.actiontrail" || ev.SpecVersion != "1.0" || ev.Service() != "resourcemanager":
		t.Fatalf("envelope = %+v", ev)
	case !ev.Time.Equal(time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)):
		t.Fatalf("time = %v", ev.Time)
	case ev.AliyunAccountID != mgmtID || ev.AliyunOriginalAccountID != mgmtID || ev.AliyunEventBusName != "default" ||
		ev.AliyunRegionID != "cn-hangzhou" || ev.AliyunPublishTime != "2025-06-01T12:00:05.318Z" ||
		ev.DataContentType != "application/json;charset=utf-8" || !strings.HasSuffix(ev.Subject, ":MoveAccount"):
		t.Fatalf("extensions = %+v", ev)
	case d.EventID != "3462D6AF-0001" || d.EventName != "MoveAccount" || d.EventSource != "resourcemanager.aliyuncs.com" ||
		d.EventType != "ApiCall" || d.EventRW != "Write" || d.AcsRegion != "cn-hangzhou" || d.ServiceName != "ResourceManager" ||
		d.RequestID != "7A21-0001" || d.RecipientAccountID != mgmtID:
		t.Fatalf("record = %+v", d)
	case !d.EventTime.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)):
		t.Fatalf("eventTime = %v", d.EventTime)
	case d.UserIdentity != fcevent.UserIdentity{Type: "ram-user", AccountID: mgmtID, PrincipalID: "208012345", UserName: "ops", AccessKeyID: "LTAI5tFAKE"}:
		t.Fatalf("userIdentity = %+v", d.UserIdentity)
	case d.RequestParameters["AccountId"] != dev || d.ResponseElements["RequestId"] != "7A21-0001":
		t.Fatalf("parameters = %v, response = %v", d.RequestParameters, d.ResponseElements)
	}
}

func TestDecodeCloudEventLenient(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(env map[string]any)
		check func(t *testing.T, ev fcevent.CloudEvent)
	}{
		{"16-digit ids as numbers keep every digit", func(env map[string]any) {
			// 2^53+1: a float64 would round it to ...992.
			data(env)["userIdentity"].(map[string]any)["accountId"] = json.Number("9007199254740993")
			data(env)["recipientAccountId"] = json.Number("9007199254740993")
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if ev.Data.UserIdentity.AccountID != "9007199254740993" || ev.Data.RecipientAccountID != "9007199254740993" {
				t.Fatalf("ids = %q %q", ev.Data.UserIdentity.AccountID, ev.Data.RecipientAccountID)
			}
		}},
		{"requestParameters as a string holding JSON", func(env map[string]any) {
			data(env)["requestParameters"] = `{"AccountId":9007199254740993}`
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if ev.Data.RequestParameters["AccountId"] != json.Number("9007199254740993") {
				t.Fatalf("parameters = %#v", ev.Data.RequestParameters)
			}
		}},
		{"absent requestParameters is an empty map, null responseElements is nil", func(env map[string]any) {
			delete(data(env), "requestParameters")
			data(env)["responseElements"] = nil
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if ev.Data.RequestParameters == nil || len(ev.Data.RequestParameters) != 0 || ev.Data.ResponseElements != nil {
				t.Fatalf("parameters = %#v, response = %#v", ev.Data.RequestParameters, ev.Data.ResponseElements)
			}
		}},
		{"empty-string responseElements reads as absent", func(env map[string]any) {
			data(env)["responseElements"] = ""
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if ev.Data.ResponseElements != nil {
				t.Fatalf("response = %#v", ev.Data.ResponseElements)
			}
		}},
		{"optional fields may be missing or null", func(env map[string]any) {
			for _, k := range []string{"subject", "time", "datacontenttype", "aliyunaccountid", "aliyunpublishtime"} {
				delete(env, k)
			}
			env["aliyunregionid"] = nil
			d := data(env)
			for _, k := range []string{"eventId", "eventTime", "userIdentity", "errorCode", "errorMessage"} {
				delete(d, k)
			}
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if !ev.Time.IsZero() || !ev.Data.EventTime.IsZero() || ev.Data.UserIdentity != (fcevent.UserIdentity{}) {
				t.Fatalf("event = %+v", ev)
			}
		}},
		{"fractional seconds and offsets", func(env map[string]any) {
			data(env)["eventTime"] = "2025-06-01T20:00:00.123+08:00"
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if !ev.Data.EventTime.Equal(time.Date(2025, 6, 1, 12, 0, 0, 123e6, time.UTC)) {
				t.Fatalf("eventTime = %v", ev.Data.EventTime)
			}
		}},
		{"any ActionTrail event kind and service", func(env map[string]any) {
			env["type"] = "ecs:ActionTrail:AliyunServiceEvent"
		}, func(t *testing.T, ev fcevent.CloudEvent) {
			if ev.Service() != "ecs" {
				t.Fatalf("service = %q", ev.Service())
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := envelope()
			tc.edit(env)
			ev, err := fcevent.DecodeCloudEvent(encode(t, env))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, ev)
		})
	}
}

func TestDecodeCloudEventErrors(t *testing.T) {
	edit := func(f func(env map[string]any)) []byte {
		env := envelope()
		f(env)
		return encode(t, env)
	}
	tests := []struct {
		name        string
		raw         []byte
		field, rule string
	}{
		{"empty", nil, "payload", fcevent.RuleRequired},
		{"whitespace", []byte(" \n\t"), "payload", fcevent.RuleRequired},
		{"bad JSON", []byte(`{"id":`), "payload", fcevent.RuleJSON},
		{"not JSON", []byte(`id=1`), "payload", fcevent.RuleJSON},
		{"trailing data", []byte(`{"id":"1"} {}`), "payload", fcevent.RuleJSON},
		{"array", []byte(`[]`), "payload", fcevent.RuleType},
		{"string", []byte(`"event"`), "payload", fcevent.RuleType},
		{"null", []byte(`null`), "payload", fcevent.RuleRequired},
		{"oversize", append(append([]byte(`{"pad":"`), strings.Repeat("x", fcevent.MaxAsyncPayload)...), `"}`...), "payload", fcevent.RuleSize},
		{"missing id", edit(func(e map[string]any) { delete(e, "id") }), "id", fcevent.RuleRequired},
		{"blank id", edit(func(e map[string]any) { e["id"] = "  " }), "id", fcevent.RuleRequired},
		{"object id", edit(func(e map[string]any) { e["id"] = map[string]any{} }), "id", fcevent.RuleType},
		{"missing source", edit(func(e map[string]any) { delete(e, "source") }), "source", fcevent.RuleRequired},
		{"missing specversion", edit(func(e map[string]any) { delete(e, "specversion") }), "specversion", fcevent.RuleRequired},
		{"specversion 0.3", edit(func(e map[string]any) { e["specversion"] = "0.3" }), "specversion", fcevent.RuleValue},
		{"specversion number", edit(func(e map[string]any) { e["specversion"] = 1.0 }), "specversion", fcevent.RuleValue},
		{"missing type", edit(func(e map[string]any) { delete(e, "type") }), "type", fcevent.RuleRequired},
		{"native event type", edit(func(e map[string]any) { e["type"] = "resourcemanager:ResourceSharing:Create" }), "type", fcevent.RuleValue},
		{"type without service", edit(func(e map[string]any) { e["type"] = ":ActionTrail:ApiCall" }), "type", fcevent.RuleValue},
		{"type without kind", edit(func(e map[string]any) { e["type"] = "ecs:ActionTrail:" }), "type", fcevent.RuleValue},
		{"type with four parts", edit(func(e map[string]any) { e["type"] = "a:ActionTrail:ApiCall:x" }), "type", fcevent.RuleValue},
		{"bad time", edit(func(e map[string]any) { e["time"] = "yesterday" }), "time", fcevent.RuleFormat},
		{"missing data", edit(func(e map[string]any) { delete(e, "data") }), "data", fcevent.RuleRequired},
		{"null data", edit(func(e map[string]any) { e["data"] = nil }), "data", fcevent.RuleRequired},
		{"string data", edit(func(e map[string]any) { e["data"] = "{}" }), "data", fcevent.RuleType},
		{"missing eventName", edit(func(e map[string]any) { delete(data(e), "eventName") }), "data.eventName", fcevent.RuleRequired},
		{"array eventName", edit(func(e map[string]any) { data(e)["eventName"] = []any{"x"} }), "data.eventName", fcevent.RuleType},
		{"bad eventTime", edit(func(e map[string]any) { data(e)["eventTime"] = "2025-06-01 12:00:00" }), "data.eventTime", fcevent.RuleFormat},
		{"boolean errorCode", edit(func(e map[string]any) { data(e)["errorCode"] = false }), "data.errorCode", fcevent.RuleType},
		{"string userIdentity", edit(func(e map[string]any) { data(e)["userIdentity"] = "ops" }), "data.userIdentity", fcevent.RuleType},
		{"object accountId", edit(func(e map[string]any) {
			data(e)["userIdentity"].(map[string]any)["accountId"] = map[string]any{"id": 1}
		}), "data.userIdentity.accountId", fcevent.RuleType},
		{"array requestParameters", edit(func(e map[string]any) { data(e)["requestParameters"] = []any{} }), "data.requestParameters", fcevent.RuleType},
		{"requestParameters string not JSON", edit(func(e map[string]any) { data(e)["requestParameters"] = "AccountId=1" }), "data.requestParameters", fcevent.RuleJSON},
		{"requestParameters string holding an array", edit(func(e map[string]any) { data(e)["requestParameters"] = "[1]" }), "data.requestParameters", fcevent.RuleType},
		{"number responseElements", edit(func(e map[string]any) { data(e)["responseElements"] = 1 }), "data.responseElements", fcevent.RuleType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fcevent.DecodeCloudEvent(tc.raw)
			wantFieldError(t, err, tc.field, tc.rule)
		})
	}
}

func TestDecodeCloudEvents(t *testing.T) {
	one := encode(t, envelope())
	bad := envelope()
	delete(data(bad), "eventName")
	tests := []struct {
		name    string
		raw     []byte
		events  int
		errPart string // "" = no error
	}{
		{"single object", one, 1, ""},
		{"batch", []byte("[" + string(one) + "," + string(one) + "]"), 2, ""},
		{"batch with a bad event keeps the good one", []byte("[" + string(one) + "," + string(encode(t, bad)) + "]"), 1, "[1].data.eventName: required"},
		{"batch with a non-object", []byte("[" + string(one) + ",7]"), 1, "[1]: type"},
		{"empty batch", []byte("[]"), 0, "payload: required"},
		{"bad single", encode(t, bad), 0, "data.eventName: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := fcevent.DecodeCloudEvents(tc.raw)
			if len(evs) != tc.events {
				t.Fatalf("%d events, want %d", len(evs), tc.events)
			}
			switch {
			case tc.errPart == "" && err != nil:
				t.Fatal(err)
			case tc.errPart != "" && (err == nil || !strings.Contains(err.Error(), tc.errPart)):
				t.Fatalf("error = %v, want it to contain %q", err, tc.errPart)
			}
		})
	}
}
