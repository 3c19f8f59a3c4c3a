#!/bin/bash
# xfail: tcp_bpf_recvmsg returns EAGAIN on a blocking socket after a wake-up with nothing queued
# A blocking reader while another thread of the same process writes to the
# same socket (full duplex with blocking sockets) over the redirect path.
# On kernels with the tcp_bpf_recvmsg wake-up bug the blocking read returns
# EAGAIN (exit 66 here); event-driven (nonblocking) applications are not
# affected (t_ordering, t_integrity use them).
source "$(dirname "$0")/lib.sh"
pair_setup

server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7600 -m records -r 200 -n 400 -q -t 120
set +e
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7600 -m records -r 200 -n 400 -c 8 -q -t 120 > "$TMPD/cli.log" 2>&1
rc=$?
set -e
kill -9 "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
cat "$TMPD/cli.log" "$TMPD/srv.log" >&2
if [ $rc -eq 3 ] || grep -q "EAGAIN on a blocking socket" "$TMPD/srv.log"; then
	echo "hit the kernel bug: blocking read returned EAGAIN"
	exit 66
fi
[ $rc -eq 0 ] || fail "blocking full duplex broke (rc=$rc)"
[ "$(counter directions_redirected)" -gt 0 ] || fail "not redirected"
echo "blocking duplex ok"
