#!/bin/bash
# make demo: two partitions (network namespaces joined by a veth pair, like
# two VMs on one host), redis-server in one, redis-benchmark in the other;
# first over plain TCP, then with shunt attached to both partitions' cgroups.
# Rounds alternate (TCP, shunt, TCP, shunt) to cancel drift on a noisy host.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHUNT="$ROOT/.output/shunt --pin-dir /sys/fs/bpf/shunt_demo"
ID=shuntdemo
N=${N:-100000}
ROUNDS=${ROUNDS:-2}

[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root (namespaces, cgroups, BPF)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "demo: redis-server missing: run scripts/deps.sh" >&2; exit 1; }
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || { echo "demo: no cgroup v2 mount found in /proc/mounts" >&2; exit 1; }
cleanup() {
	set +e
	[ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	$SHUNT unload --force >/dev/null 2>&1
	for p in srv cli; do
		echo 1 > "$CGROOT/$ID-$p/cgroup.kill" 2>/dev/null
		sleep 0.1
		rmdir "$CGROOT/$ID-$p" 2>/dev/null
		ip netns del "$ID-$p" 2>/dev/null
	done
	[ -n "${TMPD:-}" ] && rm -rf "$TMPD"
}
(cleanup) 2>/dev/null || true	# leftovers of an interrupted demo
trap cleanup EXIT
TMPD=$(mktemp -d /tmp/shunt-demo.XXXX)

# part PART CMD...: run CMD in partition PART (its cgroup first: `ip netns exec`
# remounts /sys, hiding cgroupfs).
part() {
	local p=$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CGROOT/$ID-$p" ip netns exec "$ID-$p" "$@"
}

echo "== two partitions: $ID-srv (10.77.0.2) and $ID-cli (10.77.0.1), joined by veth"
for p in srv cli; do
	ip netns add "$ID-$p"
	ip -n "$ID-$p" link set lo up
	mkdir "$CGROOT/$ID-$p"
done
ip link add vdemo0 netns "$ID-cli" type veth peer name vdemo1 netns "$ID-srv"
ip -n "$ID-cli" addr add 10.77.0.1/24 dev vdemo0
ip -n "$ID-srv" addr add 10.77.0.2/24 dev vdemo1
ip -n "$ID-cli" link set vdemo0 up
ip -n "$ID-srv" link set vdemo1 up

part srv redis-server --bind 10.77.0.2 --port 6379 --save "" --appendonly no \
	--protected-mode no --dir "$TMPD" > "$TMPD/redis.log" 2>&1 &
REDIS_PID=$!
for i in $(seq 100); do
	[ "$(part cli redis-cli -h 10.77.0.2 PING 2>/dev/null)" = PONG ] && break
	sleep 0.05
done

echo "== shunt: load, register both partitions as endpoints"
$SHUNT load
$SHUNT endpoint add demo-srv 10.77.0.2 --netns "$ID-srv"
$SHUNT endpoint add demo-cli 10.77.0.1 --netns "$ID-cli"

# bench LABEL -> appends "label test rps" lines
bench() {
	local label=$1 c
	for c in 50 1; do
		part cli redis-benchmark -h 10.77.0.2 -n "$N" -c "$c" -t set,get --csv 2>/dev/null |
			awk -F'"' -v l="$label" -v c="$c" 'NR > 1 { print l, $2 "-c" c, $4 }' >> "$TMPD/results"
	done
}

for r in $(seq "$ROUNDS"); do
	echo "== round $r/$ROUNDS: plain TCP over veth"
	$SHUNT detach "$CGROOT/$ID-srv" 2>/dev/null || true
	$SHUNT detach "$CGROOT/$ID-cli" 2>/dev/null || true
	bench tcp
	echo "== round $r/$ROUNDS: shunt attached to both partitions' cgroups"
	$SHUNT attach "$CGROOT/$ID-srv"
	$SHUNT attach "$CGROOT/$ID-cli"
	bench shunt
done

echo
printf '%-12s %14s %14s %8s\n' "redis" "TCP req/s" "shunt req/s" "ratio"
for t in SET-c50 GET-c50 SET-c1 GET-c1; do
	# best of the rounds for each path (noise only ever slows a run down)
	tcp=$(awk -v t="$t" '$1 == "tcp" && $2 == t && $3 > m { m = $3 } END { print m + 0 }' "$TMPD/results")
	sh=$(awk -v t="$t" '$1 == "shunt" && $2 == t && $3 > m { m = $3 } END { print m + 0 }' "$TMPD/results")
	awk -v t="$t" -v a="$tcp" -v b="$sh" 'BEGIN { printf "%-12s %14.0f %14.0f %7.2fx\n", t, a, b, (a > 0 ? b / a : 0) }'
done
echo
echo "== shunt's counters (proof the benchmark's connections were redirected)"
$SHUNT status --json | jq -r '"connections redirected: \(.counters.connections_redirected)   bytes redirected: \(.counters.bytes_redirected)   directions left on TCP: \(.counters.directions_tcp)"'
$SHUNT status
