package health

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCheckHeap(t *testing.T) {
	// Random sets, moves and removes against a plain map of keys.
	rnd := rand.New(rand.NewPCG(3, 4))
	var h checkHeap
	checks := make([]*check, 200)
	keys := map[*check]int64{}
	for i := range checks {
		checks[i] = &check{index: -1}
	}
	for step := range 20000 {
		c := checks[rnd.IntN(len(checks))]
		if c.index >= 0 && rnd.IntN(4) == 0 {
			h.remove(c)
			delete(keys, c)
		} else {
			k := rnd.Int64N(1000)
			h.set(c, k)
			keys[c] = k
		}
		if len(h) != len(keys) {
			t.Fatalf("step %d: heap holds %d, want %d", step, len(h), len(keys))
		}
		for i, e := range h {
			if int(e.c.index) != i || keys[e.c] != e.key {
				t.Fatalf("step %d: entry %d has index %d, key %d; want key %d", step, i, e.c.index, e.key, keys[e.c])
			}
			if i > 0 && h[(i-1)/2].key > e.key {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
	}
	// Popping the minimum in turn yields the keys sorted.
	var want, got []int64
	for _, k := range keys {
		want = append(want, k)
	}
	slices.Sort(want)
	for len(h) > 0 {
		got = append(got, h[0].key)
		h.remove(h[0].c)
	}
	if !slices.Equal(got, want) {
		t.Errorf("popped %v, want %v", got, want)
	}
}
