#!/bin/bash
# Half-close over the redirect path, the way HTTP/1.0 clients and RPC tools do
# it: write the request, shutdown(SHUT_WR), then read the reply to EOF; the
# server reads to EOF, then replies.  shunt takes the client's socket out of
# the sockhash inside shutdown() (FIN_WAIT1: nothing is queued for it yet),
# so its reads, and the reply, run on plain TCP: every byte, in order, EOF.
# Without that, the FIN_WAIT state change wakes a read blocked in
# tcp_bpf_recvmsg with nothing queued, and a blocking read returns EAGAIN.
source "$(dirname "$0")/lib.sh"
pair_setup

before=$(counter directions_redirected)
gone=$(counter tcp_peer_gone)
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7500 -m halfclose -b 16K -n 400 -q -t 60
# -D 10: each client writes 10 ms after connect, so every request is
# redirected (in a slow QEMU guest, writing at once loses the setup race now
# and then, and that connection runs on TCP: t_ordering's subject, not this).
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7500 -m halfclose -b 16K -n 400 -q -t 60 -D 10 \
	> "$TMPD/cli.log" 2>&1 || { cat "$TMPD/cli.log" >&2; fail "client failed (rc 3: EAGAIN on a blocking read)"; }
wait "$SERVER_PID" || { cat "$TMPD/srv.log" >&2; fail "server failed"; }
r=$(( $(counter directions_redirected) - before ))
log "400 connections verified, $r requests redirected"
[ "$r" -ge 400 ] || fail "only $r of 400 requests redirected"
sleep 0.2
[ "$(status_field sockets)" -eq 0 ] || fail "sockets left in the sockhash"
echo "halfclose ok"
