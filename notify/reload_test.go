package notify

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestUpdateKeepsUnchangedTargets: a reload that leaves a target as it
// was keeps that target (its queue, its counters); a changed target is
// replaced by one with the new settings, and a removed one stops.
func TestUpdateKeepsUnchangedTargets(t *testing.T) {
	d := startTrapd(t, "authCommunity log public\n")
	keep := `    - {name: keep, address: ` + d.Addr + `, community: public}`
	log, _ := testLogger()
	n := New(testConfig(t, keep, `    - {name: change, address: `+d.Addr+`, community: wrong-community}`,
		`    - {name: gone, address: `+d.Addr+`, community: public}`), Options{Logger: log, Hostname: hostname})
	for range 5 {
		n.HealthEvent(down("10.0.0.1:80"))
	}
	n.Update(testConfig(t, keep, `    - {name: change, address: `+d.Addr+`, community: public}`))
	for range 5 {
		n.HealthEvent(down("10.0.0.2:80"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	if s, _ := n.Stats("keep"); s.Sent != 11 {
		t.Errorf("unchanged target: %+v, want the 10 changes and the stop on one target's counters", s)
	}
	if s, _ := n.Stats("change"); s.Sent != 6 {
		t.Errorf("changed target: %+v, want a new target with the 5 later changes and the stop", s)
	}
	if _, ok := n.Stats("gone"); ok {
		t.Error("a removed target is still there")
	}
	// snmptrapd accepted: keep's 11, gone's 5 (sent before it stopped),
	// the new change's 6; the old change's community was refused.
	want := 11 + 5 + 6
	// A marker sent after Close returned is printed after everything sent
	// before it: on loopback a datagram is in snmptrapd's receive queue
	// when the send returns, and snmptrapd reads its one socket in order.
	// Once the marker is printed, nothing of n is still on its way.
	marker := New(testConfig(t, `    - {name: marker, address: `+d.Addr+`, community: public}`), Options{Logger: log, Hostname: hostname})
	marker.HealthEvent(down("10.9.9.9:80"))
	d.wait(t, `LVS-SIDECAR-MIB::lsNotifyServer = STRING: 10.9.9.9:80`)
	want++
	if got := len(d.traps()); got != want {
		t.Errorf("snmptrapd printed %d notifications, want %d (with the marker):\n%s", got, want, strings.Join(d.traps(), "\n"))
	}
	marker.Close(ctx)
}
