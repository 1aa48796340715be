#!/usr/bin/env bash
# Records assets/demo.pcapng, the capture `packetlab` opens when live capture is not permitted:
# real traffic on the loopback interface, captured by packetlab itself (`-i lo -w`).
#
# Run as root (live capture): sudo scripts/make-demo.sh [OUT]   (default assets/demo.pcapng)
# Binary: $PACKETLAB, else target/release/packetlab (built when missing).
# Needs python3; ping (iputils-ping) is used when present, skipped otherwise.
#
# All traffic stays on 127.0.0.1 and ::1, spread over about 15 s so a replay at the original
# pace is watchable:
#   - DNS over UDP: A queries answered by a tiny responder on 127.0.0.1:53, one NXDOMAIN, an AAAA
#   - HTTP over TCP: GETs from a python http.server on 127.0.0.1:8000 and [::1]:8000 (handshake,
#     a transfer of some KB in several segments with a small receive window, FINs)
#   - a refused TCP connection (SYN to a closed port, RST/ACK back)
#   - UDP echo exchanges with a small echo server on 127.0.0.1:7777
#   - pings to 127.0.0.1 and ::1
# Nothing filters the capture: anything else talking on lo at that moment ends up in the file,
# so run it on a quiet machine; the script lists what it recorded at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-assets/demo.pcapng}
BIN=${PACKETLAB:-target/release/packetlab}

if [ "$(id -u)" != 0 ]; then
    echo "make-demo: live capture on lo needs root: sudo $0" >&2
    exit 1
fi
if [ ! -x "$BIN" ]; then
    echo "make-demo: building $BIN"
    cargo build --release --bin packetlab
fi
command -v python3 >/dev/null || { echo "make-demo: python3 is needed" >&2; exit 1; }

