package slsquery

import (
	"strings"
	"unicode"
)

// Precedence levels for rendering: a child is parenthesized when its level is below its context's.
const (
	precOr = iota + 1
	precAnd
	precNot
	precAtom
)

type node interface {
	match(d *doc) bool
	write(b *strings.Builder, ctx int)
}

type (
	allNode  struct{}
	andNode  []node
	orNode   []node
	notNode  struct{ kid node }
	textNode struct{ val value } // full-text term or phrase
	// fieldNode is key: value; a bare "*" value means the field exists.
	fieldNode struct {
		key fieldKey
		val value
	}
	cmpNode struct {
		key fieldKey
		op  string
		raw string
		num float64
	}
	rangeNode struct {
		key            fieldKey
		loRaw, hiRaw   string
		lo, hi         float64
		loIncl, hiIncl bool
	}
)

func (allNode) match(*doc) bool { return true }

func (n andNode) match(d *doc) bool {
	for _, k := range n {
		if !k.match(d) {
			return false
		}
	}
	return true
}

func (n orNode) match(d *doc) bool {
	for _, k := range n {
		if k.match(d) {
			return true
		}
	}
	return false
}

func (n notNode) match(d *doc) bool { return !n.kid.match(d) }

func (n textNode) match(d *doc) bool { return n.val.matchFullText(d) }

func (n fieldNode) match(d *doc) bool {
	s, ok := d.lookup(n.key.name)
	if !ok {
		return false
	}
	if n.val.star {
		return true
	}
	return n.val.matchTokens(d.tokensOf(n.key.name, s), s)
}

func (n cmpNode) match(d *doc) bool {
	f, ok := d.number(n.key.name)
	if !ok {
		return false
	}
	switch n.op {
	case ">":
		return f > n.num
	case ">=":
		return f >= n.num
	case "<":
		return f < n.num
	case "<=":
		return f <= n.num
	}
	return f == n.num
}

func (n rangeNode) match(d *doc) bool {
	f, ok := d.number(n.key.name)
	if !ok {
		return false
	}
	return (f > n.lo || (n.loIncl && f == n.lo)) && (f < n.hi || (n.hiIncl && f == n.hi))
}

// value is a searched value: a bare word (which may hold * and ? wildcards), a quoted string, or a
// #"phrase". It is compiled to lower-cased tokens split on the default SLS token set, because SLS
// tokenizes the query text the same way it tokenizes the logs.
type value struct {
	elems []pelem // as written, for String()
	kind  sKind   // sWord, sQuoted or sPhrase
	wild  bool
	star  bool // bare word of only '*'
	toks  [][]pelem
	lits  []string // toks[i] as a string when it has no wildcard, else ""
	lower string   // whole text lower-cased, for values without any token ("", "/")
}

func newValue(t stok) value {
	v := value{elems: t.elems, kind: t.kind, wild: t.kind == sWord && t.wild}
	v.star = v.wild && allStars(t.elems)
	var cur []pelem
	flush := func() {
		if len(cur) == 0 {
			return
		}
		lit := ""
		if !hasWild(cur) {
			lit = elemText(cur)
		}
		v.toks = append(v.toks, cur)
		v.lits = append(v.lits, lit)
		cur = nil
	}
	var lower strings.Builder
	for _, e := range t.elems {
		e.r = unicode.ToLower(e.r)
		lower.WriteRune(e.r)
		if !e.wild && isDelim(e.r) {
			flush()
			continue
		}
		cur = append(cur, e)
	}
	flush()
	v.lower = lower.String()
	return v
}

func hasWild(p []pelem) bool {
	for _, e := range p {
		if e.wild {
			return true
		}
	}
	return false
}

// tokMatch matches query token i against one log token.
func (v value) tokMatch(i int, tok string) bool {
	if v.lits[i] != "" {
		return v.lits[i] == tok
	}
	return globMatch(v.toks[i], tok)
}

