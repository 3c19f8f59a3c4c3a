#!/bin/bash
# Half-close through the bridge, both ways: the client's shutdown(SHUT_WR)
# is EOF at the server while the server's reply still flows back (with and
# without the server replying before it read the EOF), and the server's
# shutdown is EOF at the client while the client's bytes still flow.  A
# reset after a half-close reaches the idle other end at once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup

for e in "" -e; do
	server "$VMB" "$CGB" "$TMPD/s.log" -a 10.2.0.2 -p 7200 -m halfclose -b 4M -n 5 $e -q
	in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7200 -m halfclose -b 4M -n 5 $e -q ||
		fail "client half-close ${e:-(reply after EOF)}"
	wait "$SERVER_PID" || fail "server of half-close $e"
done

bg "$VMB" "$CGB" "$TMPD/r.log" python3 "$ROOT/tests/integ/py/flow.py" rhalf-server 10.2.0.2 7201 3000000
wait_ready "$TMPD/r.log"
in_ns "$VMA" "$CGA" python3 "$ROOT/tests/integ/py/flow.py" rhalf-client 10.2.0.2 7201 3000000 ||
	fail "server-first half-close"
wait "$LAST_PID" || fail "server-first half-close, server: $(cat "$TMPD/r.log")"
# A reset after the client's own half-close reaches the idle server at
# once (it sees POLLERR/POLLHUP), as over TCP; over plain TCP first, to
# prove the probe.
FLOW=$ROOT/tests/integ/py/flow.py
for a in 10.1.0.2 10.2.0.2; do
	ns=$VMB cg=$CGB
	[ $a = 10.1.0.2 ] && ns=$VMA cg=$CGA	# plain TCP inside vma (not steered)
	bg "$ns" "$cg" "$TMPD/w$a.log" python3 "$FLOW" hc-watch "$a" 7202
	W=$LAST_PID
	wait_ready "$TMPD/w$a.log"
	in_ns "$VMA" "$CGA" python3 "$FLOW" hc-reset "$a" 7202 >/dev/null || fail "hc-reset to $a"
	wait "$W" || fail "hc-watch at $a: $(cat "$TMPD/w$a.log")"
	grep -q '^reset seen' "$TMPD/w$a.log" || fail "a reset after a half-close, at $a: $(tail -1 "$TMPD/w$a.log")"
done
br_wait_counter "$PIN_A" opened 12
br_wait_counter "$PIN_A" aborted 1	# the one reset, and no half-close counted as one
echo "half-close ok both ways"
