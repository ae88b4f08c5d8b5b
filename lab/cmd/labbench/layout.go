package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The addresses of lab/guest/topology.sh: VIPs on the director's lo, real
// server N at 203.0.113.1N in namespace rsN.
var (
	vipSidecar    = netip.MustParseAddr("198.51.100.1")
	vipKeepalived = netip.MustParseAddr("198.51.100.2")
)

const (
	// firstServicePort is the VIP port of a layout's first service; the
	// others follow.
	firstServicePort = 10000
	// firstDestPort is the port of destination 0; destination i listens
	// on firstDestPort+i of real server i%rs+1, so every destination of
	// every size is its own socket.
	firstDestPort = 20000
	// drainPort is the real servers' port in the drain phase, outside the
	// bulk range so that its listener and counter are its own.
	drainPort = 19999
	// drainServicePort is the VIP port of the drain phase's service.
	drainServicePort = 80
)

// rsAddr is real server n's address (1-based), as topology.sh numbers them.
func rsAddr(n int) netip.Addr {
	return netip.MustParseAddr("203.0.113.1" + strconv.Itoa(n))
}

// layout is a table of services on one VIP, each with up to perService
// destinations, dests in all, spread round-robin over rs real servers.
type layout struct {
	vip        netip.Addr
	dests      int
	perService int
	rs         int
}

// dest is a destination of a layout: where it is, and which real-server
// namespace (1-based) must listen for it.
type dest struct {
	addr netip.AddrPort
	rs   int
}

// service is one virtual service of a layout with its destinations.
type service struct {
	addr  netip.AddrPort
	dests []dest
}

// validate says what is wrong with l's sizes, if anything.
func (l layout) validate() error {
	switch {
	case l.dests < 1:
		return fmt.Errorf("%d destinations: want at least 1", l.dests)
	case l.perService < 1:
		return fmt.Errorf("%d destinations per service: want at least 1", l.perService)
	case l.rs < 1 || l.rs > 9:
		return fmt.Errorf("%d real servers: topology.sh numbers 1 to 9", l.rs)
	case firstDestPort+l.dests-1 > 65535:
		return fmt.Errorf("%d destinations: ports %d and up run out at %d", l.dests, firstDestPort, 65535-firstDestPort+1)
	case firstServicePort+l.services()-1 >= firstDestPort:
		return fmt.Errorf("%d services: their ports would reach the destinations' (%d)", l.services(), firstDestPort)
	}
	return nil
}

// services is how many services l has.
func (l layout) services() int { return (l.dests + l.perService - 1) / l.perService }

// table lists l's services and destinations.
func (l layout) table() []service {
	out := make([]service, 0, l.services())
	for s := range l.services() {
		svc := service{addr: netip.AddrPortFrom(l.vip, uint16(firstServicePort+s))}
		for i := s * l.perService; i < min(l.dests, (s+1)*l.perService); i++ {
			n := i%l.rs + 1
			svc.dests = append(svc.dests, dest{addr: netip.AddrPortFrom(rsAddr(n), uint16(firstDestPort+i)), rs: n})
		}
		out = append(out, svc)
	}
	return out
}

// portSpec is the listen spec (see parsePorts) of real server n's ports for
// the first dests destinations: every rs-th port from its first one.
func portSpec(n, rs, dests int) string {
	first := firstDestPort + n - 1
	last := firstDestPort + dests - 1
	if first > last {
		return ""
	}
	return fmt.Sprintf("%d-%d:%d", first, last, rs)
}

// ipvsadmRules is the table as ipvsadm -R reads it: wlc services, NAT
// destinations of weight 1 (what sidecarConfig declares).
func ipvsadmRules(svcs []service) string {
	var b strings.Builder
	for _, s := range svcs {
		fmt.Fprintf(&b, "-A -t %s -s wlc\n", s.addr)
		for _, d := range s.dests {
			fmt.Fprintf(&b, "-a -t %s -r %s -m -w 1\n", s.addr, d.addr)
		}
	}
	return b.String()
}

// checkSettings are the detection settings both checkers get, in
// lvs-sidecar's terms; keepalivedConfig translates them.
type checkSettings struct {
	kind       string        // tcp or syn (keepalived: TCP_CHECK for both)
	interval   time.Duration // our schedule; keepalived's delay_loop
	timeout    time.Duration // our timeout; keepalived's connect_timeout
	fall       int           // ours; keepalived's retry is fall-1
	retryDelay time.Duration // our fast_interval; keepalived's delay_before_retry
	// period is the controller's full pass (0: 5s). The scrape phase
	// stretches it with the checks, so that the passes over a large
	// table stay out of the idle windows it subtracts.
	period time.Duration
}

// sidecarConfig is lvs-sidecar's configuration for svcs: every real server
// checked with one check of c, rise 1 (keepalived's server is up on its
// first success), managed, weight 0 on failure.
func sidecarConfig(svcs []service, c checkSettings) string {
	var b strings.Builder
	b.WriteString("# Written by lab/cmd/labbench.\n")
	fmt.Fprintf(&b, "defaults:\n  check: {type: %s, schedule: \"@every %s\", timeout: %s, rise: 1, fall: %d, fast_interval: %s}\n",
		c.kind, c.interval, c.timeout, c.fall, c.retryDelay)
	period := c.period
	if period == 0 {
		period = 5 * time.Second
	}
	fmt.Fprintf(&b, "  on_failure: drain\ncontroller: {mode: managed, period: %s}\nservices:\n", period)
	for i, s := range svcs {
		fmt.Fprintf(&b, "  - name: s%d\n    address: %s\n    protocol: tcp\n    scheduler: wlc\n    real_servers:\n", i, s.addr)
		for _, d := range s.dests {
			fmt.Fprintf(&b, "      - {address: %s, weight: 1, forward: nat}\n", d.addr)
		}
	}
	return b.String()
}

// keepalivedConfig is keepalived's configuration for svcs with c's
// settings: a TCP_CHECK per real server, and inhibit_on_failure, so that a
// failed server gets weight 0 as ours does (not removed).
func keepalivedConfig(svcs []service, c checkSettings) string {
	var b strings.Builder
	b.WriteString("# Written by lab/cmd/labbench.\nglobal_defs {\n    router_id lab\n}\n")
	for _, s := range svcs {
		fmt.Fprintf(&b, "virtual_server %s %d {\n    delay_loop %s\n    lb_algo wlc\n    lb_kind NAT\n    protocol TCP\n",
			s.addr.Addr(), s.addr.Port(), seconds(c.interval))
		for _, d := range s.dests {
			fmt.Fprintf(&b, "    real_server %s %d {\n        weight 1\n        inhibit_on_failure\n", d.addr.Addr(), d.addr.Port())
			fmt.Fprintf(&b, "        TCP_CHECK {\n            connect_timeout %s\n            retry %d\n            delay_before_retry %s\n        }\n    }\n",
				seconds(c.timeout), c.fall-1, seconds(c.retryDelay))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// seconds writes d as keepalived's timers are written: seconds, with
// decimals only when needed (it reads them to the microsecond).
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
