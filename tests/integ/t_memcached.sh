#!/bin/bash
# A real application across partitions: memcached in B, libmemcached's
# memccp/memccat in A.  100 random binary values of 1 B to 512 KiB are stored,
# read back one connection per key and all at once, and compared byte for
# byte; shunt's counters prove the connections were redirected.
source "$(dirname "$0")/lib.sh"
command -v memcached >/dev/null || skip "memcached not installed (scripts/deps.sh)"
command -v memccp >/dev/null || skip "memccp not installed (libmemcached-tools, scripts/deps.sh)"
pair_setup
# lib.sh's cleanup checks cgroup.procs with -s (cgroupfs files have size 0),
# so it can rmdir CGB before the killed server has exited, leaving the cgroup
# behind: empty CGB first, on any exit.

bg "$NSB" "$CGB" "$TMPD/memcached.log" memcached -u nobody -l 10.10.0.2 -p 11211 -m 256 -U 0
S=--servers=10.10.0.2:11211
for i in $(seq 100); do
	in_ns "$NSA" "$CGA" memcping "$S" 2>/dev/null && break
	[ $i -lt 100 ] || { cat "$TMPD/memcached.log" >&2; fail "memcached did not answer"; }
	sleep 0.05
done
mc() { in_ns "$NSA" "$CGA" "$@" "$S"; }

mkdir "$TMPD/v" "$TMPD/g"
sizes=(1 2 63 64 65 1000 1023 1024 1025 4095 4096 4097 65535 65536 65537 100000 262144 524287 524288)
files=()
for i in $(seq 0 99); do
	if [ $i -lt ${#sizes[@]} ]; then n=${sizes[$i]}; else n=$(( (RANDOM * 32768 + RANDOM) % 524288 + 1 )); fi
	head -c "$n" /dev/urandom > "$TMPD/v/key$i"
	files+=("$TMPD/v/key$i")
done

before=$(counter connections_redirected)
mc memcflush || fail "memcflush failed"
mc memccp --set "${files[@]}" || fail "memccp failed"		# key = file name
for i in $(seq 0 99); do
	mc memccat --file="$TMPD/g/key$i" "key$i" || fail "memccat key$i failed"
	cmp -s "$TMPD/v/key$i" "$TMPD/g/key$i" || fail "key$i: value read back differs ($(stat -c %s "$TMPD/v/key$i") bytes)"
done
keys=()
for i in $(seq 0 99); do keys+=("key$i"); done
mc memccat "${keys[@]}" > "$TMPD/all" || fail "memccat of all keys failed"
for f in "${files[@]}"; do cat "$f"; echo; done > "$TMPD/expect"	# memccat ends each value with \n
cmp -s "$TMPD/all" "$TMPD/expect" || fail "the 100 values read in one connection differ"
after=$(counter connections_redirected)
# memcflush, memccp, 100 memccat, one memccat of all keys.
[ $((after - before)) -ge 103 ] || fail "only $((after - before)) of 103 client connections were redirected"

items=$(printf 'stats\r\nquit\r\n' | in_ns "$NSA" "$CGA" python3 -c '
import socket, sys
s = socket.create_connection(("10.10.0.2", 11211))
s.sendall(sys.stdin.buffer.read())
buf = b""
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
for l in buf.decode().split("\r\n"):
    if l.startswith("STAT curr_items "): print(l.split()[2])
')
[ "$items" = 100 ] || fail "memcached holds $items items, not 100"
log "bytes redirected: $(counter bytes_redirected), detoured: $(counter bytes_detoured)"
echo "memcached ok"
