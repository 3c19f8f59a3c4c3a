#!/bin/bash
# shunt explain: for every TCP reason this kernel can produce, and for a
# redirect, the verdict explain gives beforehand is the counter a real,
# verified connection then moves; unattached cgroups on either side; bad
# input, not loaded, an ambiguous SRC: one line, exit 1.
source "$(dirname "$0")/lib.sh"

# one_line_error CMD...: fails unless CMD exits 1 with one line on stderr and nothing on stdout.
one_line_error() {
	local rc=0
	"$@" > "$TMPD/err.out" 2> "$TMPD/err.err" || rc=$?
	[ "$rc" -eq 1 ] || fail "$*: exit $rc, want 1"
	[ ! -s "$TMPD/err.out" ] || fail "$*: printed $(cat "$TMPD/err.out")"
	[ "$(wc -l < "$TMPD/err.err")" -eq 1 ] || fail "$*: not one line: $(cat "$TMPD/err.err")"
	log "$*: $(cat "$TMPD/err.err")"
}

# Before anything is loaded.
one_line_error shunt explain 10.10.0.1 10.10.0.2
grep -q "not loaded" "$TMPD/err.err" || fail "not loaded: $(cat "$TMPD/err.err")"
one_line_error shunt explain 10.10.0.300 10.10.0.2
one_line_error shunt explain 10.10.0.1 10.10.0.2:99999
one_line_error shunt explain 10.10.0.1 [fd10::2
one_line_error shunt explain web 10.10.0.2

pair_setup
VA=$(ip -n "$NSA" -o link show type veth | awk -F'[ :@]+' '{print $2}')
VB=$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2}')
ip -n "$NSB" addr add 10.10.0.3/24 dev "$VB"	# in B, not an endpoint address
ip -n "$NSA" addr add 10.10.0.4/24 dev "$VA"	# in A, not an endpoint address
# A resident process per partition, as a container's init: explain finds a
# netns's cgroups through the processes living in it.
bg "$NSA" "$CGA" /dev/null sleep 600
bg "$NSB" "$CGB" /dev/null sleep 600

one_line_error shunt explain 10.10.0.1 fd10::2
one_line_error shunt explain 10.10.0.1 10.10.0.2 --netns "$T-nosuch"

# expect WANT ARGS...: `shunt explain ARGS` answers WANT ("redirect" or a
# reason), in JSON (kept in $EX) and on the text's last line.
expect() {
	local want=$1 got last
	shift
	EX=$(shunt explain --json "$@") || fail "explain $*: exit $?"
	got=$(jq -r 'if .verdict == "redirect" then "redirect" else .reason end' <<< "$EX")
	[ "$got" = "$want" ] || { echo "$EX" >&2; fail "explain $*: $got, want $want"; }
	shunt explain "$@" > "$TMPD/ex.txt" || fail "explain $* (text): exit $?"
	last=$(tail -n 1 "$TMPD/ex.txt")
	case $want in
	redirect) [ "$last" = "verdict: redirect" ] ;;
	not_counted) [[ $last == "verdict: tcp (not counted: "* ]] ;;
	*) [[ $last == "verdict: tcp ($want: "* ]] ;;
	esac || { cat "$TMPD/ex.txt" >&2; fail "explain $*: last line \"$last\""; }
	log "explain $*: $last"
	[ -z "${SHOW:-}" ] || sed 's/^/#   /' "$TMPD/ex.txt" >&2
}
jf() { jq -r "$1" <<< "$EX"; }

# Every counter of this instance, tcp reasons with their tcp_ prefix.
snap() {
	shunt status --json | jq -c '.counters + (.tcp_reasons | with_entries(.key |= "tcp_" + .))'
}

# traffic SRV_NS SRV_CG CLI_NS CLI_CG ADDR PORT [CLIENT ARGS...]: one stream,
# both ways, every byte checked by shunt-traffic; the counters that moved in $DELTA.
traffic() {
	local sns=$1 scg=$2 cns=$3 ccg=$4 addr=$5 port=$6 before
	shift 6
	before=$(snap)
	server "$sns" "$scg" "$TMPD/s$port.log" -a "$addr" -p "$port" -m stream -b 2M -E -q "${SARGS[@]}"
	in_ns "$cns" "$ccg" "$TRAFFIC" client -a "$addr" -p "$port" -m stream -b 2M -E -q "$@" \
		> "$TMPD/c$port.log" 2>&1 || { cat "$TMPD/c$port.log" >&2; fail "stream on port $port broken"; }
	wait "$SERVER_PID" || { cat "$TMPD/s$port.log" >&2; fail "server on port $port failed"; }
	DELTA=$(jq -cn --argjson a "$(snap)" --argjson b "$before" \
		'$a | with_entries(.value -= ($b[.key] // 0)) | with_entries(select(.value != 0))')
	log "port $port moved: $DELTA"
}
SARGS=()
moved() { jq -r --arg n "$1" '.[$n] // 0' <<< "$DELTA"; }

