package actuator

import (
	"slices"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// What the controller applied is saved to its AppliedStore (the
// --state.file) by a pass at the end of the pass, and for a targeted
// write by Run's saver goroutine: at 10,000 real servers the file takes
// milliseconds to encode, write and sync, which the next verdict change
// must not wait for. The controller keeps one set of records (the base:
// what the last run left, then what this one saved), which a pass
// compares with what it applied and makes anew when they differ; a
// targeted write hands the saver only the records it changed, which the
// saver (or the next pass) merges into a new base before it writes the
// file. The base is sorted by service and server, as the store keeps
// its records, and never changed in place: it is the very list the store
// holds (one copy of the records, not two), and a pass compares it with
// what it applied in that order (names.sorted), one record after the
// other, without a lookup.

// appliedRecord is what the state file records of a real server, keyed
// by its service and server (AppliedDest without them: the key holds
// them once).
type appliedRecord struct {
	present bool
	weight  int32
}

// appliedList returns recs sorted by service and server, as the
// controller keeps them.
func appliedList(recs map[[2]string]AppliedDest) []AppliedDest {
	out := make([]AppliedDest, 0, len(recs))
	for k, a := range recs {
		out = append(out, AppliedDest{Service: k[0], Server: k[1], Present: a.Present, Weight: a.Weight})
	}
	slices.SortFunc(out, compareApplied)
	return out
}

// appliedLister is an AppliedStore that hands out the records it was
// loaded with as it keeps them, sorted by service and server, not to be
// changed (*Maintenance): the controller's base is then the store's own
// list.
type appliedLister interface {
	AppliedList() []AppliedDest
}

// mergeApplied returns base with the records of delta, a new list when
// delta has any (base is never changed in place: the store holds it).
func mergeApplied(base []AppliedDest, delta map[[2]string]appliedRecord) []AppliedDest {
	if len(delta) == 0 {
		return base
	}
	// Room for every record of delta: the store keeps the list as it
	// is, so append must not leave it up to twice the size.
	out := append(make([]AppliedDest, 0, len(base)+len(delta)), base...)
	added := false
	for k, a := range delta {
		rec := AppliedDest{Service: k[0], Server: k[1], Present: a.present, Weight: a.weight}
		if i, found := slices.BinarySearchFunc(out[:len(base)], rec, compareApplied); found {
			out[i] = rec
		} else {
			out, added = append(out, rec), true
		}
	}
	if added {
		slices.SortFunc(out, compareApplied)
	}
	return out
}

// saveApplied records, at the end of a pass, what the controller last
// applied to every declared real server, when it changed since the last
// save (or the last save failed, or targeted writes are pending). It
// writes at once, after any write the saver is making, and supersedes
// what the saver has pending. The records are compared in place with the
// saver's base, which is refilled only when they differ: a converged pass
// makes no map.
func (c *Controller) saveApplied(cfg *config.Config) {
	if c.store == nil {
		return
	}
	n := c.namesOf(cfg)
	// A converged pass, the common case, has nothing to write: it finds
	// that under saveMu alone (the base changes only with both locks
	// held), without waiting for a write the saver is making.
	c.saveMu.Lock()
	idle := c.saveDelta == nil && !c.saveRetry && c.appliedIs(n, c.saveBase)
	c.saveMu.Unlock()
	if idle {
		return
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.saveMu.Lock()
	base, delta, retry := mergeApplied(c.saveBase, c.saveDelta), c.saveDelta, c.saveRetry
	c.saveDelta = nil
	same := c.appliedIs(n, base)
	if !same {
		count := 0
		c.eachApplied(n, func(destKey, appliedRecord) { count++ })
		base = make([]AppliedDest, 0, count)
		c.eachApplied(n, func(k destKey, a appliedRecord) {
			base = append(base, AppliedDest{Service: k.service, Server: k.server, Present: a.present, Weight: a.weight})
		})
	}
	c.saveBase = base
	c.saveMu.Unlock()
	if !same || retry || delta != nil {
		c.storeLocked(base)
	}
}

// eachApplied calls fn with the record of every real server of n's
// configuration that the controller applied something to, sorted by
// service and server.
func (c *Controller) eachApplied(n *names, fn func(k destKey, a appliedRecord)) {
	for _, p := range n.sorted {
		k := n.key(int(p.service), int(p.server))
		mem := c.dests[k]
		if mem == nil || mem.applied == nil {
			continue
		}
		fn(k, appliedRecord{present: mem.applied.present, weight: mem.applied.weight})
	}
}

// appliedIs reports whether recs (sorted by service and server) holds
// the record of every real server of n's configuration that the
// controller applied something to, and no other.
func (c *Controller) appliedIs(n *names, recs []AppliedDest) bool {
	count, same := 0, true
	c.eachApplied(n, func(k destKey, a appliedRecord) {
		if same {
			same = count < len(recs) && recs[count] == AppliedDest{Service: k.service, Server: k.server, Present: a.present, Weight: a.weight}
		}
		count++
	})
	return same && count == len(recs)
}

// savedRecord returns the record of a real server that the state file
// holds or is about to: what the last run left until the first pass
// saved, then what this run saved, targeted writes included.
func (c *Controller) savedRecord(service, server string) (appliedRecord, bool) {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	k := [2]string{service, server}
	if a, ok := c.saveDelta[k]; ok {
		return a, true
	}
	i, found := slices.BinarySearchFunc(c.saveBase, AppliedDest{Service: service, Server: server}, compareApplied)
	if !found {
		return appliedRecord{}, false
	}
	return appliedRecord{present: c.saveBase[i].Present, weight: c.saveBase[i].Weight}, true
}

// saveTargeted records what targeted writes applied: recs, the real
// servers they wrote. Under Run the saver writes the file; without it
// (tests that make targeted writes by hand) it is written at once.
func (c *Controller) saveTargeted(recs []AppliedDest) {
	if c.store == nil || len(recs) == 0 {
		return
	}
	c.saveMu.Lock()
	if c.saveDelta == nil {
		c.saveDelta = make(map[[2]string]appliedRecord, len(recs))
	}
	for _, a := range recs {
		c.saveDelta[[2]string{a.Service, a.Server}] = appliedRecord{present: a.Present, weight: a.Weight}
	}
	c.saveMu.Unlock()
	if c.saver == nil {
		c.flushSave()
		return
	}
	select {
	case c.saver <- struct{}{}:
	default:
	}
}

// runSaver writes what the targeted writes hand it until stop is closed,
// then what is still pending, and closes done. It writes at most once per
// saveGap: the records that come meanwhile wait for one write of the
// file, and a burst of verdict changes (a rack lost, 10,000 records)
// costs the file's encoding and sync four times a second, not once per
// change, on the CPU the controller's next targeted write needs.
func (c *Controller) runSaver(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	var gap *time.Timer
	for {
		select {
		case <-c.saver:
			c.flushSave()
		case <-stop:
			c.flushSave()
			return
		}
		if gap == nil {
			gap = time.NewTimer(saveGap)
		} else {
			gap.Reset(saveGap)
		}
		select {
		case <-gap.C:
		case <-stop:
			c.flushSave()
			return
		}
	}
}

// saveGap is the least time between two writes of the state file by the
// saver. A crash within it loses at most its targeted writes' records:
// the next start then takes those drains for hand-made ones and keeps
// them in maintenance, the safe way to be wrong.
const saveGap = 250 * time.Millisecond

// flushSave merges the pending records of targeted writes into the base
// and writes the file, if any are pending.
func (c *Controller) flushSave() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.saveMu.Lock()
	delta := c.saveDelta
	c.saveDelta = nil
	base := mergeApplied(c.saveBase, delta)
	c.saveBase = base
	c.saveMu.Unlock()
	if delta == nil {
		return
	}
	// Read without saveMu: only a holder of writeMu changes the base.
	c.storeLocked(base)
}

// storeLocked writes recs to the store, logging a failure once per
// distinct error; the next pass retries. c.writeMu is held.
func (c *Controller) storeLocked(recs []AppliedDest) {
	err := c.store.SaveApplied(recs)
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if err != nil {
		c.saveRetry = true
		if msg := err.Error(); msg != c.saveErr {
			c.saveErr = msg
			c.log.Error("cannot save what the controller applied to --state.file; a restart may take its own drains for hand-made ones", "err", err)
		}
		return
	}
	c.saveRetry, c.saveErr = false, ""
}
