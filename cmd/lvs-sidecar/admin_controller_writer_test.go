package main

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvs-sidecar/lvs-sidecar/ipvs"
)

// TestLazyWriter: a writer that cannot be opened fails each write with
// the reason (and is tried again on the next), one that opens reports
// what the kernel lacks, and a closed one refuses.
func TestLazyWriter(t *testing.T) {
	ctx := context.Background()
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	dest := &ipvs.Destination{Family: ipvs.FamilyIPv4, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1}

	missing := filepath.Join(t.TempDir(), "no-such-ns")
	l := &lazyWriter{opts: ipvs.WriterOptions{NetNS: missing, Timeout: time.Second}}
	for range 2 {
		err := l.UpdateDestination(ctx, key, dest)
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "retries on its period") {
			t.Errorf("write through a missing namespace: %v", err)
		}
	}
	if l.w != nil {
		t.Error("a writer was kept although it could not be opened")
	}

	l = &lazyWriter{opts: ipvs.WriterOptions{Timeout: time.Second}}
	if !haveKernelIPVS() {
		err := l.UpdateDestination(ctx, key, dest)
		if !errors.Is(err, ipvs.ErrModuleNotLoaded) || !strings.Contains(err.Error(), "modprobe ip_vs") {
			t.Errorf("write without ip_vs: %v, want ErrModuleNotLoaded with the fix", err)
		}
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if err := l.CreateService(ctx, &ipvs.Service{ServiceKey: key, Scheduler: "wlc"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("write after Close: %v", err)
	}
}
