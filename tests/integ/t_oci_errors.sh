#!/bin/bash
# Bad input to `shunt oci-hook`: one line of error each, nothing registered
# or attached by halves.  A state that is not a runtime's (malformed JSON,
# bad fields) is a misconfigured hook: exit 2, even without --strict.  What
# a runtime's state can meet at run time (an unknown pid, a netns without an
# address) never fails the container: exit 0 and a log line, 1 with --strict.
source "$(dirname "$0")/lib.sh"

shunt load >/dev/null
hook() { shunt oci-hook --log "$TMPD/hook.log" "$@"; }
nothing_left() {
	[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "$1: an endpoint was registered"
	[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] || fail "$1: a cgroup was attached"
}
# expect RC MESSAGE STDIN ARGS...: exit code RC and MESSAGE on stderr, one line.
expect() {
	local rc=$1 msg=$2 in=$3 got out
	shift 3
	set +e
	out=$(printf '%s' "$in" | hook "$@" 2>&1 >/dev/null)
	got=$?
	set -e
	[ "$got" -eq "$rc" ] || fail "want exit $rc for '$msg', got $got: $out"
	[ "$rc" -eq 0 ] && return 0
	grep -qF -- "$msg" <<< "$out" || fail "want '$msg', got: $out"
	[ "$(wc -l <<< "$out")" -eq 1 ] || fail "error is not one line: $out"
}

expect 2 'OCI state on stdin is not JSON' '{"id": "c1", "status": '
expect 2 'OCI state on stdin is not a JSON object' '[1, 2]'
expect 2 'OCI state: missing "id"' '{"status": "creating", "pid": 1}'
expect 2 'OCI state: id: endpoint name "../etc": only letters' '{"id": "../etc", "status": "creating", "pid": 1}'
expect 2 'OCI state: "pid" is not a process id' '{"id": "c1", "status": "creating", "pid": "12"}'
expect 2 'annotation io.shunt.enable must be "true" or "false"' \
	'{"id": "c1", "status": "creating", "pid": 1, "annotations": {"io.shunt.enable": "yes"}}'
expect 2 'unknown stage "prestop"' '{}' prestop
expect 2 '--lock-timeout takes milliseconds' '{}' --lock-timeout x
nothing_left "malformed state"

# An unknown pid: logged, exit 0; --strict: exit 1.
expect 0 '' '{"id": "c1", "status": "creating", "pid": 4194000}'
grep -q 'createRuntime c1: container c1: process 4194000: no such process (container goes on, over TCP)' "$TMPD/hook.log" ||
	{ cat "$TMPD/hook.log" >&2; fail "unknown pid not logged"; }
expect 1 'process 4194000: no such process' '{"id": "c1", "status": "creating", "pid": 4194000}' --strict
nothing_left "unknown pid"

# A netns without an address: attached (so a later stage can register it),
# not registered; then poststop leaves nothing.
NS=$(mk_ns x)
CG=$(mk_cgroup x)
sh -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$1" sleep 600' "$CG" "$NS" &
PIDS+=($!)
sleep 0.2
expect 0 '' "{\"id\": \"c2\", \"status\": \"creating\", \"pid\": $!}"
grep -q 'createRuntime c2: container c2: netns /run/netns/'"$NS"' has no address yet' "$TMPD/hook.log" ||
	{ cat "$TMPD/hook.log" >&2; fail "no-address case not logged"; }
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] || fail "an address-less endpoint was registered"
[ "$(shunt status --json | jq '.attached | length')" -eq 1 ] || fail "not attached for a later stage"
# poststart finishes what createRuntime could not: the address came meanwhile.
SLEEPER=$!
ip -n "$NS" link add e0 type veth peer name e1
ip -n "$NS" addr add 10.60.0.2/24 dev e0
ip -n "$NS" link set e0 up
expect 0 '' "{\"id\": \"c2\", \"status\": \"created\", \"pid\": $SLEEPER}" poststart
shunt endpoint list --json | jq -e '.endpoints[] | select(.owner == "oci:c2" and .addresses == ["10.60.0.2"])' >/dev/null ||
	{ cat "$TMPD/hook.log" >&2; fail "poststart did not register the late address"; }

# The table full: logged, exit 0, nothing of it registered; the rest intact.
python3 -c 'import json
print(json.dumps({"endpoints": [{"name": "e%d" % i, "addresses": ["10.%d.%d.%d" % (100 + i // 65536, i // 256 % 256, i % 256)]} for i in range(4095)]}))' > "$TMPD/big.json"
shunt endpoint load "$TMPD/big.json"
NS2=$(mk_ns y)
ip -n "$NS2" link add e0 type veth peer name e1
ip -n "$NS2" addr add 10.61.0.2/24 dev e0
sh -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$1" sleep 600' "$CG" "$NS2" &
PIDS+=($!)
sleep 0.2
expect 0 '' "{\"id\": \"c4\", \"status\": \"creating\", \"pid\": $!}"
grep -q 'createRuntime c4: container c4: endpoint table full (4096 endpoints) (container goes on' "$TMPD/hook.log" ||
	{ tail -3 "$TMPD/hook.log" >&2; fail "table full not logged"; }
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 4096 ] || fail "table changed by a refused hook"
echo '{"endpoints": []}' > "$TMPD/empty.json"
shunt endpoint load "$TMPD/empty.json"

kill "$SLEEPER" "$!"
sleep 0.1
expect 0 '' '{"id": "c2", "status": "stopped"}'
grep -q 'poststop c2: removed 1 endpoint(s), collected 0 dangling' "$TMPD/hook.log" || fail "poststop did not detach by the recorded id"
rmdir "$CG"
nothing_left "netns without an address"

# Not loaded: exit 0 and a log line, never a crash.
"$SHUNT_BIN" --pin-dir "$PIN-none" oci-hook --log "$TMPD/hook.log" <<< '{"id": "c3", "status": "creating", "pid": 1}' ||
	fail "not loaded: exit non-zero without --strict"
grep -q 'createRuntime c3: not loaded' "$TMPD/hook.log" || fail "not loaded: not logged"
echo "oci-hook errors ok"
