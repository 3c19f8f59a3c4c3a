#!/bin/bash
# The BPF object is usable with bpftool alone, exactly as README shows:
# prog loadall, prog attach (msg_verdict), cgroup attach, map update with
# hand-built keys.  Then a stream is redirected, proven by the counters.
source "$(dirname "$0")/lib.sh"
OBJ=$OUT/shunt.bpf.o
# bpftool loads every program of the object, the read counter's tracepoint
# program among them (README, Using bpftool alone).
feature "tracepoint sock_recv_length" ||
	skip "the bpftool-only setup needs the sock_recv_length tracepoint (6.3+); this kernel has none"
A=$(mk_ns a); B=$(mk_ns b)
link_ns "$A" 10.10.0.1 "$B" 10.10.0.2
CGA=$(mk_cgroup a); CGB=$(mk_cgroup b)

# --- as in README ("Using bpftool alone") ---
mkdir -p "$PIN"
bpftool prog loadall "$OBJ" "$PIN/progs" pinmaps "$PIN/maps"
bpftool prog attach pinned "$PIN/progs/shunt_msg" msg_verdict pinned "$PIN/maps/shunt_sockhash"
bpftool cgroup attach "$CGA" sock_ops pinned "$PIN/progs/shunt_sockops" multi
bpftool cgroup attach "$CGB" sock_ops pinned "$PIN/progs/shunt_sockops" multi
bpftool cgroup attach "$CGA" setsockopt pinned "$PIN/progs/shunt_setsockopt" multi
bpftool cgroup attach "$CGB" setsockopt pinned "$PIN/progs/shunt_setsockopt" multi

netns_cookie() {	# netns cookie, as bpf_get_netns_cookie() sees it
	ip netns exec "$1" python3 -c 'import socket; s = socket.socket()
print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little"))'
}
le() { printf "%0$(( $2 * 2 ))x" "$1" | sed 's/../& /g' | tr ' ' '\n' | tac | tr '\n' ' '; }
ip4() { printf '%02x %02x %02x %02x ' ${1//./ }; }
addr4() { echo "04 00 00 00 $(ip4 "$1")00 00 00 00 00 00 00 00 00 00 00 00"; }
# endpoint NETNS ADDR NET_ID EP_ID: one entry in each lookup map (generation 0)
endpoint() {
	local c
	c=$(netns_cookie "$1")
	bpftool map update pinned "$PIN/maps/shunt_ep_local" \
		key hex $(le "$c" 8) $(le 0 4) $(addr4 "$2") value hex $(le "$3" 4) $(le "$4" 4)
	bpftool map update pinned "$PIN/maps/shunt_ep_peer" \
		key hex $(le "$3" 4) $(le 0 4) $(addr4 "$2") value hex $(le "$c" 8) $(le "$4" 4) $(le 1 4)
}
endpoint "$A" 10.10.0.1 1 1
endpoint "$B" 10.10.0.2 1 2
# --- end ---

[ "$(shunt endpoint list --json | jq '.endpoints | length')" = 0 ] || fail "the named table should be empty"
server "$B" "$CGB" "$TMPD/s.log" -a 10.10.0.2 -p 7800 -m stream -b 16M -E -q
in_ns "$A" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7800 -m stream -b 16M -E -q || fail "stream broken"
wait "$SERVER_PID" || fail "server failed"
[ "$(counter connections_redirected)" -eq 1 ] || fail "not redirected with a bpftool-only setup"
bpftool cgroup detach "$CGA" sock_ops pinned "$PIN/progs/shunt_sockops"
bpftool cgroup detach "$CGB" sock_ops pinned "$PIN/progs/shunt_sockops"
bpftool cgroup detach "$CGA" setsockopt pinned "$PIN/progs/shunt_setsockopt"
bpftool cgroup detach "$CGB" setsockopt pinned "$PIN/progs/shunt_setsockopt"
echo "bpftool ok"
