package ipvs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// newTestReader returns a Reader talking to k, with totals from
// testdata/procnet.
func newTestReader(t *testing.T, k *fakeKernel) *Reader {
	t.Helper()
	r, err := NewReader(ReaderOptions{Dial: k.dial, ProcNet: filepath.Join("testdata", "procnet")})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func snapshot(t *testing.T, r *Reader) *Snapshot {
	t.Helper()
	snap, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return snap
}

func TestSnapshotDecodesWhatTheKernelEncodes(t *testing.T) {
	table := testTable()
	k := newFakeKernel(testTable())
	snap := snapshot(t, newTestReader(t, k))

	if snap.Partial != nil {
		t.Errorf("Partial = %v, want nil", snap.Partial)
	}
	if len(snap.Services) != len(table) {
		t.Fatalf("got %d services, want %d", len(snap.Services), len(table))
	}
	for i, want := range table {
		t.Run(want.String(), func(t *testing.T) {
			got := snap.Services[i]
			if !reflect.DeepEqual(got.ServiceKey, want.ServiceKey) {
				t.Errorf("key = %+v, want %+v", got.ServiceKey, want.ServiceKey)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("service\n got %+v\nwant %+v", got, want)
			}
			for j := range got.Destinations {
				if a := got.Destinations[j].Address; a.Is4In6() {
					t.Errorf("destination %d address %v is 4-in-6", j, a)
				}
			}
		})
	}
	if want := 10; snap.Destinations() != want {
		t.Errorf("Destinations() = %d, want %d", snap.Destinations(), want)
	}
	if snap.Info == nil || *snap.Info != k.info {
		t.Errorf("Info = %+v, want %+v", snap.Info, k.info)
	}
	if snap.Timeouts == nil || *snap.Timeouts != k.timeouts {
		t.Errorf("Timeouts = %+v, want %+v", snap.Timeouts, k.timeouts)
	}
	wantTotals := Stats{Connections: 1<<40 + 7, PacketsIn: 1<<64 - 1, PacketsOut: 1 << 32, BytesIn: 1<<64 - 2, BytesOut: 1<<63 + 5}
	if snap.Totals == nil || *snap.Totals != wantTotals {
		t.Errorf("Totals = %+v, want %+v", snap.Totals, wantTotals)
	}
}

func TestSnapshotFWMarkServicesAreDistinct(t *testing.T) {
	snap := snapshot(t, newTestReader(t, newFakeKernel(testTable())))
	seen := map[ServiceKey]bool{}
	names := map[string]bool{}
	marks := 0
	for _, s := range snap.Services {
		if seen[s.ServiceKey] || names[s.String()] {
			t.Errorf("service %s appears twice", s.String())
		}
		seen[s.ServiceKey], names[s.String()] = true, true
		if s.FWMark == 42 {
			marks++
			if s.Protocol != 0 || s.Address.IsValid() || s.Port != 0 {
				t.Errorf("fwmark service %s has protocol/address/port %v/%v/%v, want none", s, s.Protocol, s.Address, s.Port)
			}
		}
	}
	if marks != 2 || !names["fwmark/42/ipv4"] || !names["fwmark/42/ipv6"] {
		t.Errorf("want fwmark/42/ipv4 and fwmark/42/ipv6, got %v", names)
	}
}

// The kernel answers a GET_DEST with a wrong identity with an empty dump, not
// an error: only the request itself shows the mistake.
func TestSnapshotAsksForEachServicesDestinations(t *testing.T) {
	k := newFakeKernel(testTable())
	snap := snapshot(t, newTestReader(t, k))
	if len(k.destReqs) != len(snap.Services) {
		t.Fatalf("%d GET_DEST requests for %d services", len(k.destReqs), len(snap.Services))
	}
	for i, req := range k.destReqs {
		want := snap.Services[i].ServiceKey
		got, ok := parseIdentity(req)
		if !ok {
			t.Errorf("GET_DEST #%d: the kernel would reject identity %x", i, req)
			continue
		}
		if got != want {
			t.Errorf("GET_DEST #%d asked for %+v, want %+v", i, got, want)
		}
		wantTypes := []uint16{svcAttrAF, svcAttrProtocol, svcAttrAddr, svcAttrPort}
		if want.FWMark != 0 {
			wantTypes = []uint16{svcAttrAF, svcAttrFWMark}
		}
		if got := identityAttrTypes(t, req); !reflect.DeepEqual(got, wantTypes) {
			t.Errorf("GET_DEST #%d for %s carries attributes %v, want %v", i, want, got, wantTypes)
		}
	}
}

func TestSnapshotStatsOnlyFallback(t *testing.T) {
	k := newFakeKernel(testTable())
	k.noStats64 = true
	snap := snapshot(t, newTestReader(t, k))
	got := snap.Services[0]
	// Counts come truncated to 32 bits from the legacy attribute; bytes are
	// 64-bit there too.
	wantSvc := Stats{Connections: 7, PacketsIn: 8, PacketsOut: 9, BytesIn: big + 3, BytesOut: 1<<63 + 5}
	if got.Stats != wantSvc {
		t.Errorf("service stats = %+v, want %+v", got.Stats, wantSvc)
	}
	wantDst := Stats{Connections: 7, PacketsIn: 5, PacketsOut: 7, BytesIn: 1 << 50, BytesOut: 9}
	if got.Destinations[0].Stats != wantDst {
		t.Errorf("destination stats = %+v, want %+v", got.Destinations[0].Stats, wantDst)
	}
}

func TestSnapshotEmptyTable(t *testing.T) {
	snap := snapshot(t, newTestReader(t, newFakeKernel(nil)))
	if len(snap.Services) != 0 || snap.Info == nil {
		t.Fatalf("snapshot of an empty table = %+v", snap)
	}
}

func TestSnapshotModuleLoadedLater(t *testing.T) {
	k := newFakeKernel(testTable())
	k.loaded = false
	r := newTestReader(t, k)

	_, err := r.Snapshot(context.Background())
	if !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("Snapshot without ip_vs: err = %v, want ErrModuleNotLoaded", err)
	}
	if !strings.Contains(err.Error(), "modprobe ip_vs") {
		t.Errorf("error %q does not say what to do", err)
	}

	k.set(func(k *fakeKernel) { k.loaded = true })
	snap, err := r.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot after loading ip_vs: %v", err)
	}
	if k.lookupsByName != 0 {
		t.Errorf("%d family look-ups by name; on a real kernel each would load ip_vs", k.lookupsByName)
	}
	if len(snap.Services) != len(testTable()) {
		t.Fatalf("got %d services", len(snap.Services))
	}
}

