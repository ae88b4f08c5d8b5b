//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestTableMatchesIpvsadm builds a table with every kind of service and
// forwarding method in the director's namespace, sends real client traffic
// through each, and checks that lvs-sidecar exports exactly what the
// kernel's own tools say: every counter of every service and real server
// equals `ipvsadm -Ln --stats --exact`; schedulers, forwarding methods,
// weights, active and inactive connections and the host totals equal
// /proc/net/ip_vs and /proc/net/ip_vs_stats; the count gauges equal the
// number of services and real servers.
func TestTableMatchesIpvsadm(t *testing.T) {
	requireLab(t)
	services := buildLabTable(t)
	sc := startSidecar(t)
	sendTraffic(t, services)
	held := holdConnections(t, services)

	// The estimator publishes the counters every 2 s: wait until all the
	// traffic shows, so that no comparison below is of zeros.
	var proc *Table
	poll(t, 15*time.Second, func() error {
		proc = procIPVS(t)
		return counted(ipvsadmStats(t), proc)
	})
	for _, label := range held {
		if n := activeConns(proc.Services[label]); n != 1 {
			t.Fatalf("%s has %d active connections, want the 1 the test holds:\n%s", label, n, proc.String())
		}
	}

	// Counters only grow: when ipvsadm and /proc read the same before and
	// after a scrape, the scrape saw those values too, so it must equal
	// them exactly. Retried while the kernel's numbers still move.
	var last []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		statsBefore, procBefore := ipvsadmStats(t), procIPVS(t)
		s := sc.scrape(t)
		stats, proc := ipvsadmStats(t), procIPVS(t)
		if s.Up != 1 {
			t.Fatalf("ipvs_up = %v, want 1", s.Up)
		}
		if statsBefore.Equal(stats) && procBefore.Equal(proc) {
			last = append(Diff(s, stats, FieldStats), Diff(s, proc, FieldScheduler|FieldForward|FieldWeight|FieldConns|FieldTotals)...)
			if len(last) == 0 {
				t.Logf("lvs-sidecar agrees with ipvsadm and /proc on %d services and %d real servers:\n%s", len(stats.Services), stats.RealServers(), mergeForLog(stats, proc))
				return
			}
		} else {
			last = []string{"ipvsadm or /proc changed during the scrape"}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lvs-sidecar's scrape differs from the kernel's tools:\n%s\nipvsadm and /proc:\n%s", strings.Join(last, "\n"), mergeForLog(stats, proc))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// labService is one virtual service of the e2e table and how a client of
// the lab reaches it.
type labService struct {
	label    string     // lvs-sidecar's "service" label
	spec     []string   // ipvsadm's service: -t ADDR, -u ADDR, --sctp-service ADDR, -f MARK [-6]
	sched    string     // scheduler
	servers  [][]string // ipvsadm's real servers: -r ADDR and forwarding, weight
	ask      string     // the client: "http", "udp" or "sctp"
	target   string     // what it asks: a URL or host:port
	requests int        // how many, so that every real server gets some
	hold     string     // host:port to hold a TCP connection to, "" for none
}

// labTable is the e2e table: TCP NAT services with the rr, wrr and wlc
// schedulers and different weights; UDP and SCTP; IPv6; a direct-routing
// and a tunnel real server; fwmark services of both families with the same
// mark; three services on 198.51.100.1 (ports 80, 8080, 8000) and three
// protocols on 198.51.100.1:8000.
func labTable() []labService {
	vip, vip2, vip6 := "198.51.100.1", "198.51.100.2", "2001:db8:100::1"
	masq := func(port uint16, weights ...int) [][]string {
		var rs [][]string
		for i, w := range weights {
			rs = append(rs, []string{"-r", netip.AddrPortFrom(labRS(i+1), port).String(), "-m", "-w", fmt.Sprint(w)})
		}
		return rs
	}
	return []labService{{
		label: "tcp/" + vip + ":80", spec: []string{"-t", vip + ":80"}, sched: "rr",
		servers: masq(80, 1, 1, 1), ask: "http", target: "http://" + vip + "/", requests: 6, hold: vip + ":80",
	}, {
		label: "tcp/" + vip + ":8080", spec: []string{"-t", vip + ":8080"}, sched: "wrr",
		servers: masq(80, 3, 2, 1), ask: "http", target: "http://" + vip + ":8080/", requests: 6,
	}, {
		label: "tcp/" + vip + ":8000", spec: []string{"-t", vip + ":8000"}, sched: "wlc",
		servers: masq(80, 1, 1, 1), ask: "http", target: "http://" + vip + ":8000/", requests: 3,
	}, {
		label: "udp/" + vip + ":8000", spec: []string{"-u", vip + ":8000"}, sched: "rr",
		servers: masq(8000, 1, 1, 1), ask: "udp", target: vip + ":8000", requests: 3,
	}, {
		label: "sctp/" + vip + ":8000", spec: []string{"--sctp-service", vip + ":8000"}, sched: "rr",
		servers: masq(8000, 1, 1, 1), ask: "sctp", target: vip + ":8000", requests: 3,
	}, {
		label: "tcp/[" + vip6 + "]:80", spec: []string{"-t", "[" + vip6 + "]:80"}, sched: "rr",
		servers: [][]string{
			{"-r", "[" + labRS6(1).String() + "]:80", "-m"},
			{"-r", "[" + labRS6(2).String() + "]:80", "-m"},
			{"-r", "[" + labRS6(3).String() + "]:80", "-m", "-w", "4"},
		},
		ask: "http", target: "http://[" + vip6 + "]/", requests: 6, hold: "[" + vip6 + "]:80",
	}, {
		label: "tcp/" + vip2 + ":80", spec: []string{"-t", vip2 + ":80"}, sched: "rr",
		servers: [][]string{
			{"-r", labRS(1).String() + ":80", "-g"},
			{"-r", labRS(2).String() + ":80", "-i", "-w", "2"},
		},
		ask: "http", target: "http://" + vip2 + "/", requests: 4,
	}, {
		label: "fwmark/7/ipv4", spec: []string{"-f", "7"}, sched: "rr",
		servers: [][]string{
			{"-r", labRS(3).String() + ":80", "-m"},
			{"-r", labRS(1).String() + ":80", "-m", "-w", "2"},
		},
		ask: "http", target: "http://" + vip2 + ":8080/", requests: 4,
	}, {
		label: "fwmark/7/ipv6", spec: []string{"-f", "7", "-6"}, sched: "rr",
		servers: [][]string{{"-r", "[" + labRS6(3).String() + "]:80", "-m"}},
		ask:     "http", target: "http://[" + vip6 + "]:8080/", requests: 2,
	}}
}

// buildLabTable loads ip_vs, creates the lab table in the director's
// namespace with what its real servers and marks need, and removes it all
// when the test ends.
func buildLabTable(t *testing.T) []labService {
	t.Helper()
	vip2, vip6 := labEnv(t, "LAB_VIP2"), labEnv(t, "LAB_VIP6")
	inNS(t, "root", "modprobe", "ip_vs")
	t.Cleanup(func() {
		for _, c := range [][]string{
			{"director", "ipvsadm", "-C"},
			{"director", "nft", "delete", "table", "inet", "e2e"},
			{"rs1", "ip", "addr", "del", vip2 + "/32", "dev", "lo"},
			{"rs2", "ip", "addr", "del", vip2 + "/32", "dev", "tunl0"},
		} {
			if _, err := tryInNS(t, c[0], c[1:]...); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})

	services := labTable()
	for _, s := range services {
		inNS(t, "director", append(append([]string{"ipvsadm", "-A"}, s.spec...), "-s", s.sched)...)
		for _, rs := range s.servers {
			inNS(t, "director", append(append([]string{"ipvsadm", "-a"}, s.spec...), rs...)...)
		}
	}
	// rs1 takes direct-routed packets for VIP2, rs2 IPIP-tunnelled ones
	// (topology.sh's helpers).
	inNS(t, "root", "sh", "-c", `. "$LAB_LIB/topology.sh" && lab_rs_dr 1 "$1" && lab_rs_tun 2 "$1"`, "sh", vip2)
	// Mark 7: TCP to port 8080 of VIP2 and of the IPv6 VIP.
	inNS(t, "director", "nft", "add", "table", "inet", "e2e")
	inNS(t, "director", "nft", "add", "chain", "inet", "e2e", "pre", "{ type filter hook prerouting priority mangle; }")
	inNS(t, "director", "nft", "add", "rule", "inet", "e2e", "pre", "ip", "daddr", vip2, "tcp", "dport", "8080", "meta", "mark", "set", "7")
	inNS(t, "director", "nft", "add", "rule", "inet", "e2e", "pre", "ip6", "daddr", vip6, "tcp", "dport", "8080", "meta", "mark", "set", "7")
	return services
}

// sendTraffic makes every service's requests from the client namespace,
// one connection (or datagram, or association) each, and checks that a
// real server answered each.
func sendTraffic(t *testing.T, services []labService) {
	t.Helper()
	client := httpInNS("client")
	for _, s := range services {
		for i := range s.requests {
			var answer string
			var err error
			switch s.ask {
			case "http":
				var b []byte
				b, err = httpGet(context.Background(), client, s.target)
				answer = string(b)
			default:
				answer, err = tryInNS(t, "client", "labnet", s.ask, s.target)
			}
			answer = strings.TrimSpace(answer)
			if err != nil {
				t.Fatalf("%s request %d to %s: %v", s.label, i, s.target, err)
			}
			if !strings.HasPrefix(answer, "rs") {
				t.Fatalf("%s request %d to %s: answer %q is not a real server's name", s.label, i, s.target, answer)
			}
		}
	}
}

// holdConnections opens a TCP connection from the client to each service
// that has a hold address, and keeps it open (established, idle, no TCP
// keepalives that would move the counters) until the test ends. It returns
// the labels of those services.
func holdConnections(t *testing.T, services []labService) []string {
	t.Helper()
	var labels []string
	for _, s := range services {
		if s.hold == "" {
			continue
		}
		var c net.Conn
		err := inNetNS("client", func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}).Dial("tcp", s.hold)
			return err
		})
		if err != nil {
			t.Fatalf("hold a connection to %s: %v", s.hold, err)
		}
		t.Cleanup(func() { c.Close() })
		labels = append(labels, s.label)
	}
	return labels
}

