# Guest side of lab/demo: three HTTP real servers behind an IPVS NAT service
# that lvs-sidecar's configuration declares, with health checks and the
# controller; IPv6 and UDP services built by ipvsadm beside it (exported,
# never touched); the sidecar's port forwarded to the host; steady client
# traffic; and every FLAP seconds rs3's HTTP server stops or starts again,
# so that the sidecar drains it and restores it. The sidecar runs the safe
# setup: basic auth with a generated scrape user (prometheus, reads only)
# and administrator (admin), and the maintenance API on for admin only.
# The passwords come from the host (lab/demo), in /lab/bin/demo-passwords,
# so that a Prometheus there can scrape as the scrape user.
#   demo.sh HOST_PORT DURATION [FLAP [PROM_PORT [ALERT_FOR]]]
#     (seconds; DURATION 0: until killed, FLAP 0: never stop rs3, default
#     30; PROM_PORT: the host's Prometheus, 0 none; ALERT_FOR: the for: of
#     its rules, for the banner)
set -u
# shellcheck source=lab/guest/topology.sh
. "$LAB_LIB/topology.sh"
host_port=${1:-9960}
duration=${2:-0}
flap=${3:-30}
prom_port=${4:-0}
alert_for=${5:-keep}

lab_topology
modprobe ip_vs || lab_fail "modprobe ip_vs"
ipvs() { lab_in director ipvsadm "$@" || lab_fail "ipvsadm $*"; }
ipvs -A -t "[$LAB_VIP6]:80" -s rr
ipvs -A -u "$LAB_VIP:8000" -s rr
i=1
while [ $i -le "$LAB_RS_COUNT" ]; do
	ipvs -a -t "[$LAB_VIP6]:80" -r "[$(lab_rs6 $i)]:80" -m
	ipvs -a -u "$LAB_VIP:8000" -r "$(lab_rs $i):8000" -m
	i=$((i + 1))
done

# The IPv4 web service is the sidecar's to build and keep: weights 30, 20
# and 10 (3:2:1, with room for a slow-start ramp), drained on failure.
config=/tmp/lvs-sidecar.yml
{
	cat <<YAML
services:
  - name: web
    address: $LAB_VIP:80
    protocol: tcp
    scheduler: wrr
    on_failure: drain
    slow_start: 10s
    panic_threshold: 50%
    real_servers:
YAML
	i=1
	while [ $i -le "$LAB_RS_COUNT" ]; do
		echo "      - {address: $(lab_rs $i):80, weight: $((10 * (LAB_RS_COUNT + 1 - i))), forward: nat}"
		i=$((i + 1))
	done
	cat <<YAML
    checks:
      - {type: tcp, schedule: "@every 1s", timeout: 500ms, rise: 2, fall: 2}
controller:
  mode: managed
  period: 5s
YAML
} >"$config"

# Basic auth with fresh passwords each run: the scrape user may only read,
# the administrator may also put servers into maintenance. No TLS: the port
# is forwarded to the host's loopback only.
read -r scrape_pw admin_pw </lab/bin/demo-passwords || lab_fail "no passwords in /lab/bin/demo-passwords (lab/demo writes them)"
[ -n "$scrape_pw" ] && [ -n "$admin_pw" ] || lab_fail "/lab/bin/demo-passwords wants two passwords"
web=/tmp/lvs-sidecar-web.yml
{
	echo "basic_auth_users:"
	echo "  prometheus: $(labhash "$scrape_pw")"
	echo "  admin: $(labhash "$admin_pw")"
} >"$web" || lab_fail "write $web"

lab_expose_nic director
nsenter --net=/run/netns/director lvs-sidecar --web.listen-address=:9960 --config.file="$config" \
	--web.config.file="$web" --web.enable-admin-api --web.admin-user=admin &
sidecar=$!
lab_until 20 lab_in director wget -q -O /dev/null "http://prometheus:$scrape_pw@127.0.0.1:9960/metrics" ||
	lab_fail "lvs-sidecar did not answer on :9960 within 20s"