// matchTokens matches a field's value (raw) given its tokens: every query token must be one of the
// field's tokens; a phrase needs them consecutive and in order.
func (v value) matchTokens(ftoks []string, raw string) bool {
	if len(v.toks) == 0 {
		return strings.ToLower(raw) == v.lower
	}
	if v.kind == sPhrase {
		return v.phraseIn(ftoks)
	}
	for i := range v.toks {
		found := false
		for _, t := range ftoks {
			if v.tokMatch(i, t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (v value) phraseIn(ftoks []string) bool {
	for start := 0; start+len(v.toks) <= len(ftoks); start++ {
		ok := true
		for i := range v.toks {
			if !v.tokMatch(i, ftoks[start+i]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// matchFullText matches the value against the whole log: its tokens may come from different fields
// (SLS indexes a log's full text as one document), but a phrase must lie within one field.
func (v value) matchFullText(d *doc) bool {
	if len(v.toks) == 0 {
		return false
	}
	d.buildFullText()
	if v.kind == sPhrase {
		for _, ft := range d.ftFields {
			if v.phraseIn(ft) {
				return true
			}
		}
		return false
	}
	for i := range v.toks {
		if v.lits[i] != "" {
			if _, ok := d.ftSet[v.lits[i]]; !ok {
				return false
			}
			continue
		}
		found := false
		for t := range d.ftSet {
			if globMatch(v.toks[i], t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Rendering.

func (allNode) write(b *strings.Builder, _ int) { b.WriteString("*") }

func writeList(b *strings.Builder, kids []node, sep string, ctx, prec int) {
	if ctx > prec {
		b.WriteByte('(')
	}
	for i, k := range kids {
		if i > 0 {
			b.WriteString(sep)
		}
		k.write(b, prec+1)
	}
	if ctx > prec {
		b.WriteByte(')')
	}
}

func (n andNode) write(b *strings.Builder, ctx int) { writeList(b, n, " and ", ctx, precAnd) }
func (n orNode) write(b *strings.Builder, ctx int)  { writeList(b, n, " or ", ctx, precOr) }

func (n notNode) write(b *strings.Builder, ctx int) {
	if ctx > precNot {
		b.WriteByte('(')
	}
	b.WriteString("not ")
	n.kid.write(b, precNot)
	if ctx > precNot {
		b.WriteByte(')')
	}
}

func (n textNode) write(b *strings.Builder, _ int) { n.val.write(b) }

func (n fieldNode) write(b *strings.Builder, _ int) {
	n.key.write(b)
	b.WriteString(": ")
	n.val.write(b)
}

func (n cmpNode) write(b *strings.Builder, _ int) {
	n.key.write(b)
	b.WriteString(" " + n.op + " " + n.raw)
}

func (n rangeNode) write(b *strings.Builder, _ int) {
	n.key.write(b)
	b.WriteString(" in ")
	if n.loIncl {
		b.WriteByte('[')
	} else {
		b.WriteByte('(')
	}
	b.WriteString(n.loRaw + " " + n.hiRaw)
	if n.hiIncl {
		b.WriteByte(']')
	} else {
		b.WriteByte(')')
	}
}

// bareSafe reports whether text can be written as a bare word that lexes back to exactly itself and
// is not a keyword.
func bareSafe(text string) bool {
	if text == "" {
		return false
	}
	for _, r := range text {
		if wordBreak(r) || r == '*' || r == '?' || r == '\\' {
			return false
		}
	}
	if strings.HasPrefix(text, "#") {
		return false
	}
	switch strings.ToLower(text) {
	case "and", "or", "not", "in":
		return false
	}
	return true
}

func writeQuoted(b *strings.Builder, text string) {
	b.WriteByte('"')
	for _, r := range text {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
}

func (k fieldKey) write(b *strings.Builder) {
	if tag, ok := strings.CutPrefix(k.name, "__tag__:"); ok && bareSafe(tag) {
		b.WriteString(k.name) // re-joined by the parser, see parseField
		return
	}
	if bareSafe(k.name) && k.name != "__tag__" {
		b.WriteString(k.name)
		return
	}
	writeQuoted(b, k.name)
}

func (v value) write(b *strings.Builder) {
	text := elemText(v.elems)
	switch {
	case v.kind == sPhrase:
		b.WriteByte('#')
		writeQuoted(b, text)
	case !v.wild && bareSafe(text):
		b.WriteString(text)
	case !v.wild:
		writeQuoted(b, text)
	default:
		// A bare word keeps its wildcards; escape every other rune the lexer would treat specially.
		for i, e := range v.elems {
			if !e.wild && (wordBreak(e.r) || e.r == '*' || e.r == '?' || e.r == '\\' || (i == 0 && e.r == '#')) {
				b.WriteByte('\\')
			}
			b.WriteRune(e.r)
		}
	}
}
