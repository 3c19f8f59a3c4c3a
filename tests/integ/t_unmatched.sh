#!/bin/bash
# Requirement 4: flows shunt must not touch stay plain TCP, each counted with
# its reason, and sockets of a connection on TCP do not linger in the
# sockhash (checked while the connection is still open).
source "$(dirname "$0")/lib.sh"
pair_setup
ip -n "$NSB" addr add 10.10.0.3/24 dev "$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2}')"
NSC=$(mk_ns c)			# an unregistered partition
CGC=$(mk_cgroup c)		# and a cgroup shunt is not attached to

# tcp_check REASON ADDR PORT [SERVER_NS SERVER_CG]: a stream that must stay on TCP.
tcp_check() {
	local reason=$1 addr=$2 port=$3 sns=${4:-$NSB} scg=${5:-$CGB}
	local before redir
	before=$(counter "$reason")
	redir=$(counter directions_redirected)
	server "$sns" "$scg" "$TMPD/s$port.log" -a "$addr" -p "$port" -m stream -b 8M -E -q
	in_ns "$NSA" "$CGA" "$TRAFFIC" client -a "$addr" -p "$port" -m stream -b 8M -E -q || fail "$reason: stream broken"
	wait "$SERVER_PID" || fail "$reason: server failed"
	[ $(( $(counter "$reason") - before )) -ge 1 ] || fail "$reason not counted"
	[ "$(counter directions_redirected)" -eq "$redir" ] || fail "$reason: something was redirected"
	log "ok: $reason"
}

tcp_check tcp_no_peer_endpoint 10.10.0.3 7301		# address outside the list

shunt endpoint del eb					# peer in another network
shunt endpoint add eb 10.10.0.2 fd10::2 --netns "$NSB" --network other
tcp_check tcp_no_peer_endpoint 10.10.0.2 7302
shunt endpoint del eb
shunt endpoint add eb 10.10.0.2 fd10::2 --netns "$NSB"

ip netns exec "$NSA" ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
shunt endpoint add ea-lo 127.0.0.1 --netns "$NSA"	# inside one partition
shunt endpoint add ea-lo2 127.0.0.2 --netns "$NSA" --network default 2>/dev/null || true
before=$(counter tcp_same_netns)
server "$NSA" "$CGA" "$TMPD/lo.log" -a 127.0.0.1 -p 7303 -m stream -b 4M -E -q
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 127.0.0.1 -B 127.0.0.2 -p 7303 -m stream -b 4M -E -q || fail "loopback stream broken"
wait "$SERVER_PID" || fail "loopback server failed"
[ $(( $(counter tcp_same_netns) - before )) -ge 1 ] || fail "same-netns connection not counted"

# Peer not attached: the server runs in a cgroup shunt does not watch.  The
# client joins the sockhash, finds no peer at its first send, pins TCP, and
# leaves the sockhash at the next segment it receives.
before=$(counter tcp_peer_absent)
server "$NSB" "$CGC" "$TMPD/na.log" -a 10.10.0.2 -p 7304 -m peerclose -b 64M -s -E -q -t 30
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7304 -m peerclose -b 64M -E -q -t 30 > "$TMPD/na-client.log" 2>&1 &
CPID=$!
for i in $(seq 100); do
	[ "$(counter tcp_peer_absent)" -gt "$before" ] && break
	sleep 0.05
done
[ "$(counter tcp_peer_absent)" -gt "$before" ] || fail "unattached peer not counted as tcp_peer_absent"
sleep 0.3
n=$(status_field sockets)
[ "$n" -eq 0 ] || fail "a socket of a TCP connection lingers in the sockhash ($n) while it is open"

kill -9 "$SERVER_PID"
wait "$CPID" || { cat "$TMPD/na-client.log" >&2; fail "client did not see the peer die TCP-like"; }

# Before attach: established connections stay on TCP after attach too.
shunt detach "$CGA"
server "$NSB" "$CGB" "$TMPD/pre.log" -a 10.10.0.2 -p 7305 -m stream -b 256M -w 4K -E -q -t 60
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7305 -m stream -b 256M -w 4K -E -q -t 60 > "$TMPD/pre-c.log" 2>&1 &
CPID=$!
sleep 0.3
redir=$(counter directions_redirected)
shunt attach "$CGA"
wait "$CPID" || fail "a connection established before attach broke"
wait "$SERVER_PID" || fail "server of the pre-attach connection failed"
[ "$(counter directions_redirected)" -eq "$redir" ] || fail "a pre-attach connection was redirected"
echo "unmatched ok"
