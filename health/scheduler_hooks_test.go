package health

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

// TestSchedulerOnVerdict checks that a verdict hook hears every change in
// order, even while the subscribers' goroutine is stuck in a slow
// subscriber, and nothing after its cancel.
func TestSchedulerOnVerdict(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script("PFPFPF"))
	spec := every(c, time.Second, 100*time.Millisecond)
	spec.Rise, spec.Fall = 1, 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var hooked []Event
	heard := func() []Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), hooked...)
	}
	cancel := h.s.OnVerdict(func(ev Event) {
		mu.Lock()
		hooked = append(hooked, ev)
		mu.Unlock()
	})
	// A subscriber that holds the dispatcher from the first event until
	// the hook has heard the third.
	release := make(chan struct{})
	var once sync.Once
	h.s.Subscribe(func(Event) { once.Do(func() { <-release }) })
	h.s.Start()
	h.advance(3 * time.Second) // up, down, up
	testutil.Poll(t, 10*time.Second, time.Millisecond, func() error {
		if n := len(heard()); n != 3 {
			return fmt.Errorf("the hook heard %d changes, want 3 while the subscribers wait", n)
		}
		return nil
	})
	close(release)
	events := h.waitEvents(3)
	got := heard()
	for i := range got {
		if got[i].Old != events[i].Old || got[i].New != events[i].New || !got[i].Time.Equal(events[i].Time) {
			t.Errorf("change %d: hook %v -> %v at %v, subscriber %v -> %v at %v", i,
				got[i].Old, got[i].New, got[i].Time, events[i].Old, events[i].New, events[i].Time)
		}
	}
	cancel()
	h.advance(3 * time.Second) // down, up, down
	h.waitEvents(6)
	if n := len(heard()); n != 3 {
		t.Errorf("the canceled hook heard %d changes, want the 3 before its cancel", n)
	}
}

// statusReadingHandler is a log handler that, for a state change's line,
// reads that server's status from the scheduler, as another goroutine (a
// controller's targeted write) would while the line is written.
type statusReadingHandler struct {
	slog.Handler
	s    *Scheduler
	read chan error
}

func (h *statusReadingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "real server ") {
		done := make(chan struct{})
		go func() {
			h.s.StatusOf(svc, rs1)
			close(done)
		}()
		select {
		case <-done:
			h.read <- nil
		case <-time.After(10 * time.Second):
			h.read <- context.DeadlineExceeded
		}
	}
	return h.Handler.Handle(ctx, r)
}

// TestSchedulerLogsTransitionUnlocked checks that a state change is logged
// after the server's lock is released: a slow log write (a full pipe, a
// slow disk) must not hold up a reader of that server's status.
func TestSchedulerLogsTransitionUnlocked(t *testing.T) {
	var out strings.Builder
	var mu sync.Mutex
	lh := &statusReadingHandler{Handler: slog.NewTextHandler(&lockedWriter{mu: &mu, w: &out}, nil), read: make(chan error, 10)}
	h := newHarness(t, SchedulerOptions{Logger: slog.New(lh)})
	lh.s = h.s
	c := h.checker("tcp 10.0.0.1:80", script("PF"))
	spec := every(c, time.Second, 100*time.Millisecond)
	spec.Rise, spec.Fall = 1, 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(2 * time.Second) // up, down
	h.waitEvents(2)
	for i := range 2 {
		if err := <-lh.read; err != nil {
			t.Fatalf("line %d: the server's status could not be read while its state change was logged: %v", i, err)
		}
	}
	mu.Lock()
	text := out.String()
	mu.Unlock()
	for _, want := range []string{`msg="real server up"`, `msg="real server down"`, "server=" + rs1, "in_a_row=1"} {
		if !strings.Contains(text, want) {
			t.Errorf("log has no %s:\n%s", want, text)
		}
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
