//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

const (
	// writePort is the port of the write path test's virtual services;
	// the real servers answer HTTP on port 80.
	writePort = 8003
	// writeFWMark is the firewall mark of its fwmark service.
	writeFWMark = 3003
	// writeNFTable is the nftables table that marks the fwmark service's
	// packets in the director.
	writeNFTable = "e2e_write_path"
)

// TestWritePath proves the write path, ipvs.Writer over generic netlink,
// on the real kernel with real client requests: every change the Writer
// makes to the director's table shows in what the Reader and ipvsadm read
// back and in which real servers answer the client, and writes that cannot
// apply fail with the package's sentinel errors without changing anything.
func TestWritePath(t *testing.T) {
	requireLab(t)
	l := newWriteLab(t)

	vip := netip.MustParseAddr(labEnv(t, "LAB_VIP"))
	web := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: vip, Port: writePort}
	url := "http://" + netip.AddrPortFrom(vip, writePort).String() + "/"
	dests := writeRealServers(t, ipvs.FamilyIPv4)
	// rs3 has thresholds, so that re-adding it shows they are written.
	dests[2].Weight, dests[2].UpperThreshold, dests[2].LowerThreshold = 2, 500, 50
	withWeight := func(i int, weight int32) []ipvs.Destination {
		ds := append([]ipvs.Destination(nil), dests...)
		ds[i].Weight = weight
		return ds
	}

	if !t.Run("new service: every real server answers", func(t *testing.T) {
		l.create(t, &ipvs.Service{ServiceKey: web, Scheduler: "rr"}, dests)
		l.expectDests(t, web, "rr", dests)
		l.expectAnswers(t, url, "rs1", "rs2", "rs3")
	}) {
		t.FailNow()
	}

	t.Run("weight 0: rs2 gets no new connection", func(t *testing.T) {
		drained := withWeight(1, 0)
		if err := l.w.UpdateDestination(l.ctx(t), web, &drained[1]); err != nil {
			t.Fatalf("UpdateDestination: %v", err)
		}
		l.expectDests(t, web, "rr", drained)
		l.expectAnswers(t, url, "rs1", "rs3")
	})

	t.Run("weight restored: rs2 answers again", func(t *testing.T) {
		if err := l.w.UpdateDestination(l.ctx(t), web, &dests[1]); err != nil {
			t.Fatalf("UpdateDestination: %v", err)
		}
		l.expectDests(t, web, "rr", dests)
		l.expectAnswers(t, url, "rs1", "rs2", "rs3")
	})

	t.Run("rs3 deleted gets nothing, added again answers", func(t *testing.T) {
		rs3 := dests[2]
		if err := l.w.DeleteDestination(l.ctx(t), web, netip.AddrPortFrom(rs3.Address, rs3.Port)); err != nil {
			t.Fatalf("DeleteDestination: %v", err)
		}
		l.expectDests(t, web, "rr", dests[:2])
		l.expectAnswers(t, url, "rs1", "rs2")

		if err := l.w.CreateDestination(l.ctx(t), web, &rs3); err != nil {
			t.Fatalf("CreateDestination: %v", err)
		}
		l.expectDests(t, web, "rr", dests)
		l.expectAnswers(t, url, "rs1", "rs2", "rs3")
	})

	t.Run("writes that cannot apply fail and change nothing", func(t *testing.T) {
		missing := web
		missing.Port = writePort + 1
		dup := dests[0]
		dup.Weight = 7
		absent := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.99"), 80)
		ctx := l.ctx(t)
		cases := []struct {
			name  string
			write func() error
			want  error
			// mention is what the message must name.
			mention []string
		}{
			{"update a real server of a missing service", func() error { return l.w.UpdateDestination(ctx, missing, &dests[0]) },
				ipvs.ErrNotFound, []string{missing.String(), dests[0].Server()}},
			{"delete a real server of a missing service", func() error {
				return l.w.DeleteDestination(ctx, missing, netip.AddrPortFrom(dests[0].Address, dests[0].Port))
			}, ipvs.ErrNotFound, []string{missing.String(), dests[0].Server()}},
			{"update a missing service", func() error {
				return l.w.UpdateService(ctx, &ipvs.Service{ServiceKey: missing, Scheduler: "wrr"})
			}, ipvs.ErrNotFound, []string{missing.String()}},
			{"delete a missing real server", func() error { return l.w.DeleteDestination(ctx, web, absent) },
				ipvs.ErrNotFound, []string{web.String(), absent.String()}},
			{"add a real server twice", func() error { return l.w.CreateDestination(ctx, web, &dup) },
				ipvs.ErrExists, []string{web.String(), dup.Server()}},
			{"create a service twice", func() error {
				return l.w.CreateService(ctx, &ipvs.Service{ServiceKey: web, Scheduler: "wrr"})
			}, ipvs.ErrExists, []string{web.String()}},
		}
		before := l.table(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				err := c.write()
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				for _, m := range c.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("the message does not name %s: %v", m, err)
					}
				}
				t.Log(err)
			})
		}
		if after := l.table(t); !reflect.DeepEqual(after, before) {
			t.Errorf("the failed writes changed the table:\nbefore %+v\nafter  %+v", before, after)
		}
		l.expectAnswers(t, url, "rs1", "rs2", "rs3")
	})

	vip2 := labEnv(t, "LAB_VIP2")
	vip6 := netip.MustParseAddr(labEnv(t, "LAB_VIP6"))
	for _, c := range []struct {
		name  string
		key   ipvs.ServiceKey
		dests []ipvs.Destination
		url   string
		// setup makes the service's traffic reach it.
		setup func(t *testing.T)
	}{
		{
			name:  "ipv6 service",
			key:   ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Address: vip6, Port: writePort},
			dests: writeRealServers(t, ipvs.FamilyIPv6),
			url:   "http://" + netip.AddrPortFrom(vip6, writePort).String() + "/",
			setup: func(*testing.T) {},
		},
		{
			name:  "fwmark service",
			key:   ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: writeFWMark},
			dests: writeRealServers(t, ipvs.FamilyIPv4),
			url:   fmt.Sprintf("http://%s:%d/", vip2, writePort),
			setup: func(t *testing.T) { writeMarkTraffic(t, vip2) },
		},
	} {
		t.Run(c.name+": create, drain, delete", func(t *testing.T) {
			c.setup(t)
			l.create(t, &ipvs.Service{ServiceKey: c.key, Scheduler: "rr"}, c.dests)
			l.expectDests(t, c.key, "rr", c.dests)
			l.expectAnswers(t, c.url, "rs1", "rs2", "rs3")

			drained := append([]ipvs.Destination(nil), c.dests...)
			drained[1].Weight = 0
			if err := l.w.UpdateDestination(l.ctx(t), c.key, &drained[1]); err != nil {
				t.Fatalf("UpdateDestination: %v", err)
			}
			l.expectDests(t, c.key, "rr", drained)
			l.expectAnswers(t, c.url, "rs1", "rs3")

			if err := l.w.DeleteService(l.ctx(t), c.key); err != nil {
				t.Fatalf("DeleteService: %v", err)
			}
			l.expectNoService(t, c.key)
			l.expectRefused(t, c.url)
		})
	}
}

