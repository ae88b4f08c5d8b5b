package actuator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaintenanceSet(t *testing.T) {
	const svc, srv = "tcp/192.0.2.1:80", "10.0.0.1:80"
	for _, tc := range []struct {
		name    string
		steps   []bool // each a Set(on)
		changed []bool // what each Set reports
		in      bool   // InMaintenance after the steps
	}{
		{"enable", []bool{true}, []bool{true}, true},
		{"enable twice", []bool{true, true}, []bool{true, false}, true},
		{"disable unknown", []bool{false}, []bool{false}, false},
		{"enable then disable", []bool{true, false}, []bool{true, true}, false},
		{"disable twice", []bool{true, false, false}, []bool{true, true, false}, false},
		{"re-enable", []bool{true, false, true}, []bool{true, true, true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMaintenance()
			var hooks atomic.Int32
			m.OnChange(func() { hooks.Add(1) })
			wantHooks := int32(0)
			for i, on := range tc.steps {
				if got := m.Set(svc, srv, on, "test"); got != tc.changed[i] {
					t.Errorf("step %d: Set(%v) changed = %v, want %v", i, on, got, tc.changed[i])
				}
				if tc.changed[i] {
					wantHooks++
				}
			}
			if got := m.InMaintenance(svc, srv); got != tc.in {
				t.Errorf("InMaintenance = %v, want %v", got, tc.in)
			}
			if m.InMaintenance(svc, "10.0.0.2:80") || m.InMaintenance("tcp/192.0.2.1:443", srv) {
				t.Error("another server or service is in maintenance")
			}
			if got := hooks.Load(); got != wantHooks {
				t.Errorf("OnChange hook ran %d times, want %d (once per change)", got, wantHooks)
			}
			if n := len(m.List()); (n == 1) != tc.in {
				t.Errorf("List has %d entries, InMaintenance %v", n, tc.in)
			}
		})
	}
}