// counted returns nil once every service and real server has counted
// connections, packets and bytes both ways. Outgoing ones are required of
// NAT real servers only: a direct-routing or tunnel real server may answer
// the client without the director.
func counted(stats, proc *Table) error {
	var zero []string
	for name, s := range stats.Services {
		p := proc.Services[name]
		if p == nil {
			return fmt.Errorf("service %s is in ipvsadm, not in /proc/net/ip_vs", name)
		}
		masq := false
		for server, rs := range s.Servers {
			pr := p.Servers[server]
			if pr == nil {
				return fmt.Errorf("%s %s is in ipvsadm, not in /proc/net/ip_vs", name, server)
			}
			masq = masq || pr.Forward == "masq"
			if z := zeros(rs.Stats, pr.Forward == "masq"); z != "" {
				zero = append(zero, name+" "+server+": "+z)
			}
		}
		if z := zeros(s.Stats, masq); z != "" {
			zero = append(zero, name+": "+z)
		}
	}
	if len(zero) > 0 {
		return fmt.Errorf("counters still zero after the traffic:\n%s", strings.Join(zero, "\n"))
	}
	return nil
}

// zeros names the counters of st that are zero; out: outgoing ones too.
func zeros(st Stats, out bool) string {
	var z []string
	for _, c := range []struct {
		name string
		v    uint64
		need bool
	}{
		{"connections", st.Conns, true}, {"incoming packets", st.InPkts, true}, {"incoming bytes", st.InBytes, true},
		{"outgoing packets", st.OutPkts, out}, {"outgoing bytes", st.OutBytes, out},
	} {
		if c.need && c.v == 0 {
			z = append(z, c.name)
		}
	}
	return strings.Join(z, ", ")
}

// activeConns sums a service's active connections.
func activeConns(s *Service) int64 {
	if s == nil {
		return -1
	}
	var n int64
	for _, rs := range s.Servers {
		n += rs.Active
	}
	return n
}

// mergeForLog renders what ipvsadm and /proc said, for the test's output.
func mergeForLog(stats, proc *Table) string {
	m := &Table{Services: map[string]*Service{}, Totals: proc.Totals}
	for name, s := range stats.Services {
		ms := &Service{Stats: s.Stats, Servers: map[string]*Server{}}
		if p := proc.Services[name]; p != nil {
			ms.Scheduler = p.Scheduler
		}
		for server, rs := range s.Servers {
			mrs := *rs
			if p := proc.Services[name]; p != nil && p.Servers[server] != nil {
				pr := p.Servers[server]
				mrs.Forward, mrs.Weight, mrs.Active, mrs.Inactive = pr.Forward, pr.Weight, pr.Active, pr.Inactive
			}
			ms.Servers[server] = &mrs
		}
		m.Services[name] = ms
	}
	return m.String()
}
