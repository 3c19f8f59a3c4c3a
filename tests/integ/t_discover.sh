#!/bin/bash
# shunt discover: the host's network namespaces as endpoints, checked against
# what `ip` says of each.  Two bridges with the same address plan (each
# bridge its own network, the plans never mixed), a veth pair without a
# bridge (one network), a process in an unnamed netns (named by its inode,
# the same on every run), one named by a runc state, a netns without an
# address (listed, not in the file), one with 10 addresses (8 kept).  Then
# --network, `endpoint load` of the output, --apply beside a static entry
# (idempotent, ids kept, the static entry untouched, a conflict skipped),
# --apply after a netns went away, and namespaces churning while it reads.
# Only this test's namespaces are asserted on: the host may have others.
source "$(dirname "$0")/lib.sh"

BR1=b1-$T BR2=b2-$T
RUNC_STATE=/run/runc/shunt-$T-ctr
CHURN_PID=
test_cleanup() {
	[ -n "$CHURN_PID" ] && kill "$CHURN_PID" 2>/dev/null && wait "$CHURN_PID" 2>/dev/null
	for i in $(seq 0 40); do ip netns del "$T-z$i" 2>/dev/null; done
	ip link del "$BR1" 2>/dev/null
	ip link del "$BR2" 2>/dev/null
	rm -rf "$RUNC_STATE"
}

command -v jq >/dev/null || skip "jq not installed"
command -v unshare >/dev/null && command -v nsenter >/dev/null || skip "util-linux unshare/nsenter missing"

# on_bridge NS BR ADDR4 ADDR6: a veth from the host's bridge BR to eth0 in NS.
on_bridge() {
	local ns=$1 br=$2 h=h$RANDOM$RANDOM
	h=${h:0:15}
	ip link add "$h" type veth peer name eth0 netns "$ns"
	ip link set "$h" master "$br" up
	ip -n "$ns" addr add "$3/24" dev eth0
	ip -n "$ns" addr add "$4/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
}

# unnamed_ns: a process (sleep) in a netns of its own, without a name; its
# pid in UNNAMED (not a $(...) subshell: PIDS must keep it for the cleanup).
unnamed_ns() {
	unshare -n sleep 600 > /dev/null 2>&1 &
	UNNAMED=$!
	PIDS+=($UNNAMED)
	for i in $(seq 100); do
		[ "$(stat -L -c %i /proc/$UNNAMED/ns/net 2>/dev/null)" != "$(stat -L -c %i /proc/self/ns/net)" ] && break
		sleep 0.02
	done
}

# to_pid PID NS ADDR_PID ADDR_NS: a veth pair between PID's netns and NS.
to_pid() {
	local v=u$RANDOM
	ip link add "$v" netns "$1" type veth peer name "${v}p" netns "$2"
	nsenter -t "$1" -n ip addr add "$3/24" dev "$v"
	nsenter -t "$1" -n ip link set "$v" up
	ip -n "$2" addr add "$4/24" dev "${v}p"
	ip -n "$2" link set "${v}p" up
}

ip link add "$BR1" type bridge && ip link set "$BR1" up || skip "no bridge support"
ip link add "$BR2" type bridge && ip link set "$BR2" up
A1=$(mk_ns a1); A2=$(mk_ns a2); C1=$(mk_ns c1); C2=$(mk_ns c2)
on_bridge "$A1" "$BR1" 10.213.1.2 fd13:1::2
on_bridge "$A2" "$BR1" 10.213.1.3 fd13:1::3
on_bridge "$C1" "$BR2" 10.213.1.2 fd13:1::2	# the same plan on the other bridge
on_bridge "$C2" "$BR2" 10.213.1.3 fd13:1::3
P1=$(mk_ns p1); P2=$(mk_ns p2)
link_ns "$P1" 10.213.2.1 "$P2" 10.213.2.2 fd13:2::1 fd13:2::2
Q=$(mk_ns q)
unnamed_ns; U=$UNNAMED
to_pid "$U" "$Q" 10.213.3.1 10.213.3.2
U_INO=$(stat -L -c %i /proc/$U/ns/net)
# A container as runc records it: its init's pid and start time.
R=$(mk_ns r)
unnamed_ns; V=$UNNAMED
to_pid "$V" "$R" 10.213.4.1 10.213.4.2
mkdir -p "$RUNC_STATE"
jq -n --argjson pid "$V" --argjson start "$(awk '{ sub(/.*\) /, ""); print $20 }' /proc/$V/stat)" \
	--arg id "shunt-$T-ctr" '{id: $id, init_process_pid: $pid, init_process_start: $start, config: {}}' \
	> "$RUNC_STATE/state.json"
