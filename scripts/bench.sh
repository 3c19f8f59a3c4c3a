#!/bin/bash
# make bench: each workload over four paths, interleaved (A B C D A B C D ...)
# to cancel drift on a noisy machine, medians over the rounds:
#   tcp-veth  TCP across two namespaces over veth (the baseline: partitions today)
#   tcp-lo    TCP over loopback inside one namespace
#   unix      Unix domain stream sockets (the local IPC floor)
#   shunt     TCP across the two namespaces, redirected by shunt
#   bridge    TCP between two namespaces with no route, through the vsock
#             bridge's agents and relay over its unix transport (issue 13):
#             two "VMs" on one kernel.  It says nothing about virtio-net or
#             vsock yet; compare it with tcp-veth and the unix floor.
# CPU time is taken from /proc/stat deltas (all CPUs, so softirq work of the
# veth path counts), per operation or per GiB.  Output: a table with each
# path's ratio to tcp-veth (>1 is better) with its range over the rounds (each
# round's ratio against that round's baseline), CSV and a PNG chart in .output/bench.
#   QUICK=1   one round of 1 s runs (under 2 minutes); default 3 rounds of 2 s
#   ONLY=RE   run only the workloads whose name matches the regex RE
#   LOAD="--fc-bound 16M"   extra arguments for `shunt load`
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/.output/bench
BENCH=$ROOT/.output/shunt-bench
SHUNT="$ROOT/.output/shunt --pin-dir /sys/fs/bpf/shunt_bench"
ID=shuntbench
if [ "${QUICK:-0}" = 1 ]; then ROUNDS=1 DUR=1 RN=20000; else ROUNDS=${ROUNDS:-3} DUR=${DUR:-2} RN=100000; fi

[ "$(id -u)" -eq 0 ] || { echo "bench: must run as root" >&2; exit 1; }
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || { echo "bench: no cgroup v2 mount" >&2; exit 1; }
mkdir -p "$OUT"
TMPD=$(mktemp -d /tmp/shunt-bench.XXXX)

cleanup() {
	set +e
	pkill -f "$BENCH server" 2>/dev/null
	pkill -f "redis-server.*$TMPD" 2>/dev/null
	pkill -f "nginx -c $TMPD" 2>/dev/null
	pkill -f "bridge .*$TMPD/br" 2>/dev/null
	sleep 0.2
	$SHUNT unload --force >/dev/null 2>&1
	for v in vma vmb; do $ROOT/.output/shunt --pin-dir "/sys/fs/bpf/shunt_bench_$v" unload --force >/dev/null 2>&1; done
	for c in cli srv cli0 srv0 vcli vsrv; do
		echo 1 > "$CGROOT/$ID-$c/cgroup.kill" 2>/dev/null
		for i in $(seq 50); do grep -q '^populated 0' "$CGROOT/$ID-$c/cgroup.events" 2>/dev/null && break; sleep 0.05; done
		rmdir "$CGROOT/$ID-$c" 2>/dev/null
	done
	for n in cli srv vma vmb; do ip netns del "$ID-$n" 2>/dev/null; done
	rm -rf "$TMPD"
}
trap cleanup EXIT

# run CG NS CMD...: in cgroup CG (join first: `ip netns exec` remounts /sys).
run() {
	local cg=$1 ns=$2
	shift 2
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CGROOT/$ID-$cg" ip netns exec "$ID-$ns" "$@"
}

for n in cli srv vma vmb; do ip netns add "$ID-$n"; ip -n "$ID-$n" link set lo up; done
for c in cli srv cli0 srv0 vcli vsrv; do mkdir "$CGROOT/$ID-$c"; done
ip link add vbench0 netns "$ID-cli" type veth peer name vbench1 netns "$ID-srv"
ip -n "$ID-cli" addr add 10.30.0.1/24 dev vbench0
ip -n "$ID-srv" addr add 10.30.0.2/24 dev vbench1
ip -n "$ID-cli" link set vbench0 up
ip -n "$ID-srv" link set vbench1 up
$SHUNT load ${LOAD:-} >/dev/null
$SHUNT attach "$CGROOT/$ID-cli"
$SHUNT attach "$CGROOT/$ID-srv"
$SHUNT endpoint add bench-cli 10.30.0.1 --netns "$ID-cli"
$SHUNT endpoint add bench-srv 10.30.0.2 --netns "$ID-srv"

