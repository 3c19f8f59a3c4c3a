#!/usr/bin/env python3
"""TCP semantics that applications rely on, probed over one transport.

  semantics.py server ADDR PORT     serves the scripted peer side of every case
  semantics.py client ADDR PORT     runs every case, prints "CASE ok|FAIL why"

Each case uses a fresh connection; the client announces the case name in a
first line, then both sides follow the case's script.  Run once over plain
TCP and once over shunt: a case that passes on TCP must pass on shunt.
"""
import array, fcntl, os, select, socket, struct, sys, termios, time

SIOCINQ = termios.FIONREAD
PAT = bytes(range(256)) * 4096          # 1 MiB pattern


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError("EOF after %d of %d" % (len(b), n))
        b += d
    return b


def settle():
    time.sleep(0.2)


# --- server side: one handler per case --------------------------------------
def srv_send_after(c, n=1000, delay=0.0):
    time.sleep(delay)
    c.sendall(PAT[:n])


def serve_case(c, case):
    if case in ("epoll_lt", "epoll_et", "poll", "select", "fionread", "peek"):
        srv_send_after(c, 1000, 0.3)
        recv_exact(c, 1)                # client says done
    elif case == "rcvlowat":
        srv_send_after(c, 500, 0.3)     # below the reader's SO_RCVLOWAT ...
        time.sleep(0.3)
        c.sendall(PAT[500:1000])        # ... and reaching it
        recv_exact(c, 1)
    elif case == "waitall":
        for i in range(4):              # 4 x 25000 with gaps
            c.sendall(PAT[i * 25000:(i + 1) * 25000])
            time.sleep(0.05)
        recv_exact(c, 1)
    elif case in ("sendfile", "writev"):
        n = struct.unpack("!Q", recv_exact(c, 8))[0]
        got = recv_exact(c, n)
        c.sendall(b"ok" if got == (PAT * (n // len(PAT) + 1))[:n] else b"no")
    elif case == "splice_in":
        n = struct.unpack("!Q", recv_exact(c, 8))[0]
        got = recv_exact(c, n)
        c.sendall(b"ok" if got == (PAT * 16)[:n] else b"no")
    elif case == "splice_out":
        c.sendall(PAT)                  # 1 MiB, read by the client with splice()
        recv_exact(c, 1)
    elif case == "close_unread":
        recv_exact(c, 1)                # then close with data unread below
        settle()
        c.close()
        return
    elif case == "scm_rights":
        recv_exact(c, 5)
        c.sendall(b"reply")
        recv_exact(c, 5)
        c.sendall(b"again")
    c.close()


def server(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        line = b""
        while not line.endswith(b"\n"):
            d = c.recv(1)
            if not d:
                break
            line += d
        case = line.decode().strip()
        if case == "quit":
            return
        if case == "close_unread":
            c.sendall(b"x")
            # peer writes 100 KB we never read, then we close: TCP sends RST
        try:
            serve_case(c, case)
        except Exception as e:                         # noqa: BLE001
            print("server", case, e, file=sys.stderr, flush=True)


# --- client side ------------------------------------------------------------
def conn(addr, port, case):
    s = socket.create_connection((addr, port))
    s.sendall(case.encode() + b"\n")
    return s


def c_epoll(s, et):
    ep = select.epoll()
    ep.register(s, select.EPOLLIN | (select.EPOLLET if et else 0))
    if ep.poll(0.1):
        return "readable before data"
    ev = ep.poll(2)
    if not ev:
        return "never readable"
    s.recv(10)                           # read part only
    ev = ep.poll(0.2)
    if not et and not ev:
        return "level-triggered: not readable with 990 bytes left"
    if et and ev:
        return "edge-triggered: fired again without new data"
    return None


def c_poll(s):
    p = select.poll()
    p.register(s, select.POLLIN)
    if p.poll(100):
        return "readable before data"
    if not p.poll(2000):
        return "never readable"
    return None


def c_select(s):
    r, w, _ = select.select([s], [s], [], 0.1)
    if r:
        return "readable before data"
    if not w:
        return "not writable"
    r, _, _ = select.select([s], [], [], 2)
    return None if r else "never readable"


def c_fionread(s):
    settle(); settle()
    buf = array.array("i", [0])
    fcntl.ioctl(s, SIOCINQ, buf)
    return None if buf[0] == 1000 else "FIONREAD says %d, 1000 queued" % buf[0]


def c_peek(s):
    settle(); settle()
    a = s.recv(100, socket.MSG_PEEK)
    b = s.recv(100)
    return None if a == b == PAT[:100] else "MSG_PEEK data differs from the read"


def c_waitall(s):
    d = s.recv(100000, socket.MSG_WAITALL)
    return None if len(d) == 100000 and d == PAT[:100000] else "MSG_WAITALL returned %d of 100000" % len(d)


def c_rcvlowat(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1000)
    p = select.poll()
    p.register(s, select.POLLIN)
    if not p.poll(2000):                 # 500 bytes at 0.3 s, 500 more at 0.6 s
        return "never readable"
    s.setblocking(False)
    d = s.recv(2000)
    return None if len(d) == 1000 else "readable with %d of SO_RCVLOWAT 1000" % len(d)


def c_sendfile(s, n=64 << 20):
    path = "/tmp/shunt-sem-%d" % os.getpid()
    with open(path, "wb") as f:
        f.write((PAT * (n // len(PAT) + 1))[:n])
    s.sendall(struct.pack("!Q", n))
    with open(path, "rb") as f:
        off = 0
        while off < n:
            off += os.sendfile(s.fileno(), f.fileno(), off, n - off)
    os.unlink(path)
    return None if recv_exact(s, 2) == b"ok" else "peer got wrong data"


def c_writev(s):
    iov = [PAT[i * 1000:(i + 1) * 1000] for i in range(1000)]    # 1000 iovecs
    n = sum(len(v) for v in iov)
    s.sendall(struct.pack("!Q", n))
    sent = 0
    while sent < n:
        # sendmsg with many buffers; retry from the right place on partial
        parts, skip = [], sent
        for v in iov:
            if skip >= len(v):
                skip -= len(v)
                continue
            parts.append(v[skip:]); skip = 0
        sent += s.sendmsg(parts[:1024])
    return None if recv_exact(s, 2) == b"ok" else "peer got wrong data"


def c_splice_in(s, n=16 << 20):
    r, w = os.pipe()
    s.sendall(struct.pack("!Q", n))
    data = (PAT * 16)[:n]
    off = 0
    while off < n:
        k = os.write(w, data[off:off + 65536])
        while k:
            k -= os.splice(r, s.fileno(), k)
        off += 65536
    return None if recv_exact(s, 2) == b"ok" else "peer got wrong data"


def c_splice_out(s):
    r, w = os.pipe()
    got = b""
    s.settimeout(3)
    fcntl.fcntl(s, fcntl.F_SETFL, os.O_NONBLOCK)
    t0 = time.time()
    while len(got) < len(PAT) and time.time() - t0 < 3:
        try:
            n = os.splice(s.fileno(), w, 65536)
        except BlockingIOError:
            select.select([s], [], [], 0.1)
            continue
        if n == 0:
            break
        got += os.read(r, n)
    s.setblocking(True)
    if got != PAT[:len(got)]:
        return "splice() read wrong data"
    return None if len(got) == len(PAT) else "splice() read %d of %d bytes" % (len(got), len(PAT))


def c_close_unread(s):
    recv_exact(s, 1)
    s.sendall(b"d" + PAT[:100000])       # the server never reads this
    time.sleep(0.6)
    try:
        d = s.recv(10)
        return "EOF (FIN) where TCP resets" if d == b"" else "unexpected data"
    except ConnectionResetError:
        return None


def c_scm_rights(s, addr, port):
    a, b = socket.socketpair(socket.AF_UNIX)
    pid = os.fork()
    if pid == 0:                         # the child gets the socket and uses it
        a.close()
        msg, anc, _, _ = b.recvmsg(1, socket.CMSG_SPACE(4))
        fd = struct.unpack("i", anc[0][2][:4])[0]
        t = socket.socket(fileno=fd)
        t.sendall(b"hello")
        ok = recv_exact(t, 5) == b"reply"
        os._exit(0 if ok else 1)
    b.close()
    a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", s.fileno()))])
    _, st = os.waitpid(pid, 0)
    if st != 0:
        return "the process that received the socket could not use it"
    s.sendall(b"again")                  # and the sender still can
    return None if recv_exact(s, 5) == b"again" else "original owner broken"


CASES = ["epoll_lt", "epoll_et", "poll", "select", "fionread", "peek", "waitall",
         "rcvlowat", "sendfile", "writev", "splice_in", "splice_out",
         "close_unread", "scm_rights"]


def client(addr, port, only):
    for case in CASES:
        if only and case not in only:
            continue
        s = conn(addr, port, case)
        try:
            f = {"epoll_lt": lambda: c_epoll(s, False), "epoll_et": lambda: c_epoll(s, True),
                 "poll": lambda: c_poll(s), "select": lambda: c_select(s),
                 "fionread": lambda: c_fionread(s), "peek": lambda: c_peek(s),
                 "waitall": lambda: c_waitall(s), "rcvlowat": lambda: c_rcvlowat(s),
                 "sendfile": lambda: c_sendfile(s), "writev": lambda: c_writev(s),
                 "splice_in": lambda: c_splice_in(s), "splice_out": lambda: c_splice_out(s),
                 "close_unread": lambda: c_close_unread(s),
                 "scm_rights": lambda: c_scm_rights(s, addr, port)}[case]
            why = f()
            if why is None and case in ("epoll_lt", "epoll_et", "poll", "select",
                                        "fionread", "peek", "rcvlowat", "waitall",
                                        "splice_out"):
                s.sendall(b"k")
        except Exception as e:                          # noqa: BLE001
            why = "%s: %s" % (type(e).__name__, e)
        print(case, "ok" if why is None else "FAIL " + why, flush=True)
        s.close()
    q = conn(addr, port, "quit")
    q.close()


if __name__ == "__main__":
    role, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        server(addr, port)
    else:
        client(addr, port, sys.argv[4:])
