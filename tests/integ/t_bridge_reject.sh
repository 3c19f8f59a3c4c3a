#!/bin/bash
# What the bridge refuses, and how it shows.  A refused destination port,
# or an endpoint address that answers nothing, is a reset at the
# application's first read, within seconds (its connect already succeeded:
# the agent answered it).  A guest that speaks to the relay by
# hand cannot reach an address of another VM that is not a registered
# endpoint, another network, an unknown VM, or pose as another VM; one
# that pretends to be the relay at an agent cannot make it connect to an
# unregistered address or loopback (no open proxy into a VM).  Every
# refusal is counted by reason.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
bridge_setup
FLOW=$ROOT/tests/integ/py/flow.py
BRP=$ROOT/tests/integ/py/brproto.py

out=$(in_ns "$VMA" "$CGA" python3 "$FLOW" first-read 10.2.0.2 7599)
grep -q '^read: reset' <<< "$out" || fail "a refused port: $out"
br_wait_counter "$PIN_B" refused 1
br_wait_counter "$PIN_A" refused 1

# An endpoint whose address answers nothing (registered, but no host has
# it): the destination agent's connect times out or fails within seconds,
# and the client gets a reset, never a hang.
shunt endpoint add b3 10.2.0.5 --vm vmb --network n1
for i in $(seq 50); do sa endpoint list | grep -q '^b3 ' && sb endpoint list >/dev/null && break; sleep 0.1; done
sleep 1.5	# vmb's agent refreshes its own list too
t0=$SECONDS
out=$(in_ns "$VMA" "$CGA" timeout 30 python3 "$FLOW" first-read 10.2.0.5 7000)
grep -q '^read: reset' <<< "$out" || fail "an unreachable endpoint: $out"
log "unreachable endpoint: reset after $((SECONDS - t0)) s"
br_wait_counter "$PIN_B" refused 2

# An address of vmb that is no endpoint is not steered at all: the VM's
# own network answers (here: no route).
out=$(in_ns "$VMA" "$CGA" python3 "$FLOW" names 10.2.0.4 7000 2>&1) && fail "10.2.0.4 reached: $out"
grep -q 'unreachable' <<< "$out" || fail "10.2.0.4: $out"

# As guest vma, to the relay.
R=$BRD/vma_9328
expect() {
	local want=$1 got
	shift
	got=$(python3 "$BRP" open "$@")
	[ "$got" = "$want" ] || fail "brproto $*: $got, expected $want"
}
expect not_endpoint "$R" vmb n1 10.2.0.4 7000
expect not_endpoint "$R" vmb n1 127.0.0.1 7000
expect network "$R" vmb n2 10.2.0.3 7000
expect unknown_vm "$R" vmz n1 10.2.0.2 7000
expect bad_header "$R" vmb n1 10.2.0.2 7000 --src vmb
expect bad_header "$R" vmb n1 10.2.0.2 7000 --raw "$(head -c 128 /dev/zero | tr '\0' 'A' | xxd -p | tr -d '\n')"
expect bad_header "$R" vmb n1 10.2.0.2 0
br_wait_counter "$PIN" rejected_not_endpoint 2
br_wait_counter "$PIN" rejected_network 1
br_wait_counter "$PIN" rejected_unknown_vm 1
br_wait_counter "$PIN" rejected_header 3
[ "$(br_counter "$PIN" relayed)" = 2 ] || fail "relayed: $(br_counter "$PIN" relayed) (only the refused port's and the unreachable one's)"

# As the relay, to vmb's agent.
A=$BRD/vmb
expect not_endpoint "$A" vmb n1 10.2.0.4 7000 --src vma
expect not_endpoint "$A" vmb n1 127.0.0.1 7000 --src vma
expect not_endpoint "$A" vmb n1 10.1.0.2 7000 --src vma
expect bad_header "$A" vmb n1 10.2.0.2 7000
br_wait_counter "$PIN_B" rejected_not_endpoint 3
br_wait_counter "$PIN_B" rejected_header 1
[ "$(br_counter "$PIN_B" accepted)" = 0 ] || fail "the agent connected something"
echo "bridge refusals ok"
