#!/bin/bash
# shunt-cni under a real runtime: podman's CNI backend (with runc) runs a
# conflist of bridge + host-local + shunt-cni for two busybox containers.
# The conf's "cgroup" is the containers' cgroup parent, which ADD creates and
# attaches, so no OCI hook is involved.  A few MiB each way between the
# containers arrive intact (sha256 of what was sent and what was received)
# and redirected (connections_redirected); after `podman rm -f` no cni:*
# endpoint is left.
#
# Podman's storage is global and other tests use podman at the same time:
# everything here has a name unique to this run (image, containers,
# network, bridge, subnet), and the containers' cgroup parent is this
# test's own (--cgroup-parent) rather than the shared /libpod_parent, so
# that attaching it never puts this instance's programs on other
# containers' sockets.  Cleanup removes only what this run made.
source "$(dirname "$0")/lib.sh"

command -v podman >/dev/null || skip "no podman (apt install podman)"
command -v runc >/dev/null || skip "no runc (apt install runc)"
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || skip "no CNI plugins in /usr/lib/cni"
[ -x "$OUT/shunt-cni" ] || skip "no $OUT/shunt-cni (make)"
ldd /bin/busybox >/dev/null 2>&1 && skip "/bin/busybox is not static (apt install busybox-static)"
[ -x /bin/busybox ] || skip "no /bin/busybox (apt install busybox-static)"

IMG=localhost/shunt-cni-bb-$T
NETNAME=shunt-cni-$T
BR=sp$RANDOM
X=$((RANDOM % 200 + 20))
SUB=10.78.$X.0/24
SRV=shunt-cni-srv-$T
CLI=shunt-cni-cli-$T
PARENT=shunt-cni-$T		# the containers' cgroup parent (relative to the cgroup roots)
CGPAR=$CGROOT/$PARENT
LOGF=$TMPD/cni.log
PORT1=7400 PORT2=7401
echo "$CGPAR" >> "$TMPD/cgroups"

mkdir -p "$TMPD/cnibin" "$TMPD/cniconf" "$TMPD/x-srv" "$TMPD/x-cli"
ln -s "$OUT/shunt-cni" "$TMPD/cnibin/shunt-cni"
podman_conf '[network]' 'network_backend = "cni"' \
	"cni_plugin_dirs = [\"$TMPD/cnibin\", \"/usr/lib/cni\"]" "network_config_dir = \"$TMPD/cniconf\""
jq -n --arg n "$NETNAME" --arg br "$BR" --arg sub "$SUB" --arg d "$TMPD/ipam" \
	--arg pin "$PIN" --arg log "$LOGF" --arg cg "$CGPAR" \
	'{cniVersion: "1.0.0", name: $n, plugins: [
	   {type: "bridge", bridge: $br, isGateway: true, ipMasq: false,
	    ipam: {type: "host-local", ranges: [[{subnet: $sub}]], dataDir: $d}},
	   {type: "shunt-cni", pinDir: $pin, log: $log, cgroup: $cg}]}' \
	> "$TMPD/cniconf/$NETNAME.conflist"

