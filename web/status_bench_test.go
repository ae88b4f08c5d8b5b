package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// bigInput is a director with services × perService real servers, every
// tenth one down and drained, with a verdict, a controller status and
// growing counters at step.
func bigInput(tb testing.TB, services, perService, step int) StatusInput {
	tb.Helper()
	var b strings.Builder
	b.WriteString("services:\n")
	for s := range services {
		fmt.Fprintf(&b, "  - name: svc%d\n    address: 192.0.2.%d:80\n    real_servers:\n", s, s+1)
		for r := range perService {
			fmt.Fprintf(&b, "      - {address: 10.%d.%d.%d:80, weight: 10, forward: nat}\n", s, r/250, r%250+1)
		}
	}
	cfg, err := config.Parse([]byte(b.String()), "big.yml")
	if err != nil {
		tb.Fatal(err)
	}
	now := t0.Add(time.Duration(step) * 10 * time.Second)
	in := StatusInput{Director: "lvs1", ServicesInput: ServicesInput{Version: "1.2.3", Config: cfg, Snapshot: &ipvs.Snapshot{},
		Status: &actuator.Status{Mode: config.ControllerManaged, Period: 5 * time.Second, Passes: 10, LastPass: now, LastSuccess: now}}}
	for i := range cfg.Services {
		cs := &cfg.Services[i]
		ks := ipvs.Service{ServiceKey: cs.Key, Scheduler: "wlc"}
		ss := actuator.ServiceStatus{Name: cs.Name, Service: cs.Key.String(), InTable: true}
		for j, rs := range cs.RealServers {
			down := j%10 == 0
			w := int32(10)
			verdict, reason := health.StateUp, actuator.ReasonUp
			if down {
				w, verdict, reason = 0, health.StateDown, actuator.ReasonDrain
			}
			n := uint64(step*100 + j)
			ks.Destinations = append(ks.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4, Address: rs.Address.Addr(), Port: rs.Address.Port(), Weight: w,
				ActiveConns: uint32(j), InactiveConns: uint32(2 * j), Stats: ipvs.Stats{Connections: n, BytesIn: 1000 * n, BytesOut: 10000 * n}})
			server := rs.Address.String()
			in.Verdicts = append(in.Verdicts, health.ServerStatus{Service: ss.Service, Server: server, State: verdict, Since: t0.Add(-time.Hour),
				Checks: []health.CheckStatus{{Name: "tcp", State: verdict, Last: health.Result{Class: health.ClassOpen, Latency: time.Millisecond}, LastTime: now}}})
			ss.RealServers = append(ss.RealServers, actuator.RealServerStatus{Server: server, Verdict: verdict, DeclaredWeight: 10, Decided: true,
				DesiredInTable: true, DesiredWeight: int(w), ReasonCode: reason, InTable: true, KernelWeight: int(w)})
		}
		in.Snapshot.Services = append(in.Snapshot.Services, ks)
		in.Status.Services = append(in.Status.Services, ss)
	}
	return in
}

// benchPage is a status page over bigInput whose clock and counters
// advance with every answer (by 10 s, and by one connection and 1,000
// bytes each way per real server), so that every answer has rates.
func benchPage(b *testing.B, services, perService int) (*StatusPage, *http.ServeMux) {
	b.Helper()
	in := bigInput(b, services, perService, 0)
	n := 0
	gather := func(context.Context) StatusInput {
		n++
		for i := range in.Snapshot.Services {
			ks := &in.Snapshot.Services[i]
			for j := range ks.Destinations {
				st := &ks.Destinations[j].Stats
				st.Connections, st.BytesIn, st.BytesOut = st.Connections+1, st.BytesIn+1000, st.BytesOut+1000
			}
		}
		return in
	}
	cfg := webConfig(b, "", "admin")
	policy, err := NewPolicy(Options{EnableAdminAPI: true, ConfigFile: cfg, AdminUsers: []string{"admin"}}, newLogger(&bytes.Buffer{}))
	if err != nil {
		b.Fatal(err)
	}
	page, err := NewStatusPage(StatusOptions{
		Gather: gather,
		Now:    func() time.Time { return t0.Add(time.Duration(n) * 10 * time.Second) },
		Events: NewEvents(0), Policy: policy,
		SetMaintenance: func(MaintenanceRequest) (bool, int, error) { return true, 200, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range DefaultEvents {
		page.o.Events.Add(EventView{Time: t0, Kind: EventAction, Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", What: "drained: weight 10 → 0", Why: fmt.Sprint("down, drain ", i)})
	}
	mux := http.NewServeMux()
	page.Register(mux)
	return page, mux
}

// BenchmarkStatus renders /status (as a reader, and as an administrator
// with a form per row) and /api/v1/status at 1,000 real servers (10
// services of 100, and one of 1,000), and reports each answer's size.
// The gathering of the inputs (the kernel read, the scheduler's and the
// controller's snapshots) is not in it: those are benchmarked in their
// packages.
func BenchmarkStatus(b *testing.B) {
	for _, shape := range []struct{ services, per int }{{10, 100}, {1, 1000}} {
		for _, tc := range []struct {
			name, path string
			admin      bool
		}{
			{"page-reader", StatusPath, false},
			{"page-admin", StatusPath, true},
			{"page-reader-all-rows", StatusPath + "?per_page=5000", false},
			{"api", StatusAPIPath, false},
		} {
			b.Run(fmt.Sprintf("%dx%d/%s", shape.services, shape.per, tc.name), func(b *testing.B) {
				_, mux := benchPage(b, shape.services, shape.per)
				req := httptest.NewRequest("GET", tc.path, nil)
				if tc.admin {
					req.SetBasicAuth("admin", "admin-pw")
				}
				size := 0
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("%d %s", w.Code, w.Body.String())
					}
					size = w.Body.Len()
				}
				b.ReportMetric(float64(size), "page-bytes")
			})
		}
	}
}

// TestBigInput: the benchmark's input is what it claims (1,000 rows, a
// tenth drained, rates on the second answer), so its numbers measure
// the page at that size.
func TestBigInput(t *testing.T) {
	var tr rateTracker
	buildStatus(bigInput(t, 10, 100, 0), nil, t0, &tr)
	v := buildStatus(bigInput(t, 10, 100, 1), nil, t0.Add(10*time.Second), &tr)
	rows, drained, rated := 0, 0, 0
	for _, s := range v.Services {
		for _, r := range s.RealServers {
			rows++
			if r.State == ServerDrained {
				drained++
			}
			if r.Rates != nil {
				rated++
			}
		}
	}
	if rows != 1000 || drained != 100 || rated != 1000 {
		t.Errorf("%d rows, %d drained, %d with rates", rows, drained, rated)
	}
	if _, err := netip.ParseAddrPort(v.Services[9].RealServers[99].Server); err != nil {
		t.Error(err)
	}
}

// BenchmarkBuildServices joins the configuration, the table, the
// verdicts and the controller's status at 10,000 real servers, as 100
// services of 100 and as one service of 10,000 (where a lookup per real
// server that scans its service is 10^8 comparisons).
func BenchmarkBuildServices(b *testing.B) {
	for _, shape := range []struct{ services, per int }{{100, 100}, {1, 10000}} {
		b.Run(fmt.Sprintf("%dx%d", shape.services, shape.per), func(b *testing.B) {
			in := bigInput(b, shape.services, shape.per, 0)
			b.ReportAllocs()
			for b.Loop() {
				if v := BuildServices(in.ServicesInput); len(v.Services) != shape.services {
					b.Fatalf("%d services", len(v.Services))
				}
			}
		})
	}
}
