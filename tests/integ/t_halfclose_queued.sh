#!/bin/bash
# xfail: tcp_bpf_recvmsg returns EAGAIN on a blocking socket after a wake-up with nothing queued
# Half-close with part of the reply already redirected into the client's
# queue when it calls shutdown(SHUT_WR) (the server replies right after
# accept; the client waits 5 ms before writing).  The socket cannot leave the
# sockhash then (that would drop the queued bytes), so shunt sets it to leave
# as soon as it has read them and sends the rest of the reply by TCP; but a
# read that blocks in tcp_bpf_recvmsg before a segment lets it leave is woken
# by the FIN with nothing queued and returns EAGAIN (kernel bug).  Exit 66.
# The bug is a race: a run of 1000 connections almost always hits it, but
# not always (a loaded machine changes the timing).  Up to three runs, so a
# lucky one cannot pass for a fixed kernel; a fixed kernel passes all three.
source "$(dirname "$0")/lib.sh"
pair_setup

for round in 1 2 3; do
	port=$((7500 + round))
	r0=$(counter directions_redirected)
	g0=$(counter tcp_peer_gone)
	server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p $port -m halfclose -e -b 16K -n 1000 -q -t 60
	rc=0
	in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p $port -m halfclose -e -D 5 -b 16K -n 1000 -q -t 60 \
		> "$TMPD/cli.log" 2>&1 || rc=$?
	cat "$TMPD/cli.log" >&2
	r=$(( $(counter directions_redirected) - r0 ))
	[ "$r" -ge 2 ] || fail "round $round: nothing redirected: the case was not exercised"
	[ $rc -eq 3 ] && { echo "round $round hit the kernel bug: blocking read returned EAGAIN"; exit 66; }
	[ "$r" -ge 1900 ] || fail "round $round: only $r of 2000 directions redirected: the case was not exercised"
	[ $rc -eq 0 ] || fail "round $round: data lost or reordered (rc=$rc)"
	wait "$SERVER_PID" || fail "round $round: server failed"
	[ $(( $(counter tcp_peer_gone) - g0 )) -ge 950 ] || fail "round $round: post-shutdown replies did not switch to TCP"
	log "round $round: 1000 connections without the bug"
done
echo "halfclose with queued reply ok"
