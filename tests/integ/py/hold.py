#!/usr/bin/env python3
"""A connection held open with known bytes in it, for `shunt conns`:
hold.py server ADDR PORT READ TRIGGER | client ADDR PORT SEND TRIGGER.

The client connects, sends SEND bytes of a seeded pattern, prints "sent"
and waits until the file TRIGGER exists; then it shuts its sending side
down and waits for the server's verdict.  The server reads READ bytes,
prints "read", waits for TRIGGER, reads the rest, and replies "ok" only if
every byte matched the pattern (in order, once).  So while both wait, the
test knows each direction's bytes: SEND sent, SEND - READ not yet read.
"""
import os, random, socket, sys, time

role, addr, port, n, trigger = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
pattern = random.Random(7).randbytes(1 << 20)


def wait_trigger():
    while not os.path.exists(trigger):
        time.sleep(0.02)


doubled = pattern + pattern


def expect(buf, off):
    start = off % len(pattern)
    return buf == doubled[start:start + len(buf)]   # recv chunks are at most 64 KiB


if role == "server":
    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    got, ok = 0, True
    while got < n:
        b = c.recv(min(1 << 16, n - got))
        if not b:
            break
        ok = ok and expect(b, got)
        got += len(b)
    print("read", got, flush=True)
    wait_trigger()
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        ok = ok and expect(b, got)
        got += len(b)
    c.sendall(b"ok %d" % got if ok else b"bad %d" % got)
    c.close()
    sys.exit(0)

s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.connect((addr, port))
off = 0
while off < n:
    k = min(len(pattern) - off % len(pattern), n - off)
    s.sendall(pattern[off % len(pattern):off % len(pattern) + k])
    off += k
print("sent", off, flush=True)
wait_trigger()
s.shutdown(socket.SHUT_WR)
reply = s.recv(64)
print(reply.decode(), flush=True)
sys.exit(0 if reply == b"ok %d" % n else 1)