E=$(mk_ns e)	# lo only: no address
M=$(mk_ns m)	# 10 addresses on a veth pair inside it (leads nowhere)
ip -n "$M" link add x0 type veth peer name x1
ip -n "$M" link set x0 up
for i in $(seq 1 10); do ip -n "$M" addr add 10.213.9.$i/32 dev x0; done
MINE="$A1 $A2 $C1 $C2 $P1 $P2 $Q $R $M"

ep() { jq -c --arg ns "$2" '.endpoints[] | select(.netns == $ns)' "$1"; }
field() { jq -r --arg ns "$2" ".endpoints[] | select(.netns == \$ns) | .$3" "$1"; }
# ip_addrs NS | PID: the global addresses of every interface but lo, sorted.
ip_addrs() {
	if [ -e "/var/run/netns/$1" ]; then ip -n "$1" -j addr; else nsenter -t "$1" -n ip -j addr; fi |
		jq -r '.[] | select(.ifname != "lo") | .addr_info[] | select(.scope == "global") | .local' | sort
}
ip_mac() { # NS|PID IFNAME
	if [ -e "/var/run/netns/$1" ]; then ip -n "$1" -j link show dev "$2"; else nsenter -t "$1" -n ip -j link show dev "$2"; fi |
		jq -r '.[0].address'
}
check_ep() { # FILE NETNS-FIELD NAME ADDR_SOURCE IFNAME
	local f=$1 ns=$2 got want
	[ -n "$(ep "$f" "$ns")" ] || fail "netns $ns not discovered"
	[ "$(field "$f" "$ns" name)" = "$3" ] || fail "netns $ns: name $(field "$f" "$ns" name), want $3"
	got=$(field "$f" "$ns" 'addresses[]' | sort)
	want=$(ip_addrs "$4")
	[ "$got" = "$want" ] || fail "netns $ns: addresses $(echo $got), ip says $(echo $want)"
	[ "$(field "$f" "$ns" mac)" = "$(ip_mac "$4" "$5")" ] || fail "netns $ns: mac $(field "$f" "$ns" mac), ip says $(ip_mac "$4" "$5")"
}

# --- discover without a loaded instance -------------------------------------
[ ! -e "$PIN" ] || fail "pin dir exists before load"
shunt discover --json > "$TMPD/d1.json" 2> "$TMPD/d1.err" || { cat "$TMPD/d1.err" >&2; fail "discover --json failed"; }
shunt discover --json > "$TMPD/d2.json" 2> /dev/null || fail "second discover failed"
shunt discover > "$TMPD/table.txt" 2> /dev/null || fail "discover (table) failed"
cat "$TMPD/d1.err" >&2
D=$TMPD/d1.json
for ns in $A1 $A2 $C1 $C2 $P1 $P2 $Q $R; do
	dev=eth0
	case $ns in $P1|$P2) dev=$(ip -n "$ns" -o link show type veth | awk -F'[ :@]+' '{print $2}') ;; $Q|$R) dev=$(ip -n "$ns" -o link show type veth | awk -F'[ :@]+' '{print $2}') ;; esac
	check_ep "$D" "$ns" "$ns" "$ns" "$dev"
done
check_ep "$D" "/proc/$U/ns/net" "netns-$U_INO" "$U" "$(nsenter -t "$U" -n ip -o link show type veth | awk -F'[ :@]+' '{print $2}')"
check_ep "$D" "/proc/$V/ns/net" "shunt-$T-ctr" "$V" "$(nsenter -t "$V" -n ip -o link show type veth | awk -F'[ :@]+' '{print $2}')"
log "addresses and MACs as ip shows them, names: netns-$U_INO, shunt-$T-ctr (runc state)"

# Networks: a bridge each, never the two plans in one; the pairs one each.
net() { field "$D" "$1" network; }
[ "$(net "$A1")" = "$BR1" ] && [ "$(net "$A2")" = "$BR1" ] || fail "bridge 1's netns not in network $BR1: $(net "$A1") $(net "$A2")"
[ "$(net "$C1")" = "$BR2" ] && [ "$(net "$C2")" = "$BR2" ] || fail "bridge 2's netns not in network $BR2: $(net "$C1") $(net "$C2")"
[ "$(net "$P1")" = "$(net "$P2")" ] || fail "veth pair split: $(net "$P1") / $(net "$P2")"
[ "$(net "$Q")" = "$(net "/proc/$U/ns/net")" ] || fail "veth pair to the unnamed netns split: $(net "$Q") / $(net "/proc/$U/ns/net")"
[ "$(net "$R")" = "$(net "/proc/$V/ns/net")" ] || fail "veth pair to the container split"
nets=$(for ns in $A1 $C1 $P1 $Q $R $M; do net "$ns"; done | sort -u | wc -l)
[ "$nets" -eq 6 ] || fail "want 6 distinct networks, got $nets"
dup=$(jq -r '[.endpoints[] | .network as $n | .addresses[] | "\($n) \(.)"] | group_by(.) | map(select(length > 1)) | length' "$D")
[ "$dup" -eq 0 ] || fail "an address twice in one network"
log "networks: $BR1, $BR2, $(net "$P1"), $(net "$Q"), $(net "$R"), $(net "$M")"

