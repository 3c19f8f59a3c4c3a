#!/bin/bash
# shunt-cni driven the way a runtime drives a chained plugin: Debian's bridge
# + host-local set up two netns, their results go to shunt-cni ADD as
# prevResult, and a stream between the two is redirected and arrives intact.
# Then every command's contract: CHECK, DEL (repeated, after a failed ADD),
# GC with valid-attachments, STATUS, VERSION, the error codes, and ADD
# passing prevResult through when shunt is not loaded or locked.
source "$(dirname "$0")/lib.sh"

CNI=$OUT/shunt-cni
BRIDGE=/usr/lib/cni/bridge
[ -x "$CNI" ] || skip "no $CNI (make)"
[ -x "$BRIDGE" ] && [ -x /usr/lib/cni/host-local ] || skip "no CNI plugins in /usr/lib/cni (apt install containernetworking-plugins)"
command -v flock >/dev/null || skip "no flock(1)"

BR=sb$RANDOM
NET=sn-$T			# the CNI network (conf name); also the shunt network
X=$((RANDOM % 200 + 20))
SUB=10.77.$X.0/24
SUB6=fd77:$X::/64
LOG=$TMPD/cni.log
BRCONF=$TMPD/bridge.json
jq -n --arg n "$NET" --arg br "$BR" --arg sub "$SUB" --arg sub6 "$SUB6" --arg d "$TMPD/ipam" \
	'{cniVersion: "1.0.0", name: $n, type: "bridge", bridge: $br, isGateway: true,
	  ipMasq: false, ipam: {type: "host-local", dataDir: $d,
	  ranges: [[{subnet: $sub}], [{subnet: $sub6}]]}}' > "$BRCONF"
: > "$TMPD/bridge-added"

# plugin BIN CMD ID NS [IFNAME]: run a CNI plugin as a runtime does (only
# the CNI_* environment; the conf on stdin).  NS "" leaves CNI_NETNS unset.
plugin() {
	local bin=$1 cmd=$2 id=$3 ns=$4 ifname=${5:-eth0}
	env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" \
		${ns:+CNI_NETNS=/var/run/netns/$ns} CNI_IFNAME="$ifname" \
		CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1" "$bin"
}

# conf PREVFILE [JQ-FILTER]: shunt-cni's conf, prevResult from a file
# ("" for none), edited by the filter.
conf() {
	local prev=${1:-/dev/null} filter=${2:-.}
	jq -n --arg n "$NET" --arg pin "$PIN" --arg log "$LOG" --slurpfile p "$prev" \
		'{cniVersion: "1.0.0", name: $n, type: "shunt-cni", pinDir: $pin, log: $log}
		 + (if ($p | length) > 0 then {prevResult: $p[0]} else {} end)' | jq "$filter"
}

# cni CMD ID NS CONF-JSON [IFNAME]: shunt-cni; stdout in $OUTF, exit status in $RC.
OUTF=$TMPD/out.json
cni() {
	local cmd=$1 id=$2 ns=$3 c=$4 ifname=${5:-eth0}
	RC=0
	plugin "$CNI" "$cmd" "$id" "$ns" "$ifname" <<< "$c" > "$OUTF" 2>> "$TMPD/cni.stderr" || RC=$?
}

# want_error CODE WHAT: the last call failed with exactly a CNI error JSON.
want_error() {
	[ "$RC" -eq 1 ] || { cat "$OUTF" >&2; fail "$2: exit $RC, want 1"; }
	jq -e --argjson c "$1" 'keys - ["details"] == ["cniVersion", "code", "msg"] and .code == $c
		and (.msg | type == "string" and length > 0 and (contains("\n") | not))
		and (.cniVersion | type == "string")' "$OUTF" >/dev/null ||
		{ cat "$OUTF" >&2; fail "$2: want CNI error code $1"; }
	log "$2: code $1: $(jq -r .msg "$OUTF")"
}

want_ok() {
	[ "$RC" -eq 0 ] || { cat "$OUTF" >&2; fail "$1: exit $RC"; }
}

# eps_of OWNER: the endpoints (JSON array) of an owner.
eps_of() {
	shunt endpoint list --json | jq -c --arg o "$1" '[.endpoints[] | select(.owner == $o)]'
}

