package health

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reactor is the event loop a C checker has (keepalived's TCP_CHECK on
// its scheduler thread): one goroutine that owns an epoll instance and a
// min-heap of deadlines, on which socket checks run with no goroutine,
// context or Go timer of their own (TCP.startAsync). A run costs its
// check's own system calls, one epoll_ctl to register its socket (the
// close deregisters it), and its share of the loop's wake-ups. Every
// call on a socket and on the epoll descriptor is a raw system call
// (rawsys.go), none of which can wait.
//
// Any goroutine adds a task (add): it registers the task's socket with
// epoll_ctl directly, which epoll allows while another thread waits, and
// wakes the loop only when the task's deadline is earlier than the one
// the loop sleeps until. Only the loop ends a task, so that a task's
// descriptor is never closed while the loop may still look it up by
// number: it asks the task's handler on each readiness of its socket,
// ends it at its deadline, or when it was canceled (cancel); then it
// calls the handler's end, which closes the socket, outside the loop's
// lock.
//
// The loop does not block in epoll_wait: a goroutine in a blocking system
// call keeps its thread out of the Go scheduler and wakes the runtime's
// sysmon to take its P back, a wake-up per sleep that a C loop does not
// pay. Instead the epoll descriptor is itself registered with Go's
// poller (an epoll instance is readable when one of its sockets is
// ready): the loop parks on it as a goroutine on a socket does, the
// runtime's own epoll_wait wakes it, and it reads its events with a
// non-blocking epoll_wait. The earliest deadline is the epoll file's read
// deadline (a runtime timer, set without a system call), which also
// serves to wake the loop for a cancellation or an earlier deadline.
//
// Raw calls keep the processor (P) of the goroutine that makes them, and
// the runtime cannot preempt a goroutine inside one. With GOMAXPROCS=1 a
// loop that handled a burst of thousands of sockets in one go would hold
// the process's only P for as long, with every other goroutine (the
// load poller's, the metrics server's) waiting. So the loop reads at most
// reactorBatch events, or ends at most reactorBatch tasks, at a time,
// and yields its P between two batches (runtime.Gosched); and it never
// makes a raw call that can wait (epoll_wait only with a zero timeout).
type reactor struct {
	epfd   int
	file   *os.File // epfd on Go's poller
	events []unix.EpollEvent

	mu       sync.Mutex
	tasks    []*reactorTask // by descriptor
	heap     []*reactorTask // by deadline
	canceled []*reactorTask // to end as canceled
	wakeAt   time.Time      // the read deadline set, zero for none
	seq      uint32
	closing  bool
	done     chan struct{} // closed when the loop has exited
}

// reactorHandler is what a task's owner does on the loop.
type reactorHandler interface {
	// ready is called with the epoll events of the task's socket; it
	// returns over when the task is done, and its result.
	ready(t *reactorTask, events uint32) (res Result, over bool)
	// expired returns the result of a task whose deadline passed.
	expired(t *reactorTask) Result
	// end is called once, by the loop and without its lock, with the
	// task's result: it closes the socket.
	end(t *reactorTask, res Result)
}

// reactorCanceled is the result of a task canceled before it was over.
var reactorCanceled = Result{Class: ClassError, Reason: probeCanceledReason}

// reactorTask is one socket on the loop: a check's connect in progress.
type reactorTask struct {
	h        reactorHandler
	fd       int
	sa       rawSockaddr // the TCP check's target
	start    time.Time   // when the check started: latency counts from it
	deadline time.Time

	// The reactor's mu.
	seq       uint32 // told apart from an earlier task on the same descriptor
	index     int    // in the heap, -1 when not there
	added     bool   // in tasks until the loop ends it
	cancel    bool   // cancel was called
	cancelled bool   // in the reactor's canceled list
}

// newReactor makes the epoll instance, puts it on Go's poller and starts
// the loop.
func newReactor() (*reactor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	// os.NewFile puts only a non-blocking descriptor on the poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	r := &reactor{epfd: epfd, file: os.NewFile(uintptr(epfd), "health-reactor"),
		events: make([]unix.EpollEvent, reactorBatch), done: make(chan struct{})}
	rc, err := r.file.SyscallConn()
	if err != nil {
		r.file.Close()
		return nil, err
	}
	// A descriptor the poller refused would make every read fail at once.
	if err := r.file.SetReadDeadline(time.Time{}); err != nil {
		r.file.Close()
		return nil, err
	}
	go r.loop(rc)
	return r, nil
}

