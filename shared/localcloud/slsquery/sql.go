package slsquery

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The analytic statement subset: SELECT [DISTINCT] items [FROM log] [GROUP BY ...] [ORDER BY ...]
// [LIMIT [offset,] n], where an item is *, a field, or count/sum/avg/min/max/approx_distinct of a
// field. Everything else is rejected at parse time so Analyze itself never fails.

type qKind int

const (
	qEOF qKind = iota
	qIdent
	qQuotedIdent // "field"
	qString      // 'text'
	qNumber
	qPunct
)

type qtok struct {
	kind qKind
	pos  int // offset in the whole query
	text string
}

func (t qtok) is(kw string) bool { return t.kind == qIdent && strings.EqualFold(t.text, kw) }

func (t qtok) describe() string {
	switch t.kind {
	case qEOF:
		return "end of query"
	case qString:
		return "string '" + t.text + "'"
	case qQuotedIdent:
		return `"` + t.text + `"`
	}
	return "'" + t.text + "'"
}

// identStart and identPart follow Presto's lexer, which SLS SQL uses: identifiers may contain @ and :
// after the first rune.
func identStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func identPart(r rune) bool {
	return identStart(r) || unicode.IsDigit(r) || r == '@' || r == ':'
}

func lexSQL(s string, base int) ([]qtok, error) {
	var toks []qtok
	i := 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		start := i
		switch {
		case unicode.IsSpace(r):
			i += w
			continue
		case identStart(r):
			for i < len(s) {
				r2, w2 := utf8.DecodeRuneInString(s[i:])
				if !identPart(r2) {
					break
				}
				i += w2
			}
			toks = append(toks, qtok{kind: qIdent, pos: base + start, text: s[start:i]})
		case r >= '0' && r <= '9':
			for i < len(s) && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.') {
				i++
			}
			toks = append(toks, qtok{kind: qNumber, pos: base + start, text: s[start:i]})
		case r == '"' || r == '\'':
			// SQL quoting: the quote doubled stands for itself.
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == byte(r) {
					if i+1 < len(s) && s[i+1] == byte(r) {
						b.WriteRune(r)
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				r2, w2 := utf8.DecodeRuneInString(s[i:])
				b.WriteRune(r2)
				i += w2
			}
			if !closed {
				return nil, errAt(base+start, "unterminated %c-quoted text: expected closing %c", r, r)
			}
			kind := qQuotedIdent
			if r == '\'' {
				kind = qString
			}
			toks = append(toks, qtok{kind: kind, pos: base + start, text: b.String()})
		default:
			text, n := string(r), w
			if i+2 <= len(s) {
				switch s[i : i+2] {
				case "<=", ">=", "!=", "<>":
					text, n = s[i:i+2], 2
				}
			}
			i += n
			toks = append(toks, qtok{kind: qPunct, pos: base + start, text: text})
		}
	}
	return append(toks, qtok{kind: qEOF, pos: base + len(s)}), nil
}

// colRef names a field. Resolution is exact first, then case-insensitive (Presto folds unquoted names).
type colRef struct {
	name   string
	quoted bool
}

type exprKind int

const (
	exprCol exprKind = iota
	exprAgg
)

type expr struct {
	kind     exprKind
	col      colRef // exprCol, or the aggregate's argument
	fn       string // lower-case aggregate name
	distinct bool
	argStar  bool   // count(*)
	argLit   string // count(1): a numeric literal counts every row
}

func (e expr) rowsOnly() bool { return e.argStar || e.argLit != "" }

func (e expr) equal(o expr) bool {
	if e.kind != o.kind {
		return false
	}
	if e.kind == exprCol {
		return strings.EqualFold(e.col.name, o.col.name)
	}
	if e.fn != o.fn || e.distinct != o.distinct || e.rowsOnly() != o.rowsOnly() {
		return false
	}
	return e.rowsOnly() || strings.EqualFold(e.col.name, o.col.name)
}

type selItem struct {
	pos   int
	star  bool
	e     expr
	alias *colRef
}

type groupItem struct {
	pos     int
	ordinal string // "2" for GROUP BY 2
	col     colRef
}

type orderItem struct {
	pos     int
	ordinal string
	e       expr
	desc    bool
}

type sqlStmt struct {
	distinct bool
	items    []selItem
	groupBy  []groupItem
	orderBy  []orderItem
	hasLimit bool
	offset   int64
	limit    int64
	plan     plan
}

type sqlParser struct {
	toks []qtok
	i    int
}

func (p *sqlParser) peek() qtok { return p.toks[p.i] }
func (p *sqlParser) next() qtok {
	t := p.toks[p.i]
	if t.kind != qEOF {
		p.i++
	}
	return t
}

func (p *sqlParser) accept(kw string) bool {
	if p.peek().is(kw) {
		p.next()
		return true
	}
	return false
}

func (p *sqlParser) punct(s string) bool {
	if t := p.peek(); t.kind == qPunct && t.text == s {
		p.next()
		return true
	}
	return false
}

