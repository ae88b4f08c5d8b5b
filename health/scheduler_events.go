package health

import (
	"context"
	"sync"
	"sync/atomic"
)

// Subscribe registers fn to receive every real server state change from
// now on, until the returned cancel function is called or the scheduler
// stops. Events are delivered in the order the changes happened (so per
// real server in order), one at a time, from one goroutine that runs from
// Start until Stop; fn may call the scheduler's methods (Status). A slow fn
// delays later events, which wait in memory, never the checks.
//
// The controller can treat events as edge triggers and Status as the
// level: after subscribing, read Status for the current state. Every real
// server's first verdict is an event with Old == StateUnknown.
func (s *Scheduler) Subscribe(fn func(Event)) (cancel func()) {
	return s.events.subscribe(fn)
}

// OnVerdict registers fn to be called with every real server state change
// from now on, until the returned cancel function is called, by the
// goroutine that makes the change, without waiting for Subscribe's
// functions (the change is queued for them just before): under that real
// server's lock, so in order for each real server and concurrently for
// different ones. fn must return at once and must not
// call the scheduler (it would deadlock on the lock it is called under).
// It suits a consumer that only queues the change and wakes its own
// goroutine, as the controller does: its targeted write of the change then
// waits neither for the dispatcher's goroutine nor for the subscribers
// before it.
func (s *Scheduler) OnVerdict(fn func(Event)) (cancel func()) {
	return s.hooks.add(fn)
}

// verdictHooks are OnVerdict's functions: a list replaced on every change
// and read without a lock on every state change.
type verdictHooks struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*eventSub]
}

func (h *verdictHooks) add(fn func(Event)) func() {
	sub := &eventSub{fn: fn}
	sub.active.Store(true)
	h.mu.Lock()
	h.set(append(h.get(), sub))
	h.mu.Unlock()
	return func() {
		sub.active.Store(false)
		h.mu.Lock()
		defer h.mu.Unlock()
		var keep []*eventSub
		for _, x := range h.get() {
			if x != sub {
				keep = append(keep, x)
			}
		}
		h.set(keep)
	}
}

func (h *verdictHooks) get() []*eventSub {
	if p := h.list.Load(); p != nil {
		return *p
	}
	return nil
}

// set stores a new list; the old one may still be read, so it is never
// changed in place.
func (h *verdictHooks) set(list []*eventSub) { h.list.Store(&list) }

// call calls every active hook with ev.
func (h *verdictHooks) call(ev Event) {
	for _, sub := range h.get() {
		if sub.active.Load() {
			sub.fn(ev)
		}
	}
}

// eventDispatcher delivers published events to subscribers from one
// goroutine, so that publishing never blocks.
type eventDispatcher struct {
	mu     sync.Mutex
	queue  []Event
	subs   []*eventSub
	closed bool
	wake   chan struct{} // a publish or close since the dispatcher last looked
	done   chan struct{} // closed when run returns
}

type eventSub struct {
	fn     func(Event)
	active atomic.Bool
}

func newEventDispatcher() *eventDispatcher {
	return &eventDispatcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *eventDispatcher) subscribe(fn func(Event)) func() {
	sub := &eventSub{fn: fn}
	sub.active.Store(true)
	d.mu.Lock()
	d.subs = append(d.subs, sub)
	d.mu.Unlock()
	return func() {
		sub.active.Store(false)
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, x := range d.subs {
			if x == sub {
				d.subs = append(d.subs[:i:i], d.subs[i+1:]...)
				break
			}
		}
	}
}

// publish queues ev; events published after close are dropped.
func (d *eventDispatcher) publish(ev Event) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, ev)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run delivers events until close, then the events still queued.
func (d *eventDispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		batch, subs, closed := d.queue, d.subs, d.closed
		d.queue = nil
		d.mu.Unlock()
		for _, ev := range batch {
			for _, sub := range subs {
				if sub.active.Load() {
					sub.fn(ev)
				}
			}
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-d.wake
		}
	}
}

// close stops accepting events and waits until the queued ones have been
// delivered or ctx is done.
func (d *eventDispatcher) close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
