package slsquery

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// defaultLimit is how many rows SLS returns from an analytic statement without LIMIT.
const defaultLimit = 100

type srcKind int

const (
	srcItem  srcKind = iota // an output column of the select list
	srcAgg                  // an aggregate that appears only in ORDER BY
	srcGroup                // a GROUP BY key
	srcRow                  // a field of the log (ungrouped queries)
)

type orderKey struct {
	kind srcKind
	idx  int
	col  colRef
	desc bool
}

// plan is the statement resolved against itself at parse time, so every semantic error surfaces
// from Parse and Analyze cannot fail.
type plan struct {
	grouped   bool
	groupKeys []colRef
	aggs      []expr
	itemSrc   []int // grouped: group key index (fields) or aggs index (aggregates)
	order     []orderKey
}

func (st *sqlStmt) aliasItem(name string) int {
	for i, it := range st.items {
		if it.alias != nil && strings.EqualFold(it.alias.name, name) {
			return i
		}
	}
	return -1
}

func (st *sqlStmt) ordinal(text string, pos int, clause string) (int, error) {
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > len(st.items) {
		return 0, errAt(pos, "%s position %s is not in the select list (1..%d)", clause, text, len(st.items))
	}
	if st.items[n-1].star {
		return 0, errAt(pos, "%s position %s refers to *", clause, text)
	}
	return n - 1, nil
}

