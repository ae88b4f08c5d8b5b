# Guest-side helpers (busybox sh) that build the lab's network inside the VM.
# Source it from a guest script: . "$LAB_LIB/topology.sh"; lab_topology
#
# lab_topology makes these network namespaces (files in /run/netns):
#
#   client ─eth0──eth0─ director ─rs1──eth0─ rs1
#                                ─rs2──eth0─ rs2
#                                ─rs3──eth0─ rs3
#
#   client    192.0.2.2/24    2001:db8:1::2/64    default via the director
#   director  192.0.2.1/24    2001:db8:1::1/64    on eth0, its client side
#             203.0.113.1/32  fe80::1/64          on each rsN, plus a host
#                                                 route to that real server
#             VIPs on lo: 198.51.100.1, 198.51.100.2, 2001:db8:100::1
#   rsN       203.0.113.1N/24 2001:db8:2::1N/64   default via the director
#
# The director forwards (NAT replies come back through it) and accepts
# packets from its own VIPs on the rsN links (replies of DR and tunnel real
# servers). Every real server runs, on all its addresses:
#   tcp/80   busybox httpd, answering "rsN" (GET /)
#   udp/8000 labnet udp-server, answering "rsN" to any datagram
#   sctp/8000 labnet sctp-server, sending "rsN" on every association
# All addresses are documentation ranges inside the VM: nothing leaves it.
# Nothing here loads ip_vs: scripts decide when IPVS appears.

LAB_CLIENT=192.0.2.2
LAB_CLIENT6=2001:db8:1::2
LAB_DIRECTOR=192.0.2.1
LAB_DIRECTOR6=2001:db8:1::1
LAB_VIP=198.51.100.1
LAB_VIP2=198.51.100.2
LAB_VIP6=2001:db8:100::1
LAB_RS_COUNT=${LAB_RS_COUNT:-3}
export LAB_CLIENT LAB_CLIENT6 LAB_DIRECTOR LAB_DIRECTOR6 LAB_VIP LAB_VIP2 LAB_VIP6 LAB_RS_COUNT

# lab_rs N prints real server N's IPv4 address; lab_rs6 N its IPv6 one.
lab_rs() { echo "203.0.113.1$1"; }
lab_rs6() { echo "2001:db8:2::1$1"; }

# lab_fail prints a message on stderr and exits the script non-zero.
lab_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# lab_in NS CMD... runs CMD in network namespace NS ("root": the VM's own).
lab_in() {
	_ns=$1
	shift
	if [ "$_ns" = root ]; then
		"$@"
	else
		nsenter --net="/run/netns/$_ns" "$@"
	fi
}

# lab_until SECONDS CMD... runs CMD (quietly) until it succeeds; fails when
# SECONDS pass first. For state the kernel updates on its own schedule.
lab_until() {
	_limit=$1
	shift
	_start=$(cut -d. -f1 /proc/uptime)
	while ! "$@" >/dev/null 2>&1; do
		[ $(($(cut -d. -f1 /proc/uptime) - _start)) -lt "$_limit" ] || return 1
		usleep 100000
	done
}

# lab_sysctl NS KEY=VALUE... sets sysctls in namespace NS.
lab_sysctl() {
	_ns=$1
	shift
	lab_in "$_ns" sysctl -q -w "$@" >/dev/null || lab_fail "sysctl $* in $_ns"
}

# lab_ns NAME makes network namespace NAME with lo up and IPv6 duplicate
# address detection off (addresses are usable at once), plus an idle
# process inside it: busybox ip moves links only to a PID's namespace.
lab_ns() {
	[ -e "/run/netns/$1" ] && return 0
	mkdir -p /run/netns
	touch "/run/netns/$1"
	unshare --net="/run/netns/$1" true || lab_fail "cannot create namespace $1"
	lab_in "$1" ip link set lo up
	lab_sysctl "$1" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	nsenter --net="/run/netns/$1" sleep 2000000000 &
	echo $! >"/run/netns/$1.pid"
	_root=$(readlink /proc/1/ns/net)
	lab_until 5 lab_entered $! "$_root" || lab_fail "anchor process of $1 did not enter it"
}

# lab_entered PID NSLINK succeeds once PID lives in another namespace.
lab_entered() {
	[ "$(readlink "/proc/$1/ns/net")" != "$2" ]
}

# lab_move DEV NS NAME moves DEV from the root namespace into NS, names it
# NAME there and sets it up.
lab_move() {
	if [ "$2" != root ]; then
		ip link set "$1" netns "$(cat "/run/netns/$2.pid")" || lab_fail "move $1 to $2"
	fi
	lab_in "$2" ip link set "$1" name "$3" || lab_fail "rename $1 to $3 in $2"
	lab_in "$2" ip link set "$3" up
}

# lab_link NS1 IF1 NS2 IF2 connects NS1 and NS2 with a veth pair whose ends
# are named IF1 and IF2. busybox ip ignores "peer name": find the peer.
lab_nlinks=0
lab_link() {
	lab_nlinks=$((lab_nlinks + 1))
	_a=lk${lab_nlinks}a
	_b=lk${lab_nlinks}b
	ip link add "$_a" type veth || lab_fail "veth for $1/$2"
	_peer=$(ip -o link show "$_a" | sed -n 's/^[0-9]*: [^@]*@\([^:]*\):.*/\1/p')
	[ -n "$_peer" ] || lab_fail "no peer of $_a"
	ip link set "$_peer" name "$_b"
	lab_move "$_a" "$1" "$2"
	lab_move "$_b" "$3" "$4"
}

