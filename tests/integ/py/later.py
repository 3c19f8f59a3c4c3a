#!/usr/bin/env python3
"""Connect now, send later: later.py server ADDR PORT | client ADDR PORT TRIGGER BYTES.

The client connects, prints "connected", waits until the file TRIGGER
exists, then sends BYTES of a seeded pattern, shuts its sending side down
and reads the server's reply: the sha256 of what the server read.  Exit 0
only if that matches what was sent.  Lets a test act (an upgrade) between a
connection's setup and its first byte.
"""
import hashlib, os, random, socket, sys, time

role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

if role == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    h = hashlib.sha256()
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
    c.sendall(h.hexdigest().encode())
    c.close()
    sys.exit(0)

trigger, n = sys.argv[4], int(sys.argv[5])
s = socket.create_connection((addr, port), timeout=60)
print("connected", flush=True)
deadline = time.time() + 60
while not os.path.exists(trigger):
    if time.time() > deadline:
        sys.exit("later: trigger never came")
    time.sleep(0.02)
data = random.Random(7).randbytes(n)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reply = b""
while len(reply) < 64:
    b = s.recv(64 - len(reply))
    if not b:
        break
    reply += b
if reply.decode() != hashlib.sha256(data).hexdigest():
    sys.exit("later: the server read different bytes")
print("ok", flush=True)
