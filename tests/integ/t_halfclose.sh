#!/bin/bash
# xfail: tcp_bpf_recvmsg returns EAGAIN on a blocking socket after a wake-up with nothing queued
# Half-close over the redirect path: the client writes, shutdown(SHUT_WR)s,
# then reads the reply (half sent before the shutdown, half after it) to EOF.
# On kernels with the tcp_bpf_recvmsg wake-up bug (see README, Limitations)
# the blocking read returns EAGAIN: the test exits 66 to say so.  Fixed by the
# flow-control work (it needs accounting of what is queued per socket).
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
