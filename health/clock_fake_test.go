package health

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestFakeClockAdvance(t *testing.T) {
	c := NewFakeClock(t0)
	var fired []string
	var at []time.Duration
	record := func(name string) func() {
		return func() {
			fired = append(fired, name)
			at = append(at, c.Now().Sub(t0))
		}
	}
	c.AfterFunc(3*time.Second, record("c"))
	c.AfterFunc(time.Second, record("a"))
	c.AfterFunc(time.Second, record("b")) // same deadline: creation order
	stopped := c.AfterFunc(2*time.Second, record("stopped"))
	reset := c.AfterFunc(time.Second, record("reset"))
	// A callback that sets a timer within the window fires in the same
	// Advance.
	c.AfterFunc(1500*time.Millisecond, func() {
		record("chain")()
		c.AfterFunc(time.Second, record("chained"))
	})

	if !stopped.Stop() {
		t.Error("Stop of a pending timer returned false")
	}
	if !reset.Reset(4 * time.Second) {
		t.Error("Reset of a pending timer returned false")
	}
	if d, ok := c.NextDeadline(); !ok || d != t0.Add(time.Second) {
		t.Errorf("NextDeadline = %v, %v; want t0+1s", d, ok)
	}
	c.Advance(3 * time.Second)
	if want := []string{"a", "b", "chain", "chained", "c"}; !slices.Equal(fired, want) {
		t.Errorf("fired %v, want %v", fired, want)
	}
	if want := []time.Duration{time.Second, time.Second, 1500 * time.Millisecond, 2500 * time.Millisecond, 3 * time.Second}; !slices.Equal(at, want) {
		t.Errorf("fired at %v, want %v", at, want)
	}
	if got := c.Now(); got != t0.Add(3*time.Second) {
		t.Errorf("Now = %v, want t0+3s", got)
	}
	c.Advance(time.Second)
	if fired[len(fired)-1] != "reset" {
		t.Errorf("reset timer did not fire at its new deadline: %v", fired)
	}
	if stopped.Stop() {
		t.Error("Stop of a stopped timer returned true")
	}
	if _, ok := c.NextDeadline(); ok {
		t.Error("NextDeadline reports a timer after all fired")
	}
}

func TestFakeClockWithTimeout(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		c := NewFakeClock(t0)
		ctx, cancel := c.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if d, ok := ctx.Deadline(); !ok || d != t0.Add(time.Second) {
			t.Errorf("Deadline = %v, %v; want t0+1s", d, ok)
		}
		c.Advance(999 * time.Millisecond)
		if ctx.Err() != nil {
			t.Fatalf("done before the deadline: %v", ctx.Err())
		}
		c.Advance(time.Millisecond)
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("Err = %v, want DeadlineExceeded", ctx.Err())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := NewFakeClock(t0)
		ctx, cancel := c.WithTimeout(context.Background(), time.Second)
		cancel()
		<-ctx.Done()
		c.Advance(2 * time.Second)
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("Err = %v, want Canceled", ctx.Err())
		}
		if _, ok := c.NextDeadline(); ok {
			t.Error("cancel left the deadline timer pending")
		}
	})
	t.Run("parent", func(t *testing.T) {
		c := NewFakeClock(t0)
		parent, cancelParent := context.WithCancel(context.Background())
		ctx, cancel := c.WithTimeout(parent, time.Second)
		defer cancel()
		cancelParent()
		<-ctx.Done()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Errorf("Err = %v, want Canceled", ctx.Err())
		}
	})
}

func TestFakeClockStepWall(t *testing.T) {
	c := NewFakeClock(t0)
	var firedAt []time.Time
	c.AfterFunc(2*time.Second, func() { firedAt = append(firedAt, c.Now()) })
	c.StepWall(-time.Hour)
	if got := c.Now(); got != t0.Add(-time.Hour) {
		t.Errorf("Now after StepWall(-1h) = %v, want t0-1h", got)
	}
	if got := c.Monotonic(); got != 0 {
		t.Errorf("Monotonic after StepWall = %v, want 0", got)
	}
	if d, ok := c.NextDeadline(); !ok || d != t0.Add(-time.Hour+2*time.Second) {
		t.Errorf("NextDeadline = %v, %v; want t0-1h+2s (the monotonic deadline on the stepped wall clock)", d, ok)
	}
	c.Advance(1999 * time.Millisecond)
	if len(firedAt) != 0 {
		t.Fatalf("a wall step fired a timer early: %v", firedAt)
	}
	c.Advance(time.Millisecond)
	if len(firedAt) != 1 || firedAt[0] != t0.Add(-time.Hour+2*time.Second) {
		t.Errorf("fired at %v, want once at t0-1h+2s", firedAt)
	}
	if got := c.Monotonic(); got != 2*time.Second {
		t.Errorf("Monotonic = %v, want 2s", got)
	}
	if got := c.Wakeups(); got != 1 {
		t.Errorf("Wakeups = %d, want 1", got)
	}
}

// TestFakeClockSpin: a timer that keeps re-arming itself for now is a
// busy loop; Advance returns anyway and Wakeups shows it.
func TestFakeClockSpin(t *testing.T) {
	c := NewFakeClock(t0)
	var spinner Timer
	spinner = c.AfterFunc(time.Second, func() { spinner.Reset(0) })
	calm := 0
	c.AfterFunc(time.Second, func() { calm++ })
	c.Advance(time.Second)
	if got := c.Wakeups(); got != fakeSpinLimit+1 {
		t.Errorf("Wakeups = %d, want %d (the spinner's limit and the calm timer)", got, fakeSpinLimit+1)
	}
	if calm != 1 {
		t.Errorf("the calm timer fired %d times, want 1", calm)
	}
	if d, ok := c.NextDeadline(); !ok || d != t0.Add(time.Second) {
		t.Errorf("NextDeadline = %v, %v; want the spinner still due at t0+1s", d, ok)
	}
}
