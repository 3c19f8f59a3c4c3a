#!/usr/bin/env python3
"""Traffic shapes the bridge's tests need beyond shunt-traffic: a writer
killed mid-stream, a stalled reader, a half-close from the server side,
what the application sees of the addresses.  Every byte is a position-
derived pattern, checked by the reader.

  flow.py sink ADDR PORT                 read to the end: "ended: eof|reset N"
  flow.py source ADDR PORT               write until the connection ends:
                                         "ended: reset|epipe|eof N SECS"
  flow.py stall-server ADDR PORT SECS    accept, read nothing for SECS, then
                                         read and check to EOF: "got N ok"
  flow.py stall-client ADDR PORT BYTES   write BYTES; print how much went
                                         before the writer blocked: "blocked N"
  flow.py rhalf-server ADDR PORT BYTES   send BYTES, shut down first, then
                                         read and check BYTES to EOF: "ok"
  flow.py rhalf-client ADDR PORT BYTES   read and check BYTES to EOF, then
                                         send BYTES and shut down: "ok"
  flow.py hc-reset ADDR PORT             send 1000 bytes, shut down, then reset
                                         (SO_LINGER 0 close) a second later
  flow.py hc-watch ADDR PORT             read the 1000 bytes to EOF, then wait up
                                         to 10 s for the reset: "reset seen" or
                                         "no reset"
  flow.py names ADDR PORT                "peer A P" and "sock A P" of a connect
  flow.py first-read ADDR PORT           connect, write, read: "read: ERR"
Servers print "ready" once listening.
"""
import errno
import select
import socket
import struct
import sys
import time

BLOCK = bytes((i * 131 + 7) & 255 for i in range(2 * 65536))


def pattern(off, n):
    o = off % 65536
    return BLOCK[o:o + n]


def check(data, off):
    if data != pattern(off, len(data)):
        sys.exit("data mismatch at offset %d" % off)


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    print("ready", flush=True)
    c, peer = s.accept()
    print("accepted from %s %d" % (peer[0], peer[1]), flush=True)
    return c


def dial(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect((addr, port))
    return s


def read_all(c, limit=None):
    got = 0
    while True:
        d = c.recv(65536)
        if not d:
            return got
        check(d, got)
        got += len(d)
        if limit is not None and got > limit:
            sys.exit("more than %d bytes" % limit)


def send(c, off, n):
    while n:
        k = min(n, 65536)
        c.sendall(pattern(off, k))
        off += k
        n -= k


def ended(e):
    if isinstance(e, ConnectionResetError) or getattr(e, "errno", 0) == errno.ECONNRESET:
        return "reset"
    if isinstance(e, BrokenPipeError):
        return "epipe"
    return "error %s" % e


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    if mode == "sink":
        c = listen(addr, port)
        got = 0
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    print("ended: eof %d" % got, flush=True)
                    return
                check(d, got)
                got += len(d)
        except OSError as e:
            print("ended: %s %d" % (ended(e), got), flush=True)
    elif mode == "source":
        c = dial(addr, port)
        c.settimeout(None)
        off, t0 = 0, time.time()
        print("connected", flush=True)
        try:
            while True:
                c.sendall(pattern(off, 65536))
                off += 65536
        except OSError as e:
            print("ended: %s %d %.1f" % (ended(e), off, time.time() - t0), flush=True)
    elif mode == "stall-server":
        c = listen(addr, port)
        time.sleep(float(arg))
        print("got %d ok" % read_all(c), flush=True)
    elif mode == "stall-client":
        total = int(arg)
        c = dial(addr, port)
        c.setblocking(False)
        off, last = 0, time.time()
        while off < total and time.time() - last < 3:
            try:
                off += c.send(pattern(off, min(65536, total - off)))
                last = time.time()
            except BlockingIOError:
                time.sleep(0.01)
        print("blocked %d" % off, flush=True)
        c.setblocking(True)
        send(c, off, total - off)
        c.shutdown(socket.SHUT_WR)
        if c.recv(1):
            sys.exit("unexpected data")
        print("sent %d" % total, flush=True)
    elif mode == "rhalf-server":
        n = int(arg)
        c = listen(addr, port)
        send(c, 0, n)
        c.shutdown(socket.SHUT_WR)
        got = read_all(c)
        if got != n:
            sys.exit("server got %d of %d" % (got, n))
        print("ok", flush=True)
    elif mode == "rhalf-client":
        n = int(arg)
        c = dial(addr, port)
        got = read_all(c)
        if got != n:
            sys.exit("client got %d of %d" % (got, n))
        send(c, 0, n)       # the other direction still flows after the EOF
        c.shutdown(socket.SHUT_WR)
        print("ok", flush=True)
    elif mode == "hc-reset":
        c = dial(addr, port)
        send(c, 0, 1000)
        c.shutdown(socket.SHUT_WR)
        time.sleep(1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        print("reset sent", flush=True)
    elif mode == "hc-watch":
        c = listen(addr, port)
        got = read_all(c)
        if got != 1000:
            sys.exit("got %d of 1000" % got)
        p = select.poll()
        p.register(c, 0)        # POLLERR and POLLHUP only: EOF is readable for good
        t0 = time.time()
        ev = p.poll(10000)
        print("reset seen after %.1f s" % (time.time() - t0) if ev else "no reset", flush=True)
    elif mode == "names":
        c = dial(addr, port)
        p, s = c.getpeername(), c.getsockname()
        print("peer %s %d" % (p[0], p[1]))
        print("sock %s %d" % (s[0], s[1]), flush=True)
        c.close()
    elif mode == "first-read":
        c = dial(addr, port)
        print("connected", flush=True)
        try:
            c.sendall(b"x" * 100)
            d = c.recv(100)
            print("read: eof" if not d else "read: data", flush=True)
        except OSError as e:
            print("read: %s" % ended(e), flush=True)
    else:
        sys.exit(__doc__)


main()
