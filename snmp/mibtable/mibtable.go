// Package mibtable turns the sidecar's services view (web.ServicesView,
// GET /api/v1/services) into the objects of LVS-SIDECAR-MIB's poller
// tables: lvsServiceTable, lvsRealServerTable and the lvsSidecar scalars,
// as a passpersist.Tree for snmpd. The indexes are the view's (see
// web.ServicesView); the enumerations are the MIB's.
package mibtable

import (
	"net/netip"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/mib"
	pp "github.com/lvs-sidecar/lvs-sidecar/snmp/passpersist"
	"github.com/lvs-sidecar/lvs-sidecar/web"
)

// Root is where snmpd passes requests to snmp-pass-persist: the objects
// subtree of LVS-SIDECAR-MIB (lvsSidecarObjects).
var Root = pp.MustParseOID(mib.Objects)

// TruthValue (SNMPv2-TC).
const (
	truthTrue  = 1
	truthFalse = 2
)

// InetAddressType (INET-ADDRESS-MIB).
const (
	inetUnknown = 0
	inetIPv4    = 1
	inetIPv6    = 2
)

// Verdicts is LvsVerdict: the checks' verdict.
var Verdicts = map[string]int32{"unknown": 1, "up": 2, "down": 3}

// States is LvsRealServerState: why the controller wants what it wants
// (actuator.Reason), or undeclared.
var States = map[string]int32{
	"no_verdict": 1, "up": 2, "slow_start": 3, "drain": 4, "remove": 5, "maintenance": 6,
	"panic": 7, "fail_open": 8, "local_error": 9, "fleet_failure_suspect": 10, web.StateUndeclared: 11,
	"load": 12,
}

// ControllerModes is lvsSidecarControllerMode; none without a
// configuration.
var ControllerModes = map[string]int32{"none": 1, "managed": 2, "observe": 3, "dry_run": 4}

