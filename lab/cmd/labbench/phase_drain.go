package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"
)

// drainRow is one program's kills.
type drainRow struct {
	program  string
	times    []time.Duration // kill → weight 0, per kill
	failed   []int64         // SYNs to the dead server from the kill to weight 0: the failed checks
	settings string
	mem      mem
}

func (b *bench) drainPhase(ctx context.Context) error {
	c := checkSettings{kind: "tcp", interval: b.o.drainInterval, timeout: b.o.timeout, fall: b.o.drainRetry + 1, retryDelay: b.o.drainRetryDelay}
	var victims []*victim
	defer func() {
		for _, v := range victims {
			v.close()
		}
	}()
	for n := 1; n <= b.o.rs; n++ {
		v := newVictim(fmt.Sprintf("rs%d", n), ":"+strconv.Itoa(drainPort))
		if err := v.open(); err != nil {
			return err
		}
		victims = append(victims, v)
	}
	// In turns, -rounds times, the order reversed every other round.
	programs := []string{"lvs-sidecar", "keepalived"}
	rows := map[string]*drainRow{}
	for round := range b.o.rounds {
		for i := range programs {
			p := inTurn(programs, round, i)
			r := drainRow{program: p}
			if err := b.drainProgram(ctx, c, victims[0], &r); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if x := rows[p]; x != nil {
				x.times = append(x.times, r.times...)
				x.failed = append(x.failed, r.failed...)
				x.mem = x.mem.max(r.mem)
			} else {
				rows[p] = &r
			}
		}
	}
	for _, p := range programs {
		b.res.drains = append(b.res.drains, *rows[p])
		b.res.mem = append(b.res.mem, memRow{phase: "drain", process: p, mem: rows[p].mem})
	}
	return nil
}

// drainService is the drain phase's service on vip: one real server per
// real-server namespace, all on drainPort; the first is the one killed.
func (b *bench) drainService(vip netip.Addr) []service {
	s := service{addr: netip.AddrPortFrom(vip, drainServicePort)}
	for n := 1; n <= b.o.rs; n++ {
		s.dests = append(s.dests, dest{addr: netip.AddrPortFrom(rsAddr(n), drainPort), rs: n})
	}
	return []service{s}
}

// drainProgram kills v -drain-trials times under row.program.
func (b *bench) drainProgram(ctx context.Context, c checkSettings, v *victim, row *drainRow) error {
	if err := ipvsadm("", "-C"); err != nil {
		return err
	}
	var d *daemon
	var svcs []service
	var err error
	program := row.program
	name := "drain-" + program
	switch program {
	case "lvs-sidecar":
		svcs = b.drainService(vipSidecar)
		row.settings = fmt.Sprintf("tcp, schedule @every %s, fall %d, fast_interval %s, timeout %s, rise 1",
			c.interval, c.fall, c.retryDelay, c.timeout)
		var cfg string
		if cfg, err = b.writeFile(name+".yml", sidecarConfig(svcs, c)); err != nil {
			return err
		}
		d, _, err = b.startSidecar(name, 9963, cfg)
	default:
		svcs = b.drainService(vipKeepalived)
		row.settings = fmt.Sprintf("TCP_CHECK, delay_loop %s, retry %d, delay_before_retry %s, connect_timeout %s, inhibit_on_failure",
			seconds(c.interval), c.fall-1, seconds(c.retryDelay), seconds(c.timeout))
		d, err = b.startKeepalived(name, svcs, c)
	}
	if err != nil {
		return err
	}
	svc, target := svcs[0].addr, svcs[0].dests[0].addr
	// Up again: a success and the write that follows; down: the schedule
	// to the next check, fall failures, the timeouts, and room for both.
	restore := 3*c.interval + c.timeout + 30*time.Second
	detect := c.interval + time.Duration(c.fall)*(c.retryDelay+c.timeout) + 30*time.Second
	if err := waitTableUp(d, svcs, restore); err != nil {
		return err
	}
	for k := range b.o.drainTrials {
		if err := waitWeight(ctx, svc, target, true, 50*time.Millisecond, restore); err != nil {
			return fmt.Errorf("kill %d: restore: %w", k+1, err)
		}
		kill := v.arm()
		var t0 time.Time
		select {
		case t0 = <-kill:
		case <-time.After(3*c.interval + c.timeout + 10*time.Second):
			return fmt.Errorf("kill %d: no check reached %s", k+1, target)
		}
		// The next check is an interval away: time to read the counter.
		syn0, err := nftCount("drain")
		if err != nil {
			return err
		}
		if err := waitWeight(ctx, svc, target, false, b.o.drainPoll, detect); err != nil {
			return fmt.Errorf("kill %d: %w", k+1, err)
		}
		took := time.Since(t0)
		syn1, err := nftCount("drain")
		if err != nil {
			return err
		}
		row.times = append(row.times, took)
		row.failed = append(row.failed, syn1.n-syn0.n)
		b.logf("drain: %s, kill %d: weight 0 after %s, %d failed checks", program, k+1, took.Round(100*time.Microsecond), syn1.n-syn0.n)
		if err := v.open(); err != nil {
			return err
		}
	}
	if row.mem, err = memOf(d.tree()); err != nil {
		return err
	}
	if err := b.stopDaemon(d); err != nil {
		return err
	}
	return ipvsadm("", "-C")
}

// waitWeight polls /proc/net/ip_vs every gap until destination d of
// service s has a weight above 0 (up) or not (weight 0 or gone).
func waitWeight(ctx context.Context, s, d netip.AddrPort, up bool, gap, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return poll(ctx, gap, func() error {
		b, err := os.ReadFile(procIPVS)
		if err != nil {
			return err
		}
		w, ok, err := weightAt(b, s, d)
		if err != nil {
			return err
		}
		if (ok && w > 0) == up {
			return nil
		}
		if up {
			return fmt.Errorf("%s of %s not back (weight %d, in the table: %v)", d, s, w, ok)
		}
		return errors.New("still has its weight")
	})
}
