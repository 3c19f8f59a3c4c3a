#!/bin/bash
# The bridge over real AF_VSOCK: VM a's agent and the relay talk through
# vsock_loopback (CID 1, both in this kernel), VM b over the unix
# transport.  Streams both ways checked byte for byte, records, a kill -9
# of the vsock agent mid-stream is a reset.  Guests only (make vmtest):
# this host has no vsock loopback, and tests never dial a real CID.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
grep -qE ' vsock_loopback_' /proc/kallsyms ||
	skip "no vsock_loopback (guests only: make vmtest loads it)"
VSOCK=1
bridge_setup

server "$VMB" "$CGB" "$TMPD/s.log" -a 10.2.0.2 -p 7700 -m stream -b "$(scaled 256)M" -S 9 -q -t 600
in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7700 -m stream -b "$(scaled 256)M" -S 9 -q -t 600 ||
	fail "vma to vmb: agent to relay over vsock"
wait "$SERVER_PID" || fail "server in vmb"
server "$VMA" "$CGA" "$TMPD/s2.log" -a 10.1.0.2 -p 7701 -m records -n 20 -q -t 600
in_ns "$VMB" "$CGB" "$TRAFFIC" client -a 10.1.0.2 -p 7701 -m records -n 20 -c 4 -q -t 600 ||
	fail "vmb to vma: relay to agent over vsock"
wait "$SERVER_PID" || fail "server in vma"
br_wait_counter "$PIN_B" opened 20
br_wait_counter "$PIN_A" accepted 20

bg "$VMB" "$CGB" "$TMPD/sink.log" python3 "$ROOT/tests/integ/py/flow.py" sink 10.2.0.2 7702
SINK=$LAST_PID
wait_ready "$TMPD/sink.log"
bg "$VMA" "$CGA" "$TMPD/src.log" python3 "$ROOT/tests/integ/py/flow.py" source 10.2.0.2 7702
SRC=$LAST_PID
for i in $(seq 100); do grep -q '^connected' "$TMPD/src.log" && break; sleep 0.1; done
sleep 2
kill -9 "$AGENT_A_PID"
for p in $SRC $SINK; do
	for i in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && fail "an end still runs 30 s after the vsock agent's kill"
done
grep -Eq '^ended: (reset|epipe)' "$TMPD/src.log" || fail "writer: $(cat "$TMPD/src.log")"
grep -q '^ended: reset' "$TMPD/sink.log" || fail "reader: $(cat "$TMPD/sink.log")"
echo "bridge over AF_VSOCK (vsock_loopback) ok"
