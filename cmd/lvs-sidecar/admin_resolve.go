package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// errUnknownServer is a service or real server that neither
// --config.file declares nor discovery found: the API answers 404.
var errUnknownServer = errors.New("unknown")

// errBadServer is a request naming a service or server in a form that
// cannot be one: the API answers 400.
var errBadServer = errors.New("invalid")

// realServerRef is a real server as the API resolved it.
type realServerRef struct {
	// Service is the canonical key, the "service" label.
	Service string
	// Name is the service's name in --config.file ("" for a discovered
	// service).
	Name string
	// Server is "addr:port", the "server" label.
	Server string
}

// resolveServer finds the real server server of service, where service is
// a name from --config.file or a service key ("tcp/192.0.2.1:80",
// "fwmark/42/ipv4"), and server is "addr:port" (or a bare address when
// only one real server of the service has it). The server must be
// declared in the configuration or be a destination discovery checks.
func (c *checks) resolveServer(service, server string) (realServerRef, error) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	if service == "" || server == "" {
		return realServerRef{}, fmt.Errorf("%w request: give both service and server", errBadServer)
	}

	// Every known server of the service, by canonical key.
	var ref realServerRef
	var servers []string
	for i := range cfg.Services {
		s := &cfg.Services[i]
		if s.Name == service || s.Key.String() == canonicalService(service) {
			ref.Service, ref.Name = s.Key.String(), s.Name
			for j := range s.RealServers {
				servers = append(servers, s.RealServers[j].Address.String())
			}
			break
		}
	}
	if ref.Service == "" {
		ref.Service = canonicalService(service)
	}
	// Discovered servers (and the declared ones again) are the
	// scheduler's targets.
	for _, st := range c.sched.Status() {
		if st.Service == ref.Service {
			servers = append(servers, st.Server)
		}
	}
	if len(servers) == 0 {
		return realServerRef{}, fmt.Errorf("%w service %q: it is neither a service name or key in %s nor a service discovery found in the IPVS table (keys look like tcp/192.0.2.1:80 or fwmark/42/ipv4)",
			errUnknownServer, service, c.path)
	}

	want, err := canonicalServer(server)
	if err != nil {
		return realServerRef{}, err
	}
	if ap, err := netip.ParseAddrPort(want); err == nil {
		for _, s := range servers {
			if s == ap.String() {
				ref.Server = s
				return ref, nil
			}
		}
	} else {
		// A bare address: fine when one real server of the service has it.
		var match []string
		for _, s := range servers {
			if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().String() == want && !slices.Contains(match, s) {
				match = append(match, s)
			}
		}
		switch len(match) {
		case 1:
			ref.Server = match[0]
			return ref, nil
		case 0:
		default:
			return realServerRef{}, fmt.Errorf("%w server %s: %d real servers of %s have that address (%s): give the port too", errBadServer, server, len(match), ref.label(), strings.Join(match, ", "))
		}
	}
	return realServerRef{}, fmt.Errorf("%w real server %s: %s has no such real server in %s or the IPVS table", errUnknownServer, server, ref.label(), c.path)
}

// label names a service for messages: "web (tcp/192.0.2.1:80)".
func (r realServerRef) label() string {
	if r.Name == "" {
		return r.Service
	}
	return r.Name + " (" + r.Service + ")"
}

// serviceName returns the name --config.file gives the service key, "" if
// none.
func (c *checks) serviceName(key string) string {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	for i := range cfg.Services {
		if cfg.Services[i].Key.String() == key {
			return cfg.Services[i].Name
		}
	}
	return ""
}

// canonicalService writes a service key the way the metrics label it:
// "TCP/192.0.2.1:080" becomes "tcp/192.0.2.1:80", "tcp/[2001:DB8::1]:80"
// "tcp/[2001:db8::1]:80". Anything else is returned as it is.
func canonicalService(s string) string {
	proto, rest, ok := strings.Cut(s, "/")
	if !ok {
		return s
	}
	proto = strings.ToLower(proto)
	if proto == "fwmark" {
		return strings.ToLower(s)
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return s
	}
	return proto + "/" + netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// canonicalServer writes "addr:port" as the metrics label it, or returns a
// bare address as it is written canonically.
func canonicalServer(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().String(), nil
	}
	return "", fmt.Errorf("%w server %q: want ADDRESS:PORT, such as 10.0.0.1:80 or [2001:db8::1]:80", errBadServer, s)
}

// serviceKey returns the key of the service --config.file names name, ""
// if none.
func (c *checks) serviceKey(name string) string {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	for i := range cfg.Services {
		if cfg.Services[i].Name == name {
			return cfg.Services[i].Key.String()
		}
	}
	return ""
}
