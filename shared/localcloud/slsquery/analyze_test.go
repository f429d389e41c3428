package slsquery

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
)

func sampleRows() []map[string]string {
	return []map[string]string{
		{"__time__": "100", "eventName": "CreateUser", "userName": "alice", "status": "200", "bytes": "10", "event": `{"eventName":"CreateUser","acct":"1"}`},
		{"__time__": "101", "eventName": "DeleteUser", "userName": "bob", "status": "403", "bytes": "2.5", "event": `{"eventName":"DeleteUser","acct":"2"}`},
		{"__time__": "102", "eventName": "CreateUser", "userName": "carol", "status": "200", "bytes": "7", "event": `{"eventName":"CreateUser","acct":"1"}`},
		{"__time__": "103", "eventName": "CreateUser", "userName": "alice", "status": "500", "event": `{"eventName":"CreateUser","acct":"2"}`},
		{"__time__": "104", "eventName": "AttachPolicy", "status": "200", "bytes": "x"},
	}
}

type row = map[string]string

func TestAnalyze(t *testing.T) {
	tests := []struct {
		q    string
		cols []string
		rows []row
	}{
		{"* | select count(*) as n", []string{"n"}, []row{{"n": "5"}}},
		{"* | SELECT COUNT(1) AS n", []string{"n"}, []row{{"n": "5"}}},
		{"* | select count(*)", []string{"_col0"}, []row{{"_col0": "5"}}},
		{"eventName: CreateUser | select count(*) as n", []string{"n"}, []row{{"n": "3"}}},
		{"nobody | select count(*) as n", []string{"n"}, []row{{"n": "0"}}},
		{"nobody | select eventName, count(*) as n group by eventName", []string{"eventName", "n"}, []row{}},
		{"* | select count(userName) as n", []string{"n"}, []row{{"n": "4"}}},
		{"* | select count(distinct userName) as u", []string{"u"}, []row{{"u": "3"}}},
		{"* | select approx_distinct(eventName) as u", []string{"u"}, []row{{"u": "3"}}},
		{"* | select eventName, count(*) as n group by eventName order by n desc",
			[]string{"eventName", "n"},
			[]row{{"eventName": "CreateUser", "n": "3"}, {"eventName": "DeleteUser", "n": "1"}, {"eventName": "AttachPolicy", "n": "1"}}},
		{"* | select eventName, count(*) as n group by eventName order by n desc, eventName limit 2",
			[]string{"eventName", "n"},
			[]row{{"eventName": "CreateUser", "n": "3"}, {"eventName": "AttachPolicy", "n": "1"}}},
		// Groups come out in first-seen order without ORDER BY.
		{"* | select eventName, count(*) as n group by eventName",
			[]string{"eventName", "n"},
			[]row{{"eventName": "CreateUser", "n": "3"}, {"eventName": "DeleteUser", "n": "1"}, {"eventName": "AttachPolicy", "n": "1"}}},
		{`* | select "eventName", count(*) as "c" group by "eventName" order by count(*) asc, "eventName" desc`,
			[]string{"eventName", "c"},
			[]row{{"eventName": "DeleteUser", "c": "1"}, {"eventName": "AttachPolicy", "c": "1"}, {"eventName": "CreateUser", "c": "3"}}},
		// ORDER BY an aggregate absent from the select list; GROUP BY a position.
		{"* | select status group by 1 order by count(*) desc, status limit 2",
			[]string{"status"}, []row{{"status": "200"}, {"status": "403"}}},
		// GROUP BY an alias, ORDER BY a position.
		{"* | select userName as u, count(*) as n group by u order by 1",
			[]string{"u", "n"},
			[]row{{"u": "alice", "n": "2"}, {"u": "bob", "n": "1"}, {"u": "carol", "n": "1"}, {"u": "null", "n": "1"}}},
		// A missing field groups as NULL, printed "null".
		{"* | select userName, count(*) as n group by userName",
			[]string{"userName", "n"},
			[]row{{"userName": "alice", "n": "2"}, {"userName": "bob", "n": "1"}, {"userName": "carol", "n": "1"}, {"userName": "null", "n": "1"}}},
		// JSON paths in SQL, as with SLS JSON indexes.
		{`* | select "event.acct" as a, count(*) as n group by "event.acct" order by a`,
			[]string{"a", "n"}, []row{{"a": "1", "n": "2"}, {"a": "2", "n": "2"}, {"a": "null", "n": "1"}}},
		// Numeric aggregates: integer sums stay integers, doubles print with a fraction.
		{"* | select sum(status) as s, avg(status) as a, min(status) as lo, max(status) as hi",
			[]string{"s", "a", "lo", "hi"}, []row{{"s": "1503", "a": "300.6", "lo": "200", "hi": "500"}}},
		{"* | select sum(bytes) as s, avg(bytes) as a, min(bytes) as lo, max(bytes) as hi",
			[]string{"s", "a", "lo", "hi"}, []row{{"s": "19.5", "a": "6.5", "lo": "2.5", "hi": "x"}}},
		{"* | select sum(distinct status) as s, count(*) as n, avg(__time__) as t",
			[]string{"s", "n", "t"}, []row{{"s": "1103", "n": "5", "t": "102.0"}}},
		{"* | select sum(missing) as s, min(missing) as m, count(missing) as c",
			[]string{"s", "m", "c"}, []row{{"s": "null", "m": "null", "c": "0"}}},
		// Plain projection, in log order, with ORDER BY a field not selected.
		{"* | select eventName, userName limit 2",
			[]string{"eventName", "userName"},
			[]row{{"eventName": "CreateUser", "userName": "alice"}, {"eventName": "DeleteUser", "userName": "bob"}}},
		{"status: 200 | select userName order by __time__ desc",
			[]string{"userName"}, []row{{"userName": "null"}, {"userName": "carol"}, {"userName": "alice"}}},
		{"* | select __time__ order by __time__ desc limit 1, 2",
			[]string{"__time__"}, []row{{"__time__": "103"}, {"__time__": "102"}}},
		{"* | select eventName limit 0", []string{"eventName"}, []row{}},
		{"* | select eventName limit 10, 5", []string{"eventName"}, []row{}},
		// Unquoted names fall back to a case-insensitive match; the column keeps the written name.
		{"* | select eventname, USERNAME as u limit 1", []string{"eventname", "u"}, []row{{"eventname": "CreateUser", "u": "alice"}}},
		{"* | select distinct eventName order by eventName",
			[]string{"eventName"}, []row{{"eventName": "AttachPolicy"}, {"eventName": "CreateUser"}, {"eventName": "DeleteUser"}}},
		{"* | select distinct eventName, status order by status desc, eventName",
			[]string{"eventName", "status"},
			[]row{{"eventName": "CreateUser", "status": "500"}, {"eventName": "DeleteUser", "status": "403"}, {"eventName": "AttachPolicy", "status": "200"}, {"eventName": "CreateUser", "status": "200"}}},
		{"status: 403 | select *",
			[]string{"__time__", "bytes", "event", "eventName", "status", "userName"},
			[]row{{"__time__": "101", "bytes": "2.5", "event": `{"eventName":"DeleteUser","acct":"2"}`, "eventName": "DeleteUser", "status": "403", "userName": "bob"}}},
		{"status: 500 | select *, status as s",
			[]string{"__time__", "event", "eventName", "status", "userName", "s"},
			[]row{{"__time__": "103", "event": `{"eventName":"CreateUser","acct":"2"}`, "eventName": "CreateUser", "status": "500", "userName": "alice", "s": "500"}}},
	}
	for _, tt := range tests {
		q, err := Parse(tt.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.q, err)
			continue
		}
		cols, rows, err := q.Analyze(sampleRows())
		if err != nil {
			t.Errorf("Analyze(%q): %v", tt.q, err)
			continue
		}
		if !reflect.DeepEqual(cols, tt.cols) {
			t.Errorf("Analyze(%q) columns = %q, want %q", tt.q, cols, tt.cols)
		}
		if len(rows) != len(tt.rows) || (len(rows) > 0 && !reflect.DeepEqual(rows, tt.rows)) {
			t.Errorf("Analyze(%q) rows = %v, want %v", tt.q, rows, tt.rows)
		}
	}
}

