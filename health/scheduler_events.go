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
