# The lab's smoke scenario: lab/run lab/guest/smoke.sh. Builds the
# topology, puts NAT virtual services in front of the three real servers (TCP,
# IPv6 TCP, UDP, SCTP), sends real client traffic through each, checks that
# every real server answered, and that `ipvsadm -Ln --stats --exact` counted
# the traffic. Fails loudly on the first thing that does not hold.
set -u
# shellcheck source=lab/guest/topology.sh
. "$LAB_LIB/topology.sh"

lab_topology
echo "topology up at $(cut -d' ' -f1 /proc/uptime)s"

modprobe ip_vs || lab_fail "modprobe ip_vs"
[ -e /proc/net/ip_vs ] || lab_fail "/proc/net/ip_vs missing after modprobe ip_vs"

ipvs() { lab_in director ipvsadm "$@" || lab_fail "ipvsadm $*"; }

# Round-robin NAT services with every real server behind each.
ipvs -A -t "$LAB_VIP:80" -s rr
ipvs -A -t "[$LAB_VIP6]:80" -s rr
ipvs -A -u "$LAB_VIP:8000" -s rr
ipvs -A --sctp-service "$LAB_VIP:8000" -s rr
i=1
while [ $i -le "$LAB_RS_COUNT" ]; do
	ipvs -a -t "$LAB_VIP:80" -r "$(lab_rs $i):80" -m
	ipvs -a -t "[$LAB_VIP6]:80" -r "[$(lab_rs6 $i)]:80" -m
	ipvs -a -u "$LAB_VIP:8000" -r "$(lab_rs $i):8000" -m
	ipvs -a --sctp-service "$LAB_VIP:8000" -r "$(lab_rs $i):8000" -m
	i=$((i + 1))
done
lab_in director ipvsadm -Ln

# ask NAME CMD... runs CMD (a client request) twice per real server and
# checks that every real server answered.
ask() {
	name=$1
	shift
	seen=
	n=0
	while [ $n -lt $((2 * LAB_RS_COUNT)) ]; do
		got=$("$@") || lab_fail "$name request $n: no answer"
		echo "$name request $n: $got"
		seen="$seen $got"
		n=$((n + 1))
	done
	i=1
	while [ $i -le "$LAB_RS_COUNT" ]; do
		case " $seen " in
		*" rs$i "*) ;;
		*) lab_fail "$name: rs$i never answered (answers:$seen)" ;;
		esac
		i=$((i + 1))
	done
}
ask tcp lab_http "http://$LAB_VIP/"
ask tcp6 lab_http "http://[$LAB_VIP6]/"
ask udp lab_udp "$LAB_VIP:8000"
ask sctp lab_sctp "$LAB_VIP:8000"

# The estimator refreshes the stats every 2 s: wait until every service has
# counted its connections and bytes both ways.
counted() {
	lab_in director ipvsadm -Ln --stats --exact >/tmp/stats || return 1
	awk -v want=$((2 * LAB_RS_COUNT)) '
		$1 == "TCP" || $1 == "UDP" || $1 == "SCTP" {
			n++
			if ($3 < want || $4 == 0 || $5 == 0 || $6 == 0 || $7 == 0) bad = 1
		}
		END { exit bad || n != 4 }' /tmp/stats
}
lab_until 10 counted || {
	cat /tmp/stats
	lab_fail "ipvsadm --stats did not count the traffic within 10s"
}
cat /tmp/stats
echo "smoke passed at $(cut -d' ' -f1 /proc/uptime)s of uptime"
