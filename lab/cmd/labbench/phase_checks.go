package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// checkRow is one program checking one set of real servers. The CPU and
// the checks are counted over windows of nearly the same time, and
// compared as rates.
type checkRow struct {
	set     checkSet
	program string // lvs-sidecar tcp, lvs-sidecar syn, lvs-sidecar icmp, keepalived
	wall    time.Duration
	cpu     cpu           // over wall
	syns    int64         // SYNs (icmp: echo requests) the director sent to the real servers: the checks done
	synWall time.Duration // the time they were counted over
	own     int64         // the checks lvs-sidecar counted itself (-1: keepalived, which counts none)
	ownWall time.Duration
	allUp   bool // every real server still had its weight at the end
	mem     mem
}

// rate is the checks per second.
func (r checkRow) rate() float64 { return float64(r.syns) / r.synWall.Seconds() }

// perCheck is the CPU per check: the CPU per second over the checks per
// second.
func (r checkRow) perCheck() cpu {
	if r.syns == 0 {
		return cpu{}
	}
	f := r.wall.Seconds() * r.rate()
	return cpu{time.Duration(float64(r.cpu.user) / f), time.Duration(float64(r.cpu.sys) / f)}
}

// checkPhase measures each set with each program in turns, -rounds times,
// the order reversed every other round, each program started afresh; the
// rows add the rounds up.
func (b *bench) checkPhase(ctx context.Context) error {
	var programs []string
	for _, kind := range b.o.checkTypes {
		programs = append(programs, "lvs-sidecar "+kind)
	}
	programs = append(programs, "keepalived")
	for _, set := range b.o.checkSets {
		rows := map[string]*checkRow{}
		for round := range b.o.rounds {
			for i := range programs {
				p := inTurn(programs, round, i)
				r := checkRow{set: set, program: p}
				var err error
				if kind, ok := strings.CutPrefix(p, "lvs-sidecar "); ok {
					err = b.checkSidecar(ctx, set, kind, &r)
				} else {
					err = b.checkKeepalived(set, &r)
				}
				if err != nil {
					return fmt.Errorf("%s, %s: %w", p, set, err)
				}
				rows[p] = rows[p].add(r)
			}
		}
		for _, p := range programs {
			r := rows[p]
			b.res.checks = append(b.res.checks, *r)
			b.res.mem = append(b.res.mem, memRow{phase: "checks, " + set.String(), process: p, mem: r.mem})
			c := r.perCheck()
			b.logf("checks: %s, %s: %d checks in %s (%.1f/s; own count %d in %s), %.1f µs CPU each (%.1f user, %.1f sys), all up at the end: %v",
				r.program, set, r.syns, r.synWall.Round(time.Millisecond), r.rate(), r.own, r.ownWall.Round(time.Millisecond),
				us(c.total()), us(c.user), us(c.sys), r.allUp)
		}
	}
	return nil
}

// add is r with the round o added (r may be nil); memory is the larger.
func (r *checkRow) add(o checkRow) *checkRow {
	if r == nil {
		return &o
	}
	r.wall += o.wall
	r.cpu = r.cpu.add(o.cpu)
	r.syns += o.syns
	r.synWall += o.synWall
	if r.own >= 0 {
		r.own += o.own
		r.ownWall += o.ownWall
	}
	r.allUp = r.allUp && o.allUp
	r.mem = r.mem.max(o.mem)
	return r
}

func (b *bench) checkSettings(set checkSet, kind string) checkSettings {
	return checkSettings{kind: kind, interval: set.interval, timeout: b.o.timeout, fall: b.o.drainRetry + 1, retryDelay: b.o.drainRetryDelay}
}

