#!/usr/bin/env python3
"""Write a realistic, deterministic synthetic pcap for benchmarks.

    scripts/gen-capture.py target/bench/1m.pcap            # 1,000,000 packets, ~180 MB
    scripts/gen-capture.py -n 100000 -s 7 target/bench/100k.pcap

The traffic is a few hundred interleaved "conversations" at any moment, each a small state
machine that yields its frames in order:

- TCP over IPv4 and IPv6 (IPv6 for about 1 flow in 4): SYN / SYN-ACK / ACK with MSS, SACK-permitted,
  window scale and timestamp options; requests and responses of varied sizes (TLS-looking records
  on 443, HTTP/1.1 on 80, opaque bytes on other ports), delayed ACKs, and a FIN exchange or an RST
  at the end (a few flows never finish, as in a real capture cut at an arbitrary moment);
- UDP: DNS queries and responses (A / AAAA, with answers, some NXDOMAIN), NTP, syslog;
- ICMP echo request / reply (and ICMPv6 echo), ARP who-has / is-at.

Every IPv4 header checksum and every TCP / UDP / ICMP checksum is correct. Timestamps are
microseconds, increasing, starting at 2024-01-01. The same seed always gives the same bytes.
Standard library only; about 6 s per million packets on one core.
"""

import argparse
import os
import random
import struct
import sys

LINKTYPE_ETHERNET = 1
START_TS = 1_704_067_200  # 2024-01-01T00:00:00Z

PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET)
REC = struct.Struct("<IIII")
TCP_HDR = struct.Struct("!HHIIBBHHH")
UDP_HDR = struct.Struct("!HHHH")
IP4_HDR = struct.Struct("!BBHHHBBH4s4s")
IP6_HDR = struct.Struct("!IHBB16s16s")
TSOPT = struct.Struct("!BBBBII")

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum_sum(data):
    """Ones' complement sum of 16-bit big-endian words, folded (0 .. 0xfffe).

    A base-65536 number is congruent to the sum of its digits modulo 65535, so one big-integer
    conversion does the whole sum in C.
    """
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def finish(s):
    """The checksum field for a folded sum."""
    return (~s) & 0xFFFF


class Host:
    __slots__ = ("mac", "ip4", "ip6")

    def __init__(self, mac, ip4, ip6):
        self.mac = mac
        self.ip4 = ip4
        self.ip6 = ip6