func (p *sqlParser) expect(kw string, after string) error {
	if !p.accept(kw) {
		t := p.peek()
		return errAt(t.pos, "expected %s after %s, found %s", strings.ToUpper(kw), after, t.describe())
	}
	return nil
}

// clause keywords cannot be bare aliases or field names.
var clauseWords = map[string]bool{
	"select": true, "from": true, "where": true, "group": true, "by": true, "order": true,
	"limit": true, "having": true, "as": true, "distinct": true, "union": true, "join": true,
	"offset": true, "and": true, "or": true, "not": true, "asc": true, "desc": true,
}

var aggregates = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "approx_distinct": true,
}

func parseSQL(s string, base int) (*sqlStmt, error) {
	toks, err := lexSQL(s, base)
	if err != nil {
		return nil, err
	}
	p := &sqlParser{toks: toks}
	st := &sqlStmt{}
	if t := p.peek(); !t.is("select") {
		if t.kind == qEOF {
			return nil, errAt(t.pos, "expected SELECT after '|'")
		}
		return nil, errAt(t.pos, "expected SELECT after '|', found %s", t.describe())
	}
	p.next()
	st.distinct = p.accept("distinct")
	for {
		it, err := p.selectItem(len(st.items))
		if err != nil {
			return nil, err
		}
		st.items = append(st.items, it)
		if !p.punct(",") {
			break
		}
	}
	if p.accept("from") {
		t := p.next()
		if !(t.kind == qIdent || t.kind == qQuotedIdent) || !strings.EqualFold(t.text, "log") {
			return nil, errAt(t.pos, "expected FROM log (the current Logstore), found %s", t.describe())
		}
	}
	for _, kw := range []string{"where", "having", "join", "union"} {
		if t := p.peek(); t.is(kw) {
			return nil, errAt(t.pos, "%s is not supported by this SLS emulator; filter in the search statement before '|'", strings.ToUpper(kw))
		}
	}
	if p.accept("group") {
		if err := p.expect("by", "GROUP"); err != nil {
			return nil, err
		}
		for {
			g, err := p.groupItem()
			if err != nil {
				return nil, err
			}
			st.groupBy = append(st.groupBy, g)
			if !p.punct(",") {
				break
			}
		}
	}
	if t := p.peek(); t.is("having") {
		return nil, errAt(t.pos, "HAVING is not supported by this SLS emulator")
	}
	if p.accept("order") {
		if err := p.expect("by", "ORDER"); err != nil {
			return nil, err
		}
		for {
			o, err := p.orderItem()
			if err != nil {
				return nil, err
			}
			st.orderBy = append(st.orderBy, o)
			if !p.punct(",") {
				break
			}
		}
	}
	if p.accept("limit") {
		st.hasLimit = true
		n, err := p.count("LIMIT")
		if err != nil {
			return nil, err
		}
		st.limit = n
		if p.punct(",") { // LIMIT offset, count
			st.offset = n
			if st.limit, err = p.count("LIMIT offset,"); err != nil {
				return nil, err
			}
		}
	}
	p.punct(";")
	if t := p.peek(); t.kind != qEOF {
		return nil, errAt(t.pos, "unexpected %s: expected GROUP BY, ORDER BY, LIMIT or end of query", t.describe())
	}
	if err := st.resolve(); err != nil {
		return nil, err
	}
	return st, nil
}