# The bridge's two "VMs": an address each on a veth that leads nowhere,
# their own instances and agents, the relay on the host ($SHUNT's table).
mkdir "$TMPD/br"
for v in vma:10.31.0.1 vmb:10.32.0.1; do
	n=${v%%:*} a=${v#*:}
	ip -n "$ID-$n" link add d0 type veth peer name d1
	ip -n "$ID-$n" addr add "$a/24" dev d0
	ip -n "$ID-$n" link set d0 up
	ip -n "$ID-$n" link set d1 up
	$SHUNT endpoint add "bench-$n" "$a" --vm "$n" --network bench-vms
	$ROOT/.output/shunt --pin-dir "/sys/fs/bpf/shunt_bench_$n" load >/dev/null
done
$ROOT/.output/shunt --pin-dir /sys/fs/bpf/shunt_bench_vma attach "$CGROOT/$ID-vcli"
$ROOT/.output/shunt --pin-dir /sys/fs/bpf/shunt_bench_vmb attach "$CGROOT/$ID-vsrv"
$SHUNT bridge --host --vm "vma=unix:$TMPD/br/vma" --vm "vmb=unix:$TMPD/br/vmb" > "$TMPD/relay.log" 2>&1 &
sleep 0.3
for n in vma vmb; do
	nsenter --net="/run/netns/$ID-$n" $ROOT/.output/shunt --pin-dir "/sys/fs/bpf/shunt_bench_$n" \
		bridge --transport "unix:$TMPD/br/$n" > "$TMPD/agent-$n.log" 2>&1 &
done
for i in $(seq 100); do
	$ROOT/.output/shunt --pin-dir /sys/fs/bpf/shunt_bench_vma status --json | jq -e .bridge.agent.alive >/dev/null && break
	sleep 0.05
done

# path -> "client-cgroup client-ns server-cgroup server-ns endpoint"
path_args() {
	case $1 in
	tcp-veth) echo "cli0 cli srv0 srv 10.30.0.2:$2" ;;
	tcp-lo)   echo "cli0 cli cli0 cli 127.0.0.1:$2" ;;
	unix)     echo "cli0 cli cli0 cli unix:$TMPD/s$2.sock" ;;
	shunt)    echo "cli cli srv srv 10.30.0.2:$2" ;;
	bridge)   echo "vcli vma vsrv vmb 10.32.0.1:$2" ;;
	esac
}

