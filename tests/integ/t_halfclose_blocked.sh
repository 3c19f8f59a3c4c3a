#!/bin/bash
# xfail: tcp_bpf_recvmsg returns EAGAIN on a blocking socket after a wake-up with nothing queued
# Half-close with a reader that is already blocked in read() when the
# application calls shutdown(SHUT_WR) from another thread (the client reads in
# a thread from connect on; 1 MiB each way).  shunt takes the socket out of
# the sockhash at FIN_WAIT1, but a read() already waiting inside
# tcp_bpf_recvmsg is woken by the state change with nothing queued and returns
# EAGAIN (kernel bug, README Limitations): the test exits 66 to say so.
# t_halfclose covers the usual write-shutdown-read sequence, which works.
source "$(dirname "$0")/lib.sh"
pair_setup

server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7500 -m halfclose -e -b 1M -n 50 -q -t 60
set +e
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7500 -m halfclose -e -b 1M -n 50 -q -t 60 > "$TMPD/cli.log" 2>&1
rc=$?
set -e
cat "$TMPD/cli.log" >&2
[ "$(counter directions_redirected)" -gt 0 ] || fail "not redirected"
if [ $rc -eq 3 ]; then
	echo "hit the kernel bug: blocking read returned EAGAIN after shutdown(SHUT_WR)"
	exit 66
fi
[ $rc -eq 0 ] || fail "half-close lost or reordered data (rc=$rc)"
wait "$SERVER_PID" || fail "server failed"
echo "halfclose ok"
