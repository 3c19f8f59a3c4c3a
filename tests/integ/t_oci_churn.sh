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
echo "$N containers: table, maps and links empty"
