#!/bin/bash
# Bad input gets one clear line and a non-zero exit, never a crash or a
# half-loaded state; a failed `endpoint load` leaves the old table intact;
# `endpoint list --json` loads back unchanged; attach is idempotent and
# refuses a root cgroup.
source "$(dirname "$0")/lib.sh"

# expect_err "substring" CMD...: CMD fails with exactly one line containing it.
expect_err() {
	local want=$1 out rc
	shift
	set +e
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "'$*' succeeded, expected failure with '$want'"
	[ $rc -lt 128 ] || fail "'$*' crashed (rc=$rc): $out"
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $out"
	[[ $out == *"$want"* ]] || fail "'$*': got '$out', want '$want'"
	log "ok: $* -> $out"
}

expect_err "not loaded" shunt status
expect_err "not loaded" shunt endpoint list
expect_err "unknown command" shunt frobnicate
# the bridge's bad input (before anything is loaded: nothing to half-start)
expect_err "unknown option --bogus" shunt bridge --bogus
expect_err "--port needs a value" shunt bridge --port
expect_err 'a port from 1 to 65535' shunt bridge --port 70000
expect_err "the relay needs its VMs" shunt bridge --host
expect_err 'expected vsock, vsock:CID or unix:PATH' shunt bridge --transport tcp:1
expect_err "the host's CID is 2" shunt bridge --transport vsock:7
expect_err "a guest's CID is 3 to" shunt bridge --host --vm web=vsock:2
expect_err 'expected NAME=TRANSPORT' shunt bridge --host --vm web
expect_err "the path must be absolute" shunt bridge --host --vm web=hybrid:relative.sock
expect_err "VMs a and b have the same transport" shunt bridge --host --vm a=vsock:3 --vm b=vsock:3
expect_err "are the relay's" shunt bridge --vm a=vsock:3
expect_err "not loaded" shunt bridge --host --vm a=vsock:3
expect_err "usage: shunt attach CGROUP" shunt attach
expect_err "must be an absolute path" "$SHUNT_BIN" --pin-dir relative status
expect_err "must run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "$SHUNT_BIN" --pin-dir "$PIN" load
expect_err "not on a bpffs mount" "$SHUNT_BIN" --pin-dir /tmp/shunt-$T/x load
# A kernel without BTF, simulated in a private mount namespace (an empty
# tmpfs over /sys/kernel/btf): refused before anything is pinned.
expect_err "kernel has no BTF" unshare -m --propagation private \
	sh -c 'mount -t tmpfs none /sys/kernel/btf && exec "$@"' sh "$SHUNT_BIN" --pin-dir "$PIN" load
[ ! -e "$PIN" ] || fail "a refused load left $PIN behind"
# A cgroup v1 hierarchy (this host's layout is hybrid) is not attachable.
V1=$(awk '$3 == "cgroup" { print $2; exit }' /proc/mounts)

shunt load >/dev/null
shunt load | grep -q "already loaded"
A=$(mk_ns a)
CG=$(mk_cgroup a)

expect_err "No such file or directory" shunt attach "$CGROOT/does-not-exist-$T"
expect_err "not a cgroup v2 directory" shunt attach /tmp
if [ -n "$V1" ]; then expect_err "not a cgroup v2 directory" shunt attach "$V1"; fi
expect_err "refusing to attach to the root cgroup" shunt attach "$CGROOT"
shunt attach "$CG"
shunt attach "$CG"		# idempotent
[ "$(status_field 'attached | length')" = 1 ] || fail "attach not idempotent"
[ "$(bpftool cgroup show "$CG" | grep -c sock_ops)" = 1 ] || fail "expected one sock_ops attachment"
shunt detach "$CG"
expect_err "is not attached" shunt detach "$CG"
[ "$(bpftool cgroup show "$CG" | grep -c sock_ops)" = 0 ] || fail "detach left the program attached"

