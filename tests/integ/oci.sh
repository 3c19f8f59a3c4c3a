#!/bin/bash
# Helpers for tests that run real containers with runc (sourced after lib.sh).
# A rootfs of busybox-static plus shunt-traffic (with the libc it needs), a
# runc state root in $TMPD, bundles whose hooks run this build's oci-hook
# against this test's instance.  Containers are killed and deleted on exit.

command -v runc >/dev/null || skip "runc not installed (scripts/deps.sh installs it)"
[ -x /bin/busybox ] || skip "busybox-static not installed"

RUNC_ROOT=$TMPD/runc
HOOK_LOG=$TMPD/hook.log
: > "$HOOK_LOG"

runc_() { runc --root "$RUNC_ROOT" "$@"; }

# Kills and deletes every container of this test (poststop hooks run).
oci_cleanup() {
	local id
	for id in $(runc_ list -q 2>/dev/null); do
		runc_ kill "$id" KILL 2>/dev/null
		for i in $(seq 50); do
			[ "$(runc_ state "$id" 2>/dev/null | jq -r .status)" = running ] || break
			sleep 0.05
		done
		runc_ delete --force "$id" 2>/dev/null
	done
}

# mk_rootfs DIR: busybox applets, shunt-traffic and its shared libraries.
mk_rootfs() {
	local r=$1 lib
	mkdir -p "$r"/{bin,data,proc,sys,dev,tmp,etc}
	cp /bin/busybox "$r/bin/"
	for a in sh sleep cat nc sha256sum head ip true; do ln -sf busybox "$r/bin/$a"; done
	cp "$TRAFFIC" "$r/bin/"
	for lib in $(ldd "$TRAFFIC" | grep -o '/[^ ]*'); do
		mkdir -p "$r$(dirname "$lib")"
		cp -L "$lib" "$r$lib"
	done
}

ROOTFS=$TMPD/rootfs
mk_rootfs "$ROOTFS"

# hook STAGE: one entry of config.json's hooks for this instance.
hook_json() {
	jq -n --arg bin "$SHUNT_BIN" --arg pin "${HOOK_PIN:-$PIN}" --arg stage "$1" --arg log "$HOOK_LOG" \
		'{path: $bin, args: ["shunt", "--pin-dir", $pin, "oci-hook", $stage, "--log", $log]}'
}

# mk_bundle ID NETNS ANNOTATIONS_JSON CMD...: a bundle in $TMPD/ID joining
# netns NETNS (made by mk_ns), with shunt's hooks at createRuntime,
# poststart and poststop, and $TMPD/data bind-mounted at /data.
mk_bundle() {
	local id=$1 ns=$2 ann=$3 b=$TMPD/$1
	shift 3
	mkdir -p "$b" "$TMPD/data"
	(cd "$b" && runc spec)
	jq --arg ns "/var/run/netns/$ns" --argjson ann "$ann" --arg data "$TMPD/data" --arg rootfs "$ROOTFS" \
		--argjson cr "$(hook_json createRuntime)" --argjson ps "$(hook_json poststart)" \
		--argjson pst "$(hook_json poststop)" \
		--argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
		'.process.terminal = false | .process.args = $args
		 | .root = {path: $rootfs, readonly: true}
		 | .linux.namespaces |= map(if .type == "network" then .path = $ns else . end)
		 | .annotations = $ann
		 | .mounts += [{destination: "/data", type: "bind", source: $data, options: ["rbind", "rw"]}]
		 | .hooks = {createRuntime: [$cr], poststart: [$ps], poststop: [$pst]}' \
		"$b/config.json" > "$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
}

# run_detached ID: start a bundle's container in the background (output to
# $TMPD/ID.log).
run_detached() {
	runc_ run -d --bundle "$TMPD/$1" "$1" < /dev/null > "$TMPD/$1.log" 2>&1
}

# run_fg ID: run a bundle's container to its end; returns its exit status.
run_fg() {
	runc_ run --bundle "$TMPD/$1" "$1" < /dev/null > "$TMPD/$1.log" 2>&1
}

# stop_rm ID: kill (if running) and delete: runs the poststop hook.
stop_rm() {
	runc_ kill "$1" KILL 2>/dev/null || true
	for i in $(seq 100); do
		[ "$(runc_ state "$1" 2>/dev/null | jq -r .status)" = stopped ] && break
		sleep 0.05
	done
	runc_ delete "$1"
}

# owned OWNER: how many endpoints that owner has in the table.
owned() { shunt endpoint list --json | jq --arg o "$1" '[.endpoints[] | select(.owner == $o)] | length'; }
