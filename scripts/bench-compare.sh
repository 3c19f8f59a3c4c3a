#!/bin/bash
# Two builds of shunt against each other, interleaved round by round (A B A
# B ...) so drift on a noisy machine hits both: 64 B ping-pong, 64 B message
# rate and connection setup over the redirect path, each with the kernel's
# per-program run time (kernel.bpf_stats_enabled) divided by what the
# program did: ns per message for the sk_msg verdict, ns per connection for
# sock_ops (all its callbacks), ns per read for the read counter.
#   bash scripts/bench-compare.sh OLD_SHUNT NEW_SHUNT [ROUNDS]
# Used for issue 11's cost of events and per-endpoint counters (the note).
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-3} DUR=${DUR:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/.output/shunt-bench
ID=shuntcmp
PIN=/sys/fs/bpf/$ID
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
TMPD=$(mktemp -d /tmp/shunt-cmp.XXXX)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	set +e
	pkill -f "$BENCH server" 2>/dev/null
	sleep 0.2
	"$A" --pin-dir "$PIN" unload --force >/dev/null 2>&1
	"$B" --pin-dir "$PIN" unload --force >/dev/null 2>&1
	for c in cli srv; do rmdir "$CGROOT/$ID-$c" 2>/dev/null; done
	for n in cli srv; do ip netns del "$ID-$n" 2>/dev/null; done
	sysctl -q kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$TMPD"
}
trap cleanup EXIT
for n in cli srv; do ip netns add "$ID-$n"; ip -n "$ID-$n" link set lo up; mkdir "$CGROOT/$ID-$n"; done
ip link add vcmp0 netns "$ID-cli" type veth peer name vcmp1 netns "$ID-srv"
ip -n "$ID-cli" addr add 10.31.0.1/24 dev vcmp0
ip -n "$ID-srv" addr add 10.31.0.2/24 dev vcmp1
ip -n "$ID-cli" link set vcmp0 up
ip -n "$ID-srv" link set vcmp1 up
sysctl -q kernel.bpf_stats_enabled=1
run() { local cg=$1 ns=$2; shift 2; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CGROOT/$ID-$cg" ip netns exec "$ID-$ns" "$@"; }
# prog_ns PROG: run_time_ns and run_cnt of a pinned program
prog_ns() { bpftool prog show pinned "$PIN/progs/$1" -j 2>/dev/null | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'; }
PORT=21000
one() {	# one BIN MODE -> "metric sk_msg_ns/run sockops_ns/conn"
	local bin=$1 mode=$2 line m0 m1 s0 s1 r0 r1 conns
	PORT=$((PORT + 1))
	"$bin" --pin-dir "$PIN" load >/dev/null
	"$bin" --pin-dir "$PIN" attach "$CGROOT/$ID-cli"
	"$bin" --pin-dir "$PIN" attach "$CGROOT/$ID-srv"
	"$bin" --pin-dir "$PIN" endpoint add c 10.31.0.1 --netns "$ID-cli"
	"$bin" --pin-dir "$PIN" endpoint add s 10.31.0.2 --netns "$ID-srv"
	run srv srv "$BENCH" server -A 10.31.0.2:$PORT -m "$mode" -q > "$TMPD/srv.log" 2>&1 &
	for i in $(seq 100); do grep -q ready "$TMPD/srv.log" && break; sleep 0.02; done
	read -r m0 r0 <<< "$(prog_ns shunt_msg)"
	read -r s0 conns <<< "$(prog_ns shunt_sockops)"
	line=$(run cli cli "$BENCH" client -A 10.31.0.2:$PORT -m "$mode" -d "$DUR" -w 0.3 -q) || line=error=1
	read -r m1 r1 <<< "$(prog_ns shunt_msg)"
	read -r s1 _ <<< "$(prog_ns shunt_sockops)"
	pkill -f "shunt-bench server -A 10.31.0.2:$PORT " 2>/dev/null || true
	wait 2>/dev/null || true
	conns=$("$bin" --pin-dir "$PIN" status --json | jq '.counters.established')
	"$bin" --pin-dir "$PIN" unload --wait 5 >/dev/null 2>&1 || "$bin" --pin-dir "$PIN" unload --force >/dev/null
	local metric
	metric=$(tr ' ' '\n' <<< "$line" | grep -E '^(p50_us|msgs_per_s|cycles_per_s)=' | head -1)
	awk -v m="$metric" -v dm=$((m1 - m0)) -v rm=$((r1 - r0)) -v ds=$((s1 - s0)) -v c="$conns" \
		'BEGIN { printf "%s sk_msg_ns=%.0f sockops_ns_per_conn=%.0f\n", m, rm ? dm / rm : 0, c ? ds / (c / 2) : 0 }'
}
printf '%-9s %-4s %s\n' mode bin result
for r in $(seq "$ROUNDS"); do
	for mode in pingpong msgrate connrate; do
		for which in A B; do
			bin=$A; [ $which = B ] && bin=$B
			printf '%-9s %-4s %s\n' "$mode" "$which" "$(one "$bin" "$mode")"
		done
	done
done
