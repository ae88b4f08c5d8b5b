package health

import (
	"container/heap"
	"fmt"
	"time"
)

// synState is where a probe is in its life; the scanner's lock guards it.
type synState uint8

const (
	// synDone: not registered (free, or completed).
	synDone synState = iota
	// synStarting: registered, its SYN being sent; an answer is kept for
	// the sender (see deliver), nothing else completes it.
	synStarting
	// synInFlight: sent; the first of an answer, its deadline, a
	// cancellation or an abort completes it.
	synInFlight
)

// synFlights is the scanner's probes in flight that have a time to act:
// a resend due, a deadline of their own (checks started by the
// scheduler, see SYN.startAsync), or a cancellation to complete. A
// binary min-heap by that time, driven by one timer for the whole
// scanner: a run costs no timer, goroutine or context of its own.
type synFlights []*synProbe

func (h synFlights) Len() int           { return len(h) }
func (h synFlights) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h synFlights) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *synFlights) Push(x any) {
	p := x.(*synProbe)
	p.index = len(*h)
	*h = append(*h, p)
}

func (h *synFlights) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.index = -1
	return p
}

// synFlight is a started probe and its registration's number, which
// tells a cancellation of this run from one of the probe's later reuse.
type synFlight struct {
	p   *synProbe
	seq uint64
}

// fly moves p, whose first SYN went out at p.sent, in flight: it resends
// while before limit (zero: never), and completes at limit when expires
// is set. If an answer came while the SYN was being sent, p is taken
// back instead and fly returns that answer's result.
func (s *SYNScanner) fly(p *synProbe, limit time.Time, expires bool) (synFlight, Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.hasEarly {
		s.takeLocked(p)
		a := p.early
		return synFlight{}, Result{Class: a.class, Latency: p.earlyAt.Sub(p.sent), Reason: a.reason}, true
	}
	p.state = synInFlight
	p.limit, p.expires, p.rto = limit, expires, synInitialRTO
	p.resend = time.Time{}
	// Most checks time out before the first resend is due (timeouts
	// under a second): they never enter the heap for one.
	if at := p.sent.Add(p.rto); at.Before(limit) {
		p.resend = at
	}
	s.updateLocked(p)
	s.armLocked()
	return synFlight{p, p.seq}, Result{}, false
}

// updateLocked puts p in the heap at its next time to act, or takes it
// out when it has none (a check that waits on its own context).
func (s *SYNScanner) updateLocked(p *synProbe) {
	var when time.Time // zero: at once (canceled)
	switch {
	case p.canceled:
	case p.expires && (p.resend.IsZero() || p.limit.Before(p.resend)):
		when = p.limit
	case !p.resend.IsZero():
		when = p.resend
	default:
		if p.index >= 0 {
			heap.Remove(&s.flights, p.index)
		}
		return
	}
	p.when = when
	if p.index >= 0 {
		heap.Fix(&s.flights, p.index)
	} else {
		heap.Push(&s.flights, p)
	}
}

// armLocked sets the timer to the earliest time in the heap, unless it
// is set no later than that: a timer that fires with nothing due just
// sets itself again.
func (s *SYNScanner) armLocked() {
	if len(s.flights) == 0 {
		return
	}
	when := s.flights[0].when
	if s.armed && !when.Before(s.armedAt) {
		return
	}
	s.armed, s.armedAt = true, when
	if s.timer == nil {
		s.timer = time.AfterFunc(time.Until(when), s.expire)
	} else {
		s.timer.Reset(time.Until(when))
	}
}

// takeLocked unregisters p and takes it out of the heap: whoever takes
// it completes it (see finish), once.
func (s *SYNScanner) takeLocked(p *synProbe) {
	delete(s.probes, p.k)
	if p.index >= 0 {
		heap.Remove(&s.flights, p.index)
	}
	p.state = synDone
}

// synResend is a resend that expire makes after it let go of the lock:
// a copy, since an answer may complete and reuse the probe meanwhile.
type synResend struct {
	fam *synFamily
	rt  *synRoute
	pkt [synLen]byte
}

// synCompleted is a probe expire took and its result.
type synCompleted struct {
	p   *synProbe
	res Result
}

// expire is the timer's function: it completes the canceled probes and
// those past their deadline (filtered: silence), and resends the SYNs
// that are due, doubling each one's wait, as the kernel's connect does.
func (s *SYNScanner) expire() {
	var doneBuf [16]synCompleted
	var resendBuf [16]synResend
	completed, resends := doneBuf[:0], resendBuf[:0]
	s.mu.Lock()
	s.armed = false
	now := time.Now()
	for len(s.flights) > 0 && !s.flights[0].when.After(now) {
		p := s.flights[0]
		switch {
		case p.canceled:
			s.takeLocked(p)
			completed = append(completed, synCompleted{p, Result{Class: ClassError, Reason: probeCanceledReason}})
		case p.expires && !now.Before(p.limit):
			s.takeLocked(p)
			completed = append(completed, synCompleted{p, synSilence(p.timeout)})
		default:
			resends = append(resends, synResend{fam: p.fam, rt: p.rt, pkt: p.pkt})
			p.rto *= 2
			p.resend = time.Time{}
			if at := now.Add(p.rto); at.Before(p.limit) {
				p.resend = at
			}
			s.updateLocked(p)
		}
	}
	s.armLocked()
	s.mu.Unlock()
	for i := range resends {
		r := &resends[i]
		q := newSynProbe(0)
		q.pkt = r.pkt
		// A failed resend changes nothing: the first send worked, and
		// the deadline still decides.
		_ = r.fam.send(q, r.rt.oob, r.rt.dst)
		q.free()
	}
	for _, c := range completed {
		s.finish(c.p, c.res)
	}
}

// synSilence is the result of a SYN that got no answer within timeout.
func synSilence(timeout time.Duration) Result {
	return Result{Class: ClassFiltered, Reason: fmt.Sprintf("no answer to SYN within %s", timeout)}
}

// cancel completes the probe of f, if it is still in flight, as canceled:
// from the timer's goroutine, so that the caller may hold locks its
// callback takes (the scheduler stops runs under its own).
func (s *SYNScanner) cancel(f synFlight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := f.p
	if p.seq != f.seq || p.state != synInFlight || p.canceled {
		return
	}
	p.canceled = true
	s.updateLocked(p)
	s.armLocked()
}

// abort takes back p, the caller's own probe, if it is still in flight,
// for the caller to complete (see finish); false: something completed it
// already, and its result is on p.answer or on its way there.
func (s *SYNScanner) abort(p *synProbe) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.state != synInFlight {
		return false
	}
	s.takeLocked(p)
	return true
}

// settle releases what a completed probe held: a port of its own, and
// its check's cached route after anything but an answer from the target
// itself.
func (s *SYNScanner) settle(p *synProbe, res Result) {
	if p.fd >= 0 {
		p.fam.freePort(p.k.local, p.fd)
		p.fd = -1
	}
	if p.c != nil && res.Class != ClassOpen && res.Class != ClassClosed {
		// Silence, an ICMP error, a cancellation: the path may have
		// changed, or the route's source may no longer be one the
		// target answers; look up again next time.
		p.c.forget(p.rt)
	}
}

// finish completes a probe that its caller took (takeLocked): it settles
// it and reports res, to the callback of a probe that has one (and frees
// the probe first), else on p.answer.
func (s *SYNScanner) finish(p *synProbe, res Result) {
	s.settle(p, res)
	if done := p.done; done != nil {
		p.free()
		done.finish(res)
		return
	}
	p.answer <- res
}