// reactorBatch is how many events the loop reads, or tasks it ends, before
// it yields its processor (see reactor).
const reactorBatch = 32

// add puts t (its handler, socket, address, start and deadline set) on
// the loop. An error means t's socket could not be registered: the
// caller still owns it.
func (r *reactor) add(t *reactorTask) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return errReactorClosed
	}
	r.seq++
	t.seq, t.index, t.added = r.seq, -1, true
	if t.fd >= len(r.tasks) {
		r.tasks = append(r.tasks, make([]*reactorTask, t.fd+1-len(r.tasks))...)
	}
	r.tasks[t.fd] = t
	// Edge-triggered: the loop hears of each change of the socket once,
	// and a connect still running after a spurious wake-up costs no
	// second look until the next change.
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLET, Fd: int32(t.fd), Pad: int32(t.seq)}
	if err := rawEpollCtl(r.epfd, unix.EPOLL_CTL_ADD, t.fd, &ev); err != nil {
		r.tasks[t.fd], t.added = nil, false
		return os.NewSyscallError("epoll_ctl", err)
	}
	r.push(t)
	if t.cancel {
		r.cancelLocked(t)
	} else if r.wakeAt.IsZero() || t.deadline.Before(r.wakeAt) {
		r.wakeLocked(t.deadline)
	}
	return nil
}

// errReactorClosed is add's error after close.
var errReactorClosed = errors.New("health: reactor closed")

// cancel makes the loop end t as canceled, unless it is over already.
// It may be called before add, from any goroutine, and does not wait.
func (r *reactor) cancel(t *reactorTask) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.cancel = true
	if t.added {
		r.cancelLocked(t)
	}
}

func (r *reactor) cancelLocked(t *reactorTask) {
	if t.cancelled {
		return
	}
	t.cancelled = true
	r.canceled = append(r.canceled, t)
	r.wakeLocked(time.Unix(1, 0))
}

// wakeLocked makes the loop wake at at, or now if at is past.
func (r *reactor) wakeLocked(at time.Time) {
	r.wakeAt = at
	_ = r.file.SetReadDeadline(at)
}

// close makes the loop end every task as canceled and exit, and waits
// for it.
func (r *reactor) close() {
	r.mu.Lock()
	if !r.closing {
		r.closing = true
		r.wakeLocked(time.Unix(1, 0))
	}
	r.mu.Unlock()
	<-r.done
}

// loop runs until close: it reads the sockets' events while any come,
// parks on Go's poller until the next or the earliest deadline, and ends
// the tasks whose deadline passed or that were canceled.
func (r *reactor) loop(rc syscall.RawConn) {
	defer close(r.done)
	defer r.file.Close()
	var ending []*reactorTask
	for {
		var exit bool
		ending, exit = r.due(ending[:0])
		for _, t := range ending {
			if t.cancelled {
				t.h.end(t, reactorCanceled)
			} else {
				t.h.end(t, t.h.expired(t))
			}
		}
		clear(ending)
		if exit {
			return
		}
		if len(ending) > 0 {
			// Time went by: look again, after the other goroutines.
			runtime.Gosched()
			continue
		}
		// Read returns when the deadline passes (a timeout error), the
		// file is closed, or the callback says a batch was full. Read
		// forgets a readiness that came before it, so the callback reads
		// the events first, and waits only once epoll has none left: the
		// poller's registration of the epoll descriptor is
		// edge-triggered. After a full batch the loop yields, and the
		// next Read's callback reads on.
		more := false
		_ = rc.Read(func(uintptr) bool {
			more = r.poll()
			return more
		})
		if more {
			runtime.Gosched()
		}
	}
}

