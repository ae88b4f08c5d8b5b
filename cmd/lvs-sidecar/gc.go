package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The garbage collector's GOGC, when the environment sets none, follows
// the live heap: the heap may grow by half the live state between
// collections, but by no less than minHeadroom (Go's own minimum heap)
// and by no more than the live state (Go's default, GOGC=100).
//
// Why: the state of a large configuration lives as long as the
// configuration (about 1.7 kB per checked real server), the garbage is
// small (a scrape, a few hundred bytes per check), and Go's default lets
// the heap grow to twice the state before each collection: at 10,000
// checked real servers 9 MB more RSS than at 50 in the lab VM. A small
// heap gains nothing from a lower GOGC and would pay for collections
// twice as often, which is check CPU (BENCHMARKS.md, "Scale" and "Peers
// (lab)"). GOGC in the environment, as for any Go program, overrides it.
const (
	minGCPercent = 50
	maxGCPercent = 100
	minHeadroom  = 4 << 20
)

// gcPercentFor returns the GOGC for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	return int(min(maxGCPercent, max(minGCPercent, 100*minHeadroom/live)))
}

// tuneGC sets GOGC from the live heap after every garbage collection,
// until the returned func is called. It does nothing but return when the
// environment sets GOGC.
func tuneGC(getenv func(string) string) (stop func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	var stopped atomic.Bool
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var current atomic.Int32 // one cleanup at a time, but not on one goroutine
	var arm func()
	arm = func() {
		// A cleanup runs once the collector has found its object
		// unreachable: after each collection, a new one.
		sentinel := new(gcSentinel)
		runtime.AddCleanup(sentinel, func(struct{}) {
			if stopped.Load() {
				return
			}
			metrics.Read(samples)
			if samples[0].Value.Kind() == metrics.KindUint64 {
				if p := gcPercentFor(samples[0].Value.Uint64()); int32(p) != current.Load() {
					debug.SetGCPercent(p)
					current.Store(int32(p))
				}
			}
			arm()
		}, struct{}{})
	}
	debug.SetGCPercent(maxGCPercent)
	current.Store(maxGCPercent)
	arm()
	return func() {
		if stopped.CompareAndSwap(false, true) {
			debug.SetGCPercent(maxGCPercent)
		}
	}
}

// gcSentinel is an object for tuneGC's cleanups: large enough not to come
// from the tiny allocator, whose blocks outlive their objects.
type gcSentinel struct {
	_ [2]*byte
}
