package ipvs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// IPVS sysctls (net.ipv4.vs.*) that decide what a drain or a removal does
// to clients already on a real server.
const (
	// SysctlExpireQuiescentTemplate: 1 expires a persistence template
	// whose real server has weight 0, so a drained server of a persistent
	// service stops getting its sticky clients; 0 (the kernel's default)
	// keeps sending them there.
	SysctlExpireQuiescentTemplate = "expire_quiescent_template"
	// SysctlExpireNodestConn: 1 expires a connection entry whose real
	// server was removed at its next packet (the client sees a reset and
	// reconnects elsewhere); 0 (the default) drops its packets until the
	// entry times out.
	SysctlExpireNodestConn = "expire_nodest_conn"
)

// ErrNoSysctl is returned by Sysctl when the namespace has no such IPVS
// sysctl: ip_vs is not loaded, or the kernel does not have it.
var ErrNoSysctl = errors.New("no such IPVS sysctl (is the ip_vs module loaded?)")

// Sysctl reads net.ipv4.vs.NAME as the reader's network namespace has it:
// IPVS sysctls are per namespace, and /proc/sys/net shows the namespace of
// the thread that opens it, so with ReaderOptions.NetNS the file is read
// from a thread inside that namespace. With ReaderOptions.ProcNet (tests)
// it is read from PROCNET/../sys/net/ipv4/vs/NAME.
func (r *Reader) Sysctl(name string) (int, error) {
	if strings.ContainsAny(name, "/.") || name == "" {
		return 0, fmt.Errorf("sysctl net.ipv4.vs.%s: not a sysctl name", name)
	}
	path := "/proc/sys/net/ipv4/vs/" + name
	var b []byte
	var err error
	switch {
	case r.opts.ProcNet != "":
		b, err = os.ReadFile(filepath.Join(r.opts.ProcNet, "..", "sys", "net", "ipv4", "vs", name))
	default:
		b, err = r.ns.readFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("sysctl net.ipv4.vs.%s: %w", name, ErrNoSysctl)
	}
	if err != nil {
		return 0, fmt.Errorf("sysctl net.ipv4.vs.%s: %w", name, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("sysctl net.ipv4.vs.%s: not a number: %q", name, b)
	}
	return v, nil
}