// poll reads the ready events once, without waiting, and handles them;
// it reports whether there may be more.
func (r *reactor) poll() bool {
	n, err := rawEpollWaitNow(r.epfd, r.events)
	if err != nil {
		return err == unix.EINTR
	}
	for i := range n {
		ev := &r.events[i]
		r.mu.Lock()
		var t *reactorTask
		if fd := int(ev.Fd); fd < len(r.tasks) {
			t = r.tasks[fd]
		}
		r.mu.Unlock()
		if t == nil || t.seq != uint32(ev.Pad) {
			continue
		}
		res, over := t.h.ready(t, ev.Events)
		if !over {
			continue
		}
		r.mu.Lock()
		ok := r.removeLocked(t)
		r.mu.Unlock()
		if ok {
			t.h.end(t, res)
		}
	}
	return n == len(r.events)
}

// due collects into ending the tasks to end now: those canceled, those
// past their deadline (at most reactorBatch of those canceled and
// expired: the loop comes back for the rest), and every one once the
// reactor closes (then exit is true). It sets the wake-up to the
// earliest deadline left, or now when it left due tasks.
func (r *reactor) due(ending []*reactorTask) (_ []*reactorTask, exit bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		for _, t := range r.heap {
			t.cancelled = true
			ending = append(ending, t)
		}
		for _, t := range ending {
			r.removeLocked(t)
		}
		return ending, true
	}
	n := 0
	for n < len(r.canceled) && len(ending) < reactorBatch {
		if t := r.canceled[n]; r.removeLocked(t) {
			ending = append(ending, t)
		}
		n++
	}
	left := copy(r.canceled, r.canceled[n:])
	clear(r.canceled[left:])
	r.canceled = r.canceled[:left]
	now := time.Now()
	for len(r.heap) > 0 && len(ending) < reactorBatch && !r.heap[0].deadline.After(now) {
		t := r.heap[0]
		r.removeLocked(t)
		ending = append(ending, t)
	}
	var at time.Time
	switch {
	case left > 0:
		at = time.Unix(1, 0)
	case len(r.heap) > 0:
		at = r.heap[0].deadline
	}
	r.wakeLocked(at)
	return ending, false
}

// removeLocked takes t off the loop (descriptor table and heap), and
// reports whether it was on it: the caller then ends it.
func (r *reactor) removeLocked(t *reactorTask) bool {
	if !t.added {
		return false
	}
	t.added = false
	r.tasks[t.fd] = nil
	r.heapRemove(t)
	return true
}

// push adds t to the deadline heap.
func (r *reactor) push(t *reactorTask) {
	t.index = len(r.heap)
	r.heap = append(r.heap, t)
	r.up(t.index)
}

// heapRemove takes t out of the deadline heap.
func (r *reactor) heapRemove(t *reactorTask) {
	i := t.index
	if i < 0 {
		return
	}
	last := len(r.heap) - 1
	if i != last {
		r.swap(i, last)
	}
	r.heap[last] = nil
	r.heap = r.heap[:last]
	t.index = -1
	if i != last {
		r.down(i)
		r.up(i)
	}
}

func (r *reactor) less(i, j int) bool { return r.heap[i].deadline.Before(r.heap[j].deadline) }

func (r *reactor) swap(i, j int) {
	r.heap[i], r.heap[j] = r.heap[j], r.heap[i]
	r.heap[i].index, r.heap[j].index = i, j
}

func (r *reactor) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !r.less(i, p) {
			return
		}
		r.swap(i, p)
		i = p
	}
}

func (r *reactor) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(r.heap) {
			return
		}
		m := l
		if rt := l + 1; rt < len(r.heap) && r.less(rt, l) {
			m = rt
		}
		if !r.less(m, i) {
			return
		}
		r.swap(i, m)
		i = m
	}
}
