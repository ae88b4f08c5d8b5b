package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Benchmarks of the checkers alone (no scheduler): b.N checks spread
// round-robin over many loopback targets, 64 at a time. Reproduce with
//
//	go test -run '^$' -bench 'Check$' -cpu 1,2 ./health/
//
// Besides ns/op (wall time per check with 64 in flight) and the
// allocations per check, each reports:
//   - checks/s: throughput;
//   - cpu-ns/check: user+system CPU time of the whole process per check,
//     from getrusage; on loopback this includes the kernel's work for both
//     ends of the connection;
//   - cores@10k/s: the cores 10,000 checks per second would take at that
//     cost (the target is below 1).
//
// The targets are distinct addresses in 127.0.0.0/8 (127.1.0.1 on), all on
// one port of one listener that accepts on lo only (SO_BINDTODEVICE). The
// listener sets TCP_DEFER_ACCEPT and is never accepted from: the kernel
// completes each handshake (SYN, SYN-ACK, ACK) and keeps the connection
// off the accept queue until data arrives, which never happens, and the
// checker's RST removes it. So the process's CPU time is the checker's and
// the kernel's, with no server application in it.

// probeBenchInFlight is how many checks run at once.
const probeBenchInFlight = 64

func BenchmarkTCPCheck(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			port := probeBenchListener(b)
			checkers := make([]Checker, n)
			for i := range checkers {
				checkers[i] = NewTCP(netip.AddrPortFrom(probeBenchAddr(i), port), TCPOptions{})
			}
			probeBenchRun(b, checkers, false)
		})
	}
}

// BenchmarkSYNCheck is the same for the SYN check, all checks through one
// scanner.
func BenchmarkSYNCheck(b *testing.B) {
	probeNeedRoot(b, "the SYN check (raw sockets)")
	s, err := NewSYNScanner()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			port := probeBenchListener(b)
			checkers := make([]Checker, n)
			for i := range checkers {
				checkers[i] = NewSYN(netip.AddrPortFrom(probeBenchAddr(i), port), SYNOptions{Scanner: s})
			}
			probeBenchRun(b, checkers, false)
		})
	}
}

// BenchmarkICMPCheck pings loopback addresses, one echo request per check.
// pro-bing opens a raw socket per check, and every open raw ICMP socket
// gets a copy of every ICMP packet to filter, so the cost per check grows
// with the checks in flight. It reports the share of checks that lost
// their reply instead of failing: pro-bing attaches its kernel filter
// after opening the socket, and when its goroutine is descheduled in
// between, the host's other ICMP traffic (here, the other checks' tens of
// thousands of packets per second) can fill the socket's buffer so the
// reply is dropped. The default Count of 1 then fails the check.
func BenchmarkICMPCheck(b *testing.B) {
	probeNeedRoot(b, "the ICMP check (raw sockets)")
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			checkers := make([]Checker, n)
			for i := range checkers {
				checkers[i] = NewICMP(probeBenchAddr(i), ICMPOptions{})
			}
			probeBenchRun(b, checkers, true)
		})
	}
}

// probeBenchAddr is the i-th target address: 127.1.0.1, 127.1.0.2, ...
func probeBenchAddr(i int) netip.Addr {
	i += 1<<16 + 1
	return netip.AddrFrom4([4]byte{127, byte(i >> 16), byte(i >> 8), byte(i)})
}

// probeBenchListener listens on port 0 of every address of lo, with
// TCP_DEFER_ACCEPT, and returns the port.
func probeBenchListener(b *testing.B) uint16 {
	b.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "lo"); serr != nil {
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 30)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp4", "0.0.0.0:0")
	if err != nil {
		b.Fatalf("listen: %v", err)
	}
	b.Cleanup(func() { l.Close() })
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// probeBenchRun runs b.N checks, probeBenchInFlight at a time, and
// reports throughput and CPU per check. Every check must pass, or with
// tolerate, the share that failed is reported as failed/check.
func probeBenchRun(b *testing.B, checkers []Checker, tolerate bool) {
	b.Helper()
	// One check first, so a broken setup fails fast and clearly.
	if r := probeCheck(checkers[0], time.Second); r.Class != ClassOpen {
		b.Fatalf("%s: %s %q", checkers[0], r.Class, r.Reason)
	}
	var next, failures atomic.Int64
	var firstFailure atomic.Value
	b.ReportAllocs()
	cpu0 := probeCPUTime(b)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range probeBenchInFlight {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				c := checkers[i%int64(len(checkers))]
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				r := c.Check(ctx)
				cancel()
				if r.Class != ClassOpen {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: %s %q", c, r.Class, r.Reason))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := probeCPUTime(b) - cpu0
	if n := failures.Load(); tolerate {
		b.ReportMetric(float64(n)/float64(b.N), "failed/check")
	} else if n > 0 {
		b.Fatalf("%d of %d checks failed; first: %s", n, b.N, firstFailure.Load())
	}
	perCheck := float64(cpu.Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checks/s")
	b.ReportMetric(perCheck, "cpu-ns/check")
	b.ReportMetric(perCheck*10000/1e9, "cores@10k/s")
}

// probeCPUTime is the process's user and system CPU time so far.
func probeCPUTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
