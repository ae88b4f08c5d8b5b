package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{1 << 20, 100},
		{4 << 20, 100},
		{6 << 20, 66},
		{8 << 20, 50},
		{17 << 20, 50},
		{1 << 30, 50},
	} {
		if got := gcPercentFor(tt.live); got != tt.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tt.live>>20, got, tt.want)
		}
	}
}

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestTuneGCFollowsTheLiveHeap holds 32 MiB live, then lets it go: the
// tuner must set GOGC to 50, then back to 100, after collections.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(gcPercent())
	stop := tuneGC(func(string) string { return "" })
	defer stop()
	waitPercent := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for gcPercent() != want {
			if time.Now().After(deadline) {
				t.Fatalf("GOGC is %d, want %d", gcPercent(), want)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	live := make([]byte, 32<<20)
	for i := range live {
		live[i] = byte(i)
	}
	waitPercent(50)
	// Its last use: from here on the collector may free it.
	runtime.KeepAlive(live)
	waitPercent(100)
}

func TestTuneGCLeavesTheEnvironmentsGOGC(t *testing.T) {
	before := debug.SetGCPercent(70)
	defer debug.SetGCPercent(before)
	stop := tuneGC(func(k string) string {
		if k == "GOGC" {
			return "70"
		}
		return ""
	})
	defer stop()
	big := make([]byte, 32<<20)
	runtime.GC()
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	runtime.KeepAlive(big)
	if p := gcPercent(); p != 70 {
		t.Fatalf("GOGC is %d with GOGC=70 in the environment, want 70", p)
	}
}