test_cleanup() {
	local id ns
	while read -r id ns; do
		[ -n "$id" ] && plugin "$BRIDGE" DEL "$id" "$ns" < "$BRCONF" >/dev/null 2>&1
	done < "$TMPD/bridge-added"
	ip link del "$BR" 2>/dev/null
	[ -n "${CGSUB:-}" ] && rmdir "$CGSUB" 2>/dev/null
	true
}

# --- two "containers": netns wired by Debian's bridge plugin --------------
NSA=$(mk_ns a)
NSB=$(mk_ns b)
IDA=ca-$T
IDB=cb-$T
for s in A B; do
	eval "ns=\$NS$s id=\$ID$s"
	echo "$id $ns" >> "$TMPD/bridge-added"
	plugin "$BRIDGE" ADD "$id" "$ns" < "$BRCONF" > "$TMPD/res-$s.json" ||
		{ cat "$TMPD/res-$s.json" >&2; fail "bridge ADD for $s failed"; }
	ip=$(jq -r '.ips[0].address | split("/")[0]' "$TMPD/res-$s.json")
	ip6=$(jq -r '.ips[1].address | split("/")[0]' "$TMPD/res-$s.json")
	[[ $ip == 10.77.$X.* && $ip6 == fd77:$X::* ]] ||
		fail "bridge gave $s no address in $SUB and $SUB6: $(cat "$TMPD/res-$s.json")"
	eval "IP$s=$ip IP6$s=$ip6"
done
log "bridge $BR: $IDA=$IPA,$IP6A in $NSA, $IDB=$IPB,$IP6B in $NSB"

CGA=$(mk_cgroup a)
CGB=$(mk_cgroup b)
setup_shunt "$CGA" "$CGB"
# Somebody else's entries, which nothing below may touch: a static one, and
# another CNI network's (a made-up attachment in a third netns, whose
# prevResult also tells which ips are this attachment's: .2 has no
# interface, .3 is on a host-side interface, .4 on one in the sandbox).
NSC=$(mk_ns c)
shunt endpoint add keep-static 10.99.$X.1 --netns "$NSC" --network other
jq -n --arg x "$X" --arg ns "/var/run/netns/$NSC" '{cniVersion: "1.0.0",
	interfaces: [{name: "veth-host"}, {name: "net1", sandbox: $ns}],
	ips: [{address: "10.99.\($x).2/24"}, {address: "10.99.\($x).3/24", interface: 0},
	      {address: "10.99.\($x).4/24", interface: 1}, {address: "fe80::4/64", interface: 1}]}' > "$TMPD/res-C.json"
cni ADD cc-$T "$NSC" "$(conf "$TMPD/res-C.json" '.name = "other-'$T'" | .network = "other"')"
want_ok "ADD of another network's attachment"
eps_of "cni:other-$T/cc-$T/eth0" | jq -e --arg x "$X" '.[0].addresses == ["10.99.\($x).2", "10.99.\($x).4"]' >/dev/null ||
	fail "ips chosen from prevResult: $(eps_of "cni:other-$T/cc-$T/eth0")"
OTHERS=$(shunt endpoint list --json | jq -c '[.endpoints[] | select(.network == "other")] | sort_by(.name)')
[ "$(jq length <<< "$OTHERS")" -eq 2 ] || fail "want the 2 entries of network other: $OTHERS"

# --- ADD: prevResult through unchanged, one endpoint per attachment --------
for s in A B; do
	eval "ns=\$NS$s id=\$ID$s ip=\$IP$s ip6=\$IP6$s"
	cni ADD "$id" "$ns" "$(conf "$TMPD/res-$s.json")"
	want_ok "ADD $s"
	[ "$(jq -S . "$OUTF")" = "$(jq -S . "$TMPD/res-$s.json")" ] ||
		fail "ADD $s changed prevResult: $(cat "$OUTF")"
	got=$(eps_of "cni:$NET/$id/eth0")
	jq -e --arg name "$id-eth0" --arg net "$NET" --arg ns "/var/run/netns/$ns" --arg ip "$ip" --arg ip6 "$ip6" \
		'length == 1 and .[0].name == $name and .[0].network == $net and
		 .[0].netns == $ns and .[0].addresses == [$ip, $ip6]' <<< "$got" >/dev/null ||
		fail "ADD $s registered $got"
