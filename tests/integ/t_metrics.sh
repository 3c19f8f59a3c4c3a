#!/bin/bash
# shunt metrics: the Prometheus text passes `promtool check metrics` (format
# and lint) on stdout, in a file and over HTTP; its counters are the
# instance's (each one equal to `shunt status --json`'s, the redirected
# bytes of a known stream counted exactly); --output replaces its file
# atomically; --listen answers 200/404/405, shows an instance unloaded
# (shunt_up 0) and loaded again while it runs, and stops on SIGTERM.
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || skip "no promtool (apt-get install prometheus)"
command -v curl >/dev/null || skip "no curl"

# A bound above what one direction sends: no flow-control detour, so every
# byte of the stream below is a redirected one.
SHUNT_LOAD_ARGS="--fc-bound 64M"
pair_setup
shunt endpoint add eblue 10.10.9.1 --netns "$NSA" --network blue
MIB=8
BYTES=$((MIB * 1024 * 1024))

test_cleanup() {
	[ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
}

# mval FILE SERIES: the value of SERIES (name{labels}, as printed) in FILE.
mval() {
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1" ||
		fail "no series $2 in $1"
}

# lint FILE: promtool's format check and lint print nothing and pass.
lint() {
	local out
	out=$(promtool check metrics < "$1" 2>&1) || fail "promtool check metrics failed on $1: $out"
	[ -z "$out" ] || fail "promtool on $1: $out"
}

# A duplex stream where each end reads all the other sent before it shuts
# down (shunt-traffic shuts down once it has written, and what the other
# end sends after a FIN goes by TCP, README Limitations): so both
# directions' bytes are all redirected.  Nonblocking, as -E (a blocking
# read can meet the kernel's EAGAIN bug); every byte checked.
cat > "$TMPD/duplex.py" <<'EOF'
import random, selectors, socket, sys
role, addr, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def pattern(seed):
    return random.Random(seed).randbytes(65536) * 2
tx_pat, rx_pat = pattern(1 if role == "client" else 2), pattern(2 if role == "client" else 1)
if role == "server":
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port)); ls.listen(1)
    print("ready", flush=True)
    s, _ = ls.accept()
else:
    s = socket.create_connection((addr, port))
import time; time.sleep(0.05)	# both ends join the sockhash first (t_redirect's -D)
s.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
sent = got = 0
while got < n or sent < n:
    if not sel.select(timeout=30):
        sys.exit("timeout at sent %d got %d" % (sent, got))
    if sent < n:
        try:
            o = sent % 65536
            sent += s.send(tx_pat[o:o + min(65536, n - sent)])
        except BlockingIOError:
            pass
    try:
        b = s.recv(65536)
    except BlockingIOError:
        b = None
    if b == b"":
        sys.exit("EOF after %d bytes" % got)
    if b:
        o = got % 65536
        if b != rx_pat[o:o + len(b)]:
            sys.exit("bad data at %d" % got)
        got += len(b)
    if sent >= n:
        sel.modify(s, selectors.EVENT_READ)
s.setblocking(True)
s.shutdown(socket.SHUT_WR)
s.settimeout(30)
if s.recv(1) != b"":
    sys.exit("data after the stream")
s.close()
print("ok", sent, got)
EOF

# --- stdout, and what the counters say -------------------------------------
shunt metrics > "$TMPD/m0.txt" || fail "shunt metrics failed"
lint "$TMPD/m0.txt"
[ "$(mval "$TMPD/m0.txt" shunt_up)" -eq 1 ] || fail "shunt_up is not 1 with the instance loaded"

bg "$NSB" "$CGB" "$TMPD/dsrv.log" python3 "$TMPD/duplex.py" server 10.10.0.2 7601 $BYTES
DSRV=$LAST_PID
wait_ready "$TMPD/dsrv.log"
in_ns "$NSA" "$CGA" python3 "$TMPD/duplex.py" client 10.10.0.2 7601 $BYTES > "$TMPD/dcli.log" 2>&1 ||
	{ cat "$TMPD/dcli.log" >&2; fail "duplex client failed"; }
wait "$DSRV" || { cat "$TMPD/dsrv.log" >&2; fail "duplex server failed"; }
for w in $(seq 50); do [ "$(status_field sockets)" -eq 0 ] && break; sleep 0.1; done