# No address: in the table, not in the file, said on stderr.
[ -z "$(ep "$D" "$E")" ] || fail "netns without address in the endpoint file"
grep -q "netns $E ($E) has no address" "$TMPD/d1.err" || fail "no stderr note for the netns without address"
grep -qE "^$E +.*\(none\)$" "$TMPD/table.txt" || { cat "$TMPD/table.txt" >&2; fail "netns without address not in the table"; }
# The table shows the same as the file.
grep -qE "^$A1 +$BR1 +$A1 +$(field "$D" "$A1" mac) +eth0 +" "$TMPD/table.txt" || fail "table row of $A1 wrong"
# More than 8 addresses: the first 8, said on stderr.
[ "$(field "$D" "$M" 'addresses | length')" -eq 8 ] || fail "want 8 addresses for $M"
field "$D" "$M" 'addresses[]' | grep -qvx '10\.213\.9\.\([1-9]\|10\)' && fail "$M: an address it does not have"
grep -q "netns $M: endpoint \"$M\" has 10 addresses, at most 8" "$TMPD/d1.err" || fail "no stderr note for the dropped addresses"
[ "$(field "$D" "$M" network)" = "$M" ] || fail "$M leads nowhere: want its own network, got $(field "$D" "$M" network)"

# Stable: a second run says the same of this test's namespaces.
for ns in $MINE "/proc/$U/ns/net" "/proc/$V/ns/net"; do
	[ "$(ep "$TMPD/d1.json" "$ns")" = "$(ep "$TMPD/d2.json" "$ns")" ] || fail "netns $ns differs between runs"
done

# --- --network --------------------------------------------------------------
shunt discover --json --network "n-$T" > "$TMPD/n.json" 2> "$TMPD/n.err" || fail "discover --network failed"
for ns in $A1 $A2 $P1 $P2 $Q $R $M "/proc/$U/ns/net"; do
	[ "$(field "$TMPD/n.json" "$ns" network)" = "n-$T" ] || fail "--network: $ns in $(field "$TMPD/n.json" "$ns" network)"
done
# In one network the second plan cannot join: left out, said on stderr.
for ns in $C1 $C2; do
	[ -z "$(ep "$TMPD/n.json" "$ns")" ] || fail "--network: $ns shares addresses with ${ns/c/a} in one network"
	grep -q "netns $ns: endpoint \"$ns\" left out: address .* already belongs to endpoint \"${ns/c/a}\"" "$TMPD/n.err" ||
		fail "--network: no stderr note for $ns"
done
rc=0; shunt discover --network 'a b' > /dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "--network with a space: exit $rc, want 2 (usage)"

# --- endpoint load of the output -------------------------------------------
shunt load > /dev/null
sel() { jq --arg t "$T-" --arg u "netns-$U_INO" --arg v "shunt-$T-ctr" \
	'{endpoints: [.endpoints[] | select((.name | startswith($t)) or .name == $u or .name == $v)]}' "$1"; }
sel "$D" > "$TMPD/mine.json"
[ "$(jq '.endpoints | length' "$TMPD/mine.json")" -eq 11 ] || fail "want 11 endpoints of this test, got $(jq '.endpoints | length' "$TMPD/mine.json")"
shunt endpoint load "$TMPD/mine.json" || fail "endpoint load of the discover output failed"
shunt endpoint list --json > "$TMPD/l.json"
norm() { jq -c '[.endpoints[] | {name, network, netns, mac, owner, addresses: (.addresses | sort)}] | sort_by(.name)' "$1"; }
[ "$(norm "$TMPD/l.json")" = "$(norm "$TMPD/mine.json")" ] || fail "the table after endpoint load differs from the file"
echo '{"endpoints": []}' > "$TMPD/empty.json"
shunt endpoint load "$TMPD/empty.json"

