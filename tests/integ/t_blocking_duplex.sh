#!/bin/bash
# xfail: tcp_bpf_recvmsg returns EAGAIN on a blocking socket after a wake-up with nothing queued
# Blocking sockets, full duplex: a reader thread blocked in read() while
# another thread writes 64-byte records to the same socket, then each side
# shuts down its sending side and reads to EOF.  The peer's FIN no longer
# hurts (shunt leaves the sockhash at the FIN segment, before the wake-up),
# but the concurrent writes still wake the blocked reader with nothing
# queued, and tcp_bpf_recvmsg turns that into EAGAIN on a blocking socket.
# Exit 66 = that kernel bug was hit.  Event-driven (nonblocking) programs
# are not affected (t_ordering runs the same records with -E).
source "$(dirname "$0")/lib.sh"
pair_setup

server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7600 -m records -r 400 -w 64 -n 400 -q -t 120
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7600 -m records -r 400 -w 64 -n 400 -c 8 -q -t 120 \
	> "$TMPD/cli.log" 2>&1 || rc=$?
if [ "${rc:-0}" -eq 3 ] || ! wait "$SERVER_PID"; then
	cat "$TMPD/cli.log" "$TMPD/srv.log" >&2
	if grep -q "EAGAIN on a blocking socket" "$TMPD/cli.log" "$TMPD/srv.log"; then
		# shunt's own part: every hit is counted for operators.
		[ "$(counter kernel_eagain)" -ge 1 ] || fail "the kernel bug was hit but kernel_eagain is 0"
		echo "hit the kernel bug: blocking read returned EAGAIN ($(counter kernel_eagain) counted)"
		exit 66
	fi
	fail "blocking full duplex broke"
fi
[ "${rc:-0}" -eq 0 ] || fail "client failed (rc=$rc)"
r=$(counter directions_redirected)
log "$r of 800 directions redirected"
[ "$r" -ge 400 ] || fail "only $r directions redirected"
echo "blocking duplex ok"
