package health

import (
	"container/heap"
	"reflect"

	"github.com/robfig/cron/v3"
)

// checkHeap orders the queued checks by due time; each check knows its
// index so that a reschedule or removal is O(log n).
type checkHeap []*check

func (h checkHeap) Len() int           { return len(h) }
func (h checkHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h checkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *checkHeap) Push(x any) {
	c := x.(*check)
	c.index = len(*h)
	*h = append(*h, c)
}

func (h *checkHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.index = -1
	return c
}

// set queues c or moves it to its new due time.
func (h *checkHeap) set(c *check) {
	if c.index >= 0 {
		heap.Fix(h, c.index)
	} else {
		heap.Push(h, c)
	}
}

func (h *checkHeap) remove(c *check) {
	heap.Remove(h, c.index)
}

// sameSchedule reports whether two schedules are the same: cron's parser
// returns a new *SpecSchedule for each parse, so compare what they hold.
func sameSchedule(a, b cron.Schedule) bool {
	return reflect.DeepEqual(a, b)
}