test_cleanup() {
	podman rm -f -t 0 "$SRV" "$CLI" >/dev/null 2>&1
	podman rmi -f "$IMG" >/dev/null 2>&1
	rm -f /var/lib/cni/results/"$NETNAME"-* 2>/dev/null
	ip link del "$BR" 2>/dev/null
	"$SHUNT_BIN" --pin-dir "$PIN" detach "$CGPAR" >/dev/null 2>&1
	# runc removed the containers' leaves, but the parent, with conmon's
	# cgroup in it, stays in every hierarchy (v1 ones too): rmdir only,
	# which fails on anything still in use.
	local d
	for d in /sys/fs/cgroup/*/"$PARENT"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	true
}

# --- an image of busybox-static, named for this run ------------------------
mkdir -p "$TMPD/rootfs/bin" "$TMPD/rootfs/tmp" "$TMPD/rootfs/etc" "$TMPD/rootfs/x"
cp /bin/busybox "$TMPD/rootfs/bin/"
for c in sh nc sha256sum sleep cat head ls netstat ip; do ln -s busybox "$TMPD/rootfs/bin/$c"; done
tar -C "$TMPD/rootfs" -c . | podman import -q - "$IMG" >/dev/null || fail "podman import failed"

podman network ls --format '{{.Name}}' | grep -qx "$NETNAME" || fail "podman does not see network $NETNAME (CNI backend?)"
shunt load >/dev/null
need_redirect

# --- two containers on the network --------------------------------------------
head -c 3M /dev/urandom > "$TMPD/x-cli/data1"
head -c 5M /dev/urandom > "$TMPD/x-srv/data2"
for c in "$SRV:x-srv" "$CLI:x-cli"; do
	podman run -d --name "${c%%:*}" --network "$NETNAME" --cgroup-parent "/$PARENT" \
		-v "$TMPD/${c#*:}:/x" "$IMG" sleep 600 >/dev/null || fail "podman run ${c%%:*} failed"
done
ip_of() { podman inspect -f "{{(index .NetworkSettings.Networks \"$NETNAME\").IPAddress}}" "$1"; }
IPS=$(ip_of "$SRV")
IPC=$(ip_of "$CLI")
[[ $IPS == 10.78.$X.* && $IPC == 10.78.$X.* ]] || fail "addresses not from $SUB: $IPS $IPC"
log "containers $SRV=$IPS $CLI=$IPC on $NETNAME (bridge $BR)"

# What ADD registered: one endpoint per container, owner cni:<network>/<id>/eth0,
# the container's address, its netns.
for c in "$SRV:$IPS" "$CLI:$IPC"; do
	name=${c%%:*} ip=${c#*:}
	id=$(podman inspect -f '{{.Id}}' "$name")
	ns=$(podman inspect -f '{{.NetworkSettings.SandboxKey}}' "$name")
	shunt endpoint list --json | jq -e --arg o "cni:$NETNAME/$id/eth0" --arg ip "$ip" \
		--arg n "$id-eth0" --arg ns "$ns" --arg net "$NETNAME" \
		'[.endpoints[] | select(.owner == $o)] | length == 1 and .[0].addresses == [$ip]
		 and .[0].name == $n and .[0].network == $net and .[0].netns == $ns' >/dev/null ||
		fail "$name: endpoint not registered as expected: $(shunt endpoint list --json | jq -c .endpoints)"
	grep -q "^/$PARENT/libpod-$id\$" <(podman exec "$name" cat /proc/self/cgroup | sed -n 's/^0:://p') ||
		fail "$name is not in cgroup /$PARENT: $(podman exec "$name" cat /proc/self/cgroup)"
done
grep -q "created cgroup $CGPAR" "$LOGF" || fail "shunt-cni did not create $CGPAR: $(cat "$LOGF")"
shunt status --json | jq -e --arg p "$CGPAR" '[.attached[] | select(.path == $p)] | length == 1' >/dev/null ||
	fail "$CGPAR not attached: $(shunt status --json | jq -c .attached)"

# wait_listen NAME PORT: until a listener is up in that container.
wait_listen() {
	local hex
	hex=$(printf '%04X' "$2")
	for i in $(seq 100); do
		# busybox nc listens on :: (dual stack): tcp6 as well
		podman exec "$1" cat /proc/net/tcp /proc/net/tcp6 | awk '{print $2, $4}' |
			grep -q ":$hex 0A" && return 0
		sleep 0.1
	done
	fail "no listener on port $2 in $1"
}

# --- data both ways ---------------------------------------------------------------
before=$(counter connections_redirected)
# busybox nc half-closes when its stdin ends and the sender quits on that
# EOF, so the listeners' stdin is a pipe that stays open.
podman exec -d "$SRV" sh -c "sleep 600 | nc -l -p $PORT1 > /x/got1" >/dev/null
podman exec -d "$CLI" sh -c "sleep 600 | nc -l -p $PORT2 > /x/got2" >/dev/null
wait_listen "$SRV" $PORT1
wait_listen "$CLI" $PORT2
podman exec "$CLI" sh -c "nc $IPS $PORT1 < /x/data1" || fail "send $CLI -> $SRV failed"
podman exec "$SRV" sh -c "nc $IPC $PORT2 < /x/data2" || fail "send $SRV -> $CLI failed"
for i in $(seq 100); do
	[ "$(stat -c %s "$TMPD/x-srv/got1" 2>/dev/null)" = $((3 << 20)) ] &&
		[ "$(stat -c %s "$TMPD/x-cli/got2" 2>/dev/null)" = $((5 << 20)) ] && break
	sleep 0.1
done
# sha256 inside the containers (busybox) and on the host
sent1=$(sha256sum < "$TMPD/x-cli/data1" | cut -d' ' -f1)
sent2=$(sha256sum < "$TMPD/x-srv/data2" | cut -d' ' -f1)
got1=$(podman exec "$SRV" sha256sum /x/got1 | cut -d' ' -f1)
got2=$(podman exec "$CLI" sha256sum /x/got2 | cut -d' ' -f1)
[ "$got1" = "$sent1" ] || fail "$CLI -> $SRV: got $(stat -c %s "$TMPD/x-srv/got1") bytes, sha256 $got1, sent $sent1"
[ "$got2" = "$sent2" ] || fail "$SRV -> $CLI: got $(stat -c %s "$TMPD/x-cli/got2") bytes, sha256 $got2, sent $sent2"
after=$(counter connections_redirected)
[ $((after - before)) -ge 2 ] || fail "the two connections were not redirected: connections_redirected $before -> $after"
log "3 MiB $CLI->$SRV and 5 MiB $SRV->$CLI intact; connections_redirected $before -> $after"

# --- podman rm: CNI DEL removes the endpoints -----------------------------------
IDS=$(podman inspect -f '{{.Id}}' "$SRV" "$CLI")
podman rm -f -t 0 "$SRV" "$CLI" >/dev/null || fail "podman rm failed"
left=$(shunt endpoint list --json | jq -c '[.endpoints[] | select(.owner | startswith("cni:"))]')
[ "$left" = "[]" ] || fail "endpoints left after podman rm: $left"
for id in $IDS; do
	grep -q "DEL $id/eth0: removed 1 endpoint" "$LOGF" || fail "no DEL of $id in the log: $(cat "$LOGF")"
	[ ! -d "$CGPAR/libpod-$id" ] || fail "cgroup of $id still there"
done
# Only the parent is attached, never a container's own cgroup; the test
# detaches the parent itself (shunt-cni leaves it: it is the network's).
attached=$(shunt status --json | jq -c '[.attached[].path]')
[ "$attached" = "[\"$CGPAR\"]" ] || fail "links after podman rm: $attached (want only $CGPAR)"
shunt detach "$CGPAR"
[ "$(shunt status --json | jq '.attached | length')" -eq 0 ] || fail "links left after detach"
[ -z "$(ls "$PIN/links" | grep '^cg')" ] || fail "cgroup link pins left: $(ls "$PIN/links")"
echo "cni podman ok"
