#!/bin/bash
# make bench, part 2: how long shunt's OCI hook delays a container's start
# and its delete.  N runc containers (default 50) are started with shunt's
# hooks (createRuntime + poststart inside `runc run -d`) and N without,
# interleaved so drift on a noisy machine hits both alike; then each is
# deleted (poststop).  Prints the distribution of each and the hook's
# added median; CSV in .output/bench/hook.csv.
#   N=COUNT  containers per variant
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export TEST_ID=hookbench
source "$ROOT/tests/integ/lib.sh"
source "$ROOT/tests/integ/oci.sh"
test_cleanup() { oci_cleanup; }
N=${N:-50}
CSV=$ROOT/.output/bench/hook.csv
mkdir -p "$(dirname "$CSV")"

NSA=$(mk_ns a)
NSB=$(mk_ns b)
link_ns "$NSA" 10.50.0.1 "$NSB" 10.50.0.2
shunt load >/dev/null
usec() { echo $(( $(date +%s%N) / 1000 )); }

echo "variant,op,i,us" > "$CSV"
for i in $(seq "$N"); do
	for v in hook none; do
		id=$T-$v$i
		mk_bundle "$id" "$NSB" '{}' /bin/sleep 600
		[ $v = none ] && jq 'del(.hooks)' "$TMPD/$id/config.json" > "$TMPD/$id/c" && mv "$TMPD/$id/c" "$TMPD/$id/config.json"
		t0=$(usec); run_detached "$id"; t1=$(usec)
		runc_ kill "$id" KILL
		for k in $(seq 100); do [ "$(runc_ state "$id" | jq -r .status)" = stopped ] && break; sleep 0.02; done
		t2=$(usec); runc_ delete "$id"; t3=$(usec)
		echo "$v,start,$i,$((t1 - t0))" >> "$CSV"
		echo "$v,delete,$i,$((t3 - t2))" >> "$CSV"
		rm -rf "${TMPD:?}/$id"
	done
done
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "endpoints left"

echo "== container start and delete with shunt's OCI hook, $N runs each (ms)"
printf '%-8s %-7s %8s %8s %8s %8s\n' variant op p50 p90 p99 max
for op in start delete; do
	for v in none hook; do
		grep "^$v,$op," "$CSV" | cut -d, -f4 | sort -n | awk -v v=$v -v op=$op '
			{ a[NR] = $1 } END {
				printf "%-8s %-7s %8.1f %8.1f %8.1f %8.1f\n", v, op,
					a[int((NR - 1) * 0.5) + 1] / 1000, a[int((NR - 1) * 0.9) + 1] / 1000,
					a[int((NR - 1) * 0.99) + 1] / 1000, a[NR] / 1000 }'
	done
done
for op in start delete; do
	h=$(grep "^hook,$op," "$CSV" | cut -d, -f4 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR - 1) / 2) + 1] }')
	n=$(grep "^none,$op," "$CSV" | cut -d, -f4 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR - 1) / 2) + 1] }')
	awk -v h="$h" -v n="$n" -v op=$op 'BEGIN { printf "hook adds %.1f ms to the median %s (%.2fx without)\n", (h - n) / 1000, op, h / n }'
done
echo "CSV: $CSV"
