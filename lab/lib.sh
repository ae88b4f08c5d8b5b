# Shared helpers of the lab's host-side scripts (setup, mkinitramfs, run, e2e).
# Sourced, not run. Needs bash.
# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing scripts

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_DIR/.." && pwd)
LAB_CACHE=${LAB_CACHE:-$LAB_DIR/cache}
LAB_WORK=${LAB_WORK:-$LAB_DIR/work}

# lab_log prints a progress line on stderr, unless LAB_QUIET is set.
lab_log() {
	[[ -n ${LAB_QUIET:-} ]] || printf 'lab: %s\n' "$*" >&2
}

# lab_die prints an error on stderr and exits non-zero.
lab_die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit 1
}

# lab_now prints the time since the epoch in milliseconds.
lab_now() {
	date +%s%3N
}

# lab_secs prints the milliseconds between two lab_now values as seconds.
lab_secs() {
	local ms=$(($2 - $1))
	printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100))
}

# lab_apt runs apt-get with the options every lab install uses. A parallel
# apt run can hold the lock for a moment: retry once.
lab_apt() {
	local log
	log=$(mktemp)
	if DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@" >"$log" 2>&1; then
		rm -f "$log"
		return 0
	fi
	sleep 3
	if DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@" >"$log" 2>&1; then
		rm -f "$log"
		return 0
	fi
	tail -n 20 "$log" >&2
	rm -f "$log"
	return 1
}

# lab_env_file is where setup records what it built for run to use.
lab_env_file() {
	printf '%s/lab.env' "$LAB_CACHE"
}