# the counter explain named must be the one that grew, and nothing redirected
tcp_by() {
	local c
	c=$(jf .counter)
	[ "$(moved "$c")" -ge 1 ] || fail "explain said $c, but it did not grow: $DELTA"
	[ "$(moved directions_redirected)" -eq 0 ] || fail "explain said $c, but a direction was redirected: $DELTA"
}
redirected() {
	[ "$(jf .counter)" = connections_redirected ] || fail "redirect names $(jf .counter)"
	[ "$(moved connections_redirected)" -eq 1 ] || fail "explain said redirect, but: $DELTA"
	# (the second direction may still end up on TCP: after a half-close the
	# connection finishes on TCP, README Limitations; connections count once)
	[ "$(moved directions_redirected)" -ge 1 ] || fail "explain said redirect, but: $DELTA"
}

# 1. redirect, IPv4 and IPv6; v4-mapped is IPv4.
expect redirect 10.10.0.1 10.10.0.2:7401
[ "$(jf .src.endpoint)/$(jf .dst.endpoint)/$(jf .same_netns)/$(jf .reverse_matches)" = ea/eb/false/true ] ||
	fail "redirect facts: $EX"
[ "$(jf .src.cgroup.state)/$(jf .dst.cgroup.state)" = "attached/attached" ] || fail "cgroups: $EX"
[ "$(jf '.src.cgroup.cgroups[0].attached_via')" = "$CGA" ] || fail "src attached via: $EX"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7401 -B 10.10.0.1
redirected
expect redirect fd10::1 [fd10::2]:7402
traffic "$NSB" "$CGB" "$NSA" "$CGA" fd10::2 7402 -B fd10::1
redirected
expect redirect ::ffff:10.10.0.1 ::ffff:10.10.0.2
[ "$(jf .src.address)/$(jf .dst.address)" = 10.10.0.1/10.10.0.2 ] || fail "v4-mapped not IPv4: $EX"

# 2. no_peer_endpoint: an address of B that is not in the list.
expect no_peer_endpoint 10.10.0.1 10.10.0.3:7403
[ "$(tail -n 1 "$TMPD/ex.txt")" = "verdict: tcp (no_peer_endpoint: 10.10.0.3 is not an endpoint of network default)" ] ||
	fail "no_peer_endpoint line: $(tail -n 1 "$TMPD/ex.txt")"
[ "$(jf .passive_counter)" = tcp_no_local_endpoint ] || fail "passive side of no_peer: $EX"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.3 7403 -B 10.10.0.1
tcp_by
[ "$(moved tcp_no_local_endpoint)" -ge 1 ] || fail "the passive side's count was not what explain said: $DELTA"

# 3. no_local_endpoint: the client's source is not an endpoint of its netns.
expect no_local_endpoint 10.10.0.4 10.10.0.2
expect no_local_endpoint 10.10.0.4 10.10.0.2:7404 --netns "$NSA"
# the passive socket finds its own endpoint eb but not 10.10.0.4
[ "$(jf .passive_counter)" = tcp_no_peer_endpoint ] || fail "passive side of no_local: $EX"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7404 -B 10.10.0.4
tcp_by
[ "$(moved tcp_no_peer_endpoint)" -ge 1 ] || fail "the passive side's count was not what explain said: $DELTA"
# ea's address seen from B's netns: spoofed, no_local_endpoint
expect no_local_endpoint 10.10.0.1 10.10.0.2 --netns "$NSB"
jf .detail | grep -q "it is ea in network default" || fail "spoofed: $EX"

# 4. same_netns: both ends in A.
expect same_netns 10.10.0.1 10.10.0.1:7405
traffic "$NSA" "$CGA" "$NSA" "$CGA" 10.10.0.1 7405 -B 10.10.0.1
tcp_by