func TestSnapshotCachesFamilyUntilReload(t *testing.T) {
	k := newFakeKernel(testTable())
	r := newTestReader(t, k)
	snapshot(t, r)
	snapshot(t, r)
	if k.getFamilies != 1 {
		t.Errorf("%d family look-ups for two snapshots, want 1 (cached)", k.getFamilies)
	}

	// Unload and load again: the family comes back under another ID, and
	// the cached one now answers ENOENT.
	k.set(func(k *fakeKernel) { k.familyID++ })
	snap := snapshot(t, r)
	if len(snap.Services) != len(testTable()) {
		t.Fatalf("got %d services after reload", len(snap.Services))
	}
	if k.getFamilies != 2 {
		t.Errorf("%d family look-ups, want 2", k.getFamilies)
	}

	// Unloaded for good.
	k.set(func(k *fakeKernel) { k.loaded = false })
	if _, err := r.Snapshot(context.Background()); !errors.Is(err, ErrModuleNotLoaded) {
		t.Fatalf("Snapshot after unload: err = %v, want ErrModuleNotLoaded", err)
	}
}

func TestSnapshotKernelErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(k *fakeKernel)
		want  error
	}{
		{"EPERM on services", func(k *fakeKernel) { k.errs[cmdGetService] = int(unix.EPERM) }, ErrPermission},
		{"EACCES on services", func(k *fakeKernel) { k.errs[cmdGetService] = int(unix.EACCES) }, ErrPermission},
		{"EPERM on destinations", func(k *fakeKernel) { k.errs[cmdGetDest] = int(unix.EPERM) }, ErrPermission},
		{"EPERM on family", func(k *fakeKernel) { k.getFamilyErr = int(unix.EPERM) }, ErrPermission},
		{"EINVAL on destinations", func(k *fakeKernel) { k.errs[cmdGetDest] = int(unix.EINVAL) }, unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(testTable())
			tt.setup(k)
			r := newTestReader(t, k)
			snap, err := r.Snapshot(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if snap != nil {
				t.Errorf("got a snapshot with the error")
			}
			// The next Snapshot starts over: new family look-up, and it
			// succeeds once the kernel does.
			lookups := k.getFamilies
			k.set(func(k *fakeKernel) { k.errs = map[uint8]int{}; k.getFamilyErr = 0 })
			snapshot(t, r)
			if k.getFamilies != lookups+1 {
				t.Errorf("family not looked up again after an error")
			}
		})
	}
}

