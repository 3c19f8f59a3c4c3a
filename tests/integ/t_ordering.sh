#!/bin/bash
# Requirement 1: ordering across the setup race.  Hundreds of connections send
# sequence-numbered records in both directions right after connect()/accept(),
# while the passive end may not have joined the sockhash yet; every record is
# checked in order on both sides.  Each direction must have taken exactly one
# path (counted), and TCP Fast Open data in the SYN pins its direction on TCP.
source "$(dirname "$0")/lib.sh"
pair_setup

N=400
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7200 -m records -r 200 -w 64 -n $N -E -q -t 120
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7200 -m records -r 200 -w 64 -n $N -c 8 -E -q -t 120 \
	|| fail "client saw a bad record"
wait "$SERVER_PID" || { cat "$TMPD/srv.log" >&2; fail "server saw a bad record"; }

redir=$(counter directions_redirected)
tcp=$(counter directions_tcp)
conns=$(counter connections_redirected)
log "directions: $redir redirected, $tcp on TCP; connections redirected: $conns of $N"
[ $((redir + tcp)) -eq $((2 * N)) ] || fail "each of $((2 * N)) directions must decide exactly once"
[ "$conns" -ge $((N / 2)) ] || fail "only $conns of $N connections redirected"

# Widen the race: slow the client's packets down, so the final ACK
# of the handshake often reaches the server after the client has already
# sent its first records.  Those directions must stay on TCP for good; the
# others are redirected; every record still arrives in order.
dev=$(ip -n "$NSA" -o link show type veth | awk -F'[ :@]+' '{print $2}')
# No netem on the reference kernel: a token bucket makes handshake ACKs queue
# behind the data of connections that already lost the race.
ip netns exec "$NSA" tc qdisc add dev "$dev" root tbf rate 200mbit burst 3000 latency 1ms
# A plain-TCP bulk flow (10.10.0.3 is not an endpoint) keeps that queue full.
ip -n "$NSB" addr add 10.10.0.3/24 dev "$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2}')"
server "$NSB" "$CGB" "$TMPD/bulk-s.log" -a 10.10.0.3 -p 7299 -m stream -1 -b 1G -E -q -t 0
BULK_S=$SERVER_PID
bg "$NSA" "$CGA" "$TMPD/bulk-c.log" "$TRAFFIC" client -a 10.10.0.3 -p 7299 -m stream -1 -b 1G -E -q -t 0
BULK_C=$LAST_PID
sleep 0.5
redir0=$(counter directions_redirected)
tcp0=$(counter directions_tcp)
absent0=$(counter tcp_peer_absent)
late0=$(counter tcp_joined_late)
server "$NSB" "$CGB" "$TMPD/srv2.log" -a 10.10.0.2 -p 7202 -m records -r 200 -w 64 -n 300 -E -q -t 120
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7202 -m records -r 200 -w 64 -n 300 -c 8 -E -q -t 120 \
	|| fail "client saw a bad record (delayed handshake)"
wait "$SERVER_PID" || { cat "$TMPD/srv2.log" >&2; fail "server saw a bad record (delayed handshake)"; }
kill -9 "$BULK_C" "$BULK_S" 2>/dev/null || true
ip netns exec "$NSA" tc qdisc del dev "$dev" root
r=$(( $(counter directions_redirected) - redir0 ))
t=$(( $(counter directions_tcp) - tcp0 ))
a=$(( $(counter tcp_peer_absent) - absent0 ))
# A socket that arrives after its connection was pinned to TCP never joins.
late=$(( $(counter tcp_joined_late) - late0 ))
log "delayed handshake: $r directions redirected, $t on TCP ($a lost the race)"
[ $((r + t + late)) -eq 600 ] || fail "each of 600 directions must take exactly one path ($r + $t + $late)"
[ "$a" -gt 0 ] || fail "the race was never lost: the test did not exercise it"
[ "$r" -gt 0 ] || fail "nothing redirected with a delayed handshake"

# TFO: the first connection fetches a cookie, the next ones carry data in
# the SYN, which travels by TCP; that direction must stay on TCP.
for ns in "$NSA" "$NSB"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fastopen=3; done
cat > "$TMPD/tfo.py" <<'PY'
import socket, sys
mode, n = sys.argv[1], int(sys.argv[2])
MSG_FASTOPEN = 0x20000000
def rec(i, d): return ("%08d:%s:" % (i, d)).encode() * 64
if mode == "server":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
    s.bind(("10.10.0.2", 7201)); s.listen(16)
    print("ready", flush=True)
    for i in range(n):
        c, _ = s.accept()
        c.sendall(rec(i, "s2c"))
        want, got = rec(i, "c2s") * 4, b""
        while len(got) < len(want):
            d = c.recv(65536)
            if not d: break
            got += d
        if got != want: print("server: bad data on conn", i, flush=True); sys.exit(1)
        c.close()
else:
    for i in range(n):
        c = socket.socket()
        data = rec(i, "c2s")
        c.sendto(data, MSG_FASTOPEN, ("10.10.0.2", 7201))   # in the SYN
        c.sendall(data * 3)                                   # after it
        want, got = rec(i, "s2c"), b""
        while len(got) < len(want):
            d = c.recv(65536)
            if not d: break
            got += d
        if got != want: print("client: bad data on conn", i); sys.exit(1)
        c.close()
PY
before=$(counter tcp_sent_bytes)
bg "$NSB" "$CGB" "$TMPD/tfo.log" python3 "$TMPD/tfo.py" server 20
wait_ready "$TMPD/tfo.log"
in_ns "$NSA" "$CGA" python3 "$TMPD/tfo.py" client 20 || fail "TFO client saw bad data"
wait "$LAST_PID" || { cat "$TMPD/tfo.log" >&2; fail "TFO server saw bad data"; }
tfo=$(( $(counter tcp_sent_bytes) - before ))
log "TFO connections whose client direction was pinned to TCP: $tfo of 20"
[ "$tfo" -ge 15 ] || fail "TFO data in the SYN did not pin the direction to TCP ($tfo)"
echo "ordering ok: $conns/$N redirected, $tcp directions on TCP"
