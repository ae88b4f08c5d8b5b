package health

import (
	"context"
	"time"
)

// Clock is the scheduler's source of time. Production code uses
// RealClock; tests inject a FakeClock so that schedules, timeouts and the
// rise/fall state machine run deterministically, without sleeping.
//
// A Clock has two readings, as the kernel has: the wall clock (Now), which
// an operator, NTP or a leap second may set forwards or backwards, and the
// monotonic clock (Monotonic), which only ever runs forwards at the rate
// of real time. Timers and deadlines run on the monotonic clock; only cron
// specs, which name wall-clock times, read the wall clock, so that a step
// of the wall clock moves no interval.
type Clock interface {
	// Now returns the current wall-clock time.
	Now() time.Time
	// Monotonic returns the monotonic clock's reading: the time elapsed
	// since a fixed point of the clock's choosing. It is not affected by
	// steps of the wall clock.
	Monotonic() time.Duration
	// AfterFunc calls f in its own goroutine once d has elapsed on the
	// monotonic clock, like time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
	// WithTimeout returns a copy of parent that is done once d has elapsed
	// on this clock, like context.WithTimeout: its Deadline and its Err
	// (context.DeadlineExceeded) follow the clock.
	WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// Timer is a pending call of a Clock's AfterFunc.
type Timer interface {
	// Reset makes the timer call its function once d has elapsed from now,
	// whether or not it has already fired; it reports whether the timer was
	// still pending.
	Reset(d time.Duration) bool
	// Stop prevents the call if it has not started; it reports whether it
	// did.
	Stop() bool
}

// RealClock is the system's clocks: package time and context.
type RealClock struct{}

// realClockBase is the fixed point of RealClock's monotonic readings: a
// time.Now() result carries the monotonic clock, and Since measures on it.
var realClockBase = time.Now()

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Monotonic returns the time elapsed on the monotonic clock since the
// process started.
func (RealClock) Monotonic() time.Duration { return time.Since(realClockBase) }

// AfterFunc returns time.AfterFunc(d, f), which runs on the monotonic
// clock.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// WithTimeout returns context.WithTimeout(parent, d).
func (RealClock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d)
}
