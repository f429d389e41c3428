package slsquery

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth bounds nesting of parentheses and "not", so hostile input cannot exhaust the stack.
const maxDepth = 200

type sKind int

const (
	sEOF sKind = iota
	sWord
	sQuoted // "..."
	sPhrase // #"..."
	sLParen
	sRParen
	sColon
	sLBrack
	sRBrack
	sOp // >, >=, <, <=, =
)

// pelem is one rune of a search value; wild marks an unescaped * or ? in a bare word.
type pelem struct {
	r    rune
	wild bool
}

type stok struct {
	kind    sKind
	pos     int
	text    string  // decoded text (words: wildcards included as '*' and '?')
	elems   []pelem // words, quoted strings and phrases
	escaped bool    // a word had a backslash escape, so it is never a keyword
	wild    bool    // a word has an unescaped wildcard
}

// wordBreak lists the runes that end a bare word (besides white space).
func wordBreak(r rune) bool {
	switch r {
	case '(', ')', '"', ':', '[', ']', '|', '<', '>', '=':
		return true
	}
	return unicode.IsSpace(r)
}

// lexSearch splits the search statement into tokens. It stops at the first '|' outside quotes and
// returns its offset (or -1), where the analytic statement starts.
func lexSearch(q string) ([]stok, int, error) {
	var toks []stok
	i := 0
	for i < len(q) {
		r, w := utf8.DecodeRuneInString(q[i:])
		switch {
		case unicode.IsSpace(r):
			i += w
		case r == '|':
			return append(toks, stok{kind: sEOF, pos: i}), i, nil
		case r == '(':
			toks = append(toks, stok{kind: sLParen, pos: i, text: "("})
			i++
		case r == ')':
			toks = append(toks, stok{kind: sRParen, pos: i, text: ")"})
			i++
		case r == ':':
			toks = append(toks, stok{kind: sColon, pos: i, text: ":"})
			i++
		case r == '[':
			toks = append(toks, stok{kind: sLBrack, pos: i, text: "["})
			i++
		case r == ']':
			toks = append(toks, stok{kind: sRBrack, pos: i, text: "]"})
			i++
		case r == '>' || r == '<' || r == '=':
			op := string(r)
			if r != '=' && i+1 < len(q) && q[i+1] == '=' {
				op += "="
			}
			toks = append(toks, stok{kind: sOp, pos: i, text: op})
			i += len(op)
		case r == '"' || (r == '#' && i+1 < len(q) && q[i+1] == '"'):
			start, kind := i, sQuoted
			if r == '#' {
				kind = sPhrase
				i++
			}
			elems, next, err := lexQuoted(q, i)
			if err != nil {
				return nil, -1, err
			}
			toks = append(toks, stok{kind: kind, pos: start, text: elemText(elems), elems: elems})
			i = next
		default:
			t, next, err := lexWord(q, i)
			if err != nil {
				return nil, -1, err
			}
			toks = append(toks, t)
			i = next
		}
	}
	return append(toks, stok{kind: sEOF, pos: len(q)}), -1, nil
}

// lexQuoted reads a double-quoted string starting at q[i] == '"'. Inside, a backslash makes the next
// rune literal; * and ? are literal too (SLS treats quoted text as plain text).
func lexQuoted(q string, i int) ([]pelem, int, error) {
	start := i
	i++
	elems := []pelem{}
	for i < len(q) {
		r, w := utf8.DecodeRuneInString(q[i:])
		switch r {
		case '"':
			return elems, i + w, nil
		case '\\':
			if i+w >= len(q) {
				return nil, 0, errAt(i, "backslash at end of query: expected a character to escape")
			}
			r2, w2 := utf8.DecodeRuneInString(q[i+w:])
			elems = append(elems, pelem{r: r2})
			i += w + w2
		default:
			elems = append(elems, pelem{r: r})
			i += w
		}
	}
	return nil, 0, errAt(start, "unterminated quoted string: expected closing '\"'")
}

