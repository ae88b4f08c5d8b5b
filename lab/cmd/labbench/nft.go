package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// The checks are counted on the wire, the same way for both programs:
// every TCP SYN the director sends to a real server's benchmark port, in
// nftables counters of the director's namespace (the output hook sees
// connect()'s SYNs and the raw SYNs of lvs-sidecar's syn check alike).
// Retransmitted SYNs count too: there are none while every listener is
// up. One counter is read with one nft command, at one moment.
const nftTable = "bench"

// nftSetup adds the counters: "bulk" for the destinations' ports, "drain"
// for the drain phase's killed real server (real server 1), "ping" for
// the echo requests of lvs-sidecar's icmp checks (keepalived has none to
// compare with here).
func nftSetup() error {
	syn := []string{"tcp", "flags", "&", "(syn|ack)", "==", "syn"}
	cmds := [][]string{
		{"add", "table", "ip", nftTable},
		{"add", "counter", "ip", nftTable, "bulk"},
		{"add", "counter", "ip", nftTable, "drain"},
		{"add", "counter", "ip", nftTable, "ping"},
		{"add", "chain", "ip", nftTable, "out", "{ type filter hook output priority 0; policy accept; }"},
		append(append([]string{"add", "rule", "ip", nftTable, "out", "ip", "daddr", "203.0.113.0/24",
			"tcp", "dport", fmt.Sprintf("%d-65535", firstDestPort)}, syn...), "counter", "name", "bulk"),
		append(append([]string{"add", "rule", "ip", nftTable, "out", "ip", "daddr", rsAddr(1).String(),
			"tcp", "dport", strconv.Itoa(drainPort)}, syn...), "counter", "name", "drain"),
		{"add", "rule", "ip", nftTable, "out", "ip", "daddr", "203.0.113.0/24", "icmp", "type", "echo-request", "counter", "name", "ping"},
	}
	for _, c := range cmds {
		if _, err := runCmd(append([]string{"nft"}, c...)...); err != nil {
			return err
		}
	}
	return nil
}

var nftPackets = regexp.MustCompile(`packets (\d+)`)

// count is a counter's value and when it was read: the middle of the nft
// command, which takes a while under emulation.
type count struct {
	n  int64
	at time.Time
}

// nftCount reads counter name.
func nftCount(name string) (count, error) {
	t0 := time.Now()
	out, err := runCmd("nft", "list", "counter", "ip", nftTable, name)
	if err != nil {
		return count{}, err
	}
	at := t0.Add(time.Since(t0) / 2)
	m := nftPackets.FindSubmatch(out)
	if m == nil {
		return count{}, fmt.Errorf("nft list counter %s: no packet count in %q", name, out)
	}
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	return count{n, at}, err
}
