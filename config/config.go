// Package config is the single typed model of the YAML file operators
// write: declared virtual services with their real servers, weights,
// forwarding methods and health checks, the defaults merged into them, and
// the discovery mode that checks whatever the kernel table holds.
//
// Load and Parse read the file strictly: unknown keys are rejected (with a
// did-you-mean), every value is checked, and every error names the file, the
// line and the field path and says what is allowed:
//
//	lvs.yml:14: services[0].real_servers[1].weight: must be between 0 and 65535, got -3
//
// The returned *Config is complete: defaults are merged, so consumers never
// look at raw YAML and never apply defaults themselves. A Config is not
// modified after it is returned; share it freely between goroutines.
//
// ImportIpvsadm reads ipvsadm -S -n rules into a Config, and Marshal writes
// any Config back in the file format; Parse(Marshal(c)) equals c but for
// the Source that Load records. ParseIpvsadm reads the same rules into the
// kernel table they make ([]ipvs.Service), with the same line-numbered
// errors.
//
// Defaults worth knowing: scheduler wlc and forward dr (as in ipvsadm),
// weight 1, check tcp every 2s with a 1s timeout, rise 2, fall 3,
// on_failure drain, panic_threshold 0% (off), no jitter, controller mode
// managed with a 5s period.
package config

import (
	"net/netip"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// Config is one validated configuration file.
type Config struct {
	// Defaults as written (or built in), already merged into every service
	// and check below; kept for the marshaller and for display.
	Defaults Defaults
	// Services are the declared virtual services, in file order.
	Services []Service
	// Discovery health-checks destinations of the kernel table.
	Discovery Discovery
	// Controller says how the verdicts change the kernel table.
	Controller Controller
	// Notifications are the SNMP notification receivers; none by default.
	Notifications Notifications
	// Source is the file Load read; zero for a Config from Parse or
	// ImportIpvsadm.
	Source Source
}

// Source identifies the file a configuration was loaded from, so that a
// status page can say which version of it is in use.
type Source struct {
	// Path is the path Load was given.
	Path string
	// SHA256 is the SHA-256 of the bytes Load parsed, in lowercase hex.
	SHA256 string
}

// Defaults are the values merged into every service and check that does not
// set them.
type Defaults struct {
	// Check holds the generic check settings (type, schedule, timeout,
	// rise, fall, fast/down intervals, jitter); its type-specific fields
	// carry that type's own defaults.
	Check          Check
	OnFailure      OnFailure
	SlowStart      time.Duration
	PanicThreshold float64 // percent, 0–100; 0 disables the panic mode
	// PanicHysteresis is how many percentage points above PanicThreshold
	// the healthy capacity must reach before a service leaves panic.
	PanicHysteresis float64
	// Load is the load weighting of every service that does not set its
	// own; nil: none.
	Load *LoadWeight
}

// Discovery is the mode for operators who build the IPVS table with
// ipvsadm scripts: every destination the kernel holds is checked with
// Checks on the destination's own port (Check.Port 0), unless a declared
// service already covers it.
type Discovery struct {
	Enabled bool
	// Checks are the checks each discovered destination gets; at least one
	// when Enabled (defaults.check when the file lists none).
	Checks []Check
}

// Service is one declared virtual service.
type Service struct {
	// Name is unique in the file; dashboards and logs show it.
	Name string
	// Key is the kernel's identity of the service: Family, Protocol,
	// Address and Port, or Family and FWMark (Protocol, Address and Port
	// are then zero, as the ipvs package reads them).
	Key       ipvs.ServiceKey
	Scheduler string // one of Schedulers
	// Persistence is the persistence timeout (ipvsadm -p), whole seconds;
	// 0 means the service is not persistent.
	Persistence time.Duration
	// PersistenceNetmask is the persistence granularity as a prefix length
	// (ipvsadm -M): 0–32 for IPv4, 1–128 for IPv6. It is the full length
	// (one client address) unless set, and 0 when Persistence is 0.
	PersistenceNetmask int
	PanicThreshold     float64 // percent, 0–100; 0 disables the panic mode
	// PanicHysteresis (percentage points): a service in panic leaves it
	// only once its healthy capacity is at least PanicThreshold plus this
	// (at most 100%), so one server flapping at the threshold does not
	// flap the whole service.
	PanicHysteresis float64
	OnFailure       OnFailure
	SlowStart       time.Duration
	// Combine says how the verdicts of several checks of one real server
	// combine into one.
	Combine Combine
	// Load is the load weighting of the service's real servers that do
	// not set their own (defaults.load unless the service sets one); nil:
	// none.
	Load        *LoadWeight
	RealServers []RealServer
	// Checks apply to every real server that does not override them; never
	// empty (defaults.check when the file lists none). A check's Port 0
	// means the real server's port: use ChecksFor for the resolved list.
	Checks []Check
}

// RealServer is one destination of a service.
type RealServer struct {
	// Address of the real server. Its port is 0 only for fwmark services
	// and port-0 services (the packet's own destination port is kept); for
	// dr and tun it is always the service's port.
	Address        netip.AddrPort
	Weight         int                // 0–65535
	Forward        ipvs.ForwardMethod // ForwardMasq (nat), ForwardRoute (dr, the default) or ForwardTunnel (tun)
	UpperThreshold uint32             // 0: no limit
	LowerThreshold uint32
	// Tunnel is the encapsulation of a tun real server; the zero value
	// (ipip) for every other forwarding method.
	Tunnel Tunnel
	// Checks replace the service's checks for this real server when
	// non-nil.
	Checks []Check
	// Load says how the server's weight follows its load: its own block,
	// or the service's; nil: the declared weight only.
	Load *LoadWeight
}

// Tunnel is how a tun real server's packets are encapsulated
// (ipvsadm --tun-type, --tun-port, --tun-csum ...).
type Tunnel struct {
	Type ipvs.TunnelType // ipip (the default), gue or gre
	// Port is the UDP port of a gue tunnel (required for gue), 0 for
	// the others.
	Port uint16
	// Flags are the checksum options: none, csum (gue, gre) or remcsum
	// (gue).
	Flags ipvs.TunnelFlags
}

// ChecksFor returns the checks to run against rs, a real server of s: its
// own checks or else the service's, with Port 0 replaced by the real
// server's port. The returned slice is new; the checks' pointer fields are
// shared and must not be modified.
func (s *Service) ChecksFor(rs *RealServer) []Check {
	checks := s.Checks
	if rs.Checks != nil {
		checks = rs.Checks
	}
	return ResolvePorts(checks, rs.Address.Port())
}

// ResolvePorts returns a copy of checks with Port 0 replaced by port, for
// every type that uses a port (all but icmp). Discovery uses it with each
// destination's port.
func ResolvePorts(checks []Check, port uint16) []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		if c.Port == 0 && c.Type != CheckICMP {
			c.Port = port
		}
		out[i] = c
	}
	return out
}

