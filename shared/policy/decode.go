package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxSize bounds the documents Parse reads; a real policy is a few kilobytes.
const MaxSize = 1 << 20

// Limits on the walk over the YAML tree: aliases can make a small document
// expand enormously, and an anchor can even contain itself.
const (
	maxNodes = 1 << 16
	maxDepth = 48
)

// Parse reads a policy document (YAML, or JSON), fills the defaults and
// validates the result. Every problem is reported at once in a
// *ValidationError; the policy is returned only when there is none.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, errorsOf([]FieldError{{Rule: fmt.Sprintf("max-size %d", MaxSize),
			Message: fmt.Sprintf("the document is %d bytes; a policy is at most %d", len(data), MaxSize)}})
	}
	doc, fe := readDocument(data)
	if fe != nil {
		return nil, errorsOf([]FieldError{*fe})
	}
	body := doc.Content[0]
	if fe := checkVersion(body); fe != nil {
		return nil, errorsOf([]FieldError{*fe})
	}

	w := &walker{lines: map[string]int{}, discarded: map[string]bool{}, active: map[*yaml.Node]bool{}}
	w.secrets(body, "", 0)
	if !w.exhausted {
		w.walk(body, reflect.TypeOf(Policy{}), "", 0)
	}
	if w.exhausted {
		return nil, errorsOf(w.errs)
	}

	p := preset()
	if err := decodeStrict(doc, p); err != nil {
		// The walk removed everything decoding could trip on; reaching this
		// means the two disagree, so report it rather than guess.
		return nil, errorsOf(append(w.errs, FieldError{Rule: "yaml-decode", Message: err.Error()}))
	}
	p.applyDefaults()

	errs := w.errs
	for _, fe := range p.problems() {
		if w.covers(fe.Field) {
			continue // its value was discarded: one complaint per field is enough
		}
		fe.Line = w.lineOf(fe.Field)
		errs = append(errs, fe)
	}
	if err := errorsOf(errs); err != nil {
		return nil, err
	}
	return p, nil
}

var lineRe = regexp.MustCompile(`line (\d+)`)

// readDocument parses data into a node tree holding exactly one non-empty document.
func readDocument(data []byte) (*yaml.Node, *FieldError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{Rule: "required", Message: "the policy document is empty"}
		}
		return nil, syntaxError(err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &FieldError{Rule: "required", Message: "the policy document is empty", Line: doc.Line}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err)
	case len(extra.Content) > 0 && !isNull(extra.Content[0]):
		return nil, &FieldError{Rule: "single-document", Line: extra.Line,
			Message: "a policy is one YAML document; remove the documents after the first"}
	}
	if body := doc.Content[0]; body.Kind != yaml.MappingNode {
		return nil, &FieldError{Rule: "type mapping", Line: body.Line,
			Message: fmt.Sprintf("the policy must be a mapping of fields, got %s", kindName(body))}
	}
	return &doc, nil
}

func syntaxError(err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := &FieldError{Rule: "yaml-syntax", Message: msg}
	if m := lineRe.FindStringSubmatchIndex(msg); m != nil {
		fe.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		if m[0] == 0 {
			fe.Message = strings.TrimPrefix(msg[m[1]:], ": ") // the line is in Line
		}
	}
	return fe
}

// checkVersion refuses documents of another version before anything else is
// read: their fields may mean something else.
func checkVersion(body *yaml.Node) *FieldError {
	for i := 0; i+1 < len(body.Content); i += 2 {
		k, v := body.Content[i], body.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "apiVersion" {
			continue
		}
		if d := deref(v); d != nil {
			v = d
		}
		if v.Kind == yaml.ScalarNode && v.Value == APIVersion {
			return nil
		}
		got := v.Value
		if v.Kind != yaml.ScalarNode {
			got = kindName(v)
		}
		return &FieldError{Field: "apiVersion", Rule: "oneof " + APIVersion, Line: k.Line,
			Message: fmt.Sprintf("unsupported apiVersion %q: this build reads %s", clip(got), APIVersion)}
	}
	return &FieldError{Field: "apiVersion", Rule: "required",
		Message: "apiVersion is required (apiVersion: " + APIVersion + ")"}
}

// decodeStrict decodes the checked tree. It decodes the nodes directly rather
// than re-encoding them for a Decoder with KnownFields: the walk already
// refused every unknown field, with its path, and the encoder can emit
// unreadable YAML for some comment placements.
func decodeStrict(doc *yaml.Node, p *Policy) error {
	return doc.Decode(p)
}

