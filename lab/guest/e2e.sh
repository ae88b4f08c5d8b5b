# Guest side of lab/e2e: builds the lab topology, then runs the e2e test
# binary that lab/e2e shipped in /lab/bin with the arguments it was given.
# The tests find the namespaces and addresses of topology.sh (exported
# LAB_* variables) and start from a VM where ip_vs is not loaded yet.
set -u
# shellcheck source=lab/guest/topology.sh
. "$LAB_LIB/topology.sh"
lab_topology
cd /tmp || exit 1
exec e2e.test "$@"