done
# ADD again (a runtime retrying) changes nothing
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json")"
want_ok "ADD A again"
[ "$(eps_of "cni:$NET/$IDA/eth0" | jq length)" -eq 1 ] || fail "a repeated ADD duplicated the entry"
grep -q "ADD $IDA/eth0: endpoint $IDA-eth0 ($IPA $IP6A) in network $NET" "$LOG" || fail "ADD logged no line: $(cat "$LOG")"

# --- the redirect, proven with data ------------------------------------------
before=$(counter connections_redirected)
server "$NSB" "$CGB" "$TMPD/s.log" -a "$IPB" -p 7300 -m stream -b 16M -S 31 -E -q
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a "$IPB" -p 7300 -m stream -b 16M -S 31 -E -q > "$TMPD/c.log" 2>&1 ||
	{ cat "$TMPD/c.log" "$TMPD/s.log" >&2; fail "stream A->B broken"; }
wait "$SERVER_PID" || { cat "$TMPD/s.log" >&2; fail "server saw a broken stream"; }
after=$(counter connections_redirected)
[ $((after - before)) -ge 1 ] || fail "A->B over the bridge was not redirected ($before -> $after)"
server "$NSA" "$CGA" "$TMPD/s6.log" -a "$IP6A" -p 7301 -m stream -b 4M -S 32 -E -q
in_ns "$NSB" "$CGB" "$TRAFFIC" client -a "$IP6A" -p 7301 -m stream -b 4M -S 32 -E -q > "$TMPD/c6.log" 2>&1 ||
	{ cat "$TMPD/c6.log" "$TMPD/s6.log" >&2; fail "stream B->A over IPv6 broken"; }
wait "$SERVER_PID" || { cat "$TMPD/s6.log" >&2; fail "IPv6 server saw a broken stream"; }
[ $(($(counter connections_redirected) - after)) -ge 1 ] || fail "B->A over IPv6 was not redirected"
log "16 MiB A->B (IPv4) and 4 MiB B->A (IPv6) intact, connections_redirected $before -> $(counter connections_redirected)"

# --- CHECK ---------------------------------------------------------------------
cni CHECK "$IDA" "$NSA" "$(conf "$TMPD/res-A.json")"
want_ok "CHECK A"
[ ! -s "$OUTF" ] || fail "CHECK printed $(cat "$OUTF")"
jq '.ips[0].address = "10.77.'$X'.250/24"' "$TMPD/res-A.json" > "$TMPD/res-A-moved.json"
cni CHECK "$IDA" "$NSA" "$(conf "$TMPD/res-A-moved.json")"
want_error 101 "CHECK with an address ADD did not register"
cni CHECK "$IDA" "$NSA" "$(conf "")"
want_error 7 "CHECK without prevResult"

# --- GC (1.1.0): only A is still valid ----------------------------------------
cni GC "" "" "$(conf "" '.cniVersion = "1.1.0" | .["cni.dev/valid-attachments"] = [{containerID: "'$IDA'", ifname: "eth0"}, {containerID: "gone", ifname: "eth0"}]')"
want_ok "GC"
[ "$(eps_of "cni:$NET/$IDA/eth0" | jq length)" -eq 1 ] || fail "GC removed a valid attachment"
[ "$(eps_of "cni:$NET/$IDB/eth0" | jq length)" -eq 0 ] || fail "GC left the stale attachment B"
[ "$(shunt endpoint list --json | jq -c '[.endpoints[] | select(.network == "other")] | sort_by(.name)')" = "$OTHERS" ] ||
	fail "GC touched other owners' entries"
cni GC "" "" "$(conf "" '.cniVersion = "1.1.0"')"
want_error 7 "GC without valid-attachments"
[ "$(eps_of "cni:$NET/$IDA/eth0" | jq length)" -eq 1 ] || fail "a refused GC removed entries"

