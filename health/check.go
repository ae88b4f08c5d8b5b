// Package health checks real servers the way operators did with nmap in a
// cron job, only faster, more precisely and observably: each checker probes
// one target and returns a Result (class, latency, reason); the scheduler
// runs checkers on their schedules and feeds a rise/fall state machine per
// real server. A checker knows nothing about IPVS.
package health

import (
	"context"
	"time"
)

// Class is what a check observed, in nmap's terms where they apply.
type Class uint8

// Classes of a Result. Only ClassOpen passes.
const (
	// ClassOpen: the target answered as expected (TCP handshake or SYN-ACK,
	// UDP reply, ICMP echo reply, HTTP response that matched).
	ClassOpen Class = iota
	// ClassClosed: the target actively refused (TCP RST, ICMP port or host
	// unreachable).
	ClassClosed
	// ClassFiltered: no answer at all before the timeout (packets dropped).
	ClassFiltered
	// ClassTimeout: the exchange started but did not finish in time (e.g. a
	// connected HTTP server that never answers).
	ClassTimeout
	// ClassError: the target answered wrongly (HTTP status or body mismatch,
	// bad TLS, unexpected UDP reply) or the check could not run (e.g. no
	// CAP_NET_RAW for a raw-socket check).
	ClassError
)

// Classes lists every Class, for metrics that export all of them.
var Classes = []Class{ClassOpen, ClassClosed, ClassFiltered, ClassTimeout, ClassError}

// String returns the label value: open, closed, filtered, timeout, error.
func (c Class) String() string {
	switch c {
	case ClassOpen:
		return "open"
	case ClassClosed:
		return "closed"
	case ClassFiltered:
		return "filtered"
	case ClassTimeout:
		return "timeout"
	case ClassError:
		return "error"
	}
	return "unknown"
}

// Result is the outcome of one check.
type Result struct {
	Class   Class
	Latency time.Duration // time the check took (RTT for ping)
	Reason  string        // human-readable, e.g. "connection refused (RST)", "HTTP 503, want 200"
}

// Pass reports whether the check passed.
func (r Result) Pass() bool { return r.Class == ClassOpen }

// Checker probes one fixed target. Check must return by ctx's deadline (the
// scheduler sets it to the check's timeout) and must be safe to call again
// after it returns; the scheduler never runs two Checks of one Checker at
// once.
type Checker interface {
	Check(ctx context.Context) Result
	// String describes the check for logs: "tcp 10.0.0.1:80",
	// "http GET http://10.0.0.1:80/healthz".
	String() string
}
