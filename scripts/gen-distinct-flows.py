#!/usr/bin/env python3
"""Write a pcap of N UDP datagrams, each opening a flow of its own (a new source address and
port every packet): the session table's worst case, for the --max-sessions memory benchmark.

usage: gen-distinct-flows.py OUT.pcap N
"""
import struct
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    payload = b"x" * 18
    udp_len = 8 + len(payload)
    ip_len = 20 + udp_len
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0, 64, 17, 0, src, bytes([192, 0, 2, 1]))
            udp = struct.pack("!HHHH", 1024 + (i % 60000), 53, udp_len, 0)
            frame = eth + ip + udp + payload
            ts = 1_700_000_000 * 1_000_000 + i * 10
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