# --- DEL -----------------------------------------------------------------------
cni DEL "$IDA" "$NSA" "$(conf "$TMPD/res-A.json")"
want_ok "DEL A"
[ "$(eps_of "cni:$NET/$IDA/eth0" | jq length)" -eq 0 ] || fail "DEL left A's entry"
cni CHECK "$IDA" "$NSA" "$(conf "$TMPD/res-A.json")"
want_error 100 "CHECK after DEL"
cni DEL "$IDA" "$NSA" "$(conf "")"
want_ok "DEL A again, without prevResult"
cni DEL "$IDB" "" "$(conf "$TMPD/res-B.json")"
want_ok "DEL B (GC'd already), without CNI_NETNS"
[ "$(shunt endpoint list --json | jq -c '[.endpoints[] | select(.network == "other")] | sort_by(.name)')" = "$OTHERS" ] ||
	fail "DEL touched other owners' entries"

# --- a failed ADD registers nothing, and its DEL succeeds ----------------------
n0=$(shunt endpoint list --json | jq '.endpoints | length')
cni ADD cf-$T "$NSA" "$(conf "")"
want_error 7 "ADD without prevResult"
jq -e '.msg | test("chained plugin")' "$OUTF" >/dev/null || fail "ADD without prevResult: $(cat "$OUTF")"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" -eq "$n0" ] || fail "a failed ADD registered something"
cni DEL cf-$T "$NSA" "$(conf "")"
want_ok "DEL after a failed ADD"
grep -q "ADD cf-$T/eth0: error 7: shunt-cni is a chained plugin" "$LOG" || fail "the error is not in the log"

# --- error codes ---------------------------------------------------------------
cni FROB "$IDA" "$NSA" "$(conf "$TMPD/res-A.json")"
want_error 4 "unknown CNI_COMMAND"
RC=0; env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="$IDA" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
	"$CNI" <<< "$(conf "$TMPD/res-A.json")" > "$OUTF" 2>/dev/null || RC=$?
want_error 4 "ADD without CNI_NETNS"
cni ADD "$(printf 'x%.0s' $(seq 95))" "$NSA" "$(conf "$TMPD/res-A.json")"
want_error 4 "a CNI_CONTAINERID too long for an endpoint name"
cni ADD "$IDA" "$NSA" '{"cniVersion": "1.0.0", "name": "x", "prevResult": {'
want_error 6 "malformed JSON"
cni ADD "$IDA" "$NSA" '[1, 2]'
want_error 6 "JSON that is not an object"
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.cniVersion = "0.3.1"')"
want_error 1 "cniVersion 0.3.1"
jq -e '.cniVersion == "0.3.1"' "$OUTF" >/dev/null || fail "the error does not carry the conf's version"
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.lockTimeout = "soon"')"
want_error 7 "lockTimeout not a number"
jq '.ips[0].address = "10.77.'$X'.300/24"' "$TMPD/res-A.json" > "$TMPD/res-bad.json"
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-bad.json")"
want_error 7 "a bad address in prevResult"
[ "$(eps_of "cni:$NET/$IDA/eth0" | jq length)" -eq 0 ] || fail "an ADD that failed registered A"
cni VERSION "" "" ""
want_ok VERSION
[ "$(jq -cS . "$OUTF")" = '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}' ] ||
	fail "VERSION printed $(cat "$OUTF")"

# --- STATUS (1.1.0) ----------------------------------------------------------
cni STATUS "" "" "$(conf "" '.cniVersion = "1.1.0"')"
want_ok "STATUS loaded"
[ ! -s "$OUTF" ] || fail "STATUS printed $(cat "$OUTF")"
mkdir "$TMPD/nopin"
cni STATUS "" "" "$(conf "" '.cniVersion = "1.1.0" | .pinDir = "'$TMPD/nopin'"')"
want_error 50 "STATUS not loaded"

