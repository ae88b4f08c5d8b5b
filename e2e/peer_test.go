//go:build e2e

package e2e

import (
	"bytes"
	"context"
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
// does not parse SCTP services, so the SCTP service's real servers are
// skipped (and node_exporter's mislabelled copies of them are recognised
// and skipped too); its fwmark labels lack the family, which is taken from
// the real server's address. The skipped ones are logged.
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

	// The gauges move only when connections open, change state or
	// expire; all of that is done, but compare values node_exporter read
	// before and after lvs-sidecar's scrape, retrying while they move.
	var diffs, skipped []string
	var ours *Scrape
	poll(t, 20*time.Second, func() error {
		before := peer()
		ours = sc.scrape(t)
		after := peer()
		if !maps.Equal(before, after) {
			diffs = []string{"node_exporter's values changed during lvs-sidecar's scrape"}
		} else {
			diffs, skipped = ComparePeer(ours, after)
		}
		if len(diffs) > 0 {
			return errorList(diffs)
		}
		return nil
	})

	// Not a comparison of zeros: the held connections are active, the
	// weights differ.
	compared, active, weights := 0, int64(0), map[int64]bool{}
	for name, s := range ours.Services {
		if strings.HasPrefix(name, "sctp/") {
			continue
		}
		for _, rs := range s.Servers {
			compared++
			active += rs.Active
			weights[rs.Weight] = true
		}
	}
	if active != int64(len(held)) || len(weights) < 3 {
		t.Errorf("compared %d real servers with %d active connections (want %d) and weights %v (want at least 3 different)", compared, active, len(held), weights)
	}
	t.Logf("node_exporter agrees on %d real servers; skipped:\n%s", compared, strings.Join(skipped, "\n"))
}

// errorList is a list of differences as one error.
type errorList []string

func (e errorList) Error() string { return "\n" + strings.Join(e, "\n") }
