#!/bin/bash
# The endpoint table shared by the operator, hooks and plugins (issue 10,
# part 0): owners, ids that are never reused, readers that never block
# writers, writers that wait (hooks: give up in time), concurrent writers
# losing nothing, nested cgroups refused, dangling links collected.
source "$(dirname "$0")/lib.sh"

shunt load >/dev/null
NSA=$(mk_ns a)
NSB=$(mk_ns b)
link_ns "$NSA" 10.30.0.1 "$NSB" 10.30.0.2
CGB=$(mk_cgroup b)
ids() { shunt endpoint list --json | jq -c '[.endpoints[] | {(.name): .id}] | add'; }

# A container's entry, as the OCI hook registers it (a process in NSB).
sh -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$1" sleep 600' "$CGB" "$NSB" &
LAST_PID=$!
PIDS+=($LAST_PID)
sleep 0.2
state() { echo "{\"ociVersion\":\"1.0.2\",\"id\":\"$1\",\"status\":\"$2\",\"pid\":$3,\"annotations\":{}}"; }
state c1 creating "$LAST_PID" | shunt oci-hook --log "$TMPD/hook.log" --strict ||
	{ cat "$TMPD/hook.log" >&2; fail "hook failed"; }

# endpoint load replaces the static entries only.
shunt endpoint add s1 10.30.1.1 --netns "$NSA"
shunt endpoint add s2 10.30.1.2 --netns "$NSA"
cat > "$TMPD/f.json" <<EOJ
{"endpoints": [{"name": "s2", "netns": "$NSA", "addresses": ["10.30.1.2"]},
               {"name": "s3", "netns": "$NSA", "addresses": ["10.30.1.3"]}]}
EOJ
shunt endpoint load "$TMPD/f.json"
got=$(shunt endpoint list --json | jq -c '[.endpoints[] | [.name, .owner]] | sort')
[ "$got" = '[["c1","oci:c1"],["s2","static"],["s3","static"]]' ] || fail "endpoint load touched other owners: $got"

# Ids: kept by name across load (s2), never handed out again (s1's).
want_s2=$(ids | jq .s2)
[ "$want_s2" = 3 ] || fail "s2 should have id 3 (c1 1, s1 2), has $want_s2"
[ "$(ids | jq .s3)" = 4 ] || fail "s3 should get a fresh id 4: $(ids)"
shunt endpoint del s3
shunt endpoint add s4 10.30.1.4 --netns "$NSA"
[ "$(ids | jq .s4)" = 5 ] || fail "a deleted highest id was reused: $(ids)"

# list --json loads back as it was (other owners' entries are skipped).
shunt endpoint list --json > "$TMPD/list.json"
shunt endpoint load "$TMPD/list.json" | grep -q 'skipped 1 endpoint' || fail "load did not say it skipped c1"
shunt endpoint list --json | diff - "$TMPD/list.json" >&2 || fail "list --json did not round-trip"

# Readers never wait for the lock; writers wait for it, hooks give up.
# (the holder's pid is the lock's only holder: sleep inherits fd 9 and is
# the same process)
( exec 9<"$PIN"; flock -x 9; exec sleep 600 ) &
HOLDER=$!
PIDS+=($HOLDER)
sleep 0.2
timeout 5 "$SHUNT_BIN" --pin-dir "$PIN" status >/dev/null || fail "status blocked behind a writer"
timeout 5 "$SHUNT_BIN" --pin-dir "$PIN" endpoint list >/dev/null || fail "list blocked behind a writer"
timeout 10 bash -c "$(declare -f state); state c2 creating $LAST_PID" |
	timeout 10 "$SHUNT_BIN" --pin-dir "$PIN" oci-hook --lock-timeout 200 --log "$TMPD/hook.log" ||
	fail "a hook that could not get the lock did not exit 0"
grep -q "createRuntime c2: .*locked by another shunt writer; gave up after 200 ms" "$TMPD/hook.log" ||
	{ cat "$TMPD/hook.log" >&2; fail "lock timeout not logged"; }
