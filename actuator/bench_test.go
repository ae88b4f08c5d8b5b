package actuator

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// benchRig is a controller over services×servers declared real servers,
// all up and converged in the table.
func benchRig(b *testing.B, services, servers int) *rig {
	b.Helper()
	var y strings.Builder
	y.WriteString("services:\n")
	var tbl []ipvs.Service
	v := newFakeVerdicts()
	for i := range services {
		fmt.Fprintf(&y, "  - name: s%d\n    address: 192.0.2.%d:%d\n    real_servers:\n", i, i%250+1, 1000+i)
		key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i%250+1)), Port: uint16(1000 + i)}
		svc := ipvs.Service{ServiceKey: key, Scheduler: "wlc"}
		for j := range servers {
			addr := fmt.Sprintf("10.%d.%d.%d:80", i/250, j/250, j%250+1)
			fmt.Fprintf(&y, "      - {address: %s, forward: nat, weight: 2}\n", addr)
			svc.Destinations = append(svc.Destinations, dest(addr, 2))
			v.states[destKey{key.String(), addr}] = health.ServerStatus{Service: key.String(), Server: addr, State: health.StateUp}
		}
		tbl = append(tbl, svc)
	}
	cfg, err := config.Parse([]byte(y.String()), "bench.yml")
	if err != nil {
		b.Fatal(err)
	}
	table := newFakeTable(tbl...)
	c, err := New(cfg, Options{Reader: table, Writer: table, Verdicts: v, Clock: health.NewFakeClock(epoch)})
	if err != nil {
		b.Fatal(err)
	}
	return &rig{c: c, table: table, v: v}
}

// BenchmarkPassConverged measures a pass that finds the table as it
// should be (the steady state, every period): read, decide, no write.
func BenchmarkPassConverged(b *testing.B) {
	for _, size := range []struct{ services, servers int }{{10, 10}, {100, 100}} {
		b.Run(fmt.Sprintf("%dx%d", size.services, size.servers), func(b *testing.B) {
			r := benchRig(b, size.services, size.servers)
			r.c.pass(context.Background())
			if w := r.table.takeWrites(); len(w) != 0 {
				b.Fatalf("not converged: %d writes", len(w))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.c.pass(context.Background())
			}
			b.StopTimer()
			if w := r.table.takeWrites(); len(w) != 0 {
				b.Fatalf("%d writes in a converged pass", len(w))
			}
		})
	}
}