// OnFailure is what the controller does with a real server that fails its
// checks.
type OnFailure uint8

// Failure actions.
const (
	// Drain sets the weight to 0: existing connections finish, new ones go
	// elsewhere (keepalived inhibit_on_failure, ldirectord quiescent).
	Drain OnFailure = iota
	// Remove deletes the destination from the kernel table.
	Remove
)

// String returns the config spelling: drain or remove.
func (f OnFailure) String() string {
	if f == Remove {
		return "remove"
	}
	return "drain"
}

// Combine is how several checks of one real server make one verdict.
type Combine uint8

// Ways to combine checks.
const (
	// CombineAll: the real server passes when every check passes.
	CombineAll Combine = iota
	// CombineAny: the real server passes when at least one check passes.
	CombineAny
)

// String returns the config spelling: all or any.
func (c Combine) String() string {
	if c == CombineAny {
		return "any"
	}
	return "all"
}

// Schedulers are the IPVS scheduling algorithms a service may use (the
// kernel's ip_vs_* scheduler modules, as ipvsadm -s names them).
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// DefaultScheduler is ipvsadm's default.
const DefaultScheduler = "wlc"

// DefaultPanicHysteresis is panic_hysteresis when the file does not set
// it: percentage points above panic_threshold that a service in panic
// must reach to leave it.
const DefaultPanicHysteresis = 10
