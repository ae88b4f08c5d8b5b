package ipvs

import "strconv"

// TunnelType is the encapsulation of a tunnelled destination
// (IPVS_DEST_ATTR_TUN_TYPE, IP_VS_CONN_F_TUNNEL_TYPE_*). It matters only
// for ForwardTunnel.
type TunnelType uint8

// Tunnel types of kernel 5.2 and later.
const (
	TunnelIPIP TunnelType = 0 // IP in IP, the default
	TunnelGUE  TunnelType = 1 // generic UDP encapsulation: needs a port
	TunnelGRE  TunnelType = 2
)

// String returns ipvsadm's name: ipip, gue, gre.
func (t TunnelType) String() string {
	switch t {
	case TunnelIPIP:
		return "ipip"
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return "tun-" + strconv.Itoa(int(t))
}

// TunnelFlags are a tunnel's checksum options (IPVS_DEST_ATTR_TUN_FLAGS,
// IP_VS_TUNNEL_ENCAP_FLAG_*).
type TunnelFlags uint16

// Tunnel checksum options. No flag is ipvsadm's --tun-nocsum.
const (
	// TunnelChecksum (--tun-csum): a checksum in the GUE or GRE header.
	TunnelChecksum TunnelFlags = 1 << 0
	// TunnelRemoteChecksum (--tun-remcsum): remote checksum offload, GUE
	// only.
	TunnelRemoteChecksum TunnelFlags = 1 << 1
)

// String returns ipvsadm's name of the checksum option: nocsum, csum,
// remcsum, or the bits when several are set.
func (f TunnelFlags) String() string {
	switch f {
	case 0:
		return "nocsum"
	case TunnelChecksum:
		return "csum"
	case TunnelRemoteChecksum:
		return "remcsum"
	}
	return "flags-" + strconv.FormatUint(uint64(f), 16)
}
