package fcevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// decodeJSON parses raw as exactly one JSON value of at most limit bytes. Numbers stay
// json.Number: account ids have 16 digits and float64 is exact only up to 2^53.
func decodeJSON(raw []byte, limit int) (any, error) {
	if len(raw) > limit {
		return nil, fieldErr("payload", RuleSize, "must be at most %d bytes, got %d", limit, len(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fieldErr("payload", RuleRequired, "is empty: a JSON object is expected")
		}
		return nil, fieldErr("payload", RuleJSON, "is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fieldErr("payload", RuleJSON, "has data after the JSON value (at byte %d)", dec.InputOffset())
	}
	return v, nil
}

// object is a decoded JSON object with its path from the root, for errors that name the field.
type object struct {
	path string
	m    map[string]any
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// asObject accepts a JSON object; null or absent (nil) gives ok=false without an error.
func asObject(v any, path string) (object, bool, error) {
	switch t := v.(type) {
	case nil:
		return object{path: path}, false, nil
	case map[string]any:
		return object{path: path, m: t}, true, nil
	default:
		return object{path: path}, false, fieldErr(path, RuleType, "must be a JSON object, got %s", jsonKind(v))
	}
}

func (o object) get(key string) any { return o.m[key] }

// getFold finds key exactly, else case-insensitively (real records mix AccountId and accountId).
// Among several case variants the first in byte order wins, so the answer does not depend on map order.
func (o object) getFold(key string) (string, any, bool) {
	if v, ok := o.m[key]; ok {
		return key, v, true
	}
	var keys []string
	for k := range o.m {
		if strings.EqualFold(k, key) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", nil, false
	}
	sort.Strings(keys)
	return keys[0], o.m[keys[0]], true
}

// str reads a scalar as text: a string, or a number as written (ids arrive both ways).
// Absent and null read as "".
func (o object) str(key string) (string, error) {
	return scalar(o.m[key], join(o.path, key))
}

func scalar(v any, path string) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	default:
		return "", fieldErr(path, RuleType, "must be a string, got %s", jsonKind(v))
	}
}

// obj reads a nested object; absent or null gives ok=false.
func (o object) obj(key string) (object, bool, error) {
	return asObject(o.m[key], join(o.path, key))
}

// objOrString reads an object that some producers send as a string holding JSON (ActionTrail
// records forwarded through SLS carry requestParameters that way). "" and null read as absent.
func (o object) objOrString(key string) (object, bool, error) {
	path := join(o.path, key)
	s, isString := o.m[key].(string)
	if !isString {
		return asObject(o.m[key], path)
	}
	if strings.TrimSpace(s) == "" {
		return object{path: path}, false, nil
	}
	v, err := decodeEmbedded(s)
	if err != nil {
		return object{path: path}, false, fieldErr(path, RuleJSON, "is a string but not a JSON object: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return object{path: path}, false, fieldErr(path, RuleType, "must be a JSON object (or a string holding one), got a string holding %s", jsonKind(v))
	}
	return asObject(v, path)
}

// parseTime reads an RFC 3339 time ("" gives the zero time). Both the CloudEvents "time"
// (+08:00 offsets) and ActionTrail's eventTime (Z, no fraction) are RFC 3339.
func parseTime(s, path string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(path, RuleFormat, "must be an RFC 3339 time such as 2021-01-01T00:00:00Z, got %q", clip(s))
	}
	return t, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "an unknown value"
	}
}

// clip shortens a value quoted in an error: error messages end up in logs and HTTP bodies.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	// Cut on a rune boundary so the message stays valid UTF-8.
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// decodeEmbedded parses a string that holds exactly one JSON value (numbers as json.Number).
func decodeEmbedded(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}
