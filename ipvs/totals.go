package ipvs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// statsFile is the host-wide counters file the ip_vs module adds to
// /proc/net (ip_vs_stats_show in ip_vs_ctl.c).
const statsFile = "ip_vs_stats"

// parseTotals parses /proc/net/ip_vs_stats: two header lines, then the
// cumulative connections, incoming and outgoing packets, incoming and
// outgoing bytes as hexadecimal numbers (printed with %LX, so all 64 bits),
// then the rate estimates, which are ignored.
func parseTotals(b []byte) (*Stats, error) {
	lines := bytes.SplitN(b, []byte("\n"), 4)
	if len(lines) < 3 {
		return nil, fmt.Errorf("parse %s: %d lines, want at least 3", statsFile, len(lines))
	}
	fields := bytes.Fields(lines[2])
	if len(fields) != 5 {
		return nil, fmt.Errorf("parse %s: line 3 has %d fields, want 5: %q", statsFile, len(fields), lines[2])
	}
	var v [5]uint64
	for i, f := range fields {
		n, err := strconv.ParseUint(string(f), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: field %d: %w", statsFile, i+1, err)
		}
		v[i] = n
	}
	return &Stats{Connections: v[0], PacketsIn: v[1], PacketsOut: v[2], BytesIn: v[3], BytesOut: v[4]}, nil
}

// readTotals reads the host-wide counters of the reader's namespace.
func (r *Reader) readTotals() (*Stats, error) {
	var b []byte
	var err error
	switch {
	case r.opts.ProcNet != "":
		b, err = os.ReadFile(filepath.Join(r.opts.ProcNet, statsFile))
	default:
		b, err = r.ns.readProcNet(statsFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read totals: %w", err)
	}
	return parseTotals(b)
}
