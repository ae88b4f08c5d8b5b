package actuator

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// The tunnel service: a GUE real server (port 6080, checksums), a GRE one
// (checksums) and an IPv6 GUE one (remote checksum offload) behind an IPv4
// VIP.
const (
	tunSvc = "tcp/192.0.2.20:80"
	tunGUE = "10.0.1.1:80"
	tunGRE = "10.0.1.2:80"
	tunV6  = "[2001:db8::3]:80"
)

var tunKey = ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.20"), Port: 80}

// declaredTunnels are the settings each server of tunConfig declares.
var declaredTunnels = map[string]config.Tunnel{
	tunGUE: {Type: ipvs.TunnelGUE, Port: 6080, Flags: ipvs.TunnelChecksum},
	tunGRE: {Type: ipvs.TunnelGRE, Flags: ipvs.TunnelChecksum},
	tunV6:  {Type: ipvs.TunnelGUE, Port: 5555, Flags: ipvs.TunnelRemoteChecksum},
}

func tunConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	return parseConfig(t, `
services:
  - name: tun
    address: 192.0.2.20:80
    scheduler: wrr
`+indent(extra, "    ")+`
    real_servers:
      - {address: `+tunGUE+`, weight: 2, forward: tun, tunnel: {type: gue, port: 6080, checksum: csum}}
      - {address: `+tunGRE+`, weight: 3, forward: tun, tunnel: {type: gre, checksum: csum}}
      - {address: "`+tunV6+`", weight: 1, forward: tun, tunnel: {type: gue, port: 5555, checksum: remcsum}}
`)
}

// wantTunnels fails unless every present tunnel server of the table has
// its declared settings.
func (r *rig) wantTunnels(when string) {
	r.t.Helper()
	for server, want := range declaredTunnels {
		d, ok := r.table.dest(tunKey, server)
		if !ok {
			continue
		}
		got := config.Tunnel{Type: d.TunnelType, Port: d.TunnelPort, Flags: d.TunnelFlags}
		if d.Forward != ipvs.ForwardTunnel || got != want {
			r.t.Errorf("%s: %s is %s %s, declared tunnel %s", when, server, d.Forward, tunnelText(got), tunnelText(want))
		}
	}
}

func (r *rig) allTun(state health.State) {
	for s := range declaredTunnels {
		r.v.set(tunSvc, s, state)
	}
}

// Every write the controller makes to a tunnel real server (add, drain,
// restore, re-weight, slow start) carries its declared tunnel type, port
// and checksum flags, so the kernel keeps them.
func TestTunnelSettingsKeptByEveryWrite(t *testing.T) {
	table := newFakeTable(ipvs.Service{ServiceKey: tunKey, Scheduler: "wrr", Netmask: 0xffffffff})
	r := newRig(t, tunConfig(t, "slow_start: 10s"), table)
	r.allTun(health.StateUp)
	// New servers start slowly too.
	wantWrites(t, r.pass(),
		"create "+tunSvc+" "+tunGUE+" w=1 fwd=tunnel th=0/0 tun=gue:6080:csum",
		"create "+tunSvc+" "+tunGRE+" w=1 fwd=tunnel th=0/0 tun=gre:0:csum",
		"create "+tunSvc+" "+tunV6+" w=1 fwd=tunnel th=0/0 tun=gue:5555:remcsum")
	r.wantTunnels("added")
	r.ramp("ramping up after the add")

	r.v.set(tunSvc, tunGUE, health.StateDown)
	r.v.set(tunSvc, tunGRE, health.StateDown)
	wantWrites(t, r.pass(),
		"update "+tunSvc+" "+tunGUE+" w=0 fwd=tunnel th=0/0 tun=gue:6080:csum",
		"update "+tunSvc+" "+tunGRE+" w=0 fwd=tunnel th=0/0 tun=gre:0:csum")
	r.wantTunnels("drained")

	// Back up: the slow start raises the weight step by step.
	r.v.set(tunSvc, tunGUE, health.StateUp)
	r.v.set(tunSvc, tunGRE, health.StateUp)
	r.ramp("restoring")
	r.wantTunnels("restored")
}

