package notify

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// BenchmarkHealthEvent is the cost to the health checks' event
// dispatcher of one state change with two targets: one whose queue has
// room (a receiver that reads nothing, so nothing is sent meanwhile but
// the first inform) and one whose queue is full (the drop path).
func BenchmarkHealthEvent(b *testing.B) {
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	cfg := testConfig(b,
		`    - {name: room, address: `+sink.LocalAddr().String()+`, community: public, type: inform, timeout: 10s, retries: 0, queue_size: 100000}`,
		`    - {name: full, address: `+sink.LocalAddr().String()+`, community: public, type: inform, timeout: 10s, retries: 0, queue_size: 1}`)
	n := New(cfg, Options{Hostname: hostname})
	// Stopped at the end, so that its informs timing out do not send (and
	// allocate) during the benchmarks that follow.
	defer closeNow(n)
	ev := health.Event{Time: time.Now(), Service: "tcp/192.0.2.10:80", Server: "10.0.0.1:80", Old: health.StateUp, New: health.StateDown}
	b.ReportAllocs()
	for b.Loop() {
		n.HealthEvent(ev)
	}
}

// closeNow closes n, abandoning what its targets still hold.
func closeNow(n *Notifier) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	n.Close(ctx)
}

// BenchmarkFullQueue is what a receiver that is down costs the checks'
// event dispatcher (HealthEvent) and the reconcile pass (Action): two
// inform targets at a socket that never answers, queue size 4, both full
// before the timer starts, so that every call drops one notification per
// target (counted, logged once for the episode). drops/op says so.
func BenchmarkFullQueue(b *testing.B) {
	ev := health.Event{Time: time.Now(), Service: "tcp/192.0.2.10:80", Server: "10.0.0.1:80", Old: health.StateUp, New: health.StateDown,
		Check: "tcp-80", Result: health.Result{Class: health.ClassClosed, Reason: "connection refused (RST)"}}
	act := actuator.Action{Time: time.Now(), Kind: actuator.ActionUpdateWeight, Service: "tcp/192.0.2.10:80", Name: "web",
		Server: "10.0.0.1:80", OldWeight: 2, NewWeight: 0, DeclaredWeight: 2, Reason: actuator.ReasonDrain}
	for _, bc := range []struct {
		name    string
		publish func(*Notifier)
	}{
		{"HealthEvent", func(n *Notifier) { n.HealthEvent(ev) }},
		{"Action", func(n *Notifier) { n.Action(act) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			var targets []string
			for i := range 2 {
				targets = append(targets, fmt.Sprintf(`    - {name: hung%d, address: %s, community: public, type: inform, timeout: 1h, retries: 0, queue_size: 4}`,
					i, sink.LocalAddr()))
			}
			n := New(testConfig(b, targets...), Options{Hostname: hostname})
			defer closeNow(n)
			// One inform in flight per target (the receiver got both),
			// then four queued: from then on every call drops.
			bc.publish(n)
			buf := make([]byte, 65536)
			for range 2 {
				if err := sink.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
					b.Fatal(err)
				}
				if _, _, err := sink.ReadFrom(buf); err != nil {
					b.Fatalf("the first informs: %v", err)
				}
			}
			for range 4 {
				bc.publish(n)
			}
			before := dropsOf(b, n)
			b.ReportAllocs()
			for b.Loop() {
				bc.publish(n)
			}
			drops := dropsOf(b, n) - before
			b.ReportMetric(float64(drops)/float64(b.N), "drops/op")
			if drops != 2*uint64(b.N) {
				b.Fatalf("%d drops in %d calls, want 2 a call: a queue had room", drops, b.N)
			}
		})
	}
}

func dropsOf(b *testing.B, n *Notifier) uint64 {
	b.Helper()
	var sum uint64
	for _, name := range []string{"hung0", "hung1"} {
		s, ok := n.Stats(name)
		if !ok {
			b.Fatalf("no target %s", name)
		}
		sum += s.Dropped
	}
	return sum
}
