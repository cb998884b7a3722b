package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrShard marks a bad --shard value; the message names the value and the fix.
var ErrShard = errors.New("bad --shard")

// Shard is one of Count parallel jobs that share the suite; Index counts from 0. The zero
// Shard is treated as 0/1, the whole suite.
type Shard struct {
	Index, Count int
}

// String returns "I/N".
func (s Shard) String() string {
	if s.Count == 0 {
		return "0/1"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// ParseShard reads "I/N": shard I (0 <= I < N) of N. "" is 0/1.
func ParseShard(s string) (Shard, error) {
	if strings.TrimSpace(s) == "" {
		return Shard{Index: 0, Count: 1}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%w %q: want I/N, shard I of N counted from 0, e.g. --shard 0/4 ... --shard 3/4", ErrShard, s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("%w %q: I and N must be whole numbers: want I/N, e.g. --shard 0/4", ErrShard, s)
	case n <= 0:
		return Shard{}, fmt.Errorf("%w %q: N is the number of shards and must be 1 or more: e.g. --shard 0/4", ErrShard, s)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("%w %q: I counts from 0 and must be below N: use --shard 0/%d ... --shard %d/%d (in GitLab: $((CI_NODE_INDEX-1))/$CI_NODE_TOTAL)", ErrShard, s, n, n-1, n)
	}
	return Shard{Index: i, Count: n}, nil
}

// Cases returns shard s's share of cs, in the order of cs. The assignment is deterministic
// and depends only on cs and N: cases are taken longest first (by an estimate of their run
// time that counts rounds, peers and slow faults; ties in suite order) and each goes to the
// shard with the least estimated time so far (ties to the lowest index). So the shards
// 0..N-1 partition cs exactly, with no case twice and none left out, and take about the same
// time. A shard may be empty when N exceeds the number of cases.
func (s Shard) Cases(cs []Case) []Case {
	n := max(s.Count, 1)
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cs[b].cost() - cs[a].cost() })
	load := make([]int, n)
	mine := make([]bool, len(cs))
	for _, i := range order {
		best := 0
		for j := 1; j < n; j++ {
			if load[j] < load[best] {
				best = j
			}
		}
		load[best] += cs[i].cost()
		mine[i] = best == s.Index
	}
	var out []Case
	for i, c := range cs {
		if mine[i] {
			out = append(out, c)
		}
	}
	return out
}
