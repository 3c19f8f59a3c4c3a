#!/bin/bash
# Without a live agent nothing is steered: connections to other VMs go by
# the VM's own network exactly as without shunt, and are counted.  Here the
# VMs do have a route to each other, so the server can tell which way a
# connection came by its source: 10.1.0.2 (the network) or 10.2.0.2 (the
# bridge's agent).  An agent stopped, one killed with -9 (its heartbeat
# still fresh: its listener is gone, which the connect hook checks), a
# relay gone: all fall back at once; an agent back steers again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
BRIDGE_ROUTE=1
bridge_setup
FLOW=$ROOT/tests/integ/py/flow.py
port=7500

# came_by WAY: one connection; the source its server saw says which way.
came_by() {
	port=$((port + 1))
	bg "$VMB" "$CGB" "$TMPD/n$port.log" python3 "$FLOW" sink 10.2.0.2 "$port"
	wait_ready "$TMPD/n$port.log"
	in_ns "$VMA" "$CGA" python3 "$FLOW" names 10.2.0.2 "$port" > "$TMPD/c$port.log" || fail "$2: connect failed"
	for i in $(seq 50); do grep -q '^accepted' "$TMPD/n$port.log" && break; sleep 0.1; done
	local src
	src=$(awk '/^accepted/ { print $3 }' "$TMPD/n$port.log")
	case $1 in
	network) [ "$src" = 10.1.0.2 ] || fail "$2: came from $src, not by the network" ;;
	bridge) [ "$src" = 10.2.0.2 ] || fail "$2: came from $src, not through the bridge" ;;
	esac
	grep -q "^peer 10.2.0.2 $port" "$TMPD/c$port.log" || fail "$2: $(cat "$TMPD/c$port.log")"
}

came_by bridge "agent running"
br_note | grep -q 'is endpoint b1 of VM vmb: .*steered to the bridge agent' || fail "explain: $(br_note)"
kill -TERM "$AGENT_A_PID"
wait "$AGENT_A_PID" 2>/dev/null
br_note | grep -q 'no live bridge agent' || fail "explain without an agent: $(br_note)"
f0=$(br_counter "$PIN_A" fallback_no_agent)
came_by network "agent stopped"
[ "$(br_counter "$PIN_A" fallback_no_agent)" = $((f0 + 1)) ] || fail "fallback not counted"

start_agent a
came_by bridge "agent restarted"
kill -9 "$AGENT_A_PID"
came_by network "agent killed (heartbeat still fresh)"

start_agent a
came_by bridge "agent restarted again"
kill -9 "$RELAY_PID"
for i in $(seq 100); do
	[ "$("$SHUNT_BIN" --pin-dir "$PIN_A" status --json | jq -r .bridge.agent.alive)" = false ] && break
	sleep 0.05
done
came_by network "relay gone"
start_relay
wait_agent "$PIN_A" "$TMPD/agent-a.log"
came_by bridge "relay back"
shunt_status=$(sa status)
grep -q 'fallback_no_agent' <<< "$shunt_status" || fail "status shows no bridge counters"
echo "fallback ok: stopped, killed, relay gone: by the network; back: through the bridge"
