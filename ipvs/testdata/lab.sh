# Guest script for the ipvs package's real-kernel tests (lab_test.go):
#   CGO_ENABLED=0 go test -c -tags e2e -o /tmp/ipvs.test ./ipvs
#   lab/run -f /tmp/ipvs.test ipvs/testdata/lab.sh [-test.v]
# First the tests that need ip_vs absent (the VM boots without it), then the
# module reload in a process of its own, then the rest.
set -u
cd /tmp || exit 1
ipvs.test -test.run 'RealKernel' "$@" || exit 1
ipvs.test -test.run 'LabModuleReload' "$@" || exit 1
exec ipvs.test -test.run 'Lab' -test.skip 'LabModuleReload' "$@"
