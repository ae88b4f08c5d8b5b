package actuator

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// resolverFixture is a configuration with discovery on, loaded from a
// file, and the scheduler health.Build gives for it over a kernel table
// that has the declared web service with one extra destination and a
// service the file does not declare: the targets the program checks.
func resolverFixture(t *testing.T) (r *Resolver, path string) {
	t.Helper()
	const file = `
services:
  - name: web
    address: 192.0.2.10:80
    real_servers:
      - {address: 10.0.0.1:80, forward: nat}
      - {address: 10.0.0.2:80, forward: nat}
      - {address: 10.0.0.2:8080, forward: nat}
  - name: v6
    address: "[2001:db8::10]:443"
    real_servers:
      - {address: "[2001:db8::1]:443"}
discovery:
  enabled: true
`
	path = filepath.Join(t.TempDir(), "lvs.yml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	kernel := func(key ipvs.ServiceKey, servers ...string) ipvs.Service {
		s := ipvs.Service{ServiceKey: key}
		for _, srv := range servers {
			ap := netip.MustParseAddrPort(srv)
			s.Destinations = append(s.Destinations, ipvs.Destination{Family: ipvs.FamilyIPv4, Address: ap.Addr(), Port: ap.Port()})
		}
		return s
	}
	udp := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: netip.MustParseAddr("192.0.2.10"), Port: 53}
	snap := &ipvs.Snapshot{Services: []ipvs.Service{kernel(webKey, "10.0.0.1:80", "10.0.0.9:80"), kernel(udp, "10.0.1.1:53")}}
	targets, err := health.Build(cfg, snap, health.BuildDeps{})
	if err != nil {
		t.Fatal(err)
	}
	sched := health.NewScheduler(health.SchedulerOptions{})
	if err := sched.Update(targets); err != nil {
		t.Fatal(err)
	}
	return NewResolver(func() *config.Config { return cfg }, sched), path
}

// TestResolve: the names and forms the admin API accepts for a service
// and a real server, declared or discovered, and what it refuses.
func TestResolve(t *testing.T) {
	r, path := resolverFixture(t)
	for _, tc := range []struct {
		name, service, server string
		want                  ServerRef
		err                   error
		msg                   string
	}{
		{"by name", "web", "10.0.0.1:80", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.1:80"}, nil, ""},
		{"by key", "tcp/192.0.2.10:80", "10.0.0.2:8080", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.2:8080"}, nil, ""},
		{"key in capitals", "TCP/192.0.2.10:80", "10.0.0.1:80", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.1:80"}, nil, ""},
		{"bare address, one server", "web", "10.0.0.1", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.1:80"}, nil, ""},
		{"bare address, two servers", "web", "10.0.0.2", ServerRef{}, ErrBadServer, "2 real servers of web (tcp/192.0.2.10:80) have that address (10.0.0.2:80, 10.0.0.2:8080): give the port too"},
		{"IPv6 written loosely", "tcp/[2001:DB8::10]:443", "[2001:0db8::1]:443", ServerRef{"tcp/[2001:db8::10]:443", "v6", "[2001:db8::1]:443"}, nil, ""},
		{"discovered in a declared service", "web", "10.0.0.9:80", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.9:80"}, nil, ""},
		{"discovered service", "udp/192.0.2.10:53", "10.0.1.1:53", ServerRef{"udp/192.0.2.10:53", "", "10.0.1.1:53"}, nil, ""},
		{"unknown server", "web", "10.0.0.3:80", ServerRef{}, ErrUnknownServer, "unknown real server 10.0.0.3:80: web (tcp/192.0.2.10:80) has no such real server in " + path + " or the IPVS table"},
		{"unknown service", "mail", "10.0.0.1:80", ServerRef{}, ErrUnknownServer, `unknown service "mail"`},
		{"server of another service", "v6", "10.0.0.1:80", ServerRef{}, ErrUnknownServer, "unknown real server 10.0.0.1:80"},
		{"a host name", "web", "rs1.example:80", ServerRef{}, ErrBadServer, `invalid server "rs1.example:80": want ADDRESS:PORT`},
		{"no service", "", "10.0.0.1:80", ServerRef{}, ErrBadServer, "give both service and server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(tc.service, tc.server)
			if !errors.Is(err, tc.err) || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("err = %v, want %v with %q", err, tc.err, tc.msg)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestResolveStored: a lift can name a server the configuration no
// longer has by the service's key (written loosely) or by the name the
// configuration still gives the service; a server in no entry, or not
// an address, is not found.
func TestResolveStored(t *testing.T) {
	r, _ := resolverFixture(t)
	m := NewMaintenance()
	for _, c := range []MaintenanceChange{
		{Service: "tcp/192.0.2.10:80", Server: "10.0.0.7:80", Enabled: true},
		{Service: "tcp/192.0.2.99:80", Server: "10.0.0.8:80", Enabled: true},
	} {
		if _, _, err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, service, server string
		want                  ServerRef
		ok                    bool
	}{
		{"by the name", "web", "10.0.0.7:80", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.7:80"}, true},
		{"by the key in capitals", "TCP/192.0.2.10:80", "10.0.0.7:80", ServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.7:80"}, true},
		{"a service the file dropped", "tcp/192.0.2.99:80", "10.0.0.8:80", ServerRef{"tcp/192.0.2.99:80", "", "10.0.0.8:80"}, true},
		{"no entry", "web", "10.0.0.8:80", ServerRef{}, false},
		{"a bare address", "web", "10.0.0.7", ServerRef{}, false},
		{"not an address", "web", "rs7.example:80", ServerRef{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := r.ResolveStored(m, tc.service, tc.server)
			if ok != tc.ok || got != tc.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
