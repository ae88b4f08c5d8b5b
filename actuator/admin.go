package actuator

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// MaintenanceEntry is one real server an operator put into maintenance:
// the controller drains it (weight 0) whatever its checks say, until the
// operator lifts it.
type MaintenanceEntry struct {
	// Service is the canonical service key ("tcp/192.0.2.1:80",
	// "fwmark/42/ipv4"), the "service" label of the metrics.
	Service string `json:"service"`
	// Server is the real server as "addr:port" ("[addr]:port" for IPv6),
	// the "server" label.
	Server string `json:"server"`
	// Reason is what the operator said, if anything.
	Reason string `json:"reason,omitempty"`
	// By is who asked: the basic-auth user, or the client's address.
	By string `json:"by,omitempty"`
	// Since is when the server entered maintenance.
	Since time.Time `json:"since"`
}

// MaintenanceChange asks to put a real server into maintenance (Enabled)
// or to lift it.
type MaintenanceChange struct {
	Service, Server string
	Enabled         bool
	Reason, By      string
}

// Maintenance is the admin state: the set of real servers in maintenance,
// safe for concurrent use. With a file (LoadMaintenance) every change is
// saved before it is reported, so a restart keeps servers in maintenance.
// The zero value is not usable; call NewMaintenance or LoadMaintenance.
type Maintenance struct {
	path string
	now  func() time.Time

	// writeMu serializes changes and file writes; mu guards entries and
	// hooks only, so readers (the controller on every pass) never wait
	// for the disk.
	writeMu sync.Mutex
	// dirty records a change the file does not hold yet (its save
	// failed): the next change saves again even if it changes nothing.
	dirty bool

	mu      sync.RWMutex
	entries map[maintenanceKey]MaintenanceEntry
	hooks   []func()
	// applied is what the controller last applied to each real server
	// (see SaveApplied), sorted by service and server, never changed in
	// place: the controller keeps the same records; loaded holds whether
	// the file had that section.
	applied []AppliedDest
	loaded  bool
}

type maintenanceKey struct{ service, server string }

// NewMaintenance returns an empty store kept in memory only.
func NewMaintenance() *Maintenance {
	return &Maintenance{now: time.Now, entries: make(map[maintenanceKey]MaintenanceEntry)}
}

// LoadMaintenance returns a store saved to path, with the entries the file
// holds. A missing file is an empty store (the file is created on the
// first change); a file that cannot be read or parsed is an error, since
// starting without it would put its servers back into service.
func LoadMaintenance(path string) (*Maintenance, error) {
	m := NewMaintenance()
	m.path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maintenance state: %w", err)
	}
	var f maintenanceFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("maintenance state %s: %w (fix the file, or delete it to lift every maintenance)", path, err)
	}
	if f.Version < 1 || f.Version > maintenanceFileVersion {
		return nil, fmt.Errorf("maintenance state %s: version %d, this lvs-sidecar reads versions 1 to %d", path, f.Version, maintenanceFileVersion)
	}
	for i, e := range f.Entries {
		if e.Service == "" || e.Server == "" {
			return nil, fmt.Errorf("maintenance state %s: entry %d has no service or server (fix the file, or delete it to lift every maintenance)", path, i)
		}
		m.entries[maintenanceKey{e.Service, e.Server}] = e
	}
	applied := make(map[maintenanceKey]AppliedDest, len(f.Applied))
	for i, a := range f.Applied {
		if a.Service == "" || a.Server == "" {
			return nil, fmt.Errorf("maintenance state %s: applied entry %d has no service or server (fix the file, or delete it to lift every maintenance)", path, i)
		}
		applied[maintenanceKey{a.Service, a.Server}] = a // the last of a repeated one
	}
	m.applied = sortedApplied(slices.Collect(maps.Values(applied)))
	m.loaded = f.Applied != nil
	return m, nil
}

// maintenanceFileVersion is the format of the state file; a change that
// older readers would misread gets a new version.
// Version 2 added "applied"; version 1 files are read as having none.
const maintenanceFileVersion = 2

// maintenanceFile is the state file's JSON document.
type maintenanceFile struct {
	Version int                `json:"version"`
	Entries []MaintenanceEntry `json:"entries"`
	// Applied is what the controller last applied to each declared real
	// server, so that a restart tells its own drains from hand-made ones.
	Applied []AppliedDest `json:"applied,omitempty"`
}

// AppliedDest is what the controller last applied to a real server (or
// found the table agreeing with): in the table or not, and its weight.
type AppliedDest struct {
	Service string `json:"service"`
	Server  string `json:"server"`
	Present bool   `json:"present"`
	Weight  int32  `json:"weight"`
}

// Applied returns the controller's records the store was loaded with,
// keyed by service and server; known is false when the file had none
// (no file, a version 1 file, or a store in memory only).
func (m *Maintenance) Applied() (records map[[2]string]AppliedDest, known bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	records = make(map[[2]string]AppliedDest, len(m.applied))
	for _, a := range m.applied {
		records[[2]string{a.Service, a.Server}] = a
	}
	return records, m.loaded
}

// AppliedList returns the records the store was loaded with, or last
// saved, sorted by service and server, as it keeps them: the caller must
// not change them.
func (m *Maintenance) AppliedList() []AppliedDest {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.applied
}

