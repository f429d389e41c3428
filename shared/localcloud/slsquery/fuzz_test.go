package slsquery

import (
	"errors"
	"reflect"
	"testing"
)

var fuzzSeeds = []string{
	"", "*", "a", "not a", "a b or c", "(a or b) and not c", "a AND (b OR c)", "not not a",
	"eventName: CreateUser", "eventName:create*", `k: "a b"`, `k: #"a b"`, `#"x y"`, `k: a\*b?`, `k: "*"`,
	`"request method": PUT`, "__tag__:__receive_time__: 1", "__tag__:__receive_time__ > 1",
	"__tag__:__receive_time__ in [1 2)", "status >= 200", "status = 2e2", "k in (1 10]",
	"event.userIdentity.type: root-account", `__tag__\:x: y`, `k: ""`, `"and" or "in"`, "in",
	"a)", "(a", `"abc`, "k:", "k > x", "日志 and 服务*",
	"* | select count(*) as n",
	"* | select count(1)",
	"eventName: Create* | select eventName, count(*) as n group by eventName order by n desc limit 10",
	`* | select "eventName", count(*) c group by "eventName" order by count(*) desc, "eventName"`,
	"* | select count(distinct userName) as u, sum(status), avg(status), min(k), max(k)",
	"* | select distinct a, b order by b desc limit 1, 2",
	"* | select *, a as b",
	"* | select a group by 1 order by 1",
	"* | select a as t, count(*) group by t",
	`* | select "event.acct" as a, approx_distinct(k) group by "event.acct"`,
	"* | select a where b = 1", "* | select a.b", "* |", "| select a",
}

var fuzzRows = []map[string]string{
	nil,
	{"a": "x", "b": "y z", "k": "1"},
	{"eventName": "CreateUser", "userName": "alice", "status": "200", "__topic__": "t", "__tag__:__receive_time__": "1"},
	{"eventName": "DeleteUser", "status": "403", "k": "a*b", "request method": "PUT", "empty": ""},
	{"event": `{"userIdentity":{"type":"root-account"},"acct":7}`, "a": "in", "b": "and"},
	{"A": "X", "msg": "日志 服务 a b", "k": "10.5", "__tag__:x": "y"},
}

// FuzzParse checks that Parse never panics, that every error is a positioned *SyntaxError, and that
// String() is a faithful normal form: it reparses to the same string and the same behaviour.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", s, err, err)
			}
			if se.Pos < 0 || se.Pos > len(s) || se.Msg == "" {
				t.Fatalf("Parse(%q) error position %d outside [0,%d] or empty message %q", s, se.Pos, len(s), se.Msg)
			}
			return
		}
		norm := q.String()
		q2, err := Parse(norm)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, norm, err)
		}
		if again := q2.String(); again != norm {
			t.Fatalf("String() not stable for %q: %q then %q", s, norm, again)
		}
		for _, r := range fuzzRows {
			if a, b := q.Match(r), q2.Match(r); a != b {
				t.Fatalf("Match(%v) differs: %q -> %v, %q -> %v", r, s, a, norm, b)
			}
		}
		if q.Analytic() != q2.Analytic() {
			t.Fatalf("Analytic differs: %q vs %q", s, norm)
		}
		if !q.Analytic() {
			return
		}
		c1, o1, err1 := q.Analyze(fuzzRows)
		c2, o2, err2 := q2.Analyze(fuzzRows)
		if err1 != nil || err2 != nil {
			t.Fatalf("Analyze(%q) failed: %v / %v", s, err1, err2)
		}
		if !reflect.DeepEqual(c1, c2) || !reflect.DeepEqual(o1, o2) {
			t.Fatalf("Analyze differs: %q -> %q %v; %q -> %q %v", s, c1, o1, norm, c2, o2)
		}
	})
}
