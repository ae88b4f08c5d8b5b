package config

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// LoadWeight is how a real server's weight follows its load, read over SNMP
// from the real server itself (what keepalived reaches with MISC_CHECK and
// misc_dynamic, HAProxy with agent-check): at or below Start the server
// keeps its declared weight; from Start to Full the weight falls linearly
// to Floor × declared, and stays there above Full. A load that cannot be
// read (no good answer for StaleAfter intervals) gives the declared weight
// back: load never drains a server, only the checks and maintenance do.
type LoadWeight struct {
	Source LoadSource
	// OID is the object polled: a scalar instance for ucd_load and oid,
	// the column walked for hr_processor.
	OID string
	// Scale turns the polled integer into the load that Start and Full
	// are written in: 0.01 for ucd_load (laLoadInt is the load average ×
	// 100), 1 for hr_processor (percent).
	Scale float64
	// Port is the real server's SNMP agent port (161).
	Port     uint16
	Interval time.Duration
	// Timeout bounds one poll (one request, or the walk of hr_processor);
	// shorter than Interval.
	Timeout time.Duration
	// StaleAfter is how many intervals without a good answer make the
	// load stale, giving the declared weight back.
	StaleAfter int
	// SNMP are the version and the credentials, as in a notification
	// target.
	SNMP SNMPCredentials
	// Start is the load at which the weight starts to fall, Full the one
	// at which it reaches Floor; Start < Full.
	Start, Full float64
	// Floor is the lowest weight load gives, in percent of the declared
	// weight: above 0 (load alone never drains) and at most 100. The
	// weight is never below 1 for a declared weight above 0.
	Floor float64
	// Hysteresis is how far (in load units) the load must move from the
	// load the current target weight was computed from before the target
	// changes, so that noise does not move weights.
	Hysteresis float64
	// MaxStep is the largest change of the weight per poll, in percent
	// of the declared weight (at least 1 weight unit), above 0.
	MaxStep float64
}

// LoadSource is what a load poll reads.
type LoadSource uint8

// Load sources. Their String is the config spelling.
const (
	// LoadUCD reads UCD-SNMP-MIB laLoadInt.1 (the 1-minute load average ×
	// 100), which Net-SNMP's snmpd serves by default.
	LoadUCD LoadSource = iota
	// LoadHRProcessor walks HOST-RESOURCES-MIB hrProcessorLoad (percent
	// busy per CPU over the last minute) and takes the average.
	LoadHRProcessor
	// LoadOID reads any integer (or gauge) OID, times Scale.
	LoadOID
)

var loadSourceNames = []string{"ucd_load", "hr_processor", "oid"}

// String returns ucd_load, hr_processor or oid.
func (s LoadSource) String() string {
	if int(s) < len(loadSourceNames) {
		return loadSourceNames[s]
	}
	return "unknown"
}

// The OIDs the sources read by default.
const (
	// OIDLaLoadInt1 is UCD-SNMP-MIB::laLoadInt.1.
	OIDLaLoadInt1 = "1.3.6.1.4.1.2021.10.1.5.1"
	// OIDHRProcessorLoad is HOST-RESOURCES-MIB::hrProcessorLoad, walked.
	OIDHRProcessorLoad = "1.3.6.1.2.1.25.3.3.1.2"
)

// Built-in load settings.
const (
	defaultLoadPort       = 161
	defaultLoadInterval   = 5 * time.Second
	defaultLoadTimeout    = time.Second
	defaultLoadStaleAfter = 3
	defaultLoadFloor      = 10 // percent
	defaultLoadMaxStep    = 25 // percent
	minLoadInterval       = 100 * time.Millisecond
)

// builtinLoad is what a load block starts from when no outer level has
// one.
func builtinLoad() LoadWeight {
	return LoadWeight{Source: LoadUCD, OID: OIDLaLoadInt1, Scale: 0.01, Port: defaultLoadPort,
		Interval: defaultLoadInterval, Timeout: defaultLoadTimeout, StaleAfter: defaultLoadStaleAfter,
		Floor: defaultLoadFloor, MaxStep: defaultLoadMaxStep}
}

// Factor is the share of the declared weight that load gives: 1 up to
// Start, falling linearly to Floor at Full, Floor above.
func (l *LoadWeight) Factor(load float64) float64 {
	switch {
	case math.IsNaN(load) || load <= l.Start:
		return 1
	case load >= l.Full:
		return l.Floor / 100
	}
	return 1 - (1-l.Floor/100)*(load-l.Start)/(l.Full-l.Start)
}

// Weight is the weight load gives a server of declared weight at the
// factor f: round(declared × f), between max(1, round(declared × Floor))
// and declared. A declared weight of 0 (a standby) stays 0.
func (l *LoadWeight) Weight(declared int, f float64) int {
	if declared <= 0 {
		return 0
	}
	lo := max(1, int(math.Round(float64(declared)*l.Floor/100)))
	w := int(math.Round(float64(declared) * f))
	return min(max(w, lo), declared)
}

// Step is the largest weight change per poll for a declared weight: at
// least 1.
func (l *LoadWeight) Step(declared int) int {
	return max(1, int(math.Round(float64(declared)*l.MaxStep/100)))
}

// String describes the load block without its secrets.
func (l *LoadWeight) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s port %d every %s (timeout %s), snmp %s", l.Source, l.OID, l.Port, l.Interval, l.Timeout, l.SNMP.Version)
	if l.SNMP.Version == SNMPv3 {
		fmt.Fprintf(&b, " user %s", l.SNMP.User)
	}
	fmt.Fprintf(&b, ", weight falls from load %g to %g down to %g%%", l.Start, l.Full, l.Floor)
	return b.String()
}