# lab_topology builds the client, director and real-server namespaces and
# starts the real servers' responders (see the top of this file).
lab_topology() {
	modprobe veth || lab_fail "modprobe veth"
	modprobe sctp || lab_fail "modprobe sctp"
	for _n in client director; do lab_ns $_n; done

	lab_link client eth0 director eth0
	lab_in client ip addr add $LAB_CLIENT/24 dev eth0
	lab_in client ip -6 addr add $LAB_CLIENT6/64 dev eth0
	lab_in client ip route add default via $LAB_DIRECTOR
	lab_in client ip -6 route add default via $LAB_DIRECTOR6

	lab_sysctl director net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.all.accept_local=1
	lab_in director ip addr add $LAB_DIRECTOR/24 dev eth0
	lab_in director ip -6 addr add $LAB_DIRECTOR6/64 dev eth0
	for _v in $LAB_VIP $LAB_VIP2; do
		lab_in director ip addr add "$_v/32" dev lo
	done
	lab_in director ip -6 addr add $LAB_VIP6/128 dev lo

	_i=1
	while [ $_i -le "$LAB_RS_COUNT" ]; do
		lab_real_server $_i
		_i=$((_i + 1))
	done
	_i=1
	while [ $_i -le "$LAB_RS_COUNT" ]; do
		lab_wait_responders rs$_i
		_i=$((_i + 1))
	done
}

# lab_real_server N makes namespace rsN, links it to the director and starts
# its responders.
lab_real_server() {
	_rs=rs$1
	lab_ns "$_rs"
	lab_link director "$_rs" "$_rs" eth0
	lab_in director ip addr add 203.0.113.1/32 dev "$_rs"
	lab_in director ip -6 addr add fe80::1/64 dev "$_rs"
	lab_in director ip route add "$(lab_rs "$1")/32" dev "$_rs" src 203.0.113.1
	lab_in director ip -6 route add "$(lab_rs6 "$1")/128" dev "$_rs"
	# DR and tunnel real servers answer from the VIP: not from a martian.
	lab_sysctl director "net.ipv4.conf.$_rs.rp_filter=0" "net.ipv4.conf.$_rs.accept_local=1"

	lab_sysctl "$_rs" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	lab_in "$_rs" ip addr add "$(lab_rs "$1")/24" dev eth0
	lab_in "$_rs" ip -6 addr add "$(lab_rs6 "$1")/64" dev eth0
	lab_in "$_rs" ip route add default via 203.0.113.1
	lab_in "$_rs" ip -6 route add default via fe80::1 dev eth0

	mkdir -p "/tmp/www/$_rs"
	echo "$_rs" >"/tmp/www/$_rs/index.html"
	lab_in "$_rs" httpd -p 80 -h "/tmp/www/$_rs" || lab_fail "httpd in $_rs"
	nsenter --net="/run/netns/$_rs" labnet udp-server -listen :8000 "$_rs" &
	nsenter --net="/run/netns/$_rs" labnet sctp-server -listen :8000 "$_rs" &
}

# lab_listening NS PROTO PORT succeeds when something listens on PORT
# (PROTO tcp, udp or sctp) in namespace NS.
lab_listening() {
	_hex=$(printf ':%04X ' "$3")
	case $2 in
	tcp) lab_in "$1" cat /proc/net/tcp6 /proc/net/tcp | grep -q "$_hex" ;;
	udp) lab_in "$1" cat /proc/net/udp6 /proc/net/udp | grep -q "$_hex" ;;
	sctp) lab_in "$1" cat /proc/net/sctp/eps | awk -v p="$3" '$6 == p {f = 1} END {exit !f}' ;;
	esac
}

# lab_wait_responders NS waits until NS's three responders listen.
lab_wait_responders() {
	for _p in tcp:80 udp:8000 sctp:8000; do
		lab_until 10 lab_listening "$1" "${_p%:*}" "${_p#*:}" || lab_fail "nothing listens on $_p in $1"
	done
}

# lab_rs_dr N VIP makes real server N accept direct-routing traffic for VIP.
lab_rs_dr() {
	lab_in "rs$1" ip addr add "$2/32" dev lo
}

# lab_rs_tun N VIP makes real server N accept IPIP-tunnelled traffic for VIP.
lab_rs_tun() {
	modprobe ipip || lab_fail "modprobe ipip"
	lab_in "rs$1" ip link set tunl0 up
	lab_in "rs$1" ip addr add "$2/32" dev tunl0
	lab_sysctl "rs$1" net.ipv4.conf.tunl0.rp_filter=0
}

# lab_expose_nic NS moves the VM's user-mode NIC (lab/run --hostfwd) into
# NS as ext0 with the address qemu forwards to, 198.18.0.15/24.
lab_expose_nic() {
	ip link show eth0 >/dev/null 2>&1 || lab_fail "no NIC: start the lab with --hostfwd"
	# Renamed first: NS may have an eth0 of its own.
	ip link set eth0 name ext0 || lab_fail "rename eth0"
	lab_move ext0 "$1" ext0
	lab_in "$1" ip addr add 198.18.0.15/24 dev ext0
}

# lab_http URL fetches URL from the client namespace, one connection per
# request (busybox wget sends "Connection: close"). busybox wget -T
# crashes: timeout bounds it instead.
lab_http() {
	lab_in client timeout 5 wget -q -O - "$1"
}

# lab_udp HOST:PORT and lab_sctp HOST:PORT ask from the client namespace.
lab_udp() { lab_in client labnet udp "$1"; }
lab_sctp() { lab_in client labnet sctp "$1"; }