// Build returns the objects of v.
func Build(v *web.ServicesView) (*pp.Tree, error) {
	var b pp.Builder
	col := func(column string) pp.OID { return pp.MustParseOID(column) }
	var (
		sKey, sName, sDecl, sIn, sProto, sAT, sAddr, sPort, sMark, sSched, sUp, sAll, sPanic = col(mib.ServiceKey), col(mib.ServiceName),
			col(mib.ServiceDeclared), col(mib.ServiceInTable), col(mib.ServiceProtocol), col(mib.ServiceAddressType), col(mib.ServiceAddress),
			col(mib.ServicePort), col(mib.ServiceFwmark), col(mib.ServiceScheduler), col(mib.ServiceRealServersUp), col(mib.ServiceRealServers),
			col(mib.ServiceInPanic)
		sStats = [5]pp.OID{col(mib.ServiceConnections), col(mib.ServicePacketsIn), col(mib.ServicePacketsOut), col(mib.ServiceBytesIn), col(mib.ServiceBytesOut)}

		rAT, rAddr, rPort, rDecl, rIn, rVerdict, rState, rMaint, rWDecl, rWDes, rWKern, rAct, rInact, rPers = col(mib.RealServerAddressType),
			col(mib.RealServerAddress), col(mib.RealServerPort), col(mib.RealServerDeclared), col(mib.RealServerInTable), col(mib.RealServerVerdict),
			col(mib.RealServerState), col(mib.RealServerMaintenance), col(mib.RealServerWeightDeclared), col(mib.RealServerWeightDesired),
			col(mib.RealServerWeightKernel), col(mib.RealServerActiveConns), col(mib.RealServerInactiveConns), col(mib.RealServerPersistConns)
		rStats = [5]pp.OID{col(mib.RealServerConnections), col(mib.RealServerPacketsIn), col(mib.RealServerPacketsOut), col(mib.RealServerBytesIn), col(mib.RealServerBytesOut)}
	)
	servers := 0
	for i := range v.Services {
		s := &v.Services[i]
		si := uint32(s.Index)
		b.Add(sKey.Append(si), pp.String(s.Key))
		b.Add(sName.Append(si), pp.String(s.Name))
		b.Add(sDecl.Append(si), truth(s.Declared))
		b.Add(sIn.Append(si), truth(s.InTable))
		b.Add(sProto.Append(si), pp.Integer(int32(s.Protocol)))
		at, addr := inetAddress(s.Address)
		b.Add(sAT.Append(si), at)
		b.Add(sAddr.Append(si), addr)
		b.Add(sPort.Append(si), pp.Unsigned(uint32(s.Port)))
		b.Add(sMark.Append(si), pp.Unsigned(s.FWMark))
		b.Add(sSched.Append(si), pp.String(s.Scheduler))
		b.Add(sUp.Append(si), pp.Gauge(uint32(s.RealServersUp)))
		b.Add(sAll.Append(si), pp.Gauge(uint32(s.RealServersTotal)))
		b.Add(sPanic.Append(si), truth(s.Panic))
		// Counters exist only while the kernel has the row: a poller
		// must not see a counter drop to zero and take it for a wrap.
		addStats(&b, sStats, s.Stats, si)
		for j := range s.RealServers {
			r := &s.RealServers[j]
			servers++
			idx := []uint32{si, uint32(r.Index)}
			at, addr := inetAddress(r.Address)
			b.Add(rAT.Append(idx...), at)
			b.Add(rAddr.Append(idx...), addr)
			b.Add(rPort.Append(idx...), pp.Unsigned(uint32(r.Port)))
			b.Add(rDecl.Append(idx...), truth(r.Declared))
			b.Add(rIn.Append(idx...), truth(r.InTable))
			b.Add(rVerdict.Append(idx...), enum(Verdicts, r.Verdict))
			b.Add(rState.Append(idx...), enum(States, r.State))
			b.Add(rMaint.Append(idx...), truth(r.Maintenance))
			b.Add(rWDecl.Append(idx...), pp.Integer(int32(r.WeightDeclared)))
			desired := int32(-1)
			if r.WeightDesired != nil {
				desired = int32(*r.WeightDesired)
			}
			b.Add(rWDes.Append(idx...), pp.Integer(desired))
			b.Add(rWKern.Append(idx...), pp.Integer(int32(r.WeightKernel)))
			if r.InTable {
				b.Add(rAct.Append(idx...), pp.Gauge(r.ActiveConns))
				b.Add(rInact.Append(idx...), pp.Gauge(r.InactiveConns))
				b.Add(rPers.Append(idx...), pp.Gauge(r.PersistConns))
			}
			addStats(&b, rStats, r.Stats, idx...)
		}
	}

	scalar := func(name string, v pp.Value) { b.Add(col(name).Append(0), v) }
	scalar(mib.SidecarVersion, pp.String(v.Version))
	scalar(mib.SidecarIpvsReadable, truth(v.IPVSReadable))
	mode := "none"
	if c := v.Controller; c != nil {
		mode = c.Mode
		scalar(mib.SidecarReconcilePasses, pp.Counter64(c.Passes))
		if !c.LastPass.IsZero() {
			scalar(mib.SidecarLastReconcileTime, pp.Octets(DateAndTime(c.LastPass)))
			scalar(mib.SidecarLastReconcileOK, truth(c.LastError == ""))
		}
		scalar(mib.SidecarReadyForActing, truth(c.ReadyForActing))
	}
	scalar(mib.SidecarControllerMode, enum(ControllerModes, mode))
	scalar(mib.SidecarServices, pp.Gauge(uint32(len(v.Services))))
	scalar(mib.SidecarRealServers, pp.Gauge(uint32(servers)))
	return b.Build()
}

func addStats(b *pp.Builder, cols [5]pp.OID, s *web.StatsView, idx ...uint32) {
	if s == nil {
		return
	}
	for i, n := range []uint64{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut} {
		b.Add(cols[i].Append(idx...), pp.Counter64(n))
	}
}

func truth(b bool) pp.Value {
	if b {
		return pp.Integer(truthTrue)
	}
	return pp.Integer(truthFalse)
}

// enum returns the number of name in values; a name the MIB does not
// know (a newer sidecar than this MIB) is 0, which no enumeration uses.
func enum(values map[string]int32, name string) pp.Value {
	return pp.Integer(values[name])
}

// inetAddress returns an InetAddressType and InetAddress pair: ipv4 with
// 4 octets, ipv6 with 16, unknown with none (a firewall-mark service).
func inetAddress(s string) (pp.Value, pp.Value) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return pp.Integer(inetUnknown), pp.Octets(nil)
	case a.Is4() || a.Is4In6():
		b := a.Unmap().As4()
		return pp.Integer(inetIPv4), pp.Octets(b[:])
	}
	b := a.As16()
	return pp.Integer(inetIPv6), pp.Octets(b[:])
}

// DateAndTime encodes t in UTC as SNMPv2-TC's 11-octet DateAndTime.
func DateAndTime(t time.Time) []byte {
	t = t.UTC()
	return []byte{byte(t.Year() >> 8), byte(t.Year()), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()),
		byte(t.Nanosecond() / 100_000_000), '+', 0, 0}
}
