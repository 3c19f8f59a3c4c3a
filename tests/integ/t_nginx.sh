#!/bin/bash
# A real application across partitions: nginx in B (sendfile on, so file
# pages are spliced into the redirected socket), curl and wrk in A.  A 200 MB
# random file and 200 small random files (1 B to 64 KiB) are downloaded and
# compared by sha256; wrk must see no socket errors and only 2xx answers;
# shunt's counters prove the connections and the big file were redirected.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || skip "nginx not installed (scripts/deps.sh)"
command -v curl >/dev/null || skip "curl not installed (scripts/deps.sh)"
command -v wrk >/dev/null || skip "wrk not installed (scripts/deps.sh)"
pair_setup
# lib.sh's cleanup checks cgroup.procs with -s (cgroupfs files have size 0),
# so it can rmdir CGB before the killed server has exited, leaving the cgroup
# behind: empty CGB first, on any exit.

WWW=$TMPD/www
mkdir -p "$WWW/small" "$TMPD/logs" "$TMPD/dl/small"
head -c 200M /dev/urandom > "$WWW/big"
sizes=(1 2 1023 1024 1025 4095 4096 4097 16384 65535 65536)
for i in $(seq 0 199); do
	if [ $i -lt ${#sizes[@]} ]; then n=${sizes[$i]}; else n=$((RANDOM * 2 % 65536 + 1)); fi
	head -c "$n" /dev/urandom > "$WWW/small/f$i"
done

sed -e "s|@TMPD@|$TMPD|g; s|@ROOT@|$WWW|; s|@LISTEN@|10.10.0.2:8080|; s|@PORT@|8080|" \
    -e "s|@ACCESS@|$TMPD/logs/access.log|; s|@LEVEL@|warn|" "$ROOT/tests/integ/nginx.conf.in" > "$TMPD/nginx.conf"
bg "$NSB" "$CGB" "$TMPD/nginx.out" nginx -c "$TMPD/nginx.conf" -p "$TMPD"
URL=http://10.10.0.2:8080
for i in $(seq 100); do
	in_ns "$NSA" "$CGA" curl -sf -o /dev/null "$URL/small/f0" 2>/dev/null && break
	[ $i -lt 100 ] || { cat "$TMPD/nginx.out" "$TMPD/logs/error.log" >&2; fail "nginx did not answer"; }
	sleep 0.05
done

# curl -w prints, per transfer, the new connections it opened and the status.
get() { in_ns "$NSA" "$CGA" curl -sS -f --http1.1 -w '%{num_connects} %{http_code}\n' "$@"; }
before=$(counter connections_redirected)
bytes_before=$(counter bytes_redirected)
detour_before=$(counter bytes_detoured)

get -o "$TMPD/dl/big" "$URL/big" > "$TMPD/w.big" || fail "curl of the big file failed"
bytes=$(( $(counter bytes_redirected) - bytes_before ))
detoured=$(( $(counter bytes_detoured) - detour_before ))
[ "$(sha256sum < "$TMPD/dl/big")" = "$(sha256sum < "$WWW/big")" ] || fail "big file differs"
log "big file: $bytes bytes redirected, $detoured detoured"

# The first 100 small files one connection each, the other 100 over one
# keep-alive connection.
for i in $(seq 0 99); do
	get -o "$TMPD/dl/small/f$i" "$URL/small/f$i" >> "$TMPD/w.small" || fail "curl of small/f$i failed"
done
args=()
for i in $(seq 100 199); do args+=(-o "$TMPD/dl/small/f$i" "$URL/small/f$i"); done
get "${args[@]}" >> "$TMPD/w.small" || fail "curl of small/f100..f199 failed"
for i in $(seq 0 199); do
	[ "$(sha256sum < "$TMPD/dl/small/f$i")" = "$(sha256sum < "$WWW/small/f$i")" ] \
		|| fail "small/f$i differs ($(stat -c %s "$WWW/small/f$i") bytes)"
done
[ "$(grep -c ' 200$' "$TMPD/w.small")" = 200 ] || fail "not 200 answers with status 200"
conns=$(cat "$TMPD/w.big" "$TMPD/w.small" | awk '{ n += $1 } END { print n }')
[ "$conns" -ge 102 ] || fail "curl opened only $conns connections, expected 102"
after=$(counter connections_redirected)
[ $((after - before)) -ge "$conns" ] || fail "only $((after - before)) of $conns curl connections were redirected"
# The big file goes by shunt's path: redirected until 4 MiB are queued
# unread, then (nginx's sendfile barely pauses, so it rarely resumes) detoured
# over TCP.  Both counters together see nearly all of it: bytes the kernel
# pushes after a failed push skip the verdict (README, flow control), 2-7 MB
# of 200 MiB in practice, so require 90%, and the first 3 MiB redirected.
[ $((bytes + detoured)) -ge $((180 << 20)) ] \
	|| fail "big file: only $bytes bytes redirected + $detoured detoured of $((200 << 20))"
[ "$bytes" -ge $((3 << 20)) ] || fail "big file: only $bytes bytes redirected (detoured: $detoured)"

before=$(counter connections_redirected)
in_ns "$NSA" "$CGA" wrk -t 2 -c 4 -d 3s "$URL/small/f150" > "$TMPD/wrk.log" 2>&1 || fail "wrk failed"
cat "$TMPD/wrk.log" >&2
rate=$(awk '/^Requests\/sec:/ { print int($2) }' "$TMPD/wrk.log")
[ "${rate:-0}" -gt 0 ] || fail "wrk: no requests/s"
grep -q 'Socket errors' "$TMPD/wrk.log" && fail "wrk: socket errors"
grep -q 'Non-2xx' "$TMPD/wrk.log" && fail "wrk: non-2xx answers"
after=$(counter connections_redirected)
[ $((after - before)) -ge 4 ] || fail "only $((after - before)) of 4 wrk connections were redirected"
log "bytes redirected: $(counter bytes_redirected), detoured: $(counter bytes_detoured)"
echo "nginx ok"
