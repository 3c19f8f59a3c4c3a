#!/bin/bash
# Faults on the virtual wire: netem delays, loses, reorders and duplicates
# segments on both ends of the veth pair while connections set up (the setup
# race widens: handshake ACKs arrive late, out of order, twice), detour over
# TCP (detoured segments are lost and retransmitted) and close.  Every record
# and every byte must still arrive in order, once.  Needs sch_netem, which
# Debian's kernels have as a module and this project's reference host lacks:
# make vmtest runs it (scripts/vmtest.sh loads the module).
source "$(dirname "$0")/lib.sh"
FAULTS="delay 1ms 1ms reorder 20% 50% loss 1% duplicate 1%"
pair_setup
FC=$ROOT/tests/integ/py/fc.py
for ns in "$NSA" "$NSB"; do
	dev=$(ip -n "$ns" -o link show type veth | awk -F'[ :@]+' '{print $2}')
	ip netns exec "$ns" tc qdisc add dev "$dev" root netem $FAULTS 2>/dev/null ||
		skip "no sch_netem in this kernel"
done
log "netem on both ends: $FAULTS"

# Records both ways right after connect, as t_ordering, with the wire faulty.
N=$(scaled 200)
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7500 -m records -r 200 -w 64 -n "$N" -E -q -t 300
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7500 -m records -r 200 -w 64 -n "$N" -c 8 -E -q -t 300 \
	|| fail "client saw a bad record"
wait "$SERVER_PID" || { cat "$TMPD/srv.log" >&2; fail "server saw a bad record"; }
redir=$(counter directions_redirected)
tcp=$(counter directions_tcp)
# A socket established after its connection was pinned to TCP (a late
# handshake ACK) never joins the sockhash: its direction is TCP, counted so.
late=$(counter tcp_joined_late)
log "records: $N connections, $redir directions redirected, $tcp on TCP, $late joined late"
[ $((redir + tcp + late)) -eq $((2 * N)) ] || fail "each of $((2 * N)) directions must take exactly one path ($redir + $tcp + $late)"
[ "$redir" -gt 0 ] || fail "nothing redirected over a faulty wire"

# A stream each way, every byte checked at the receiver.
B=$(scaled 256)
before=$(counter bytes_redirected)
server "$NSB" "$CGB" "$TMPD/s2.log" -a 10.10.0.2 -p 7501 -m stream -b "${B}M" -n 1 -E -q -t 600
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7501 -m stream -b "${B}M" -n 1 -E -q -t 600 \
	|| fail "stream corrupted (client)"
wait "$SERVER_PID" || { cat "$TMPD/s2.log" >&2; fail "stream corrupted (server)"; }
log "stream: ${B} MiB each way verified, $(( $(counter bytes_redirected) - before )) bytes redirected"

# Flow-control bursts: each 8 MiB burst detours over the faulty wire, and
# the next one resumes only once every TCP byte was read; order is checked.
d0=$(counter fc_detours)
r0=$(counter fc_resumes)
bg "$NSB" "$CGB" "$TMPD/fc-s.log" python3 "$FC" server 10.10.0.2 7502 $((32 << 20)) 0.2 bursts
wait_ready "$TMPD/fc-s.log"
in_ns "$NSA" "$CGA" python3 "$FC" client 10.10.0.2 7502 $((32 << 20)) 0.2 nonblock bursts > "$TMPD/fc-c.log" 2>&1 \
	|| { cat "$TMPD/fc-c.log" "$TMPD/fc-s.log" >&2; fail "bursts: writer failed"; }
wait "$LAST_PID" || { cat "$TMPD/fc-s.log" >&2; fail "bursts: reader saw bad data"; }
a=$(awk '/^ok/ {print $2}' "$TMPD/fc-c.log")
b=$(awk '/^ok/ {print $2}' "$TMPD/fc-s.log")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "bursts: sha256 differs ($a vs $b)"
d=$(( $(counter fc_detours) - d0 ))
r=$(( $(counter fc_resumes) - r0 ))
log "bursts: 32 MiB in order, $d detours, $r resumes"
[ "$d" -ge 1 ] && [ "$r" -ge 1 ] || fail "bursts did not exercise detour ($d) and resume ($r)"

sleep 0.5
[ "$(status_field sockets)" -eq 0 ] || fail "sockets left in the sockhash after close"
echo "faults ok"
