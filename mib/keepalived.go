package mib

// Identifiers of KEEPALIVED-MIB (keepalived's, not ours) that the
// keepalived compatibility mode sends. keepalived sends the table columns
// of its trap varbinds without an instance suffix (the column's own
// identifier), and routerId as the scalar instance .0; the mode does the
// same so that templates written for keepalived's traps decode them.
const (
	KeepalivedCheck        = KeepalivedRoot + ".3"       // check
	KeepalivedCheckTraps   = KeepalivedCheck + ".5.0"    // checkTraps
	KeepalivedVSEntry      = KeepalivedCheck + ".3.1"    // virtualServerEntry
	KeepalivedRSEntry      = KeepalivedCheck + ".4.1"    // realServerEntry
	KeepalivedRouterID     = KeepalivedRoot + ".1.2.0"   // routerId.0
	KeepalivedRSStateTrap  = KeepalivedCheckTraps + ".1" // realServerStateChange
	KeepalivedQuorumTrap   = KeepalivedCheckTraps + ".2" // virtualServerQuorumStateChange
	KeepalivedRSAddrType   = KeepalivedRSEntry + ".3"    // realServerAddrType, InetAddressType
	KeepalivedRSAddress    = KeepalivedRSEntry + ".4"    // realServerAddress, InetAddress (4 or 16 octets)
	KeepalivedRSPort       = KeepalivedRSEntry + ".5"    // realServerPort, InetPortNumber
	KeepalivedRSStatus     = KeepalivedRSEntry + ".6"    // realServerStatus, alive(1) dead(2)
	KeepalivedVSType       = KeepalivedVSEntry + ".2"    // virtualServerType, fwmark(1) ip(2) group(3)
	KeepalivedVSFwMark     = KeepalivedVSEntry + ".4"    // virtualServerFwMark, Unsigned32
	KeepalivedVSAddrType   = KeepalivedVSEntry + ".5"    // virtualServerAddrType
	KeepalivedVSAddress    = KeepalivedVSEntry + ".6"    // virtualServerAddress
	KeepalivedVSPort       = KeepalivedVSEntry + ".7"    // virtualServerPort
	KeepalivedVSProtocol   = KeepalivedVSEntry + ".8"    // virtualServerProtocol, tcp(1) udp(2) sctp(3) none(4)
	KeepalivedVSRSTotal    = KeepalivedVSEntry + ".20"   // virtualServerRealServersTotal, Unsigned32
	KeepalivedVSRSUp       = KeepalivedVSEntry + ".21"   // virtualServerRealServersUp, Unsigned32
	KeepalivedVSQuorum     = KeepalivedVSEntry + ".22"   // virtualServerQuorum, Unsigned32
	KeepalivedVSQuorumStat = KeepalivedVSEntry + ".23"   // virtualServerQuorumStatus, met(1) notMet(2) shutdown(3)
)

// KeepalivedNames maps the KEEPALIVED-MIB identifiers above to their
// descriptors (instances without their .0); a test checks them against
// Debian's KEEPALIVED-MIB.txt.
var KeepalivedNames = map[string]string{
	KeepalivedRoot:         "keepalived",
	KeepalivedCheck:        "check",
	KeepalivedCheckTraps:   "checkTraps",
	KeepalivedVSEntry:      "virtualServerEntry",
	KeepalivedRSEntry:      "realServerEntry",
	KeepalivedRouterID:     "routerId.0",
	KeepalivedRSStateTrap:  "realServerStateChange",
	KeepalivedQuorumTrap:   "virtualServerQuorumStateChange",
	KeepalivedRSAddrType:   "realServerAddrType",
	KeepalivedRSAddress:    "realServerAddress",
	KeepalivedRSPort:       "realServerPort",
	KeepalivedRSStatus:     "realServerStatus",
	KeepalivedVSType:       "virtualServerType",
	KeepalivedVSFwMark:     "virtualServerFwMark",
	KeepalivedVSAddrType:   "virtualServerAddrType",
	KeepalivedVSAddress:    "virtualServerAddress",
	KeepalivedVSPort:       "virtualServerPort",
	KeepalivedVSProtocol:   "virtualServerProtocol",
	KeepalivedVSRSTotal:    "virtualServerRealServersTotal",
	KeepalivedVSRSUp:       "virtualServerRealServersUp",
	KeepalivedVSQuorum:     "virtualServerQuorum",
	KeepalivedVSQuorumStat: "virtualServerQuorumStatus",
}

// Values of KEEPALIVED-MIB's enumerations the mode sends.
const (
	KeepalivedAlive      = 1 // realServerStatus
	KeepalivedDead       = 2
	KeepalivedTypeFwmark = 1 // virtualServerType
	KeepalivedTypeIP     = 2
	KeepalivedTCP        = 1 // virtualServerProtocol
	KeepalivedUDP        = 2
	KeepalivedSCTP       = 3
	KeepalivedQuorumMet  = 1 // virtualServerQuorumStatus
	KeepalivedQuorumLost = 2
	InetAddressIPv4      = 1 // InetAddressType (INET-ADDRESS-MIB)
	InetAddressIPv6      = 2
)
