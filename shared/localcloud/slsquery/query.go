// Package slsquery parses and evaluates the subset of Simple Log Service (SLS) query language that
// localcloud's SLS emulator needs to answer GetLogs and GetHistograms: a search statement
// ("eventName: CreateUser and not alice"), optionally followed by "| select ..." analytics.
//
// Search semantics follow SLS with the default index: every field is text-indexed with the default
// token set and caseSensitive false. A field condition matches when every token of the searched value
// is among the tokens of the field's value; full-text terms match tokens of any non-reserved field.
package slsquery

import (
	"errors"
	"fmt"
	"strings"
)

// SyntaxError reports a query that does not parse, or that uses a construct this emulator rejects.
// Pos is the 0-based byte offset in the whole query string.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query syntax error at position %d: %s", e.Pos, e.Msg)
}

func errAt(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// ErrNotAnalytic is returned by Analyze for a query without a "| select ..." part.
var ErrNotAnalytic = errors.New("slsquery: query has no analytic statement (no \"| select ...\")")

// Query is a parsed SLS query. It is immutable and safe for concurrent use.
type Query struct {
	search node     // nil: match everything
	sql    *sqlStmt // nil: no analytic statement
}

// Parse parses a whole query string: "search [| select ...]".
func Parse(q string) (*Query, error) {
	toks, pipe, err := lexSearch(q)
	if err != nil {
		return nil, err
	}
	p := &searchParser{toks: toks}
	var search node
	if p.peek().kind != sEOF {
		search, err = p.parseQuery()
		if err != nil {
			return nil, err
		}
	}
	if _, all := search.(allNode); all {
		search = nil // "*" alone: no filtering work per log
	}
	out := &Query{search: search}
	if pipe >= 0 {
		out.sql, err = parseSQL(q[pipe+1:], pipe+1)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Match reports whether one log (its fields, including reserved ones such as __topic__ and
// __tag__:__receive_time__) satisfies the search part of the query.
func (q *Query) Match(fields map[string]string) bool {
	if q.search == nil {
		return true
	}
	return q.search.match(&doc{fields: fields})
}

// Analytic reports whether the query has a "| select ..." part.
func (q *Query) Analytic() bool { return q.sql != nil }

// Analyze runs the analytic statement over rows. Rows that do not match the search part are skipped
// here too, so callers may pass either all logs of the time range or only the matching ones.
// Every output value is a string; SQL NULL is "null", as SLS returns it.
func (q *Query) Analyze(rows []map[string]string) ([]string, []map[string]string, error) {
	if q.sql == nil {
		return nil, nil, ErrNotAnalytic
	}
	matched := rows
	if q.search != nil {
		matched = make([]map[string]string, 0, len(rows))
		for _, r := range rows {
			if q.Match(r) {
				matched = append(matched, r)
			}
		}
	}
	cols, out := q.sql.run(matched)
	return cols, out, nil
}

// String returns a normalized form that Parse accepts and that means the same query.
func (q *Query) String() string {
	var b strings.Builder
	if q.search == nil {
		b.WriteString("*")
	} else {
		q.search.write(&b, precOr)
	}
	if q.sql != nil {
		b.WriteString(" | ")
		q.sql.write(&b)
	}
	return b.String()
}
