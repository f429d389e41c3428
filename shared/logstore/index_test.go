package logstore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestIndexedKeys(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want []string
		err  string
	}{
		{"line only", `{"line":{"token":[","]}}`, nil, ""},
		{"null keys", `{"keys":null,"line":{}}`, nil, ""},
		{"text and json keys", `{"keys":{"a":{"type":"text"},"event":{"type":"json","json_keys":{"eventName":{"type":"text"},"userIdentity.accountId":{"type":"text"}}}}}`,
			[]string{"a", "event", "event.eventName", "event.userIdentity.accountId"}, ""},
		{"json_keys on a text key are not indexed", `{"keys":{"a":{"type":"text","json_keys":{"b":{}}}}}`, []string{"a"}, ""},
		{"not an object", `[1,2]`, nil, "not a JSON object"},
		{"keys not an object", `{"keys":[1]}`, nil, "keys must be an object"},
		{"key not an object", `{"keys":{"a":3}}`, nil, `index key "a" must be an object`},
		{"json_keys not an object", `{"keys":{"a":{"type":"json","json_keys":"x"}}}`, nil, "json_keys must be an object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IndexedKeys(tc.raw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}

func TestMergeIndex(t *testing.T) {
	cases := []struct {
		name        string
		raw         string
		want        []string
		changed     bool
		contains    []string // substrings the merged document must keep or gain
		notContains []string
		err         string
	}{
		{name: "complete: no write", raw: `{"keys":{"event":{"type":"json","json_keys":{"eventName":{"type":"text"}}}}}`,
			want: []string{"event.eventName"}, changed: false},
		{name: "json key gains a sub-key, keeps its settings",
			raw:  `{"keys":{"event":{"type":"json","max_depth":3,"index_all":false,"json_keys":{"eventName":{"type":"text"}}}},"log_reduce":true,"ttl":30,"lastModifyTime":1,"index_mode":"v2","storage":"pg"}`,
			want: []string{"event.eventName", "event.eventId"}, changed: true,
			contains:    []string{`"max_depth":3`, `"index_all":false`, `"eventId":{"doc_value":true,"type":"text"}`, `"eventName":{"type":"text"}`, `"log_reduce":true`},
			notContains: []string{`"ttl"`, `"lastModifyTime"`, `"index_mode"`, `"storage"`}},
		{name: "missing json key is added with index_all", raw: `{"line":{"token":[","]}}`,
			want: []string{"event.userIdentity.accountId"}, changed: true,
			contains: []string{`"type":"json"`, `"index_all":true`, `"userIdentity.accountId"`, `"line":{"token":[","]}`}},
		{name: "text key becomes json", raw: `{"keys":{"event":{"type":"text","token":[";"],"caseSensitive":true}}}`,
			want: []string{"event.eventName"}, changed: true, contains: []string{`"type":"json"`, `"token":[";"]`, `"caseSensitive":true`}},
		{name: "plain key is added as text", raw: `{"keys":{}}`, want: []string{"eventId"}, changed: true,
			contains: []string{`"eventId":{"caseSensitive":false,"doc_value":true`}},
		{name: "a literal dotted top-level key satisfies the want", raw: `{"keys":{"a.b":{"type":"text"}}}`, want: []string{"a.b"}, changed: false},
		{name: "long key cannot hold JSON fields", raw: `{"keys":{"event":{"type":"long"}}}`, want: []string{"event.eventName"},
			err: `index key "event" is of type "long"`},
		{name: "empty path part", raw: `{}`, want: []string{"event..x"}, err: "without empty parts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, changed, err := MergeIndex(tc.raw, tc.want)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed {
				t.Fatalf("changed = %v; want %v (doc %s)", changed, tc.changed, doc)
			}
			if !changed {
				if doc != nil {
					t.Errorf("unchanged merge returned a document: %s", doc)
				}
				return
			}
			for _, s := range tc.contains {
				if !strings.Contains(string(doc), s) {
					t.Errorf("merged document lacks %s: %s", s, doc)
				}
			}
			for _, s := range tc.notContains {
				if strings.Contains(string(doc), s) {
					t.Errorf("merged document still has read-only %s: %s", s, doc)
				}
			}
			keys, err := IndexedKeys(string(doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.want {
				if !slices.Contains(keys, k) {
					t.Errorf("merged index lacks %s (has %v)", k, keys)
				}
			}
		})
	}
}

func TestNewIndexCoversActionTrailKeys(t *testing.T) {
	doc, err := NewIndex(ActionTrailIndexKeys)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := IndexedKeys(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ActionTrailIndexKeys {
		if !slices.Contains(keys, k) {
			t.Errorf("new index lacks %s", k)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil || m["line"] == nil {
		t.Errorf("new index has no full-text line index: %s", doc)
	}
	if _, err := NewIndex([]string{"ok", ""}); err == nil {
		t.Error("NewIndex accepted an empty key")
	}
}

// FuzzMergeIndex feeds GetIndex answers (outside input) to the decoder and the merge: no panic;
// a merge keeps every key indexed before and indexes every wanted key.
func FuzzMergeIndex(f *testing.F) {
	f.Add(`{"keys":{"event":{"type":"json","json_keys":{"eventName":{"type":"text"}}}}}`, "event.eventId")
	f.Add(`{"line":{"token":[","]}}`, "eventId")
	f.Add(`{"keys":{"a.b":{"type":"text"},"a":{"type":"text"}}}`, "a.b.c")
	f.Add(`{"keys":null}`, "x.y")
	f.Add(`{"keys":{"e":{"type":"json","json_keys":null}}}`, "e.f")
	f.Add(`{}`, "")
	f.Fuzz(func(t *testing.T, raw, key string) {
		before, berr := IndexedKeys(raw)
		doc, changed, err := MergeIndex(raw, []string{key})
		if err != nil {
			return
		}
		if berr != nil {
			t.Fatalf("MergeIndex accepted what IndexedKeys refused: %v", berr)
		}
		if !changed {
			if !slices.Contains(before, key) {
				t.Fatalf("unchanged merge but %q is not indexed (%v)", key, before)
			}
			return
		}
		after, err := IndexedKeys(string(doc))
		if err != nil {
			t.Fatalf("merged document does not parse: %v\n%s", err, doc)
		}
		if !slices.Contains(after, key) {
			t.Fatalf("merged index lacks %q: %v", key, after)
		}
		for _, k := range before {
			if !slices.Contains(after, k) {
				t.Fatalf("merge lost %q: before %v after %v", k, before, after)
			}
		}
	})
}
