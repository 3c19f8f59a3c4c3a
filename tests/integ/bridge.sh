#!/bin/bash
# Helpers for the vsock bridge's tests (issue 13), sourced after lib.sh.
#
# bridge_setup builds two "VMs" on this one kernel: netns vma (10.1.0.2)
# and vmb (10.2.0.2), each with a dummy NIC, its own cgroup and its own
# shunt instance, and NO route between them, so a byte can only arrive
# through the bridge.  The host instance ($PIN) holds the VMs' endpoints
# (network n1; vmb's 10.2.0.3 in network n2); the relay runs on the host,
# one agent in each VM netns, over the unix transport (no vsock here).
BRD=$TMPD/br
PIN_A=$PIN-vma
PIN_B=$PIN-vmb
BR_PORT=9327

sa() { "$SHUNT_BIN" --pin-dir "$PIN_A" "$@"; }
sb() { "$SHUNT_BIN" --pin-dir "$PIN_B" "$@"; }

bridge_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	"$SHUNT_BIN" --pin-dir "$PIN_A" unload --force >/dev/null 2>&1
	"$SHUNT_BIN" --pin-dir "$PIN_B" unload --force >/dev/null 2>&1
	rm -rf "$PIN_A" "$PIN_B"
}
[ "$(type -t test_cleanup)" = function ] || test_cleanup() { bridge_cleanup; }

# bg_host LOG CMD...: a background job on the host (the relay).
bg_host() {
	local logf=$1
	shift
	"$@" > "$logf" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

# vm_ns NAME ADDR...: a VM's netns, its addresses on a NIC that leads
# nowhere (a veth pair inside it; this kernel has no dummy module).
vm_ns() {
	local ns
	ns=$(mk_ns "$1")
	shift
	ip -n "$ns" link add d0 type veth peer name d1
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" addr add "$a" dev d0 nodad ;;
		*) ip -n "$ns" addr add "$a" dev d0 ;;
		esac
	done
	ip -n "$ns" link set d0 up
	ip -n "$ns" link set d1 up
	echo "$ns"
}

# start_relay [ARGS...]: the relay, both VMs over unix:, waits until it listens.
start_relay() {
	bg_host "$TMPD/relay.log" "$SHUNT_BIN" --pin-dir "$PIN" bridge --host \
		--vm "vma=${VMA_X:-unix:$BRD/vma}" --vm "vmb=${VMB_X:-unix:$BRD/vmb}" "$@"
	RELAY_PID=$LAST_PID
	for i in $(seq 100); do
		grep -q 'relay: 2 VM' "$TMPD/relay.log" && return 0
		sleep 0.05
	done
	cat "$TMPD/relay.log" >&2
	fail "relay did not start"
}

# start_agent a|b [ARGS...]: VM a's or b's agent, waits until it steers.
start_agent() {
	local vm=$1 ns pin
	shift
	if [ "$vm" = a ]; then ns=$VMA pin=$PIN_A; else ns=$VMB pin=$PIN_B; fi
	# nsenter, not ip netns exec: that remounts /sys, hiding bpffs.
	local x=unix:$BRD/vm$vm
	[ "$vm" = a ] && [ -n "${HYBRID:-}" ] && x=unix:$BRD/vma-guest
	[ "$vm" = a ] && [ -n "${VSOCK:-}" ] && x=vsock:1
	# The default --refresh: lists come by the agent's WATCH, not by polling.
	nsenter --net="/run/netns/$ns" "$SHUNT_BIN" --pin-dir "$pin" bridge --transport "$x" \
		"$@" >> "$TMPD/agent-$vm.log" 2>&1 &
	PIDS+=($!)
	eval "AGENT_${vm^^}_PID=$!"
	wait_agent "$pin" "$TMPD/agent-$vm.log"
}

# wait_agent PIN_DIR LOG [alive|dead]: until its agent is (default) alive.
wait_agent() {
	local want=true
	[ "${3:-alive}" = dead ] && want=false
	for i in $(seq 200); do
		[ "$("$SHUNT_BIN" --pin-dir "$1" status --json | jq -r .bridge.agent.alive)" = $want ] && return 0
		sleep 0.05
	done
	cat "$2" >&2
	fail "agent did not become ${3:-alive}"
}

bridge_setup() {
	mkdir -p "$BRD"
	VMA=$(vm_ns vma 10.1.0.2/24 fd01::2/64)
	VMB=$(vm_ns vmb 10.2.0.2/24 10.2.0.3/24 10.2.0.4/24 fd02::2/64)
	CGA=$(mk_cgroup vma)
	CGB=$(mk_cgroup vmb)
	shunt load >/dev/null
	shunt endpoint add a1 10.1.0.2 fd01::2 --vm vma --network n1
	shunt endpoint add b1 10.2.0.2 fd02::2 --vm vmb --network n1
	shunt endpoint add b2 10.2.0.3 --vm vmb --network n2
	sa load >/dev/null
	sb load >/dev/null
	sa attach "$CGA"
	sb attach "$CGB"
	if [ -n "${BRIDGE_ROUTE:-}" ]; then
		# a VM network that does connect them: a veth, routes, no addresses
		ip link add bra netns "$VMA" type veth peer name brb netns "$VMB"
		ip -n "$VMA" link set bra up
		ip -n "$VMB" link set brb up
		ip -n "$VMA" route add 10.2.0.0/24 dev bra
		ip -n "$VMB" route add 10.1.0.0/24 dev brb
	fi
	if [ -n "${HYBRID:-}" ]; then
		# vma behind a fake Firecracker (hybrid vsock); vmb stays unix:
		VMA_X=hybrid:$BRD/vma.vsock
		bg_host "$TMPD/vmm.log" python3 "$ROOT/tests/integ/py/fakevmm.py" \
			"$BRD/vma.vsock" "$BRD/vma-guest" 9327 9328
		wait_ready "$TMPD/vmm.log"
	fi
	[ -n "${VSOCK:-}" ] && VMA_X=vsock:1	# real AF_VSOCK, vsock_loopback
	start_relay
	start_agent a
	start_agent b
	# Proof of the topology: without the bridge, vma cannot reach vmb.
	if [ -z "${BRIDGE_ROUTE:-}" ] && ip netns exec "$VMA" timeout 2 bash -c 'exec 3<>/dev/tcp/10.2.0.2/9' 2>/dev/null; then
		fail "vma reaches vmb without the bridge: the test proves nothing"
	fi
}

# br_note: what `shunt explain` says in vma of a connection to b1 (10.2.0.2).
br_note() { sa explain 10.1.0.2 10.2.0.2:7000 --json | jq -r .note; }

# br_counter PIN_DIR NAME: a bridge counter of that instance.
br_counter() {
	"$SHUNT_BIN" --pin-dir "$1" status --json | jq -r --arg n "$2" '.bridge.counters[$n]'
}

# br_wait_counter PIN_DIR NAME VALUE: until the counter reaches VALUE (agents
# and the relay write theirs once a second).
br_wait_counter() {
	local v
	for i in $(seq 50); do
		v=$(br_counter "$1" "$2")
		[ "$v" -ge "$3" ] && { [ "$v" = "$3" ] || fail "$2 of $1 is $v, expected $3"; return 0; }
		sleep 0.1
	done
	fail "$2 of $1 is $v, expected $3"
}
