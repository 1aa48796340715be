#!/usr/bin/env python3
"""corpus-peer.py - the servers and clients behind scripts/make-test-corpus.sh.

  corpus-peer.py serve SECONDS        TCP "hello" server on 8080 and 22, UDP echo on 7777,
                                      DNS on 53 (UDP and TCP); every socket dual-stack (::);
                                      ends by itself after SECONDS
  corpus-peer.py tcp HOST PORT [N]    connect, send a request, read the N-byte answer, close
  corpus-peer.py udp HOST PORT        one datagram, wait up to 1 s for the echo
  corpus-peer.py dns HOST NAME TYPE [tcp]   one DNS query (A, AAAA or TXT), over UDP or TCP

Every wait is bounded.  Only the addresses given on the command line are contacted.
"""
import select
import socket
import struct
import sys
import time

ZONE = {
    ("web.corpus.test", 1): [bytes([192, 0, 2, 2])],
    ("web.corpus.test", 28): [socket.inet_pton(socket.AF_INET6, "2001:db8:7::2")],
    ("corpus.test", 16): [b"\x0bcorpus-test"],
}


def qname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_question(msg):
    i, labels = 12, []
    while msg[i]:
        labels.append(msg[i + 1 : i + 1 + msg[i]].decode())
        i += msg[i] + 1
    qtype, _ = struct.unpack("!HH", msg[i + 1 : i + 5])
    return ".".join(labels), qtype, msg[12 : i + 5]


def answer(msg):
    name, qtype, question = parse_question(msg)
    rdatas = ZONE.get((name.lower(), qtype), [])
    rcode = 0 if rdatas or any(k[0] == name.lower() for k in ZONE) else 3
    flags = 0x8400 | (msg[2] & 1) << 8 | rcode  # QR AA, RD copied
    head = msg[:2] + struct.pack("!HHHHH", flags, 1, len(rdatas), 0, 0)
    body = b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(r)) + r for r in rdatas
    )
    return head + question + body


def serve(seconds):
    def sock(kind, port):
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", port))
        if kind == socket.SOCK_STREAM:
            s.listen(8)
        return s

    tcp = {sock(socket.SOCK_STREAM, 8080): "hello", sock(socket.SOCK_STREAM, 22): "hello"}
    dns_tcp = sock(socket.SOCK_STREAM, 53)
    dns_udp = sock(socket.SOCK_DGRAM, 53)
    echo = sock(socket.SOCK_DGRAM, 7777)
    end = time.monotonic() + seconds
    print("listening", flush=True)
    while time.monotonic() < end:
        ready = select.select(list(tcp) + [dns_tcp, dns_udp, echo], [], [], 0.2)[0]
        for s in ready:
            if s is echo:
                d, peer = s.recvfrom(65535)
                s.sendto(d, peer)
            elif s is dns_udp:
                d, peer = s.recvfrom(65535)
                s.sendto(answer(d), peer)
            else:
                c, _ = s.accept()
                c.settimeout(2)
                try:
                    if s is dns_tcp:
                        n = struct.unpack("!H", c.recv(2))[0]
                        q = b""
                        while len(q) < n:
                            q += c.recv(n - len(q))
                        a = answer(q)
                        c.sendall(struct.pack("!H", len(a)) + a)
                    else:
                        req = c.recv(4096)
                        want = int(req.split()[1]) if req.startswith(b"GET ") else 64
                        c.sendall(b"".join(b"%07d corpus line\n" % i for i in range(want // 20 + 1))[:want])
                    c.shutdown(socket.SHUT_WR)
                    c.recv(1)
                except (OSError, ValueError, IndexError, struct.error):
                    pass
                c.close()


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp(host, port, n=600):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        print("refused")
        return
    s.sendall(b"GET %d corpus\r\n" % n)
    got = 0
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += len(d)
    s.close()
    print("read", got)


def udp(host, port):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(1)
    s.sendto(b"packetlab test corpus datagram\n", (host, port))
    try:
        s.recvfrom(65535)
        print("echoed")
    except OSError as e:  # ConnectionRefused: the ICMP port unreachable came back
        print("no echo:", e)


def dns(host, name, qtype, over_tcp=False):
    types = {"A": 1, "AAAA": 28, "TXT": 16}
    q = struct.pack("!HHHHHH", 0x1234 + types[qtype], 0x0100, 1, 0, 0, 0)
    q += qname(name) + struct.pack("!HH", types[qtype], 1)
    if over_tcp:
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect((host, 53))
        s.sendall(struct.pack("!H", len(q)) + q)
        n = struct.unpack("!H", s.recv(2))[0]
        a = b""
        while len(a) < n:
            a += s.recv(n - len(a))
        s.close()
    else:
        s = socket.socket(family(host), socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(q, (host, 53))
        a = s.recvfrom(65535)[0]
    print("answer", len(a), "bytes")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        serve(float(args[0]))
    elif cmd == "tcp":
        tcp(args[0], int(args[1]), *(int(a) for a in args[2:]))
    elif cmd == "udp":
        udp(args[0], int(args[1]))
    elif cmd == "dns":
        dns(args[0], args[1], args[2], len(args) > 3 and args[3] == "tcp")
    else:
        sys.exit(__doc__)
