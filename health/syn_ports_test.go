package health

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

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
// than the pool has ports gets a port of its own, which the raw socket's
// filter passes while it is held; other targets share the pool's ports; a
// released port is free again.
func TestSYNPortsAcquire(t *testing.T) {
	probeNeedRoot(t, "the SYN check (raw sockets)")
	s := &SYNScanner{probes: make(map[synKey]*synProbe)}
	f, err := synOpenFamily("ip4")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.tcp.Close()
		f.icmp.Close()
		f.ports.close()
	}()
	pool := f.ports.ports
	n := len(pool)
	if n != synPoolPorts {
		t.Fatalf("%d ports reserved, want %d", n, synPoolPorts)
	}
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
	var hs []held
	for i := range n {
		h := acquire(a, 1)
		if want := pool[(1+i)%n]; h.k.local != want || h.fd != -1 {
			t.Errorf("check %d from start 1: port %d fd %d, want the pool's %d", i, h.k.local, h.fd, want)
		}
		hs = append(hs, h)
	}
	own := acquire(a, 1)
	if slices.Contains(pool, own.k.local) || own.fd < 0 {
		t.Errorf("check %d: port %d fd %d, want a port of its own outside the pool %v", n, own.k.local, own.fd, pool)
	}
	if err := probeBindTCP(t, netip.MustParseAddr("127.0.0.1"), own.k.local); !errors.Is(err, unix.EADDRINUSE) {
		t.Errorf("bind to the extra check's port %d: %v, want EADDRINUSE", own.k.local, err)
	}
	if f.own[own.k.local] != 1 {
		t.Errorf("the filter's own ports %v lack %d", f.own, own.k.local)
	}
	if hb := acquire(b, 1); hb.k.local != pool[1] {
		t.Errorf("a check of another target: port %d, want the pool's %d, busy towards %v only", hb.k.local, pool[1], a)
	}
	s.release(f, hs[1].k, hs[1].fd)
	if h := acquire(a, 0); h.k.local != hs[1].k.local {
		t.Errorf("after the release of %d: port %d, want it again", hs[1].k.local, h.k.local)
	}
	s.release(f, own.k, own.fd)
	if err := probeBindTCP(t, netip.MustParseAddr("127.0.0.1"), own.k.local); err != nil {
		t.Errorf("bind to the extra check's port %d after release: %v, want it free", own.k.local, err)
	}
	if _, held := s.probes[own.k]; held {
		t.Errorf("%v still registered after release", own.k)
	}
	if len(f.own) != 0 {
		t.Errorf("the filter still passes %v after release", f.own)
	}
}

// TestSYNDeliverISN: only an answer that acknowledges the waiting probe's
// ISN reaches it, so a late answer to an earlier probe from the same port
// never counts.
func TestSYNDeliverISN(t *testing.T) {
	s := &SYNScanner{probes: make(map[synKey]*synProbe)}
	k := synKey{remote: netip.MustParseAddrPort("127.0.0.1:80"), local: 40000}
	p := newSynProbe(7)
	s.register(k, p)
	s.fly(p, time.Time{}, false)
	s.deliver(k, 6, synAnswer{ClassClosed, "late"})
	select {
	case a := <-p.answer:
		t.Fatalf("an answer for ISN 6 reached the probe of ISN 7: %v", a)
	default:
	}
	s.deliver(k, 7, synAnswer{ClassOpen, "SYN-ACK"})
	if a := <-p.answer; a.Class != ClassOpen {
		t.Errorf("got %v, want open", a)
	}
	if _, held := s.probes[k]; held {
		t.Error("the answered probe is still registered")
	}
	s.register(k, p)
	s.fly(p, time.Time{}, false)
	s.unregister(k)
	s.deliver(k, 7, synAnswer{ClassOpen, "SYN-ACK"})
	if len(p.answer) != 0 {
		t.Error("an answer reached an unregistered probe")
	}
}
