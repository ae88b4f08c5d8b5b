package health

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/internal/testutil"
)

func TestSchedulerSubscribe(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script("PPFFPPFFPPFF"))
	spec := every(c, time.Second, 100*time.Millisecond)
	spec.Rise, spec.Fall = 2, 2
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var second []Event
	cancel := h.s.Subscribe(func(ev Event) {
		// A subscriber may call the scheduler.
		if st := h.s.Status(); len(st) != 1 {
			t.Errorf("Status from a subscriber: %+v", st)
		}
		mu.Lock()
		second = append(second, ev)
		mu.Unlock()
	})
	h.s.Start()
	h.advance(4 * time.Second) // up, down
	h.waitEvents(2)
	testutil.Poll(t, 5*time.Second, time.Millisecond, func() error {
		mu.Lock()
		n := len(second)
		mu.Unlock()
		if n != 2 {
			return fmt.Errorf("second subscriber got %d events, want 2", n)
		}
		return nil
	})
	cancel()
	h.advance(8 * time.Second) // up, down, up, down
	events := h.waitEvents(6)
	mu.Lock()
	got := len(second)
	mu.Unlock()
	if got != 2 {
		t.Errorf("the canceled subscriber got %d events, want the 2 before it canceled", got)
	}
	// In order, alternating, each from the previous state.
	prev := StateUnknown
	for i, ev := range events {
		want := StateUp
		if i%2 == 1 {
			want = StateDown
		}
		if ev.Old != prev || ev.New != want {
			t.Errorf("event %d: %v -> %v, want %v -> %v", i, ev.Old, ev.New, prev, want)
		}
		prev = ev.New
	}
}

func TestSchedulerStopDeliversQueuedEvents(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script("F"))
	spec := every(c, time.Second, 100*time.Millisecond)
	spec.Fall = 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var got []Event
	h.s.Subscribe(func(ev Event) {
		<-release // a slow subscriber
		got = append(got, ev)
	})
	h.s.Start()
	h.advance(time.Second)
	done := make(chan error)
	go func() { done <- h.s.Stop(context.Background()) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].New != StateDown {
		t.Errorf("events delivered by Stop: %+v, want the down event", got)
	}
}

func TestSchedulerStopGivesUpOnStuckSubscriber(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	c := h.checker("tcp 10.0.0.1:80", script("F"))
	spec := every(c, time.Second, 100*time.Millisecond)
	spec.Fall = 1
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	h.s.Subscribe(func(Event) { <-stuck })
	h.s.Start()
	h.advance(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.s.Stop(ctx); err == nil || !strings.Contains(err.Error(), "event delivery unfinished") {
		t.Errorf("Stop: %v, want an error about event delivery", err)
	}
}

type badClassChecker struct{}

func (badClassChecker) Check(context.Context) Result { return Result{Class: 42, Reason: "odd"} }
func (badClassChecker) String() string               { return "odd 10.0.0.1:80" }

func TestSchedulerOutOfRangeClass(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	spec := every(badClassChecker{}, time.Second, 100*time.Millisecond)
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(time.Second)
	last := h.status(svc, rs1).Checks[0].Last
	if last.Class != ClassError || last.Reason != "checker returned class 42: odd" {
		t.Errorf("result %+v, want an error naming the class", last)
	}
}

// TestSchedulerStatusOf: the status of one real server is the one Status
// lists for it, and a server the scheduler does not check has none.
func TestSchedulerStatusOf(t *testing.T) {
	h := newHarness(t, SchedulerOptions{})
	spec1 := every(h.checker("tcp 10.0.0.1:80", script("FFFF")), time.Second, 100*time.Millisecond)
	spec2 := every(h.checker("tcp 10.0.0.2:80", script("PPPP")), time.Second, 100*time.Millisecond)
	spec1.Fall, spec2.Rise = 2, 2
	if err := h.s.Update([]Target{{Service: svc, Server: rs1, Checks: []CheckSpec{spec1}},
		{Service: svc, Server: rs2, Checks: []CheckSpec{spec2}}}); err != nil {
		t.Fatal(err)
	}
	h.s.Start()
	h.advance(3 * time.Second)
	h.waitEvents(2)
	for _, server := range []string{rs1, rs2} {
		got, ok := h.s.StatusOf(svc, server)
		want := h.status(svc, server)
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("StatusOf(%s) = %+v, %v; Status has %+v", server, got, ok, want)
		}
	}
	if got, _ := h.s.StatusOf(svc, rs1); got.State != StateDown {
		t.Errorf("rs1 %v, want down", got.State)
	}
	if got, ok := h.s.StatusOf(svc, "10.0.0.9:80"); ok {
		t.Errorf("StatusOf an unchecked server: %+v, true", got)
	}
}
