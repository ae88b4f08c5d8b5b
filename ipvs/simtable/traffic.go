package simtable

import (
	"math"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// The traffic model. Each virtual service gets Options.Rate new
// connections per second, shared by its real servers in proportion to
// their weights, whatever the scheduler: a real server of weight 0 gets
// none, and when one is drained the others share its part. A service
// whose real servers all have weight 0 gets none (the kernel finds no
// destination and schedules nothing). Each connection counts as
// connProfile says, in the real server's counters, its service's and the
// host-wide ones; the three never disagree, and a deleted real server's
// part stays in its service's, as in the kernel.
//
// The connection counts are those of connections that arrive at that
// rate and last a mean time (an M/M/inf queue, whose mean is exact for
// any step): a TCP or SCTP connection is active for activeLife, then
// inactive for the kernel's FIN timeout (120 s, as it lingers in
// FIN_WAIT/TIME_WAIT); a UDP one is inactive (the kernel has no state to
// call active) for the UDP timeout (300 s). A persistent service's
// persistence templates are clients arriving at one per connsPerClient
// connections and kept for its persistence timeout. So a drained real
// server's active connections fall to 0 within seconds, its inactive ones
// within minutes. Connection thresholds (-x/-y) are kept, not simulated.
//
// The state moves with elapsed time only: however often the table is
// read, the same clock gives the same numbers (up to the rounding of the
// last unit).

// DefaultRate is the connection rate of the command-line flag's default:
// new connections per second per virtual service.
const DefaultRate = 100

// activeLife is how long a TCP or SCTP connection is active, on average.
const activeLife = 2 * time.Second

// connsPerClient is how many connections a client of a persistent
// service opens, on average: its templates count clients, not
// connections.
const connsPerClient = 10

// connProfile is what one connection counts: packets and bytes in (from
// clients) and out (the replies, which pass the director only with
// masquerading: direct routing and tunnels answer clients directly).
type connProfile struct {
	packetsIn, bytesIn, packetsOut, bytesOut float64
}

var (
	// A short HTTP exchange: handshake, a request, a 12 KB reply.
	streamProfile = connProfile{packetsIn: 6, bytesIn: 1200, packetsOut: 10, bytesOut: 12000}
	// A DNS-like exchange: one datagram each way.
	datagramProfile = connProfile{packetsIn: 1, bytesIn: 80, packetsOut: 1, bytesOut: 200}
)

// traffic is the exact state behind a real server's counters and
// connection counts.
type traffic struct {
	// conns is how many connections arrived since it was created,
	// fractions included; its counters are derived from it.
	conns float64
	// active, inactive and persist are the mean connection counts.
	active, inactive, persist float64
}

// advance moves every real server's traffic to now, at the weights the
// table has had since the last advance. The caller holds t.mu.
func (t *Table) advance() {
	now := t.now()
	dt := now.Sub(t.last).Seconds()
	if dt <= 0 {
		// A clock that went back moves nothing; the table waits until
		// it passes the last time again.
		return
	}
	t.last = now
	for _, s := range t.services {
		var total int64
		for _, d := range s.dests {
			total += int64(d.Weight)
		}
		for _, d := range s.dests {
			rate := 0.0
			if total > 0 {
				rate = t.rate * float64(d.Weight) / float64(total)
			}
			t.step(s, d, rate, dt)
		}
	}
}

// step advances real server d of service s by dt seconds at rate new
// connections per second.
func (t *Table) step(s *service, d *dest, rate, dt float64) {
	profile, active, inactive := streamProfile, activeLife.Seconds(), float64(timeouts.TCPFin)
	if s.Protocol == ipvs.UDP {
		profile, active, inactive = datagramProfile, 0, float64(timeouts.UDP)
	}
	if d.Forward == ipvs.ForwardRoute || d.Forward == ipvs.ForwardTunnel {
		profile.packetsOut, profile.bytesOut = 0, 0
	}
	before, after := d.conns, d.conns+rate*dt
	d.conns = after
	delta := ipvs.Stats{
		Connections: grown(before, after, 1),
		PacketsIn:   grown(before, after, profile.packetsIn),
		PacketsOut:  grown(before, after, profile.packetsOut),
		BytesIn:     grown(before, after, profile.bytesIn),
		BytesOut:    grown(before, after, profile.bytesOut),
	}
	add(&d.Stats, delta)
	add(&s.Stats, delta)
	add(&t.totals, delta)

	// Each count relaxes toward rate × life, its mean when the rate has
	// been steady, as the mean of an M/M/inf queue does.
	d.active = relax(d.active, rate*active, active, dt)
	d.inactive = relax(d.inactive, rate*inactive, inactive, dt)
	if s.Persistent() && s.Timeout > 0 {
		life := float64(s.Timeout)
		d.persist = relax(d.persist, rate/connsPerClient*life, life, dt)
	} else {
		d.persist = relax(d.persist, 0, 1, dt)
	}
	d.ActiveConns, d.InactiveConns, d.PersistConns = count(d.active), count(d.inactive), count(d.persist)
}

// grown is how many whole units of per a connection count going from
// before to after adds: the counters are whole numbers derived from the
// exact count, so no fraction is ever lost between reads.
func grown(before, after, per float64) uint64 {
	return uint64(math.Floor(after*per) - math.Floor(before*per))
}

// relax moves x toward target over dt with time constant life (0: at
// once).
func relax(x, target, life, dt float64) float64 {
	if life <= 0 {
		return target
	}
	return target + (x-target)*math.Exp(-dt/life)
}

// count rounds a mean connection count to a whole one.
func count(x float64) uint32 {
	return uint32(math.Min(math.Round(x), math.MaxUint32))
}
