package health

import (
	"context"
	"sync"
	"time"
)

// FakeClock is a Clock for tests: time stands still until Advance moves it,
// and Advance runs the functions of the timers that fall due, one after
// the other in deadline order, in the caller's goroutine (RealClock runs
// each in its own goroutine), so when Advance returns every callback due
// has run. Safe for concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64 // orders timers with the same deadline by creation
	timers map[*fakeTimer]struct{}
}

// NewFakeClock returns a FakeClock that reads now until it is advanced.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, timers: make(map[*fakeTimer]struct{})}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc returns a timer that calls f when Advance reaches now + d; a
// d of zero or less calls it on the next Advance, even Advance(0).
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &fakeTimer{clock: c, f: f}
	t.Reset(d)
	return t
}

// WithTimeout returns a context that is canceled with
// context.DeadlineExceeded when Advance reaches now + d.
func (c *FakeClock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancel(parent)
	ctx := &fakeDeadlineCtx{Context: inner, cancel: cancel, deadline: c.Now().Add(d)}
	t := c.AfterFunc(d, ctx.expire)
	return ctx, func() {
		t.Stop()
		cancel()
	}
}

// NextDeadline returns the earliest deadline of a pending timer; ok is
// false when no timer is pending.
func (c *FakeClock) NextDeadline() (deadline time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.earliestLocked(); t != nil {
		return t.deadline, true
	}
	return time.Time{}, false
}

// Advance moves the clock forward by d, stopping at each pending timer's
// deadline on the way (the clock reads that deadline while the timer's
// function runs) to call its function. Timers that those functions set
// within the window fire too.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		t := c.earliestLocked()
		if t == nil || t.deadline.After(target) {
			break
		}
		delete(c.timers, t)
		if t.deadline.After(c.now) {
			c.now = t.deadline
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	if target.After(c.now) {
		c.now = target
	}
	c.mu.Unlock()
}

func (c *FakeClock) earliestLocked() *fakeTimer {
	var first *fakeTimer
	for t := range c.timers {
		if first == nil || t.deadline.Before(first.deadline) || (t.deadline.Equal(first.deadline) && t.seq < first.seq) {
			first = t
		}
	}
	return first
}

type fakeTimer struct {
	clock    *FakeClock
	f        func()
	deadline time.Time // guarded by clock.mu
	seq      uint64    // guarded by clock.mu
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, pending := c.timers[t]
	c.seq++
	t.seq = c.seq
	t.deadline = c.now.Add(d)
	c.timers[t] = struct{}{}
	return pending
}

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, pending := c.timers[t]
	delete(c.timers, t)
	return pending
}

// fakeDeadlineCtx is a context whose deadline is on a FakeClock.
type fakeDeadlineCtx struct {
	context.Context // canceled by cancel, or when the parent is done
	cancel          context.CancelFunc
	deadline        time.Time

	mu      sync.Mutex
	expired bool
}

func (c *fakeDeadlineCtx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *fakeDeadlineCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}

// expire cancels the context as its deadline: under the lock, so that Err
// never reports the deadline before Done is closed.
func (c *fakeDeadlineCtx) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Context.Err() == nil {
		c.expired = true
		c.cancel()
	}
}