lab_until 20 lab_in director ipvsadm -Ln -t "$LAB_VIP:80" ||
	lab_fail "lvs-sidecar did not create the web service $LAB_VIP:80 within 20s"

# rs_httpd_pid prints the PID of the busybox httpd that serves rs$1.
rs_httpd_pid() {
	_ns=$(readlink "/proc/$(cat "/run/netns/rs$1.pid")/ns/net")
	for _p in $(pidof httpd); do
		[ "$(readlink "/proc/$_p/ns/net")" = "$_ns" ] && echo "$_p"
	done
}

flapping="never"
[ "$flap" -gt 0 ] && flapping="every ${flap}s"
prom_msg=" No Prometheus on this machine (--prometheus-port 0)."
if [ "$prom_port" -gt 0 ]; then
	shortened="every for: shortened to $alert_for in the demo's copy"
	[ "$alert_for" = keep ] && shortened="with their shipped for: durations"
	prom_msg=" Prometheus on this machine scrapes the sidecar every 5s and
 evaluates alerts/lvs-sidecar.rules.yml ($shortened):
   http://localhost:$prom_port/alerts    LVSRealServerDown goes pending
   and fires while rs3 is down, and resolves when it is back;
   http://localhost:$prom_port/graph?g0.expr=ipvs_real_server_weight"
fi
cat <<MSG

================================================================
 lvs-sidecar runs on the lab's IPVS director (real kernel IPVS)
 and controls the web service $LAB_VIP:80 from its health checks.
 From this machine:

   curl -s -u prometheus:$scrape_pw http://localhost:$host_port/metrics | grep -E '^ipvs_(real_server_(weight|health_state)|controller_(panic|slow_start))'

 Basic auth is on: prometheus (password $scrape_pw) may only
 read; admin (password $admin_pw) may also put a real server
 into maintenance (--web.enable-admin-api --web.admin-user=admin):

   LVS_SIDECAR_PASSWORD=$admin_pw bin/lvs-sidecar maintenance enable \\
     --url http://localhost:$host_port --user admin --service web --server $(lab_rs 2):80

 The same as prometheus gets 403 ("is not an admin"); lift it with
 "maintenance disable". POST /-/reload is off (no --web.enable-lifecycle).

 The client sends ~5 HTTP requests/s to $LAB_VIP:80 (weighted
 round robin 30:20:10 over rs1..rs3), plus IPv6 HTTP and UDP
 (services made with ipvsadm: exported, never touched).

 What to watch: $flapping the demo stops rs3's HTTP server or
 starts it again. When it stops, the sidecar logs "real server
 down" and, within ~2.5 s, "set real server weight" with
 reason="down, drain": ipvs_real_server_weight of rs3 drops to 0
 and the client's IPv4 failures stop. The IPv6 service, made with
 ipvsadm and not declared, is left alone: a third of its requests
 fail while rs3 is down. When rs3 starts, "real server up" and a
 slow-start ramp: the weight climbs 1 → 10 over 10 s
 (ipvs_controller_slow_start_progress_ratio).

$prom_msg
 Stop with Ctrl-C.
================================================================

MSG

start=$(cut -d. -f1 /proc/uptime)
last_flap=$start
rs3_up=1
n=0
while :; do
	now=$(cut -d. -f1 /proc/uptime)
	[ "$duration" -gt 0 ] && [ $((now - start)) -ge "$duration" ] && break
	kill -0 $sidecar 2>/dev/null || lab_fail "lvs-sidecar exited"
	if [ "$flap" -gt 0 ] && [ $((now - last_flap)) -ge "$flap" ]; then
		last_flap=$now
		if [ $rs3_up = 1 ]; then
			echo "demo: stopping rs3's HTTP server: watch the sidecar drain it"
			pid=$(rs_httpd_pid 3)
			[ -n "$pid" ] && kill "$pid"
			rs3_up=0
		else
			echo "demo: starting rs3's HTTP server again: watch the sidecar ramp its weight back"
			lab_in rs3 httpd -p 80 -h /tmp/www/rs3 || echo "demo: cannot start rs3's httpd"
			rs3_up=1
		fi
	fi
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
