#!/bin/bash
# Half-close over the redirect path, the way HTTP/1.0 clients and RPC tools do
# it: write the request, shutdown(SHUT_WR), then read the reply to EOF.  The
# server's reply is queued partly before the client's shutdown (-e: sent
# right after accept, so it sits redirected in the client's queue) and partly
# after it; every byte must arrive, in order, then EOF.  shunt takes each
# socket out of the sockhash at its FIN (once it read all that was
# redirected to it), so the rest of the connection runs on TCP.
source "$(dirname "$0")/lib.sh"
pair_setup

for early in "" -e; do
	before=$(counter directions_redirected)
	server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7500 -m halfclose $early -b 16K -n 400 -q -t 60
	in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7500 -m halfclose $early -b 16K -n 400 -q -t 60 \
		> "$TMPD/cli.log" 2>&1 || { cat "$TMPD/cli.log" >&2; fail "half-close ${early:-(late reply)}: client failed"; }
	wait "$SERVER_PID" || { cat "$TMPD/srv.log" >&2; fail "half-close ${early:-(late reply)}: server failed"; }
	r=$(( $(counter directions_redirected) - before ))
	log "half-close ${early:-(late reply)}: 400 connections verified, $r directions redirected"
	[ "$r" -ge 400 ] || fail "only $r directions redirected"
done
sleep 0.2
[ "$(status_field sockets)" -eq 0 ] || fail "sockets left in the sockhash"
echo "halfclose ok"