shunt metrics > "$TMPD/m1.txt" || fail "shunt metrics failed"
shunt status --json > "$TMPD/st1.json"
lint "$TMPD/m1.txt"
b0=$(mval "$TMPD/m0.txt" shunt_redirected_bytes_total)
b1=$(mval "$TMPD/m1.txt" shunt_redirected_bytes_total)
log "redirected bytes $b0 -> $b1 (stream: 2 x $BYTES)"
[ $((b1 - b0)) -ge $((2 * BYTES)) ] || fail "shunt_redirected_bytes_total grew by $((b1 - b0)), want >= $((2 * BYTES))"
[ $((b1 - b0)) -le $((2 * BYTES + 65536)) ] || fail "shunt_redirected_bytes_total grew by $((b1 - b0)), want <= $((2 * BYTES)) + 64K"
c0=$(mval "$TMPD/m0.txt" shunt_connections_redirected_total)
[ $(( $(mval "$TMPD/m1.txt" shunt_connections_redirected_total) - c0 )) -eq 1 ] || fail "connections_redirected_total did not grow by 1"
ea() { echo "shunt_endpoint_$1{endpoint=\"ea\",network=\"default\"}"; }
eb() { echo "shunt_endpoint_$1{endpoint=\"eb\",network=\"default\"}"; }
[ "$(mval "$TMPD/m1.txt" "$(ea redirected_sent_bytes_total)")" -ge "$BYTES" ] || fail "per-endpoint sent bytes of ea < $BYTES"
[ "$(mval "$TMPD/m1.txt" "$(eb redirected_received_bytes_total)")" -ge "$BYTES" ] || fail "per-endpoint received bytes of eb < $BYTES"
[ "$(mval "$TMPD/m1.txt" "$(ea connections_redirected_total)")" -ge 1 ] || fail "per-endpoint redirected connections of ea"

# Every counter of `shunt status`, read with no traffic in between, is the
# same number in the metrics: each under its family, every TCP reason as
# shunt_connections_tcp_total{reason}.  A counter without a row in
# metrics.c's table is shunt_<name>_total.
declare -A fam=(
	[established]=shunt_sockets_established_total
	[sockets_added]=shunt_sockets_added_total
	[sockets_removed]=shunt_sockets_removed_total
	[connections_redirected]=shunt_connections_redirected_total
	[directions_redirected]='shunt_directions_total{path="redirected"}'
	[directions_tcp]='shunt_directions_total{path="tcp"}'
	[messages_redirected]=shunt_redirected_messages_total
	[bytes_redirected]=shunt_redirected_bytes_total
	[fc_detours]=shunt_flow_control_detours_total
	[fc_resumes]=shunt_flow_control_resumes_total
	[bytes_detoured]=shunt_flow_control_detoured_bytes_total
	[kernel_eagain]=shunt_kernel_eagain_total
	[endpoints_replaced_stale]=shunt_endpoints_replaced_stale_total
)
while read -r k v; do
	series=${fam[$k]:-shunt_${k}_total}
	[ "$(mval "$TMPD/m1.txt" "$series")" = "$v" ] || fail "$series is not status' $k ($v)"
