package health

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestSYNTCPFilter runs the raw TCP socket's filter on segments as the
// socket sees them (IPv4 with its IP header, options too; IPv6 without):
// only SYN-ACKs and RST-ACKs to the given ports pass.
func TestSYNTCPFilter(t *testing.T) {
	ports := []uint16{40000, 40001, 65535}
	seg := func(dport uint16, flags byte) []byte {
		b := make([]byte, 20)
		binary.BigEndian.PutUint16(b[0:2], 80)
		binary.BigEndian.PutUint16(b[2:4], dport)
		b[12], b[13] = 5<<4, flags
		return b
	}
	for _, v6 := range []bool{false, true} {
		for _, ihl := range []int{5, 6} {
			if v6 && ihl == 6 {
				continue
			}
			name := fmt.Sprintf("v4, IP header of %d words", ihl)
			if v6 {
				name = "v6"
			}
			t.Run(name, func(t *testing.T) {
				vm, err := bpf.NewVM(synTCPFilter(v6, ports))
				if err != nil {
					t.Fatal(err)
				}
				for _, tc := range []struct {
					dport uint16
					flags byte
					pass  bool
				}{
					{40000, synFlagSYN | synFlagACK, true},
					{40001, synFlagRST | synFlagACK, true},
					{65535, synFlagSYN | synFlagACK, true},
					{40002, synFlagSYN | synFlagACK, false}, // not ours
					{80, synFlagRST | synFlagACK, false},
					{40000, synFlagSYN, false}, // a SYN: no answer
					{40000, synFlagACK, false},
					{40000, synFlagRST, false}, // answers nothing of ours
				} {
					pkt := seg(tc.dport, tc.flags)
					if !v6 {
						ip := make([]byte, ihl*4)
						ip[0] = 4<<4 | byte(ihl)
						ip[9] = unix.IPPROTO_TCP
						pkt = append(ip, pkt...)
					}
					n, err := vm.Run(pkt)
					if err != nil {
						t.Fatal(err)
					}
					if got := n > 0; got != tc.pass {
						t.Errorf("port %d flags %#02x: passed %v, want %v", tc.dport, tc.flags, got, tc.pass)
					}
				}
			})
		}
	}
	t.Run("many ports", func(t *testing.T) {
		// More ports than a jump can skip.
		var many []uint16
		for p := range uint16(1000) {
			many = append(many, 30000+p)
		}
		prog, err := bpf.Assemble(synTCPFilter(true, many))
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(synTCPFilter(true, many))
		if err != nil {
			t.Fatalf("%d instructions: %v", len(prog), err)
		}
		for _, p := range []uint16{30000, 30999} {
			if n, _ := vm.Run(seg(p, synFlagSYN|synFlagACK)); n == 0 {
				t.Errorf("port %d did not pass", p)
			}
		}
		if n, _ := vm.Run(seg(31000, synFlagSYN|synFlagACK)); n != 0 {
			t.Error("port 31000 passed")
		}
	})
}

// TestSYNBusyTarget: with every pool port taken towards a target (as by
// as many checks in flight), further checks to it reserve ports of their
// own, which the raw socket's filter must pass, and every check gets its
// answer.
func TestSYNBusyTarget(t *testing.T) {
	s := probeSYNScanner(t)
	for _, addr := range probeLoopbacks {
		t.Run(probeFamily(addr), func(t *testing.T) {
			f, err := s.family(addr)
			if err != nil {
				t.Skip(err)
			}
			_, open := probeListenTCP(t, addr)
			closed := probeClosedPort(t, addr, unix.SOCK_STREAM)
			for _, tg := range []netip.AddrPort{open, closed} {
				for i := range synPoolPorts {
					k, fd, err := s.acquire(f, tg, uint32(i), &synProbe{})
					if err != nil || fd != -1 {
						t.Fatalf("pool port %d towards %s: fd %d, %v; want a pool port", i, tg, fd, err)
					}
					t.Cleanup(func() { s.release(f, k, fd) })
				}
			}
			synCheckAtOnce(t, s, []synTarget{{open, ClassOpen}, {closed, ClassClosed}}, 8)
		})
	}
}
