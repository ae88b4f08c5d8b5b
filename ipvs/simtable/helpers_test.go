package simtable

import (
	"context"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	webKey = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80}
	dnsKey = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Address: netip.MustParseAddr("192.0.2.53"), Port: 53}
	rs1    = netip.MustParseAddrPort("10.0.0.1:80")
	rs2    = netip.MustParseAddrPort("10.0.0.2:80")
	rs3    = netip.MustParseAddrPort("10.0.0.3:80")
)

func destAt(ap netip.AddrPort, fwd ipvs.ForwardMethod, weight int32) ipvs.Destination {
	return ipvs.Destination{Address: ap.Addr(), Port: ap.Port(), Forward: fwd, Weight: weight}
}

// newTable returns a table of seed at rate on clock c, failing the test
// on error.
func newTable(t *testing.T, seed []ipvs.Service, rate float64, c *clock) *Table {
	t.Helper()
	opts := Options{Rate: rate}
	if c != nil {
		opts.Now = c.now
	}
	tab, err := New(seed, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func snapshot(t *testing.T, tab *Table) *ipvs.Snapshot {
	t.Helper()
	snap, err := tab.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// find returns the service k and its real server at server in snap (nil
// when absent).
func find(snap *ipvs.Snapshot, k ipvs.ServiceKey, server netip.AddrPort) (*ipvs.Service, *ipvs.Destination) {
	for i := range snap.Services {
		s := &snap.Services[i]
		if s.ServiceKey != k {
			continue
		}
		for j := range s.Destinations {
			d := &s.Destinations[j]
			if d.Address == server.Addr() && d.Port == server.Port() {
				return s, d
			}
		}
		return s, nil
	}
	return nil, nil
}

// kernelWriter returns an ipvs.Writer whose kernel answers every IPVS
// request with errno; *calls counts those requests.
func kernelWriter(t *testing.T, errno syscall.Errno) (*ipvs.Writer, *int) {
	t.Helper()
	var mu sync.Mutex
	calls := new(int)
	fn := func(_ genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if nreq.Header.Type == netlink.HeaderType(unix.GENL_ID_CTRL) {
			// The writer lists the families to find "IPVS".
			ae := netlink.NewAttributeEncoder()
			ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, 0x2a)
			ae.String(unix.CTRL_ATTR_FAMILY_NAME, "IPVS")
			ae.Uint32(unix.CTRL_ATTR_VERSION, 1)
			b, err := ae.Encode()
			if err != nil {
				return nil, err
			}
			return []genetlink.Message{{Header: genetlink.Header{Command: unix.CTRL_CMD_NEWFAMILY}, Data: b}}, nil
		}
		mu.Lock()
		*calls++
		mu.Unlock()
		return nil, genltest.Error(int(errno))
	}
	w, err := ipvs.NewWriter(ipvs.WriterOptions{Timeout: time.Second, Dial: func() (*genetlink.Conn, error) {
		return genltest.Dial(fn), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, calls
}