# --- soft failures: ADD passes prevResult through, registers nothing ----------
lines=$(wc -l < "$LOG")
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.pinDir = "'$TMPD/nopin'"')"
want_ok "ADD with shunt not loaded"
[ "$(jq -S . "$OUTF")" = "$(jq -S . "$TMPD/res-A.json")" ] || fail "not loaded: prevResult changed: $(cat "$OUTF")"
tail -n +$((lines + 1)) "$LOG" | grep -q "ADD $IDA/eth0: not loaded .*container goes on" ||
	fail "not loaded: no log line: $(tail -3 "$LOG")"
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.pinDir = "'$TMPD/nopin'" | .strict = true')"
want_error 102 "strict ADD with shunt not loaded"
cni DEL "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.pinDir = "'$TMPD/nopin'"')"
want_ok "DEL with shunt not loaded"
jq '.ips = []' "$TMPD/res-A.json" > "$TMPD/res-noip.json"
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-noip.json")"
want_ok "ADD with no address"
[ "$(eps_of "cni:$NET/$IDA/eth0" | jq length)" -eq 0 ] || fail "ADD with no address registered something"
cni CHECK "$IDA" "$NSA" "$(conf "$TMPD/res-noip.json")"
want_ok "CHECK of an attachment with no address"

# The instance locked by another writer: ADD goes on, DEL says try again.
flock "$PIN" sleep 2 &
PIDS+=($!)
sleep 0.3
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.lockTimeout = 200')"
want_ok "ADD while locked"
[ "$(jq -S . "$OUTF")" = "$(jq -S . "$TMPD/res-A.json")" ] || fail "locked: prevResult changed"
tail -1 "$LOG" | grep -q 'locked by another shunt writer' || fail "locked: no log line: $(tail -1 "$LOG")"
cni DEL "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.lockTimeout = 200')"
want_error 11 "DEL while locked"
wait "${PIDS[-1]}"

# --- "cgroup": created, attached, covered ------------------------------------
CGPAR=$CGROOT/shunt-$T-par
echo "$CGPAR" >> "$TMPD/cgroups"
cni ADD "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.cgroup = "'$CGPAR'"')"
want_ok "ADD with a cgroup to create"
[ -d "$CGPAR" ] || fail "ADD did not create $CGPAR"
grep -q "created cgroup $CGPAR" "$LOG" || fail "the log does not say it created $CGPAR"
id=$(stat -c %i "$CGPAR")
shunt status --json | jq -e --argjson id "$id" '[.attached[] | select(.cgroup_id == $id)] | length == 1' >/dev/null ||
	fail "$CGPAR not attached: $(shunt status --json | jq -c .attached)"
cni CHECK "$IDA" "$NSA" "$(conf "$TMPD/res-A.json" '.cgroup = "'$CGPAR'"')"
want_ok "CHECK with cgroup"
CGSUB=$CGA/sub
cni ADD "$IDB" "$NSB" "$(conf "$TMPD/res-B.json" '.cgroup = "'$CGSUB'"')"
want_ok "ADD with a cgroup below an attached one"
tail -1 "$LOG" | grep -q "covered by an attached parent" || fail "no 'covered' in $(tail -1 "$LOG")"
cni ADD "$IDB" "$NSB" "$(conf "$TMPD/res-B.json" '.cgroup = "/nonexistent/x"')"
want_error 106 "ADD with a cgroup whose parent is missing"
cni ADD "$IDB" "$NSB" "$(conf "$TMPD/res-B.json" '.cgroup = "relative/x"')"
want_error 7 "ADD with a relative cgroup"
for id in "$IDA" "$IDB"; do
	cni DEL "$id" "" "$(conf "")"
	want_ok "DEL $id"
done
[ "$(shunt endpoint list --json | jq "[.endpoints[] | select(.owner | startswith(\"cni:$NET/\"))] | length")" -eq 0 ] ||
	fail "entries of $NET left after DEL"

# --- the bridge's DEL too, as a runtime would end ----------------------------
while read -r id ns; do
	plugin "$BRIDGE" DEL "$id" "$ns" < "$BRCONF" >/dev/null || fail "bridge DEL of $id failed"
done < "$TMPD/bridge-added"
: > "$TMPD/bridge-added"
[ -z "$(ls "$TMPD/ipam/$NET" 2>/dev/null | grep '^10\.')" ] || fail "host-local leases left: $(ls "$TMPD/ipam/$NET")"
if grep -v -e '^[0-9TZ:-]* shunt-cni: ' "$LOG" >&2; then fail "log lines without the stamp and prefix"; fi
echo "cni direct ok"
