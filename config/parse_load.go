package config

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	loadKeys = append(append([]string{"enabled", "source", "oid", "scale", "port", "interval", "timeout", "stale_after"},
		snmpKeys...), "start", "full", "floor", "hysteresis", "max_step")
)

// load decodes a load block at path. Every key it leaves out comes from
// base, the block of the level around it (defaults.load for a service,
// the service's for a real server), or the built-in values when that
// level has none. It returns nil for `enabled: false`, and ok false when
// the block has errors (reported).
func (d *decoder) load(n *yaml.Node, path string, base *LoadWeight) (l *LoadWeight, ok bool) {
	errs := len(d.errs)
	m, isMap := d.mapping(n, path, loadKeys)
	if !isMap {
		return nil, false
	}
	at := d.resolve(n)
	var v LoadWeight
	inherited := base != nil
	if inherited {
		v = *base
	} else {
		v = builtinLoad()
	}
	if e, ok := m["enabled"]; ok {
		if on, ok := d.boolean(e.val, join(path, "enabled")); ok && !on {
			if len(m) > 1 {
				d.errorf(e.key, join(path, "enabled"), "with enabled: false the other keys of load do nothing: remove them")
			}
			return nil, len(d.errs) == errs
		}
	}
	if e, ok := m["source"]; ok {
		if i, ok := d.oneOf(e.val, join(path, "source"), loadSourceNames); ok {
			v.Source = LoadSource(i)
			v.OID, v.Scale = sourceDefaults(v.Source)
		}
	}
	if e, ok := m["oid"]; ok {
		p := join(path, "oid")
		if v.Source == LoadHRProcessor {
			d.errorf(e.key, p, "not used by source hr_processor, which walks hrProcessorLoad (%s); use source: oid for another object", OIDHRProcessorLoad)
		} else if s, ok := d.str(e.val, p); ok {
			if oid, msg := parseOID(s); msg != "" {
				d.errorf(e.val, p, "%s", msg)
			} else {
				v.OID = oid
			}
		}
	} else if v.Source == LoadOID && v.OID == "" {
		d.errorf(at, join(path, "oid"), "source oid needs the OID to poll, like oid: 1.3.6.1.4.1.2021.11.9.0")
	}
	if e, ok := m["scale"]; ok {
		p := join(path, "scale")
		if v.Source != LoadOID {
			d.errorf(e.key, p, "only for source oid: %s has a fixed unit", v.Source)
		} else if f, ok := d.number(e.val, p); ok {
			if f <= 0 {
				d.errorf(e.val, p, "must be above 0, got %s", e.val.Value)
			} else {
				v.Scale = f
			}
		}
	}
	if e, ok := m["port"]; ok {
		if p, ok := d.integer(e.val, join(path, "port"), 1, 65535); ok {
			v.Port = uint16(p)
		}
	}
	if e, ok := m["interval"]; ok {
		if iv, ok := d.duration(e.val, join(path, "interval")); ok {
			if iv < minLoadInterval {
				d.errorf(e.val, join(path, "interval"), "must be at least %s, got %s", minLoadInterval, iv)
			} else {
				v.Interval = iv
			}
		}
	}
	if e, ok := m["timeout"]; ok {
		if t, ok := d.duration(e.val, join(path, "timeout")); ok {
			if t <= 0 {
				d.errorf(e.val, join(path, "timeout"), "must be above 0")
			} else {
				v.Timeout = t
			}
		}
	}
	if v.Timeout >= v.Interval && len(d.errs) == errs {
		e, ok := m["timeout"]
		if !ok {
			e = m["interval"]
		}
		d.errorf(d.resolve(e.val), join(path, "timeout"), "%s must be shorter than the interval %s", v.Timeout, v.Interval)
	}
	if e, ok := m["stale_after"]; ok {
		if s, ok := d.integer(e.val, join(path, "stale_after"), 1, 1000); ok {
			v.StaleAfter = int(s)
		}
	}
	v.SNMP, _ = d.snmpCredentials(m, at, path, v.SNMP, agentPeer)
	d.loadCurve(m, at, path, &v, inherited)
	if len(d.errs) != errs {
		return nil, false
	}
	return &v, true
}

