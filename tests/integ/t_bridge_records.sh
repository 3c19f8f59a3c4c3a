#!/bin/bash
# 300 connections across the bridge, 8 at a time, each carrying sequence-
# numbered 64-byte records both ways (shunt-traffic checks every field of
# every record): no connection mixed up with another, none lost.  Then
# VM b dials VM a: the bridge works both ways.  Then 1000 connections held
# open at once, each echoing its own record (past the default limit of
# 1024 fds per process: agents and relay raise theirs).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
N=$(scaled 300)

server "$VMB" "$CGB" "$TMPD/s.log" -a 10.2.0.2 -p 7100 -m records -n "$N" -r 500 -q -t 300
in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7100 -m records -n "$N" -c 8 -r 500 -q -t 300 ||
	{ tail -5 "$TMPD"/agent-*.log >&2; fail "records over the bridge"; }
wait "$SERVER_PID" || fail "server side"
br_wait_counter "$PIN_A" opened "$N"
br_wait_counter "$PIN_B" accepted "$N"
br_wait_counter "$PIN" relayed "$N"
# 500 records of 64 bytes each way per connection
br_wait_counter "$PIN_A" bytes_out $((N * 500 * 64))
br_wait_counter "$PIN_B" bytes_out $((N * 500 * 64))

server "$VMA" "$CGA" "$TMPD/s2.log" -a 10.1.0.2 -p 7101 -m records -n 20 -q
in_ns "$VMB" "$CGB" "$TRAFFIC" client -a 10.1.0.2 -p 7101 -m records -n 20 -c 4 -q ||
	fail "records from vmb to vma"
wait "$SERVER_PID" || fail "server side, vma"
br_wait_counter "$PIN_B" opened 20
M=$(scaled 1000)
bg "$VMB" "$CGB" "$TMPD/m.log" python3 "$ROOT/tests/integ/py/many.py" server 10.2.0.2 7102 "$M"
wait_ready "$TMPD/m.log"
out=$(in_ns "$VMA" "$CGA" timeout 300 python3 "$ROOT/tests/integ/py/many.py" client 10.2.0.2 7102 "$M") ||
	fail "$M held connections: $out"
[ "$out" = "ok $M" ] || fail "held connections: $out"
br_wait_counter "$PIN_A" opened $((N + M))
[ "$(br_counter "$PIN_A" aborted)" = 0 ] || fail "aborted: $(br_counter "$PIN_A" aborted)"
echo "bridge records ok: $N connections, then 20 the other way, then $M at once"
