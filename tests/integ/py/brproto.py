#!/usr/bin/env python3
"""Speak the bridge's wire protocol by hand (user/lib/bridge.h), as a guest
that tries what it must not: tests/integ/t_bridge_reject.sh.

  brproto.py open UNIX_PATH DST_VM NETWORK ADDR PORT [--src VM] [--raw HEX]
      sends one OPEN (or raw bytes) and prints the reply's status name, or
      "closed" if the other side closed without replying.
  brproto.py list UNIX_PATH
      sends one LIST and prints the endpoint list the relay answered.
  brproto.py oldrelay UNIX_PATH LIST_FILE VM
      plays a relay from before WATCH (t_bridge_watch): answers LIST with
      LIST_FILE's text as VM, anything else with bad_header; prints "ready",
      then a line per request ("LIST" or "refused TYPE").
"""
import os
import socket
import struct
import sys

MAGIC, VERSION, OPEN, LIST = 0x53484252, 1, 1, 2
BAD_HEADER = 6
STATUS = ["ok", "refused", "unreachable", "unknown_vm", "not_endpoint",
          "network", "bad_header", "dst_down"]


def header(dst, net, addr, port, src=b""):
    if ":" in addr:
        fam, a = 6, socket.inet_pton(socket.AF_INET6, addr)
    else:
        fam, a = 4, socket.inet_pton(socket.AF_INET, addr) + bytes(12)
    return struct.pack("!IBBBBHH16s32s32s32s4s", MAGIC, VERSION, OPEN, fam, 0,
                       port, 0, a, dst.encode(), net.encode(), src, b"")


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            break
        b += d
    return b


def reply(status, body=b"", vm=b""):
    return struct.pack("!IBBHII32s", MAGIC, VERSION, status, 0, len(body), 0, vm) + body


def list_cmd(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(struct.pack("!IBBBBHH16s32s32s32s4s", MAGIC, VERSION, LIST, 0, 0, 0, 0,
                          b"", b"", b"", b"", b""))
    magic, ver, status, _, n, _, _ = struct.unpack("!IBBHII32s", recv_exact(s, 48))
    assert magic == MAGIC and status == 0, status
    sys.stdout.write(recv_exact(s, n).decode())


def oldrelay(path, list_file, vm):
    body = open(list_file, "rb").read()
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        c.settimeout(5)
        h = recv_exact(c, 128)
        if len(h) == 128 and h[5] == LIST:
            print("LIST", flush=True)
            c.sendall(reply(0, body, vm.encode()))
        elif len(h) == 128:
            print("refused", h[5], flush=True)
            c.sendall(reply(BAD_HEADER))
        c.close()


def main():
    args = sys.argv[1:]
    if args[0] == "list":
        return list_cmd(args[1])
    if args[0] == "oldrelay":
        return oldrelay(*args[1:4])
    if args[0] != "open":
        sys.exit("usage: brproto.py open PATH DST_VM NETWORK ADDR PORT [--src VM] [--raw HEX]")
    path, dst, net, addr, port = args[1:6]
    src, raw = b"", None
    rest = args[6:]
    while rest:
        if rest[0] == "--src":
            src = rest[1].encode()
        elif rest[0] == "--raw":
            raw = bytes.fromhex(rest[1])
        rest = rest[2:]
    h = raw if raw is not None else header(dst, net, addr, int(port), src)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(h)
    r = recv_exact(s, 48)
    if len(r) < 48:
        print("closed")
        return
    magic, ver, status, _, _, _, _ = struct.unpack("!IBBHII32s", r)
    assert magic == MAGIC and ver == VERSION, r
    print(STATUS[status] if status < len(STATUS) else "status%d" % status)


main()
