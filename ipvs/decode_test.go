package ipvs

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// hexBytes turns "06 00 | 01 00" into bytes; '|' and spaces are for the eye.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	return b
}

// The fixtures are laid out by hand from ip_vs_genl_fill_service/_dest, in
// the byte order of a little-endian kernel, so that a mistake made
// symmetrically in the test encoder and the decoder (port byte order, where
// the IPv4 address sits in ADDR) still fails here.
func skipUnlessLittleEndian(t *testing.T) {
	t.Helper()
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) != 1 {
		t.Skip("fixtures are little-endian")
	}
}

func TestDecodeServiceFixture(t *testing.T) {
	skipUnlessLittleEndian(t)
	msg := hexBytes(t, `
		70 00 01 80
		  06 00 01 00  02 00 00 00
		  06 00 02 00  06 00 00 00
		  14 00 03 00  c0 00 02 01 00 00 00 00 00 00 00 00 00 00 00 00
		  06 00 04 00  1f 90 00 00
		  08 00 06 00  77 6c 63 00
		  0c 00 07 00  03 00 00 00 ff ff ff ff
		  08 00 08 00  2c 01 00 00
		  08 00 09 00  ff ff ff 00
		  1c 00 0c 80
		    0c 00 01 00  07 00 00 00 00 01 00 00
		    0c 00 04 00  01 02 03 04 05 06 07 08`)
	var got Service
	if err := decodeServiceMsg(msg, &got); err != nil {
		t.Fatalf("decodeServiceMsg: %v", err)
	}
	want := Service{
		ServiceKey: ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 8080},
		Scheduler:  "wlc",
		Flags:      FlagPersistent | FlagHashed,
		Timeout:    300,
		Netmask:    0x00ffffff, // 255.255.255.0 read the way ipvsadm reads it
		Stats:      Stats{Connections: 1<<40 + 7, BytesIn: 0x0807060504030201},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
	if got.Address.BitLen() != 32 {
		t.Errorf("IPv4 address decoded as %d-bit (%v), want a plain 4-byte address", got.Address.BitLen(), got.Address)
	}
	if got.String() != "tcp/192.0.2.1:8080" {
		t.Errorf("key = %q", got.String())
	}
}

