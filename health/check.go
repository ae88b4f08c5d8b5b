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

// Class is what a check observed, in nmap's terms where they apply (its
// port-scanning documentation: a port is open, closed or filtered).
type Class uint8

// Classes of a Result. Only ClassOpen passes; ClassLocalError counts
// neither as a pass nor as a failure.
const (
	// ClassOpen: the target answered as expected (TCP handshake or SYN-ACK,
	// UDP reply, ICMP echo reply, HTTP response that matched).
	ClassOpen Class = iota
	// ClassClosed: the target actively refused: a TCP RST, or for UDP an
	// ICMP port unreachable (type 3 code 3, ICMPv6 type 1 code 4).
	ClassClosed
	// ClassFiltered: no answer at all before the timeout (packets
	// dropped), or an ICMP destination unreachable from the path: for TCP
	// any code (net, host, protocol, port unreachable, administratively
	// prohibited: 0, 1, 2, 3, 9, 10, 13), for UDP any code but port
	// unreachable.
	ClassFiltered
	// ClassTimeout: the exchange started but did not finish in time (e.g. a
	// connected HTTP server that never answers).
	ClassTimeout
	// ClassError: the target answered wrongly (HTTP status or body
	// mismatch, bad TLS, unexpected UDP reply).
	ClassError
	// ClassLocalError: the check could not run because of the director,
	// not the real server: no file descriptor left (EMFILE, ENFILE), no
	// buffer (ENOBUFS), no route in the local routing table, a local
	// firewall refusing the send (EPERM, EACCES), no CAP_NET_RAW for a raw
	// socket, a source address the host does not have (EADDRNOTAVAIL). It
	// freezes the check's verdict: it counts neither as a pass nor as a
	// failure.
	ClassLocalError
)

// Classes lists every Class, for metrics that export all of them.
var Classes = []Class{ClassOpen, ClassClosed, ClassFiltered, ClassTimeout, ClassError, ClassLocalError}

// numClasses sizes the per-class arrays.
const numClasses = 6

// String returns the label value: open, closed, filtered, timeout, error,
// local_error.
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
	case ClassLocalError:
		return "local_error"
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

// Local reports whether the check could not run because of the director
// (ClassLocalError): the result says nothing about the real server.
func (r Result) Local() bool { return r.Class == ClassLocalError }

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
