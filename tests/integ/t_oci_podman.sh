#!/bin/bash
# podman (with runc) runs shunt's hook from a hooks.d directory (issue 10):
# two containers on one podman network are redirected with no manual step,
# their streams verified both ways, and nothing of theirs is left after
# `podman rm`.  Recipe: ../shared/notes/containers-on-this-machine.md.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/oci.sh"
command -v podman >/dev/null || skip "podman not installed (scripts/deps.sh installs it)"
[ -z "${SHUNT_VMTEST:-}" ] || skip "podman is not set up in make vmtest guests"

IMG=localhost/shunt-bb-$T NET=shunt-$T
mkdir -p "$TMPD/hooks.d"
podman_conf "hooks_dir = [\"$TMPD/hooks.d\"]"
for stage in createRuntime poststart poststop; do
	jq -n --argjson hook "$(hook_json $stage)" --arg stage "$stage" \
		'{version: "1.0.0", hook: $hook, when: {always: true}, stages: [$stage]}' \
		> "$TMPD/hooks.d/shunt-$stage.json"
done

test_cleanup() {
	podman ps -a --format '{{.Names}}' | grep "^$T-" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
	podman network rm -f "$NET" >/dev/null 2>&1
	podman rmi -f "$IMG" >/dev/null 2>&1
	# podman's cgroup parent, with conmon's cgroup in it, stays in every
	# hierarchy (v1 ones too): rmdir only, which fails on anything in use.
	local d
	for d in /sys/fs/cgroup/*/libpod_parent; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	# netavark leaves its base chains; remove them once no container is left.
	if [ -z "$(podman ps -aq 2>/dev/null)" ]; then
		local t r c
		for t in nat filter; do
			iptables -t $t -S | grep -- '-j NETAVARK' | grep '^-A' | sed 's/^-A/-D/' |
				while read -r r; do eval iptables -t $t "$r"; done
			for c in $(iptables -t $t -S | awk '$1 == "-N" && $2 ~ /^NETAVARK/ { print $2 }'); do
				iptables -t $t -F "$c"; iptables -t $t -X "$c"
			done
		done
	fi
	true
}

shunt load >/dev/null
need_redirect
tar -C "$ROOTFS" -c . | podman import -q - "$IMG" >/dev/null
podman network create "$NET" >/dev/null

podman run -d --name "$T-srv" --network "$NET" "$IMG" \
	/bin/shunt-traffic server -a 0.0.0.0 -p 7100 -m stream -b 16M -S 5 -E -q -n 2 >/dev/null ||
	{ cat "$HOOK_LOG" >&2; fail "podman run server"; }
ID=$(podman inspect -f '{{.Id}}' "$T-srv")
SRV=$(podman inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$T-srv")
for i in $(seq 100); do podman logs "$T-srv" 2>/dev/null | grep -q ready && break; sleep 0.1; done
[ "$(owned "oci:$ID")" -eq 1 ] || { cat "$HOOK_LOG" >&2; fail "server container not registered"; }
shunt endpoint list --json | jq -e --arg o "oci:$ID" --arg a "$SRV" \
	'.endpoints[] | select(.owner == $o) | select(.addresses | index($a))' >/dev/null ||
	{ shunt endpoint list >&2; fail "server registered without its address $SRV"; }

before=$(counter connections_redirected)
for round in 1 2; do
	podman run --rm --name "$T-cli$round" --network "$NET" "$IMG" \
		/bin/shunt-traffic client -a "$SRV" -p 7100 -m stream -b 16M -S 5 -E -q -D 20 ||
		{ cat "$HOOK_LOG" >&2; fail "round $round: stream broken or not verified"; }
done
redir=$(( $(counter connections_redirected) - before ))
[ "$redir" -eq 2 ] || { cat "$HOOK_LOG" >&2; shunt status >&2; fail "want 2 redirected connections, got $redir"; }
log "2 streams of 16 MiB each way between podman containers, redirected"
grep -q "poststop .*: removed 1 endpoint" "$HOOK_LOG" || { cat "$HOOK_LOG" >&2; fail "podman ran no poststop for --rm"; }

podman rm -f -t 0 "$T-srv" >/dev/null
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq 0 ] ||
	{ shunt endpoint list >&2; cat "$HOOK_LOG" >&2; fail "endpoints left after podman rm"; }
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] ||
	{ shunt status >&2; cat "$HOOK_LOG" >&2; fail "links left after podman rm"; }
echo "oci podman ok"
