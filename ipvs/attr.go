package ipvs

import (
	"encoding/binary"
	"fmt"
)

// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from an
// attribute's type.
const nlaTypeMask = 0x3fff

// attrs walks a buffer of netlink attributes (struct nlattr: u16 length,
// u16 type, payload, padding to 4 bytes) without allocating, unlike
// netlink.AttributeDecoder, which costs one allocation per nested level: the
// reader decodes tens of thousands of nested attributes per scrape. A
// malformed attribute or a payload of the wrong size for its accessor stops
// the walk and is reported by err.
type attrs struct {
	rest []byte
	typ  uint16
	data []byte
	err  error
}

func newAttrs(b []byte) attrs { return attrs{rest: b} }

// next advances to the next attribute and reports whether there is one.
func (a *attrs) next() bool {
	if a.err != nil || len(a.rest) == 0 {
		return false
	}
	if len(a.rest) < 4 {
		a.err = fmt.Errorf("netlink attribute header truncated: %d bytes left", len(a.rest))
		return false
	}
	n := int(binary.NativeEndian.Uint16(a.rest[0:2]))
	if n < 4 || n > len(a.rest) {
		a.err = fmt.Errorf("netlink attribute length %d out of range (%d bytes left)", n, len(a.rest))
		return false
	}
	a.typ = binary.NativeEndian.Uint16(a.rest[2:4]) & nlaTypeMask
	a.data = a.rest[4:n]
	a.rest = a.rest[min(align4(n), len(a.rest)):]
	return true
}

// align4 rounds n up to netlink's alignment (NLMSG_ALIGNTO, NLA_ALIGNTO:
// 4 bytes), for messages and attributes alike.
func align4(n int) int { return (n + 3) &^ 3 }

// nested returns a walker over the current attribute's payload.
func (a *attrs) nested() attrs { return attrs{rest: a.data} }

func (a *attrs) badSize(want int) {
	if a.err == nil {
		a.err = fmt.Errorf("netlink attribute type %d: payload is %d bytes, want %d", a.typ, len(a.data), want)
	}
}

func (a *attrs) u8() uint8 {
	if len(a.data) != 1 {
		a.badSize(1)
		return 0
	}
	return a.data[0]
}

func (a *attrs) u16() uint16 {
	if len(a.data) != 2 {
		a.badSize(2)
		return 0
	}
	return binary.NativeEndian.Uint16(a.data)
}

// be16 reads a u16 in network byte order (ports).
func (a *attrs) be16() uint16 {
	if len(a.data) != 2 {
		a.badSize(2)
		return 0
	}
	return binary.BigEndian.Uint16(a.data)
}

func (a *attrs) u32() uint32 {
	if len(a.data) != 4 {
		a.badSize(4)
		return 0
	}
	return binary.NativeEndian.Uint32(a.data)
}

func (a *attrs) u64() uint64 {
	if len(a.data) != 8 {
		a.badSize(8)
		return 0
	}
	return binary.NativeEndian.Uint64(a.data)
}

// cstring returns the payload without its trailing NUL bytes (C strings).
func (a *attrs) cstring() []byte {
	b := a.data
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// appendAttr appends one attribute with the given payload to b.
func appendAttr(b []byte, typ uint16, payload ...byte) []byte {
	n := 4 + len(payload)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for n%4 != 0 {
		b = append(b, 0)
		n++
	}
	return b
}

func appendAttrU8(b []byte, typ uint16, v uint8) []byte {
	return appendAttr(b, typ, v)
}

func appendAttrU16(b []byte, typ, v uint16) []byte {
	var p [2]byte
	binary.NativeEndian.PutUint16(p[:], v)
	return appendAttr(b, typ, p[:]...)
}

func appendAttrBE16(b []byte, typ, v uint16) []byte {
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], v)
	return appendAttr(b, typ, p[:]...)
}

func appendAttrU32(b []byte, typ uint16, v uint32) []byte {
	var p [4]byte
	binary.NativeEndian.PutUint32(p[:], v)
	return appendAttr(b, typ, p[:]...)
}

// appendAttrCString appends a NUL-terminated string (NLA_NUL_STRING).
func appendAttrCString(b []byte, typ uint16, v string) []byte {
	p := make([]byte, 0, len(v)+1)
	p = append(append(p, v...), 0)
	return appendAttr(b, typ, p...)
}

// beginNest appends the header of a nested attribute and returns its offset,
// for endNest to fill in the length once the children are appended.
func beginNest(b []byte, typ uint16) ([]byte, int) {
	off := len(b)
	b = binary.NativeEndian.AppendUint16(b, 0)
	b = binary.NativeEndian.AppendUint16(b, typ)
	return b, off
}

func endNest(b []byte, off int) []byte {
	binary.NativeEndian.PutUint16(b[off:], uint16(len(b)-off))
	return b
}
