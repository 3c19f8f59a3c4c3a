#!/usr/bin/env python3
"""Many concurrent connections: many.py server ADDR PORT N | client ADDR PORT N.

The client opens N connections and keeps them all open, then sends a
16-byte record (its index) on each and reads it back from the echoing
server, all connections still open; prints "ok N".
"""
import resource, selectors, socket, sys

role, addr, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1024, n + 1024))

if role == "server":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("ready", flush=True)
    served = 0
    while served < n:
        for key, _ in sel.select(30):
            if key.fileobj is ls:
                try:
                    while True:
                        c, _ = ls.accept()
                        c.setblocking(False)
                        sel.register(c, selectors.EVENT_READ)
                except BlockingIOError:
                    pass
                continue
            c = key.fileobj
            d = c.recv(16)
            if d:
                c.sendall(d)            # 16 bytes always fit
            else:
                sel.unregister(c)
                c.close()
                served += 1
    sys.exit(0)

socks = []
for i in range(n):
    socks.append(socket.create_connection((addr, port)))
for i, s in enumerate(socks):
    s.sendall(b"%016d" % i)
for i, s in enumerate(socks):
    got = b""
    while len(got) < 16:
        d = s.recv(16 - len(got))
        if not d:
            sys.exit("connection %d: EOF" % i)
        got += d
    if got != b"%016d" % i:
        sys.exit("connection %d: got %r" % (i, got))
print("ok", len(socks), flush=True)
for s in socks:
    s.close()
