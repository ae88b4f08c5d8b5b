package web

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/actuator"
	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

func mustConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(yaml), "lvs.yml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kernelService(key string, dests ...string) ipvs.Service {
	proto, ap, _ := strings.Cut(key, "/")
	addr := netip.MustParseAddrPort(ap)
	p := ipvs.TCP
	if proto == "udp" {
		p = ipvs.UDP
	}
	s := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: p, Address: addr.Addr(), Port: addr.Port()}, Scheduler: "wlc"}
	for _, d := range dests {
		a := netip.MustParseAddrPort(d)
		s.Destinations = append(s.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4, Address: a.Addr(), Port: a.Port(), Weight: 1})
	}
	return s
}

// rows lists "INDEX KEY" and "SI.RI SERVER" in view order.
func rows(v ServicesView) []string {
	var out []string
	for _, s := range v.Services {
		out = append(out, itoa(s.Index)+" "+s.Key)
		for _, r := range s.RealServers {
			out = append(out, itoa(s.Index)+"."+itoa(r.Index)+" "+r.Server+" "+r.State)
		}
	}
	return out
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }

const twoServices = `services:
  - name: b
    address: 192.0.2.2:80
    real_servers: [{address: 10.0.0.9:80, forward: nat}, {address: 10.0.0.1:80, forward: nat}]
  - name: a
    address: 192.0.2.1:80
    real_servers: [{address: 10.0.0.5:80, forward: nat}]
`

// TestBuildServicesIndexes: declared services and servers in file order,
// then the kernel's others sorted; a reload that inserts a service
// renumbers the services after it, and only those.
func TestBuildServicesIndexes(t *testing.T) {
	snap := &ipvs.Snapshot{Services: []ipvs.Service{
		kernelService("tcp/198.51.100.2:80", "10.1.0.2:80", "10.1.0.10:80"),
		kernelService("tcp/192.0.2.1:80", "10.0.0.5:80", "10.0.0.7:80", "10.0.0.6:80"),
		kernelService("tcp/198.51.100.10:80"),
	}}
	for _, tc := range []struct {
		name string
		cfg  string
		want []string
	}{
		{"exporter only: sorted by key, servers by address", "", []string{
			"01 tcp/192.0.2.1:80", "01.01 10.0.0.5:80 undeclared", "01.02 10.0.0.6:80 undeclared", "01.03 10.0.0.7:80 undeclared",
			"02 tcp/198.51.100.10:80",
			"03 tcp/198.51.100.2:80", "03.01 10.1.0.2:80 undeclared", "03.02 10.1.0.10:80 undeclared",
		}},
		{"declared first in file order", twoServices, []string{
			"01 tcp/192.0.2.2:80", "01.01 10.0.0.9:80 no_verdict", "01.02 10.0.0.1:80 no_verdict",
			"02 tcp/192.0.2.1:80", "02.01 10.0.0.5:80 no_verdict", "02.02 10.0.0.6:80 undeclared", "02.03 10.0.0.7:80 undeclared",
			"03 tcp/198.51.100.10:80",
			"04 tcp/198.51.100.2:80", "04.01 10.1.0.2:80 undeclared", "04.02 10.1.0.10:80 undeclared",
		}},
		{"a reload inserts a service: those after it move", strings.Replace(twoServices, "  - name: a\n", `  - name: new
    address: 203.0.113.1:80
    real_servers: [{address: 10.0.0.3:80, forward: nat}]
  - name: a
`, 1), []string{
			"01 tcp/192.0.2.2:80", "01.01 10.0.0.9:80 no_verdict", "01.02 10.0.0.1:80 no_verdict",
			"02 tcp/203.0.113.1:80", "02.01 10.0.0.3:80 no_verdict",
			"03 tcp/192.0.2.1:80", "03.01 10.0.0.5:80 no_verdict", "03.02 10.0.0.6:80 undeclared", "03.03 10.0.0.7:80 undeclared",
			"04 tcp/198.51.100.10:80",
			"05 tcp/198.51.100.2:80", "05.01 10.1.0.2:80 undeclared", "05.02 10.1.0.10:80 undeclared",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ServicesInput{Snapshot: snap}
			if tc.cfg != "" {
				in.Config = mustConfig(t, tc.cfg)
			}
			got := rows(BuildServices(in))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// The same input twice: the same rows.
			if again := rows(BuildServices(in)); strings.Join(again, "\n") != strings.Join(got, "\n") {
				t.Errorf("a second build differs:\n%s", strings.Join(again, "\n"))
			}
		})
	}
}

