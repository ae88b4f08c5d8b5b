package passpersist

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// Type is a pass_persist type token, the second line of an answer.
type Type string

// The types snmpd's pass_persist parses (agent/mibgroup/ucd-snmp/
// pass_common.c); counter64 despite what snmpd.conf(5) says about pass.
const (
	TypeInteger   Type = "integer"   // INTEGER, Integer32, enumerations
	TypeUnsigned  Type = "unsigned"  // Unsigned32
	TypeGauge     Type = "gauge"     // Gauge32
	TypeCounter   Type = "counter"   // Counter32
	TypeCounter64 Type = "counter64" // Counter64
	TypeTimeTicks Type = "timeticks" // TimeTicks (hundredths of a second)
	TypeIPAddress Type = "ipaddress" // IpAddress (IPv4 only)
	TypeString    Type = "string"    // OCTET STRING of printable text
	TypeOctet     Type = "octet"     // OCTET STRING as space-separated hex
	TypeObjectID  Type = "objectid"  // OBJECT IDENTIFIER
)

// Value is one object's value as pass_persist writes it: a type token and
// the value's text, which never holds a newline.
type Value struct {
	Type Type
	Text string
}

// Integer is an INTEGER (Integer32, or an enumeration's number).
func Integer(v int32) Value { return Value{TypeInteger, strconv.FormatInt(int64(v), 10)} }

// Unsigned is an Unsigned32.
func Unsigned(v uint32) Value { return Value{TypeUnsigned, strconv.FormatUint(uint64(v), 10)} }

// Gauge is a Gauge32.
func Gauge(v uint32) Value { return Value{TypeGauge, strconv.FormatUint(uint64(v), 10)} }

// Counter64 is a Counter64.
func Counter64(v uint64) Value { return Value{TypeCounter64, strconv.FormatUint(v, 10)} }

// TimeTicks is a TimeTicks, in hundredths of a second.
func TimeTicks(v uint32) Value { return Value{TypeTimeTicks, strconv.FormatUint(uint64(v), 10)} }

// IPAddress is an IpAddress; a that is not IPv4 gives 0.0.0.0.
func IPAddress(a netip.Addr) Value {
	if a = a.Unmap(); !a.Is4() {
		a = netip.IPv4Unspecified()
	}
	return Value{TypeIPAddress, a.String()}
}

// String is an OCTET STRING of text. Because a value is one line of the
// protocol, and snmpd reads at most a line, text is sent as hex (octet)
// when it holds a control character or is not short ASCII, so that every
// byte arrives as it is.
func String(s string) Value {
	if len(s) > 255 {
		s = s[:255]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return Octets([]byte(s))
		}
	}
	// snmpd's pass parser strips a leading quote pair and trailing white
	// space of a string; hex keeps such a value exact too.
	if s != strings.TrimSpace(s) || strings.HasPrefix(s, `"`) {
		return Octets([]byte(s))
	}
	return Value{TypeString, s}
}

// Octets is an OCTET STRING of arbitrary bytes (InetAddress,
// DateAndTime), sent as space-separated hex.
func Octets(b []byte) Value {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return Value{TypeOctet, sb.String()}
}

// ObjectID is an OBJECT IDENTIFIER.
func ObjectID(o OID) Value { return Value{TypeObjectID, o.String()} }
