package health

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// probeBindTCP binds a new TCP socket of addr's family to addr:port and
// returns bind's error.
func probeBindTCP(t *testing.T, addr netip.Addr, port uint16) error {
	t.Helper()
	var family int
	var sa unix.Sockaddr
	if addr.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	} else {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(port), Addr: addr.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return unix.Bind(fd, sa)
}

// TestSYNPortsReserved: the pool's ports are distinct and held (no other
// socket binds them) until the pool closes.
func TestSYNPortsReserved(t *testing.T) {
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			p := synOpenPorts(addr.Is6(), 4)
			if len(p.ports) != 4 {
				p.close()
				t.Fatalf("%d ports reserved, want 4", len(p.ports))
			}
			ports := slices.Clone(p.ports)
			if slices.Sort(ports); len(slices.Compact(ports)) != 4 {
				t.Errorf("ports %v are not distinct", p.ports)
			}
			for _, port := range ports {
				if err := probeBindTCP(t, addr, port); !errors.Is(err, unix.EADDRINUSE) {
					t.Errorf("bind to the pool's port %d: %v, want EADDRINUSE", port, err)
				}
			}
			p.close()
			free := 0
			for _, port := range ports {
				// Another process may take a released port at once;
				// most stay free.
				if probeBindTCP(t, addr, port) == nil {
					free++
				}
			}
			if free == 0 {
				t.Errorf("none of the ports %v could be bound after close", ports)
			}
		})
	}
}

// TestSYNPortsAcquire: checks towards one target get distinct ports,
// starting from their own rotation; a target with more checks in flight
// than the pool has ports gets a port of its own; other targets share the
// pool's ports; a released port is free again.
func TestSYNPortsAcquire(t *testing.T) {
	s := &SYNScanner{probes: make(map[synKey]*synProbe)}
	f := &synFamily{ports: synOpenPorts(false, 3)}
	defer f.ports.close()
	if len(f.ports.ports) != 3 {
		t.Fatalf("%d ports reserved, want 3", len(f.ports.ports))
	}
	pool := f.ports.ports
	a := netip.MustParseAddrPort("127.0.0.1:80")
	b := netip.MustParseAddrPort("127.0.0.2:80")

	type held struct {
		k  synKey
		fd int
	}
	acquire := func(remote netip.AddrPort, start uint32) held {
		t.Helper()
		k, fd, err := s.acquire(f, remote, start, &synProbe{})
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		if k.remote != remote {
			t.Fatalf("key %v for remote %v", k, remote)
		}
		return held{k, fd}
	}
	h1 := acquire(a, 1)
	if h1.k.local != pool[1] || h1.fd != -1 {
		t.Errorf("first check from start 1: port %d fd %d, want the pool's %d", h1.k.local, h1.fd, pool[1])
	}
	h2 := acquire(a, 1)
	if h2.k.local != pool[2] || h2.fd != -1 {
		t.Errorf("second check from start 1: port %d fd %d, want the next, %d", h2.k.local, h2.fd, pool[2])
	}
	h3 := acquire(a, 1)
	if h3.k.local != pool[0] {
		t.Errorf("third check from start 1: port %d, want the pool's first, %d", h3.k.local, pool[0])
	}
	h4 := acquire(a, 1)
	if slices.Contains(pool, h4.k.local) || h4.fd < 0 {
		t.Errorf("fourth check: port %d fd %d, want a port of its own outside the pool %v", h4.k.local, h4.fd, pool)
	}
	if err := probeBindTCP(t, netip.MustParseAddr("127.0.0.1"), h4.k.local); !errors.Is(err, unix.EADDRINUSE) {
		t.Errorf("bind to the fourth check's port %d: %v, want EADDRINUSE", h4.k.local, err)
	}
	if hb := acquire(b, 1); hb.k.local != pool[1] {
		t.Errorf("a check of another target: port %d, want the pool's %d, busy towards %v only", hb.k.local, pool[1], a)
	}
	s.release(h2.k, h2.fd)
	if h := acquire(a, 0); h.k.local != pool[2] {
		t.Errorf("after the release of %d: port %d, want it again", pool[2], h.k.local)
	}
	s.release(h4.k, h4.fd)
	if err := probeBindTCP(t, netip.MustParseAddr("127.0.0.1"), h4.k.local); err != nil {
		t.Errorf("bind to the fourth check's port %d after release: %v, want it free", h4.k.local, err)
	}
	if _, held := s.probes[h4.k]; held {
		t.Errorf("%v still registered after release", h4.k)
	}
}

// TestSYNDeliverISN: only an answer that acknowledges the waiting probe's
// ISN reaches it, so a late answer to an earlier probe from the same port
// never counts.
func TestSYNDeliverISN(t *testing.T) {
	s := &SYNScanner{probes: make(map[synKey]*synProbe)}
	k := synKey{remote: netip.MustParseAddrPort("127.0.0.1:80"), local: 40000}
	p := &synProbe{isn: 7, answer: make(chan synAnswer, 1)}
	s.register(k, p)
	s.deliver(k, 6, synAnswer{ClassClosed, "late"})
	select {
	case a := <-p.answer:
		t.Fatalf("an answer for ISN 6 reached the probe of ISN 7: %v", a)
	default:
	}
	s.deliver(k, 7, synAnswer{ClassOpen, "SYN-ACK"})
	if a := <-p.answer; a.class != ClassOpen {
		t.Errorf("got %v, want open", a)
	}
	s.unregister(k)
	s.deliver(k, 7, synAnswer{ClassOpen, "SYN-ACK"})
	if len(p.answer) != 0 {
		t.Error("an answer reached an unregistered probe")
	}
}
