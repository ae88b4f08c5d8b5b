// Package mib holds the object identifiers of LVS-SIDECAR-MIB
// (mib/LVS-SIDECAR-MIB.txt): the notifications lvs-sidecar sends and the
// tables it serves to SNMP pollers through snmpd. The project has no
// private enterprise number yet, so the module sits under the RFC 5612
// documentation arc (enterprises.32473); Root is the only place that says
// so, and every other identifier here is built from it. Change Root (and
// the MIB file's MODULE-IDENTITY) once a number is assigned.
//
// Layout under Root:
//
//	Root.0      notifications (lvsSidecarNotifications; SMIv2 .0 arc)
//	Root.1      objects
//	Root.1.1    notification objects (accessible-for-notify scalars)
//	Root.1.2    the virtual service table
//	Root.1.3    the real server table
//	Root.1.4    scalars about the sidecar itself
//	Root.2      conformance (groups and compliances)
//
// It also holds the identifiers of KEEPALIVED-MIB that the keepalived
// compatibility mode sends, which are keepalived's, not ours.
package mib

// Root is LVS-SIDECAR-MIB's MODULE-IDENTITY, lvsSidecarMIB:
// enterprises(1.3.6.1.4.1) . 32473 (RFC 5612, documentation) . 9960.
const Root = "1.3.6.1.4.1.32473.9960"

// The subtrees of Root.
const (
	Notifications     = Root + ".0"
	Objects           = Root + ".1"
	NotifyObjects     = Objects + ".1"
	ServiceTable      = Objects + ".2"
	RealServerTable   = Objects + ".3"
	SidecarObjects    = Objects + ".4"
	Conformance       = Root + ".2"
	ConformanceGroups = Conformance + ".1"
	Compliances       = Conformance + ".2"
)

// Standard identifiers every notification carries (SNMPv2-MIB).
const (
	SysUpTime   = "1.3.6.1.2.1.1.3.0"
	SnmpTrapOID = "1.3.6.1.6.3.1.1.4.1.0"
)

// KeepalivedRoot is KEEPALIVED-MIB's MODULE-IDENTITY, keepalived:
// enterprises.9586 (debian) . 100 (project) . 5, as Debian's keepalived
// 2.2.7 package ships it in /usr/share/snmp/mibs/KEEPALIVED-MIB.txt.
// Its checker notifications are in keepalived.go.
const KeepalivedRoot = "1.3.6.1.4.1.9586.100.5"