// walker checks the YAML tree against the Go types it decodes into, so that
// unknown keys, wrong types and secrets are reported with their dotted path and
// line. It removes every offending entry, so decoding the rest succeeds and
// validation can report the remaining problems in the same pass.
type walker struct {
	errs      []FieldError
	lines     map[string]int
	discarded map[string]bool
	// active holds the nodes being walked: meeting one again means an
	// anchor that contains itself.
	active    map[*yaml.Node]bool
	nodes     int
	exhausted bool
}

// note reports a problem whose value has no bearing on the rest: an unknown
// field or a secret.
func (w *walker) note(path string, line int, rule, format string, args ...any) {
	w.errs = append(w.errs, FieldError{Field: path, Rule: rule, Message: fmt.Sprintf(format, args...), Line: line})
}

// fail reports a value that is discarded, which may change how the values
// around it are judged.
func (w *walker) fail(path string, line int, rule, format string, args ...any) {
	w.note(path, line, rule, format, args...)
	w.discarded[path] = true
}

// spend counts a visited node and stops the walk when the budget is exhausted.
func (w *walker) spend() bool {
	if w.exhausted {
		return false
	}
	w.nodes++
	if w.nodes > maxNodes {
		w.exhausted = true
		w.fail("", 0, "max-nodes "+strconv.Itoa(maxNodes), "the document expands to more than %d nodes (aliases?)", maxNodes)
		return false
	}
	return true
}

func (w *walker) setLine(path string, line int) {
	if _, ok := w.lines[path]; !ok {
		w.lines[path] = line
	}
}

// covers reports whether field, a value enclosing it or a value inside it was
// discarded: its verdict would be about the defaults that replaced it.
func (w *walker) covers(field string) bool {
	for r := range w.discarded {
		if strings.HasPrefix(r, field+".") || strings.HasPrefix(r, field+"[") {
			return true
		}
	}
	for f := field; ; {
		if w.discarded[f] {
			return true
		}
		parent, ok := parentPath(f)
		if !ok {
			return false
		}
		f = parent
	}
}

// lineOf is the line of field, or of the nearest enclosing value the document has.
func (w *walker) lineOf(field string) int {
	for f := field; ; {
		if l, ok := w.lines[f]; ok {
			return l
		}
		parent, ok := parentPath(f)
		if !ok {
			return 0
		}
		f = parent
	}
}

// parentPath strips the last ".key" or "[i]"; a top-level field has no parent.
func parentPath(f string) (string, bool) {
	i := strings.LastIndexAny(f, ".[")
	if i <= 0 {
		return "", false
	}
	return f[:i], true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// deref follows aliases; nil means a chain too long to be anything but a loop.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", clip(n.Value))
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// clip shortens a value quoted back in a message.
func clip(s string) string {
	const max = 48
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "..."
}

const secretMessage = "secrets never go in the policy: AccessKey pairs for custom authentication are " +
	"passed once to the API, used to create the member's roles and never stored"

// secretKey reports whether a key names a credential, whatever its spelling.
func secretKey(key string) bool {
	k := strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return unicode.ToLower(r)
	}, key)
	if strings.Contains(k, "secret") || strings.Contains(k, "password") || strings.Contains(k, "passwd") {
		return true
	}
	switch k {
	case "accesskey", "accesskeyid", "akid", "securitytoken", "ststoken", "sessiontoken", "token",
		"privatekey", "apikey", "credential", "credentials":
		return true
	}
	return false
}

// secrets reports every key naming a credential, anywhere in the tree,
// including under unknown or mistyped fields.
func (w *walker) secrets(n *yaml.Node, path string, depth int) {
	n = deref(n)
	if n == nil || depth > maxDepth || !w.spend() {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), n.Content[i+1]
			if k == nil || k.Kind != yaml.ScalarNode {
				continue
			}
			if isMerge(k) {
				w.secrets(v, path, depth+1)
				continue
			}
			child := join(path, k.Value)
			if secretKey(k.Value) {
				w.note(child, k.Line, "no-secrets", secretMessage)
				continue
			}
			w.secrets(v, child, depth+1)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			w.secrets(e, index(path, i), depth+1)
		}
	}
}

var (
	tagSelectorType = reflect.TypeOf(TagSelector{})
	tagMappingType  = reflect.TypeOf(tagMapping{})
)

// walk checks n against t and reports whether n may be kept.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, depth int) bool {
	line := n.Line
	if n = deref(n); n == nil || depth > maxDepth {
		w.fail(path, line, "max-depth "+strconv.Itoa(maxDepth), "nested deeper than %d levels", maxDepth)
		return false
	}
	if !w.spend() || !w.enter(n, path) {
		return false
	}
	defer delete(w.active, n)
	w.setLine(path, n.Line)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == tagSelectorType {
		switch n.Kind {
		case yaml.ScalarNode:
			return w.scalar(n, reflect.TypeOf(""), path)
		case yaml.MappingNode:
			return w.mapping(n, tagMappingType, path, depth)
		}
		w.fail(path, n.Line, "type tag", `must be "key=value", "key" or {key: ..., value: ...}, got %s`, kindName(n))
		return false
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return w.mapping(n, t, path, depth)
	case reflect.Slice:
		return w.list(n, t, path, depth)
	}
	return w.scalar(n, t, path)
}

