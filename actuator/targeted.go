package actuator

import (
	"context"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/config"
	"github.com/lvs-sidecar/lvs-sidecar/health"
	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// A verdict change is written at once for its real server alone, from
// the table as the controller last knew it (what its last full pass read,
// then wrote, and the targeted writes since), without reading the table:
// a full read takes milliseconds at thousands of real servers, one write
// tens of microseconds. The decision is the pass's own (judge,
// decideDest, dest), under the same rules; whenever the targeted write
// cannot be sure it does what a full pass would, a full pass runs
// instead. A full pass still follows within followUp of the first
// targeted write (level-triggered: it reads the table and corrects what
// the targeted writes could not know).

// followUp is how soon after a targeted write the full pass that checks
// it runs, unless one is due sooner (a slow-start step, a load step, the
// period). Long enough that the verdicts of a burst (a rack failing
// within one check interval) are written before it, whose table read
// and decisions would delay them; short next to the period.
const followUp = time.Second

// maxQueued bounds the real servers whose verdict changes wait for a
// targeted write; beyond it they are left to one full pass.
const maxQueued = 4096

// Results of a verdict change's targeted handling, the "result" label of
// ipvs_controller_targeted_total.
const (
	targetedWritten   = "written"   // written at once
	targetedUnchanged = "unchanged" // the table already was what the controller wants
	targetedFullPass  = "full_pass" // left to a full pass
)

var targetedResults = []string{targetedWritten, targetedUnchanged, targetedFullPass}

// verdictLookup is a VerdictSource that gives one real server's status
// without copying every server's; *health.Scheduler satisfies it. A
// targeted write reads the statuses of one service's real servers with
// it, or takes the whole Status when the source cannot.
type verdictLookup interface {
	StatusOf(service, server string) (health.ServerStatus, bool)
}

// verdictList is a VerdictSource that gives every real server's verdict
// without its checks' statuses (Checks nil), in Status's order;
// *health.Scheduler satisfies it. A pass reads the verdicts with it,
// and a down server's checks, to log them, with verdictLookup.
type verdictList interface {
	Verdicts() []health.ServerStatus
}

// verdictHook is a VerdictSource that calls a function in the step that
// changes a verdict, before its subscribers hear of it; *health.Scheduler
// satisfies it. The function must not block: noteVerdict queues and wakes.
type verdictHook interface {
	OnVerdict(fn func(health.Event)) (cancel func())
}

// The program's verdict source is a health.Scheduler.
var (
	_ verdictLookup = (*health.Scheduler)(nil)
	_ verdictHook   = (*health.Scheduler)(nil)
)

// lastTable is what the last full pass that read the table leaves for
// the targeted writes; the table itself is in each destination's
// destMemory.known and each service's serviceMemory.
type lastTable struct {
	cfg     *config.Config // the configuration the pass used
	pin     *ipvs.Snapshot // the namespace it read, for PinNetNS
	sysctls Sysctls
	// services indexes cfg.Services (and the Status of the pass) by
	// service key.
	services map[string]int
}

// verdictQueue holds the real servers whose verdict changed since the
// controller last looked, each once, with the time of its earliest
// change.
type verdictQueue struct {
	order    []destKey
	since    map[destKey]time.Time
	overflow bool
}

// noteVerdict is the controller's health subscription (its OnVerdict hook
// when the source has one): it queues the verdict change for the
// controller's goroutine and wakes it. It never blocks on the controller
// (a pass or a write in progress) and never calls the verdict source.
func (c *Controller) noteVerdict(ev health.Event) {
	at := ev.Time
	if at.IsZero() {
		at = c.clock.Now()
	}
	k := destKey{ev.Service, ev.Server}
	c.queueMu.Lock()
	q := &c.queue
	if _, ok := q.since[k]; !ok {
		if len(q.order) >= maxQueued {
			q.overflow = true
		} else {
			if q.since == nil {
				q.since = make(map[destKey]time.Time)
			}
			q.since[k] = at
			q.order = append(q.order, k)
		}
	}
	c.queueMu.Unlock()
	select {
	case c.verdict <- struct{}{}:
	default:
	}
}

// takeQueue empties the queue and returns what it held.
func (c *Controller) takeQueue() verdictQueue {
	c.queueMu.Lock()
	defer c.queueMu.Unlock()
	q := c.queue
	c.queue = verdictQueue{}
	return q
}

// targeted handles the queued verdict changes with targeted writes. full
// is true when a full pass must run instead, for some or all of them;
// after a write, followIn is how soon the full pass that checks it should
// come (0: no write).
func (c *Controller) targeted(ctx context.Context) (full bool, followIn time.Duration) {
	q := c.takeQueue()
	if len(q.order) == 0 && !q.overflow {
		return false, 0
	}
	c.passMu.Lock()
	defer c.passMu.Unlock()
	cfg, last := c.config(), c.last
	// Nothing to start from, a configuration the last pass did not use,
	// or a suspect fleet failure (which every verdict may end).
	if q.overflow || last == nil || last.cfg != cfg || c.fleetSuspect {
		c.countTargeted(targetedFullPass, c.declared(cfg, q.order))
		return true, 0
	}
	ctx, cancel := c.clock.WithTimeout(ctx, c.passTimeout)
	defer cancel()
	p := &pass{c: c, ctx: ipvs.PinNetNS(ctx, last.pin), mode: cfg.Controller.Mode, now: c.clock.Now(),
		next: period(cfg), sysctls: last.sysctls, targeted: true, names: c.namesOf(cfg)}
	// One service at a time, in the order their first change came.
	byService := make(map[string][]destKey)
	var services []string
	for _, k := range q.order {
		if byService[k.service] == nil {
			services = append(services, k.service)
		}
		byService[k.service] = append(byService[k.service], k)
	}
	var all []health.ServerStatus // Status, for a source without StatusOf
	wrote := false
	for n, name := range services {
		i, ok := last.services[name]
		if !ok {
			continue // not declared: the controller does not act on it
		}
		ok, w := p.targetService(&cfg.Services[i], i, byService[name], q.since, &all)
		wrote = wrote || w
		if !ok {
			var left []destKey
			for _, name := range services[n+1:] {
				left = append(left, byService[name]...)
			}
			c.countTargeted(targetedFullPass, c.declared(cfg, left))
			full = true
			break
		}
	}
	if !wrote {
		return full, 0
	}
	c.saveTargeted(p.saved)
	return full, min(followUp, p.next)
}

// targetService handles the verdict changes of keys, real servers of s
// (the i-th service of the configuration); ok is false when a full pass
// must decide instead. It writes only keys' destinations, and only when
// the service's panic and fail-open states stay as they are.
func (p *pass) targetService(s *config.Service, i int, keys []destKey, since map[destKey]time.Time, all *[]health.ServerStatus) (ok, wrote bool) {
	c := p.c
	name := p.names.services[i]
	queued := make(map[string]bool, len(keys))
	for _, k := range keys {
		queued[k.server] = true
	}
	// changed are the declared real servers among keys; a full pass
	// handles them when the targeted write cannot.
	changed := make(map[string]bool, len(keys))
	targets := make([]*target, len(s.RealServers))
	buf := make([]target, len(s.RealServers))
	known := true
	for j := range s.RealServers {
		rs := &s.RealServers[j]
		k := p.names.key(i, j)
		if queued[k.server] {
			changed[k.server] = true
		}
		dm := c.dests[k]
		if dm == nil || !dm.isKnown {
			known = false // not seen by the last pass, or a write of it failed since
			continue
		}
		buf[j] = target{rs: rs, key: k, mem: dm, kernel: dm.known}
		targets[j] = &buf[j]
	}
	mem := c.services[s.Key]
	fullPass := func() (bool, bool) {
		c.countTargeted(targetedFullPass, len(changed))
		return false, wrote
	}
	if len(changed) == 0 {
		return true, false // undeclared real servers: not the controller's
	}
	if !known || mem == nil || !mem.ready {
		return fullPass() // the service itself may need a write, or the last pass did not see it all
	}
	p.verdicts = verdictIndex{byKey: c.serviceVerdicts(targets, all)}
	st := ServiceStatus{Name: s.Name, Service: name, InTable: true, PanicThreshold: s.PanicThreshold}
	capa := p.judge(s, mem, targets, mem.undeclaredWeight, &st)
	// A change of panic or fail open is the whole service's; no judged
	// server up may be a fleet-wide failure, which is every service's.
	if st.Panic != mem.panic || st.FailOpen != mem.failOpen || st.Up == 0 {
		return fullPass()
	}
	var done []RealServerStatus
	for _, t := range targets {
		if !changed[t.key.server] {
			continue
		}
		p.decideDest(s, &st, t, capa)
		p.dest(s, t, true)
		if p.retry {
			return fullPass()
		}
		delete(changed, t.key.server)
		result := targetedUnchanged
		if !t.wrote.IsZero() {
			result, wrote = targetedWritten, true
			c.latency.Observe(t.wrote.Sub(since[t.key]).Seconds())
			a := t.mem.applied
			p.saved = append(p.saved, AppliedDest{Service: t.key.service, Server: t.key.server, Present: a.present, Weight: a.weight})
		}
		c.countTargeted(result, 1)
		done = append(done, t.st)
	}
	c.patchStatus(i, st, done)
	return true, wrote
}

// serviceVerdicts returns the current statuses of the targets' real
// servers, by key: from StatusOf when the verdict source has it, else from
// its whole Status (taken once into all for every service of a targeted
// write).
func (c *Controller) serviceVerdicts(targets []*target, all *[]health.ServerStatus) map[destKey]*health.ServerStatus {
	out := make(map[destKey]*health.ServerStatus, len(targets))
	if lookup, ok := c.verdicts.(verdictLookup); ok {
		for _, t := range targets {
			if vs, ok := lookup.StatusOf(t.key.service, t.key.server); ok {
				out[t.key] = &vs
			}
		}
		return out
	}
	if *all == nil {
		*all = c.verdicts.Status()
	}
	want := make(map[destKey]bool, len(targets))
	for _, t := range targets {
		want[t.key] = true
	}
	for j := range *all {
		vs := &(*all)[j]
		if k := (destKey{vs.Service, vs.Server}); want[k] {
			out[k] = vs
		}
	}
	return out
}

// patchStatus puts what a targeted write found for the i-th service and
// the real servers in done into what Status and the metrics show, until
// the next pass publishes its own.
func (c *Controller) patchStatus(i int, st ServiceStatus, done []RealServerStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= len(c.status.Services) || c.status.Services[i].Service != st.Service {
		return
	}
	svc := &c.status.Services[i]
	svc.Up, svc.Judged, svc.CapacityUp, svc.CapacityJudged = st.Up, st.Judged, st.CapacityUp, st.CapacityJudged
	for _, rs := range done {
		for j := range svc.RealServers {
			if svc.RealServers[j].Server == rs.Server {
				svc.RealServers[j] = rs
			}
		}
	}
}

// declared counts the keys that are real servers cfg declares.
func (c *Controller) declared(cfg *config.Config, keys []destKey) int {
	if len(keys) == 0 {
		return 0
	}
	servers := make(map[destKey]bool)
	for i := range cfg.Services {
		s := &cfg.Services[i]
		for j := range s.RealServers {
			servers[destKey{s.Key.String(), s.RealServers[j].Address.String()}] = true
		}
	}
	n := 0
	for _, k := range keys {
		if servers[k] {
			n++
		}
	}
	return n
}

// countTargeted adds n verdict changes handled with result.
func (c *Controller) countTargeted(result string, n int) {
	if n > 0 {
		c.count(func(ct *counters) { ct.targeted[result] += uint64(n) })
	}
}
