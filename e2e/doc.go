// Package e2e holds the end-to-end tests of lvs-sidecar: ordinary Go tests
// (build tag e2e) that run inside the lab VM (lab/), where Debian's kernel
// provides real IPVS, and check every claim the sidecar makes about the
// kernel. They pass only there: run them with lab/e2e (make e2e), which
// compiles them, boots the VM, builds its network namespaces (client,
// director, rs1..rs3; see lab/guest/topology.sh) and relays their output.
package e2e