cpu_busy() {	# jiffies spent not idle, all CPUs
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# bench_one PATH NAME MODE ARGS -> appends "name,path,ops_or_bytes,metric=value..,cpu_s" to CSV
PORT=20000
bench_one() {
	local path=$1 name=$2 mode=$3 args=$4 ccg cns scg sns ep line c0 c1
	[[ $name =~ ${ONLY:-.} ]] || return 0
	PORT=$((PORT + 1))
	read -r ccg cns scg sns ep <<< "$(path_args "$path" "$PORT")"
	run "$scg" "$sns" "$BENCH" server -A "$ep" -m "$mode" $args -q > "$TMPD/srv.log" 2>&1 &
	local spid=$!
	for i in $(seq 100); do grep -q ready "$TMPD/srv.log" && break; sleep 0.02; done
	c0=$(cpu_busy)
	line=$(run "$ccg" "$cns" "$BENCH" client -A "$ep" -m "$mode" $args -d "$DUR" -w 0.3 -q) || line="error=1"
	c1=$(cpu_busy)
	# $! is the wrapper shell: stop the server itself, then reap.
	pkill -f "shunt-bench server -A $ep " 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	echo "$ROUND,$name,$path,$(( c1 - c0 )),$line" >> "$OUT/raw.csv"
}

# redis_one PATH NAME TEST CONNS
redis_one() {
	local path=$1 name=$2 t=$3 c=$4 ccg cns scg sns ep host c0 c1 rps
	[[ $name =~ ${ONLY:-.} ]] || return 0
	PORT=$((PORT + 1))
	read -r ccg cns scg sns ep <<< "$(path_args "$path" "$PORT")"
	if [ "$path" = unix ]; then
		run "$scg" "$sns" redis-server --port 0 --unixsocket "$TMPD/r$PORT.sock" --save "" --appendonly no --dir "$TMPD" > /dev/null 2>&1 &
		host="-s $TMPD/r$PORT.sock"
	else
		run "$scg" "$sns" redis-server --bind "${ep%:*}" --port "$PORT" --save "" --appendonly no --protected-mode no --dir "$TMPD" > /dev/null 2>&1 &
		host="-h ${ep%:*} -p $PORT"
	fi
	local spid=$!
	for i in $(seq 100); do run "$ccg" "$cns" redis-cli $host PING 2>/dev/null | grep -q PONG && break; sleep 0.02; done
	c0=$(cpu_busy)
	rps=$(run "$ccg" "$cns" redis-benchmark $host -n "$RN" -c "$c" -t "$t" --csv 2>/dev/null | awk -F'"' 'NR > 1 { print $4 }')
	c1=$(cpu_busy)
	pkill -f "redis-server.*($PORT|r$PORT.sock)" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	echo "$ROUND,$name,$path,$(( c1 - c0 )),mode=redis ops=$RN ops_per_s=${rps:-0}" >> "$OUT/raw.csv"
}

# nginx_one PATH NAME FILE: wrk, 2 threads and 8 keep-alive connections, for
# DUR s against nginx with sendfile (as in t_nginx).  No Unix path: wrk
# speaks TCP only.  Socket errors or non-2xx answers count as a failed run.
nginx_one() {
	local path=$1 name=$2 file=$3 ccg cns scg sns ep c0 c1 out rps
	[[ $name =~ ${ONLY:-.} ]] || return 0
	[ "$path" != unix ] || return 0
	PORT=$((PORT + 1))
	read -r ccg cns scg sns ep <<< "$(path_args "$path" "$PORT")"
	sed -e "s|@TMPD@|$TMPD|g; s|@ROOT@|$TMPD/www|; s|@LISTEN@|$ep|; s|@PORT@|$PORT|" \
	    -e "s|@ACCESS@|off|; s|@LEVEL@|crit|" "$ROOT/tests/integ/nginx.conf.in" > "$TMPD/nginx$PORT.conf"
	run "$scg" "$sns" nginx -c "$TMPD/nginx$PORT.conf" -p "$TMPD" > /dev/null 2>&1 &
	local spid=$!
	for i in $(seq 100); do run "$ccg" "$cns" curl -sf -o /dev/null "http://$ep/$file" && break; sleep 0.02; done
	c0=$(cpu_busy)
	out=$(run "$ccg" "$cns" wrk -t 2 -c 8 -d "${DUR}s" "http://$ep/$file" 2>&1) || true
	c1=$(cpu_busy)
	pkill -f "nginx -c $TMPD/nginx$PORT.conf" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
	if grep -qE 'Socket errors|Non-2xx' <<< "$out" || [ -z "$rps" ]; then rps=0; fi
	echo "$ROUND,$name,$path,$(( c1 - c0 )),mode=nginx ops=$(awk -v r="$rps" -v d="$DUR" 'BEGIN { print int(r * d) }') ops_per_s=$rps" >> "$OUT/raw.csv"
}

if command -v nginx >/dev/null && command -v wrk >/dev/null; then
	mkdir -p "$TMPD/www" "$TMPD/logs"
	head -c 1024 /dev/urandom > "$TMPD/www/1k"
	head -c 1M /dev/urandom > "$TMPD/www/1m"
fi

PATHS=(tcp-veth tcp-lo unix shunt bridge)
: > "$OUT/raw.csv"
start=$SECONDS
for ROUND in $(seq "$ROUNDS"); do
	echo "== round $ROUND/$ROUNDS ($((SECONDS - start)) s)"
	for p in "${PATHS[@]}"; do bench_one "$p" pingpong-64B pingpong "-s 64"; done
	for c in 1 8 64; do for p in "${PATHS[@]}"; do bench_one "$p" rr-c$c rr "-s 64 -c $c"; done; done
	for s in 4K 64K; do for p in "${PATHS[@]}"; do bench_one "$p" stream-$s stream "-s $s"; done; done
	for p in "${PATHS[@]}"; do bench_one "$p" msgrate-64B msgrate "-s 64"; done
	for p in "${PATHS[@]}"; do bench_one "$p" connrate connrate "-c 1"; done
	if command -v redis-benchmark >/dev/null; then
		for t in get set; do for c in 1 50; do for p in "${PATHS[@]}"; do
			redis_one "$p" "redis-$t-c$c" "$t" "$c"
		done; done; done
	fi
	if [ -d "$TMPD/www" ]; then
		for f in 1k 1m; do for p in "${PATHS[@]}"; do nginx_one "$p" "nginx-$f" "$f"; done; done
	fi
done

# Summarize: median per workload and path; the metric each workload is judged by.
python3 - "$OUT" "$DUR" <<'PY'
import csv, statistics, sys
out, dur = sys.argv[1], float(sys.argv[2])
rows = {}
byround = {}           # (name, path) -> {round: kv}: ratios within a round
for r in csv.reader(open(out + "/raw.csv")):
    rnd, name, path, jiffies, line = r[0], r[1], r[2], int(r[3]), ",".join(r[4:])
    kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
    rows.setdefault((name, path), []).append((kv, jiffies / 100.0))
    byround.setdefault((name, path), {})[rnd] = kv
paths = ["tcp-veth", "tcp-lo", "unix", "shunt", "bridge"]
names = []
for (n, p) in rows:
    if n not in names:
        names.append(n)

def metric(name):
    if name.startswith("pingpong"): return "p50_us", False
    if name.startswith("stream"): return "gbit_per_s", True
    if name.startswith("msgrate"): return "msgs_per_s", True
    return "ops_per_s", True

def work(kv):          # operations (or GiB) the CPU time is divided by
    if "bytes" in kv: return float(kv["bytes"]) / 2**30, "s/GiB"
    if "msgs_per_s" in kv: return float(kv["msgs_per_s"]) * dur, "us/op"
    return float(kv.get("ops", 0) or 0), "us/op"

table = []
for n in names:
    key, higher = metric(n)
    med, cpu = {}, {}
    for p in paths:
        runs = rows.get((n, p), [])
        vals = [float(kv.get(key, 0) or 0) for kv, _ in runs if "error" not in kv]
        med[p] = statistics.median(vals) if vals else 0.0
        cs = []
        for kv, c in runs:
            w, unit = work(kv)
            if w > 0:
                cs.append(c / w * (1e6 if unit == "us/op" else 1))
        cpu[p] = (statistics.median(cs) if cs else 0.0, unit if runs else "")
    base = med["tcp-veth"]
    for p in paths:
        if not rows.get((n, p)):
            continue        # a path the workload does not run on (nginx: Unix)
        v = med[p]
        ratio = (v / base if higher else base / v) if base and v else 0.0
        # Spread: the ratio in each round against that round's baseline
        # (the interleaving makes these pairs comparable).
        rr = []
        for rnd, kv in byround.get((n, p), {}).items():
            bkv = byround.get((n, "tcp-veth"), {}).get(rnd)
            x, b = float(kv.get(key, 0) or 0), float((bkv or {}).get(key, 0) or 0)
            if x and b:
                rr.append(x / b if higher else b / x)
        lo, hi = (min(rr), max(rr)) if rr else (0.0, 0.0)
        table.append((n, p, key, v, ratio, cpu[p][0], cpu[p][1], lo, hi))
    if n.startswith("pingpong"):   # p99 too
        for p in paths:
            vals = [float(kv.get("p99_us", 0) or 0) for kv, _ in rows.get((n, p), [])]
            v = statistics.median(vals) if vals else 0.0
            b = statistics.median([float(kv.get("p99_us", 0) or 0) for kv, _ in rows.get((n, "tcp-veth"), [])] or [0])
            table.append((n, p, "p99_us", v, b / v if v and b else 0.0, 0.0, "", 0.0, 0.0))

with open(out + "/bench.csv", "w") as f:
    w = csv.writer(f)
    w.writerow(["workload", "path", "metric", "median", "ratio_vs_tcp_veth", "cpu", "cpu_unit",
                "ratio_min_round", "ratio_max_round"])
    for t in table:
        w.writerow([t[0], t[1], t[2], "%.4g" % t[3], "%.3f" % t[4], "%.4g" % t[5], t[6],
                    "%.3f" % t[7], "%.3f" % t[8]])

print("%-14s %-9s %-11s %12s %8s %12s %14s" % ("workload", "path", "metric", "median", "ratio",
                                               "per round", "cpu"))
for t in table:
    cpu = ("%.3g %s" % (t[5], t[6])) if t[6] else ""
    spread = ("%.2f-%.2f" % (t[7], t[8])) if t[8] else ""
    print("%-14s %-9s %-11s %12.4g %7.2fx %12s %14s" % (t[0], t[1], t[2], t[3], t[4], spread, cpu))
# gnuplot input: one row per workload, ratio per path
with open(out + "/ratios.dat", "w") as f:
    f.write("workload " + " ".join(paths[1:]) + "\n")
    for n in names:
        key, _ = metric(n)
        r = {t[1]: t[4] for t in table if t[0] == n and t[2] == key}
        f.write(n + " " + " ".join("%.3f" % r.get(p, 0) for p in paths[1:]) + "\n")
PY

if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 1200,600
set output "$OUT/ratios.png"
set title "shunt bench: ratio to TCP over veth (higher is better; latency as speedup)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set yrange [0:*]
set grid ytics
set key top left autotitle columnhead
plot "$OUT/ratios.dat" using 2:xtic(1), "" using 3, "" using 4, "" using 5, 1 with lines lc rgb "black" notitle
GP
	echo "chart: $OUT/ratios.png"
else
	echo "chart: skipped (gnuplot not installed; scripts/deps.sh bench installs it)"
fi
echo "csv: $OUT/bench.csv (raw runs: $OUT/raw.csv); $ROUNDS round(s) of ${DUR}s runs in $((SECONDS - start)) s"