// sourceDefaults returns the OID and scale a source reads by default.
func sourceDefaults(s LoadSource) (string, float64) {
	switch s {
	case LoadHRProcessor:
		return OIDHRProcessorLoad, 1
	case LoadOID:
		return "", 1
	}
	return OIDLaLoadInt1, 0.01
}

// loadCurve decodes the weight function's parameters.
func (d *decoder) loadCurve(m map[string]entry, at *yaml.Node, path string, v *LoadWeight, inherited bool) {
	errs := len(d.errs)
	start, hasStart := m["start"]
	full, hasFull := m["full"]
	if hasStart {
		if f, ok := d.number(start.val, join(path, "start")); ok {
			v.Start = f
		}
	}
	if hasFull {
		if f, ok := d.number(full.val, join(path, "full")); ok {
			v.Full = f
		}
	}
	if !inherited && (!hasStart || !hasFull) {
		var missing []string
		if !hasStart && !d.misspelt(at, "start") {
			missing = append(missing, "start (the load at which the weight starts to fall)")
		}
		if !hasFull && !d.misspelt(at, "full") {
			missing = append(missing, "full (the load at which it reaches floor)")
		}
		if len(missing) > 0 {
			d.errorf(at, path, "needs %s; for %s that is %s", strings.Join(missing, " and "), v.Source, loadUnit(v.Source))
		}
		return
	}
	if len(d.errs) == errs && v.Start >= v.Full {
		e := full
		if !hasFull {
			e = start
		}
		d.errorf(d.resolve(e.val), join(path, "full"), "%g must be above start (%g)", v.Full, v.Start)
	}
	if e, ok := m["floor"]; ok {
		if f, ok := d.percent(e.val, join(path, "floor")); ok {
			if f <= 0 {
				d.errorf(e.val, join(path, "floor"), "must be above 0%%: load alone never drains a real server (maintenance or a failed check does)")
			} else {
				v.Floor = f
			}
		}
	}
	if e, ok := m["max_step"]; ok {
		if f, ok := d.percent(e.val, join(path, "max_step")); ok {
			if f <= 0 {
				d.errorf(e.val, join(path, "max_step"), "must be above 0%%, or the weight would never change")
			} else {
				v.MaxStep = f
			}
		}
	}
	if e, ok := m["hysteresis"]; ok {
		if f, ok := d.number(e.val, join(path, "hysteresis")); ok {
			v.Hysteresis = f
		}
	}
	if len(d.errs) == errs && v.Hysteresis >= v.Full-v.Start {
		e, ok := m["hysteresis"]
		if !ok {
			e = entry{val: at}
		}
		d.errorf(d.resolve(e.val), join(path, "hysteresis"), "%g must be below full - start (%g), or the weight could not follow the load", v.Hysteresis, v.Full-v.Start)
	}
}

// loadUnit says what the load of a source is measured in.
func loadUnit(s LoadSource) string {
	switch s {
	case LoadHRProcessor:
		return "the average CPU busy percentage, like start: 60, full: 95"
	case LoadOID:
		return "the polled value × scale"
	}
	return "the 1-minute load average, like start: 4, full: 12 on an 8-core server"
}

// number returns a finite, non-negative number (integer or decimal).
func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	s, ok := d.scalar(n, path, "a number")
	if !ok {
		return 0, false
	}
	var f float64
	if (s.Tag != "!!int" && s.Tag != "!!float") || s.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.errorf(s, path, "must be a number like 2 or 0.5, got %s", describe(s))
		return 0, false
	}
	if f < 0 {
		d.errorf(s, path, "must not be negative, got %s", s.Value)
		return 0, false
	}
	return f, true
}

// parseOID checks a numeric OID (a leading dot allowed) and returns it
// without the dot, or a message.
func parseOID(s string) (string, string) {
	oid := strings.TrimPrefix(s, ".")
	arcs := strings.Split(oid, ".")
	bad := len(arcs) < 2
	for _, a := range arcs {
		if _, err := strconv.ParseUint(a, 10, 32); err != nil || (len(a) > 1 && a[0] == '0') {
			bad = true
		}
	}
	if bad {
		return "", "must be a numeric OID like 1.3.6.1.4.1.2021.10.1.5.1 (names from MIBs are not resolved), got " + strconv.Quote(s)
	}
	return oid, ""
}
