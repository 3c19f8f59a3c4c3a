#!/bin/bash
# redis-server in VM b, redis-cli and redis-benchmark in VM a, through the
# bridge only (no route between the VMs): values written are read back
# exactly, binary-safe, large ones too, and redis-benchmark's requests all
# complete.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
command -v redis-server >/dev/null || skip "redis-server not installed (scripts/deps.sh)"
bridge_setup
bg "$VMB" "$CGB" "$TMPD/redis.log" redis-server --bind 10.2.0.2 --port 6379 --save '' \
	--appendonly no --protected-mode no
for i in $(seq 100); do
	in_ns "$VMB" "$CGB" redis-cli -h 10.2.0.2 ping 2>/dev/null | grep -q PONG && break
	sleep 0.05
done
rc() { in_ns "$VMA" "$CGA" redis-cli -h 10.2.0.2 "$@"; }
[ "$(rc ping)" = PONG ] || fail "no PONG across the bridge"
for i in $(seq 50); do rc set "k$i" "value-$i-$RANDOM$RANDOM" >/dev/null; done
for i in $(seq 50); do
	v=$(rc get "k$i")
	[[ $v == value-$i-* ]] || fail "k$i read back as '$v'"
done
# a 4 MiB value, binary, through stdin (-x)
head -c $((4 << 20)) /dev/urandom > "$TMPD/big"
in_ns "$VMA" "$CGA" redis-cli -h 10.2.0.2 -x set big < "$TMPD/big" >/dev/null
rc --no-raw strlen big | grep -q "$((4 << 20))" || fail "big value length"
# to a file: a pipe into head could SIGPIPE redis-cli before its newline
rc get big > "$TMPD/got"
[ "$(stat -c %s "$TMPD/got")" = $(((4 << 20) + 1)) ] || fail "big value read back as $(stat -c %s "$TMPD/got") bytes"
head -c $((4 << 20)) "$TMPD/got" | cmp - "$TMPD/big" || fail "big value differs"
out=$(in_ns "$VMA" "$CGA" redis-benchmark -h 10.2.0.2 -q -n "$(scaled 20000)" -c 20 -t set,get 2>&1)
echo "$out" | grep -q 'GET' || fail "redis-benchmark: $out"
rc dbsize | grep -Eq '^[0-9]+$' || fail "dbsize"
sleep 1.5	# both flushed their counters
[ "$(br_counter "$PIN" relayed)" -ge 50 ] || fail "relayed only $(br_counter "$PIN" relayed)"
[ "$(br_counter "$PIN" relayed)" = "$(br_counter "$PIN_A" opened)" ] ||
	fail "relayed $(br_counter "$PIN" relayed), opened $(br_counter "$PIN_A" opened)"
[ "$(br_counter "$PIN_A" aborted)" = 0 ] || fail "connections aborted: $(br_counter "$PIN_A" aborted)"
echo "redis over the bridge ok: $(echo "$out" | tr '\r' '\n' | grep 'requests per second' | tr '\n' ' ')"
