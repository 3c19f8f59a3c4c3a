#!/bin/bash
# shunt.service, run the way systemd would run it (systemd is not PID 1
# here): its ExecStart, ExecReload and ExecStop lines, in that order, with
# the unit's environment, against this test's namespaces, cgroups and pin
# dir (issue 12).  State restored at start, a missing netns and a missing
# cgroup reported but not fatal; reload keeps other owners' entries, takes a
# changed file, upgrades to a new binary; stop with live connections waits,
# or leaves the instance paused, as documented.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
U=$TMPD/units
make --no-print-directory -s "OUTPUT=$TMPD/out" SBINDIR="$OUT" SYSCONFDIR="$TMPD/etc" \
	$(for u in shunt.service shunt-netns.path shunt-netns.service shunt-metrics.service shunt-bridge.service shunt-relay.service; do echo "$TMPD/out/install/$u"; done) >/dev/null
mkdir -p "$U" && cp "$TMPD"/out/install/* "$U/"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify --man=no "$U"/shunt.service "$U"/shunt-netns.path "$U"/shunt-netns.service "$U"/shunt-metrics.service "$U"/shunt-bridge.service "$U"/shunt-relay.service > "$TMPD/verify.log" 2>&1 ||
		{ cat "$TMPD/verify.log" >&2; fail "systemd-analyze verify"; }
	! grep -v 'not found\|Failed to\|Cannot add dependency\|sys-fs-bpf.mount' "$TMPD/verify.log" | grep -q . ||
		{ cat "$TMPD/verify.log" >&2; fail "systemd-analyze verify found problems"; }
fi

# unit_exec KEY [BINARY]: run the unit's KEY= line as systemd would: its
# Environment (pin dir and config dir pointed at this test's), a leading
# '-' meaning "failure is not fatal", $SHUNT_LOAD_OPTS from EnvironmentFile.
unit_exec() {
	local line bin=${2:-$OUT/shunt} ign=0 rc=0
	line=$(sed -n "s/^$1=//p" "$U/shunt.service")
	[[ $line == -* ]] && { ign=1; line=${line#-}; }
	line=${line/$OUT\/shunt/$bin}
	# the unit's Environment= lines, then this test's pin dir over its default
	env $(sed -n 's/^Environment=//p' "$U/shunt.service") SHUNT_PIN_DIR="$PIN" \
		SHUNT_LOAD_OPTS="--max-sockets 4096" bash -c "exec $line" >> "$TMPD/unit.log" 2>&1 || rc=$?
	[ $ign = 1 ] && return 0
	return $rc
}

NSA=$(mk_ns a)
NSB=$(mk_ns b)
link_ns "$NSA" 10.80.0.1 "$NSB" 10.80.0.2
CGA=$(mk_cgroup a)
CGB=$(mk_cgroup b)
mkdir -p "$TMPD/etc/shunt"
NSC=$T-c	# not there at boot
cat > "$TMPD/etc/shunt/endpoints.json" <<EOJ
{"endpoints": [{"name": "ea", "netns": "$NSA", "addresses": ["10.80.0.1"]},
               {"name": "eb", "netns": "$NSB", "addresses": ["10.80.0.2"]},
               {"name": "ec", "netns": "$NSC", "addresses": ["10.80.0.3"]}]}
EOJ
printf '# test\n%s\n%s\nshunt-%s-missing\n' "${CGA#$CGROOT/}" "${CGB#$CGROOT/}" "$T" > "$TMPD/etc/shunt/cgroups"

# start
unit_exec ExecStart || { cat "$TMPD/unit.log" >&2; fail "ExecStart failed (a missing netns or cgroup must not be fatal)"; }
grep -q 'endpoint "ec" skipped' "$TMPD/unit.log" || { cat "$TMPD/unit.log" >&2; fail "missing netns not reported"; }
grep -q "cgroup .*shunt-$T-missing does not exist yet" "$TMPD/unit.log" || fail "missing cgroup not reported"
[ "$(status_field max_sockets)" = 4096 ] || fail "SHUNT_LOAD_OPTS not used"
[ "$(shunt status --json | jq '.attached | length')" = 2 ] || fail "cgroups not attached"
got=$(shunt endpoint list --json | jq -c '[.endpoints[].name] | sort')
[ "$got" = '["ea","eb"]' ] || fail "restored endpoints: $got"

# a redirected connection that lives across reload and into stop
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.80.0.2 -p 7300 -m stream -b 64M -S 4 -q -E -t 120
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.80.0.2 -p 7300 -m stream -b 64M -S 4 -q -E -D 3000 -t 120 \
	> "$TMPD/cli.log" 2>&1 &
CLI=$!
for i in $(seq 50); do [ "$(status_field sockets)" -ge 2 ] && break; sleep 0.1; done
[ "$(status_field sockets)" -ge 2 ] || fail "the connection was not redirected"

# reload: other owners' entries stay, a changed file and a new netns come in.
NS9=$(mk_ns h)
sh -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$1" sleep 600' "$CGB" "$NS9" &
PIDS+=($!)
ip link add "v$T" netns "$NS9" type veth peer name "w$T" netns "$NSB" 2>/dev/null || ip -n "$NS9" link add d0 type veth peer name d1
ip -n "$NS9" addr add 10.80.9.9/24 dev "$(ip -n "$NS9" -o link show type veth | awk -F'[ :@]+' '{print $2; exit}')"
sleep 0.2
echo "{\"id\":\"h1\",\"status\":\"creating\",\"pid\":$!}" | shunt oci-hook --strict --log "$TMPD/hook.log" ||
	{ cat "$TMPD/hook.log" >&2; fail "hook"; }
ip netns add "$NSC" && echo "$NSC" >> "$TMPD/netns"
jq '.endpoints |= map(select(.name != "ea")) + [{"name": "ed", "netns": "'"$NSA"'", "addresses": ["10.80.0.1"]}]' \
	"$TMPD/etc/shunt/endpoints.json" > "$TMPD/e.json" && mv "$TMPD/e.json" "$TMPD/etc/shunt/endpoints.json"
unit_exec ExecReload || { cat "$TMPD/unit.log" >&2; fail "ExecReload failed"; }
got=$(shunt endpoint list --json | jq -c '[.endpoints[] | [.name, .owner]] | sort')
[ "$got" = '[["eb","static"],["ec","static"],["ed","static"],["h1","oci:h1"]]' ] || fail "after reload: $got"
grep -q 'already runs this build' "$TMPD/unit.log" || fail "reload did not check the running build"

# reload after an upgrade of the binary: load --upgrade, keeping everything.
unit_exec ExecReload "$OUT/rebuild1/shunt" || { cat "$TMPD/unit.log" >&2; fail "ExecReload with a new binary failed"; }
grep -q "upgraded $PIN from" "$TMPD/unit.log" || { cat "$TMPD/unit.log" >&2; fail "no upgrade to the new binary"; }
[ "$(shunt status --json | jq -r '.bpf_object == .this_binary_bpf_object')" = false ] || fail "still the old object"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" = 4 ] || fail "upgrade lost endpoints"

# stop while the connection is open, with a short wait: refused, paused,
# the connection intact; the next start resumes.
sed -i 's/unload --wait 30/unload --wait 1/' "$U/shunt.service"
unit_exec ExecStop
grep -q 'sockets still use the redirect path' "$TMPD/unit.log" || { cat "$TMPD/unit.log" >&2; fail "stop did not say it refused"; }
[ "$(status_field paused)" = true ] || fail "stop did not leave the instance paused"
wait $CLI || { cat "$TMPD/cli.log" >&2; fail "the redirected stream broke across reload, upgrade and stop"; }
wait "$SERVER_PID" || fail "server failed"
[ "$(counter connections_redirected)" -ge 1 ] || fail "the stream was not redirected (connections_redirected 0)"
unit_exec ExecStart "$OUT/rebuild1/shunt" || fail "start after a refused stop"
[ "$(status_field paused)" = false ] || fail "start did not resume"
# stop with no connection left: unloads.
sed -i 's/unload --wait 1/unload --wait 30/' "$U/shunt.service"
unit_exec ExecStop
[ ! -e "$PIN" ] || { cat "$TMPD/unit.log" >&2; fail "stop did not unload"; }
echo "service start, reload, upgrade and stop ok"
