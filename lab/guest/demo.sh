# Guest side of lab/demo: three HTTP real servers behind an IPVS NAT service
# (plus UDP and IPv6 services), lvs-sidecar on the director with its port
# forwarded to the host, and steady client traffic.
#   demo.sh HOST_PORT DURATION   (DURATION in seconds, 0: until killed)
set -u
# shellcheck source=lab/guest/topology.sh
. "$LAB_LIB/topology.sh"
host_port=${1:-9960}
duration=${2:-0}

lab_topology
modprobe ip_vs || lab_fail "modprobe ip_vs"
ipvs() { lab_in director ipvsadm "$@" || lab_fail "ipvsadm $*"; }
ipvs -A -t "$LAB_VIP:80" -s wrr
ipvs -A -t "[$LAB_VIP6]:80" -s rr
ipvs -A -u "$LAB_VIP:8000" -s rr
i=1
while [ $i -le "$LAB_RS_COUNT" ]; do
	# Weights 3, 2, 1: the rates in the metrics differ per real server.
	ipvs -a -t "$LAB_VIP:80" -r "$(lab_rs $i):80" -m -w $((LAB_RS_COUNT + 1 - i))
	ipvs -a -t "[$LAB_VIP6]:80" -r "[$(lab_rs6 $i)]:80" -m
	ipvs -a -u "$LAB_VIP:8000" -r "$(lab_rs $i):8000" -m
	i=$((i + 1))
done

lab_expose_nic director
nsenter --net=/run/netns/director lvs-sidecar --web.listen-address=:9960 &
sidecar=$!
lab_until 20 lab_in director wget -q -O /dev/null http://127.0.0.1:9960/metrics ||
	lab_fail "lvs-sidecar did not answer on :9960 within 20s"

cat <<MSG

================================================================
 lvs-sidecar runs on the lab's IPVS director (real kernel IPVS).
 From this machine:

   curl -s http://localhost:$host_port/metrics | grep '^ipvs_'

 Look at ipvs_real_server_connections_total: the client sends
 ~5 HTTP requests/s to $LAB_VIP:80 (weighted round robin 3:2:1
 over rs1..rs3), plus IPv6 HTTP and UDP now and then. Counters
 move every 2 s (the kernel's estimator).
 Stop with Ctrl-C.
================================================================

MSG

start=$(cut -d. -f1 /proc/uptime)
n=0
while :; do
	now=$(cut -d. -f1 /proc/uptime)
	[ "$duration" -gt 0 ] && [ $((now - start)) -ge "$duration" ] && break
	kill -0 $sidecar 2>/dev/null || lab_fail "lvs-sidecar exited"
	lab_http "http://$LAB_VIP/" >/dev/null || echo "demo: HTTP request failed"
	n=$((n + 1))
	if [ $((n % 5)) -eq 0 ]; then
		lab_http "http://[$LAB_VIP6]/" >/dev/null || echo "demo: IPv6 HTTP request failed"
		lab_udp "$LAB_VIP:8000" >/dev/null || echo "demo: UDP request failed"
	fi
	[ $((n % 150)) -eq 0 ] && echo "demo: $n HTTP requests sent so far"
	usleep 200000
done
echo "demo: done after ${duration}s, $n HTTP requests"
kill $sidecar
