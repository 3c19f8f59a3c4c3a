#!/bin/bash
# Helpers for integration tests: each test makes its own namespaces, cgroups
# and shunt instance (its own --pin-dir), and removes them on any exit.
# Exit 77 = skipped (with a reason on stderr), as liburing's runtests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
SHUNT_BIN=$OUT/shunt
TRAFFIC=$OUT/shunt-traffic
# SHUNT_SCALE=n (make vmtest sets 16 in slow QEMU guests): tests divide their
# sizes and counts by it with $(scaled N), rounding up.
SCALE=${SHUNT_SCALE:-1}
scaled() { echo $(( ($1 + SCALE - 1) / SCALE )); }
T=${TEST_ID:-st$$}
PIN=/sys/fs/bpf/shunt-$T
PIDS=()
TMPD=$(mktemp -d /tmp/shunt-$T.XXXX)
# mk_ns and mk_cgroup run in $(...) subshells: record what they made in
# files, which the EXIT trap reads (an array would be lost with the subshell).
: > "$TMPD/netns" > "$TMPD/cgroups"

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF"

CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || skip "no cgroup v2 mount"

shunt() { "$SHUNT_BIN" --pin-dir "$PIN" "$@"; }

cleanup() {
	local rc=$?
	set +e
	# a test's own stop steps first (e.g. stop postgres cleanly)
	[ "$(type -t test_cleanup)" = function ] && test_cleanup
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for cg in $(cat "$TMPD/cgroups"); do
		if [ -d "$cg" ]; then
			# cgroupfs files have size 0: wait on cgroup.events, not -s.
			echo 1 > "$cg/cgroup.kill" 2>/dev/null
			for i in $(seq 100); do
				grep -q '^populated 0' "$cg/cgroup.events" 2>/dev/null && break
				sleep 0.05
			done
			rmdir "$cg" 2>/dev/null
		fi
	done
	for ns in $(cat "$TMPD/netns"); do ip netns del "$ns" 2>/dev/null; done
	"$SHUNT_BIN" --pin-dir "$PIN" unload --force >/dev/null 2>&1
	rm -rf "$PIN" "$TMPD"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mk_cgroup NAME: a fresh cgroup v2 directory; prints its path.
mk_cgroup() {
	local cg=$CGROOT/shunt-$T-$1
	mkdir "$cg"
	echo "$cg" >> "$TMPD/cgroups"
	echo "$cg"
}

# mk_ns NAME: a fresh network namespace (named $T-NAME) with lo up; prints it.
mk_ns() {
	local ns=$T-$1
	ip netns add "$ns"
	echo "$ns" >> "$TMPD/netns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# link_ns NS_A ADDR_A NS_B ADDR_B [ADDR6_A ADDR6_B]: a veth pair, like two VMs'
# virtual NICs on one host bridge.  Addresses are /24 (/64 for IPv6).
link_ns() {
	local a=$1 aa=$2 b=$3 ba=$4 a6=${5:-} b6=${6:-}
	local ia=v${RANDOM}a ib=v${RANDOM}b
	ip link add "$ia" netns "$a" type veth peer name "$ib" netns "$b"
	ip -n "$a" addr add "$aa/24" dev "$ia"
	ip -n "$b" addr add "$ba/24" dev "$ib"
	if [ -n "$a6" ]; then
		ip -n "$a" addr add "$a6/64" dev "$ia" nodad
		ip -n "$b" addr add "$b6/64" dev "$ib" nodad
	fi
	ip -n "$a" link set "$ia" up
	ip -n "$b" link set "$ib" up
}

# in_ns NS CGROUP CMD...: run CMD inside netns NS and cgroup CGROUP.
in_ns() {
	local ns=$1 cg=$2
	shift 2
	# Join the cgroup first: `ip netns exec` remounts /sys, hiding cgroupfs.
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" ip netns exec "$ns" "$@"
}

# bg NS CG LOGFILE CMD...: start in background; records the PID.
bg() {
	local ns=$1 cg=$2 logf=$3
	shift 3
	# Not through the in_ns function: its subshell would be $!, and a kill
	# of LAST_PID would miss the program (sh and ip netns exec exec it).
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" ip netns exec "$ns" "$@" > "$logf" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

# wait_ready FILE: until a server printed "ready".
wait_ready() {
	for i in $(seq 100); do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$1" >&2
	fail "server did not become ready"
}

# counter NAME: a counter from `shunt status --json` (counters or tcp_reasons).
counter() {
	shunt status --json | jq -r --arg n "$1" \
		'(.counters[$n] // .tcp_reasons[$n | ltrimstr("tcp_")]) // error("no counter " + $n)'
}

# events_reader NAME [ARGS]: `shunt events --json` in the background, to
# $TMPD/NAME.ev, once it listens; its PID in R.
events_reader() {
	local name=$1
	shift
	"$SHUNT_BIN" --pin-dir "$PIN" events --json "$@" > "$TMPD/$name.ev" 2> "$TMPD/$name.err" &
	PIDS+=($!)
	R=$!
	for i in $(seq 100); do grep -q '^listening' "$TMPD/$name.err" && return 0; sleep 0.05; done
	cat "$TMPD/$name.err" >&2
	fail "events reader $name did not start"
}

status_field() { shunt status --json | jq -r ".$1"; }

# setup_shunt CG...: load this test's instance (with $SHUNT_LOAD_ARGS) and
# attach to the cgroups.
setup_shunt() {
	shunt load ${SHUNT_LOAD_ARGS:-} >/dev/null
	need_redirect
	for cg in "$@"; do shunt attach "$cg"; done
}

# feature NAME: 0 if `shunt features` (the probe `shunt load` uses) finds it.
feature() {
	"$SHUNT_BIN" features --json | jq -e --arg n "$1" \
		'.features[] | select(.name == $n) | .present' >/dev/null
}

# need_redirect: skip unless the loaded instance can redirect on this kernel
# (it redirects nothing without a read counter: README, Requirements).
need_redirect() {
	[ "$(status_field read_counter)" != none ] ||
		skip "this kernel has no read counter, so shunt redirects nothing ($("$SHUNT_BIN" features | sed -n 's/^read counter: //p'))"
}

# pair_setup: partitions A (10.10.0.1, fd10::1) and B (10.10.0.2, fd10::2),
# two namespaces joined by veth, each in its own cgroup; this test's shunt
# instance loaded, attached to both cgroups, endpoints ea/eb registered.
pair_setup() {
	NSA=$(mk_ns a)
	NSB=$(mk_ns b)
	link_ns "$NSA" 10.10.0.1 "$NSB" 10.10.0.2 fd10::1 fd10::2
	CGA=$(mk_cgroup a)
	CGB=$(mk_cgroup b)
	setup_shunt "$CGA" "$CGB"
	shunt endpoint add ea 10.10.0.1 fd10::1 --netns "$NSA"
	shunt endpoint add eb 10.10.0.2 fd10::2 --netns "$NSB"
}

# server NS CG LOG ARGS...: start shunt-traffic server and wait until ready.
server() {
	local ns=$1 cg=$2 logf=$3
	shift 3
	bg "$ns" "$cg" "$logf" "$TRAFFIC" server "$@"
	SERVER_PID=$LAST_PID
	wait_ready "$logf"
}

# map_len MAP: entries in one of this instance's pinned maps.
map_len() {
	local n
	n=$(bpftool map dump pinned "$PIN/maps/$1" -j 2>/dev/null | jq length) || n=
	# bpftool cannot dump a sockhash's values; count keys instead.
	[ -n "$n" ] || n=$(bpftool map dump pinned "$PIN/maps/$1" 2>/dev/null | grep -c '^key' || true)
	echo "$n"
}

# semantics CASE...: run tests/integ/py/semantics.py cases over plain TCP
# (10.10.0.3, not an endpoint) and over shunt (10.10.0.2); prints the shunt
# results to stdout; fails if a case fails over plain TCP (a broken probe).
semantics() {
	local sem=$ROOT/tests/integ/py/semantics.py a port=9000
	ip -n "$NSB" addr add 10.10.0.3/24 dev "$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2}')" 2>/dev/null || true
	for a in 10.10.0.3 10.10.0.2; do
		port=$((port + 1))
		bg "$NSB" "$CGB" "$TMPD/sem-$a.log" python3 "$sem" server "$a" "$port"
		wait_ready "$TMPD/sem-$a.log"
		in_ns "$NSA" "$CGA" timeout 60 python3 "$sem" client "$a" "$port" "$@" > "$TMPD/sem-$a.out" 2>&1 \
			|| { cat "$TMPD/sem-$a.out" >&2; fail "semantics probe failed over $a"; }
	done
	if grep -v ' ok$' "$TMPD/sem-10.10.0.3.out" >&2; then fail "a case fails over plain TCP: the probe is wrong"; fi
	cat "$TMPD/sem-10.10.0.2.out"
}

# semantics_xfail CASE: one case that passes over plain TCP but hits a known
# kernel gap over shunt; exit 66 (xfail) when it does, 0 if it passes.
semantics_xfail() {
	local out
	pair_setup
	out=$(semantics "$1")
	echo "$out" >&2
	[ "$(counter connections_redirected)" -ge 1 ] || fail "not redirected"
	if echo "$out" | grep -q "^$1 FAIL"; then echo "hit: $out"; exit 66; fi
	echo "$1 ok"
}

# podman_conf [LINES...]: a containers.conf for podman with runc on this
# machine (../shared/notes/containers-on-this-machine.md: the ulimits podman
# asks for need CAP_SYS_RESOURCE), plus LINES, exported as CONTAINERS_CONF.
podman_conf() {
	export CONTAINERS_CONF=$TMPD/containers.conf
	{
		printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
		printf '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
		printf 'events_logfile_path = "%s"\n' "$TMPD/events.log"
		printf '%s\n' "$@"
	} > "$CONTAINERS_CONF"
}
