package sls

import (
	"cmp"
	"sort"
	"time"
)

// chunkSize is the length a logOrder chunk is split back to once it grows past twice as much:
// inserting moves at most one chunk's refs, and a seek walks len/chunkSize chunk lengths.
const chunkSize = 512

// logOrder keeps refs sorted by log time and then arrival seq, the order every query reads, as a
// list of sorted chunks. Writes (holding Server.mu exclusively) insert and remove in place, so a
// read (holding it shared) never sorts and never writes. Arrival seqs are unique within a
// Logstore, so the order is total and matches a stable sort of the same logs.
type logOrder struct {
	chunks [][]ref // each non-empty and sorted; chunk i ends before chunk i+1 starts
	n      int
}

func compareRefs(a, b *ref) int {
	if c := a.e.time.Compare(b.e.time); c != 0 {
		return c
	}
	return cmp.Compare(a.e.seq, b.e.seq)
}

func (o *logOrder) insert(r ref) {
	o.n++
	if len(o.chunks) == 0 {
		o.chunks = [][]ref{append(make([]ref, 0, chunkSize), r)}
		return
	}
	// The chunk to take r is the first ending after it, or the last one: logs mostly arrive in
	// time order, so that is usually an append to the last chunk.
	ci := len(o.chunks) - 1
	if last := o.chunks[ci]; compareRefs(&last[len(last)-1], &r) > 0 {
		ci = sort.Search(ci, func(i int) bool {
			c := o.chunks[i]
			return compareRefs(&c[len(c)-1], &r) > 0
		})
	}
	c := o.chunks[ci]
	j := sort.Search(len(c), func(j int) bool { return compareRefs(&c[j], &r) > 0 })
	c = append(c, ref{})
	copy(c[j+1:], c[j:])
	c[j] = r
	if len(c) <= 2*chunkSize {
		o.chunks[ci] = c
		return
	}
	right := append(make([]ref, 0, 2*chunkSize), c[chunkSize:]...)
	clear(c[chunkSize:]) // the left half keeps the array: drop the moved refs' pointers
	o.chunks[ci] = c[:chunkSize]
	o.chunks = append(o.chunks, nil)
	copy(o.chunks[ci+2:], o.chunks[ci+1:])
	o.chunks[ci+1] = right
}

// remove drops the refs of the groups in drop. Every such ref lies before the first one for
// which past is true (past must be false and then true along the order), so the walk stops there.
// Chunks left small are joined again.
func (o *logOrder) remove(drop map[*logGroup]bool, past func(*ref) bool) {
	var kept [][]ref
	ci := 0
	for ; ci < len(o.chunks); ci++ {
		c := o.chunks[ci]
		if past(&c[0]) {
			break
		}
		w := 0
		for _, r := range c {
			if !drop[r.g] {
				c[w] = r
				w++
			}
		}
		o.n -= len(c) - w
		clear(c[w:])
		if c = c[:w]; len(c) == 0 {
			continue
		}
		if k := len(kept) - 1; k >= 0 && len(kept[k])+len(c) <= chunkSize {
			kept[k] = append(kept[k], c...)
			continue
		}
		kept = append(kept, c)
	}
	if ci == 0 {
		return
	}
	o.chunks = append(kept, o.chunks[ci:]...)
}

// pos is a place in a logOrder: offset j of chunk ci, with rank refs before it.
type pos struct{ ci, j, rank int }

// seek returns the place of the first ref for which atOrAfter is true (false and then true
// along the order), or the end.
func (o *logOrder) seek(atOrAfter func(*ref) bool) pos {
	ci := sort.Search(len(o.chunks), func(i int) bool {
		c := o.chunks[i]
		return atOrAfter(&c[len(c)-1])
	})
	rank := 0
	for _, c := range o.chunks[:ci] {
		rank += len(c)
	}
	if ci == len(o.chunks) {
		return pos{ci: ci, rank: rank}
	}
	c := o.chunks[ci]
	j := sort.Search(len(c), func(j int) bool { return atOrAfter(&c[j]) })
	return pos{ci: ci, j: j, rank: rank + j}
}

// span is the refs of a logOrder from lo (included) to hi (excluded).
type span struct {
	o      *logOrder
	lo, hi pos
}

func (s span) len() int { return max(0, s.hi.rank-s.lo.rank) }

// appendTo appends the span's refs to out, in order.
func (s span) appendTo(out []ref) []ref {
	left := s.len()
	for ci, j := s.lo.ci, s.lo.j; left > 0; ci, j = ci+1, 0 {
		c := s.o.chunks[ci][j:]
		c = c[:min(len(c), left)]
		out = append(out, c...)
		left -= len(c)
	}
	return out
}

// live is the span of refs with from <= time < to (zero times mean unbounded) that are inside
// the retention of ls at now. Expiry only depends on time, so the live refs are one span too.
func (o *logOrder) live(ls *logstore, from, to, now time.Time) span {
	lo := o.seek(func(r *ref) bool {
		return (from.IsZero() || !r.e.time.Before(from)) && !ls.expired(r.e.time, now)
	})
	hi := pos{ci: len(o.chunks), rank: o.n}
	if !to.IsZero() {
		hi = o.seek(func(r *ref) bool { return !r.e.time.Before(to) })
	}
	return span{o: o, lo: lo, hi: hi}
}
