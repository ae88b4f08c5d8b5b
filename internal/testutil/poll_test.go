package testutil

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// fatalRecorder records Fatalf instead of failing the real test, and ends
// the goroutine as t.Fatalf would.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runPoll runs Poll on its own goroutine and returns the Fatalf message,
// empty if Poll returned.
func runPoll(t *testing.T, timeout, every time.Duration, check func() error) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Poll(rec, timeout, every, check)
	}()
	<-done
	return rec.msg
}

func TestPoll(t *testing.T) {
	t.Run("returns once check holds", func(t *testing.T) {
		calls := 0
		msg := runPoll(t, 5*time.Second, time.Millisecond, func() error {
			if calls++; calls < 3 {
				return fmt.Errorf("call %d", calls)
			}
			return nil
		})
		if msg != "" || calls != 3 {
			t.Errorf("Fatalf %q after %d calls, want none after 3", msg, calls)
		}
	})
	t.Run("fails with the last error at the timeout", func(t *testing.T) {
		calls := 0
		start := time.Now()
		msg := runPoll(t, 50*time.Millisecond, 10*time.Millisecond, func() error {
			calls++
			return fmt.Errorf("call %d", calls)
		})
		if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
			t.Errorf("gave up after %v, before the 50ms timeout", elapsed)
		}
		if want := fmt.Sprintf("not within 50ms: call %d", calls); msg != want || calls < 2 {
			t.Errorf("Fatalf %q after %d calls, want %q after several", msg, calls, want)
		}
	})
	t.Run("checks at least once with no time left", func(t *testing.T) {
		if msg := runPoll(t, 0, time.Millisecond, func() error { return nil }); msg != "" {
			t.Errorf("Fatalf %q, want none", msg)
		}
		if msg := runPoll(t, 0, time.Millisecond, func() error { return errors.New("no") }); msg != "not within 0s: no" {
			t.Errorf("Fatalf %q, want %q", msg, "not within 0s: no")
		}
	})
}
