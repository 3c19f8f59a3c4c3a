#!/bin/bash
# Half-close through the bridge, both ways: the client's shutdown(SHUT_WR)
# is EOF at the server while the server's reply still flows back (with and
# without the server replying before it read the EOF), and the server's
# shutdown is EOF at the client while the client's bytes still flow.
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
br_wait_counter "$PIN_A" opened 11
[ "$(br_counter "$PIN_A" aborted)" = 0 ] || fail "a half-close was counted as a reset"
echo "half-close ok both ways"
