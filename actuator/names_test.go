package actuator

import (
	"testing"
	"unsafe"

	"github.com/lvs-sidecar/lvs-sidecar/health"
)

// TestNamesShareLabels: with Options.Labels, the names a pass knows the
// real servers by are the health checks' strings, not copies; without,
// they are the same text.
func TestNamesShareLabels(t *testing.T) {
	cfg := webConfig(t, "", "")
	r := newRig(t, cfg, newFakeTable(webTable()))
	r.all(health.StateUp) // the fake's label sets are those of its verdicts
	shared := r.v.LabeledServers()
	if len(shared) != 4 {
		t.Fatalf("%d labeled servers, want 4", len(shared))
	}
	c, err := New(cfg, Options{Reader: r.table, Writer: r.table, Verdicts: r.v, Labels: staticLabels(shared), Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	n := c.namesOf(cfg)
	own := r.c.namesOf(cfg)
	byServer := make(map[string]string)
	for _, ls := range shared {
		byServer[ls.Server] = ls.Server
	}
	for j, server := range n.servers[0] {
		if server != own.servers[0][j] {
			t.Errorf("real server %d is %q, %q without the health checks' labels", j, server, own.servers[0][j])
		}
		if want, ok := byServer[server]; !ok || unsafe.StringData(want) != unsafe.StringData(server) {
			t.Errorf("real server %s is a copy, not the health checks' string", server)
		}
	}
	if n.services[0] != web || n.index[web] != 0 {
		t.Errorf("service %q (index %v), want %q at 0", n.services[0], n.index, web)
	}
}
