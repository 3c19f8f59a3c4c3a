#!/bin/bash
# Containers under runc, followed by `shunt oci-hook` alone (issue 10): two
# containers, each in a netns joined by veth, exchange checksummed streams
# both ways and are redirected with no manual step; after kill + delete
# nothing of theirs is left.  Then the opt-out annotation, a hook run while
# shunt is not loaded, and a container killed without delete whose address
# comes back in a new container.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/oci.sh"
test_cleanup() { oci_cleanup; }

NSA=$(mk_ns a)
NSB=$(mk_ns b)
link_ns "$NSA" 10.20.0.1 "$NSB" 10.20.0.2 fd20::1 fd20::2
shunt load >/dev/null
need_redirect

SRV=$T-srv CLI=$T-cli
mk_bundle "$SRV" "$NSB" '{"io.shunt.name": "srv"}' \
	/bin/shunt-traffic server -a 10.20.0.2 -p 7100 -m stream -b 16M -S 7 -E -q -n 2
mk_bundle "$CLI" "$NSA" '{}' \
	/bin/shunt-traffic client -a 10.20.0.2 -p 7100 -m stream -b 16M -S 7 -E -q -D 20
run_detached "$SRV" || { cat "$TMPD/$SRV.log" "$HOOK_LOG" >&2; fail "runc run $SRV"; }
wait_ready "$TMPD/$SRV.log"
[ "$(owned "oci:$SRV")" -eq 1 ] || { cat "$HOOK_LOG" >&2; fail "server container not registered"; }
shunt endpoint list --json | jq -e --arg o "oci:$SRV" \
	'.endpoints[] | select(.owner == $o) | select(.name == "srv" and .network == "default")
	 | select(.addresses == ["10.20.0.2", "fd20::2"])' >/dev/null ||
	{ shunt endpoint list >&2; fail "server endpoint: wrong name, network or addresses"; }

before=$(counter connections_redirected)
for round in 1 2; do
	run_fg "$CLI" || { cat "$TMPD/$CLI.log" "$HOOK_LOG" >&2; fail "round $round: client stream broken or not verified"; }
	# `runc run` deletes the container when it exits: poststop has run.
	[ "$(owned "oci:$CLI")" -eq 0 ] || fail "client's endpoint left after its run"
	grep -q "poststop $CLI: removed 1 endpoint" "$HOOK_LOG" || { cat "$HOOK_LOG" >&2; fail "client was not registered, or not removed"; }
done
redir=$(( $(counter connections_redirected) - before ))
[ "$redir" -eq 2 ] || { cat "$HOOK_LOG" >&2; fail "want 2 redirected connections, got $redir"; }
log "2 streams of 16 MiB each way between runc containers, redirected"

srv_cg=$(shunt status --json | jq -r '.attached | length')
stop_rm "$SRV"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "endpoints left after delete"
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] ||
	{ shunt status >&2; fail "links left after delete (had $srv_cg)"; }
grep -q "poststop $SRV: removed 1 endpoint" "$HOOK_LOG" || { cat "$HOOK_LOG" >&2; fail "poststop not logged"; }

# Opt-out: io.shunt.enable=false registers and attaches nothing; the data
# still arrives, over TCP.
OPT=$T-opt
mk_bundle "$OPT" "$NSB" '{"io.shunt.enable": "false"}' \
	/bin/shunt-traffic server -a 10.20.0.2 -p 7101 -m stream -b 4M -S 8 -q
run_detached "$OPT"
wait_ready "$TMPD/$OPT.log"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "opted-out container registered"
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] || fail "opted-out container attached"
ip netns exec "$NSA" "$TRAFFIC" client -a 10.20.0.2 -p 7101 -m stream -b 4M -S 8 -q || fail "opt-out: TCP stream broken"
grep -q "$OPT: io.shunt.enable=false" "$HOOK_LOG" || fail "opt-out not logged"
stop_rm "$OPT"

# shunt not loaded: the hooks log one line each and the container runs.
NOL=$T-nol
HOOK_PIN=$PIN-none mk_bundle "$NOL" "$NSB" '{}' \
	/bin/shunt-traffic server -a 10.20.0.2 -p 7102 -m stream -b 1M -S 9 -q
run_detached "$NOL" || { cat "$TMPD/$NOL.log" >&2; fail "a container failed to start while shunt was not loaded"; }
wait_ready "$TMPD/$NOL.log"
ip netns exec "$NSA" "$TRAFFIC" client -a 10.20.0.2 -p 7102 -m stream -b 1M -S 9 -q || fail "not loaded: stream broken"
grep -q "createRuntime $NOL: not loaded" "$HOOK_LOG" || { cat "$HOOK_LOG" >&2; fail "not-loaded hook not logged"; }
stop_rm "$NOL"

# Killed without delete (no poststop runs): its entry stays.  While its
# netns lives, a new container claiming its address is refused (logged,
# the container runs on TCP); once the netns is gone, the stale entry is
# replaced, logged and counted.
NSC=$(mk_ns c)
link_ns "$NSA" 10.21.0.1 "$NSC" 10.21.0.3
OLD=$T-old NEW1=$T-new1 NEW2=$T-new2
mk_bundle "$OLD" "$NSC" '{}' /bin/sleep 600
run_detached "$OLD"
runc_ kill "$OLD" KILL
[ "$(owned "oci:$OLD")" -eq 1 ] || fail "killed container's entry should stay until delete"
NSD=$(mk_ns d)
link_ns "$NSA" 10.22.0.1 "$NSD" 10.21.0.3
mk_bundle "$NEW1" "$NSD" '{}' /bin/sleep 600
run_detached "$NEW1" || fail "a conflicting container failed to start"
[ "$(owned "oci:$NEW1")" -eq 0 ] || fail "an address of a live netns was taken over"
grep -q "createRuntime $NEW1: .*taken by endpoint \"$OLD\"" "$HOOK_LOG" || { cat "$HOOK_LOG" >&2; fail "conflict not logged"; }
stop_rm "$NEW1"
ip netns del "$NSC"
stale0=$(counter endpoints_replaced_stale)
mk_bundle "$NEW2" "$NSD" '{}' /bin/sleep 600
run_detached "$NEW2"
[ "$(owned "oci:$NEW2")" -eq 1 ] || { cat "$HOOK_LOG" >&2; fail "stale entry not replaced"; }
[ "$(owned "oci:$OLD")" -eq 0 ] || fail "stale entry still there"
[ $(( $(counter endpoints_replaced_stale) - stale0 )) -eq 1 ] || fail "stale replacement not counted"
grep -q "replaced by \"$NEW2\": its netns is gone" "$HOOK_LOG" || fail "stale replacement not logged"
runc_ delete "$OLD"	# its poststop finds nothing of its own left
stop_rm "$NEW2"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "endpoints left at the end"
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] || fail "links left at the end"
[ "$(map_len shunt_ep_local)" -eq 0 ] && [ "$(map_len shunt_ep_peer)" -eq 0 ] || fail "lookup map entries left"
echo "oci runc ok"