done < <(jq -r '.counters | to_entries[] | "\(.key) \(.value)"' "$TMPD/st1.json")
nreasons=0
while read -r k v; do
	[ "$(mval "$TMPD/m1.txt" "shunt_connections_tcp_total{reason=\"$k\"}")" = "$v" ] ||
		fail "shunt_connections_tcp_total{reason=\"$k\"} is not status' $v"
	nreasons=$((nreasons + 1))
done < <(jq -r '.tcp_reasons | to_entries[] | "\(.key) \(.value)"' "$TMPD/st1.json")
[ "$nreasons" -ge 10 ] || fail "only $nreasons TCP reasons"
[ "$(grep -c '^shunt_connections_tcp_total{reason="' "$TMPD/m1.txt")" -eq "$nreasons" ] ||
	fail "shunt_connections_tcp_total has other reasons than status"
grep -q '^shunt_connections_tcp_total{reason="no_peer_endpoint"} ' "$TMPD/m1.txt" || fail "no no_peer_endpoint reason"

# --- the gauges ------------------------------------------------------------
X=$(mk_cgroup x)
shunt attach "$X"
rmdir "$X"			# its links stay pinned: a dangling link
shunt metrics > "$TMPD/m2.txt"
lint "$TMPD/m2.txt"
want() { [ "$(mval "$TMPD/m2.txt" "$1")" = "$2" ] || fail "$1 is $(mval "$TMPD/m2.txt" "$1"), want $2"; }
want shunt_up 1
want shunt_paused 0
want shunt_cgroups_attached 2
want shunt_links_dangling 1
want 'shunt_endpoints{network="default"}' 2
want 'shunt_endpoints{network="blue"}' 1
want shunt_endpoints_max 4096
want shunt_sockhash_sockets "$(status_field sockets)"
want shunt_sockhash_max_sockets "$(status_field max_sockets)"
want shunt_connections_redirected_open 0
want shunt_flow_control_bound_bytes $((64 * 1024 * 1024))
want shunt_bpf_object_current 1
grep -q '^shunt_read_hook_attached{hook="[a-z]*"} 1$' "$TMPD/m2.txt" || fail "read hook not shown attached"
ver=$("$SHUNT_BIN" --version | awk '{ print $2 }')
obj=$(status_field bpf_object)
grep -qxF "shunt_build_info{version=\"$ver\",bpf_object=\"$obj\",running_version=\"$(status_field version)\",running_bpf_object=\"$obj\"} 1" \
	"$TMPD/m2.txt" || fail "shunt_build_info: $(grep '^shunt_build_info' "$TMPD/m2.txt")"
# one HELP and one TYPE per family, every sample under its family
[ "$(grep -c '^# HELP ' "$TMPD/m2.txt")" -eq "$(grep -c '^# TYPE ' "$TMPD/m2.txt")" ] || fail "HELP and TYPE lines differ in number"
[ -z "$(grep '^# TYPE' "$TMPD/m2.txt" | awk '{ print $3 }' | sort | uniq -d)" ] || fail "a family appears twice"
grep '^# TYPE .* counter$' "$TMPD/m2.txt" | awk '{ print $3 }' | grep -v '_total$' && fail "a counter not ending in _total"

# An endpoint's series go with it (churn: README, Metrics).
grep -q 'endpoint="eblue"' "$TMPD/m2.txt" || fail "no series of endpoint eblue"
shunt endpoint del eblue
shunt metrics > "$TMPD/m2b.txt"
grep 'endpoint="eblue"\|network="blue"' "$TMPD/m2b.txt" && fail "series of a deleted endpoint remain"

# --- --output: written whole, or not at all ---------------------------------
OUTF=$TMPD/prom/shunt.prom
mkdir "$TMPD/prom"
shunt metrics --output "$OUTF" 2> "$TMPD/out.err" || { cat "$TMPD/out.err" >&2; fail "--output failed"; }
[ ! -s "$TMPD/out.err" ] || fail "--output to a .prom file said: $(cat "$TMPD/out.err")"
lint "$OUTF"
shunt metrics > "$TMPD/m3.txt"
strip() { sed 's/ [0-9]*$//' "$1"; }
diff <(strip "$OUTF") <(strip "$TMPD/m3.txt") >&2 || fail "the file differs from stdout beyond values"
[ -z "$(ls "$TMPD/prom" | grep -v '^shunt.prom$')" ] || fail "left in the directory: $(ls "$TMPD/prom")"
# A reader (the textfile collector) racing 60 rewrites always finds the
# file whole: as many lines as stdout's, ending with the same series.
lines=$(wc -l < "$TMPD/m3.txt")
last=$(tail -1 "$TMPD/m3.txt" | awk '{ print $1 }')
( for w in $(seq 60); do shunt metrics --output "$OUTF" || exit 1; done ) &
WR=$!
PIDS+=($WR)
reads=0
while kill -0 "$WR" 2>/dev/null; do
	cat "$OUTF" > "$TMPD/read.txt" || fail "the file went missing during a rewrite"
	[ "$(wc -l < "$TMPD/read.txt")" -eq "$lines" ] && [ "$(tail -1 "$TMPD/read.txt" | awk '{ print $1 }')" = "$last" ] ||
		fail "a reader saw a partial file ($(wc -l < "$TMPD/read.txt") lines of $lines)"
	reads=$((reads + 1))
done
wait "$WR" || fail "a rewrite failed"
log "$reads reads during 60 rewrites, all whole"
[ -z "$(ls "$TMPD/prom" | grep -v '^shunt.prom$')" ] || fail "temporary files left: $(ls "$TMPD/prom")"
shunt metrics --output "$TMPD/prom/shunt.txt" 2> "$TMPD/warn.err" || fail "--output to a .txt failed"
[ "$(wc -l < "$TMPD/warn.err")" -eq 1 ] && grep -q '\.prom' "$TMPD/warn.err" || fail "no one-line .prom warning: $(cat "$TMPD/warn.err")"
lint "$TMPD/prom/shunt.txt"

# --- --listen ----------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
# (the binary itself, not the shunt function: $! must be the server)
"$SHUNT_BIN" --pin-dir "$PIN" metrics --listen 127.0.0.1:$PORT > "$TMPD/srv.out" 2> "$TMPD/srv.err" &
SRV=$!
PIDS+=($SRV)
for w in $(seq 100); do curl -s -o /dev/null "$URL/metrics" && break; sleep 0.05; done
code=$(curl -s -D "$TMPD/h.txt" -o "$TMPD/h1.txt" -w '%{http_code}' "$URL/metrics")
[ "$code" = 200 ] || fail "GET /metrics: $code"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$TMPD/h.txt" || fail "content type: $(grep -i content-type "$TMPD/h.txt")"
lint "$TMPD/h1.txt"
shunt metrics > "$TMPD/m4.txt"
diff <(strip "$TMPD/h1.txt") <(strip "$TMPD/m4.txt") >&2 || fail "the scrape differs from stdout beyond values"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/other")" = 404 ] || fail "/other is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" = 404 ] || fail "/ is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$URL/metrics")" = 405 ] || fail "POST is not 405"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics?x=1")" = 200 ] || fail "a query string broke /metrics"

