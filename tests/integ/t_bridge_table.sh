#!/bin/bash
# The host's endpoint table drives the bridge.  An endpoint deleted on the
# host leaves a running bridged stream alone (checked at open, as shunt
# leaves existing connections alone) and is gone from the VM's table at
# once (the agent's WATCH): new connections to it are not steered (here:
# no route).  Added back, it is steered again.  An address that two of the
# VM's networks both have for other VMs cannot be told apart at connect():
# not steered, counted as fallback_ambiguous.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
FLOW=$ROOT/tests/integ/py/flow.py

# a stream that outlives its endpoint
server "$VMB" "$CGB" "$TMPD/s.log" -a 10.2.0.2 -p 7800 -m stream -b "$(scaled 512)M" -S 4 -q -t 300
bg "$VMA" "$CGA" "$TMPD/c.log" "$TRAFFIC" client -a 10.2.0.2 -p 7800 -m stream -b "$(scaled 512)M" -S 4 -q -t 300
CLI=$LAST_PID
br_wait_counter "$PIN" relayed 1
shunt endpoint del b1
for i in $(seq 50); do sa endpoint list | grep -q '^b1 ' || break; sleep 0.1; done
sa endpoint list | grep -q '^b1 ' && fail "b1 still in vma's table after 5 s"
wait "$CLI" || fail "the stream broke when its endpoint went: $(cat "$TMPD/c.log")"
wait "$SERVER_PID" || fail "server side of that stream"

out=$(in_ns "$VMA" "$CGA" python3 "$FLOW" names 10.2.0.2 7801 2>&1) && fail "10.2.0.2 still reached: $out"
grep -q 'unreachable' <<< "$out" || fail "deleted endpoint: $out"
[ "$(br_counter "$PIN_A" steered)" = 1 ] || fail "steered: $(br_counter "$PIN_A" steered)"

shunt endpoint add b1 10.2.0.2 fd02::2 --vm vmb --network n1
for i in $(seq 50); do sa endpoint list | grep -q '^b1 ' && break; sleep 0.1; done
server "$VMB" "$CGB" "$TMPD/s2.log" -a 10.2.0.2 -p 7802 -m records -n 5 -q
in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7802 -m records -n 5 -q || fail "b1 back: not bridged"
wait "$SERVER_PID" || fail "server, b1 back"

# 10.2.0.3 is b2 in n2; make vma a member of n2 and give vmb 10.2.0.3 in n1 too
shunt endpoint add a1n2 10.1.0.3 --vm vma --network n2
shunt endpoint add b1x 10.2.0.3 --vm vmb --network n1
for i in $(seq 50); do [ "$(sa endpoint list | grep -c '^b')" -ge 3 ] && break; sleep 0.1; done
f0=$(br_counter "$PIN_A" fallback_ambiguous)
out=$(in_ns "$VMA" "$CGA" python3 "$FLOW" names 10.2.0.3 7803 2>&1) && fail "an ambiguous address was steered: $out"
[ "$(br_counter "$PIN_A" fallback_ambiguous)" = $((f0 + 1)) ] || fail "fallback_ambiguous not counted"
echo "table changes ok: a stream outlives its endpoint, deleted means not steered, back means steered; ambiguous not steered"
