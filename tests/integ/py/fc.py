#!/usr/bin/env python3
"""Flow-control probe for t_flowcontrol: a writer and a reader that stalls.

  fc.py server ADDR PORT TOTAL STALL_S [slow|bursty]   accept one connection,
      do not read for STALL_S seconds, then read TOTAL bytes (slow: 1 KiB per
      ms; bursts: after every 8 MiB read, answer one byte, then sleep 0.2 s), verify every
      byte, print "ok <sha256>".  FC_RCVBUF=N in the environment: SO_RCVBUF N.
  fc.py client ADDR PORT TOTAL STALL_S block|nonblock [bursts]
      write TOTAL bytes of the pattern; print how much had been accepted by
      the kernel when the reader started ("queued N"), then "ok <sha256>".
"""
import hashlib, os, select, socket, sys, threading, time

PAT = bytes((i * 151 + 7) & 0xff for i in range(251)) * 600   # 150600 bytes


def chunk(off, n):
    s = off % 251
    return PAT[s:s + n]


def server(addr, port, total, stall, pace):
    slow = pace == "slow"
    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if os.environ.get("FC_RCVBUF"):        # inherited by the accepted socket
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(os.environ["FC_RCVBUF"]))
    ls.bind((addr, port))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    time.sleep(stall)
    print("reading", flush=True)
    h, off = hashlib.sha256(), 0
    while off < total:
        d = c.recv(1024 if slow else 65536)
        if not d:
            sys.exit("server: EOF after %d of %d bytes" % (off, total))
        if d != chunk(off, len(d)):
            sys.exit("server: wrong data at offset %d" % off)
        h.update(d)
        if pace == "bursts" and (off + len(d)) >> 23 != off >> 23:
            c.sendall(b"k")     # the writer waits for this before its next burst
            time.sleep(0.2)     # and queues all of it while we sleep
        off += len(d)
        if slow:
            time.sleep(0.001)
    if c.recv(1):
        sys.exit("server: data after %d bytes" % total)
    print("ok", h.hexdigest(), flush=True)


def client(addr, port, total, stall, mode, pace=""):
    c = socket.create_connection((addr, port))
    c.setblocking(mode == "block")
    h, state = hashlib.sha256(), {"off": 0}
    # What the kernel had accepted while nobody read (a blocking send() in
    # progress is not counted yet: less than one 64 KiB write).
    t = threading.Timer(stall * 0.9, lambda: print("queued", state["off"], flush=True))
    t.start()
    while state["off"] < total:
        off = state["off"]
        n = min(65536, total - off)
        if pace == "bursts":            # end each burst on its boundary, so
            n = min(n, (((off >> 23) + 1) << 23) - off)   # the ack means "all read"
        try:
            sent = c.send(chunk(off, n))
        except BlockingIOError:
            select.select([], [c], [], 30)      # must wake when the reader drains
            continue
        h.update(chunk(off, sent))
        state["off"] = off + sent
        if pace == "bursts" and (off + sent) >> 23 != off >> 23:
            # Wait for the reader to have it all, with poll: a blocking read
            # here would be a second t_blocking_duplex (the ACKs of our
            # detoured bytes wake it with nothing queued: tcp_bpf_recvmsg
            # EAGAIN, README Limitations), not a flow-control check.
            c.setblocking(False)
            while True:
                select.select([c], [], [], 30)
                try:
                    k = c.recv(1)
                    break
                except BlockingIOError:
                    continue            # woken with nothing queued yet
            if k != b"k":
                sys.exit("client: no burst ack")
            c.setblocking(mode == "block")
    t.join()
    c.shutdown(socket.SHUT_WR)
    c.setblocking(True)
    if c.recv(1):
        sys.exit("client: unexpected data")
    print("ok", h.hexdigest(), flush=True)


if __name__ == "__main__":
    role, addr, port, total, stall = sys.argv[1:6]
    args = (addr, int(port), int(total), float(stall))
    if role == "server":
        server(*args, sys.argv[6] if len(sys.argv) > 6 else "")
    else:
        client(*args, sys.argv[6], sys.argv[7] if len(sys.argv) > 7 else "")