# 5. The passive side's cgroup not attached: its socket never enters the
# sockhash, the connecting socket finds no peer at its first send.
shunt detach "$CGB"
expect peer_absent 10.10.0.1 10.10.0.2:7406
[ "$(jf .dst.cgroup.state)" = "not attached" ] || fail "dst cgroup: $EX"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7406 -B 10.10.0.1
tcp_by
shunt attach "$CGB"

# 6. The connecting side's cgroup not attached: sock_ops never runs for its
# socket, so it counts nothing.  The passive side, attached, finds no
# connection word at its established callback (the connecting end's runs
# first) and stays on TCP there: tcp_peer_absent, never in the sockhash.
shunt detach "$CGA"
expect not_counted 10.10.0.1 10.10.0.2:7407
[ "$(jf .counter)/$(jf .passive_counter)" = "null/tcp_peer_absent" ] || fail "unattached connecting side: $EX"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7407 -B 10.10.0.1 -D 300
[ "$(moved established)" -eq 1 ] || fail "want only the passive side's established callback: $DELTA"
[ "$(jq -c 'with_entries(select(.key | startswith("tcp_")))' <<< "$DELTA")" = '{"tcp_peer_absent":1}' ] ||
	fail "want exactly the passive side's tcp_peer_absent: $DELTA"
[ "$(moved directions_redirected)" -eq 0 ] || fail "redirected with the connecting side unattached: $DELTA"
[ "$(moved sockets_added)" -eq 0 ] || fail "the passive socket entered the sockhash for nothing: $DELTA"
# one way (the server never sends): the same, at establishment
SARGS=(-1)
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7417 -B 10.10.0.1 -1
SARGS=()
[ "$(jq -c 'with_entries(select(.key | startswith("tcp_")))' <<< "$DELTA")" = '{"tcp_peer_absent":1}' ] ||
	fail "one way from an unattached side: want only the passive side's tcp_peer_absent: $DELTA"
[ "$(moved directions_redirected)" -eq 0 ] || fail "one way: redirected: $DELTA"
shunt attach "$CGA"

# 7. paused: an unload refused while a redirected connection is open.
server "$NSB" "$CGB" "$TMPD/hold.log" -a 10.10.0.2 -p 7408 -m peerclose -b 1M -s -E -q -t 60
HOLD_SRV=$SERVER_PID
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7408 -m peerclose -b 1M -E -q -t 60 \
	> "$TMPD/hold-c.log" 2>&1 &
HOLD_CLI=$!
PIDS+=("$HOLD_CLI")
for i in $(seq 100); do [ "$(status_field sockets)" -ge 2 ] && break; sleep 0.05; done
[ "$(status_field sockets)" -ge 2 ] || fail "the held connection did not join the sockhash"
if shunt unload > "$TMPD/unload.log" 2>&1; then fail "unload went ahead with a redirected socket"; fi
expect paused 10.10.0.1 10.10.0.2:7409
[ "$(jf .paused)" = true ] || fail "paused: $EX"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7409 -B 10.10.0.1
tcp_by
# $HOLD_SRV is the subshell of `in_ns ... &`; the server is its child
kill -9 $(cat /proc/"$HOLD_SRV"/task/*/children) "$HOLD_SRV"
wait "$HOLD_CLI" || { cat "$TMPD/hold-c.log" >&2; fail "held client did not see its peer die TCP-like"; }
shunt load | grep -q resumed || fail "load did not resume"
expect redirect 10.10.0.1 10.10.0.2:7410
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7410 -B 10.10.0.1
redirected

# 8. The same address in two netns and networks: SRC is ambiguous.
NSC=$(mk_ns c)
shunt endpoint add ec 10.10.0.1 --netns "$NSC" --network other
one_line_error shunt explain 10.10.0.1 10.10.0.2
grep -q -- "--netns" "$TMPD/err.err" || fail "ambiguous SRC: does not ask for --netns: $(cat "$TMPD/err.err")"
expect redirect 10.10.0.1 10.10.0.2 --network default
expect redirect 10.10.0.1 10.10.0.2 --netns "$NSA"
expect no_peer_endpoint 10.10.0.1 10.10.0.2 --netns "$NSC"
[ "$(jf .src.network)/$(jf .src.cgroup.state)" = "other/unknown" ] || fail "netns without a process: $EX"
expect no_peer_endpoint 10.10.0.1 10.10.0.2 --network other
# a real connection from A is still redirected
expect redirect 10.10.0.1 10.10.0.2:7411 --netns "$NSA"
traffic "$NSB" "$CGB" "$NSA" "$CGA" 10.10.0.2 7411 -B 10.10.0.1
redirected
echo "explain ok"
