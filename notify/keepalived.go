package notify

import (
	"math"
	"net/netip"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
	"github.com/lvs-sidecar/lvs-sidecar/mib"
)

// keepalivedVarbinds returns n as keepalived's checker would send it
// (KEEPALIVED-MIB, keepalived 2.2's varbind order), or nil when
// keepalived has no notification for it:
//
//   - a real server going down (from up, or as its first verdict) or up
//     (from down) is realServerStateChange with realServerStatus dead or
//     alive; a first verdict of up is not sent (keepalived starts its real
//     servers alive and sends nothing then);
//   - a service entering panic or fail open is
//     virtualServerQuorumStateChange with notMet, leaving it met;
//   - nothing else (controller writes, reloads, start and stop) has a
//     keepalived notification.
func keepalivedVarbinds(n *Notification, director string, uptime uint32) ([]gosnmp.SnmpPDU, error) {
	key, ok := n.key()
	if !ok {
		return nil, nil
	}
	var pdus []gosnmp.SnmpPDU
	switch n.Event {
	case EventStateChange:
		server, err := netip.ParseAddrPort(n.Server)
		if err != nil || (n.NewState == health.StateUp && n.OldState != health.StateDown) || n.NewState == health.StateUnknown {
			return nil, nil
		}
		status := mib.KeepalivedDead
		if n.NewState == health.StateUp {
			status = mib.KeepalivedAlive
		}
		pdus = header(uptime, mib.KeepalivedRSStateTrap)
		pdus = append(pdus, addressVarbinds(mib.KeepalivedRSAddrType, mib.KeepalivedRSAddress, server.Addr())...)
		pdus = append(pdus, gauge(mib.KeepalivedRSPort, int(server.Port())), integer(mib.KeepalivedRSStatus, status))
		pdus = append(pdus, serviceVarbinds(key)...)
	case EventPanic, EventPanicCleared, EventFailOpen, EventFailOpenCleared:
		pdus = header(uptime, mib.KeepalivedQuorumTrap)
		pdus = append(pdus, serviceVarbinds(key)...)
		status := mib.KeepalivedQuorumMet
		if n.Event == EventPanic || n.Event == EventFailOpen {
			status = mib.KeepalivedQuorumLost
		}
		pdus = append(pdus, integer(mib.KeepalivedVSQuorumStat, status), gauge(mib.KeepalivedVSQuorum, n.quorum()))
	default:
		return nil, nil
	}
	pdus = append(pdus, gauge(mib.KeepalivedVSRSUp, n.ServersUp), gauge(mib.KeepalivedVSRSTotal, n.ServersTotal),
		gosnmp.SnmpPDU{Name: "." + mib.KeepalivedRouterID, Type: gosnmp.OctetString, Value: []byte(director)})
	return pdus, nil
}

// quorum is virtualServerQuorum in our terms: the healthy weight below
// which the service is in panic (its threshold applied to the weight
// judged, rounded up), or 1 for fail open (some weighted server up).
func (n *Notification) quorum() int {
	if n.Event == EventFailOpen || n.Event == EventFailOpenCleared || n.PanicThreshold <= 0 {
		return 1
	}
	return int(math.Ceil(n.PanicThreshold / 100 * float64(n.CapacityJudged)))
}

// serviceVarbinds are virtualServerType, then virtualServerFwMark or the
// address, type and port, then virtualServerProtocol.
func serviceVarbinds(k ipvs.ServiceKey) []gosnmp.SnmpPDU {
	if k.FWMark != 0 {
		// A fwmark service has no protocol of its own: none(4).
		return []gosnmp.SnmpPDU{integer(mib.KeepalivedVSType, mib.KeepalivedTypeFwmark), gauge(mib.KeepalivedVSFwMark, int(k.FWMark)),
			integer(mib.KeepalivedVSProtocol, 4)}
	}
	pdus := []gosnmp.SnmpPDU{integer(mib.KeepalivedVSType, mib.KeepalivedTypeIP)}
	pdus = append(pdus, addressVarbinds(mib.KeepalivedVSAddrType, mib.KeepalivedVSAddress, k.Address)...)
	proto := mib.KeepalivedTCP
	switch k.Protocol {
	case ipvs.UDP:
		proto = mib.KeepalivedUDP
	case ipvs.SCTP:
		proto = mib.KeepalivedSCTP
	}
	return append(pdus, gauge(mib.KeepalivedVSPort, int(k.Port)), integer(mib.KeepalivedVSProtocol, proto))
}

// addressVarbinds are an InetAddressType and its InetAddress (4 or 16
// octets).
func addressVarbinds(typeOID, addrOID string, a netip.Addr) []gosnmp.SnmpPDU {
	a = a.Unmap()
	typ := mib.InetAddressIPv4
	if a.Is6() {
		typ = mib.InetAddressIPv6
	}
	return []gosnmp.SnmpPDU{integer(typeOID, typ), {Name: "." + addrOID, Type: gosnmp.OctetString, Value: a.AsSlice()}}
}

func integer(oid string, v int) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Integer, Value: v}
}

func gauge(oid string, v int) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.Gauge32, Value: uint(max(v, 0))}
}
