package notify

import (
	"crypto/sha256"
	"math"
	"net"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/snmp/credentials"
)

// pen is the private enterprise number in derived engine IDs: 32473, the
// RFC 5612 documentation number the MIB sits under until the project has
// its own.
const pen = 32473

// EngineID returns the SNMPv3 engine ID of traps to t: t.EngineID when
// the file sets one, else one derived from the director's name in the
// RFC 3411 text format: 0x80 | enterprise 32473, format 4, then the name
// (so "lb1" gives 80007ed9046c6231). A name longer than 27 bytes is
// replaced by the first 27 bytes of its SHA-256 (format 5, octets). The
// same name gives the same ID on every start, so the receiver's
// createUser -e line stays valid.
func EngineID(t *config.NotifyTarget, director string) []byte {
	if t.EngineID != nil {
		return t.EngineID
	}
	id := []byte{0x80 | byte(pen>>24), byte(pen >> 16 & 0xff), byte(pen >> 8 & 0xff), byte(pen & 0xff)}
	if len(director) > 0 && len(director) <= 27 {
		return append(append(id, 4), director...)
	}
	sum := sha256.Sum256([]byte(director))
	return append(append(id, 5), sum[:27]...)
}

// newClient returns the GoSNMP of a target, not yet connected. Retries
// are the target's own loop (see target.send), so gosnmp makes one
// attempt per call. boots is the engine's boot count for v3 traps.
func newClient(t *config.NotifyTarget, director string, boots uint32) (*gosnmp.GoSNMP, error) {
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil {
		return nil, err
	}
	p, err := net.LookupPort("udp", port)
	if err != nil {
		return nil, err
	}
	g := &gosnmp.GoSNMP{
		Target:  host,
		Port:    uint16(p), //nolint:gosec // config checks 1..65535
		Timeout: t.Timeout,
		Retries: 0,
		MaxOids: gosnmp.MaxOids,
	}
	usm, err := credentials.Apply(g, &t.SNMP)
	if err != nil {
		return nil, err
	}
	if usm == nil {
		return g, nil // v2c
	}
	if !t.Inform {
		// The sender of a trap is the authoritative engine: its ID is
		// ours, with a boot count that grows from one start to the next.
		usm.AuthoritativeEngineID = string(EngineID(t, director))
		usm.AuthoritativeEngineBoots = boots
		g.ContextEngineID = usm.AuthoritativeEngineID
	}
	return g, nil
}

// bootCount is the snmpEngineBoots of v3 traps: the start time in
// seconds since 2020, which grows from one start to the next without a
// file to keep it in (RFC 3414 wants it to grow; it only has to stay
// below 2^31-1, which this does until 2088).
func bootCount(start time.Time) uint32 {
	v := start.Unix() - time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	return uint32(min(max(v, 1), math.MaxInt32-1)) //nolint:gosec // clamped
}
