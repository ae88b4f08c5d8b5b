package actuator

import (
	"strconv"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// AppliedStore keeps what the controller last applied to each real
// server across restarts (the --state.file); *Maintenance satisfies it.
// An AdminState that also satisfies it is used as the store.
type AppliedStore interface {
	// Applied returns the records saved by the last run, keyed by
	// service and server; known is false when there are none.
	Applied() (records map[[2]string]AppliedDest, known bool)
	SaveApplied(records []AppliedDest) error
}

// MaintenanceSetter is an AdminState the controller can put a real
// server into maintenance with: it does so for one found drained by hand
// at start (see firstSight). *Maintenance satisfies it.
type MaintenanceSetter interface {
	Apply(c MaintenanceChange) (MaintenanceEntry, bool, error)
}

// ByController is the "by" of maintenance the controller itself set.
const ByController = "lvs-sidecar"

// firstSight is called the first time the controller sees a declared
// real server since it started (or since a reload declared it). It tells
// a table state the controller left from one changed by hand while it
// was not watching, so that a restart keeps the operator's intent:
//
//   - the record of the last run matches the table: the controller's own
//     state (its drain of a dead server is restored once it is up);
//   - the table has the server drained (weight 0, declared > 0) or
//     removed, and no record says the controller did it: someone drained
//     it by hand (before the restart, or while the controller was in
//     observe mode). It is put into maintenance, saved in the state file
//     and logged, so it stays drained until an operator lifts it;
//   - another difference from the record (a weight changed by hand) is
//     drift, handled as the mode says.
func (p *pass) firstSight(s *config.Service, t *target) {
	c := p.c
	rec, has := c.savedRecord(t.key.service, t.key.server)
	k := t.kernel
	if has {
		if rec.present == k.present && (!k.present || rec.weight == k.weight) {
			spec := k
			t.mem.applied = &spec
			return
		}
	}
	drained := k.present && k.weight == 0 && t.rs.Weight > 0
	removed := !k.present && has && rec.present
	if !drained && !removed {
		if has {
			// Drift: what the controller left is the record.
			spec := destSpec{present: rec.present, weight: rec.weight, forward: t.rs.Forward,
				upper: t.rs.UpperThreshold, lower: t.rs.LowerThreshold, tunnel: t.rs.Tunnel}
			t.mem.applied = &spec
		}
		return
	}
	if c.admin.InMaintenance(t.key.service, t.key.server) {
		return
	}
	what := "drained (weight 0)"
	if removed {
		what = "removed"
	}
	why := "no record says lvs-sidecar did it"
	if has {
		why = "lvs-sidecar last left it at weight " + strconv.Itoa(int(rec.weight))
	}
	setter, ok := c.admin.(MaintenanceSetter)
	if !ok {
		c.log.Warn("real server found "+what+" at start by someone else; the controller cannot hold it in maintenance and acts on its verdict",
			"service", t.key.service, "name", s.Name, "server", t.key.server, "why", why)
		return
	}
	reason := "found " + what + " at start, not by lvs-sidecar (" + why + ")"
	if _, _, err := setter.Apply(MaintenanceChange{Service: t.key.service, Server: t.key.server, Enabled: true,
		Reason: reason, By: ByController}); err != nil {
		c.log.Error("real server found "+what+" by hand at start: kept in maintenance, but the state file could not be saved",
			"service", t.key.service, "name", s.Name, "server", t.key.server, "err", err)
	}
	c.log.Warn("real server found "+what+" at start by someone else: kept that way as maintenance until an operator lifts it",
		"service", t.key.service, "name", s.Name, "server", t.key.server, "why", why,
		"lift", "lvs-sidecar maintenance disable (or POST /api/v1/maintenance with enabled false)")
}