// checkSidecar measures lvs-sidecar checking set with kind checks; it
// makes the table itself (managed), on its own VIP.
func (b *bench) checkSidecar(ctx context.Context, set checkSet, kind string, r *checkRow) error {
	if err := ipvsadm("", "-C"); err != nil {
		return err
	}
	svcs := layout{vip: vipSidecar, dests: set.servers, perService: b.o.perService, rs: b.o.rs}.table()
	name := fmt.Sprintf("checks-lvs-sidecar-%s-%d", kind, set.servers)
	cfg, err := b.writeFile(name+".yml", sidecarConfig(svcs, b.checkSettings(set, kind)))
	if err != nil {
		return err
	}
	d, s, err := b.startSidecar(name, 9962, cfg)
	if err != nil {
		return err
	}
	if err := b.waitHealthUp(d, s, set.servers, 3*set.interval+time.Minute); err != nil {
		return err
	}
	own := func() (int64, error) {
		sc, err := s.get(ctx, false, true)
		if err != nil {
			return 0, err
		}
		v, _, err := sumMetric(sc.body, "ipvs_real_server_health_checks_total")
		return int64(v), err
	}
	counter := "bulk"
	if kind == "icmp" {
		counter = "ping"
	}
	if err := b.measureChecks(d, svcs, set, r, counter, own); err != nil {
		return err
	}
	if err := b.stopDaemon(d); err != nil {
		return err
	}
	return ipvsadm("", "-C")
}

// checkKeepalived measures keepalived's checker (TCP_CHECK) on the same
// real servers, on its own VIP.
func (b *bench) checkKeepalived(set checkSet, r *checkRow) error {
	if err := ipvsadm("", "-C"); err != nil {
		return err
	}
	svcs := layout{vip: vipKeepalived, dests: set.servers, perService: b.o.perService, rs: b.o.rs}.table()
	name := fmt.Sprintf("checks-keepalived-%d", set.servers)
	d, err := b.startKeepalived(name, svcs, b.checkSettings(set, "tcp"))
	if err != nil {
		return err
	}
	r.own = -1
	if err := b.measureChecks(d, svcs, set, r, "bulk", nil); err != nil {
		return err
	}
	if err := b.stopDaemon(d); err != nil {
		return err
	}
	return ipvsadm("", "-C")
}

// startKeepalived runs keepalived's checker alone on svcs and waits until
// it has made their table.
func (b *bench) startKeepalived(name string, svcs []service, c checkSettings) (*daemon, error) {
	cfg, err := b.writeFile(name+".conf", keepalivedConfig(svcs, c))
	if err != nil {
		return nil, err
	}
	d, err := b.startDaemon(name, keepalivedBin, "--check", "--dont-fork", "--log-console", "--no-syslog",
		"--use-file="+cfg, "--pid=/run/"+name+".pid", "--checkers_pid=/run/"+name+"-checkers.pid")
	if err != nil {
		return nil, err
	}
	return d, waitTableUp(d, svcs, time.Minute)
}

// measureChecks lets the checks settle for two intervals, then measures
// -check-duration of them: the program's CPU, the packets the director
// sent (nft counter: SYNs, or echo requests), and own (lvs-sidecar's own count, from a scrape made outside the CPU
// window).
func (b *bench) measureChecks(d *daemon, svcs []service, set checkSet, r *checkRow, counter string, own func() (int64, error)) error {
	time.Sleep(max(2*set.interval, 2*time.Second))
	if err := d.exited(); err != nil {
		return err
	}
	pids := d.tree()
	// own's counter is read somewhere in its scrape, which takes a while
	// here: the window runs from the middle of one to the middle of the
	// other, as nftCount's.
	var own0 int64
	var ownT0 time.Time
	var err error
	if own != nil {
		t := time.Now()
		if own0, err = own(); err != nil {
			return err
		}
		ownT0 = t.Add(time.Since(t) / 2)
	}
	syn0, err := nftCount(counter)
	if err != nil {
		return err
	}
	c0, err := cpuOf(pids)
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(b.o.checkDuration)
	c1, err := cpuOf(pids)
	if err != nil {
		return err
	}
	r.wall = time.Since(t0)
	syn1, err := nftCount(counter)
	if err != nil {
		return err
	}
	if own != nil {
		t := time.Now()
		own1, err := own()
		if err != nil {
			return err
		}
		r.own, r.ownWall = own1-own0, t.Add(time.Since(t)/2).Sub(ownT0)
	}
	r.cpu, r.syns, r.synWall = c1.sub(c0), syn1.n-syn0.n, syn1.at.Sub(syn0.at)
	w, err := readWeights()
	if err != nil {
		return err
	}
	r.allUp = countUp(w, svcs) == set.servers
	r.mem, err = memOf(pids)
	return err
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
