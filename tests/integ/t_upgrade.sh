#!/bin/bash
# Upgrade to a rebuilt BPF object while 20 connections stream through the
# redirect path: pinned maps (endpoints, sockets, counters) are kept, the
# cgroups' links switch to the new programs, so new connections use them,
# and existing streams are not corrupted, cut or hung.
source "$(dirname "$0")/lib.sh"
pair_setup

prog_id() { bpftool prog show pinned "$PIN/progs/$1" -j | jq .id; }
cg_prog_id() { bpftool cgroup show "$1" -j | jq '[.[] | select(.attach_type == "cgroup_sock_ops")][0].id'; }

old=$(prog_id shunt_sockops)
[ "$(cg_prog_id "$CGA")" = "$old" ] || fail "cgroup does not run the pinned program"
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7960 -m stream -b 256M -n 20 -E -q -t 120
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7960 -m stream -b 256M -n 20 -c 20 -E -q -t 120 \
	> "$TMPD/cli.log" 2>&1 &
CPID=$!
for i in $(seq 100); do [ "$(status_field sockets)" -ge 40 ] && break; sleep 0.05; done
before=$(counter connections_redirected)

shunt load --upgrade
new=$(prog_id shunt_sockops)
[ "$new" != "$old" ] || fail "the pinned program was not replaced"
[ "$(cg_prog_id "$CGA")" = "$new" ] && [ "$(cg_prog_id "$CGB")" = "$new" ] || fail "cgroups still run the old program"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" = 2 ] || fail "the endpoint table was lost"
[ "$(counter connections_redirected)" -ge "$before" ] || fail "counters were reset"

# A new connection goes through the new programs.
bg "$NSB" "$CGB" "$TMPD/n.log" "$TRAFFIC" server -a 10.10.0.2 -p 7961 -m stream -b 8M -E -q
wait_ready "$TMPD/n.log"
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7961 -m stream -b 8M -E -q || fail "new connection broke"
wait "$CPID" || { cat "$TMPD/cli.log" >&2; fail "a stream broke across the upgrade"; }
wait "$SERVER_PID" || { cat "$TMPD/srv.log" >&2; fail "server side broke across the upgrade"; }
[ "$(counter connections_redirected)" -ge $((before + 1)) ] || fail "the new connection was not redirected"
echo "upgrade ok"
