package actuator

import (
	"strconv"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// Status is what the controller did at its last pass, for a status page.
type Status struct {
	Mode   config.ControllerMode
	Period time.Duration
	// Passes counts reconcile passes; LastPass is when the last one ended
	// and LastSuccess when the last one without an error did (zero
	// before).
	Passes      uint64
	LastPass    time.Time
	LastSuccess time.Time
	// LastError is the first error of the last pass, "" when it had none.
	LastError string
	// Services are the declared services, in file order.
	Services []ServiceStatus
	// Sysctls are the IPVS sysctls the last pass read.
	Sysctls Sysctls
	// FleetSuspect: every judged real server of every service went down
	// within one check interval, which is taken for trouble on the
	// director: no server is drained or removed (they keep or get back
	// their declared weights) until one is up again.
	FleetSuspect bool
	// LocalErrorHolds counts the real servers held because a check of
	// theirs cannot run on this director.
	LocalErrorHolds int
}

// ReadyForActing reports whether the controller acts on verdicts as they
// come: not while real servers are held by local errors or a fleet-wide
// failure is suspect (the director, not the real servers, is in
// trouble), and not while the last pass could not read the table. why
// says what holds it.
func (s Status) ReadyForActing() (ok bool, why string) {
	switch {
	case s.Passes == 0:
		return false, "the controller has not made a pass yet"
	case s.LastError != "":
		return false, "the last reconcile pass failed: " + s.LastError
	case s.FleetSuspect:
		return false, "every real server of every service went down at once (director trouble suspected): failing open everywhere"
	case s.LocalErrorHolds > 0:
		return false, strconv.Itoa(s.LocalErrorHolds) + " real server(s) held: their checks cannot run on this director (local_error)"
	}
	return true, ""
}

// ServiceStatus is one declared service.
type ServiceStatus struct {
	Name    string
	Service string // the service key: "tcp/192.0.2.1:80", "fwmark/42/ipv4"
	InTable bool   // the kernel had it at the last pass
	// Panic: the healthy share of the weighted capacity (CapacityUp over
	// CapacityJudged) fell below the panic threshold and has not been
	// back at threshold + hysteresis since, so no real server is drained
	// or removed.
	Panic          bool
	PanicThreshold float64 // percent; 0: off
	// FailOpen: no weighted real server is up, so the down ones keep
	// their declared weights (the service never gets total weight 0 from
	// verdicts alone).
	FailOpen bool
	// Up and Judged count the real servers with a verdict and not in
	// maintenance, and those of them up; CapacityUp and CapacityJudged
	// sum their declared weights.
	Up, Judged                 int
	CapacityUp, CapacityJudged int
	// DrainKeepsPersistent: the service is persistent and the kernel
	// keeps the persistence templates of drained servers
	// (net.ipv4.vs.expire_quiescent_template 0), so a drain does not move
	// sticky clients.
	DrainKeepsPersistent bool
	RealServers          []RealServerStatus
	// Undeclared are the table's real servers of the service that the
	// configuration does not list: left alone.
	Undeclared []string
}

// RealServerStatus is one declared real server. Its flags are last,
// together: the controller keeps one per real server, 24 bytes less
// than with each flag padded beside its field.
type RealServerStatus struct {
	Server         string // "addr:port"
	DeclaredWeight int
	// DesiredWeight is what the controller wants (when Decided);
	// ReasonCode says why (ReasonUp, ReasonDrain, ...), and ReasonText
	// says it in words.
	DesiredWeight int
	ReasonCode    Reason
	// KernelWeight is what the table held at the last pass.
	KernelWeight int
	// SlowStart is set while the weight ramps up.
	SlowStart *SlowStart
	// Load is the weight the server's load gives it; nil without a load
	// block.
	Load *LoadStatus
	// LocalError names the check that cannot run on this director
	// (health's local_error): the controller holds the server as the
	// table has it until the check runs again.
	LocalError  string
	Verdict     health.State
	Maintenance bool
	// Decided is false while the server has no verdict yet: the
	// controller leaves it as the kernel has it.
	Decided bool
	// DesiredInTable is what the controller wants (when Decided).
	DesiredInTable bool
	// InTable is whether the table held it at the last pass.
	InTable bool
	// Drift: the table differs from what the controller last set (someone
	// changed it by hand).
	Drift bool
	// Pending: the table differs from what the controller wants and the
	// last pass did not write it (dry_run, observed drift, a failed
	// write).
	Pending bool
}

// ReasonText says the reason in words ("up", "down, drain", ...): its
// ReasonCode's Text, with the local error when it has one. It is made
// when asked, not kept: the controller keeps a status of each real
// server, which its words would make 16 bytes longer.
func (s *RealServerStatus) ReasonText() string { return s.ReasonCode.Text(s.LocalError) }

// WantedWeight is the weight the controller wants for the server: its
// DesiredWeight when Decided, else the weight the table had at the last
// pass (0 when not in it), which it leaves as it is.
func (s *RealServerStatus) WantedWeight() int {
	switch {
	case s.Decided:
		return s.DesiredWeight
	case s.InTable:
		return s.KernelWeight
	}
	return 0
}

// SlowStart is the progress of a ramp.
type SlowStart struct {
	Start, End time.Time
	// Progress is the share of the ramp done, 0 to 1.
	Progress float64
}

// Status returns a snapshot of the last pass.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Services = make([]ServiceStatus, len(c.status.Services))
	for i, svc := range c.status.Services {
		svc.RealServers = append([]RealServerStatus(nil), svc.RealServers...)
		for j := range svc.RealServers {
			if ss := svc.RealServers[j].SlowStart; ss != nil {
				cp := *ss
				svc.RealServers[j].SlowStart = &cp
			}
			if lw := svc.RealServers[j].Load; lw != nil {
				cp := *lw
				svc.RealServers[j].Load = &cp
			}
		}
		svc.Undeclared = append([]string(nil), svc.Undeclared...)
		s.Services[i] = svc
	}
	return s
}