// SaveApplied replaces the controller's records and saves the file (a
// store in memory only keeps them in memory). Maintenance entries are
// saved with them unchanged. The store keeps records itself (sorted by
// service and server, one per real server): the caller must not change
// them afterwards.
func (m *Maintenance) SaveApplied(records []AppliedDest) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	m.mu.Lock()
	m.applied = sortedApplied(records)
	m.loaded = true
	snapshot, applied := m.sortedLocked(), m.appliedLocked()
	m.mu.Unlock()
	if m.path == "" {
		return nil
	}
	if err := writeMaintenanceFile(m.path, snapshot, applied); err != nil {
		m.dirty = true
		return err
	}
	m.dirty = false
	return nil
}

// appliedLocked returns the records to write: never changed in place.
func (m *Maintenance) appliedLocked() []AppliedDest { return m.applied }

// compareApplied orders records by service, then server.
func compareApplied(a, b AppliedDest) int {
	return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Server, b.Server))
}

// sortedApplied sorts records by service and server, in place.
func sortedApplied(records []AppliedDest) []AppliedDest {
	if !slices.IsSortedFunc(records, compareApplied) {
		slices.SortFunc(records, compareApplied)
	}
	return records
}

// Path returns the state file, "" for a store kept in memory only.
func (m *Maintenance) Path() string { return m.path }

// InMaintenance reports whether the real server server of service is in
// maintenance. It satisfies the controller's AdminState.
func (m *Maintenance) InMaintenance(service, server string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.entries[maintenanceKey{service, server}]
	return ok
}

// Get returns the entry of a real server in maintenance.
func (m *Maintenance) Get(service, server string) (MaintenanceEntry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.entries[maintenanceKey{service, server}]
	return e, ok
}

// List returns every entry, sorted by service then server.
func (m *Maintenance) List() []MaintenanceEntry {
	m.mu.RLock()
	out := make([]MaintenanceEntry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b MaintenanceEntry) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Server, b.Server))
	})
	return out
}

// OnChange registers fn to be called after every change of the set (not
// after a request that changes nothing), from the goroutine that made it;
// fn must not block (the controller's Trigger).
func (m *Maintenance) OnChange(fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, fn)
}

// Set puts a real server into maintenance (on) or lifts it, and reports
// whether that changed the set. A failure to save the file is retried on
// the next change; Apply returns it.
func (m *Maintenance) Set(service, server string, on bool, reason string) (changed bool) {
	_, changed, _ = m.Apply(MaintenanceChange{Service: service, Server: server, Enabled: on, Reason: reason})
	return changed
}

// Apply makes the change and returns the server's entry (for a lifted
// maintenance: the service and server only) and whether the set changed.
// Enabling a server already in maintenance keeps its Since and By and
// replaces its reason when c gives one.
//
// With a file, the set is saved before Apply returns. If that fails, the
// change still holds in memory (maintenance wins now, as asked) and the
// error says that a restart would lose it; the next change saves again.
func (m *Maintenance) Apply(c MaintenanceChange) (entry MaintenanceEntry, changed bool, err error) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	k := maintenanceKey{c.Service, c.Server}

	m.mu.Lock()
	old, had := m.entries[k]
	switch {
	case c.Enabled && !had:
		entry = MaintenanceEntry{Service: c.Service, Server: c.Server, Reason: c.Reason, By: c.By, Since: m.now().UTC()}
		changed = true
	case c.Enabled:
		entry = old
		if c.Reason != "" {
			entry.Reason = c.Reason
		}
	default:
		entry = MaintenanceEntry{Service: c.Service, Server: c.Server}
		changed = had
	}
	if c.Enabled {
		m.entries[k] = entry
	} else {
		delete(m.entries, k)
	}
	var snapshot []MaintenanceEntry
	var applied []AppliedDest
	save := m.path != "" && (m.dirty || entry != old && c.Enabled || changed)
	if save {
		snapshot, applied = m.sortedLocked(), m.appliedLocked()
	}
	hooks := slices.Clone(m.hooks)
	m.mu.Unlock()

	if save {
		if err = writeMaintenanceFile(m.path, snapshot, applied); err != nil {
			m.dirty = true
			err = fmt.Errorf("maintenance of %s %s holds until lvs-sidecar stops, but a restart would lose it: %w", c.Service, c.Server, err)
		} else {
			m.dirty = false
		}
	}
	if changed {
		for _, fn := range hooks {
			fn()
		}
	}
	return entry, changed, err
}

func (m *Maintenance) sortedLocked() []MaintenanceEntry {
	out := make([]MaintenanceEntry, 0, len(m.entries))
	for _, e := range m.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b MaintenanceEntry) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Server, b.Server))
	})
	return out
}

// writeMaintenanceFile replaces path with entries atomically: a reader (or
// a restart after a crash) sees the old file or the new one, never a part.
func writeMaintenanceFile(path string, entries []MaintenanceEntry, applied []AppliedDest) error {
	data, err := json.MarshalIndent(maintenanceFile{Version: maintenanceFileVersion, Entries: entries, Applied: applied}, "", "  ")
	if err != nil {
		return fmt.Errorf("save maintenance state: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save maintenance state: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("save maintenance state: %w", err)
	}
	// The data must be on disk before the rename makes it the file, or a
	// power loss could leave an empty file under the real name.
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save maintenance state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save maintenance state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save maintenance state: %w", err)
	}
	done = true
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