// TestBuildServicesJoin: verdicts, the controller's wishes and the kernel
// counters land on the right rows; an unreadable table keeps the
// configuration's rows without kernel columns.
func TestBuildServicesJoin(t *testing.T) {
	cfg := mustConfig(t, twoServices)
	snap := &ipvs.Snapshot{Services: []ipvs.Service{kernelService("tcp/192.0.2.2:80", "10.0.0.9:80")}}
	snap.Services[0].Destinations[0].Stats.BytesIn = 1 << 40
	snap.Services[0].Destinations[0].ActiveConns = 3
	st := &actuator.Status{Passes: 2, Services: []actuator.ServiceStatus{{Service: "tcp/192.0.2.2:80", Panic: true, RealServers: []actuator.RealServerStatus{
		{Server: "10.0.0.9:80", Verdict: health.StateUp, Decided: true, DesiredInTable: true, DesiredWeight: 1, ReasonCode: actuator.ReasonUp},
		{Server: "10.0.0.1:80", Verdict: health.StateDown, Decided: true, DesiredInTable: false, DesiredWeight: 1, ReasonCode: actuator.ReasonRemove},
	}}}}
	v := BuildServices(ServicesInput{Config: cfg, Status: st, Snapshot: snap})
	b := v.Services[0]
	if !b.InTable || !b.Panic || b.RealServersUp != 1 || b.RealServersTotal != 2 || b.Stats == nil {
		t.Errorf("service b: %+v", b)
	}
	r := b.RealServers[0]
	if r.Verdict != "up" || r.State != "up" || r.WeightDesired == nil || *r.WeightDesired != 1 || r.WeightKernel != 1 || r.Stats.BytesIn != 1<<40 || r.ActiveConns != 3 {
		t.Errorf("10.0.0.9:80: %+v", r)
	}
	r = b.RealServers[1]
	if r.Verdict != "down" || r.State != "remove" || r.WeightDesired == nil || *r.WeightDesired != 0 || r.InTable || r.Stats != nil {
		t.Errorf("10.0.0.1:80 (remove, not in the table): %+v", r)
	}
	a := v.Services[1]
	if a.InTable || a.Stats != nil || a.Scheduler != "wlc" || a.RealServers[0].WeightDesired != nil {
		t.Errorf("service a, not in the table, no status: %+v", a)
	}
	if v.Controller == nil || v.Controller.Passes != 2 || v.Controller.Mode != "managed" {
		t.Errorf("controller: %+v", v.Controller)
	}

	v = BuildServices(ServicesInput{Config: cfg, SnapshotErr: errors.New("no ip_vs")})
	if v.IPVSReadable || v.IPVSError != "no ip_vs" || len(v.Services) != 2 || v.Services[0].InTable || v.Controller != nil {
		t.Errorf("unreadable table: %+v", v)
	}
}

// TestBuildServicesMaintenance: a real server in the maintenance store is
// in maintenance in the view at once, before the controller's next pass
// has seen it (declared or only in the table), and no longer counts as
// up.
func TestBuildServicesMaintenance(t *testing.T) {
	cfg := mustConfig(t, twoServices)
	snap := &ipvs.Snapshot{Services: []ipvs.Service{kernelService("tcp/192.0.2.2:80", "10.0.0.9:80", "10.0.0.77:80")}}
	verdicts := []health.ServerStatus{
		{Service: "tcp/192.0.2.2:80", Server: "10.0.0.9:80", State: health.StateUp},
		{Service: "tcp/192.0.2.2:80", Server: "10.0.0.1:80", State: health.StateUp},
	}
	v := BuildServices(ServicesInput{Config: cfg, Snapshot: snap, Verdicts: verdicts, Maintenance: []actuator.MaintenanceEntry{
		{Service: "tcp/192.0.2.2:80", Server: "10.0.0.9:80", Reason: "disk"},
		{Service: "tcp/192.0.2.2:80", Server: "10.0.0.77:80"},
		{Service: "tcp/203.0.113.9:80", Server: "10.0.0.9:80"}, // a service that is gone
	}})
	b := v.Services[0]
	var got []string
	for _, r := range b.RealServers {
		got = append(got, fmt.Sprintf("%s %v", r.Server, r.Maintenance))
	}
	if strings.Join(got, ", ") != "10.0.0.9:80 true, 10.0.0.1:80 false, 10.0.0.77:80 true" || b.RealServersUp != 1 {
		t.Errorf("maintenance: %v, %d up; want 10.0.0.9 and the undeclared 10.0.0.77 in maintenance, 1 up", got, b.RealServersUp)
	}
	if v.Services[1].RealServers[0].Maintenance {
		t.Errorf("another service's server is in maintenance")
	}
}