func TestAnalyzeDefaultLimit(t *testing.T) {
	rows := make([]map[string]string, 150)
	for i := range rows {
		rows[i] = map[string]string{"k": strconv.Itoa(i)}
	}
	for q, want := range map[string]int{
		"* | select k":                      100, // SLS returns 100 rows without LIMIT
		"* | select k limit 120":            120,
		"* | select k, count(*) group by k": 100,
		"* | select count(*) as n":          1,
	} {
		p, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		_, out, err := p.Analyze(rows)
		if err != nil || len(out) != want {
			t.Errorf("Analyze(%q) = %d rows, %v; want %d", q, len(out), err, want)
		}
	}
}

func TestAnalyzeNotAnalytic(t *testing.T) {
	q, err := Parse("eventName: CreateUser")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.Analyze(sampleRows()); !errors.Is(err, ErrNotAnalytic) {
		t.Errorf("Analyze without select: err = %v, want ErrNotAnalytic", err)
	}
}

func TestFormatDouble(t *testing.T) {
	for f, want := range map[float64]string{3: "3.0", 2.5: "2.5", -0.125: "-0.125", 1e21: "1000000000000000000000.0"} {
		if got := formatDouble(f); got != want {
			t.Errorf("formatDouble(%v) = %q, want %q", f, got, want)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	q, err := Parse(`eventName: Create* and not userName: bob or (status >= 400 and "alice")`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q.Match(sampleLog)
	}
}

// A parsed Query is shared by concurrent GetLogs handlers; run under -race.
func TestQueryConcurrentUse(t *testing.T) {
	q, err := Parse("eventName: Create* | select userName, count(*) as n group by userName order by n desc")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []map[string]string)
	for i := 0; i < 4; i++ {
		go func() {
			_, out, _ := q.Analyze(sampleRows())
			q.Match(sampleLog)
			done <- out
		}()
	}
	want := []map[string]string{{"userName": "alice", "n": "2"}, {"userName": "carol", "n": "1"}}
	for i := 0; i < 4; i++ {
		if got := <-done; !reflect.DeepEqual(got, want) {
			t.Errorf("concurrent Analyze = %v, want %v", got, want)
		}
	}
}