func (st *sqlStmt) resolve() error {
	pl := &st.plan
	hasStar := false
	for _, it := range st.items {
		pl.grouped = pl.grouped || it.e.kind == exprAgg
		hasStar = hasStar || it.star
	}
	for _, o := range st.orderBy {
		pl.grouped = pl.grouped || (o.ordinal == "" && o.e.kind == exprAgg)
	}
	pl.grouped = pl.grouped || len(st.groupBy) > 0

	for _, g := range st.groupBy {
		if g.ordinal != "" {
			i, err := st.ordinal(g.ordinal, g.pos, "GROUP BY")
			if err != nil {
				return err
			}
			if st.items[i].e.kind != exprCol {
				return errAt(g.pos, "GROUP BY position %s is an aggregate", g.ordinal)
			}
			pl.groupKeys = append(pl.groupKeys, st.items[i].e.col)
			continue
		}
		// SLS accepts select-list aliases in GROUP BY ("... as t group by t").
		if i := st.aliasItem(g.col.name); i >= 0 {
			if st.items[i].e.kind != exprCol {
				return errAt(g.pos, "GROUP BY %s refers to an aggregate", g.col.name)
			}
			pl.groupKeys = append(pl.groupKeys, st.items[i].e.col)
			continue
		}
		pl.groupKeys = append(pl.groupKeys, g.col)
	}
	groupIdx := func(name string) int {
		for i, k := range pl.groupKeys {
			if strings.EqualFold(k.name, name) {
				return i
			}
		}
		return -1
	}

	if pl.grouped {
		if hasStar {
			for _, it := range st.items {
				if it.star {
					return errAt(it.pos, "SELECT * cannot be combined with aggregates or GROUP BY")
				}
			}
		}
		for _, it := range st.items {
			if it.e.kind == exprAgg {
				pl.itemSrc = append(pl.itemSrc, len(pl.aggs))
				pl.aggs = append(pl.aggs, it.e)
				continue
			}
			gi := groupIdx(it.e.col.name)
			if gi < 0 {
				return errAt(it.pos, "'%s' must be an aggregate expression or appear in GROUP BY clause", it.e.col.name)
			}
			pl.itemSrc = append(pl.itemSrc, gi)
		}
	}

	for _, o := range st.orderBy {
		k := orderKey{desc: o.desc}
		switch {
		case o.ordinal != "":
			i, err := st.ordinal(o.ordinal, o.pos, "ORDER BY")
			if err != nil {
				return err
			}
			k.kind, k.idx = srcItem, i
		case o.e.kind == exprAgg:
			k.kind, k.idx = srcAgg, -1
			for i, it := range st.items {
				if !it.star && it.e.equal(o.e) {
					k.kind, k.idx = srcItem, i
					break
				}
			}
			if k.idx < 0 {
				k.idx = len(pl.aggs)
				pl.aggs = append(pl.aggs, o.e)
			}
		default:
			if i := st.aliasItem(o.e.col.name); i >= 0 {
				k.kind, k.idx = srcItem, i
				break
			}
			if pl.grouped {
				gi := groupIdx(o.e.col.name)
				if gi < 0 {
					return errAt(o.pos, "ORDER BY '%s' must be an aggregate expression or appear in GROUP BY clause", o.e.col.name)
				}
				k.kind, k.idx = srcGroup, gi
				break
			}
			k.kind, k.idx, k.col = srcRow, -1, o.e.col
			for i, it := range st.items {
				if !it.star && it.e.equal(o.e) {
					k.kind, k.idx = srcItem, i
					break
				}
			}
			if k.kind == srcRow && st.distinct {
				return errAt(o.pos, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
			}
		}
		pl.order = append(pl.order, k)
	}
	return nil
}

// nstr is a nullable string: SQL NULL when !ok.
type nstr struct {
	v  string
	ok bool
}

func (n nstr) String() string {
	if !n.ok {
		return "null"
	}
	return n.v
}

// resolveCol reads a field for SQL: exact name (or JSON path) first, then a case-insensitive match.
func resolveCol(d *doc, c colRef) nstr {
	if v, ok := d.lookup(c.name); ok {
		return nstr{v, true}
	}
	best := ""
	for k := range d.fields {
		if strings.EqualFold(k, c.name) && (best == "" || k < best) {
			best = k
		}
	}
	if best != "" {
		return nstr{d.fields[best], true}
	}
	return nstr{}
}

type outRow struct {
	vals []nstr // one per output column
	keys []nstr // one per ORDER BY key
}

func (st *sqlStmt) run(rows []map[string]string) ([]string, []map[string]string) {
	pl := &st.plan
	var cols []string
	var res []outRow
	if pl.grouped {
		cols, res = st.runGrouped(rows)
	} else {
		cols, res = st.runPlain(rows)
	}
	if st.distinct {
		seen := map[string]bool{}
		kept := res[:0]
		for _, r := range res {
			k := encodeKey(r.vals)
			if !seen[k] {
				seen[k] = true
				kept = append(kept, r)
			}
		}
		res = kept
	}
	if len(pl.order) > 0 {
		sort.SliceStable(res, func(i, j int) bool { return st.less(res[i].keys, res[j].keys) })
	}
	limit := int64(defaultLimit)
	if st.hasLimit {
		limit = st.limit
	}
	if st.offset >= int64(len(res)) {
		res = nil
	} else {
		res = res[st.offset:]
	}
	if int64(len(res)) > limit {
		res = res[:limit]
	}
	out := make([]map[string]string, len(res))
	for i, r := range res {
		m := make(map[string]string, len(cols))
		for j, c := range cols {
			m[c] = r.vals[j].String()
		}
		out[i] = m
	}
	return cols, out
}

func (st *sqlStmt) colName(i int) string {
	it := st.items[i]
	switch {
	case it.alias != nil:
		return it.alias.name
	case it.e.kind == exprCol:
		return it.e.col.name
	}
	return "_col" + strconv.Itoa(i) // Presto's name for an unnamed expression
}

func (st *sqlStmt) runPlain(rows []map[string]string) ([]string, []outRow) {
	var starCols []string
	for _, it := range st.items {
		if it.star {
			seen := map[string]bool{}
			for _, r := range rows {
				for k := range r {
					if !seen[k] {
						seen[k] = true
						starCols = append(starCols, k)
					}
				}
			}
			sort.Strings(starCols)
			break
		}
	}
	var cols []string
	pos := make([]int, len(st.items)) // item index -> first output column
	for i, it := range st.items {
		pos[i] = len(cols)
		if it.star {
			cols = append(cols, starCols...)
		} else {
			cols = append(cols, st.colName(i))
		}
	}
	res := make([]outRow, 0, len(rows))
	for _, r := range rows {
		d := &doc{fields: r}
		o := outRow{vals: make([]nstr, 0, len(cols))}
		for _, it := range st.items {
			if it.star {
				for _, c := range starCols {
					v, ok := r[c]
					o.vals = append(o.vals, nstr{v, ok})
				}
				continue
			}
			o.vals = append(o.vals, resolveCol(d, it.e.col))
		}
		for _, k := range st.plan.order {
			if k.kind == srcItem {
				o.keys = append(o.keys, o.vals[pos[k.idx]])
			} else {
				o.keys = append(o.keys, resolveCol(d, k.col))
			}
		}
		res = append(res, o)
	}
	return cols, res
}

type group struct {
	key  []nstr
	aggs []*aggState
}

func (st *sqlStmt) runGrouped(rows []map[string]string) ([]string, []outRow) {
	pl := &st.plan
	cols := make([]string, len(st.items))
	for i := range st.items {
		cols[i] = st.colName(i)
	}
	var groups []*group
	index := map[string]*group{}
	newGroup := func(key []nstr) *group {
		g := &group{key: key, aggs: make([]*aggState, len(pl.aggs))}
		for i, e := range pl.aggs {
			g.aggs[i] = &aggState{e: e}
		}
		groups = append(groups, g)
		return g
	}
	if len(pl.groupKeys) == 0 {
		newGroup(nil) // aggregates without GROUP BY always yield one row, even over no logs
	}
	for _, r := range rows {
		d := &doc{fields: r}
		key := make([]nstr, len(pl.groupKeys))
		for i, c := range pl.groupKeys {
			key[i] = resolveCol(d, c)
		}
		var g *group
		if len(key) == 0 {
			g = groups[0]
		} else {
			k := encodeKey(key)
			if g = index[k]; g == nil {
				g = newGroup(key)
				index[k] = g
			}
		}
		for _, a := range g.aggs {
			a.add(d)
		}
	}
	res := make([]outRow, 0, len(groups))
	for _, g := range groups {
		aggVals := make([]nstr, len(g.aggs))
		for i, a := range g.aggs {
			aggVals[i] = a.result()
		}
		o := outRow{vals: make([]nstr, len(st.items))}
		for i, it := range st.items {
			if it.e.kind == exprAgg {
				o.vals[i] = aggVals[pl.itemSrc[i]]
			} else {
				o.vals[i] = g.key[pl.itemSrc[i]]
			}
		}
		for _, k := range pl.order {
			switch k.kind {
			case srcItem:
				o.keys = append(o.keys, o.vals[k.idx])
			case srcAgg:
				o.keys = append(o.keys, aggVals[k.idx])
			default:
				o.keys = append(o.keys, g.key[k.idx])
			}
		}
		res = append(res, o)
	}
	return cols, res
}

// encodeKey makes a map key from values, keeping NULL distinct from any string.
func encodeKey(vals []nstr) string {
	var b strings.Builder
	for _, v := range vals {
		if !v.ok {
			b.WriteString("N;")
			continue
		}
		b.WriteString(strconv.Itoa(len(v.v)))
		b.WriteByte(':')
		b.WriteString(v.v)
	}
	return b.String()
}

// less orders rows by the ORDER BY keys; NULLs sort last in either direction, as in Presto.
func (st *sqlStmt) less(a, b []nstr) bool {
	for i, k := range st.plan.order {
		x, y := a[i], b[i]
		switch {
		case !x.ok && !y.ok:
			continue
		case !x.ok:
			return false
		case !y.ok:
			return true
		}
		c := compareValues(x.v, y.v)
		if c == 0 {
			continue
		}
		if k.desc {
			return c > 0
		}
		return c < 0
	}
	return false
}

// compareValues compares numerically when both values are numbers (SLS returns numbers as strings),
// else as strings.
func compareValues(a, b string) int {
	fa, okA := parseNumber(strings.TrimSpace(a))
	fb, okB := parseNumber(strings.TrimSpace(b))
	if okA && okB {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

type aggState struct {
	e        expr
	count    int64
	distinct map[string]struct{}
	n        int64 // numeric values fed (sum, avg)
	sumI     int64
	sumF     float64
	allInt   bool
	min, max nstr
}

func (a *aggState) add(d *doc) {
	if a.e.rowsOnly() {
		a.count++
		return
	}
	v := resolveCol(d, a.e.col)
	if !v.ok {
		return // aggregates skip NULLs
	}
	if a.e.distinct || a.e.fn == "approx_distinct" {
		if a.distinct == nil {
			a.distinct = map[string]struct{}{}
		}
		a.distinct[v.v] = struct{}{}
		return
	}
	a.feed(v.v)
}

func (a *aggState) feed(v string) {
	a.count++
	switch a.e.fn {
	case "sum", "avg":
		t := strings.TrimSpace(v)
		f, ok := parseNumber(t)
		if !ok {
			return // SLS would reject arithmetic on text; here non-numbers are skipped like NULLs
		}
		if a.n == 0 {
			a.allInt = true
		}
		a.n++
		a.sumF += f
		if a.allInt {
			i, err := strconv.ParseInt(strings.TrimPrefix(t, "+"), 10, 64)
			if err != nil || (i > 0 && a.sumI > math.MaxInt64-i) || (i < 0 && a.sumI < math.MinInt64-i) {
				a.allInt = false
			} else {
				a.sumI += i
			}
		}
	case "min":
		if !a.min.ok || compareValues(v, a.min.v) < 0 {
			a.min = nstr{v, true}
		}
	case "max":
		if !a.max.ok || compareValues(v, a.max.v) > 0 {
			a.max = nstr{v, true}
		}
	}
}

func (a *aggState) result() nstr {
	if a.distinct != nil {
		vals := make([]string, 0, len(a.distinct))
		for v := range a.distinct {
			vals = append(vals, v)
		}
		sort.Strings(vals) // deterministic float summation order
		a.distinct = nil
		for _, v := range vals {
			a.feed(v)
		}
	}
	switch a.e.fn {
	case "count", "approx_distinct":
		return nstr{strconv.FormatInt(a.count, 10), true}
	case "sum":
		if a.n == 0 {
			return nstr{}
		}
		if a.allInt {
			return nstr{strconv.FormatInt(a.sumI, 10), true}
		}
		return nstr{formatDouble(a.sumF), true}
	case "avg":
		if a.n == 0 {
			return nstr{}
		}
		return nstr{formatDouble(a.sumF / float64(a.n)), true}
	case "min":
		return a.min
	}
	return a.max
}

// formatDouble writes a double the way Presto prints it in results: integral values keep ".0".
func formatDouble(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