func TestDecodeDestFixture(t *testing.T) {
	skipUnlessLittleEndian(t)
	msg := hexBytes(t, `
		68 00 02 80
		  14 00 01 00  c6 33 64 0a 00 00 00 00 00 00 00 00 00 00 00 00
		  06 00 02 00  00 50 00 00
		  08 00 03 00  0a 00 00 00
		  08 00 04 00  05 00 00 00
		  08 00 07 00  11 00 00 00
		  08 00 08 00  00 01 00 00
		  06 00 0b 00  02 00 00 00
		  0c 00 0a 80
		    08 00 01 00  07 00 00 00
		  14 00 0c 80
		    0c 00 01 00  07 00 00 00 00 01 00 00
		    04 00 0b 00`)
	var got Destination
	// The service is IPv6 but ADDR_FAMILY says IPv4: ADDR_FAMILY wins.
	if err := decodeDestMsg(msg, FamilyIPv6, &got); err != nil {
		t.Fatalf("decodeDestMsg: %v", err)
	}
	want := Destination{
		Family:        FamilyIPv4,
		Address:       netip.MustParseAddr("198.51.100.10"),
		Port:          80,
		Forward:       ForwardTunnel, // 0x0a & ForwardMask
		Weight:        5,
		ActiveConns:   17,
		InactiveConns: 256,
		Stats:         Stats{Connections: 1<<40 + 7}, // STATS64, not the truncated STATS
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
	if got.Server() != "198.51.100.10:80" {
		t.Errorf("server = %q", got.Server())
	}
}

// Kernel 5.2 and later send the tunnel settings: TUN_TYPE (u8), TUN_PORT
// (be16) and TUN_FLAGS (u16).
func TestDecodeDestTunnel(t *testing.T) {
	skipUnlessLittleEndian(t)
	msg := hexBytes(t, `
		48 00 02 80
		  14 00 01 00  c6 33 64 0a 00 00 00 00 00 00 00 00 00 00 00 00
		  06 00 02 00  00 50 00 00
		  08 00 03 00  02 00 00 00
		  08 00 04 00  01 00 00 00
		  05 00 0d 00  01 00 00 00
		  06 00 0e 00  17 c0 00 00
		  06 00 0f 00  02 00 00 00`)
	var got Destination
	if err := decodeDestMsg(msg, FamilyIPv4, &got); err != nil {
		t.Fatalf("decodeDestMsg: %v", err)
	}
	if got.Forward != ForwardTunnel || got.TunnelType != TunnelGUE || got.TunnelPort != 6080 || got.TunnelFlags != TunnelRemoteChecksum {
		t.Fatalf("decoded %+v, want a gue tunnel on port 6080 with remcsum", got)
	}
}

func TestDecodeDestWithoutAddrFamily(t *testing.T) {
	skipUnlessLittleEndian(t)
	// A kernel older than 4.x sends no ADDR_FAMILY: the service's applies.
	msg := hexBytes(t, `
		20 00 02 00
		  14 00 01 00  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
		  06 00 02 00  01 bb 00 00`)
	var got Destination
	if err := decodeDestMsg(msg, FamilyIPv6, &got); err != nil {
		t.Fatalf("decodeDestMsg: %v", err)
	}
	if got.Family != FamilyIPv6 || got.Address != netip.MustParseAddr("2001:db8::1") || got.Port != 443 {
		t.Fatalf("decoded %+v, want [2001:db8::1]:443 of family IPv6", got)
	}
}

func TestAppendServiceIdentityFixture(t *testing.T) {
	skipUnlessLittleEndian(t)
	tests := []struct {
		key  ServiceKey
		want string
	}{
		{
			key: ServiceKey{Family: FamilyIPv4, Protocol: TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 8080},
			want: `30 00 01 00
				06 00 01 00  02 00 00 00
				06 00 02 00  06 00 00 00
				14 00 03 00  c0 00 02 01 00 00 00 00 00 00 00 00 00 00 00 00
				06 00 04 00  1f 90 00 00`,
		},
		{
			key: ServiceKey{Family: FamilyIPv6, Protocol: SCTP, Address: netip.MustParseAddr("2001:db8::1"), Port: 1},
			want: `30 00 01 00
				06 00 01 00  0a 00 00 00
				06 00 02 00  84 00 00 00
				14 00 03 00  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
				06 00 04 00  00 01 00 00`,
		},
		{
			key: ServiceKey{Family: FamilyIPv6, FWMark: 42},
			want: `14 00 01 00
				06 00 01 00  0a 00 00 00
				08 00 05 00  2a 00 00 00`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.key.String(), func(t *testing.T) {
			got := appendServiceIdentity(nil, &tt.key)
			if want := hexBytes(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("identity\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	skipUnlessLittleEndian(t)
	tests := []struct {
		name, msg, wantErr string
		dest               bool
	}{
		{name: "header truncated", msg: `02 00`, wantErr: "header truncated"},
		{name: "length past end", msg: `10 00 01 00 06 00 01 00`, wantErr: "out of range"},
		{name: "length below header", msg: `02 00 01 00`, wantErr: "out of range"},
		{name: "no service attribute", msg: `08 00 02 00 00 00 00 00`, wantErr: "no IPVS_CMD_ATTR_SERVICE"},
		{name: "u16 of 4 bytes", msg: `0c 00 01 00 08 00 01 00 02 00 00 00`, wantErr: "payload is 4 bytes, want 2"},
		{name: "no address", msg: `0c 00 01 00 06 00 01 00 02 00 00 00`, wantErr: "no IPVS_SVC_ATTR_ADDR"},
		{name: "unknown family", msg: `14 00 01 00 06 00 01 00 07 00 00 00 08 00 03 00 01 02 03 04`, wantErr: "unknown address family 7"},
		{name: "short IPv6 address", msg: `14 00 01 00 06 00 01 00 0a 00 00 00 08 00 03 00 01 02 03 04`, wantErr: "want 16"},
		{name: "flags too short", msg: `14 00 01 00 08 00 05 00 01 00 00 00 08 00 07 00 01 00 00 00`, wantErr: "want 8"},
		{name: "stats counter of 2 bytes", msg: `20 00 01 00 08 00 05 00 01 00 00 00 06 00 01 00 02 00 00 00 0c 00 0c 00 06 00 01 00 02 00 00 00`, wantErr: "payload is 2 bytes, want 8"},
		{name: "stats counter of 3 bytes", msg: `20 00 01 00 08 00 05 00 01 00 00 00 06 00 01 00 02 00 00 00 0c 00 0c 00 07 00 01 00 02 00 00 00`, wantErr: "payload is 3 bytes"},
		{name: "dest without address", msg: `0c 00 02 00 06 00 02 00 00 50 00 00`, dest: true, wantErr: "no IPVS_DEST_ATTR_ADDR"},
		{name: "no dest attribute", msg: `04 00 01 00`, dest: true, wantErr: "no IPVS_CMD_ATTR_DEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.dest {
				err = decodeDestMsg(hexBytes(t, tt.msg), FamilyIPv4, &Destination{})
			} else {
				err = decodeServiceMsg(hexBytes(t, tt.msg), &Service{})
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeInfoAndTimeouts(t *testing.T) {
	b := binary.NativeEndian.AppendUint16(nil, 8)
	b = binary.NativeEndian.AppendUint16(b, infoAttrVersion)
	b = binary.NativeEndian.AppendUint32(b, 0x010203)
	info, err := decodeInfo(b)
	if err != nil {
		t.Fatal(err)
	}
	if info.VersionString() != "1.2.3" || info.ConnTableSize != 0 {
		t.Errorf("info = %+v (%s)", info, info.VersionString())
	}
	if _, err := decodeInfo(nil); err == nil {
		t.Error("decodeInfo of an empty reply succeeded")
	}
	tb := appendAttrU32(nil, cmdAttrTimeoutTCP, 900)
	tb = appendAttrU32(tb, cmdAttrTimeoutUDP, 300)
	to, err := decodeTimeouts(tb)
	if err != nil {
		t.Fatal(err)
	}
	if *to != (Timeouts{TCP: 900, UDP: 300}) {
		t.Errorf("timeouts = %+v", *to)
	}
}

func TestInternName(t *testing.T) {
	for _, name := range []string{"rr", "wlc", "mh", "custom", ""} {
		if got := internName([]byte(name)); got != name {
			t.Errorf("internName(%q) = %q", name, got)
		}
	}
}
