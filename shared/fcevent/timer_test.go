package fcevent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/fcevent"
)

func TestDecodeTimer(t *testing.T) {
	at := time.Date(2022, 7, 29, 10, 2, 58, 0, time.UTC)
	tests := []struct {
		name    string
		raw     string
		mode    fcevent.Mode
		trigger string
		time    time.Time
		payload string
	}{
		{"full", `{"triggerTime":"2022-07-29T10:02:58Z","triggerName":"every-15m","payload":"{\"mode\":\"full\"}"}`, fcevent.ModeFull, "every-15m", at, `{"mode":"full"}`},
		{"incremental", `{"triggerTime":"2022-07-29T10:02:58Z","triggerName":"t","payload":"{\"mode\":\"incremental\"}"}`, fcevent.ModeIncremental, "t", at, `{"mode":"incremental"}`},
		{"payload with spaces", `{"triggerName":"t","payload":" { \"mode\" : \"incremental\" } "}`, fcevent.ModeIncremental, "t", time.Time{}, ` { "mode" : "incremental" } `},
		{"payload as an object", `{"triggerName":"t","payload":{"mode":"incremental"}}`, fcevent.ModeIncremental, "t", time.Time{}, `{"mode":"incremental"}`},
		{"empty payload means full", `{"triggerTime":"2022-07-29T10:02:58Z","triggerName":"t","payload":""}`, fcevent.ModeFull, "t", at, ""},
		{"no payload means full", `{"triggerName":"t"}`, fcevent.ModeFull, "t", time.Time{}, ""},
		{"null payload means full", `{"triggerName":"t","payload":null}`, fcevent.ModeFull, "t", time.Time{}, ""},
		{"payload without mode means full", `{"triggerName":"t","payload":"{}"}`, fcevent.ModeFull, "t", time.Time{}, "{}"},
		{"mode null means full", `{"payload":"{\"mode\":null}"}`, fcevent.ModeFull, "", time.Time{}, `{"mode":null}`},
		{"manual invocation without a body", ``, fcevent.ModeFull, "", time.Time{}, ""},
		{"manual invocation with null", ` null `, fcevent.ModeFull, "", time.Time{}, ""},
		{"manual invocation with {}", `{}`, fcevent.ModeFull, "", time.Time{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := fcevent.DecodeTimer([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Request.Mode != tc.mode || ev.TriggerName != tc.trigger || !ev.TriggerTime.Equal(tc.time) || ev.Payload != tc.payload {
				t.Fatalf("timer = %+v, want mode %s trigger %q time %v payload %q", ev, tc.mode, tc.trigger, tc.time, tc.payload)
			}
		})
	}
}

func TestDecodeTimerErrors(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		field, rule string
	}{
		{"unknown mode", `{"payload":"{\"mode\":\"fast\"}"}`, "payload.mode", fcevent.RuleValue},
		{"mode in capitals", `{"payload":"{\"mode\":\"FULL\"}"}`, "payload.mode", fcevent.RuleValue},
		{"mode as a number", `{"payload":"{\"mode\":1}"}`, "payload.mode", fcevent.RuleValue},
		{"mode as a boolean", `{"payload":"{\"mode\":true}"}`, "payload.mode", fcevent.RuleType},
		{"misspelt option", `{"payload":"{\"mdoe\":\"incremental\"}"}`, "payload.mdoe", fcevent.RuleUnknown},
		{"payload not JSON", `{"payload":"incremental"}`, "payload", fcevent.RuleJSON},
		{"payload with trailing data", `{"payload":"{\"mode\":\"full\"} x"}`, "payload", fcevent.RuleJSON},
		{"payload holding an array", `{"payload":"[\"full\"]"}`, "payload", fcevent.RuleType},
		{"payload a number", `{"payload":5}`, "payload", fcevent.RuleType},
		{"bad trigger time", `{"triggerTime":"29/07/2022","payload":""}`, "triggerTime", fcevent.RuleFormat},
		{"object trigger name", `{"triggerName":{},"payload":""}`, "triggerName", fcevent.RuleType},
		{"not JSON", `mode=full`, "payload", fcevent.RuleJSON},
		{"not an object", `["full"]`, "payload", fcevent.RuleType},
		{"oversize", `{"payload":"` + strings.Repeat(" ", fcevent.MaxAsyncPayload) + `"}`, "payload", fcevent.RuleSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fcevent.DecodeTimer([]byte(tc.raw))
			wantFieldError(t, err, tc.field, tc.rule)
		})
	}
}
