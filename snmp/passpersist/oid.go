// Package passpersist serves a table of SNMP objects to Net-SNMP's snmpd
// over its pass_persist protocol (snmpd.conf(5)): snmpd starts the program
// once, writes requests to its stdin and reads the answers from its
// stdout. It is the agent side of lvs-sidecar's poller tables without an
// SNMP agent library: snmpd does the SNMP (versions, communities, USM,
// access control), this package only answers get and getnext from a
// sorted Tree and refuses set.
package passpersist

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// OID is an object identifier as its sub-identifiers.
type OID []uint32

// ParseOID parses a dotted numeric OID, with or without the leading dot
// snmpd writes (".1.3.6.1.4.1.32473.9960").
func ParseOID(s string) (OID, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), ".")
	if t == "" {
		return nil, errors.New("parse OID: empty")
	}
	parts := strings.Split(t, ".")
	o := make(OID, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse OID %q: sub-identifier %d (%q) is not a number from 0 to 4294967295", s, i+1, p)
		}
		o[i] = uint32(n)
	}
	return o, nil
}

// MustParseOID is ParseOID for constants; it panics on an error.
func MustParseOID(s string) OID {
	o, err := ParseOID(s)
	if err != nil {
		panic(err)
	}
	return o
}

// String returns the OID as snmpd writes it: with a leading dot.
func (o OID) String() string {
	var b strings.Builder
	for _, n := range o {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	return b.String()
}

// Append returns o followed by sub, in a new slice (o is never shared).
func (o OID) Append(sub ...uint32) OID {
	out := make(OID, 0, len(o)+len(sub))
	return append(append(out, o...), sub...)
}

// HasPrefix reports whether o is p or lies under p.
func (o OID) HasPrefix(p OID) bool {
	if len(o) < len(p) {
		return false
	}
	for i := range p {
		if o[i] != p[i] {
			return false
		}
	}
	return true
}

// Compare orders OIDs lexicographically by sub-identifier, as SNMP does:
// a prefix comes before every OID under it. It returns -1, 0 or +1.
func Compare(a, b OID) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