// mapping checks a mapping decoded into a struct (keys are its yaml field
// names) or into a map (any string key).
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string, depth int) bool {
	if !w.spend() {
		return false
	}
	var fields map[string]reflect.Type
	if t.Kind() == reflect.Struct {
		fields = yamlFields(t)
	}
	if n.Kind != yaml.MappingNode {
		if fields != nil {
			w.fail(path, n.Line, "type mapping", "must be a mapping with fields %s, got %s", fieldList(fields), kindName(n))
		} else {
			w.fail(path, n.Line, "type mapping", "must be a mapping, got %s", kindName(n))
		}
		return false
	}
	seen := map[string]int{}
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			if w.merge(v, t, path, depth) {
				kept = append(kept, k, v)
			}
			continue
		}
		kd := deref(k)
		if kd == nil || kd.Kind != yaml.ScalarNode {
			w.note(path, k.Line, "type key", "keys must be plain strings, got %s", kindName(k))
			continue
		}
		name := kd.Value
		child := join(path, name)
		if secretKey(name) {
			continue // reported by secrets
		}
		if prev, dup := seen[name]; dup {
			w.fail(child, k.Line, "duplicate-key", "%q is already set on line %d", clip(name), prev)
			continue
		}
		seen[name] = k.Line
		w.setLine(child, k.Line)
		elem := t.Elem
		if fields != nil {
			ft, ok := fields[name]
			if !ok {
				w.note(child, k.Line, "unknown-field", "unknown field %q; known fields here: %s", clip(name), fieldList(fields))
				continue
			}
			elem = func() reflect.Type { return ft }
		}
		if isNull(v) {
			if fields == nil && elem().Kind() == reflect.Struct {
				// "waf:" lists a product with its defaults.
				kept = append(kept, k, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line})
			}
			continue // an empty value means the field is omitted
		}
		if w.walk(v, elem(), child, depth+1) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
	return true
}

// enter marks n as being walked, refusing a node that contains itself.
func (w *walker) enter(n *yaml.Node, path string) bool {
	if w.active[n] {
		w.fail(path, n.Line, "recursive-alias", "an anchored value cannot contain itself")
		return false
	}
	w.active[n] = true
	return true
}

// merge checks the value of a "<<" merge key: a mapping or a list of mappings.
func (w *walker) merge(v *yaml.Node, t reflect.Type, path string, depth int) bool {
	mapping := func(m *yaml.Node) bool {
		if m == nil || m.Kind != yaml.MappingNode || !w.enter(m, path) {
			return false
		}
		defer delete(w.active, m)
		return w.mapping(m, t, path, depth+1)
	}
	d := deref(v)
	if d != nil && depth <= maxDepth {
		switch d.Kind {
		case yaml.MappingNode:
			return mapping(d)
		case yaml.SequenceNode:
			ok := true
			for _, e := range d.Content {
				if !mapping(deref(e)) {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
	}
	if w.exhausted || w.discarded[path] {
		return false
	}
	w.fail(path, v.Line, "type merge", "a merge key (<<) takes a mapping or a list of mappings")
	return false
}

// blankNode stands in for a list element that is empty or was discarded:
// decoding drops null elements, which would shift the indices of the rest.
func blankNode(line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Line: line}
}

func (w *walker) list(n *yaml.Node, t reflect.Type, path string, depth int) bool {
	if n.Kind != yaml.SequenceNode {
		w.fail(path, n.Line, "type list", "must be a list, got %s", kindName(n))
		return false
	}
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i, e := range n.Content {
		child := index(path, i)
		w.setLine(child, e.Line)
		if isNull(e) || !w.walk(e, t.Elem(), child, depth+1) {
			e = blankNode(e.Line)
		}
		kept = append(kept, e)
	}
	n.Content = kept
	return true
}

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) bool {
	want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "bool"}[t.Kind()]
	if want == "" {
		want = "integer"
	}
	if n.Kind == yaml.ScalarNode {
		if err := n.Decode(reflect.New(t).Interface()); err == nil {
			return true
		}
	}
	article := map[string]string{"string": "a string", "bool": "true or false", "integer": "a whole number"}[want]
	w.fail(path, n.Line, "type "+want, "must be %s, got %s", article, kindName(n))
	return false
}

// yamlFields maps the yaml names of a struct's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func fieldList(fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
