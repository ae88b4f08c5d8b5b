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

// subList is a list of subscriptions: the dispatcher's subscribers and
// the verdict hooks. A removal copies the list, so a snapshot taken
// (subs) stays as it was; cancel also marks the subscription inactive, so
// a snapshot taken before it skips it.
type subList struct {
	mu   sync.Mutex
	list []*eventSub
}

type eventSub struct {
	fn     func(Event)
	active atomic.Bool
}

func (l *subList) add(fn func(Event)) (cancel func()) {
	sub := &eventSub{fn: fn}
	sub.active.Store(true)
	l.mu.Lock()
	l.list = append(l.list, sub)
	l.mu.Unlock()
	return func() {
		sub.active.Store(false)
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, x := range l.list {
			if x == sub {
				l.list = append(l.list[:i:i], l.list[i+1:]...)
				break
			}
		}
	}
}

// subs returns the subscriptions now.
func (l *subList) subs() []*eventSub {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list
}

// call calls every active subscription with ev.
func (l *subList) call(ev Event) {
	for _, sub := range l.subs() {
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
	subs   subList
	closed bool
	wake   chan struct{} // a publish or close since the dispatcher last looked
	done   chan struct{} // closed when run returns
}

func newEventDispatcher() *eventDispatcher {
	return &eventDispatcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *eventDispatcher) subscribe(fn func(Event)) func() { return d.subs.add(fn) }

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
		batch, closed := d.queue, d.closed
		d.queue = nil
		d.mu.Unlock()
		for _, ev := range batch {
			d.subs.call(ev)
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