"$SHUNT_BIN" --pin-dir "$PIN" endpoint add w1 10.30.2.1 --netns "$NSA" &
W=$!
sleep 0.5
kill -0 $W 2>/dev/null || fail "a writer did not wait for the lock"
[ "$(shunt endpoint list --json | jq '[.endpoints[] | select(.name == "w1")] | length')" = 0 ] ||
	fail "a writer wrote while the lock was held"
kill $HOLDER
wait $W || fail "the waiting writer failed once the lock was free"
[ "$(shunt endpoint list --json | jq '[.endpoints[] | select(.name == "w1")] | length')" = 1 ] || fail "w1 missing"

# Concurrent writers lose nothing (each is a read-modify-replace).
ws=()
for i in $(seq 20); do shunt endpoint add "p$i" "10.30.3.$i" --netns "$NSA" & ws+=($!); done
for w in "${ws[@]}"; do wait "$w" || fail "a concurrent add failed"; done
n=$(shunt endpoint list --json | jq '[.endpoints[] | select(.name | startswith("p"))] | length')
[ "$n" = 20 ] || fail "20 concurrent adds left $n entries"

# Nested cgroups are refused both ways.
P=$(mk_cgroup p)
mkdir "$P/child"
shunt attach "$P"
out=$(shunt attach "$P/child" 2>&1) && fail "attach below an attached cgroup succeeded"
grep -q "is below $P, which is attached" <<< "$out" || fail "nesting error: $out"
shunt detach "$P"
shunt attach "$P/child"
out=$(shunt attach "$P" 2>&1) && fail "attach above an attached cgroup succeeded"
grep -q "holds $P/child, which is attached: detach it first" <<< "$out" || fail "nesting error: $out"
shunt attach "$P/child"		# the same again: a no-op

# A link whose cgroup was removed is collected by the next poststop.
rmdir "$P/child"
[ "$(shunt status --json | jq '[.attached[] | select(.path == "")] | length')" -ge 1 ] || fail "dangling link not shown"
echo '{"id":"c1","status":"stopped"}' | shunt oci-hook --log "$TMPD/hook.log"
grep -q "poststop c1: removed 1 endpoint(s), collected 1 dangling link(s)" "$TMPD/hook.log" ||
	{ cat "$TMPD/hook.log" >&2; fail "dangling links not collected"; }
[ "$(shunt status --json | jq '.attached | length')" = 0 ] || fail "links left"
[ "$(shunt endpoint list --json | jq '[.endpoints[] | select(.owner != "static")] | length')" = 0 ] ||
	fail "c1's entry left after poststop"
# One container, one registration: when CNI registered it, the hook only
# attaches.  (A CNI ADD as a runtime makes it, for a container in NSB.)
shunt endpoint del s2; shunt endpoint del s4; shunt endpoint del w1	# free the table a little
PREV='{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/'"$NSB"'"}],
       "ips": [{"address": "10.30.0.2/24", "interface": 0}]}'
jq -n --arg pin "$PIN" --argjson prev "$PREV" \
	'{cniVersion: "1.0.0", name: "n1", type: "shunt-cni", pinDir: $pin, prevResult: $prev}' |
	CNI_COMMAND=ADD CNI_CONTAINERID=c9 CNI_NETNS=/var/run/netns/$NSB CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
	"$OUT/shunt-cni" > "$TMPD/cni.out" || { cat "$TMPD/cni.out" >&2; fail "CNI ADD failed"; }
state c9 creating "$LAST_PID" | shunt oci-hook --log "$TMPD/hook.log" --strict || fail "hook after CNI failed"
grep -q "createRuntime c9: registered by CNI; attached $CGB" "$TMPD/hook.log" || { cat "$TMPD/hook.log" >&2; fail "hook did not defer to CNI"; }
got=$(shunt endpoint list --json | jq -c '[.endpoints[] | select(.addresses | index("10.30.0.2")) | .owner]')
[ "$got" = '["cni:n1/c9/eth0"]' ] || fail "want one registration, by CNI: $got"
echo "table owners ok"
