#!/bin/bash
# A stream between two partitions takes the redirect path (IPv4, IPv6 and
# IPv4-mapped), every byte verified, the path proven by shunt's counters.
source "$(dirname "$0")/lib.sh"
pair_setup
MB=$(scaled 64)	# per direction (SHUNT_SCALE in slow guests)

run_stream() {
	local addr=$1 port=$2
	local before after
	before=$(counter connections_redirected)
	# -D: both ends write 50 ms after connect and accept, once both have
	# joined the sockhash (in a slow guest a write at once can lose the
	# setup race, and the connection runs on TCP: t_ordering's subject).
	server "$NSB" "$CGB" "$TMPD/s$port.log" -a "$addr" -p "$port" -m stream -b ${MB}M -n 1 -E -q -D 50
	in_ns "$NSA" "$CGA" "$TRAFFIC" client -a "$addr" -p "$port" -m stream -b ${MB}M -n 1 -E -q -D 50 \
		|| fail "client over $addr failed"
	wait "$SERVER_PID" || { cat "$TMPD/s$port.log" >&2; fail "server over $addr failed"; }
	after=$(counter connections_redirected)
	[ $((after - before)) -eq 1 ] || fail "$addr: connections_redirected went $before -> $after, want +1"
}

run_stream 10.10.0.2 7101
run_stream fd10::2 7102
[ "$(counter directions_redirected)" -eq 4 ] || { shunt status --json | jq -c ".counters, .tcp_reasons" >&2; fail "want 4 redirected directions"; }
[ "$(counter directions_tcp)" -eq 0 ] || fail "a direction fell back to TCP"
bytes=$(counter bytes_redirected)
detour=$(counter bytes_detoured)		# flow control, see t_integrity
# (the tail after one end shut down goes by TCP, see t_integrity)
[ $((bytes + detour)) -le $((4 * MB * 1024 * 1024)) ] || fail "$bytes redirected + $detour detoured > $((4 * MB)) MiB"
[ "$bytes" -ge $((MB * 1024 * 1024)) ] || fail "only $bytes bytes redirected"

# A dual-stack (v6) server socket seeing an IPv4 client: v4-mapped addresses.
before=$(counter connections_redirected)
server "$NSB" "$CGB" "$TMPD/s3.log" -a :: -p 7103 -m stream -b 8M -n 1 -E -q -D 50
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7103 -m stream -b 8M -n 1 -E -q -D 50 || fail "v4 to dual-stack failed"
wait "$SERVER_PID" || fail "dual-stack server failed"
[ $(( $(counter connections_redirected) - before )) -eq 1 ] || fail "v4-mapped connection not redirected"

sleep 0.2
[ "$(status_field sockets)" -eq 0 ] || fail "sockets left in the sockhash after close"
[ "$(map_len shunt_conns)" -eq 0 ] || fail "conn entries left after close"
echo "redirect ok: $bytes bytes"
