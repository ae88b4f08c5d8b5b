package health

import (
	"context"
	"time"
)

// Clock is the scheduler's source of time. Production code uses
// RealClock; tests inject a FakeClock so that schedules, timeouts and the
// rise/fall state machine run deterministically, without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed, like
	// time.AfterFunc.
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

// RealClock is the wall clock: package time and context.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc returns time.AfterFunc(d, f).
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// WithTimeout returns context.WithTimeout(parent, d).
func (RealClock) WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, d)
}
