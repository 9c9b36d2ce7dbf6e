// Package suggest finds the names a mistyped one was probably meant to be,
// for "did you mean" in errors.
package suggest

import (
	"sort"
	"strings"
)

// Closest returns the candidates within two edits of name (a swap of two
// neighbouring letters counts as one edit), or that share its first four
// letters, or that it is a prefix of or that are a prefix of it (at least
// three letters), ignoring case; closest first, then alphabetically. One-letter and two-letter names allow a
// single edit only: two edits turn any short name into any other.
func Closest(name string, candidates []string) []string {
	type scored struct {
		name string
		dist int
	}
	n := strings.ToLower(name)
	var found []scored
	for _, c := range candidates {
		if c == name {
			continue
		}
		lc := strings.ToLower(c)
		d := distance(n, lc)
		max := 2
		if min(len(n), len(lc)) <= 2 {
			max = 1
		}
		cp, short := commonPrefix(n, lc), min(len(n), len(lc))
		prefix := cp >= 4 || cp == short && short >= 3
		if d <= max || prefix {
			found = append(found, scored{c, d})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].dist != found[j].dist {
			return found[i].dist < found[j].dist
		}
		return found[i].name < found[j].name
	})
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.name
	}
	return out
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// distance is the optimal string alignment distance (Levenshtein plus
// transpositions of neighbours), on bytes: names here are ASCII.
func distance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
