#!/bin/bash
# The bridge (issue 13) carries a stream between two "VMs" that have no
# route to each other: 1 GiB each way, every byte checked, in order, once
# (shunt-traffic's pattern and hash); the same over IPv6, smaller.  The
# application sees the address it dialled (getpeername); the server sees
# its own VM's address, the agent's (README, Across VMs).  Counters: the
# bytes each way are exact, one connection opened, one accepted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
B=$(scaled 1024)M

server "$VMB" "$CGB" "$TMPD/s.log" -a 10.2.0.2 -p 7000 -m stream -b "$B" -S 5 -q -t 300
in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7000 -m stream -b "$B" -S 5 -q -t 300 ||
	{ tail -5 "$TMPD"/agent-*.log "$TMPD/relay.log" >&2; fail "stream over the bridge"; }
wait "$SERVER_PID" || fail "server side of the stream"
bytes=$(( $(scaled 1024) * 1024 * 1024 ))
# shunt-traffic's stream starts with its magic and id (16 bytes) per direction
br_wait_counter "$PIN_A" opened 1
br_wait_counter "$PIN_B" accepted 1
br_wait_counter "$PIN_A" bytes_out "$bytes"
br_wait_counter "$PIN_A" bytes_in "$bytes"
br_wait_counter "$PIN_B" bytes_in "$bytes"
br_wait_counter "$PIN_B" bytes_out "$bytes"
br_wait_counter "$PIN" relayed 1
[ "$(br_counter "$PIN_A" steered)" = 1 ] || fail "steered: $(br_counter "$PIN_A" steered)"
[ "$(br_counter "$PIN_A" aborted)" = 0 ] || fail "a clean stream counted as aborted"
m=$(sa metrics)	# not piped into grep -q: pipefail would see metrics' SIGPIPE
grep -qx "shunt_bridge_bytes_total{direction=\"out\"} $bytes" <<< "$m" ||
	fail "metrics: $(grep shunt_bridge_bytes <<< "$m")"
grep -qx 'shunt_bridge_agent_up 1' <<< "$m" || fail "metrics: agent not up"

# IPv6, to b1's fd02::2
server "$VMB" "$CGB" "$TMPD/s6.log" -a fd02::2 -p 7001 -m stream -b "$(scaled 64)M" -S 6 -q
in_ns "$VMA" "$CGA" "$TRAFFIC" client -a fd02::2 -p 7001 -m stream -b "$(scaled 64)M" -S 6 -q ||
	fail "IPv6 stream over the bridge"
wait "$SERVER_PID" || fail "server side of the IPv6 stream"

# What each end sees of the addresses.
bg "$VMB" "$CGB" "$TMPD/n.log" python3 "$ROOT/tests/integ/py/flow.py" sink 10.2.0.2 7002
wait_ready "$TMPD/n.log"
out=$(in_ns "$VMA" "$CGA" python3 "$ROOT/tests/integ/py/flow.py" names 10.2.0.2 7002)
grep -q '^peer 10.2.0.2 7002$' <<< "$out" || fail "getpeername is not the dialled address: $out"
grep -q '^sock 127.0.0.1 ' <<< "$out" || fail "getsockname: $out"
for i in $(seq 50); do grep -q '^accepted' "$TMPD/n.log" && break; sleep 0.1; done
grep -q '^accepted from 10.2.0.2 ' "$TMPD/n.log" || fail "the server sees: $(cat "$TMPD/n.log")"
echo "bridge stream ok: $B each way, IPv6, addresses as documented"
