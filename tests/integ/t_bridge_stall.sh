#!/bin/bash
# A stalled reader stops the writer through every hop of the bridge: the
# server in VM b reads nothing for a while; the client in VM a can queue
# only what the sockets' buffers and the pipes hold (bounded, not the 128
# MiB it tries), the agents and the relay do not grow, and once the
# server reads, every byte arrives, checked.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
TOTAL=$((128 << 20))
BOUND=$((48 << 20))

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
rss0="$(rss "$AGENT_A_PID") $(rss "$RELAY_PID") $(rss "$AGENT_B_PID")"
bg "$VMB" "$CGB" "$TMPD/s.log" python3 "$ROOT/tests/integ/py/flow.py" stall-server 10.2.0.2 7300 8
SRV=$LAST_PID
wait_ready "$TMPD/s.log"
bg "$VMA" "$CGA" "$TMPD/c.log" python3 "$ROOT/tests/integ/py/flow.py" stall-client 10.2.0.2 7300 "$TOTAL"
CLI=$LAST_PID
for i in $(seq 100); do grep -q '^blocked' "$TMPD/c.log" && break; sleep 0.1; done
blocked=$(awk '/^blocked/ { print $2 }' "$TMPD/c.log")
[ -n "$blocked" ] || fail "the writer never blocked: $(cat "$TMPD/c.log")"
[ "$blocked" -lt "$BOUND" ] || fail "the writer queued $blocked bytes before it blocked (bound $BOUND)"
rss1="$(rss "$AGENT_A_PID") $(rss "$RELAY_PID") $(rss "$AGENT_B_PID")"
read -r a0 r0 b0 <<< "$rss0"
read -r a1 r1 b1 <<< "$rss1"
for d in $((a1 - a0)) $((r1 - r0)) $((b1 - b0)); do
	[ "$d" -lt 16384 ] || fail "a bridge process grew by $d KiB while the reader stalled (rss $rss0 -> $rss1)"
done
wait "$CLI" || fail "writer: $(cat "$TMPD/c.log")"
wait "$SRV" || fail "reader: $(cat "$TMPD/s.log")"
grep -q "^got $TOTAL ok" "$TMPD/s.log" || fail "reader: $(cat "$TMPD/s.log")"
br_wait_counter "$PIN_A" opened 1
br_wait_counter "$PIN_B" bytes_in "$TOTAL"	# every byte through the bridge
echo "stall ok: the writer blocked after $blocked bytes; rss KiB agent a/relay/agent b $rss0 -> $rss1"