# --- --apply ----------------------------------------------------------------
S=$(mk_ns s)
on_bridge "$S" "$BR1" 10.213.1.9 fd13:1::9
shunt endpoint add "st-$T" 10.213.1.9 --netns "$S" --network "$BR1"
static() { shunt endpoint list --json | jq -c --arg n "st-$T" '.endpoints[] | select(.name == $n)'; }
ST=$(static)
[ "$(jq -r .owner <<< "$ST")" = static ] || fail "static endpoint not static"
shunt discover --apply > /dev/null 2> "$TMPD/a1.err" || { cat "$TMPD/a1.err" >&2; fail "discover --apply failed"; }
grep -q "endpoint \"$S\" (netns $S) skipped: .* taken by endpoint \"st-$T\" (owner static" "$TMPD/a1.err" ||
	{ cat "$TMPD/a1.err" >&2; fail "no warning for the conflicting endpoint"; }
grep -q "registered as owner discover" "$TMPD/a1.err" || fail "no summary line"
[ "$(static)" = "$ST" ] || fail "the static endpoint changed: $ST -> $(static)"
mine_ids() { shunt endpoint list --json | jq -c --arg t "$T-" --arg u "netns-$U_INO" --arg v "shunt-$T-ctr" \
	'[.endpoints[] | select(.owner == "discover") | select((.name | startswith($t)) or .name == $u or .name == $v) | {name, id, network, addresses}] | sort_by(.name)'; }
IDS1=$(mine_ids)
[ "$(jq length <<< "$IDS1")" -eq 11 ] || fail "want 11 endpoints of owner discover, got $(jq -r 'map(.name) | join(" ")' <<< "$IDS1")"
jq -e --arg s "$S" 'map(.name) | index($s) == null' <<< "$IDS1" > /dev/null || fail "the conflicting endpoint was registered"
[ "$(shunt endpoint list --json | jq '[.endpoints[] | select(.owner != "discover" and .owner != "static")] | length')" -eq 0 ] || fail "an entry of another owner"
# Idempotent: the same entries with the same ids.
shunt discover --apply > /dev/null 2>&1 || fail "second --apply failed"
[ "$(mine_ids)" = "$IDS1" ] || fail "second --apply changed entries or ids: $IDS1 -> $(mine_ids)"
[ "$(static)" = "$ST" ] || fail "the static endpoint changed on the second --apply"
log "--apply: $(jq length <<< "$IDS1") endpoints, ids kept on a second run, static entry untouched"

# Namespaces gone: P2 deleted (its veth and so P1's end go too), U's only
# process killed (so Q's end goes).  Their entries leave on the next
# --apply; the rest keep their ids.
ip netns del "$P2"
kill -9 "$U"
for i in $(seq 100); do
	[ -z "$(ip -n "$P1" -o link show type veth)" ] && [ -z "$(ip -n "$Q" -o link show type veth)" ] && break
	sleep 0.05
done
shunt discover --apply > /dev/null 2>&1 || fail "--apply after namespaces went failed"
IDS2=$(mine_ids)
want=$(jq -c --arg p1 "$P1" --arg p2 "$P2" --arg q "$Q" --arg u "netns-$U_INO" \
	'map(select(.name != $p1 and .name != $p2 and .name != $q and .name != $u)) | map({name, id})' <<< "$IDS1")
[ "$(jq -c 'map({name, id})' <<< "$IDS2")" = "$want" ] ||
	fail "after namespaces went: $(jq -c 'map({name, id})' <<< "$IDS2"), want $want"
[ "$(static)" = "$ST" ] || fail "the static endpoint changed"

# Without an instance --apply fails in one line; discover alone works.
out=$("$SHUNT_BIN" --pin-dir "/sys/fs/bpf/shunt-$T-none" discover --apply 2>&1 >/dev/null) && fail "--apply without an instance succeeded"
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "--apply without an instance: not one line: $out"

# --- namespaces and processes coming and going while it reads -------------
( set +e; i=0; while :; do
	ip netns add "$T-z$((i % 40))" 2>/dev/null; unshare -n true; ip netns del "$T-z$(((i + 20) % 40))" 2>/dev/null
	i=$((i + 1)); done ) > /dev/null 2>&1 &
CHURN_PID=$!
for i in $(seq 20); do
	shunt discover --json > "$TMPD/c.json" 2> "$TMPD/c.err" || { cat "$TMPD/c.err" >&2; fail "discover failed during churn"; }
	jq -e .endpoints "$TMPD/c.json" > /dev/null || fail "bad JSON during churn"
	if grep -v -e 'has no address: left out' -e 'left out:' -e 'addresses, at most' "$TMPD/c.err" >&2; then
		fail "discover complained during churn"
	fi
	[ -n "$(ep "$TMPD/c.json" "$A1")" ] || fail "lost $A1 during churn"
done
kill "$CHURN_PID" || fail "the churn loop died early"
wait "$CHURN_PID" 2>/dev/null || true; CHURN_PID=
echo "discover ok"
