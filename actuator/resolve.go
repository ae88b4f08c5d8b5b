package actuator

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// ErrUnknownServer is a service or real server that neither the
// configuration declares nor discovery found (the admin API answers 404).
var ErrUnknownServer = errors.New("unknown")

// ErrBadServer is a request naming a service or server in a form that
// cannot be one (the admin API answers 400).
var ErrBadServer = errors.New("invalid")

// ServerRef is a real server as a Resolver found it: the labels of its
// metrics and of its maintenance entry.
type ServerRef struct {
	// Service is the canonical key, the "service" label.
	Service string
	// Name is the service's name in the configuration ("" for a
	// discovered service).
	Name string
	// Server is "addr:port", the "server" label.
	Server string
}

// Label names a service for messages: "web (tcp/192.0.2.1:80)".
func (r ServerRef) Label() string {
	if r.Name == "" {
		return r.Service
	}
	return r.Name + " (" + r.Service + ")"
}

// KnownServers lists the real servers the health checks know, declared
// or discovered; *health.Scheduler satisfies it.
type KnownServers interface {
	Status() []health.ServerStatus
}

// MaintenanceLookup finds a maintenance entry by its labels;
// *Maintenance satisfies it.
type MaintenanceLookup interface {
	Get(service, server string) (MaintenanceEntry, bool)
}

// Resolver turns the names an operator gives a real server (a service's
// name or key written loosely, an address with or without its port) into
// the canonical labels the controller, the maintenance store and the
// metrics use. It resolves against the configuration in use and the
// real servers the health checks know, so a server discovery found in
// the kernel table resolves as well as a declared one.
type Resolver struct {
	config func() *config.Config
	known  KnownServers
}

// NewResolver returns a resolver against the configuration cfg returns
// (the one in use, which a reload replaces) and the servers known lists.
func NewResolver(cfg func() *config.Config, known KnownServers) *Resolver {
	return &Resolver{config: cfg, known: known}
}

// Resolve finds the real server server of service, where service is a
// name from the configuration or a service key ("tcp/192.0.2.1:80",
// "fwmark/42/ipv4"), and server is "addr:port" (or a bare address when
// only one real server of the service has it). The server must be
// declared in the configuration or be a destination discovery checks.
// Errors wrap ErrUnknownServer or ErrBadServer.
func (r *Resolver) Resolve(service, server string) (ServerRef, error) {
	cfg := r.config()
	if service == "" || server == "" {
		return ServerRef{}, fmt.Errorf("%w request: give both service and server", ErrBadServer)
	}

	// Every known server of the service, by canonical key.
	var ref ServerRef
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
	// Discovered servers (and the declared ones again) are the checks'
	// targets.
	for _, st := range r.known.Status() {
		if st.Service == ref.Service {
			servers = append(servers, st.Server)
		}
	}
	if len(servers) == 0 {
		return ServerRef{}, fmt.Errorf("%w service %q: it is neither a service name or key in %s nor a service discovery found in the IPVS table (keys look like tcp/192.0.2.1:80 or fwmark/42/ipv4)",
			ErrUnknownServer, service, cfg.Source.Path)
	}

	want, err := canonicalServer(server)
	if err != nil {
		return ServerRef{}, err
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
			return ServerRef{}, fmt.Errorf("%w server %s: %d real servers of %s have that address (%s): give the port too", ErrBadServer, server, len(match), ref.Label(), strings.Join(match, ", "))
		}
	}
	return ServerRef{}, fmt.Errorf("%w real server %s: %s has no such real server in %s or the IPVS table", ErrUnknownServer, server, ref.Label(), cfg.Source.Path)
}

// ResolveStored finds the entry of m that a request names when Resolve
// cannot (the configuration changed since the server entered
// maintenance), so that a server that left the configuration can still
// leave maintenance.
func (r *Resolver) ResolveStored(m MaintenanceLookup, service, server string) (ServerRef, bool) {
	srv, err := canonicalServer(server)
	if err != nil {
		return ServerRef{}, false
	}
	keys := []string{canonicalService(service)}
	if key := r.serviceKey(service); key != "" {
		keys = append(keys, key)
	}
	for _, key := range keys {
		if e, ok := m.Get(key, srv); ok {
			return ServerRef{Service: e.Service, Name: r.ServiceName(e.Service), Server: e.Server}, true
		}
	}
	return ServerRef{}, false
}

// ServiceName returns the name the configuration gives the service key,
// "" if none.
func (r *Resolver) ServiceName(key string) string {
	cfg := r.config()
	for i := range cfg.Services {
		if cfg.Services[i].Key.String() == key {
			return cfg.Services[i].Name
		}
	}
	return ""
}

// serviceKey returns the key of the service the configuration names
// name, "" if none.
func (r *Resolver) serviceKey(name string) string {
	cfg := r.config()
	for i := range cfg.Services {
		if cfg.Services[i].Name == name {
			return cfg.Services[i].Key.String()
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

// canonicalServer writes "addr:port" as the metrics label it, or returns
// a bare address as it is written canonically; anything else is an error
// wrapping ErrBadServer.
func canonicalServer(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().String(), nil
	}
	return "", fmt.Errorf("%w server %q: want ADDRESS:PORT, such as 10.0.0.1:80 or [2001:db8::1]:80", ErrBadServer, s)
}
