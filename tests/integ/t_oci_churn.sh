#!/bin/bash
# 50 runc containers started and stopped in a loop, each registered and
# attached by the hook, then removed: the table, the lookup maps and the
# links end empty (how long the hook delays a start is in `make bench`).
# Each container also proves it was registered while it ran.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/oci.sh"
test_cleanup() { oci_cleanup; }

NSA=$(mk_ns a)
NSB=$(mk_ns b)
link_ns "$NSA" 10.40.0.1 "$NSB" 10.40.0.2 fd40::1 fd40::2
shunt load >/dev/null
N=$(scaled 50)
for i in $(seq "$N"); do
	id=$T-c$i
	mk_bundle "$id" "$NSB" "{\"io.shunt.network\": \"churn\"}" /bin/sleep 600
	run_detached "$id" || { cat "$TMPD/$id.log" "$HOOK_LOG" >&2; fail "container $i did not start"; }
	[ "$(owned "oci:$id")" -eq 1 ] || { tail -5 "$HOOK_LOG" >&2; fail "container $i not registered"; }
	stop_rm "$id"
	rm -rf "${TMPD:?}/$id"
done
[ "$(grep -c 'poststop .*removed 1 endpoint' "$HOOK_LOG")" -eq "$N" ] || fail "not every poststop removed its endpoint"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "endpoints left"
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] || fail "links left"
for m in shunt_ep_local shunt_ep_peer shunt_endpoints; do
	[ "$(map_len $m)" -eq 0 ] || fail "$m has $(map_len $m) entries left"
done
# Ids were never reused: the last container got the N-th id.
[ "$(bpftool map dump pinned "$PIN/maps/shunt_cfg" -j | jq '.[0].formatted.value.ep_id_hw')" -eq "$N" ] ||
	fail "id high-water mark is not $N"

# Started at once, as a pod or a compose file does: the hooks contend for
# the instance lock (each waits up to 2 s) and every one registers.
P=$(scaled 10)
for i in $(seq "$P"); do
	ns=$(mk_ns p$i)
	ip -n "$ns" link add "e$i" type veth peer name "f$i"
	ip -n "$ns" addr add "10.41.$i.2/24" dev "e$i"
	ip -n "$ns" link set "e$i" up
	mk_bundle "$T-p$i" "$ns" '{"io.shunt.network": "pod"}' /bin/sleep 600
done
pids=()
for i in $(seq "$P"); do run_detached "$T-p$i" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a container started in parallel failed"; done
n=$(shunt endpoint list --json | jq '[.endpoints[] | select(.network == "pod")] | length')
[ "$n" -eq "$P" ] || { cat "$HOOK_LOG" >&2; fail "$n of $P containers started at once were registered"; }
[ "$(shunt status --json | jq '.attached | length')" -eq "$P" ] || fail "not every parallel container attached"
! grep -q 'gave up' "$HOOK_LOG" || fail "a hook gave up on the lock"
pids=()
for i in $(seq "$P"); do stop_rm "$T-p$i" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel delete failed"; done
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "endpoints left after parallel deletes"
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] || fail "links left after parallel deletes"
echo "$N containers in a row and $P at once: table, maps and links empty"