func lexWord(q string, i int) (stok, int, error) {
	t := stok{kind: sWord, pos: i}
	for i < len(q) {
		r, w := utf8.DecodeRuneInString(q[i:])
		if wordBreak(r) {
			break
		}
		switch r {
		case '\\':
			if i+w >= len(q) {
				return t, 0, errAt(i, "backslash at end of query: expected a character to escape")
			}
			r2, w2 := utf8.DecodeRuneInString(q[i+w:])
			t.elems = append(t.elems, pelem{r: r2})
			t.escaped = true
			i += w + w2
		case '*', '?':
			t.elems = append(t.elems, pelem{r: r, wild: true})
			t.wild = true
			i += w
		default:
			t.elems = append(t.elems, pelem{r: r})
			i += w
		}
	}
	t.text = elemText(t.elems)
	return t, i, nil
}

func elemText(elems []pelem) string {
	var b strings.Builder
	for _, e := range elems {
		b.WriteRune(e.r)
	}
	return b.String()
}

// isKeyword reports whether t is the bare, unescaped keyword kw (case-insensitive).
func (t stok) isKeyword(kw string) bool {
	return t.kind == sWord && !t.escaped && !t.wild && strings.EqualFold(t.text, kw)
}

func isReserved(t stok) bool {
	return t.isKeyword("and") || t.isKeyword("or") || t.isKeyword("not")
}

type searchParser struct {
	toks  []stok
	i     int
	depth int
}

func (p *searchParser) peek() stok { return p.toks[p.i] }

func (p *searchParser) peekAt(n int) stok {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *searchParser) next() stok {
	t := p.toks[p.i]
	if t.kind != sEOF {
		p.i++
	}
	return t
}

func (p *searchParser) parseQuery() (node, error) {
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != sEOF {
		if t.kind == sRParen {
			return nil, errAt(t.pos, "unexpected ')' without matching '('")
		}
		return nil, errAt(t.pos, "unexpected %q: expected and, or, not or a search term", t.text)
	}
	return n, nil
}

