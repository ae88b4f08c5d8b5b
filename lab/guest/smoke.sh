# The lab's smoke scenario: lab/run lab/guest/smoke.sh. Builds the
# topology, puts NAT virtual services in front of the three real servers (TCP,
# IPv6 TCP, UDP, SCTP), a service with a direct-routing and a tunnel real
# server, and an fwmark service (nft marks the packets); sends real client
# traffic through each, checks that every real server answered, and that
# `ipvsadm -Ln --stats --exact` counted the traffic. Fails loudly on the
# first thing that does not hold.
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

# The other forwarding methods, on the second VIP: rs1 by direct routing,
# rs2 through an IPIP tunnel; their replies go to the client via the
# director (routed, not un-NATed).
ipvs -A -t "$LAB_VIP2:80" -s rr
ipvs -a -t "$LAB_VIP2:80" -r "$(lab_rs 1):80" -g
ipvs -a -t "$LAB_VIP2:80" -r "$(lab_rs 2):80" -i
lab_rs_dr 1 "$LAB_VIP2"
lab_rs_tun 2 "$LAB_VIP2"
LAB_RS_COUNT=2 ask dr+tun lab_http "http://$LAB_VIP2/"

# An fwmark service: nft marks what the client sends to VIP2:8080.
lab_in director nft -f - <<NFT || lab_fail "nft"
table ip lab {
	chain prerouting {
		type filter hook prerouting priority mangle;
		ip daddr $LAB_VIP2 tcp dport 8080 meta mark set 7
	}
}
NFT
ipvs -A -f 7 -s rr
ipvs -a -f 7 -r "$(lab_rs 3):80" -m
got=$(lab_http "http://$LAB_VIP2:8080/") || lab_fail "fwmark request: no answer"
[ "$got" = rs3 ] || lab_fail "fwmark request answered by $got, want rs3"
echo "fwmark request: $got"

# The estimator refreshes the stats every 2 s: wait until all six services
# have counted connections, packets and bytes both ways.
counted() {
	lab_in director ipvsadm -Ln --stats --exact >/tmp/stats || return 1
	awk '
		$1 == "TCP" || $1 == "UDP" || $1 == "SCTP" || $1 == "FWM" {
			n++
			if ($3 == 0 || $4 == 0 || $5 == 0 || $6 == 0 || $7 == 0) bad = 1
		}
		END { exit bad || n != 6 }' /tmp/stats
}
lab_until 10 counted || {
	cat /tmp/stats
	lab_fail "ipvsadm --stats did not count the traffic within 10s"
}
cat /tmp/stats
echo "smoke passed at $(cut -d' ' -f1 /proc/uptime)s of uptime"
