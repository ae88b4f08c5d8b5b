package health

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// startAsync starts the check with its deadline timeout from now and
// returns at once (asyncChecker, the scheduler's path): a connect that is
// over when it has been made returns its result, and one still running
// goes on the process's event loop (tcpReactor), which reports the
// result to done from its goroutine, when epoll reports the socket or at
// the deadline; cancel makes the loop end it early, as canceled. A run
// thus takes no goroutine, context, timer or os.File of its own, and
// makes raw system calls only (rawsys.go). Without a loop (epoll could
// not be set up) the run is Check in a goroutine.
func (c *TCP) startAsync(timeout time.Duration, done resultSink) (cancel func(), res Result, started bool) {
	if timeout <= 0 {
		timeout = probeFallbackTimeout
	}
	re, err := tcpReactor()
	if err != nil {
		ctx, stop := context.WithTimeout(withProbeTimeout(context.Background(), timeout), timeout)
		go func() {
			res := c.Check(ctx)
			stop()
			done.finish(res)
		}()
		return stop, Result{}, true
	}
	start := time.Now()
	fd, sa, res, pending := c.dialPeek()
	if !pending {
		res.Latency = time.Since(start)
		return nil, res, false
	}
	run := &tcpRun{c: c, timeout: timeout, done: done}
	t := &run.task
	t.h, t.fd, t.sa, t.start, t.deadline = run, fd, sa, start, start.Add(timeout)
	if err := re.add(t); err != nil {
		rawClose(fd)
		// epoll's limits (fs.epoll.max_user_watches, memory) are the
		// director's, not the real server's.
		res = Result{Class: ClassLocalError, Reason: err.Error() + ": the check cannot wait for its socket",
			Latency: time.Since(start)}
		if errors.Is(err, unix.ENOSPC) {
			res.Reason += " (raise fs.epoll.max_user_watches)"
		}
		return nil, res, false
	}
	return func() { re.cancel(t) }, Result{}, true
}

// tcpPeekEvery is how often a TCP check whose connects do not complete
// at once still looks whether one did (dialPeek).
const tcpPeekEvery = 16

// The TCP's peek: tcpPeekWaits when the latest look at a connect just
// made found it still running; the low bits count the runs since.
const tcpPeekWaits = 1 << 31

// dialPeek starts a run on the loop: the same socket, bind and connect as
// Check, and as Check it looks at the connect's state before it waits,
// by connecting again. To a listener on this host (over lo or veth pairs
// into namespaces) the kernel has completed the handshake, or had it
// refused, by the time connect returns EINPROGRESS, and to ask costs one
// system call where registering the socket with epoll and waking the
// loop for it costs three (epoll_ctl, the runtime's epoll_pwait and the
// loop's epoll_wait) and two goroutine switches. To a server across a
// link the answer is always "still running" (EALREADY): once it was, the
// check asks again only every tcpPeekEvery'th run, to notice a target
// that moved closer. A connect still running goes to the loop without a
// look at the ICMP error queue: a queued error makes epoll report the
// socket at once.
func (c *TCP) dialPeek() (int, rawSockaddr, Result, bool) {
	fd, sa, res, pending := c.dial()
	if !pending {
		return fd, sa, res, false
	}
	if p := c.peek.Add(1); p&tcpPeekWaits != 0 && (p&^tcpPeekWaits)%tcpPeekEvery != 0 {
		return fd, sa, Result{}, true
	}
	switch err := rawConnectRaw(fd, &sa); err {
	case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
		c.peek.Store(tcpPeekWaits)
		return fd, sa, Result{}, true
	case unix.EISCONN:
		res = tcpEnded(fd, nil, nil)
	default:
		res = tcpEnded(fd, nil, err)
	}
	c.peek.Store(0)
	rawClose(fd)
	return -1, sa, res, false
}

// ready reads the state of the connect after epoll reported events on
// its socket, as Check's wait does on the poller. EPOLLOUT with neither
// EPOLLERR nor EPOLLHUP is a completed handshake, which saves the open
// port, the common case, the connect again: the kernel (tcp_poll)
// reports a socket that is still in SYN_SENT not writable, one whose
// connect failed hung up (TCP_CLOSE), and one with an error pending or an
// ICMP error queued in error; any of those is read as Check reads it
// (tcpConnectState).
func (c *TCP) ready(fd int, sa *rawSockaddr, events uint32) (Result, bool) {
	if events&(unix.EPOLLERR|unix.EPOLLHUP) == 0 && events&unix.EPOLLOUT != 0 {
		return tcpEnded(fd, nil, nil), true
	}
	over, icmp, err := tcpConnectState(fd, sa)
	if !over {
		return Result{}, false
	}
	return tcpEnded(fd, icmp, err), true
}

// tcpRun is a TCP check's run on the loop: its task's handler. Its
// methods run on the loop's goroutine and must not panic (they are
// outside runCheck's recover).
type tcpRun struct {
	task    reactorTask
	c       *TCP
	timeout time.Duration
	done    resultSink
}

func (r *tcpRun) ready(t *reactorTask, events uint32) (Result, bool) {
	return r.c.ready(t.fd, &t.sa, events)
}

func (r *tcpRun) expired(t *reactorTask) Result { return tcpExpired(t.fd, r.timeout) }

// end closes the run's socket and reports its result, its latency the
// time from the start of the run until the loop learned the socket's
// state (the handshake's duration, for an open port).
func (r *tcpRun) end(t *reactorTask, res Result) {
	res.Latency = time.Since(t.start)
	rawClose(t.fd)
	r.done.finish(res)
}

// tcpReactor returns the event loop of the process's TCP checks, started
// at its first use. The loop lives as long as the process: a run on it
// ends by its socket, its deadline or its cancel, whichever scheduler
// started it.
var tcpReactor = sync.OnceValues(newReactor)
