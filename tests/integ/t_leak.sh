#!/bin/bash
# No leaks.  100,000 short redirected connections (spread over several
# client addresses so TIME_WAIT does not exhaust ports); afterwards the
# sockhash and the connection table are empty again, and the kernel's TCP
# memory and socket count (/proc/net/sockstat) are back where they were.
source "$(dirname "$0")/lib.sh"
pair_setup
dev=$(ip -n "$NSA" -o link show type veth | awk -F'[ :@]+' '{print $2}')
for i in 11 12 13; do ip -n "$NSA" addr add 10.10.0.$i/24 dev "$dev"; done
shunt endpoint del ea
shunt endpoint add ea 10.10.0.1 10.10.0.11 10.10.0.12 10.10.0.13 fd10::1 --netns "$NSA"

PER=$(scaled 25000)	# x 4 addresses: 100,000 (SHUNT_SCALE in slow guests)
sockstat() { awk -v k="$1" '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }' /proc/net/sockstat; }
mem0=$(sockstat mem)
alloc0=$(sockstat alloc)
server "$NSB" "$CGB" "$TMPD/srv.log" -a 10.10.0.2 -p 7700 -m echo -r 1 -n $((4 * PER)) -E -q -t 300
pids=()
for src in 10.10.0.1 10.10.0.11 10.10.0.12 10.10.0.13; do
	in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7700 -B $src -m echo -r 1 -n $PER -c 2 -E -q -t 300 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "an echo client saw bad data"; done
wait "$SERVER_PID" || fail "echo server failed"
conns=$(counter connections_redirected)
log "connections redirected: $conns of $((4 * PER))"
[ "$conns" -ge $((4 * PER * 9 / 10)) ] || fail "only $conns of $((4 * PER)) connections redirected"
for i in $(seq 50); do
	[ "$(status_field sockets)" -eq 0 ] && [ "$(map_len shunt_conns)" -eq 0 ] && break
	sleep 0.1
done
[ "$(status_field sockets)" -eq 0 ] || fail "$(status_field sockets) sockets left in the sockhash"
[ "$(map_len shunt_conns)" -eq 0 ] || fail "$(map_len shunt_conns) entries left in shunt_conns"
# TIME_WAIT sockets are minisocks (not in alloc/mem); give freeing a moment.
for i in $(seq 50); do [ "$(sockstat alloc)" -le $((alloc0 + 50)) ] && break; sleep 0.1; done
mem1=$(sockstat mem)
alloc1=$(sockstat alloc)
log "sockstat TCP before/after: alloc $alloc0/$alloc1, mem pages $mem0/$mem1"
[ "$alloc1" -le $((alloc0 + 50)) ] || fail "TCP sockets grew from $alloc0 to $alloc1"
[ "$mem1" -le $((mem0 + 256)) ] || fail "TCP memory grew from $mem0 to $mem1 pages"
echo "leak ok: $conns connections, maps empty"
