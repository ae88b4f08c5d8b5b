package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestResolveServer: the names and forms the API accepts for a service
// and a real server, declared or discovered, and what it refuses.
func TestResolveServer(t *testing.T) {
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
	path := writeFile(t, t.TempDir(), "lvs.yml", file)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel has the declared web service with one extra destination,
	// and a service the file does not declare.
	snap := tableOf("10.0.0.1:80", "10.0.0.9:80")
	other := tableOf("10.0.1.1:53")
	other.Services[0].Protocol = ipvs.UDP
	other.Services[0].Port = 53
	snap.Services = append(snap.Services, other.Services[0])
	c, err := newChecks(context.Background(), path, cfg, &fakeTable{snap: snap}, options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, service, server string
		want                  realServerRef
		err                   error
		msg                   string
	}{
		{"by name", "web", "10.0.0.1:80", realServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.1:80"}, nil, ""},
		{"by key", "tcp/192.0.2.10:80", "10.0.0.2:8080", realServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.2:8080"}, nil, ""},
		{"key in capitals", "TCP/192.0.2.10:80", "10.0.0.1:80", realServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.1:80"}, nil, ""},
		{"bare address, one server", "web", "10.0.0.1", realServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.1:80"}, nil, ""},
		{"bare address, two servers", "web", "10.0.0.2", realServerRef{}, errBadServer, "2 real servers of web (tcp/192.0.2.10:80) have that address (10.0.0.2:80, 10.0.0.2:8080): give the port too"},
		{"IPv6 written loosely", "tcp/[2001:DB8::10]:443", "[2001:0db8::1]:443", realServerRef{"tcp/[2001:db8::10]:443", "v6", "[2001:db8::1]:443"}, nil, ""},
		{"discovered in a declared service", "web", "10.0.0.9:80", realServerRef{"tcp/192.0.2.10:80", "web", "10.0.0.9:80"}, nil, ""},
		{"discovered service", "udp/192.0.2.10:53", "10.0.1.1:53", realServerRef{"udp/192.0.2.10:53", "", "10.0.1.1:53"}, nil, ""},
		{"unknown server", "web", "10.0.0.3:80", realServerRef{}, errUnknownServer, "unknown real server 10.0.0.3:80: web (tcp/192.0.2.10:80) has no such real server in " + path + " or the IPVS table"},
		{"unknown service", "mail", "10.0.0.1:80", realServerRef{}, errUnknownServer, `unknown service "mail"`},
		{"server of another service", "v6", "10.0.0.1:80", realServerRef{}, errUnknownServer, "unknown real server 10.0.0.1:80"},
		{"a host name", "web", "rs1.example:80", realServerRef{}, errBadServer, `invalid server "rs1.example:80": want ADDRESS:PORT`},
		{"no service", "", "10.0.0.1:80", realServerRef{}, errBadServer, "give both service and server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.resolveServer(tc.service, tc.server)
			if !errors.Is(err, tc.err) || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("err = %v, want %v with %q", err, tc.err, tc.msg)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