func TestMaintenanceEntry(t *testing.T) {
	m := NewMaintenance()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	m.now = func() time.Time { return now }

	e, changed, err := m.Apply(MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Enabled: true, Reason: "kernel upgrade", By: "alice"})
	if err != nil || !changed {
		t.Fatalf("Apply: changed %v, err %v", changed, err)
	}
	want := MaintenanceEntry{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Reason: "kernel upgrade", By: "alice", Since: t0}
	if e != want {
		t.Errorf("entry %+v, want %+v", e, want)
	}

	// Enabling again keeps who and since, and takes a new reason.
	now = t0.Add(time.Hour)
	e, changed, _ = m.Apply(MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Enabled: true, Reason: "still upgrading", By: "bob"})
	want.Reason = "still upgrading"
	if changed || e != want {
		t.Errorf("second enable: changed %v, entry %+v; want unchanged %+v", changed, e, want)
	}
	// ... and an empty reason keeps the old one.
	if e, _, _ = m.Apply(MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Enabled: true}); e.Reason != "still upgrading" {
		t.Errorf("enable without a reason replaced it: %q", e.Reason)
	}
	if got, ok := m.Get("tcp/192.0.2.1:80", "10.0.0.1:80"); !ok || got != want {
		t.Errorf("Get = %+v, %v", got, ok)
	}

	e, changed, _ = m.Apply(MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80"})
	if !changed || e != (MaintenanceEntry{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80"}) {
		t.Errorf("disable: changed %v, entry %+v", changed, e)
	}
	if _, ok := m.Get("tcp/192.0.2.1:80", "10.0.0.1:80"); ok {
		t.Error("Get finds a lifted maintenance")
	}
}

func TestMaintenanceListSorted(t *testing.T) {
	m := NewMaintenance()
	for _, k := range [][2]string{
		{"udp/192.0.2.1:53", "10.0.0.2:53"},
		{"tcp/192.0.2.1:80", "10.0.0.9:80"},
		{"tcp/192.0.2.1:80", "10.0.0.1:80"},
		{"fwmark/42/ipv4", "10.0.0.1:0"},
	} {
		m.Set(k[0], k[1], true, "")
	}
	var got []string
	for _, e := range m.List() {
		got = append(got, e.Service+" "+e.Server)
	}
	want := []string{"fwmark/42/ipv4 10.0.0.1:0", "tcp/192.0.2.1:80 10.0.0.1:80", "tcp/192.0.2.1:80 10.0.0.9:80", "udp/192.0.2.1:53 10.0.0.2:53"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("List order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMaintenancePersistence: a store loaded from the file a previous one
// saved has the same entries, also after a lift; the file is replaced
// atomically (no temporary file left behind).
func TestMaintenancePersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maintenance.json")
	m, err := LoadMaintenance(path)
	if err != nil {
		t.Fatalf("a missing file: %v", err)
	}
	if len(m.List()) != 0 {
		t.Fatal("a missing file gave entries")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("loading created the file before any change: %v", err)
	}
	if m.Path() != path {
		t.Errorf("Path = %q", m.Path())
	}

	for _, c := range []MaintenanceChange{
		{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Enabled: true, Reason: "kernel upgrade", By: "alice"},
		{Service: "tcp/192.0.2.1:80", Server: "10.0.0.2:80", Enabled: true},
		{Service: "tcp/[2001:db8::1]:443", Server: "[2001:db8::10]:443", Enabled: true, Reason: `quotes " and \ survive`},
	} {
		if _, _, err := m.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
	m.Set("tcp/192.0.2.1:80", "10.0.0.2:80", false, "")

	m2, err := LoadMaintenance(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(m2.List()), fmt.Sprint(m.List()); got != want {
		t.Errorf("reloaded entries:\n%s\nwant:\n%s", got, want)
	}
	if len(m2.List()) != 2 || !m2.InMaintenance("tcp/[2001:db8::1]:443", "[2001:db8::10]:443") || m2.InMaintenance("tcp/192.0.2.1:80", "10.0.0.2:80") {
		t.Errorf("reloaded store: %+v", m2.List())
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Errorf("the directory holds %d files, want only the state file: %v", len(names), names)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("state file mode %v (%v): readable by others", st.Mode(), err)
	}
}

func TestLoadMaintenanceErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated", `{"version": 1, "entries": [`, "delete it to lift every maintenance"},
		{"not json", "service web\n", "invalid character"},
		{"future version", `{"version": 3, "entries": []}`, "version 3"},
		{"no version", `{"entries": []}`, "version 0"},
		{"entry without server", `{"version": 1, "entries": [{"service": "tcp/192.0.2.1:80"}]}`, "entry 0 has no service or server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadMaintenance(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want one naming %s and %q", err, path, tc.want)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		// A directory where the file should be cannot be read as one.
		if _, err := LoadMaintenance(t.TempDir()); err == nil {
			t.Error("loading a directory succeeded")
		}
	})
}

// TestMaintenanceSaveFailure: when the file cannot be written the change
// still holds, the error says a restart would lose it, and the next
// request saves again once the disk is back.
func TestMaintenanceSaveFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "m.json")
	m, err := LoadMaintenance(path)
	if err != nil {
		t.Fatal(err)
	}
	_, changed, err := m.Apply(MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Enabled: true})
	if err == nil || !strings.Contains(err.Error(), "a restart would lose it") {
		t.Fatalf("save into a missing directory: err %v", err)
	}
	if !changed || !m.InMaintenance("tcp/192.0.2.1:80", "10.0.0.1:80") {
		t.Errorf("the change did not hold after a failed save: changed %v", changed)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The same request again changes nothing, but saves what the file lacks.
	if _, changed, err := m.Apply(MaintenanceChange{Service: "tcp/192.0.2.1:80", Server: "10.0.0.1:80", Enabled: true}); err != nil || changed {
		t.Fatalf("retry: changed %v, err %v", changed, err)
	}
	var f maintenanceFile
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil || len(f.Entries) != 1 {
		t.Errorf("file after the retry: %s (%v)", data, err)
	}
}

// TestMaintenanceConcurrent is for the race detector: readers, writers
// and List at once, with a file.
func TestMaintenanceConcurrent(t *testing.T) {
	m, err := LoadMaintenance(filepath.Join(t.TempDir(), "m.json"))
	if err != nil {
		t.Fatal(err)
	}
	var changes atomic.Int32
	m.OnChange(func() { changes.Add(1) })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 20 {
				srv := fmt.Sprintf("10.0.0.%d:80", w)
				m.Set("tcp/192.0.2.1:80", srv, i%2 == 0, "flip")
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				m.InMaintenance("tcp/192.0.2.1:80", "10.0.0.1:80")
				_ = m.List()
			}
		}()
	}
	wg.Wait()
	// Each writer flips its own server 20 times: every Set is a change, and
	// the last (i = 19) lifts it.
	if got := changes.Load(); got != 80 {
		t.Errorf("%d changes, want 80", got)
	}
	if n := len(m.List()); n != 0 {
		t.Errorf("%d entries left, want 0", n)
	}
}
