package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// ICMPOptions configures a ping check.
type ICMPOptions struct {
	// Source, when valid, is the address the echo requests come from.
	Source netip.Addr
	// Count is how many echo requests a check sends; 0 means 1.
	Count int
	// Interval is the time between requests; 0 means 200ms. Choose the
	// check's timeout longer than (Count-1) × Interval plus a round trip:
	// requests not sent by the deadline count as lost.
	Interval time.Duration
	// MaxLossPercent is the loss (0–100) a check tolerates; 0, the
	// default, fails on any lost reply.
	MaxLossPercent float64
}

// Defaults of ICMPOptions.
const (
	probeICMPCount    = 1
	probeICMPInterval = 200 * time.Millisecond
)

// ICMP pings a host with github.com/prometheus-community/pro-bing in
// privileged (raw socket) mode, which needs CAP_NET_RAW. All replies (loss
// within MaxLossPercent) means open with the average round trip as
// latency; no reply at all filtered; some replies but more loss than
// allowed an error ("3/5 lost"). An ICMP error in place of a reply counts
// as no reply. A ping the director cannot send (no CAP_NET_RAW, no route,
// a source address it does not have) is a local error.
type ICMP struct {
	target netip.Addr
	opts   ICMPOptions
	name   string
	// spawn runs the pinger, which opens its socket on the goroutine
	// spawn starts; tests replace it to start it in a namespace or
	// without capabilities.
	spawn func(func())
}

// NewICMP returns a ping checker for target.
func NewICMP(target netip.Addr, opts ICMPOptions) *ICMP {
	if opts.Count <= 0 {
		opts.Count = probeICMPCount
	}
	if opts.Interval <= 0 {
		opts.Interval = probeICMPInterval
	}
	target = target.Unmap()
	return &ICMP{
		target: target,
		opts:   opts,
		name:   "icmp " + target.String() + probeFrom(opts.Source),
		spawn:  func(f func()) { go f() },
	}
}

// String returns "icmp ADDR", with " from SOURCE" when it has one.
func (c *ICMP) String() string { return c.name }

// Check sends Count echo requests, Interval apart, and returns as soon as
// every reply came back, or at ctx's deadline (10s if it has none).
func (c *ICMP) Check(ctx context.Context) Result {
	ctx, cancel, timeout := probeDeadline(ctx)
	defer cancel()
	start := time.Now()
	deadline, _ := ctx.Deadline()
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return Result{Class: ClassFiltered, Reason: "no time left to ping"}
	}

	p := probing.New("")
	p.SetIPAddr(&net.IPAddr{IP: c.target.AsSlice(), Zone: c.target.Zone()})
	p.SetPrivileged(true)
	p.SetLogger(probing.NoopLogger{})
	p.Count = c.opts.Count
	p.Interval = c.opts.Interval
	// pro-bing stops sending at Timeout and returns soon after: up to
	// ~100ms later, because its reader polls with a growing backoff. Check
	// does not wait for that: it reads the statistics (guarded by
	// pro-bing's mutex) at the deadline and lets the pinger wind down on
	// its own goroutine.
	p.Timeout = remaining
	p.RecordRtts = false
	p.RecordTTLs = false
	if c.opts.Source.IsValid() {
		p.Source = c.opts.Source.String()
	}
	all := make(chan struct{})
	var once sync.Once
	p.OnRecv = func(*probing.Packet) {
		if p.Statistics().PacketsRecv >= c.opts.Count {
			once.Do(func() { close(all) })
		}
	}
	done := make(chan error, 1)
	c.spawn(func() { done <- p.RunWithContext(ctx) })

	var runErr error
	select {
	case runErr = <-done:
	case <-all:
	case <-ctx.Done():
	}
	st := p.Statistics()
	elapsed := time.Since(start)

	if runErr != nil && !errors.Is(runErr, context.DeadlineExceeded) && !errors.Is(runErr, context.Canceled) && st.PacketsRecv == 0 {
		class, reason := probeClassifyPingErr(runErr)
		return Result{Class: class, Latency: elapsed, Reason: reason}
	}
	if probeCanceled(ctx) {
		return Result{Class: ClassError, Latency: elapsed, Reason: probeCanceledReason}
	}
	return c.verdict(st.PacketsSent, st.PacketsRecv, st.AvgRtt, elapsed, timeout)
}

// verdict turns the counts into a Result.
func (c *ICMP) verdict(sent, recv int, avg, elapsed, timeout time.Duration) Result {
	count := c.opts.Count
	lost := count - recv
	if lost < 0 { // duplicates are counted apart; be safe
		lost = 0
	}
	reason := fmt.Sprintf("%d/%d lost", lost, count)
	if recv == count {
		reason = fmt.Sprintf("%d/%d replies", recv, count)
	}
	if unsent := count - sent; unsent > 0 {
		reason += fmt.Sprintf(" (%d not sent within the %s timeout)", unsent, timeout)
	}
	if recv == 0 {
		return Result{Class: ClassFiltered, Latency: elapsed, Reason: reason}
	}
	loss := float64(lost) * 100 / float64(count)
	if lost > 0 {
		reason += fmt.Sprintf(", %.3g%% loss, max %.3g%%", loss, c.opts.MaxLossPercent)
	}
	if loss > c.opts.MaxLossPercent {
		return Result{Class: ClassError, Latency: avg, Reason: reason}
	}
	return Result{Class: ClassOpen, Latency: avg, Reason: reason}
}

// probeClassifyPingErr explains why pro-bing could not ping: no raw
// socket (CAP_NET_RAW), a source address the director does not have, or a
// send the kernel refused (its routing table, its firewall). Each is the
// director's trouble: a local error.
func probeClassifyPingErr(err error) (Class, string) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "listen" {
		var errno syscall.Errno
		switch {
		case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
			return ClassLocalError, "icmp check: " + ErrNoNetRaw.Error()
		case errors.As(err, &errno):
			if reason, ok := probeLocalErrno(errno); ok {
				return ClassLocalError, "icmp check: open a raw socket: " + reason
			}
		}
		return ClassLocalError, "icmp check: open a raw socket: " + err.Error()
	}
	class, reason := probeClassifyErr(err)
	if class == ClassClosed {
		// A refused send is not a refusing host: nothing came back yet.
		class = ClassLocalError
	}
	return class, reason
}
