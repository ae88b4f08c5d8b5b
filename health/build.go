package health

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// BuildDeps is what Build needs besides the configuration.
type BuildDeps struct {
	// SYNScanner sends the packets of every syn check. Nil: the process's
	// shared scanner, opened by the first syn check that runs; without
	// CAP_NET_RAW it cannot open, and each syn check then fails with
	// ClassError and the reason (the other checks are not affected), and
	// tries again on its next run.
	SYNScanner *SYNScanner
	// NetNS, when set, is the network namespace every check opens its
	// sockets in (see NetNS); nil: the process's own.
	NetNS *NetNS
}

// Build maps a validated configuration to the scheduler's targets: one
// Target per real server of every declared service, with the checks
// config.Service.ChecksFor gives it. Service is the service's
// ipvs.ServiceKey.String() and Server the real server's address and port,
// the labels the IPVS table's metrics use, so that a verdict and its
// server's traffic join in queries.
//
// With discovery enabled, every destination of snap that no declared
// service lists (by service key and address:port) gets a Target too, with
// the discovery checks on its own port. A discovered destination gets only
// the checks its service can answer: icmp always; udp on UDP services;
// tcp, syn, http and https on TCP services; any check with an explicit
// port on fwmark services, whose destinations usually have no port (port
// 0: the packet's own port is kept). A check that needs a port the
// destination does not have is left out; a destination left with no
// check gets a ping (icmp, count 1) on the first discovery check's
// schedule, as import does for such services. snap may be nil (discovery
// off, or the table could not be read): then only declared real servers
// are returned.
//
// Check names are short and stable across reloads: "tcp:80", "syn:443",
// "udp:53", "icmp", "http:80/healthz", "https:443/health"; a second check
// with the same name gets "#2" appended, and so on.
func Build(cfg *config.Config, snap *ipvs.Snapshot, deps BuildDeps) ([]Target, error) {
	var (
		targets  []Target
		errs     []error
		declared = make(map[serverKey]bool)
		shared   = make(sharedSpecs)
	)
	for i := range cfg.Services {
		s := &cfg.Services[i]
		service := s.Key.String()
		for j := range s.RealServers {
			rs := &s.RealServers[j]
			key := serverKey{service, rs.Address.String()}
			declared[key] = true
			checks, err := buildChecks(rs.Address.Addr(), s.ChecksFor(rs), deps, shared)
			if err != nil {
				errs = append(errs, fmt.Errorf("service %q (%s), real server %s: %w", s.Name, service, key.server, err))
				continue
			}
			targets = append(targets, Target{Service: service, Server: key.server, Combine: buildCombine(s.Combine), Checks: checks})
		}
	}
	if cfg.Discovery.Enabled && snap != nil {
		for i := range snap.Services {
			svc := &snap.Services[i]
			service := svc.ServiceKey.String()
			for j := range svc.Destinations {
				d := &svc.Destinations[j]
				key := serverKey{service, d.Server()}
				if declared[key] {
					continue
				}
				declared[key] = true // the kernel lists each once; be safe anyway
				checks, err := buildChecks(d.Address, discoveryChecks(cfg.Discovery.Checks, svc.ServiceKey, d.Address, d.Port), deps, shared)
				if err != nil {
					errs = append(errs, fmt.Errorf("discovered service %s, real server %s: %w", service, key.server, err))
					continue
				}
				targets = append(targets, Target{Service: service, Server: key.server, Checks: checks})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("health: build targets: %w", err)
	}
	return targets, nil
}

// discoveryChecks returns the discovery checks that apply to a destination
// at addr:port of the service key (see Build), with their ports resolved.
// A check's source_address applies to destinations of its family; the
// others are checked from the route's source.
func discoveryChecks(checks []config.Check, key ipvs.ServiceKey, addr netip.Addr, port uint16) []config.Check {
	var out []config.Check
	for _, c := range config.ResolvePorts(checks, port) {
		if c.Type != config.CheckICMP && c.Port == 0 {
			continue
		}
		if key.FWMark == 0 && !checkFits(c.Type, key.Protocol) {
			continue
		}
		if c.Source.IsValid() && c.Source.Is4() != addr.Unmap().Is4() {
			c.Source = netip.Addr{}
		}
		out = append(out, c)
	}
	if len(out) == 0 && len(checks) > 0 {
		c := checks[0]
		c.Type, c.Port = config.CheckICMP, 0
		c.UDP, c.HTTP = nil, nil
		c.ICMP = &config.ICMPCheck{Count: 1, Interval: probeICMPInterval}
		out = append(out, c)
	}
	return out
}

// checkFits reports whether a check of type t can test a service of
// protocol p.
func checkFits(t config.CheckType, p ipvs.Protocol) bool {
	switch t {
	case config.CheckICMP:
		return true
	case config.CheckUDP:
		return p == ipvs.UDP
	default: // tcp, syn, http, https
		return p == ipvs.TCP
	}
}

// sharedSpecs holds the parts of CheckSpecs that many checks have alike,
// check names and @every schedules, so that the targets of one Build
// share one copy of each: made per check, they cost 16 bytes and more a
// check for as long as the scheduler runs it.
type sharedSpecs map[any]any

// name returns the first name equal to s.
func (sh sharedSpecs) name(s string) string {
	if v, ok := sh[s]; ok {
		return v.(string)
	}
	sh[s] = s
	return s
}

// schedule returns the first schedule equal to s when it is an Every.
func (sh sharedSpecs) schedule(s cron.Schedule) cron.Schedule {
	e, ok := s.(Every)
	if !ok {
		return s
	}
	if v, ok := sh[e]; ok {
		return v.(cron.Schedule)
	}
	sh[e] = s
	return s
}

// buildChecks makes the CheckSpecs of one real server at addr.
func buildChecks(addr netip.Addr, checks []config.Check, deps BuildDeps, shared sharedSpecs) ([]CheckSpec, error) {
	if len(checks) == 0 {
		return nil, errors.New("no checks")
	}
	specs := make([]CheckSpec, 0, len(checks))
	seen := make(map[string]int, len(checks))
	for i := range checks {
		c := &checks[i]
		checker, name, err := buildChecker(addr, c, deps)
		if err != nil {
			return nil, fmt.Errorf("check %d (%s): %w", i, c.Type, err)
		}
		checker = deps.NetNS.apply(checker)
		seen[name]++
		if n := seen[name]; n > 1 {
			name += "#" + strconv.Itoa(n)
		}
		specs = append(specs, CheckSpec{
			Name:         shared.name(name),
			Type:         c.Type.String(),
			Checker:      checker,
			Schedule:     shared.schedule(buildSchedule(c.Schedule)),
			Timeout:      c.Timeout,
			Rise:         c.Rise,
			Fall:         c.Fall,
			FastInterval: c.FastInterval,
			DownInterval: c.DownInterval,
			Jitter:       buildJitter(c),
		})
	}
	return specs, nil
}

// buildChecker returns the checker of c against addr and the check's name.
func buildChecker(addr netip.Addr, c *config.Check, deps BuildDeps) (Checker, string, error) {
	if c.Type == config.CheckICMP {
		opts := ICMPOptions{Source: c.Source}
		if p := c.ICMP; p != nil {
			opts.Count, opts.Interval, opts.MaxLossPercent = p.Count, p.Interval, p.MaxLoss
		}
		return NewICMP(addr, opts), "icmp", nil
	}
	if c.Port == 0 {
		return nil, "", fmt.Errorf("a %s check needs a port, and %s has none", c.Type, addr)
	}
	target := netip.AddrPortFrom(addr, c.Port)
	name := c.Type.String() + ":" + strconv.Itoa(int(c.Port))
	switch c.Type {
	case config.CheckTCP:
		return NewTCP(target, TCPOptions{Source: c.Source}), name, nil
	case config.CheckSYN:
		return NewSYN(target, SYNOptions{Source: c.Source, Scanner: deps.SYNScanner}), name, nil
	case config.CheckUDP:
		opts := UDPOptions{Source: c.Source, NoReplyOK: true}
		if u := c.UDP; u != nil {
			opts.Payload = u.Payload
			if len(u.Expect) > 0 {
				opts.ExpectBytes = u.Expect
			}
		}
		return NewUDP(target, opts), name, nil
	case config.CheckHTTP, config.CheckHTTPS:
		opts := HTTPOptions{Source: c.Source, TLS: c.Type == config.CheckHTTPS}
		if h := c.HTTP; h != nil {
			opts.Method, opts.Path, opts.Host = h.Method, h.Path, h.Host
			opts.InsecureSkipVerify = h.TLSSkipVerify
			if err := buildTLS(h, &opts); err != nil {
				return nil, "", err
			}
			opts.BodyMatch = h.ExpectBody
			for _, r := range h.ExpectStatus {
				opts.ExpectStatus = append(opts.ExpectStatus, HTTPStatus{Min: r.Min, Max: r.Max})
			}
		}
		path := opts.Path
		if path == "" {
			path = "/"
		}
		return NewHTTP(target, opts), name + path, nil
	}
	return nil, "", fmt.Errorf("unknown check type %d", c.Type)
}

// buildTLS gives an https check the CAs and client certificate of its
// configuration (read and checked when it was loaded).
func buildTLS(h *config.HTTPCheck, opts *HTTPOptions) error {
	if len(h.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(h.CA) {
			return fmt.Errorf("ca_file %s: no PEM certificate", h.CAFile)
		}
		opts.RootCAs = pool
	}
	if len(h.Cert) > 0 {
		cert, err := tls.X509KeyPair(h.Cert, h.Key)
		if err != nil {
			return fmt.Errorf("cert_file %s, key_file %s: %w", h.CertFile, h.KeyFile, err)
		}
		opts.Certificate = &cert
	}
	return nil
}

// buildSchedule returns the check's cron schedule, or Every for an
// "@every" interval (kept exact, sub-second included).
func buildSchedule(s config.Schedule) cron.Schedule {
	if s.Cron != nil {
		return s.Cron
	}
	return Every{Interval: s.Interval}
}

// buildJitter returns the check's jitter, kept shorter than each of its
// intervals as the scheduler requires (the config allows a jitter equal to
// the interval, and one longer than the fast or down interval).
func buildJitter(c *config.Check) time.Duration {
	j := c.Jitter.Of(c.Schedule.Interval)
	for _, iv := range []time.Duration{c.Schedule.Interval, c.FastInterval, c.DownInterval} {
		if iv > 0 && j >= iv {
			j = iv - 1
		}
	}
	return max(j, 0)
}

// buildCombine maps the config's combine to the scheduler's.
func buildCombine(c config.Combine) Combine {
	if c == config.CombineAny {
		return CombineAny
	}
	return CombineAll
}
