#!/bin/bash
# VM a behind hybrid vsock, as Firecracker and Cloud Hypervisor offer it,
# played by a fake VMM (py/fakevmm.py): the relay reaches the guest by
# "CONNECT 9327\n" on the VM's socket and takes the "OK <port>\n" it
# gets (not the port it asked for); the guest reaches the relay at
# <uds_path>_9328.  Streams both ways are checked byte for byte.  With
# nothing listening in the guest the VMM just closes, which the relay
# reports as the destination's agent down: a reset at the client.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bridge.sh"
HYBRID=1
bridge_setup

server "$VMB" "$CGB" "$TMPD/s.log" -a 10.2.0.2 -p 7600 -m stream -b "$(scaled 128)M" -S 7 -q
in_ns "$VMA" "$CGA" "$TRAFFIC" client -a 10.2.0.2 -p 7600 -m stream -b "$(scaled 128)M" -S 7 -q ||
	fail "vma to vmb (guest to host through the VMM)"
wait "$SERVER_PID" || fail "server in vmb"
server "$VMA" "$CGA" "$TMPD/s2.log" -a 10.1.0.2 -p 7601 -m stream -b "$(scaled 128)M" -S 8 -q
in_ns "$VMB" "$CGB" "$TRAFFIC" client -a 10.1.0.2 -p 7601 -m stream -b "$(scaled 128)M" -S 8 -q ||
	fail "vmb to vma (host to guest: CONNECT)"
wait "$SERVER_PID" || fail "server in vma"
# each stream went through the bridge, both ways (and not by a route: there is none)
br_wait_counter "$PIN_A" opened 1
br_wait_counter "$PIN_B" opened 1
br_wait_counter "$PIN" relayed 2
# both streams send each way: vma's agent sent one direction of each
br_wait_counter "$PIN_A" bytes_out $(( 2 * ($(scaled 128) << 20) ))
grep -Eq '^host->guest port 9327 as [0-9]+' "$TMPD/vmm.log" || fail "no CONNECT seen: $(cat "$TMPD/vmm.log")"
grep -q '^guest->host port 9328' "$TMPD/vmm.log" || fail "no guest-to-host: $(cat "$TMPD/vmm.log")"

kill -TERM "$AGENT_A_PID"
wait "$AGENT_A_PID" 2>/dev/null
out=$(in_ns "$VMB" "$CGB" python3 "$ROOT/tests/integ/py/flow.py" first-read 10.1.0.2 7602)
grep -q '^read: reset' <<< "$out" || fail "no agent in the guest: $out"
br_wait_counter "$PIN" destination_down 1
grep -q '^refuse CONNECT 9327' "$TMPD/vmm.log" || fail "the VMM did not refuse: $(cat "$TMPD/vmm.log")"
echo "hybrid vsock ok: both ways through the fake VMM; no guest agent: reset, counted"
