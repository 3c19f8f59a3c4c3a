#!/bin/bash
# The agents' WATCH on the relay.  A change to the host's table reaches a
# VM's table at once (the agents run with the default --refresh of 5 s,
# which only a relay without WATCH uses).  A relay killed with -9 stops the
# steering at once: its agents' WATCH connections end.  A relay that hangs
# (SIGSTOP) stops it within the 3 s of silence the agent allows; going on
# (SIGCONT), it is taken back.  A relay from before WATCH (a fake that
# refuses it) is polled with LIST instead, and the agent stays alive, so
# explain says b1 would be steered (the fake relays no connection).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
BRP=$ROOT/tests/integ/py/brproto.py
! grep -q 'cannot WATCH' "$TMPD/agent-a.log" || fail "the agent polls a relay that can WATCH"

ms() { echo $(($(date +%s%N) / 1000000)); }

# until_ms SECS CMD...: until CMD succeeds (fails after SECS); prints the ms it took.
until_ms() {
	local limit=$1 t0
	shift
	t0=$(ms)
	while ! "$@"; do
		[ $(($(ms) - t0)) -lt $((limit * 1000)) ] || return 1
		sleep 0.02
	done
	echo $(($(ms) - t0))
}
listed() { sa endpoint list | grep -q "^$1 "; }
unlisted() { ! listed "$1"; }
alive() { [ "$(sa status --json | jq -r .bridge.agent.alive)" = "$1" ]; }

# A change on the host, in the VM within 250 ms (plus its own write).
shunt endpoint add b9 10.2.0.4 --vm vmb --network n1
t=$(until_ms $((3 * SCALE)) listed b9) || fail "b9 not in vma's table $((3 * SCALE)) s after it was added on the host"
log "an endpoint added on the host: in the VM's table after $t ms"
shunt endpoint del b9
t=$(until_ms $((3 * SCALE)) unlisted b9) || fail "b9 still in vma's table $((3 * SCALE)) s after it was deleted"
log "deleted: gone from the VM's table after $t ms"

# A relay that hangs: silent 3 s, then not steering; going on, steering.
kill -STOP "$RELAY_PID"
t0=$(ms)
# The last keepalive came at most 1.25 s before the stop: 1.75 s of silence
# at least remain.  (A guest takes longer than that for one status.)
if [ "$SCALE" = 1 ]; then
	sleep 0.5
	alive true || fail "steering stopped 0.5 s into a hung relay (3 s of silence allowed)"
fi
t=$(until_ms $((6 * SCALE)) alive false) || { kill -CONT "$RELAY_PID"; fail "a hung relay: still steering $((6 * SCALE)) s later"; }
log "a hung relay: steering stopped $(($(ms) - t0)) ms after SIGSTOP"
grep -q 'silent for too long' "$TMPD/agent-a.log" || fail "the agent did not say why: $(tail -3 "$TMPD/agent-a.log")"
kill -CONT "$RELAY_PID"
t=$(until_ms $((5 * SCALE)) alive true) || fail "the relay went on: not steering $((5 * SCALE)) s later"
log "the relay went on: steering after $t ms"

# A relay killed: its agents stop steering at once (0.5 s, for the checks'
# own cost; the WATCH ends in the same instant).
kill -9 "$RELAY_PID"
# 0.5 s here; in a guest, where one status takes seconds, the check is that
# it stops before a LIST poll could have noticed (--refresh 5 + 3 s).
t=$(until_ms $((SCALE > 1 ? 5 : 1)) alive false) || fail "relay killed: vma's agent still steering"
log "the relay killed: steering stopped after $t ms"
[ "$SCALE" -gt 1 ] || [ "$t" -le 500 ] || fail "relay killed: steering stopped only after $t ms"
grep -q 'relay: closed the connection; not steering' "$TMPD/agent-a.log" || fail "no reason logged: $(tail -3 "$TMPD/agent-a.log")"

# A relay from before WATCH: the agent asks it with LIST instead.
start_relay
wait_agent "$PIN_A" "$TMPD/agent-a.log"
python3 "$BRP" list "$BRD/vma_9328" > "$TMPD/list.json" || fail "LIST from the relay"
jq -e '.endpoints | map(select(.name == "b1")) | length == 1' "$TMPD/list.json" >/dev/null || fail "the relay's list: $(cat "$TMPD/list.json")"
kill -9 "$RELAY_PID"
wait_agent "$PIN_A" "$TMPD/agent-a.log" dead
bg_host "$TMPD/old.log" python3 "$BRP" oldrelay "$BRD/vma_9328" "$TMPD/list.json" vma
wait_ready "$TMPD/old.log"
wait_agent "$PIN_A" "$TMPD/agent-a.log"
grep -q 'the relay cannot WATCH; asking for the list every 5 s' "$TMPD/agent-a.log" || fail "no fallback logged: $(tail -3 "$TMPD/agent-a.log")"
grep -q '^refused 3' "$TMPD/old.log" || fail "the old relay was not asked to WATCH"
grep -q '^LIST' "$TMPD/old.log" || fail "the old relay was not asked with LIST"
listed b1 || fail "b1 not in the table from the old relay's list"
sleep 8	# the next LIST: --refresh 5 s, at the next tick (within 1.25 s)
[ "$(grep -c '^LIST' "$TMPD/old.log")" -ge 2 ] || fail "not polled every --refresh: $(cat "$TMPD/old.log")"
alive true || fail "not steering with a relay from before WATCH"
br_note | grep -q 'is endpoint b1 of VM vmb: .*steered to the bridge agent' ||
	fail "explain, with a relay from before WATCH: $(br_note)"
echo "watch ok: changes at once, a killed relay stops steering within $t ms, a hung one within 3 s, an old one is polled"
