#!/bin/bash
# Flow control on the redirect path: a writer whose reader does not read for
# 2 s may queue only about the bound (4 MiB redirected, plus what TCP then
# buffers during the detour), measured against plain TCP in the same run;
# then the reader reads everything and every byte matches.  Nonblocking (EAGAIN,
# poll) and blocking (the write blocks) writers, and a slow reader (1 KiB/ms).
source "$(dirname "$0")/lib.sh"
pair_setup
FC=$ROOT/tests/integ/py/fc.py
ip -n "$NSB" addr add 10.10.0.3/24 dev "$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2}')"
TOTAL=$((64 * 1024 * 1024))
LIMIT=$((24 * 1024 * 1024))	# 4 MiB bound + a detour's TCP buffers (sndbuf + rcvbuf)

# run ADDR PORT MODE STALL [slow|bursts] -> prints the queued bytes
run() {
	local addr=$1 port=$2 mode=$3 stall=$4 pace=${5:-}
	bg "$NSB" "$CGB" "$TMPD/s$port.log" env FC_RCVBUF="${RCVBUF:-}" python3 "$FC" server "$addr" "$port" "$TOTAL" "$stall" $pace
	local spid=$LAST_PID
	wait_ready "$TMPD/s$port.log"
	in_ns "$NSA" "$CGA" python3 "$FC" client "$addr" "$port" "$TOTAL" "$stall" "$mode" $pace > "$TMPD/c$port.log" 2>&1 \
		|| { cat "$TMPD/c$port.log" "$TMPD/s$port.log" >&2; fail "$addr $mode: writer failed"; }
	wait "$spid" || { cat "$TMPD/s$port.log" >&2; fail "$addr $mode: reader saw bad data"; }
	local a b
	a=$(awk '/^ok/ {print $2}' "$TMPD/c$port.log")
	b=$(awk '/^ok/ {print $2}' "$TMPD/s$port.log")
	[ -n "$a" ] && [ "$a" = "$b" ] || fail "$addr $mode: sha256 differs ($a vs $b)"
	awk '/^queued/ {print $2}' "$TMPD/c$port.log"
}

tcp_q=$(run 10.10.0.3 8001 nonblock 2)		# 10.10.0.3 is no endpoint: plain TCP
d0=$(counter fc_detours)
m0=$(awk '$1 == "TCP:" {print $NF}' /proc/net/sockstat)
q=$(run 10.10.0.2 8002 nonblock 2)
log "nonblocking writer, reader stalled 2 s: queued $q bytes over shunt, $tcp_q over plain TCP"
[ "$q" -le "$LIMIT" ] || fail "nonblocking writer queued $q bytes (limit $LIMIT)"
[ $(( $(counter fc_detours) - d0 )) -ge 1 ] || fail "flow control never engaged"

q=$(run 10.10.0.2 8003 block 2)
log "blocking writer, reader stalled 2 s: queued $q bytes"
[ "$q" -le "$LIMIT" ] || fail "blocking writer queued $q bytes (limit $LIMIT)"

# The bounds below are checked where they act: the redirected bytes still
# unread when a direction detours (the "queued" of its fc_detour events)
# may not exceed the reader's bound.  The writer's total then also holds
# what TCP buffers during the detour, which varies from one connection to
# the next by more than a MiB here (plain TCP, same buffers, is logged for
# reference), so the total is held only to what TCP itself could buffer:
# the bound + the writer's tcp_wmem[2] + the reader's receive buffer.
WMEM=$(ip netns exec "$NSA" sysctl -n net.ipv4.tcp_wmem | awk '{print $3}')

# bounded_run PORT BOUND RCVMAX WHAT: a stalled reader over shunt, with an
# events reader; fails unless it detoured within BOUND.  Sets Q (queued in
# all) and DQ (the most redirected bytes unread at a detour).
bounded_run() {
	local port=$1 bound=$2 rcvmax=$3 what=$4 q dq
	events_reader "fc$port"
	q=$(run 10.10.0.2 "$port" nonblock 2)
	sleep 0.6	# an events poll interval
	kill "$R"
	wait "$R" 2>/dev/null || true
	dq=$(jq -s --argjson p "$port" '[.[] | select(.event == "fc_detour" and (.remote.port == $p or .local.port == $p)) | .queued] | max // empty' "$TMPD/fc$port.ev")
	[ -n "$dq" ] || fail "$what: never detoured ($q bytes queued)"
	[ "$dq" -le "$bound" ] || fail "$what was not honoured: $dq redirected bytes unread at the detour (bound $bound)"
	[ "$q" -le $((bound + WMEM + rcvmax)) ] || fail "$what: $q bytes queued, more than $bound + TCP's $WMEM + $rcvmax"
	Q=$q DQ=$dq
}

# A reader that set SO_RCVBUF 256 KiB: the redirect bound follows it (the
# kernel doubles it to 512 KiB), not the 4 MiB default.
RCVBUF=262144
tcp_q=$(run 10.10.0.3 8011 nonblock 2)
bounded_run 8012 524288 524288 "SO_RCVBUF"
RCVBUF=
log "reader with SO_RCVBUF 256 KiB, stalled 2 s: queued $Q bytes over shunt ($DQ redirected at the detour), $tcp_q over plain TCP"

# A partition whose TCP may buffer at most 1 MiB per socket (its netns's
# tcp_rmem[2], the ceiling of autotuning): the redirect bound follows it.
ip netns exec "$NSB" sysctl -qw net.ipv4.tcp_rmem="4096 131072 1048576"
tcp_q=$(run 10.10.0.3 8021 nonblock 2)
bounded_run 8022 1048576 1048576 "the netns's tcp_rmem"
ip netns exec "$NSB" sysctl -qw net.ipv4.tcp_rmem="4096 131072 6291456"
log "reader's netns with tcp_rmem max 1 MiB, stalled 2 s: queued $Q bytes over shunt ($DQ redirected at the detour), $tcp_q over plain TCP"

# Bursts of 8 MiB, each acknowledged by the reader once read: each burst
# overflows the bound and detours, and the next one resumes the redirect
# (only once the reader has read every TCP byte).  A resume that let
# redirected bytes overtake unread TCP ones would show as wrong data.
TOTAL=$((64 * 1024 * 1024))
# Every run checks the data; the resume must be seen at least once in up to
# three runs (rarely, a run stays detoured: its bytes are still checked).
for try in 1 2 3; do
	r0=$(counter fc_resumes)
	d0=$(counter fc_detours)
	run 10.10.0.2 $((8004 + try)) nonblock 0.2 bursts > /dev/null
	r=$(( $(counter fc_resumes) - r0 ))
	d=$(( $(counter fc_detours) - d0 ))
	log "8 MiB bursts: 64 MiB in order, $d detours, $r resumes"
	[ "$r" -ge 1 ] && [ "$d" -ge 1 ] && break
done
[ "$r" -ge 1 ] && [ "$d" -ge 1 ] || fail "bursts did not exercise detour ($d) and resume ($r)"

TOTAL=$((2 * 1024 * 1024))
run 10.10.0.2 8010 nonblock 0 slow > /dev/null
log "slow reader (1 KiB per ms): 2 MiB in order"
[ "$(counter connections_redirected)" -ge 3 ] || fail "the shunt runs were not redirected"
m1=$(awk '$1 == "TCP:" {print $NF}' /proc/net/sockstat)
log "TCP memory pages (sockstat) before/after: $m0/$m1"
echo "flowcontrol ok"
