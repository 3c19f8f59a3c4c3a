#!/usr/bin/env python3
"""A fake VMM that plays Firecracker's side of hybrid vsock
(firecracker docs/vsock.md) for the bridge's tests, with a Unix socket
standing in for the guest's vsock device:

  host -> guest: listens on UDS; a client sends "CONNECT <port>\\n"; we
      connect to the guest's listener for that port (GUEST, for the agent's
      port only: a guest with nothing on a port is a close, as Firecracker
      does), answer "OK <assigned host-side port>\\n", then copy bytes.
  guest -> host: listens on GUEST_<port> for each --guest-port; a guest
      connection there is forwarded to UDS_<port> on the host.

  fakevmm.py UDS GUEST AGENT_PORT RELAY_PORT
It prints "ready" when it listens, and one line per connection.
"""
import os
import socket
import sys
import threading

uds, guest, agent_port, relay_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
next_port = [1073741824]          # Firecracker assigns host-side ports from 2^30
lock = threading.Lock()


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def join(a, b):
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    a.close()
    b.close()


def readline(s):
    line = b""
    while not line.endswith(b"\n") and len(line) < 64:
        c = s.recv(1)
        if not c:
            return None
        line += c
    return line


def host_to_guest(c):
    line = readline(c)
    if not line or not line.startswith(b"CONNECT "):
        c.close()
        return
    port = int(line[8:].strip())
    g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if port != agent_port:
            raise OSError("nothing listens on guest port %d" % port)
        g.connect(guest)
    except OSError as e:
        print("refuse CONNECT %d: %s" % (port, e), flush=True)
        g.close()
        c.close()               # Firecracker: just closed
        return
    with lock:
        next_port[0] += 1
        hp = next_port[0]
    c.sendall(b"OK %d\n" % hp)
    print("host->guest port %d as %d" % (port, hp), flush=True)
    join(c, g)


def guest_to_host(c, port):
    h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        h.connect("%s_%d" % (uds, port))
    except OSError as e:
        print("guest->host port %d: %s" % (port, e), flush=True)
        c.close()
        return
    print("guest->host port %d" % port, flush=True)
    join(c, h)


def serve(path, fn, *args):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(path)
    l.listen(128)
    return l, fn, args


def loop(l, fn, args):
    while True:
        c, _ = l.accept()
        threading.Thread(target=fn, args=(c,) + args, daemon=True).start()


listeners = [serve(uds, host_to_guest), serve("%s_%d" % (guest, relay_port), guest_to_host, relay_port)]
for l, fn, args in listeners[1:]:
    threading.Thread(target=loop, args=(l, fn, args), daemon=True).start()
print("ready", flush=True)
loop(*listeners[0])
