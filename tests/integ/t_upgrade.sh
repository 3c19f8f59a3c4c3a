#!/bin/bash
# Upgrade to rebuilt BPF objects while 20 connections stream through the
# redirect path (make builds the variants, see Makefile REBUILDS):
#  - rebuild2 changes the meaning of a connection-word field at the same
#    size: refused in one line, the running instance untouched;
#  - rebuild1 changes code and adds a map that its verdict counts into:
#    pinned maps (endpoints, sockets, counters) and load-time limits are
#    kept, the cgroups' links switch to the new programs, new connections
#    run the new verdict, sockets inserted before keep the old one, and no
#    stream is corrupted, cut or hung.
source "$(dirname "$0")/lib.sh"
R1=$ROOT/.output/rebuild1/shunt
R2=$ROOT/.output/rebuild2/shunt
[ -x "$R1" ] && [ -x "$R2" ] || fail "rebuilt variants missing (make builds $R1 and $R2)"
SHUNT_LOAD_ARGS="--fc-bound 2M --max-sockets 8192" pair_setup
MB=$(scaled 256)	# per stream and direction (SHUNT_SCALE in slow guests)

prog() { bpftool prog show pinned "$PIN/progs/$1" -j | jq -r ".$2"; }
cg_prog_id() { bpftool cgroup show "$1" -j | jq '[.[] | select(.attach_type == "cgroup_sock_ops")][0].id'; }
rebuild_count() { bpftool map lookup pinned "$PIN/maps/shunt_rebuild" key 0 0 0 0 -j | jq .formatted.value; }
limits() { echo "$(status_field max_sockets) $(status_field fc_bound)"; }

old=$(prog shunt_sockops id)
old_tag=$(prog shunt_msg tag)
[ "$(cg_prog_id "$CGA")" = "$old" ] || fail "cgroup does not run the pinned program"
[ "$(limits)" = "8192 2097152" ] || fail "status shows limits $(limits), loaded with 8192 sockets and a 2M bound"
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7960 -m stream -b ${MB}M -n 20 -E -q -t 120
SPID=$SERVER_PID
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7960 -m stream -b ${MB}M -n 20 -c 20 -E -q -t 120 \
	> "$TMPD/cli.log" 2>&1 &
CPID=$!
for i in $(seq 100); do [ "$(status_field sockets)" -ge 40 ] && break; sleep 0.05; done
# One more connection, established now and silent until after the upgrade.
added=$(counter sockets_added)
bg "$NSB" "$CGB" "$TMPD/d.log" python3 "$ROOT/tests/integ/py/later.py" server 10.10.0.2 7962
DSRV=$LAST_PID
wait_ready "$TMPD/d.log"
in_ns "$NSA" "$CGA" python3 "$ROOT/tests/integ/py/later.py" client 10.10.0.2 7962 "$TMPD/go" 4194304 > "$TMPD/dcli.log" 2>&1 &
DCLI=$!
for i in $(seq 100); do [ "$(counter sockets_added)" -ge $((added + 2)) ] && break; sleep 0.05; done
[ "$(counter sockets_added)" -ge $((added + 2)) ] || fail "the silent connection did not enter the sockhash"

# A layout change is refused, in one line, and nothing moves.
"$R2" --pin-dir "$PIN" load --upgrade > "$TMPD/r2.out" 2> "$TMPD/r2.err" && fail "an upgrade across a layout change was accepted"
[ "$(wc -l < "$TMPD/r2.err")" = 1 ] && grep -q "changed layout (shunt_conn: member 1 (pad) became rebuild_flags" "$TMPD/r2.err" \
	|| { cat "$TMPD/r2.err" >&2; fail "layout change not reported in one clear line"; }
[ "$(prog shunt_sockops id)" = "$old" ] && [ "$(cg_prog_id "$CGA")" = "$old" ] || fail "a refused upgrade changed the programs"

before=$(counter connections_redirected)
"$R1" --pin-dir "$PIN" load --upgrade
new=$(prog shunt_sockops id)
[ "$new" != "$old" ] || fail "the pinned program was not replaced"
[ "$(prog shunt_msg tag)" != "$old_tag" ] || fail "the verdict's code did not change (same tag)"
[ "$(cg_prog_id "$CGA")" = "$new" ] && [ "$(cg_prog_id "$CGB")" = "$new" ] || fail "cgroups still run the old program"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" = 2 ] || fail "the endpoint table was lost"
[ "$(counter connections_redirected)" -ge "$before" ] || fail "counters were reset"
[ "$(limits)" = "8192 2097152" ] || fail "upgrade lost the load-time limits: $(limits)"

# The silent connection now sends, still through the verdict it was
# inserted with: the new verdict never sees its messages.
msgs=$(counter messages_redirected)
touch "$TMPD/go"
wait "$DCLI" || { cat "$TMPD/dcli.log" >&2; fail "the silent connection broke"; }
wait "$DSRV" || { cat "$TMPD/d.log" >&2; fail "the silent connection's server broke"; }
[ "$(counter messages_redirected)" -gt "$msgs" ] || fail "the silent connection was not redirected"
[ "$(rebuild_count)" = 0 ] || fail "sockets inserted before the upgrade ran the new verdict ($(rebuild_count) messages)"

# A new connection goes through the new programs.
bg "$NSB" "$CGB" "$TMPD/n.log" "$TRAFFIC" server -a 10.10.0.2 -p 7961 -m stream -b 8M -E -q
wait_ready "$TMPD/n.log"
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7961 -m stream -b 8M -E -q || fail "new connection broke"
[ "$(rebuild_count)" -gt 0 ] || fail "a new connection did not run the new verdict"
wait "$CPID" || { cat "$TMPD/cli.log" >&2; fail "a stream broke across the upgrade"; }
wait "$SPID" || { cat "$TMPD/srv.log" >&2; fail "server side broke across the upgrade"; }
[ "$(counter connections_redirected)" -ge $((before + 1)) ] || fail "the new connection was not redirected"
echo "upgrade ok: layout change refused; code change live for new sockets ($(rebuild_count) messages), old sockets kept theirs"
