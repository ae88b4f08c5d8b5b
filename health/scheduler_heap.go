package health

import (
	"reflect"

	"github.com/robfig/cron/v3"
)

// checkHeap is a binary min-heap of the queued checks by due time. The
// sort key sits in the slice beside the pointer, so that sifting through
// 10,000 checks compares integers in one array instead of chasing a
// pointer per comparison; each check knows its index, so that a
// reschedule or removal is O(log n).
type checkHeap []heapEntry

type heapEntry struct {
	key int64 // due, as the monotonic clock's reading in nanoseconds
	c   *check
}

// set queues c with key, or moves it there if it is queued.
func (h *checkHeap) set(c *check, key int64) {
	if c.index < 0 {
		c.index = int32(len(*h))
		*h = append(*h, heapEntry{key, c})
		h.up(int(c.index))
		return
	}
	i := int(c.index)
	old := (*h)[i].key
	(*h)[i].key = key
	if key < old {
		h.up(i)
	} else {
		h.down(i)
	}
}

// remove takes c out of the heap.
func (h *checkHeap) remove(c *check) {
	i, last := int(c.index), len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = heapEntry{}
	*h = (*h)[:last]
	c.index = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h checkHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].c.index = int32(i)
	h[j].c.index = int32(j)
}

func (h checkHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= h[i].key {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h checkHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].key < h[l].key {
			m = r
		}
		if h[i].key <= h[m].key {
			return
		}
		h.swap(i, m)
		i = m
	}
}

// sameSchedule reports whether two schedules are the same: cron's parser
// returns a new *SpecSchedule for each parse, so compare what they hold.
func sameSchedule(a, b cron.Schedule) bool {
	return reflect.DeepEqual(a, b)
}