# the port taken: one line, exit 1; bad addresses: one line, exit 2
rc=0; shunt metrics --listen 127.0.0.1:$PORT 2> "$TMPD/busy.err" || rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$TMPD/busy.err")" -eq 1 ] && grep -qi 'in use' "$TMPD/busy.err" ||
	fail "port in use: rc $rc, $(cat "$TMPD/busy.err")"
for bad in 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:x localhost:9477 ::1:9477 '[::1]9477' 300.1.1.1:9477; do
	rc=0; shunt metrics --listen "$bad" 2> "$TMPD/bad.err" || rc=$?
	[ $rc -eq 2 ] && [ "$(wc -l < "$TMPD/bad.err")" -eq 1 ] || fail "--listen $bad: rc $rc, $(cat "$TMPD/bad.err")"
done
rc=0; shunt metrics --listen 127.0.0.1:1 --output x.prom 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "--listen with --output: rc $rc"
if ip -6 addr show dev lo | grep -q '::1/128'; then
	P6=$(free_port)
	"$SHUNT_BIN" --pin-dir "$PIN" metrics --listen "[::1]:$P6" > /dev/null 2>&1 &
	S6=$!
	PIDS+=($S6)
	for w in $(seq 100); do curl -s -o /dev/null "http://[::1]:$P6/metrics" && break; sleep 0.05; done
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$P6/metrics")" = 200 ] || fail "[::1]:$P6 not served"
	kill -TERM $S6
	wait $S6 || fail "the [::1] server did not exit 0 on SIGTERM"
fi

# Unloaded while it runs: 200 with shunt_up 0 (logged once); loaded again:
# the next scrape has it back.
shunt unload --wait 10 > /dev/null || fail "unload failed"
for n in 1 2; do
	code=$(curl -s -o "$TMPD/h2.txt" -w '%{http_code}' "$URL/metrics")
	[ "$code" = 200 ] || fail "scrape of an unloaded instance: $code"
done
lint "$TMPD/h2.txt"
[ "$(mval "$TMPD/h2.txt" shunt_up)" -eq 0 ] || fail "unloaded, but shunt_up is not 0"
grep -q '^shunt_build_info{.*running_version="",running_bpf_object=""} 1$' "$TMPD/h2.txt" || fail "build_info when unloaded"
[ "$(grep -c 'not loaded' "$TMPD/srv.err")" -eq 1 ] || fail "the server's log of the unloaded instance: $(cat "$TMPD/srv.err")"

# not loaded, without --listen: nothing on stdout, one line, exit 1; a file
# says shunt_up 0 (not the last values)
rc=0; shunt metrics > "$TMPD/nl.out" 2> "$TMPD/nl.err" || rc=$?
[ $rc -eq 1 ] && [ ! -s "$TMPD/nl.out" ] && [ "$(wc -l < "$TMPD/nl.err")" -eq 1 ] ||
	fail "not loaded: rc $rc, stdout $(wc -c < "$TMPD/nl.out") bytes, stderr $(cat "$TMPD/nl.err")"
rc=0; shunt metrics --output "$OUTF" 2> /dev/null || rc=$?
[ $rc -eq 1 ] && [ "$(mval "$OUTF" shunt_up)" -eq 0 ] || fail "not loaded: --output rc $rc, $(head -3 "$OUTF")"
lint "$OUTF"

shunt load > /dev/null
curl -s -o "$TMPD/h3.txt" "$URL/metrics"
[ "$(mval "$TMPD/h3.txt" shunt_up)" -eq 1 ] || fail "an instance loaded after the server started is not shown"
lint "$TMPD/h3.txt"

kill -TERM "$SRV"
for w in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "the server is still running 5 s after SIGTERM"
rc=0; wait "$SRV" || rc=$?
SRV=
[ $rc -eq 0 ] || fail "the server exited $rc on SIGTERM"
echo "metrics ok: $((b1 - b0)) bytes counted for a stream of 2 x $BYTES"
