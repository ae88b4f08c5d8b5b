# Guest side of lab/bench: builds the lab topology, loads ip_vs, and runs
# labbench (lab/cmd/labbench) in the director's namespace with the
# arguments lab/bench passed; it writes its logs, the configurations it
# made and results.md to $LAB_OUT/bench.
set -u
# shellcheck source=lab/guest/topology.sh
. "$LAB_LIB/topology.sh"
lab_topology
modprobe ip_vs || lab_fail "modprobe ip_vs"
modprobe nft_objref || lab_fail "modprobe nft_objref"
# Thousands of check sockets and listeners: the guest's default limit of
# 1024 descriptors would fail checks (labbench raises its own too).
ulimit -n 1048576 || lab_fail "ulimit -n"
mkdir -p "$LAB_OUT/bench"
cd /tmp || exit 1
exec nsenter --net=/run/netns/director labbench run -out "$LAB_OUT/bench" "$@"