WORK=$(mktemp -d)
PL_PID=
cleanup() {
    # Only what this script started, by pid.
    if [ -n "$PL_PID" ] && kill -0 "$PL_PID" 2>/dev/null; then
        kill -KILL "$PL_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$(dirname "$OUT")"
TMP_OUT="$WORK/demo.pcapng"

echo "make-demo: starting $BIN -i lo -w $OUT"
"$BIN" -i lo -w "$TMP_OUT" --print stats >"$WORK/packetlab.out" 2>"$WORK/packetlab.err" &
PL_PID=$!
for _ in $(seq 100); do
    grep -q "capturing on lo" "$WORK/packetlab.err" 2>/dev/null && break
    kill -0 "$PL_PID" 2>/dev/null || { cat "$WORK/packetlab.err" >&2; exit 1; }
    sleep 0.1
done
grep -q "capturing on lo" "$WORK/packetlab.err" || { echo "make-demo: capture did not start" >&2; exit 1; }

PING=
if command -v ping >/dev/null; then
    PING=$(command -v ping)
else
    echo "make-demo: ping not found (apt-get install iputils-ping): no pings in the demo"
fi

cat >"$WORK/traffic.py" <<'PY'
"""Loopback traffic for the demo capture: only 127.0.0.1 and ::1, every step bounded."""
import http.server
import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import urllib.request

PING = sys.argv[1] if len(sys.argv) > 1 else ""
ROOT = sys.argv[2]
T0 = time.monotonic()


def log(what):
    print(f"  {time.monotonic() - T0:5.1f} s  {what}", flush=True)


def at(t):
    """Sleeps until t seconds after the start."""
    d = T0 + t - time.monotonic()
    if d > 0:
        time.sleep(d)


# --- servers -------------------------------------------------------------------------------
with open(os.path.join(ROOT, "index.html"), "w") as f:
    f.write("<html><body><h1>packetlab demo</h1><p>Hello from 127.0.0.1.</p></body></html>\n")
with open(os.path.join(ROOT, "data.bin"), "wb") as f:
    # Some KB of text-like bytes, so the hex view has something readable.
    line = b"packetlab demo transfer: the quick brown fox jumps over the lazy dog 0123456789\n"
    f.write(line * (24 * 1024 // len(line)))


class Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=ROOT, **kw)

    def log_message(self, *a):
        pass


class Http4(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Http6(Http4):
    address_family = socket.AF_INET6


servers = [Http4(("127.0.0.1", 8000), Quiet), Http6(("::1", 8000), Quiet)]
for s in servers:
    s.timeout = 1
    threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()


def udp_echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 7777))
    s.settimeout(0.5)
    while not stop.is_set():
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        s.sendto(data.upper(), peer)


def dns_name(msg, i):
    labels = []
    while msg[i]:
        n = msg[i]
        labels.append(msg[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return ".".join(labels), i + 1


def dns_server():
    """Answers A queries for *.test with 127.0.0.1 and AAAA with ::1; NXDOMAIN otherwise."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    s.settimeout(0.5)
    while not stop.is_set():
        try:
            q, peer = s.recvfrom(512)
        except socket.timeout:
            continue
        qid, flags = struct.unpack("!HH", q[:4])
        name, end = dns_name(q, 12)
        qtype, qclass = struct.unpack("!HH", q[end : end + 4])
        question = q[12 : end + 4]
        answers = b""
        rcode = 0
        if name.endswith(".test") and qtype in (1, 28):
            rdata = socket.inet_pton(socket.AF_INET, "127.0.0.1") if qtype == 1 else socket.inet_pton(socket.AF_INET6, "::1")
            answers = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 300, len(rdata)) + rdata
        else:
            rcode = 3
        rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        hdr = struct.pack("!HHHHHH", qid, rflags, 1, 1 if answers else 0, 0, 0)
        s.sendto(hdr + question + answers, peer)


def dns_query(name, qtype=1, qid=0x1000):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", qtype, 1)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(2)
    c.sendto(q, ("127.0.0.1", 53))
    r, _ = c.recvfrom(512)
    c.close()
    rcode = r[3] & 0x0F
    log(f"DNS {'A' if qtype == 1 else 'AAAA'} {name}: rcode {rcode}, {r[7]} answer(s)")


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        body = r.read()
    log(f"HTTP GET {url}: {r.status}, {len(body)} bytes")


def slow_download(host, family, path):
    """A GET with a small receive buffer, read in small steps: the transfer takes many segments
    and window updates instead of one big loopback segment."""
    c = socket.socket(family, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.settimeout(5)
    c.connect((host, 8000))
    c.sendall(f"GET {path} HTTP/1.0\r\nHost: demo\r\n\r\n".encode())
    got = 0
    while True:
        b = c.recv(2048)
        if not b:
            break
        got += len(b)
        time.sleep(0.005)
    c.close()
    log(f"HTTP slow download {path} from {host}: {got} bytes")


def refused(port=9):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(2)
    try:
        c.connect(("127.0.0.1", port))
        log(f"TCP connect to 127.0.0.1:{port} unexpectedly accepted")
    except ConnectionRefusedError:
        log(f"TCP connect to 127.0.0.1:{port}: refused (RST)")
    finally:
        c.close()


def udp_exchange(words):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(2)
    for w in words:
        c.sendto(w.encode(), ("127.0.0.1", 7777))
        r, _ = c.recvfrom(2048)
        log(f"UDP echo {w!r} -> {r.decode()!r}")
        time.sleep(0.3)
    c.close()


def ping(host, n):
    if not PING:
        return
    r = subprocess.run([PING, "-c", str(n), "-i", "0.4", "-W", "1", host], capture_output=True, timeout=10)
    log(f"ping {host} x{n}: exit {r.returncode}")


stop = threading.Event()
threading.Thread(target=udp_echo, daemon=True).start()
threading.Thread(target=dns_server, daemon=True).start()
time.sleep(0.3)

at(0.5); dns_query("www.packetlab.test", 1, 0x1001)
at(1.0); http_get("http://127.0.0.1:8000/index.html")
at(2.5); udp_exchange(["hello", "packet", "lab"])
at(4.5); refused(9)
at(5.5); ping("127.0.0.1", 3)
at(7.5); dns_query("files.packetlab.test", 1, 0x1002)
at(8.0); slow_download("127.0.0.1", socket.AF_INET, "/data.bin")
at(10.0); dns_query("nowhere.example", 1, 0x1003)
at(10.5); dns_query("www.packetlab.test", 28, 0x1004)
at(11.0); http_get("http://[::1]:8000/index.html")
at(12.0); ping("::1", 2)
at(13.5); refused(8081)
at(14.0); udp_exchange(["bye"])
at(15.0)
stop.set()
for s in servers:
    s.shutdown()
    s.server_close()
log("done")
PY

mkdir -p "$WORK/www"
echo "make-demo: generating traffic (about 15 s)"
timeout 60 python3 "$WORK/traffic.py" "$PING" "$WORK/www"
sleep 0.5

kill -INT "$PL_PID"
for _ in $(seq 100); do
    kill -0 "$PL_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$PL_PID" 2>/dev/null; then
    echo "make-demo: packetlab did not stop on SIGINT" >&2
    exit 1
fi
wait "$PL_PID" || true
PL_PID=
tail -n 1 "$WORK/packetlab.err"

mv "$TMP_OUT" "$OUT"
echo "make-demo: wrote $OUT ($(stat -c %s "$OUT") bytes)"
"$BIN" -r "$OUT" --print stats
