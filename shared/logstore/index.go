package logstore

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// ActionTrailIndexKeys are the fields auditwarden queries in actiontrail_* Logstores and in its
// backfill Logstore. ActionTrail ships each record as one log whose field "event" holds the
// record as JSON (topic actiontrail_audit_event), so the keys are JSON paths under "event":
// "event.userIdentity.accountId" is json_keys["userIdentity.accountId"] of the JSON key "event".
// The backfill writer must ship records in the same shape, so one query serves both Logstores.
//
//   - eventId: dedupe of backfilled records
//   - eventName, eventSource, serviceName, eventRW, eventType, errorCode: incremental mode (StopLogging,
//     DeleteTrail, UpdateTrail, Resource Directory membership changes) and the report
//   - eventTime, acsRegion, requestId: ordering and provenance in the report
//   - userIdentity.accountId, recipientAccountId: which member an event is about
//
// All of them are in the index localcloud gives the actiontrail_* Logstores it creates, so
// hardening one writes nothing to its index there. The real service's index is not documented
// key by key (UNVERIFIED); should a key be missing, EnsureIndex adds it with one UpdateIndex that
// keeps the service's own keys.
var ActionTrailIndexKeys = []string{
	"event.acsRegion",
	"event.errorCode",
	"event.eventId",
	"event.eventName",
	"event.eventRW",
	"event.eventSource",
	"event.eventTime",
	"event.eventType",
	"event.recipientAccountId",
	"event.requestId",
	"event.serviceName",
	"event.userIdentity.accountId",
}

// defaultTokens is SLS's default token set (the console's), used for keys this adapter adds.
var defaultTokens = []string{",", " ", "'", "\"", ";", "=", "(", ")", "[", "]", "{", "}", "?", "@", "&", "<", ">", "/", ":", "\n", "\t", "\r"}

// readOnlyIndexFields are what GetIndex adds to the stored configuration; they are not sent back.
// ttl follows the Logstore's own TTL and is dropped so an index write can never disagree with it.
var readOnlyIndexFields = []string{"lastModifyTime", "index_mode", "storage", "ttl"}

// splitKey reads a wanted key: "event.eventName" is JSON key "event", sub-key "eventName";
// "eventId" is a plain key.
func splitKey(k string) (top, sub string) {
	top, sub, _ = strings.Cut(k, ".")
	return top, sub
}

func checkIndexKey(k string) error {
	if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
		return fmt.Errorf("index key %q: must be a name or a dotted JSON path without empty parts", k)
	}
	if !utf8.ValidString(k) {
		return fmt.Errorf("index key %q: must be UTF-8", k)
	}
	return nil
}

// indexDoc is an index configuration kept as raw JSON, so fields this adapter does not know
// (index_all, max_depth, log_reduce lists, chn, alias, ...) survive a read-modify-write.
type indexDoc struct {
	fields map[string]json.RawMessage
	keys   map[string]map[string]json.RawMessage
}

func parseIndex(raw string) (*indexDoc, error) {
	d := &indexDoc{keys: map[string]map[string]json.RawMessage{}}
	if err := json.Unmarshal([]byte(raw), &d.fields); err != nil || d.fields == nil {
		return nil, fmt.Errorf("index configuration is not a JSON object: %v", err)
	}
	rawKeys, ok := d.fields["keys"]
	if !ok || string(rawKeys) == "null" {
		return d, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(rawKeys, &keys); err != nil {
		return nil, fmt.Errorf("index keys must be an object of key name to key config: %v", err)
	}
	for name, v := range keys {
		var k map[string]json.RawMessage
		if err := json.Unmarshal(v, &k); err != nil || k == nil {
			return nil, fmt.Errorf("index key %q must be an object: %v", name, err)
		}
		d.keys[name] = k
	}
	return d, nil
}

// keyType is a key's "type" ("" when absent or not a string).
func keyType(k map[string]json.RawMessage) string {
	var t string
	_ = json.Unmarshal(k["type"], &t)
	return t
}

// jsonKeys returns a JSON key's json_keys (empty when absent).
func jsonKeys(k map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	raw, ok := k["json_keys"]
	if !ok || string(raw) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("json_keys must be an object: %v", err)
	}
	if out == nil {
		out = map[string]json.RawMessage{}
	}
	return out, nil
}

