package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// procIPVS is the director's table as the kernel prints it; the benchmark
// runs in the director's namespace, so /proc/net/ip_vs is that table.
const procIPVS = "/proc/net/ip_vs"

// weights maps each TCP service of /proc/net/ip_vs to its destinations'
// weights.
type weights map[netip.AddrPort]map[netip.AddrPort]int

// readWeights reads procIPVS.
func readWeights() (weights, error) {
	b, err := os.ReadFile(procIPVS)
	if err != nil {
		return nil, err
	}
	return parseWeights(b)
}

// parseWeights reads the TCP services of /proc/net/ip_vs (IPv4 only: the
// benchmark makes no other):
//
//	TCP  C6336401:0050 wlc
//	  -> CB00710B:4E1F      Masq    1      0          0
func parseWeights(b []byte) (weights, error) {
	out := weights{}
	var cur map[netip.AddrPort]int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "TCP":
			ap, err := hexAddrPort(f[1])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", procIPVS, n, err)
			}
			cur = map[netip.AddrPort]int{}
			out[ap] = cur
		case len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port":
			if cur == nil {
				cur = map[netip.AddrPort]int{} // a destination of a service we skip
			}
			ap, err := hexAddrPort(f[1])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", procIPVS, n, err)
			}
			w, err := strconv.Atoi(f[3])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: weight: %w", procIPVS, n, err)
			}
			cur[ap] = w
		case len(f) >= 1 && (f[0] == "UDP" || f[0] == "SCTP" || f[0] == "FWM"):
			cur = nil
		}
	}
	return out, sc.Err()
}

// hexAddrPort reads "C6336401:0050".
func hexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(a) != 8 {
		return netip.AddrPort{}, fmt.Errorf("address %q: want 8 hex digits:port", s)
	}
	ab, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", s, err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ab)), uint16(port)), nil
}

// weightAt is the weight of destination d of service s in /proc/net/ip_vs
// text b, and whether it is there; the text is searched, not parsed, to
// keep the drain's fast poll light.
func weightAt(b []byte, s, d netip.AddrPort) (int, bool, error) {
	i := bytes.Index(b, []byte("TCP  "+procHex(s)+" "))
	if i < 0 {
		return 0, false, nil
	}
	b = b[i+1:]
	if j := bytes.Index(b, []byte("\nTCP")); j >= 0 {
		b = b[:j]
	}
	i = bytes.Index(b, []byte("-> "+procHex(d)+" "))
	if i < 0 {
		return 0, false, nil
	}
	f := strings.Fields(string(b[i:min(len(b), i+80)]))
	if len(f) < 4 {
		return 0, false, fmt.Errorf("%s: short destination line", procIPVS)
	}
	w, err := strconv.Atoi(f[3])
	return w, true, err
}

// procHex writes ap as /proc/net/ip_vs does.
func procHex(ap netip.AddrPort) string {
	a := ap.Addr().As4()
	return fmt.Sprintf("%08X:%04X", binary.BigEndian.Uint32(a[:]), ap.Port())
}

// ipvsadm runs Debian's ipvsadm in the director's namespace (this
// process's) with stdin as its input.
func ipvsadm(stdin string, args ...string) error {
	cmd := exec.Command("ipvsadm", args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ipvsadm %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// countUp counts the destinations of svcs in w with a weight above 0.
func countUp(w weights, svcs []service) int {
	n := 0
	for _, s := range svcs {
		for _, d := range s.dests {
			if w[s.addr][d.addr] > 0 {
				n++
			}
		}
	}
	return n
}
