package actuator

import (
	"maps"

	"github.com/lvs-sidecar/lvs-sidecar/config"
)

// What the controller applied is saved to its AppliedStore (the
// --state.file) by a pass at the end of the pass, and for a targeted
// write by Run's saver goroutine: at 10,000 real servers the file takes
// milliseconds to encode, write and sync, which the next verdict change
// must not wait for. A pass hands the saver the whole set of records (a
// base); a targeted write hands it only the records it changed, which the
// saver merges into the base before it writes the file.

// saveApplied records, at the end of a pass, what the controller last
// applied to every declared real server, when it changed since the last
// save (or the last save failed). It writes at once, after any write the
// saver is making, and supersedes what the saver has pending.
func (c *Controller) saveApplied(cfg *config.Config) {
	if c.store == nil {
		return
	}
	recs := make(map[[2]string]AppliedDest)
	for i := range cfg.Services {
		s := &cfg.Services[i]
		name := s.Key.String()
		for j := range s.RealServers {
			server := s.RealServers[j].Address.String()
			mem := c.dests[destKey{name, server}]
			if mem == nil || mem.applied == nil {
				continue
			}
			recs[[2]string{name, server}] = AppliedDest{Service: name, Server: server, Present: mem.applied.present, Weight: mem.applied.weight}
		}
	}
	c.saveMu.Lock()
	retry := c.saveRetry
	c.saveMu.Unlock()
	same := !retry && maps.Equal(recs, c.savedRecords)
	if same && c.saveBase != nil {
		return
	}
	c.savedRecords = recs
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.saveMu.Lock()
	c.saveBase, c.saveDelta = maps.Clone(recs), nil
	c.saveMu.Unlock()
	if !same {
		c.storeLocked(recs)
	}
}

// saveTargeted records what targeted writes applied: recs, the real
// servers they wrote. Under Run the saver writes the file; without it
// (tests that make targeted writes by hand) it is written at once.
func (c *Controller) saveTargeted(recs []AppliedDest) {
	if c.store == nil || len(recs) == 0 {
		return
	}
	if c.savedRecords == nil {
		c.savedRecords = make(map[[2]string]AppliedDest)
	}
	for _, a := range recs {
		c.savedRecords[[2]string{a.Service, a.Server}] = a
	}
	c.saveMu.Lock()
	if c.saveDelta == nil {
		c.saveDelta = make(map[[2]string]AppliedDest, len(recs))
	}
	for _, a := range recs {
		c.saveDelta[[2]string{a.Service, a.Server}] = a
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
// then what is still pending, and closes done.
func (c *Controller) runSaver(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-c.saver:
			c.flushSave()
		case <-stop:
			c.flushSave()
			return
		}
	}
}

// flushSave merges the pending records of targeted writes into the base
// and writes the file, if any are pending.
func (c *Controller) flushSave() {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.saveMu.Lock()
	delta, base := c.saveDelta, c.saveBase
	c.saveDelta = nil
	if base == nil {
		base = make(map[[2]string]AppliedDest)
		c.saveBase = base
	}
	c.saveMu.Unlock()
	if delta == nil {
		return
	}
	maps.Copy(base, delta) // the base is the saver's: only touched under writeMu
	c.storeLocked(base)
}

// storeLocked writes recs to the store, logging a failure once per
// distinct error; the next pass retries. c.writeMu is held.
func (c *Controller) storeLocked(recs map[[2]string]AppliedDest) {
	list := make([]AppliedDest, 0, len(recs))
	for _, a := range recs {
		list = append(list, a)
	}
	err := c.store.SaveApplied(list)
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