// flatten lists every indexed key: each top-level key, and "<key>.<sub>" for each json_keys
// entry of a JSON key.
func (d *indexDoc) flatten() ([]string, error) {
	var out []string
	for name, k := range d.keys {
		out = append(out, name)
		if keyType(k) != "json" {
			continue
		}
		jk, err := jsonKeys(k)
		if err != nil {
			return nil, fmt.Errorf("index key %q: %w", name, err)
		}
		for sub := range jk {
			out = append(out, name+"."+sub)
		}
	}
	sort.Strings(out)
	return out, nil
}

// IndexedKeys lists the keys an index configuration (GetIndex's JSON) indexes, flattened as
// ActionTrailIndexKeys spells them.
func IndexedKeys(raw string) ([]string, error) {
	d, err := parseIndex(raw)
	if err != nil {
		return nil, err
	}
	return d.flatten()
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("logstore: marshal %T: %v", v, err)) // fixed shapes only
	}
	return b
}

func textKey() map[string]json.RawMessage {
	return map[string]json.RawMessage{
		"type": mustJSON("text"), "token": mustJSON(defaultTokens),
		"caseSensitive": mustJSON(false), "doc_value": mustJSON(true),
	}
}

func subKey() json.RawMessage { return mustJSON(map[string]any{"type": "text", "doc_value": true}) }

// add makes the document index key k; it reports whether anything changed.
func (d *indexDoc) add(k string) (bool, error) {
	if err := checkIndexKey(k); err != nil {
		return false, err
	}
	top, sub := splitKey(k)
	cur, exists := d.keys[top]
	if sub == "" {
		if exists {
			return false, nil
		}
		d.keys[top] = textKey()
		return true, nil
	}
	if !exists {
		cur = textKey()
		cur["type"] = mustJSON("json")
		// Index every string leaf for search; the listed sub-keys also get doc_value for SQL.
		cur["index_all"] = mustJSON(true)
		cur["max_depth"] = mustJSON(-1)
		d.keys[top] = cur
	}
	converted := false
	switch t := keyType(cur); t {
	case "json":
	case "text":
		// A text key cannot index its JSON fields; json keeps text's tokens and settings and
		// still answers full-text searches on the field.
		cur["type"] = mustJSON("json")
		converted = true
	default:
		return false, fmt.Errorf("index key %q is of type %q: it must be json (or text, which is converted) to index %q", top, t, k)
	}
	jk, err := jsonKeys(cur)
	if err != nil {
		return false, fmt.Errorf("index key %q: %w", top, err)
	}
	if _, ok := jk[sub]; ok && exists {
		return converted, nil
	}
	jk[sub] = subKey()
	cur["json_keys"] = mustJSON(jk)
	return true, nil
}

func (d *indexDoc) marshal() []byte {
	out := make(map[string]json.RawMessage, len(d.fields)+1)
	for k, v := range d.fields {
		out[k] = v
	}
	for _, k := range readOnlyIndexFields {
		delete(out, k)
	}
	if len(d.keys) > 0 {
		out["keys"] = mustJSON(d.keys)
	}
	return mustJSON(out)
}

// MergeIndex adds the wanted keys to an existing index configuration (GetIndex's JSON), keeping
// every key and setting already there. It returns the document to send with UpdateIndex and
// whether anything was missing; when nothing was, the document is nil.
func MergeIndex(raw string, want []string) ([]byte, bool, error) {
	d, err := parseIndex(raw)
	if err != nil {
		return nil, false, err
	}
	flat, err := d.flatten()
	if err != nil {
		return nil, false, err
	}
	have := make(map[string]bool, len(flat))
	for _, k := range flat {
		have[k] = true
	}
	changed := false
	for _, k := range want {
		if have[k] {
			continue // indexed already, possibly as a top-level key whose name has a dot
		}
		c, err := d.add(k)
		if err != nil {
			return nil, false, err
		}
		changed = changed || c
	}
	if !changed {
		return nil, false, nil
	}
	return d.marshal(), true, nil
}

// NewIndex is a new index configuration: a full-text line index plus the wanted keys.
func NewIndex(want []string) ([]byte, error) {
	d := &indexDoc{
		fields: map[string]json.RawMessage{
			"line": mustJSON(map[string]any{"token": defaultTokens, "caseSensitive": false}),
		},
		keys: map[string]map[string]json.RawMessage{},
	}
	for _, k := range want {
		if _, err := d.add(k); err != nil {
			return nil, err
		}
	}
	return d.marshal(), nil
}
