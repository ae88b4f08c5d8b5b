package actuator

import (
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// fleetMin is how many judged real servers a fleet needs before its
// failing all at once is taken for director trouble: one server failing
// is just a failure.
const fleetMin = 2

// fleet is what a pass finds across every declared service.
type fleet struct {
	judged, down int
	// first and last are the earliest and latest times a down server
	// went down; window is the longest check interval of the fleet's
	// servers (plus its timeout): the time in which one cause stopping
	// every real server makes all of their checks fail.
	first, last time.Time
	window      time.Duration
	suspect     bool
}

// judgeFleet decides whether the verdicts of this pass are suspect: every
// judged real server of every declared service (at least fleetMin; none
// in maintenance) is down, and they all went down within one check
// interval of each other. Real servers do not die together like that;
// the director losing its network, a local firewall rule or a broken
// check does. The controller then fails open everywhere (see decide)
// instead of draining the whole fleet.
func (p *pass) judgeFleet(cfg *config.Config) fleet {
	var f fleet
	for i := range cfg.Services {
		s := &cfg.Services[i]
		for j := range s.RealServers {
			rs := &s.RealServers[j]
			k := p.names.key(i, j)
			verdict, st := verdictOf(p.verdicts, k)
			if verdict != health.StateUp && verdict != health.StateDown || p.c.admin.InMaintenance(k.service, k.server) {
				continue
			}
			f.judged++
			// The checks' timing, not their ports: ChecksFor would copy
			// them for every real server of every pass.
			checks := s.Checks
			if rs.Checks != nil {
				checks = rs.Checks
			}
			for k := range checks {
				f.window = max(f.window, checks[k].Schedule.Interval+checks[k].Timeout)
			}
			if verdict != health.StateDown {
				continue
			}
			f.down++
			if f.first.IsZero() || st.Since.Before(f.first) {
				f.first = st.Since
			}
			if st.Since.After(f.last) {
				f.last = st.Since
			}
		}
	}
	f.suspect = f.judged >= fleetMin && f.down == f.judged && f.last.Sub(f.first) <= f.window
	return f
}

// noteFleet logs the start and the end of a suspect fleet failure once
// each and counts the starts.
func (p *pass) noteFleet(f fleet) {
	c := p.c
	if f.suspect == c.fleetSuspect {
		return
	}
	c.fleetSuspect = f.suspect
	if f.suspect {
		c.count(func(n *counters) { n.fleetSuspects++ })
		c.log.Error("every real server of every service went down at once: taken for trouble on the director (network, firewall, a check that cannot pass), not on the real servers; failing open everywhere, no real server is drained or removed until one is up again",
			"real_servers", f.judged, "within", f.last.Sub(f.first).Round(time.Millisecond), "window", f.window,
			"check", "the director's own network, routes and firewall; the checks' results and reasons in the metrics")
		return
	}
	c.log.Info("a real server is up again: the fleet-wide failure is over, verdicts act again", "real_servers", f.judged, "down", f.down)
}
