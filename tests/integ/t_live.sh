#!/bin/bash
# Live operations while 20 connections stream checksummed data through the
# redirect path: an unload is refused (it would drop queued bytes) and pauses
# new redirects; `load` resumes; detach and endpoint removal leave existing
# connections on their path while new ones go TCP; once the streams ended,
# unload succeeds.  No stream may be corrupted, cut or hang.
source "$(dirname "$0")/lib.sh"
pair_setup

server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7900 -m stream -b 256M -n 20 -E -q -t 120
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7900 -m stream -b 256M -n 20 -c 20 -E -q -t 120 \
	> "$TMPD/cli.log" 2>&1 &
CPID=$!
for i in $(seq 100); do [ "$(status_field sockets)" -ge 40 ] && break; sleep 0.05; done
[ "$(status_field sockets)" -ge 40 ] || fail "the 20 streams did not all join the sockhash"

# 1. unload is refused while sockets are redirected, and pauses new ones.
if shunt unload > "$TMPD/unload.log" 2>&1; then fail "unload went ahead with live redirected sockets"; fi
grep -q "still use the redirect path" "$TMPD/unload.log" || fail "unexpected unload message: $(cat "$TMPD/unload.log")"
[ "$(status_field paused)" = true ] || fail "a refused unload should pause new redirects"
p0=$(counter tcp_paused)
bg "$NSB" "$CGB" "$TMPD/p.log" "$TRAFFIC" server -a 10.10.0.2 -p 7901 -m stream -b 1M -E -q
wait_ready "$TMPD/p.log"
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7901 -m stream -b 1M -E -q || fail "paused: TCP stream broken"
[ $(( $(counter tcp_paused) - p0 )) -ge 2 ] || fail "new connections were not left on TCP while paused"
shunt load | grep -q resumed || fail "load did not resume the paused instance"
[ "$(status_field paused)" = false ] || fail "still paused"

# 2. detach and endpoint removal mid-stream: existing connections keep going.
shunt detach "$CGA"
shunt detach "$CGB"
shunt endpoint del ea
shunt attach "$CGA"
shunt attach "$CGB"
n0=$(counter tcp_no_local_endpoint)
bg "$NSB" "$CGB" "$TMPD/q.log" "$TRAFFIC" server -a 10.10.0.2 -p 7902 -m stream -b 1M -E -q
wait_ready "$TMPD/q.log"
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7902 -m stream -b 1M -E -q || fail "after endpoint del: TCP stream broken"
[ $(( $(counter tcp_no_local_endpoint) - n0 )) -ge 1 ] || fail "a connection from a removed endpoint was not left on TCP"

wait "$CPID" || { cat "$TMPD/cli.log" >&2; fail "a stream broke during live operations"; }
wait "$SERVER_PID" || { cat "$TMPD/srv.log" >&2; fail "server side of a stream broke"; }
[ "$(counter connections_redirected)" -ge 20 ] || fail "the 20 streams were not redirected"

# 3. all closed: unload now goes ahead without --force.
sleep 0.2
shunt unload || fail "unload refused with no redirected sockets left"
[ ! -e "$PIN" ] || fail "unload left $PIN"
echo "live ok"
