package notify

import (
	"net"
	"testing"
	"time"

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
	ev := health.Event{Time: time.Now(), Service: "tcp/192.0.2.10:80", Server: "10.0.0.1:80", Old: health.StateUp, New: health.StateDown}
	b.ReportAllocs()
	for b.Loop() {
		n.HealthEvent(ev)
	}
}