// writeRealServers returns rs1..rs3 of the lab (rsN at 203.0.113.1N and
// 2001:db8:2::1N, HTTP on port 80, see lab/guest/topology.sh), addresses of
// one family, as NAT destinations of weight 1.
func writeRealServers(t *testing.T, family uint16) []ipvs.Destination {
	t.Helper()
	if n := labEnv(t, "LAB_RS_COUNT"); n != "3" {
		t.Fatalf("the lab has %s real servers, the test wants 3", n)
	}
	var ds []ipvs.Destination
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprintf("203.0.113.1%d", i)
		if family == ipvs.FamilyIPv6 {
			addr = fmt.Sprintf("2001:db8:2::1%d", i)
		}
		ds = append(ds, ipvs.Destination{
			Family: family, Address: netip.MustParseAddr(addr), Port: 80,
			Forward: ipvs.ForwardMasq, Weight: 1,
		})
	}
	return ds
}

// writeMarkTraffic makes the director mark what the client sends to
// vip:writePort with writeFWMark, until the test ends.
func writeMarkTraffic(t *testing.T, vip string) {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "mark.nft")
	ruleset := fmt.Sprintf(`table ip %s {
	chain prerouting {
		type filter hook prerouting priority mangle;
		ip daddr %s tcp dport %d meta mark set %d
	}
}
`, writeNFTable, vip, writePort, writeFWMark)
	if err := os.WriteFile(rules, []byte(ruleset), 0o644); err != nil {
		t.Fatal(err)
	}
	inNS(t, "director", "nft", "-f", rules)
	t.Cleanup(func() {
		if _, err := tryInNS(t, "director", "nft", "delete", "table", "ip", writeNFTable); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}
