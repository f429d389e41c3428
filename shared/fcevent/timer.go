package fcevent

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Mode is how much a reconcile run reads.
type Mode string

// Reconcile modes (the same strings as package reconcile's ModeFull and ModeIncremental).
const (
	ModeFull        Mode = "full"        // observe everything: the backstop
	ModeIncremental Mode = "incremental" // read only what changed since the last run
)

// ReconcileRequest is what a timer asks the reconcile function to do.
type ReconcileRequest struct {
	Mode Mode
}

// TimerEvent is a timer trigger's invocation.
type TimerEvent struct {
	TriggerTime time.Time // zero for a manual invocation without one
	TriggerName string
	Payload     string // the trigger's configured payload, as sent
	Request     ReconcileRequest
}

// DecodeTimer decodes a timer trigger event: {"triggerTime","triggerName","payload"}, where
// payload is the string configured on the trigger and holds our JSON {"mode":"full"|"incremental"}.
//
// Defaults keep manual runs easy: an empty or null invocation body, an empty payload and a
// payload without mode all mean a full run. The payload may also be the object itself instead
// of a string holding it (hand-written test events do that). Unknown payload fields are errors,
// so a misspelt "mdoe" cannot silently turn an incremental schedule into full scans.
func DecodeTimer(raw []byte) (TimerEvent, error) {
	ev := TimerEvent{Request: ReconcileRequest{Mode: ModeFull}}
	if len(raw) > MaxAsyncPayload {
		return TimerEvent{}, fieldErr("payload", RuleSize, "must be at most %d bytes, got %d", MaxAsyncPayload, len(raw))
	}
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return ev, nil
	}
	v, err := decodeJSON(raw, MaxAsyncPayload)
	if err != nil {
		return TimerEvent{}, err
	}
	root, ok, err := asObject(v, "payload")
	if err != nil {
		return TimerEvent{}, err
	}
	if !ok {
		return ev, nil
	}
	root.path = ""
	r := reader{o: root}
	ev.TriggerName = r.str("triggerName")
	ev.TriggerTime = r.time("triggerTime")
	if r.err != nil {
		return TimerEvent{}, r.err
	}
	var payload any
	switch p := root.get("payload").(type) {
	case nil:
	case string:
		ev.Payload = p
		if strings.TrimSpace(p) == "" {
			break
		}
		if payload, err = decodeEmbedded(p); err != nil {
			return TimerEvent{}, fieldErr("payload", RuleJSON, `must hold a JSON object such as {"mode":"incremental"}: %v`, err)
		}
	case map[string]any:
		b, _ := json.Marshal(p)
		ev.Payload = string(b)
		payload = p
	default:
		return TimerEvent{}, fieldErr("payload", RuleType, "must be a string holding a JSON object, got %s", jsonKind(p))
	}
	if payload == nil {
		return ev, nil
	}
	po, _, err := asObject(payload, "payload")
	if err != nil {
		return TimerEvent{}, err
	}
	if k := unknownKey(po.m, "mode"); k != "" {
		return TimerEvent{}, fieldErr("payload."+k, RuleUnknown, `is not a reconcile option (known: "mode")`)
	}
	mode, err := po.str("mode")
	if err != nil {
		return TimerEvent{}, err
	}
	switch Mode(mode) {
	case "":
	case ModeFull, ModeIncremental:
		ev.Request.Mode = Mode(mode)
	default:
		return TimerEvent{}, fieldErr("payload.mode", RuleValue, `must be "full" or "incremental", got %q`, clip(mode))
	}
	return ev, nil
}

// unknownKey returns the first key (in byte order, for stable errors) not in known.
func unknownKey(m map[string]any, known ...string) string {
	var bad []string
	for k := range m {
		ok := false
		for _, kn := range known {
			if k == kn {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	return clip(bad[0])
}
