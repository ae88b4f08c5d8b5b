//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestNodeExporterPeer runs Debian's prometheus-node-exporter with only its
// ipvs collector beside lvs-sidecar, on the e2e table after real traffic
// and with connections held open, and checks that for every backend its
// node_ipvs_backend_connections_active, _inactive and _weight equal
// lvs-sidecar's ipvs_real_server_active_connections, _inactive_connections
// and _weight.
//
// node_exporter's labels cannot name every backend (see ComparePeer): it
// does not parse SCTP services, and reports their real servers under the
// labels of the service /proc/net/ip_vs prints before them, added to that
// service's real servers of the same address and port. Those label sets
// stand for more than one of lvs-sidecar's real servers, or for an SCTP
// one: they are skipped, and logged. Its fwmark labels lack the address
// family: fwmark/7/ipv4 and fwmark/7/ipv6 are told apart by their real
// servers' addresses.
func TestNodeExporterPeer(t *testing.T) {
	requireLab(t)
	services := buildLabTable(t)
	sc := startSidecar(t)
	ne := startDaemon(t, "director", "/metrics", "prometheus-node-exporter",
		"--collector.disable-defaults", "--collector.ipvs")
	sendTraffic(t, services)
	held := holdConnections(t, services)

	peer := func() map[PeerBackend]PeerValues {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		body, err := ne.get(ctx, "/metrics")
		if err != nil {
			t.Fatalf("scrape node_exporter: %v", err)
		}
		p, err := ParseNodeExporter(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// The gauges still move when a closed connection expires: compare
	// only values node_exporter read the same before and after
	// lvs-sidecar's scrape, retrying while they move. Where SCTP real
	// servers land in node_exporter depends on the order of
	// /proc/net/ip_vs, fixed while the table does not change.
	order := procIPVS(t).Order
	var c PeerComparison
	var ours *Scrape
	poll(t, 20*time.Second, func() error {
		before := peer()
		ours = sc.scrape(t)
		after := peer()
		if !maps.Equal(before, after) {
			return errors.New("node_exporter's values changed during lvs-sidecar's scrape")
		}
		if c = ComparePeer(ours, after, order); len(c.Diffs) > 0 {
			return errorList(c.Diffs)
		}
		return nil
	})

	// Not a comparison of zeros: the held connections are active, the
	// weights differ.
	active, weights := int64(0), map[int64]bool{}
	for _, label := range held {
		active += activeConns(ours.Services[label])
	}
	for _, s := range ours.Services {
		for _, rs := range s.Servers {
			weights[rs.Weight] = true
		}
	}
	if active != int64(len(held)) || len(weights) < 3 {
		t.Errorf("%d active connections (want %d) and weights %v (want at least 3 different)", active, len(held), weights)
	}
	t.Logf("node_exporter agrees on the %d real servers of lvs-sidecar's %d that its labels name one to one; skipped:\n%s",
		c.Compared, ours.RealServers(), strings.Join(c.Skipped, "\n"))
}

// errorList is a list of differences as one error.
type errorList []string

func (e errorList) Error() string { return "\n" + strings.Join(e, "\n") }