func TestSnapshotPartial(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(k *fakeKernel, o *ReaderOptions)
		check   func(s *Snapshot) bool
		wantErr string
	}{
		{
			name:    "GET_INFO fails",
			setup:   func(k *fakeKernel, _ *ReaderOptions) { k.errs[cmdGetInfo] = int(unix.EOPNOTSUPP) },
			check:   func(s *Snapshot) bool { return s.Info == nil && s.Timeouts != nil && s.Totals != nil },
			wantErr: "read IPVS info",
		},
		{
			name:    "GET_CONFIG fails",
			setup:   func(k *fakeKernel, _ *ReaderOptions) { k.errs[cmdGetConfig] = int(unix.EPERM) },
			check:   func(s *Snapshot) bool { return s.Info != nil && s.Timeouts == nil && s.Totals != nil },
			wantErr: "read IPVS timeouts",
		},
		{
			name:    "ip_vs_stats missing",
			setup:   func(_ *fakeKernel, o *ReaderOptions) { o.ProcNet = "testdata/does-not-exist" },
			check:   func(s *Snapshot) bool { return s.Info != nil && s.Timeouts != nil && s.Totals == nil },
			wantErr: "ip_vs_stats",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKernel(testTable())
			opts := ReaderOptions{Dial: k.dial, ProcNet: "testdata/procnet"}
			tt.setup(k, &opts)
			r, err := NewReader(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			snap := snapshot(t, r)
			if snap.Partial == nil || !strings.Contains(snap.Partial.Error(), tt.wantErr) {
				t.Fatalf("Partial = %v, want an error containing %q", snap.Partial, tt.wantErr)
			}
			if !tt.check(snap) {
				t.Errorf("wrong parts missing: info=%v timeouts=%v totals=%v", snap.Info, snap.Timeouts, snap.Totals)
			}
			if !reflect.DeepEqual(snap.Services, testTable()) {
				t.Errorf("services incomplete in a partial snapshot")
			}
		})
	}
}

func TestSnapshotConcurrent(t *testing.T) {
	r := newTestReader(t, newFakeKernel(testTable()))
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				snap, err := r.Snapshot(context.Background())
				if err == nil && snap.Destinations() != 10 {
					err = errors.New("wrong destination count")
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestReaderClosed(t *testing.T) {
	r := newTestReader(t, newFakeKernel(nil))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Snapshot after Close: err = %v", err)
	}
}

func TestNewReaderNetNS(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, wantErr string
	}{
		{path: filepath.Join(dir, "missing"), wantErr: "no such file"},
		{path: regular, wantErr: "not a namespace file"},
		{path: "/proc/self/ns/uts", wantErr: "not of a network namespace"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			_, err := NewReader(ReaderOptions{NetNS: tt.path})
			if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewReader(%s): err = %v, want one naming the path and saying %q", tt.path, err, tt.wantErr)
			}
		})
	}
	r, err := NewReader(ReaderOptions{NetNS: "/proc/self/ns/net"})
	if err != nil {
		t.Fatalf("NewReader(/proc/self/ns/net): %v", err)
	}
	_ = r.Close()
}
