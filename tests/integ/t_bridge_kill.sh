#!/bin/bash
# kill -9 of a hop mid-stream ends the application's connections at both
# ends promptly, as a reset (never a clean EOF, which would pass a cut
# stream off as complete), and never hangs: the local agent, the remote
# agent, the relay.  A restarted agent or relay serves new connections.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
FLOW=$ROOT/tests/integ/py/flow.py
port=7400

# mid_stream VICTIM_PID: a stream runs, VICTIM is killed, both ends must
# report a reset within 10 s.
mid_stream() {
	port=$((port + 1))
	bg "$VMB" "$CGB" "$TMPD/sink$port.log" python3 "$FLOW" sink 10.2.0.2 "$port"
	local sink=$LAST_PID
	wait_ready "$TMPD/sink$port.log"
	bg "$VMA" "$CGA" "$TMPD/src$port.log" python3 "$FLOW" source 10.2.0.2 "$port"
	local src=$LAST_PID
	for i in $(seq 100); do grep -q '^connected' "$TMPD/src$port.log" && break; sleep 0.05; done
	sleep 1
	kill -9 "$1"
	local t0=$SECONDS
	for p in $src $sink; do
		for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$p" 2>/dev/null && fail "$2: an end still runs 10 s after the kill (a hang)"
	done
	grep -Eq '^ended: (reset|epipe) ' "$TMPD/src$port.log" || fail "$2: the writer saw: $(cat "$TMPD/src$port.log")"
	grep -q '^ended: reset ' "$TMPD/sink$port.log" || fail "$2: the reader saw: $(cat "$TMPD/sink$port.log")"
	log "$2: writer $(grep ended "$TMPD/src$port.log"), reader $(grep ended "$TMPD/sink$port.log") in $((SECONDS - t0)) s"
}

records() {
	local o0
	o0=$(br_counter "$PIN" relayed)
	server "$VMB" "$CGB" "$TMPD/r.log" -a 10.2.0.2 -p 7499 -m records -n 5 -q
	in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7499 -m records -n 5 -q || fail "$1"
	wait "$SERVER_PID" || fail "$1 (server)"
	br_wait_counter "$PIN" relayed $((o0 + 5))
}

mid_stream "$AGENT_A_PID" "local agent killed"
start_agent a
records "new connections after the local agent's restart"

mid_stream "$AGENT_B_PID" "remote agent killed"
start_agent b
records "new connections after the remote agent's restart"

mid_stream "$RELAY_PID" "relay killed"
start_relay
wait_agent "$PIN_A" "$TMPD/agent-a.log"
records "new connections after the relay's restart"
echo "kill -9 of each hop: resets at both ends, no hang; restarts serve again"
