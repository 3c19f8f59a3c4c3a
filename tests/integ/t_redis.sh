#!/bin/bash
# A real application across partitions: redis-server in B, redis-cli in A.
# Values of random sizes (1 B to 1 MiB) are written, read back and compared
# byte for byte; shunt's counters prove the connections were redirected.
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || skip "redis-server not installed (scripts/deps.sh)"
pair_setup

bg "$NSB" "$CGB" "$TMPD/redis.log" redis-server --bind 10.10.0.2 --port 6390 --save "" \
	--appendonly no --protected-mode no --dir "$TMPD"
for i in $(seq 100); do
	[ "$(in_ns "$NSA" "$CGA" redis-cli -h 10.10.0.2 -p 6390 PING 2>/dev/null)" = PONG ] && break
	sleep 0.05
done
cli() { in_ns "$NSA" "$CGA" redis-cli -h 10.10.0.2 -p 6390 "$@"; }

before=$(counter connections_redirected)
sizes=(1 2 63 64 65 1000 4095 4096 4097 65535 65536 65537 100000 524288 1048575 1048576)
for i in $(seq 0 39); do
	if [ $i -lt ${#sizes[@]} ]; then n=${sizes[$i]}; else n=$(( (RANDOM * 32768 + RANDOM) % 1048576 + 1 )); fi
	head -c $((n * 3 / 4 + 3)) /dev/urandom | base64 -w0 > "$TMPD/b64"
	head -c "$n" "$TMPD/b64" > "$TMPD/v$i"		# printable: redis-cli -x is text
	[ "$(cli -x SET "key:$i" < "$TMPD/v$i")" = OK ] || fail "SET key:$i failed"
done
for i in $(seq 0 39); do
	cli --raw GET "key:$i" | head -c -1 > "$TMPD/g$i"	# --raw adds a newline
	cmp -s "$TMPD/v$i" "$TMPD/g$i" || fail "key:$i: value read back differs ($(stat -c %s "$TMPD/v$i") bytes)"
done
[ "$(cli DBSIZE)" = 40 ] || fail "DBSIZE is not 40"
after=$(counter connections_redirected)
[ $((after - before)) -ge 81 ] || fail "only $((after - before)) of 81 redis-cli connections were redirected"

in_ns "$NSA" "$CGA" redis-benchmark -h 10.10.0.2 -p 6390 -n 5000 -c 10 -t set,get -q > "$TMPD/bench.log" 2>&1 \
	|| fail "redis-benchmark failed"
cat "$TMPD/bench.log" >&2
cli --raw GET key:0 | head -c -1 > "$TMPD/g0"
cmp -s "$TMPD/v0" "$TMPD/g0" || fail "key:0 changed under redis-benchmark"
log "bytes redirected: $(counter bytes_redirected)"
echo "redis ok"
