package ipvs

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

// dialHost opens a generic-netlink socket of this host's kernel, which
// has no IPVS but answers dumps of its other families.
func dialHost(t *testing.T) *genetlink.Conn {
	t.Helper()
	c, err := genetlink.Dial(nil)
	if err != nil {
		t.Skipf("no generic netlink here: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// familyName returns the CTRL_ATTR_FAMILY_NAME of a reply of nlctrl.
func familyName(attrs []byte) string {
	a := newAttrs(attrs)
	for a.next() {
		if a.typ == unix.CTRL_ATTR_FAMILY_NAME {
			return string(a.cstring())
		}
	}
	return ""
}

// TestDumpReadsTheKernelsReplies: the raw dump reads what the netlink
// package's Receive reads, from the host's real kernel: the families of
// nlctrl, a dump of several replies.
func TestDumpReadsTheKernelsReplies(t *testing.T) {
	c := dialHost(t)
	families, err := c.ListFamilies()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range families {
		want = append(want, f.Name)
	}
	r := &Reader{}
	for round := range 3 { // the socket serves dump after dump
		var got []string
		err := r.dump(c, unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, nil, func(attrs []byte) error {
			got = append(got, familyName(attrs))
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(got) < 2 || !slices.Equal(got, want) {
			t.Fatalf("round %d: the raw dump read the families %q, the netlink package %q", round, got, want)
		}
	}
}

// TestDumpReturnsTheKernelsErrno: a request the kernel refuses (a family
// it does not have, as after ip_vs was unloaded) ends with its errno,
// which the reader tells apart (ENOENT: resolve the family again).
func TestDumpReturnsTheKernelsErrno(t *testing.T) {
	c := dialHost(t)
	r := &Reader{}
	err := r.dump(c, 0xfff0, cmdGetService, nil, func([]byte) error {
		t.Error("a reply to a request of no family")
		return nil
	})
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("dump of family 0xfff0: %v, want ENOENT", err)
	}
	// The socket still serves the next request.
	n := 0
	if err := r.dump(c, unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, nil, func([]byte) error { n++; return nil }); err != nil || n == 0 {
		t.Fatalf("dump after an error: %d replies, %v", n, err)
	}
}

// TestDumpTellsATruncatedRead: a read the buffer cannot hold is an
// error, not a dump cut short.
func TestDumpTellsATruncatedRead(t *testing.T) {
	c := dialHost(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	req, err := c.Send(genetlink.Message{Header: genetlink.Header{Command: unix.CTRL_CMD_GETFAMILY, Version: genlVersion}},
		unix.GENL_ID_CTRL, 0x301) // request, dump
	if err != nil {
		t.Fatal(err)
	}
	err = readDump(rc, make([]byte, 64), req.Header.Sequence, func([]byte) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "more than the 64-byte buffer") {
		t.Fatalf("read into 64 bytes: %v, want the truncation named", err)
	}
}

// nlmsg returns a netlink message of type typ and sequence seq around
// payload.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(payload)+3)
	binary.NativeEndian.PutUint32(b[0:4], uint32(unix.NLMSG_HDRLEN+len(payload)))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func errCode(code int32) []byte { return binary.NativeEndian.AppendUint32(nil, uint32(code)) }

func TestDumpReplies(t *testing.T) {
	genl := func(attrs string) []byte { return append([]byte{cmdNewService, genlVersion, 0, 0}, attrs...) }
	for _, tc := range []struct {
		name   string
		b      []byte
		visits []string
		over   bool
		err    string
		errIs  error
	}{
		{name: "replies, then the end", b: slices.Concat(nlmsg(0x20, 7, genl("a")), nlmsg(0x20, 7, genl("bc")), nlmsg(unix.NLMSG_DONE, 7, errCode(0))),
			visits: []string{"a", "bc"}, over: true},
		{name: "replies of one read, more to come", b: slices.Concat(nlmsg(0x20, 7, genl("a"))), visits: []string{"a"}},
		{name: "the kernel's error", b: nlmsg(unix.NLMSG_ERROR, 7, errCode(-int32(unix.EPERM))), over: true, errIs: unix.EPERM},
		{name: "an error at the end of a dump", b: slices.Concat(nlmsg(0x20, 7, genl("a")), nlmsg(unix.NLMSG_DONE, 7, errCode(-int32(unix.EINVAL)))),
			visits: []string{"a"}, over: true, errIs: unix.EINVAL},
		{name: "a reply to another request", b: nlmsg(0x20, 6, genl("a")), err: "a reply to request 6, want 7"},
		{name: "shorter than a header", b: make([]byte, 10), err: "shorter than its header"},
		{name: "a length past the read", b: nlmsg(0x20, 7, genl("a"))[:18], err: "length 21 in 18 bytes"},
		{name: "no generic-netlink header", b: nlmsg(0x20, 7, []byte{1}), err: "shorter than its header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var visits []string
			over, err := dumpReplies(tc.b, 7, func(attrs []byte) error {
				visits = append(visits, string(attrs))
				return nil
			})
			switch {
			case tc.errIs != nil:
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("error %v, want %v", err, tc.errIs)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if over != tc.over || !slices.Equal(visits, tc.visits) {
				t.Fatalf("over %v, visits %q; want %v, %q", over, visits, tc.over, tc.visits)
			}
		})
	}
}
