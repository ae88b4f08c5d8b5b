package ipvs

import "errors"

// Sentinel errors callers branch on with errors.Is. Errors returned by this
// package wrap one of these where it applies, and their text says what the
// operator should do.
var (
	// ErrModuleNotLoaded: the kernel has no "IPVS" generic-netlink family,
	// i.e. the ip_vs module is not loaded (or IPVS is not built in).
	ErrModuleNotLoaded = errors.New("the ip_vs kernel module is not loaded: load it with `modprobe ip_vs` (and add ip_vs to /etc/modules-load.d/ to keep it across reboots)")
	// ErrPermission: the kernel refused the request; IPVS needs CAP_NET_ADMIN
	// in the network namespace's user namespace.
	ErrPermission = errors.New("permission denied by the kernel: lvs-sidecar needs the CAP_NET_ADMIN capability to read or change the IPVS table (run as root, or grant it: systemd AmbientCapabilities=CAP_NET_ADMIN, docker --cap-add NET_ADMIN)")
	// ErrNotFound: the service or destination named in a write does not exist.
	ErrNotFound = errors.New("no such IPVS service or destination")
	// ErrExists: a write tried to create a service or destination the
	// kernel already has.
	ErrExists = errors.New("the IPVS service or destination already exists")
	// ErrTimeout: the kernel did not answer within the call's deadline.
	ErrTimeout = errors.New("the kernel did not answer the IPVS request in time")
	// ErrNetNSChanged: a write pinned to a snapshot (PinNetNS) was refused
	// because the network namespace was re-opened since that snapshot was
	// read.
	ErrNetNSChanged = errors.New("the network namespace was re-opened (its path names a new namespace) after the table was read: nothing computed from the old namespace's table is written to the new one; the next pass reads the new one")
)
