package health

import (
	"context"
	"sync"
	"time"
)

// FakeClock is a Clock for tests: time stands still until Advance moves
// it, and Advance runs the functions of the timers that fall due, one
// after the other in deadline order, in the caller's goroutine (RealClock
// runs each in its own goroutine), so when Advance returns every callback
// due has run. StepWall sets the wall clock apart from the monotonic one,
// as an operator's `date -s`, NTP's step or a leap second does. Safe for
// concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	wall    time.Time
	mono    time.Duration
	seq     uint64 // orders timers with the same deadline by creation
	timers  map[*fakeTimer]struct{}
	wakeups uint64
}

// fakeSpinLimit is how often one timer may fire at one instant before
// Advance stops calling it: a timer whose function re-arms it for "now"
// over and over is a busy loop, which on a real clock burns a CPU, and
// which Advance would otherwise never return from. The test sees the
// spin in Wakeups.
const fakeSpinLimit = 100

// NewFakeClock returns a FakeClock whose wall clock reads now until it is
// advanced or stepped; its monotonic clock reads 0.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{wall: now, timers: make(map[*fakeTimer]struct{})}
}

// Now returns the wall clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// Monotonic returns the monotonic clock's reading: the sum of every
// Advance so far.
func (c *FakeClock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// AfterFunc returns a timer that calls f when Advance reaches d from now
// on the monotonic clock; a d of zero or less calls it on the next
// Advance, even Advance(0).
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

// NextDeadline returns the earliest deadline of a pending timer as a wall
// time (the wall clock's reading when Advance gets there, unless the wall
// clock is stepped meanwhile); ok is false when no timer is pending.
func (c *FakeClock) NextDeadline() (deadline time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.earliestLocked(); t != nil {
		return c.wall.Add(t.deadline - c.mono), true
	}
	return time.Time{}, false
}

// Wakeups returns how many timer functions Advance has called: the
// wakeups a real clock would have cost the process.
func (c *FakeClock) Wakeups() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wakeups
}

// StepWall sets the wall clock d later (earlier for a negative d) without
// moving the monotonic clock: no timer fires, and each stays due after
// the same monotonic time as before.
func (c *FakeClock) StepWall(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
}

// Advance moves both clocks forward by d, stopping at each pending
// timer's deadline on the way (the clocks read that deadline while the
// timer's function runs) to call its function. Timers that those
// functions set within the window fire too, except a timer that has
// fired fakeSpinLimit times at one instant (see fakeSpinLimit), which
// stays pending.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.mono + d
	spins := make(map[*fakeTimer]int)
	at := c.mono
	for {
		t := c.earliestLocked(spins)
		if t == nil || t.deadline > target {
			break
		}
		delete(c.timers, t)
		if t.deadline > c.mono {
			c.wall = c.wall.Add(t.deadline - c.mono)
			c.mono = t.deadline
		}
		if c.mono != at {
			at = c.mono
			clear(spins)
		}
		spins[t]++
		c.wakeups++
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	if target > c.mono {
		c.wall = c.wall.Add(target - c.mono)
		c.mono = target
	}
	c.mu.Unlock()
}

// earliestLocked returns the pending timer due first, leaving out those
// that have spun (fired fakeSpinLimit times at this instant).
func (c *FakeClock) earliestLocked(spins ...map[*fakeTimer]int) *fakeTimer {
	var first *fakeTimer
	for t := range c.timers {
		if len(spins) > 0 && spins[0][t] >= fakeSpinLimit {
			continue
		}
		if first == nil || t.deadline < first.deadline || (t.deadline == first.deadline && t.seq < first.seq) {
			first = t
		}
	}
	return first
}

type fakeTimer struct {
	clock    *FakeClock
	f        func()
	deadline time.Duration // on the monotonic clock; guarded by clock.mu
	seq      uint64        // guarded by clock.mu
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, pending := c.timers[t]
	c.seq++
	t.seq = c.seq
	t.deadline = c.mono + d
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
