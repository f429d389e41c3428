package slsquery

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"CreateUser", []string{"CreateUser"}},
		{"acs:ram::123:user/alice", []string{"acs", "ram", "123", "user", "alice"}},
		{`a,b'c"d;e=f(g)h[i]j{k}l?m@n&o<p>q/r:s`, strings.Split("abcdefghijklmnopqrs", "")},
		{"tab\there\nnew\rline  two", []string{"tab", "here", "new", "line", "two"}},
		// Not delimiters: '-', '.', '_', '*', '#', '|', '\\', '!'
		{"cn-hangzhou 10.0.0.1 a_b x*y #h a|b c\\d e!f", []string{"cn-hangzhou", "10.0.0.1", "a_b", "x*y", "#h", "a|b", `c\d`, "e!f"}},
		{",,;;  ", nil},
		{"日志 服务", []string{"日志", "服务"}},
	}
	for _, tt := range tests {
		if got := tokenize(tt.in); (len(got) != 0 || len(tt.want) != 0) && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// sampleLog looks like an ActionTrail event as SLS stores it, plus a few plain fields.
var sampleLog = map[string]string{
	"__topic__":                "actiontrail_audit_event",
	"__source__":               "actiontrail",
	"__time__":                 "1700000000",
	"__tag__:__receive_time__": "1700000005",
	"eventName":                "CreateUser",
	"userName":                 "alice smith",
	"arn":                      "acs:ram::1234:user/alice",
	"region":                   "cn-hangzhou",
	"status":                   "200",
	"latency":                  "12.5",
	"path":                     "a*b",
	"empty":                    "",
	"request method":           "PUT",
	"userIdentity.type":        "ram-user",
	"event":                    `{"eventName":"DeleteUser","userIdentity":{"type":"root-account","accountId":"99"},"requestParameters":{"count":7,"ok":true},"acs:x":"y"}`,
}

func TestMatch(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		// Everything.
		{"", true},
		{"  ", true},
		{"*", true},
		{"**", true},

		// Field match: case-insensitive, token-based, prefix and wildcard.
		{"eventName: CreateUser", true},
		{"eventName:createuser", true},
		{"EVENTNAME: CreateUser", false}, // field names are case-sensitive in search
		{"eventName: Create", false},
		{"eventName: Create*", true},
		{"eventName: create*", true},
		{"eventName: Delete*", false},
		{"eventName: Create?ser", true},
		{"eventName: *User", true},
		{"eventName: \"CreateUser\"", true},
		{"eventName: \"Create*\"", false}, // quoted '*' is literal
		{"userName: alice", true},         // one token of "alice smith"
		{"userName: \"alice smith\"", true},
		{"userName: \"smith alice\"", true},   // tokens in any order
		{"userName: #\"smith alice\"", false}, // phrase: in order
		{"userName: #\"alice smith\"", true},
		{"userName: \"alice bob\"", false},
		{"arn: \"acs:ram::1234:user/alice\"", true},
		{"arn: user/alice", true},
		{"arn: bob", false},
		{"region: cn-hangzhou", true},
		{"region: hangzhou", false}, // '-' is not a delimiter
		{"missing: x", false},
		{"missing: *", false},
		{"eventName: *", true}, // field exists
		{"empty: *", true},
		{"empty: \"\"", true},
		{"eventName: \"\"", false},
		{`path: a\*b`, true},
		{`path: "a*b"`, true},
		{`path: a*b`, true},
		{`path: a\*c`, false},
		{`"request method": PUT`, true},
		{`"request method": put`, true},
		{`"request method": GET`, false},

		// Reserved fields: searchable by key, not part of the full text.
		{"__topic__: actiontrail_audit_event", true},
		{"actiontrail_audit_event", false},
		{"__source__: actiontrail", true},
		{"__tag__:__receive_time__: 1700000005", true},
		{"__tag__:__receive_time__:1700000005", true},
		{"__tag__:__receive_time__ > 1700000000", true},
		{"__tag__:__receive_time__ in [1700000005 1800000000]", true},
		{"__tag__:__receive_time__ in (1700000005 1800000000]", false},
		{`__tag__\:__receive_time__: 1700000005`, true},

		// Dotted keys: a real field first, else a path into a JSON field.
		{"userIdentity.type: ram-user", true},
		{"event.eventName: DeleteUser", true},
		{"event.eventName: CreateUser", false},
		{"event.userIdentity.type: root-account", true},
		{"event.userIdentity.accountId: 99", true},
		{"event.requestParameters.count > 5", true},
		{"event.requestParameters.count in [1 6]", false},
		{"event.requestParameters.ok: true", true},
		{`"event.acs:x": y`, true},
		{"event.missing: *", false},
		{"event.userIdentity: *", true},

		// Full text: a token of any non-reserved field value.
		{"alice", true},
		{"ALICE", true},
		{"ali*", true},
		{"lice", false},
		{"ram", true},
		{"cn-hangzhou", true},
		{"cn-*", true},
		{"DeleteUser", true}, // inside the JSON text of "event"
		{"\"alice smith\"", true},
		{"\"alice ram\"", true}, // tokens may come from different fields
		{"#\"alice smith\"", true},
		{"#\"smith alice\"", false},
		{"#\"alice ram\"", false}, // a phrase stays within one field
		{"\"\"", false},
		{"\"and\"", false},
		{"in", false},

		// Boolean operators, precedence not > and > or, juxtaposition = and.
		{"alice and smith", true},
		{"alice AND bob", false},
		{"alice bob", false},
		{"alice smith", true},
		{"alice or bob", true},
		{"bob OR carol", false},
		{"not alice", false},
		{"NOT bob", true},
		{"not not alice", true},
		{"alice not bob", true},
		{"alice and not alice", false},
		{"alice or bob and carol", true},    // alice or (bob and carol)
		{"(alice or bob) and carol", false}, // grouping overrides
		{"bob and carol or alice", true},
		{"bob and (carol or alice)", false},
		{"not alice or smith", true}, // (not alice) or smith
		{"not (alice or bob)", false},
		{"not bob and not carol", true},
		{"eventName: CreateUser and region: cn-hangzhou", true},
		{"eventName: CreateUser region: cn-beijing", false},
		{"eventName: DeleteUser or status: 200", true},
		{"((alice))", true},
		{"* and not bob", true},
		{"* and bob", false},

		// Numeric comparisons.
		{"status > 199", true},
		{"status > 200", false},
		{"status >= 200", true},
		{"status < 200", false},
		{"status <= 200", true},
		{"status = 200", true},
		{"status=200.0", true},
		{"latency > 12", true},
		{"latency < 1.25e1", false},
		{"status in [100 200]", true},
		{"status in [100 200)", false},
		{"status in (200 300]", false},
		{"status in (199.5 300)", true},
		{"status IN [200 200]", true},
		{"region > 1", false}, // not a number
		{"missing < 1", false},
		{"status > -1", true},
	}
	for _, tt := range tests {
		q, err := Parse(tt.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		if got := q.Match(sampleLog); got != tt.want {
			t.Errorf("Parse(%q).Match = %v, want %v (normalized %q)", tt.q, got, tt.want, q.String())
		}
	}
}

func TestMatchEmptyLog(t *testing.T) {
	for q, want := range map[string]bool{"*": true, "not x": true, "x": false, "k: *": false, "not k: *": true} {
		p, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if got := p.Match(nil); got != want {
			t.Errorf("Parse(%q).Match(nil) = %v, want %v", q, got, want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct{ q, want string }{
		{"", "*"},
		{"   *  ", "*"},
		{"a b or c", "a and b or c"},
		{"a or b c", "a or b and c"},
		{"(a or b) c", "(a or b) and c"},
		{"a AND (b OR c)", "a and (b or c)"},
		{"not a or b", "not a or b"},
		{"NOT (a or b)", "not (a or b)"},
		{"not not a", "not not a"},
		{"a and (b and c)", "a and (b and c)"},
		{"((a))", "a"},
		{"key:value", "key: value"},
		{"key : \"a b\"", `key: "a b"`},
		{`key: "ab"`, "key: ab"},
		{`key: "*"`, `key: "*"`},
		{`key: "and"`, `key: "and"`},
		{`key: a\*b*`, `key: a\*b*`},
		{`key: a\ b*`, `key: a\ b*`},
		{`key:#"x y"`, `key: #"x y"`},
		{`"q\"uote": "v\\w"`, `"q\"uote": "v\\w"`},
		{"__tag__:__receive_time__:1", "__tag__:__receive_time__: 1"},
		{"__tag__:__receive_time__>1", "__tag__:__receive_time__ > 1"},
		{`"request method":PUT`, `"request method": PUT`},
		{"k in [1 2)", "k in [1 2)"},
		{"k>=1e3", "k >= 1e3"},
		{"* | SELECT COUNT(*) AS n", "* | select count(*) as n"},
		{"*|select count(1)", "* | select count(1)"},
		{`k: v | select "eventName", count(*) c group by "eventName" order by c DESC limit 5`,
			`k: v | select "eventName", count(*) as c group by "eventName" order by c desc limit 5`},
		{"* | select a from log order by a asc limit 0, 3;", "* | select a order by a limit 3"},
	}
	for _, tt := range tests {
		q, err := Parse(tt.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestAnalytic(t *testing.T) {
	for q, want := range map[string]bool{"": false, "a": false, `"a|b"`: false, `a\|b`: false, "* | select count(*)": true, "| select a": true} {
		p, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if got := p.Analytic(); got != want {
			t.Errorf("Parse(%q).Analytic() = %v, want %v", q, got, want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		q   string
		pos int
		msg string
	}{
		{"(a", 2, "expected ')' to close '(' at position 0"},
		{"a)", 1, "unexpected ')'"},
		{"()", 1, "expected a search term"},
		{"key:", 4, "expected a value after ':' at position 3"},
		{"key: and", 5, `quote "and"`},
		{"key: (a)", 5, "expected a value"},
		{`"abc`, 0, "unterminated quoted string"},
		{`k: #"abc`, 4, "unterminated quoted string"},
		{"a and", 5, "expected a search term"},
		{"and a", 0, `unexpected "and"`},
		{"a or or b", 5, `unexpected "or"`},
		{"not", 3, "expected a search term"},
		{"a not", 5, "expected a search term"},
		{"k > x", 4, "expected a number after '>'"},
		{"k >", 3, "expected a number after '>'"},
		{"k = 1*", 4, "expected a number"},
		{"k in [1 x]", 8, "upper bound"},
		{"k in [1 2", 9, "expected ']' or ')'"},
		{"a*: b", 0, "must not contain wildcards"},
		{`"": b`, 0, "empty field name"},
		{`a\`, 1, "backslash at end"},
		{"a : : b", 4, "expected a value"},
		{": a", 0, `unexpected ":"`},
		{"a ]", 2, `unexpected "]"`},
		{strings.Repeat("(", maxDepth+1) + "a" + strings.Repeat(")", maxDepth+1), maxDepth, "nested deeper"},
		{"* |", 3, "expected SELECT after '|'"},
		{"* | count(*)", 4, "expected SELECT"},
		{"* | select", 10, "expected a field name or an aggregate"},
		{"* | select a.b", 11, "must be double-quoted"},
		{"* | select 'a'", 11, "double-quote field names"},
		{`* | select "a`, 11, "unterminated"},
		{"* | select count(*) as n where a = 1", 25, "WHERE is not supported"},
		{"event.acs:x: y", 11, `unexpected ":"`}, // ':' ends a bare key; quote keys holding one
		{"* | select a, count(*) as n", 11, "'a' must be an aggregate expression or appear in GROUP BY clause"},
		{"* | select a group by b", 11, "'a' must be an aggregate"},
		{"* | select date_trunc('hour', __time__)", 11, "unsupported function date_trunc"},
		{"* | select a + 1", 13, "unsupported operator"},
		{"* | select count(*", 18, "expected ')' to close count("},
		{"* | select count(distinct *)", 26, "expected a field name as the argument of count"},
		{"* | select a limit x", 19, "non-negative integer"},
		{"* | select a limit -1", 19, "non-negative integer"},
		{"* | select a order by 5", 22, "ORDER BY position 5 is not in the select list"},
		{"* | select a, count(*) group by 2", 32, "GROUP BY position 2 is an aggregate"},
		{"* | select *, count(*)", 11, "SELECT * cannot be combined"},
		{"* | select a from other", 18, "expected FROM log"},
		{"* | select a as", 15, "expected an alias after AS"},
		{"* | select a group a", 19, "expected BY after GROUP"},
		{"* | select count(*) as n group by a order by b", 45, "ORDER BY 'b' must be an aggregate expression or appear in GROUP BY clause"},
		{"* | select distinct a order by b", 31, "ORDER BY expressions must appear in select list"},
		{"* | select a b c", 15, "unexpected 'c'"},
		{"* | select count(*) as n group by a having n > 1", 36, "HAVING is not supported"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.q)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want *SyntaxError", tt.q, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q) = pos %d %q, want pos %d containing %q", tt.q, se.Pos, se.Msg, tt.pos, tt.msg)
		}
		if !strings.Contains(se.Error(), "position") {
			t.Errorf("Error() = %q lacks the position", se.Error())
		}
	}
}

func TestGlobMatch(t *testing.T) {
	pat := func(s string) []pelem {
		var p []pelem
		for _, r := range s {
			p = append(p, pelem{r: r, wild: r == '*' || r == '?'})
		}
		return p
	}
	tests := []struct {
		p, s string
		want bool
	}{
		{"*", "", true},
		{"a*", "a", true},
		{"a*", "abc", true},
		{"a*", "ba", false},
		{"*c", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "aXbYbZc", true},
		{"日*", "日志", true},
		{"?", "志", true},
		{"", "", true},
		{"", "a", false},
	}
	for _, tt := range tests {
		if got := globMatch(pat(tt.p), tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	good := map[string]float64{"0": 0, "-1": -1, "+2.5": 2.5, "1e3": 1000, ".5": 0.5, "5.": 5, "1E-2": 0.01}
	for s, want := range good {
		if f, ok := parseNumber(s); !ok || f != want {
			t.Errorf("parseNumber(%q) = %v, %v; want %v", s, f, ok, want)
		}
	}
	for _, s := range []string{"", "-", ".", "NaN", "Inf", "0x10", "1_000", "1e", "1e+", "1.2.3", " 1", "1e999"} {
		if _, ok := parseNumber(s); ok {
			t.Errorf("parseNumber(%q) accepted", s)
		}
	}
}