func (p *searchParser) parseOr() (node, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for p.peek().isKeyword("or") {
		p.next()
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return orNode(kids), nil
}

// startsTerm reports whether t can begin an operand, which makes juxtaposition "a b" mean "a and b".
func startsTerm(t stok) bool {
	switch t.kind {
	case sWord:
		return !t.isKeyword("and") && !t.isKeyword("or")
	case sQuoted, sPhrase, sLParen:
		return true
	}
	return false
}

func (p *searchParser) parseAnd() (node, error) {
	first, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	for {
		t := p.peek()
		if t.isKeyword("and") {
			p.next()
		} else if !startsTerm(t) {
			break
		}
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return andNode(kids), nil
}

func (p *searchParser) parseUnary() (node, error) {
	if !p.peek().isKeyword("not") {
		return p.parsePrimary()
	}
	p.next()
	if p.depth++; p.depth > maxDepth {
		return nil, errAt(p.peek().pos, "query nested deeper than %d levels", maxDepth)
	}
	defer func() { p.depth-- }()
	n, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return notNode{n}, nil
}

func (p *searchParser) parsePrimary() (node, error) {
	t := p.peek()
	switch t.kind {
	case sLParen:
		p.next()
		if p.depth++; p.depth > maxDepth {
			return nil, errAt(t.pos, "query nested deeper than %d levels", maxDepth)
		}
		defer func() { p.depth-- }()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != sRParen {
			return nil, errAt(c.pos, "expected ')' to close '(' at position %d", t.pos)
		}
		p.next()
		return n, nil
	case sPhrase:
		p.next()
		return textNode{newValue(t)}, nil
	case sWord, sQuoted:
		if isReserved(t) {
			return nil, errAt(t.pos, "unexpected %q: expected a search term (quote it to search for the word)", t.text)
		}
		p.next()
		switch nt := p.peek(); {
		case nt.kind == sColon:
			return p.parseField(t)
		case nt.kind == sOp:
			key, err := p.key(t)
			if err != nil {
				return nil, err
			}
			return p.parseCompare(key)
		case nt.isKeyword("in") && (p.peekAt(1).kind == sLBrack || p.peekAt(1).kind == sLParen):
			key, err := p.key(t)
			if err != nil {
				return nil, err
			}
			return p.parseRange(key)
		}
		if t.kind == sWord && t.wild && allStars(t.elems) {
			return allNode{}, nil
		}
		return textNode{newValue(t)}, nil
	case sEOF:
		return nil, errAt(t.pos, "expected a search term")
	case sRParen:
		return nil, errAt(t.pos, "unexpected ')': expected a search term")
	}
	return nil, errAt(t.pos, "unexpected %q: expected a search term", t.text)
}

// fieldKey names a log field; quoted keys may hold any character ("request method": PUT).
type fieldKey struct {
	name   string
	quoted bool
}

func (p *searchParser) key(t stok) (fieldKey, error) {
	if t.kind == sWord && t.wild {
		return fieldKey{}, errAt(t.pos, "field name %q must not contain wildcards", t.text)
	}
	if t.text == "" {
		return fieldKey{}, errAt(t.pos, "empty field name")
	}
	return fieldKey{name: t.text, quoted: t.kind == sQuoted}, nil
}

func (p *searchParser) parseField(t stok) (node, error) {
	key, err := p.key(t)
	if err != nil {
		return nil, err
	}
	colon := p.next()
	// Tag keys contain a colon: "__tag__:__receive_time__: 1700000000" lexes as
	// __tag__ ':' __receive_time__ ':' ..., so join the tag name back into the key.
	if t.kind == sWord && !t.escaped && t.text == "__tag__" {
		if n := p.peek(); n.kind == sWord && !n.wild {
			if after := p.peekAt(1); after.kind == sColon || after.kind == sOp ||
				(after.isKeyword("in") && (p.peekAt(2).kind == sLBrack || p.peekAt(2).kind == sLParen)) {
				p.next()
				key.name = "__tag__:" + n.text
				switch {
				case after.kind == sOp:
					return p.parseCompare(key)
				case after.kind != sColon:
					return p.parseRange(key)
				}
				colon = p.next()
			}
		}
	}
	v := p.peek()
	switch {
	case v.kind == sWord && !isReserved(v), v.kind == sQuoted, v.kind == sPhrase:
		p.next()
		return fieldNode{key: key, val: newValue(v)}, nil
	case v.kind == sWord:
		return nil, errAt(v.pos, "expected a value after ':' at position %d; quote %q to search for the word", colon.pos, v.text)
	}
	return nil, errAt(v.pos, "expected a value after ':' at position %d", colon.pos)
}

func (p *searchParser) number(what string) (string, float64, error) {
	t := p.peek()
	if t.kind == sWord && !t.wild && !t.escaped {
		if f, ok := parseNumber(t.text); ok {
			p.next()
			return t.text, f, nil
		}
	}
	return "", 0, errAt(t.pos, "expected a number %s", what)
}

func (p *searchParser) parseCompare(key fieldKey) (node, error) {
	op := p.next()
	raw, f, err := p.number("after '" + op.text + "'")
	if err != nil {
		return nil, err
	}
	return cmpNode{key: key, op: op.text, raw: raw, num: f}, nil
}

func (p *searchParser) parseRange(key fieldKey) (node, error) {
	p.next() // in
	open := p.next()
	loRaw, lo, err := p.number("for the lower bound after 'in " + open.text + "'")
	if err != nil {
		return nil, err
	}
	hiRaw, hi, err := p.number("for the upper bound of the range")
	if err != nil {
		return nil, err
	}
	c := p.peek()
	if c.kind != sRBrack && c.kind != sRParen {
		return nil, errAt(c.pos, "expected ']' or ')' to close the range opened at position %d", open.pos)
	}
	p.next()
	return rangeNode{key: key, loRaw: loRaw, hiRaw: hiRaw, lo: lo, hi: hi,
		loIncl: open.kind == sLBrack, hiIncl: c.kind == sRBrack}, nil
}

func allStars(elems []pelem) bool {
	for _, e := range elems {
		if !e.wild || e.r != '*' {
			return false
		}
	}
	return len(elems) > 0
}
