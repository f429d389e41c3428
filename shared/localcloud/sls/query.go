package sls

import (
	"strings"
	"unicode"

	"github.com/auditwarden/auditwarden/shared/localcloud/slsquery"
)

// parseQuery compiles a GetLogs/GetHistograms query with the shared SLS query engine.
func parseQuery(q string) (searchQuery, error) {
	sq, err := slsquery.Parse(q)
	if err != nil {
		return nil, err
	}
	return sq, nil
}

// searchScope says what a query's search part reads of a log, so a read can skip logs unseen.
type searchScope int

const (
	scopeFields searchScope = iota // any field: every log in the time range is matched
	scopeAll                       // nothing: an empty or "*" search matches every log
	scopeTopic                     // __topic__ alone: one term on the topic
)

// scopeOf recognises the search forms whose scope is narrower than the fields: an empty or "*"
// search, and `__topic__: "x"` or `__topic__: x` (x a plain word), each alone before the end or
// "|". Anything else, including other spellings of the same search, is scopeFields, which is
// always correct. The forms are a strict subset of what slsquery parses as a search matching
// everything and as one field term on __topic__, so the parsed query itself still decides which
// topics match.
func scopeOf(q string) searchScope {
	rest := func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) }
	end := func(s string) bool { s = rest(s); return s == "" || s[0] == '|' }
	s := rest(q)
	if end(s) || s[0] == '*' && end(s[1:]) {
		return scopeAll
	}
	s, ok := strings.CutPrefix(s, "__topic__")
	if !ok {
		return scopeFields
	}
	if s, ok = strings.CutPrefix(rest(s), ":"); !ok {
		return scopeFields
	}
	s = rest(s)
	if strings.HasPrefix(s, `"`) {
		// A quoted value without escapes: everything up to the next quote is literal.
		n := strings.IndexAny(s[1:], `"\`)
		if n < 0 || s[1+n] != '"' {
			return scopeFields
		}
		s = s[n+2:]
	} else {
		n := 0
		for n < len(s) && plainWordByte(s[n]) {
			n++
		}
		switch w := strings.ToLower(s[:n]); w {
		case "", "and", "or", "not":
			return scopeFields
		}
		s = s[n:]
	}
	if !end(s) {
		return scopeFields
	}
	return scopeTopic
}

// plainWordByte: letters, digits, '_', '-' and '.', which end no word and are no wildcard.
func plainWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.'
}
