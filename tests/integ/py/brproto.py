#!/usr/bin/env python3
"""Speak the bridge's wire protocol by hand (user/lib/bridge.h), as a guest
that tries what it must not: tests/integ/t_bridge_reject.sh.

  brproto.py open UNIX_PATH DST_VM NETWORK ADDR PORT [--src VM] [--raw HEX]
      sends one OPEN (or raw bytes) and prints the reply's status name, or
      "closed" if the other side closed without replying.
"""
import socket
import struct
import sys

MAGIC, VERSION, OPEN = 0x53484252, 1, 1
STATUS = ["ok", "refused", "unreachable", "unknown_vm", "not_endpoint",
          "network", "bad_header", "dst_down"]


def header(dst, net, addr, port, src=b""):
    if ":" in addr:
        fam, a = 6, socket.inet_pton(socket.AF_INET6, addr)
    else:
        fam, a = 4, socket.inet_pton(socket.AF_INET, addr) + bytes(12)
    return struct.pack("!IBBBBHH16s32s32s32s4s", MAGIC, VERSION, OPEN, fam, 0,
                       port, 0, a, dst.encode(), net.encode(), src, b"")


def main():
    args = sys.argv[1:]
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
    r = b""
    while len(r) < 48:
        b = s.recv(48 - len(r))
        if not b:
            break
        r += b
    if len(r) < 48:
        print("closed")
        return
    magic, ver, status, _, _, _, _ = struct.unpack("!IBBHII32s", r)
    assert magic == MAGIC and ver == VERSION, r
    print(STATUS[status] if status < len(STATUS) else "status%d" % status)


main()