class Gen:
    def __init__(self, seed, count):
        self.rng = random.Random(seed)
        rng = self.rng
        self.count = count
        self.blob = rng.randbytes(1 << 20)
        self.blob_len = len(self.blob)
        # A LAN of clients behind one gateway, talking to servers out on the internet.
        self.gw_mac = bytes.fromhex("00163e5a0001")
        self.clients = []
        for i in range(120):
            mac = bytes([0x02, 0x42, 0xAC, 0x10, i >> 8, i & 0xFF])
            ip4 = bytes([192, 168, 1, 10 + i])
            ip6 = bytes.fromhex("20010db800a00001") + struct.pack("!Q", 0x1000 + i)
            self.clients.append(Host(mac, ip4, ip6))
        self.servers = []
        for i in range(400):
            ip4 = bytes([rng.choice((23, 34, 52, 93, 104, 142, 151, 172, 185, 203)),
                         rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])
            ip6 = bytes.fromhex("2a00145040010800") + struct.pack("!Q", rng.getrandbits(64))
            self.servers.append(Host(self.gw_mac, ip4, ip6))
        self.resolver = Host(self.gw_mac, bytes([192, 168, 1, 1]),
                             bytes.fromhex("20010db800a00001") + struct.pack("!Q", 1))
        self.names = [
            "example.com", "www.example.org", "api.github.com", "cdn.jsdelivr.net",
            "fonts.gstatic.com", "update.rust-lang.org", "static.crates.io", "index.crates.io",
            "deb.debian.org", "security.ubuntu.com", "ntp.ubuntu.com", "mail.example.net",
            "login.microsoftonline.com", "www.wikipedia.org", "upload.wikimedia.org",
            "s3.eu-west-1.amazonaws.com", "registry.npmjs.org", "pypi.org", "files.pythonhosted.org",
            "ocsp.digicert.com", "time.cloudflare.com", "doesnotexist.invalid",
            "telemetry.example.io", "a.very.long.subdomain.name.for.testing.example.com",
        ]
        self.qnames = [self.encode_name(n) for n in self.names]
        self.ts_us = 0
        self.ip_id = rng.randrange(65536)
        self.next_port = 32768

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def encode_name(name):
        out = bytearray()
        for label in name.split("."):
            out.append(len(label))
            out += label.encode()
        out.append(0)
        return bytes(out)

    def payload(self, n):
        off = self.rng.randrange(self.blob_len - n) if n < self.blob_len else 0
        return self.blob[off:off + n]

    def ephemeral(self):
        p = self.next_port
        self.next_port = 32768 if p >= 60999 else p + 1
        return p

    def ipid(self):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id

    # ---------------------------------------------------------------- frames

    def l3(self, v6, src, dst, proto, l4_no_csum, l4_payload, csum_off, hop):
        """Ethernet + IP header around an L4 segment whose checksum field (at `csum_off`) is 0."""
        seg_len = len(l4_no_csum) + len(l4_payload)
        if v6:
            pseudo = src.ip6 + dst.ip6 + struct.pack("!IxxxB", seg_len, proto)
        else:
            pseudo = src.ip4 + dst.ip4 + struct.pack("!xBH", proto, seg_len)
        c = finish(csum_sum(pseudo + l4_no_csum + l4_payload))
        if proto == 17 and c == 0:
            c = 0xFFFF
        l4 = l4_no_csum[:csum_off] + struct.pack("!H", c) + l4_no_csum[csum_off + 2:]
        if v6:
            eth = dst.mac + src.mac + b"\x86\xdd"
            ip = IP6_HDR.pack(0x60000000 | (hop[1] & 0xFFFFF), seg_len, proto, hop[0],
                              src.ip6, dst.ip6)
        else:
            eth = dst.mac + src.mac + b"\x08\x00"
            total = 20 + seg_len
            hdr = IP4_HDR.pack(0x45, 0, total, self.ipid(), 0x4000, hop[0], proto, 0,
                               src.ip4, dst.ip4)
            ip = hdr[:10] + struct.pack("!H", finish(csum_sum(hdr))) + hdr[12:]
        return eth + ip + l4 + l4_payload

    def tcp(self, f, from_client, flags, payload=b"", syn_opts=None):
        if from_client:
            src, dst, sport, dport = f.cli, f.srv, f.cport, f.sport
            seq, ack, win = f.cseq, f.sseq, f.cwin
            hop = (64, f.flow_label)
        else:
            src, dst, sport, dport = f.srv, f.cli, f.sport, f.cport
            seq, ack, win = f.sseq, f.cseq, f.swin
            hop = (f.server_ttl, f.flow_label ^ 0x5A5A)
        f.tsval += self.rng.randrange(1, 4)
        if syn_opts is not None:
            opts = syn_opts
        else:
            opts = TSOPT.pack(1, 1, 8, 10, f.tsval if from_client else f.tsval ^ 0x1F00000,
                              f.tsecr)
        if not (flags & TCP_ACK):
            ack = 0
        doff = (20 + len(opts)) // 4
        hdr = TCP_HDR.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags,
                           win, 0, 0) + opts
        adv = len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
        if from_client:
            f.cseq += adv
        else:
            f.sseq += adv
        return self.l3(f.v6, src, dst, 6, hdr, payload, 16, hop)

    def udp(self, v6, src, dst, sport, dport, payload, ttl=64):
        hdr = UDP_HDR.pack(sport, dport, 8 + len(payload), 0)
        return self.l3(v6, src, dst, 17, hdr, payload, 6, (ttl, 0))

    # ---------------------------------------------------------------- conversations

    def tcp_flow(self):
        rng = self.rng
        f = Flow()
        f.v6 = rng.random() < 0.25
        f.cli = rng.choice(self.clients)
        f.srv = self.servers[min(int(rng.paretovariate(1.2)) - 1, len(self.servers) - 1)
                             if rng.random() < 0.6 else rng.randrange(len(self.servers))]
        r = rng.random()
        f.sport = 443 if r < 0.7 else 80 if r < 0.85 else rng.choice((8443, 9000, 5201, 25565))
        f.cport = self.ephemeral()
        f.cseq = rng.getrandbits(32)
        f.sseq = rng.getrandbits(32)
        f.cwin, f.swin = 502, 501
        f.tsval = rng.getrandbits(31)
        f.tsecr = 0
        f.flow_label = rng.getrandbits(20)
        f.server_ttl = rng.choice((52, 54, 56, 57, 118, 243))
        mss = 1440 if f.v6 else 1460
        # SYN options are 20 bytes: MSS(4) SACK_PERM(2) TS(10) NOP(1) WS(3).
        syn_opts = (struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" +
                    struct.pack("!BBII", 8, 10, f.tsval, 0) + b"\x01\x03\x03\x07")
        yield self.tcp(f, True, TCP_SYN, syn_opts=syn_opts)
        if rng.random() < 0.03:
            # Nobody home: the server resets the attempt.
            f.swin = 0
            yield self.tcp(f, False, TCP_RST | TCP_ACK, syn_opts=b"")
            return
        f.tsecr = f.tsval
        syn_ack_opts = (struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" +
                        struct.pack("!BBII", 8, 10, f.tsval ^ 0x1F00000, f.tsval) +
                        b"\x01\x03\x03\x09")
        yield self.tcp(f, False, TCP_SYN | TCP_ACK, syn_opts=syn_ack_opts)
        yield self.tcp(f, True, TCP_ACK)
        seg = mss - 12
        exchanges = 1 + min(int(rng.expovariate(0.35)), 40)
        for _ in range(exchanges):
            # Request from the client.
            req = self.request(f.sport, rng.randrange(30, 300), seg)
            yield self.tcp(f, True, TCP_PSH | TCP_ACK, req)
            if rng.random() < 0.5:
                yield self.tcp(f, False, TCP_ACK)
            # Response: mostly small, now and then a download.
            r = rng.random()
            if r < 0.86:
                size = rng.randrange(20, 300)
            elif r < 0.99:
                size = rng.randrange(300, 2000)
            else:
                size = rng.randrange(2500, 20000)
            body = self.response(f.sport, size, seg)
            unacked = 0
            for off in range(0, len(body), seg):
                chunk = body[off:off + seg]
                last = off + seg >= len(body)
                yield self.tcp(f, False, TCP_ACK | (TCP_PSH if last else 0), chunk)
                unacked += 1
                if unacked == 2 or last:
                    yield self.tcp(f, True, TCP_ACK)
                    unacked = 0
        r = rng.random()
        if r < 0.80:
            first = rng.random() < 0.6
            yield self.tcp(f, first, TCP_FIN | TCP_ACK)
            yield self.tcp(f, not first, TCP_FIN | TCP_ACK)
            yield self.tcp(f, first, TCP_ACK)
        elif r < 0.95:
            yield self.tcp(f, rng.random() < 0.5, TCP_RST | TCP_ACK)
        # else: still open when the capture ends.

    def request(self, port, n, seg):
        if port == 80:
            head = (b"GET /api/v1/items?page=%d HTTP/1.1\r\nHost: www.example.org\r\n"
                    b"User-Agent: packetlab-gen/1.0\r\nAccept: */*\r\n" % self.rng.randrange(999))
            pad = max(0, n - len(head) - 2)
            return head + b"X-Pad: " + b"a" * pad + b"\r\n\r\n" if pad else head + b"\r\n"
        return self.opaque(port, n, seg)

    def response(self, port, n, seg):
        if port == 80:
            body = self.payload(n)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" \
                   b"Content-Length: %d\r\n\r\n" % n
            return head + body
        return self.opaque(port, n, seg)

    def opaque(self, port, n, seg):
        if port in (443, 8443):
            # TLS application-data records, one per segment.
            out = []
            left = max(n, 30)
            while left > 0:
                m = min(left, seg)
                rec = max(m - 5, 17)
                out.append(b"\x17\x03\x03" + struct.pack("!H", rec) + self.payload(rec))
                left -= rec + 5
            return b"".join(out)
        return self.payload(n)

    def dns(self):
        rng = self.rng
        v6 = rng.random() < 0.2
        cli = rng.choice(self.clients)
        qi = rng.randrange(len(self.names))
        qname = self.qnames[qi]
        qtype = 28 if rng.random() < 0.35 else 1
        txid = rng.getrandbits(16)
        sport = self.ephemeral()
        q = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 1 if rng.random() < 0.5 else 0)
        q += qname + struct.pack("!HH", qtype, 1)
        if q[11] == 1:
            q += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"  # EDNS0 OPT
        yield self.udp(v6, cli, self.resolver, sport, 53, q)
        if rng.random() < 0.02:
            return  # lost
        nx = self.names[qi].endswith(".invalid")
        nans = 0 if nx else rng.choice((1, 1, 2, 3, 4))
        flags = 0x8183 if nx else 0x8180
        r = struct.pack("!HHHHHH", txid, flags, 1, nans, 0, q[11]) + qname + \
            struct.pack("!HH", qtype, 1)
        for i in range(nans):
            if i == 0 and nans > 2:
                target = self.qnames[rng.randrange(len(self.qnames))]
                r += struct.pack("!HHHIH", 0xC00C, 5, 1, 300, len(target)) + target
            elif qtype == 1:
                r += struct.pack("!HHHIH", 0xC00C, 1, 1, rng.randrange(30, 3600), 4) + \
                    rng.randbytes(4)
            else:
                r += struct.pack("!HHHIH", 0xC00C, 28, 1, rng.randrange(30, 3600), 16) + \
                    bytes.fromhex("2606470000") + rng.randbytes(11)
        if q[11] == 1:
            r += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
        yield self.udp(v6, self.resolver, cli, 53, sport, r)

    def other_udp(self):
        rng = self.rng
        cli = rng.choice(self.clients)
        if rng.random() < 0.5:
            srv = rng.choice(self.servers)
            sport = self.ephemeral()
            ntp = b"\x23\x02\x06\xe8" + bytes(36) + struct.pack("!II", rng.getrandbits(32), 0)
            yield self.udp(False, cli, srv, sport, 123, ntp)
            reply = b"\x24\x02\x06\xe8" + self.payload(44)
            yield self.udp(False, srv, cli, 123, sport, reply, ttl=55)
        else:
            msg = b"<%d>Jan  1 00:00:00 host%d app[%d]: " % (
                rng.randrange(192), rng.randrange(120), rng.randrange(99999))
            msg += b"event " + b"x" * rng.randrange(10, 200)
            yield self.udp(False, cli, self.resolver, self.ephemeral(), 514, msg)

    def ping(self):
        rng = self.rng
        v6 = rng.random() < 0.3
        cli = rng.choice(self.clients)
        srv = rng.choice(self.servers)
        ident = rng.getrandbits(16)
        data = self.payload(48)
        for seq in range(1, rng.randrange(2, 6)):
            for req in (True, False):
                if v6:
                    typ = 128 if req else 129
                    proto = 58
                else:
                    typ = 8 if req else 0
                    proto = 1
                body = struct.pack("!HH", ident, seq) + struct.pack("!Q", seq) + data
                a, b = (cli, srv) if req else (srv, cli)
                if v6:
                    hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
                    yield self.l3(True, a, b, proto, hdr, body[4:], 2, (64 if req else 57, 0))
                else:
                    c = finish(csum_sum(struct.pack("!BBH", typ, 0, 0) + body))
                    icmp = struct.pack("!BBH", typ, 0, c) + body
                    eth = b.mac + a.mac + b"\x08\x00"
                    hdr = IP4_HDR.pack(0x45, 0, 20 + len(icmp), self.ipid(), 0x4000,
                                       64 if req else 57, 1, 0, a.ip4, b.ip4)
                    ip = hdr[:10] + struct.pack("!H", finish(csum_sum(hdr))) + hdr[12:]
                    yield eth + ip + icmp

    def arp(self):
        rng = self.rng
        a = rng.choice(self.clients)
        b = self.resolver if rng.random() < 0.7 else rng.choice(self.clients)
        bmac = self.gw_mac if b is self.resolver else b.mac
        req = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + a.mac + a.ip4 + bytes(6) + b.ip4
        yield b"\xff" * 6 + a.mac + b"\x08\x06" + req + bytes(18)
        if rng.random() < 0.9:
            rep = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + bmac + b.ip4 + a.mac + a.ip4
            yield a.mac + bmac + b"\x08\x06" + rep + bytes(18)

    def new_conversation(self):
        r = self.rng.random()
        if r < 0.45:
            return self.tcp_flow()
        if r < 0.88:
            return self.dns()
        if r < 0.95:
            return self.other_udp()
        if r < 0.985:
            return self.ping()
        return self.arp()

    # ---------------------------------------------------------------- output

    def write(self, out):
        rng = self.rng
        out.write(PCAP_HDR)
        active = [self.new_conversation() for _ in range(256)]
        n_active = len(active)
        chunk = []
        written = 0
        total_bytes = len(PCAP_HDR)
        ts = START_TS * 1_000_000
        randrange = rng.randrange
        while written < self.count:
            i = randrange(n_active)
            try:
                frame = next(active[i])
            except StopIteration:
                active[i] = self.new_conversation()
                continue
            ts += randrange(1, 40)
            n = len(frame)
            chunk.append(REC.pack(ts // 1_000_000, ts % 1_000_000, n, n))
            chunk.append(frame)
            written += 1
            total_bytes += 16 + n
            if len(chunk) >= 16384:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
        return written, total_bytes


class Flow:
    __slots__ = ("v6", "cli", "srv", "sport", "cport", "cseq", "sseq", "cwin", "swin", "tsval",
                 "tsecr", "flow_label", "server_ttl")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", help="pcap file to write ('-' for stdout)")
    ap.add_argument("-n", "--packets", type=int, default=1_000_000,
                    help="number of packets (default 1,000,000)")
    ap.add_argument("-s", "--seed", type=int, default=1, help="random seed (default 1)")
    args = ap.parse_args()
    g = Gen(args.seed, args.packets)
    if args.output == "-":
        n, size = g.write(sys.stdout.buffer)
    else:
        d = os.path.dirname(args.output)
        if d:
            os.makedirs(d, exist_ok=True)
        tmp = args.output + ".part"
        with open(tmp, "wb") as out:
            n, size = g.write(out)
        os.replace(tmp, args.output)
    print(f"{args.output}: {n} packets, {size} bytes ({size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
