package slsquery

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// isDelim reports whether r is in SLS's default token set: , ' " ; = ( ) [ ] { } ? @ & < > / : \n \t \r
// and space.
func isDelim(r rune) bool {
	switch r {
	case ',', '\'', '"', ';', '=', '(', ')', '[', ']', '{', '}', '?', '@', '&', '<', '>', '/', ':',
		'\n', '\t', '\r', ' ':
		return true
	}
	return false
}

// tokenize splits s on the default token set, dropping empty tokens.
func tokenize(s string) []string {
	return strings.FieldsFunc(s, isDelim)
}

// globMatch matches a pattern of literal runes and wildcards (* any run, ? one rune) against s.
func globMatch(p []pelem, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		r, w := utf8.DecodeRuneInString(s[si:])
		switch {
		case pi < len(p) && p[pi].wild && p[pi].r == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && ((p[pi].wild && p[pi].r == '?') || (!p[pi].wild && p[pi].r == r)):
			pi++
			si += w
		case star >= 0:
			// Backtrack: let the last '*' swallow one more rune.
			pi = star + 1
			_, mw := utf8.DecodeRuneInString(s[mark:])
			mark += mw
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].wild && p[pi].r == '*' {
		pi++
	}
	return pi == len(p)
}

// parseNumber accepts decimal numbers as SLS long/double indexes do: [+-]digits[.digits][e[+-]digits].
// strconv.ParseFloat alone would also take "NaN", "Inf", hex and underscores.
func parseNumber(s string) (float64, bool) {
	i, digits := 0, 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range
		return 0, false
	}
	return f, true
}

// doc is one log being matched, with lazily built token caches so each field is tokenized at most once.
type doc struct {
	fields    map[string]string
	fieldToks map[string][]string
	jsonCache map[string]map[string]any
	ftBuilt   bool
	ftSet     map[string]struct{}
	ftFields  [][]string
}

// reserved reports whether a key is one of SLS's reserved fields (__time__, __topic__, __source__,
// __tag__:...), which are searched by key only and are not part of the full text.
func reserved(key string) bool {
	return strings.HasPrefix(key, "__tag__:") ||
		(len(key) >= 4 && strings.HasPrefix(key, "__") && strings.HasSuffix(key, "__"))
}

func (d *doc) buildFullText() {
	if d.ftBuilt {
		return
	}
	d.ftBuilt = true
	d.ftSet = map[string]struct{}{}
	keys := make([]string, 0, len(d.fields))
	for k := range d.fields {
		if !reserved(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // deterministic phrase scan order
	for _, k := range keys {
		toks := tokenize(strings.ToLower(d.fields[k]))
		d.ftFields = append(d.ftFields, toks)
		for _, t := range toks {
			d.ftSet[t] = struct{}{}
		}
	}
}

func (d *doc) tokensOf(key, s string) []string {
	if t, ok := d.fieldToks[key]; ok {
		return t
	}
	if d.fieldToks == nil {
		d.fieldToks = map[string][]string{}
	}
	t := tokenize(strings.ToLower(s))
	d.fieldToks[key] = t
	return t
}

func (d *doc) number(key string) (float64, bool) {
	s, ok := d.lookup(key)
	if !ok {
		return 0, false
	}
	return parseNumber(strings.TrimSpace(s))
}

// lookup finds a field's value. A key with dots that is not itself a field reaches into a field
// holding a JSON object, as SLS JSON indexes do: "event.eventName" reads eventName of field "event".
func (d *doc) lookup(key string) (string, bool) {
	if v, ok := d.fields[key]; ok {
		return v, true
	}
	for i := 0; i < len(key); i++ {
		if key[i] != '.' {
			continue
		}
		raw, ok := d.fields[key[:i]]
		if !ok {
			continue
		}
		if obj := d.jsonObject(key[:i], raw); obj != nil {
			if v, ok := jsonPath(obj, key[i+1:]); ok {
				return v, true
			}
		}
	}
	return "", false
}

func (d *doc) jsonObject(key, raw string) map[string]any {
	if obj, ok := d.jsonCache[key]; ok {
		return obj
	}
	if d.jsonCache == nil {
		d.jsonCache = map[string]map[string]any{}
	}
	obj := parseJSONObject(raw)
	d.jsonCache[key] = obj
	return obj
}

func parseJSONObject(raw string) map[string]any {
	if t := strings.TrimSpace(raw); t == "" || t[0] != '{' {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if dec.Decode(&obj) != nil {
		return nil
	}
	return obj
}

// jsonPath walks path (dot-separated, where keys may themselves contain dots) through nested objects.
func jsonPath(obj map[string]any, path string) (string, bool) {
	if v, ok := obj[path]; ok {
		return jsonLeaf(v)
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := obj[path[:i]].(map[string]any); ok {
			if v, ok := jsonPath(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return "", false
}

func jsonLeaf(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return "", false
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}