// ramp runs passes through a slow start, checking the tunnels at each
// step, until every tunnel server has its declared weight.
func (r *rig) ramp(when string) {
	r.t.Helper()
	writes := 0
	for range 30 {
		writes += len(r.pass())
		r.wantTunnels(when)
		r.clock.Advance(time.Second)
	}
	if writes < 2 {
		r.t.Errorf("%s: %d writes during the slow start, want a ramp of several", when, writes)
	}
	for server, w := range map[string]int32{tunGUE: 2, tunGRE: 3, tunV6: 1} {
		if got := r.table.weight(tunKey, server); got != w {
			r.t.Errorf("%s: %s at weight %d after the slow start, want %d", when, server, got, w)
		}
	}
}

// With on_failure: remove, the restore adds the server back with its
// tunnel settings.
func TestTunnelSettingsKeptByRemoveAndRestore(t *testing.T) {
	r := newRig(t, tunConfig(t, "on_failure: remove"), newFakeTable(ipvs.Service{ServiceKey: tunKey, Scheduler: "wrr", Netmask: 0xffffffff}))
	r.allTun(health.StateUp)
	r.pass()
	r.v.set(tunSvc, tunGRE, health.StateDown)
	wantWrites(t, r.pass(), "delete "+tunSvc+" "+tunGRE)
	r.v.set(tunSvc, tunGRE, health.StateUp)
	wantWrites(t, r.pass(), "create "+tunSvc+" "+tunGRE+" w=3 fwd=tunnel th=0/0 tun=gre:0:csum")
	r.wantTunnels("restored")
}

// A tunnel changed by hand (ipvsadm -e --tun-type ipip) is drift: managed
// mode puts the declared settings back, observe mode reports it.
func TestTunnelDrift(t *testing.T) {
	for _, mode := range []string{"managed", "observe"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t, tunConfig(t, ""), newFakeTable(ipvs.Service{ServiceKey: tunKey, Scheduler: "wrr", Netmask: 0xffffffff}))
			r.c.Update(parseConfig(t, tunConfigText(mode)))
			r.allTun(health.StateUp)
			r.pass()
			r.table.handEditTunnel(tunKey, tunGUE, ipvs.TunnelIPIP, 0, 0)
			writes := r.pass()
			if n := r.logs.count("real server changed by hand", "server="+tunGUE, `table="weight 2, forward tunnel, thresholds 0/0, tunnel ipip"`,
				`controller_set="weight 2, forward tunnel, thresholds 0/0, tunnel gue port 6080 csum"`); n != 1 {
				t.Errorf("%d drift lines naming the tunnel, want 1:\n%s", n, r.logs)
			}
			if mode == "observe" {
				wantWrites(t, writes)
				return
			}
			wantWrites(t, writes, "update "+tunSvc+" "+tunGUE+" w=2 fwd=tunnel th=0/0 tun=gue:6080:csum")
			r.wantTunnels("corrected")
			if st := r.rsStatus(tunSvc, tunGUE); st.Drift || st.Pending {
				t.Errorf("after the correction: %+v", st)
			}
		})
	}
}

func tunConfigText(mode string) string {
	return `
services:
  - name: tun
    address: 192.0.2.20:80
    scheduler: wrr
    real_servers:
      - {address: ` + tunGUE + `, weight: 2, forward: tun, tunnel: {type: gue, port: 6080, checksum: csum}}
      - {address: ` + tunGRE + `, weight: 3, forward: tun, tunnel: {type: gre, checksum: csum}}
      - {address: "` + tunV6 + `", weight: 1, forward: tun, tunnel: {type: gue, port: 5555, checksum: remcsum}}
controller: {mode: ` + mode + `}
`
}

func TestTunnelText(t *testing.T) {
	for want, tun := range map[string]config.Tunnel{
		"ipip":               {},
		"gue port 6080 csum": {Type: ipvs.TunnelGUE, Port: 6080, Flags: ipvs.TunnelChecksum},
		"gue port 1 remcsum": {Type: ipvs.TunnelGUE, Port: 1, Flags: ipvs.TunnelRemoteChecksum},
		"gre nocsum":         {Type: ipvs.TunnelGRE},
		"ipip csum":          {Flags: ipvs.TunnelChecksum},
	} {
		if got := tunnelText(tun); got != want {
			t.Errorf("tunnelText(%+v) = %q, want %q", tun, got, want)
		}
	}
}
