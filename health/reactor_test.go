package health

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testReactor returns a reactor closed at the end of the test.
func testReactor(t *testing.T) *reactor {
	t.Helper()
	re, err := newReactor()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(re.close)
	return re
}

// silentFD returns the read end of a pipe whose write end stays open:
// epoll never reports it writable, so its task ends only by its deadline
// or a cancel.
func silentFD(t *testing.T) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[1]) })
	return p[0]
}

// recorder is a reactorHandler that tells how each task ended, in order.
type recorder struct {
	mu    sync.Mutex
	ended []string
	ch    chan string
}

func newRecorder() *recorder { return &recorder{ch: make(chan string, 100)} }

func (h *recorder) ready(t *reactorTask, _ uint32) (Result, bool) {
	return Result{Class: ClassOpen, Reason: "ready"}, true
}

func (h *recorder) expired(t *reactorTask) Result {
	return Result{Class: ClassFiltered, Reason: "expired"}
}

func (h *recorder) end(t *reactorTask, res Result) {
	unix.Close(t.fd)
	s := fmt.Sprintf("%d %s", t.deadline.Sub(t.start)/time.Millisecond, res.Reason)
	h.mu.Lock()
	h.ended = append(h.ended, s)
	h.mu.Unlock()
	h.ch <- s
}

// wait returns the next n ends.
func (h *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		select {
		case s := <-h.ch:
			out = append(out, s)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d tasks ended, want %d: %v", len(out), n, out)
		}
	}
	return out
}

// Tasks end at their deadlines, the earliest first, whatever the order
// they were added in.
func TestReactorDeadlineOrder(t *testing.T) {
	re := testReactor(t)
	h := newRecorder()
	start := time.Now()
	ms := []int{50, 10, 40, 20, 30, 60, 5}
	for _, d := range ms {
		if err := re.add(&reactorTask{h: h, fd: silentFD(t), start: start, deadline: start.Add(time.Duration(d) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	got := h.wait(t, len(ms))
	slices.Sort(ms)
	var want []string
	for _, d := range ms {
		want = append(want, fmt.Sprintf("%d expired", d))
	}
	if !slices.Equal(got, want) {
		t.Errorf("ends %v, want %v", got, want)
	}
}

// A socket that is ready ends its task by its handler's ready.
func TestReactorReady(t *testing.T) {
	re := testReactor(t)
	h := newRecorder()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	start := time.Now()
	// A pipe's write end is writable at once.
	if err := re.add(&reactorTask{h: h, fd: p[1], start: start, deadline: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := h.wait(t, 1); got[0] != "3600000 ready" {
		t.Errorf("end %q, want ready", got[0])
	}
}

// A canceled task ends as canceled at once, before its deadline, whether
// it was canceled before or after it was added; the others keep waiting;
// close ends them as canceled.
func TestReactorCancel(t *testing.T) {
	re := testReactor(t)
	h := newRecorder()
	start := time.Now()
	task := func(d time.Duration) *reactorTask {
		return &reactorTask{h: h, fd: silentFD(t), start: start, deadline: start.Add(d)}
	}
	early, late, other := task(time.Hour), task(2*time.Hour), task(3*time.Hour)
	re.cancel(early)
	for _, tk := range []*reactorTask{early, late, other} {
		if err := re.add(tk); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.wait(t, 1); got[0] != "3600000 "+probeCanceledReason {
		t.Errorf("task canceled before add: %q", got[0])
	}
	re.cancel(late)
	re.cancel(late) // twice is once
	if got := h.wait(t, 1); got[0] != "7200000 "+probeCanceledReason {
		t.Errorf("task canceled after add: %q", got[0])
	}
	re.close()
	if got := h.wait(t, 1); got[0] != "10800000 "+probeCanceledReason {
		t.Errorf("task pending at close: %q", got[0])
	}
	if err := re.add(task(time.Hour)); err != errReactorClosed {
		t.Errorf("add after close: %v, want errReactorClosed", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ended) != 3 {
		t.Errorf("%d ends, want 3: %v", len(h.ended), h.ended)
	}
}

// More tasks than a batch, all ready at once or all canceled at once,
// all end: the loop comes back for the rest after it yields.
func TestReactorBatches(t *testing.T) {
	re := testReactor(t)
	h := newRecorder()
	const n = 3*reactorBatch + 1
	if cap(h.ch) < 2*n {
		h.ch = make(chan string, 2*n)
	}
	start := time.Now()
	for range n {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(p[0]) })
		// A pipe's write end is writable at once.
		if err := re.add(&reactorTask{h: h, fd: p[1], start: start, deadline: start.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range h.wait(t, n) {
		if s != "3600000 ready" {
			t.Fatalf("end %q, want ready", s)
		}
	}
	var tasks []*reactorTask
	for range n {
		tk := &reactorTask{h: h, fd: silentFD(t), start: start, deadline: start.Add(time.Hour)}
		if err := re.add(tk); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, tk)
	}
	for _, tk := range tasks {
		re.cancel(tk)
	}
	for _, s := range h.wait(t, n) {
		if s != "3600000 "+probeCanceledReason {
			t.Fatalf("end %q, want canceled", s)
		}
	}
}
