#!/bin/bash
# A bulk-throughput application across partitions: iperf3 server in B,
# client in A, 4 parallel streams for 3 s each way (A to B, then -R: B to A).
# Both runs must move data, and shunt's counters must show the streams were
# redirected (data integrity is t_integrity's job).
source "$(dirname "$0")/lib.sh"
command -v iperf3 >/dev/null || skip "iperf3 not installed (scripts/deps.sh)"
pair_setup
# lib.sh's cleanup checks cgroup.procs with -s (cgroupfs files have size 0),
# so it can rmdir CGB before the killed server has exited, leaving the cgroup
# behind: empty CGB first, on any exit.

bg "$NSB" "$CGB" "$TMPD/iperf3.log" iperf3 -s -B 10.10.0.2 -p 5201
for i in $(seq 100); do
	[ -n "$(ss -N "$NSB" -Hltn 'sport = :5201')" ] && break
	[ $i -lt 100 ] || { cat "$TMPD/iperf3.log" >&2; fail "iperf3 server did not listen"; }
	sleep 0.05
done

# run NAME ARGS...: one 3 s client run with 4 streams; checks its JSON and
# that the 4 data streams (and the control connection) were redirected and
# carried the payload.
run() {
	local name=$1 before bytes0 bps rcvd conns moved
	shift
	before=$(counter connections_redirected)
	bytes0=$(( $(counter bytes_redirected) + $(counter bytes_detoured) ))
	in_ns "$NSA" "$CGA" iperf3 -c 10.10.0.2 -p 5201 -t 3 -P 4 --json "$@" > "$TMPD/$name.json" \
		|| { jq -r '.error // empty' "$TMPD/$name.json" >&2; fail "$name: iperf3 client failed"; }
	[ "$(jq -r '.error // empty' "$TMPD/$name.json")" = "" ] || fail "$name: $(jq -r .error "$TMPD/$name.json")"
	[ "$(jq '.end.streams | length' "$TMPD/$name.json")" = 4 ] || fail "$name: not 4 streams"
	bps=$(jq -r '.end.sum_received.bits_per_second | floor' "$TMPD/$name.json")
	[ "${bps:-0}" -gt 0 ] || fail "$name: nothing received"
	rcvd=$(jq -r '.end.sum_received.bytes' "$TMPD/$name.json")
	conns=$(( $(counter connections_redirected) - before ))
	moved=$(( $(counter bytes_redirected) + $(counter bytes_detoured) - bytes0 ))
	log "$name: $((bps / 1000000)) Mbit/s received, $conns connections redirected," \
		"$moved bytes redirected or detoured"
	[ "$conns" -ge 4 ] || fail "$name: only $conns connections redirected, expected the 4 streams"
	# The payload went by shunt's path (redirected, or detoured by flow
	# control); not exact: bytes after a failed push skip the verdict.
	[ "$moved" -ge $((rcvd / 2)) ] || fail "$name: only $moved of $rcvd bytes went by shunt's path"
}
run forward
run reverse -R
log "bytes redirected: $(counter bytes_redirected), detoured: $(counter bytes_detoured)"
echo "iperf3 ok"