expect_err 'bad IPv4 address "10.0.0.300"' shunt endpoint add web 10.0.0.300 --netns "$A"
expect_err 'bad IPv6 address' shunt endpoint add web fd00::zz --netns "$A"
expect_err 'bad MAC address' shunt endpoint add web 10.0.0.1 --mac 02:00
expect_err 'netns /var/run/netns/nope-'"$T" shunt endpoint add web 10.0.0.1 --netns nope-$T
expect_err 'usage: shunt endpoint add NAME ADDR' shunt endpoint add web
expect_err 'need NAME and at least one ADDR' shunt endpoint add web --netns "$A"
expect_err 'longer than 96 characters' shunt endpoint add "$(printf 'a%.0s' $(seq 97))" 10.0.0.1
shunt endpoint add "$(printf 'f%.0s' $(seq 64))" 10.0.0.9 --netns "$A"	# container id length
shunt endpoint add web 10.0.0.2 fd00::2 --netns "$A" --mac 02:00:00:00:00:02
expect_err 'endpoint "web" already exists' shunt endpoint add web 10.0.0.3 --netns "$A"
expect_err 'address 10.0.0.2 already belongs to endpoint "web"' shunt endpoint add db 10.0.0.2
expect_err 'address 10.0.0.2 already belongs' shunt endpoint add db ::ffff:10.0.0.2
B=$(mk_ns b)
expect_err 'address 10.0.0.2 in that netns already belongs to endpoint "web"' shunt endpoint add db 10.0.0.2 --network other --netns "$A"
shunt endpoint add db 10.0.0.2 --network other --netns "/var/run/netns/$B"	# other network: ok
expect_err 'no endpoint "nope"' shunt endpoint del nope

# Round trip: list --json loads back unchanged.
shunt endpoint list --json > "$TMPD/t1.json"
shunt endpoint load "$TMPD/t1.json"
shunt endpoint list --json > "$TMPD/t2.json"
cmp "$TMPD/t1.json" "$TMPD/t2.json" || fail "list --json did not load back unchanged"
[ "$(jq '.endpoints | length' "$TMPD/t2.json")" = 3 ] || fail "expected 3 endpoints"

# A failed load leaves the old table intact, whatever the failure.
printf '{"endpoints": [\n  {"name": "x", "addresses": ["10.1.0.1"]},\n  {"name": "y" "addresses": []}\n]}\n' > "$TMPD/bad1.json"
expect_err "line 3 column" shunt endpoint load "$TMPD/bad1.json"
printf '{"endpoints": [{"name": "x", "addresses": ["10.1.0.1"]}, {"name": "y", "addresses": ["10.1.0.1"]}]}' > "$TMPD/bad2.json"
expect_err "already belongs" shunt endpoint load "$TMPD/bad2.json"
printf '{"endpoints": [{"name": "x", "addresses": ["10.1.0.1"]}, {"name": "y", "netns": "gone-%s", "addresses": ["10.1.0.2"]}]}' "$T" > "$TMPD/bad3.json"
expect_err "gone-$T" shunt endpoint load "$TMPD/bad3.json"
expect_err "cannot open endpoint file" shunt endpoint load "$TMPD/missing.json"
shunt endpoint list --json > "$TMPD/t3.json"
cmp "$TMPD/t1.json" "$TMPD/t3.json" || fail "a failed load changed the table"

# Exactly one generation in the lookup maps (no half-loaded leftovers).
n_local=$(bpftool map dump pinned "$PIN/maps/shunt_ep_local" -j | jq length)
[ "$n_local" = 4 ] || fail "shunt_ep_local has $n_local entries, want 4 (one per address)"

# A good file replaces everything.
printf '{"endpoints": [{"name": "only", "netns": "%s", "addresses": ["10.2.0.1"]}]}' "$A" > "$TMPD/good.json"
shunt endpoint load "$TMPD/good.json"
[ "$(shunt endpoint list --json | jq -r '.endpoints[].name')" = only ] || fail "load did not replace the table"
[ "$(bpftool map dump pinned "$PIN/maps/shunt_ep_local" -j | jq length)" = 1 ] || fail "old entries left behind"

shunt unload >/dev/null
[ ! -e "$PIN" ] || fail "unload left $PIN"
echo "cli errors ok"
