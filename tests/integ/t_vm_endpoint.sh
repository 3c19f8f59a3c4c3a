#!/bin/bash
# Endpoints in a VM (issue 13's model, before the bridge): `--vm NAME`
# registers only peer entries with location vsock; a connection to one
# stays on TCP as peer_remote (data intact), and explain says so; VM
# endpoints round-trip through the endpoint file, may share an address
# across networks, and cannot also have a netns.
source "$(dirname "$0")/lib.sh"
pair_setup
shunt endpoint del eb
shunt endpoint add eb 10.10.0.2 fd10::2 --vm vm1
shunt endpoint add eb2 10.10.0.2 --vm vm2 --network other	# the same address, another network
shunt endpoint list --json | jq -e '.endpoints[] | select(.name == "eb") | .vm == "vm1" and (has("netns") | not)' >/dev/null ||
	fail "eb is not shown as living in vm1"
shunt endpoint list | grep -Eq '^eb +default +vm1 ' || fail "list does not show the VM"
[ "$(map_len shunt_ep_local)" = 2 ] || fail "VM endpoints got local entries ($(map_len shunt_ep_local); ea's two only)"

before=$(counter tcp_peer_remote)
server "$NSB" "$CGB" "$TMPD/s.log" -a 10.10.0.2 -p 7800 -m stream -b 1M -S 8 -q -E
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7800 -m stream -b 1M -S 8 -q -E || fail "stream to a VM's address broken"
wait "$SERVER_PID" || fail "server failed"
[ $(( $(counter tcp_peer_remote) - before )) -ge 1 ] || fail "not counted as peer_remote"
[ "$(counter connections_redirected)" = 0 ] || fail "a connection to a VM's endpoint was redirected"
shunt explain 10.10.0.1 10.10.0.2:7800 | tail -1 | grep -q 'verdict: tcp (peer_remote' ||
	fail "explain: $(shunt explain 10.10.0.1 10.10.0.2:7800 | tail -1)"

shunt endpoint list --json > "$TMPD/l.json"
shunt endpoint load "$TMPD/l.json"
shunt endpoint list --json | diff - "$TMPD/l.json" >&2 || fail "VM endpoints do not round-trip"
out=$(shunt endpoint add x 10.10.0.9 --vm vm3 --netns "$NSA" 2>&1) && fail "--vm with --netns accepted"
grep -q 'vm or netns, not both' <<< "$out" || fail "unclear: $out"
out=$(shunt endpoint add x 10.10.0.9 --vm 'a b' 2>&1) && fail "a bad VM name accepted"
grep -q 'VM name "a b"' <<< "$out" || fail "unclear: $out"
echo "vm endpoints ok"
