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
func benchRig(b testing.TB, services, servers int) *rig {
	b.Helper()
	r, _ := benchRigOn(b, services, servers, health.NewFakeClock(epoch), nil)
	return r
}

// benchRigOn is benchRig on clock, with verdicts from source when it is
// not nil (its real servers' verdicts are then its own); it also returns
// the configuration.
func benchRigOn(b testing.TB, services, servers int, clock health.Clock, source VerdictSource) (*rig, *config.Config) {
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
	var vs VerdictSource = v
	if source != nil {
		vs = source
	}
	c, err := New(cfg, Options{Reader: table, Writer: table, Verdicts: vs, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	return &rig{c: c, table: table, v: v}, cfg
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

// BenchmarkPassConvergedLoad is BenchmarkPassConverged with a load block
// on every real server, all idle: what reading the loads adds.
func BenchmarkPassConvergedLoad(b *testing.B) {
	r := benchRig(b, 100, 100)
	cfg := *r.c.config()
	lw := &config.LoadWeight{Start: 2, Full: 6, Floor: 20, MaxStep: 25, Interval: 5e9}
	cfg.Services = append([]config.Service(nil), cfg.Services...)
	fl := newFakeLoad()
	for i := range cfg.Services {
		s := &cfg.Services[i]
		s.RealServers = append([]config.RealServer(nil), s.RealServers...)
		for j := range s.RealServers {
			s.RealServers[j].Load = lw
			fl.answer(s.Key.String(), s.RealServers[j].Address.String(), 1)
		}
	}
	c, err := New(&cfg, Options{Reader: r.table, Writer: r.table, Verdicts: r.v, Clock: health.NewFakeClock(epoch), Load: fl})
	if err != nil {
		b.Fatal(err)
	}
	c.pass(context.Background())
	if w := r.table.takeWrites(); len(w) != 0 {
		b.Fatalf("not converged: %d writes", len(w))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.pass(context.Background())
	}
	b.StopTimer()
	if w := r.table.takeWrites(); len(w) != 0 {
		b.Fatalf("%d writes in a converged pass", len(w))
	}
}