func (p *sqlParser) count(after string) (int64, error) {
	t := p.next()
	if t.kind == qNumber {
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, errAt(t.pos, "expected a non-negative integer after %s, found %s", after, t.describe())
}

func (p *sqlParser) column(what string) (colRef, error) {
	t := p.peek()
	switch {
	case t.kind == qQuotedIdent:
		if t.text == "" {
			return colRef{}, errAt(t.pos, "empty quoted field name")
		}
		p.next()
		return colRef{name: t.text, quoted: true}, nil
	case t.kind == qIdent && !clauseWords[strings.ToLower(t.text)]:
		p.next()
		if d := p.peek(); d.kind == qPunct && d.text == "." {
			return colRef{}, errAt(t.pos, "field names containing '.' must be double-quoted, e.g. \"%s.…\"", t.text)
		}
		return colRef{name: t.text}, nil
	case t.kind == qString:
		return colRef{}, errAt(t.pos, "expected %s, found %s (single quotes make a string; double-quote field names)", what, t.describe())
	}
	return colRef{}, errAt(t.pos, "expected %s, found %s", what, t.describe())
}

// expr parses a field or an aggregate call.
func (p *sqlParser) expr() (expr, error) {
	t := p.peek()
	if t.kind == qIdent && p.toks[p.i+1].kind == qPunct && p.toks[p.i+1].text == "(" {
		fn := strings.ToLower(t.text)
		if !aggregates[fn] {
			return expr{}, errAt(t.pos, "unsupported function %s: this SLS emulator supports count, sum, avg, min, max and approx_distinct", t.text)
		}
		p.next()
		p.next()
		e := expr{kind: exprAgg, fn: fn}
		e.distinct = p.accept("distinct")
		a := p.peek()
		switch {
		case fn == "count" && !e.distinct && a.kind == qPunct && a.text == "*":
			p.next()
			e.argStar = true
		case fn == "count" && !e.distinct && a.kind == qNumber:
			p.next()
			e.argLit = a.text
		default:
			c, err := p.column("a field name as the argument of " + fn)
			if err != nil {
				return expr{}, err
			}
			e.col = c
		}
		if !p.punct(")") {
			c := p.peek()
			return expr{}, errAt(c.pos, "expected ')' to close %s(, found %s", fn, c.describe())
		}
		return e, nil
	}
	c, err := p.column("a field name or an aggregate such as count(*)")
	if err != nil {
		return expr{}, err
	}
	if n := p.peek(); n.kind == qPunct && n.text != "," && n.text != ";" && n.text != ")" {
		return expr{}, errAt(n.pos, "unsupported operator %s: this SLS emulator supports plain fields and aggregates only", n.describe())
	}
	return expr{kind: exprCol, col: c}, nil
}

func (p *sqlParser) selectItem(idx int) (selItem, error) {
	t := p.peek()
	it := selItem{pos: t.pos}
	if t.kind == qPunct && t.text == "*" {
		p.next()
		it.star = true
		return it, nil
	}
	e, err := p.expr()
	if err != nil {
		return it, err
	}
	it.e = e
	explicit := p.accept("as")
	a := p.peek()
	if a.kind == qQuotedIdent || (a.kind == qIdent && !clauseWords[strings.ToLower(a.text)]) {
		p.next()
		if a.text == "" {
			return it, errAt(a.pos, "empty alias")
		}
		it.alias = &colRef{name: a.text, quoted: a.kind == qQuotedIdent}
	} else if explicit {
		return it, errAt(a.pos, "expected an alias after AS, found %s", a.describe())
	}
	return it, nil
}

func (p *sqlParser) groupItem() (groupItem, error) {
	t := p.peek()
	if t.kind == qNumber {
		p.next()
		return groupItem{pos: t.pos, ordinal: t.text}, nil
	}
	c, err := p.column("a field name or select-list position after GROUP BY")
	if err != nil {
		return groupItem{}, err
	}
	return groupItem{pos: t.pos, col: c}, nil
}

func (p *sqlParser) orderItem() (orderItem, error) {
	t := p.peek()
	o := orderItem{pos: t.pos}
	if t.kind == qNumber {
		p.next()
		o.ordinal = t.text
	} else {
		e, err := p.expr()
		if err != nil {
			return o, err
		}
		o.e = e
	}
	if p.accept("desc") {
		o.desc = true
	} else {
		p.accept("asc")
	}
	return o, nil
}

// Rendering.

func (c colRef) write(b *strings.Builder) {
	if !c.quoted && bareIdent(c.name) {
		b.WriteString(c.name)
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(c.name, `"`, `""`))
	b.WriteByte('"')
}

func bareIdent(s string) bool {
	if s == "" || clauseWords[strings.ToLower(s)] {
		return false
	}
	for i, r := range s {
		if (i == 0 && !identStart(r)) || !identPart(r) {
			return false
		}
	}
	return true
}

func (e expr) write(b *strings.Builder) {
	if e.kind == exprCol {
		e.col.write(b)
		return
	}
	b.WriteString(e.fn + "(")
	switch {
	case e.argStar:
		b.WriteString("*")
	case e.argLit != "":
		b.WriteString(e.argLit)
	default:
		if e.distinct {
			b.WriteString("distinct ")
		}
		e.col.write(b)
	}
	b.WriteString(")")
}

func (st *sqlStmt) write(b *strings.Builder) {
	b.WriteString("select ")
	if st.distinct {
		b.WriteString("distinct ")
	}
	for i, it := range st.items {
		if i > 0 {
			b.WriteString(", ")
		}
		if it.star {
			b.WriteString("*")
			continue
		}
		it.e.write(b)
		if it.alias != nil {
			b.WriteString(" as ")
			it.alias.write(b)
		}
	}
	for i, g := range st.groupBy {
		if i == 0 {
			b.WriteString(" group by ")
		} else {
			b.WriteString(", ")
		}
		if g.ordinal != "" {
			b.WriteString(g.ordinal)
		} else {
			g.col.write(b)
		}
	}
	for i, o := range st.orderBy {
		if i == 0 {
			b.WriteString(" order by ")
		} else {
			b.WriteString(", ")
		}
		if o.ordinal != "" {
			b.WriteString(o.ordinal)
		} else {
			o.e.write(b)
		}
		if o.desc {
			b.WriteString(" desc")
		}
	}
	if st.hasLimit {
		b.WriteString(" limit ")
		if st.offset > 0 {
			b.WriteString(strconv.FormatInt(st.offset, 10) + ", ")
		}
		b.WriteString(strconv.FormatInt(st.limit, 10))
	}
}
