#!/usr/bin/env bash
# make-test-corpus.sh - make the project's own small capture corpus, tests/data/captures/.
#
#   sudo scripts/make-test-corpus.sh          (then scripts/make-test-truth.sh)
#
# Real traffic, made here: on the loopback of a network namespace and between two namespaces
# (plabtc-a, plabtc-b) joined by one veth pair, numbered from the documentation ranges
# 192.0.2.0/24 and 2001:db8:7::/64.  The namespaces have no route anywhere else, so nothing
# leaves them; both are deleted at the end.  Servers and clients are scripts/corpus-peer.py
# (python3); every wait is bounded and every background process is stopped by its PID.
# Debian packages: tcpdump tshark (dumpcap) iproute2 iputils-ping ethtool python3.
# New timestamps and ports each run, so the truth must be made again: make-test-truth.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/tests/data/captures}
PY=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 )}
PEER=("$PY" "$ROOT/scripts/corpus-peer.py")
WORK=$(mktemp -d /tmp/plabtc.XXXXXX)
A=plabtc-a
B=plabtc-b
PIDS=()
LASTPID=

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
spawn() { local ns=$1; shift; ip netns exec "$ns" "$@" & LASTPID=$!; PIDS+=("$LASTPID"); }
stop() {
  local pid=$1 sig i keep=() p
  for sig in INT TERM KILL; do
    kill -0 "$pid" 2>/dev/null || break
    kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
  PIDS=("${keep[@]}")
}
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop "$p"; done
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nsx() { local ns=$1; shift; timeout 20 ip netns exec "$ns" "$@"; }
peer() { local ns=$1; shift; nsx "$ns" "${PEER[@]}" "$@" >/dev/null || true; }
wait_tcp() { local i; for i in $(seq 1 100); do ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0; sleep 0.1; done; return 1; }
cap_start() { # NS FILE CMD...
  local ns=$1 file=$2 i; shift 2
  CAPERR="$WORK/$(basename "$file").err"
  spawn "$ns" "$@" -w "$file" 2>"$CAPERR"
  CAP=$LASTPID
  for i in $(seq 1 100); do grep -qE 'listening on|Capturing on' "$CAPERR" && break; sleep 0.1; done
  sleep 0.5
}
cap_stop() { sleep 1; stop "$CAP"; sed 's/^/    /' "$CAPERR" >&2; }
TCPDUMP=(tcpdump -Z root -U -n --immediate-mode)

ip netns add "$A"; ip netns add "$B"
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip -n "$A" link add veth0 type veth peer name veth0 netns "$B"
ip -n "$A" link set veth0 address 02:00:5e:70:00:01
ip -n "$B" link set veth0 address 02:00:5e:70:00:02
for ns in "$A" "$B"; do
  nsx "$ns" ethtool -K veth0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  # no router solicitations or other chatter of their own: only the traffic made below
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.veth0.router_solicitations=0
done
ip -n "$A" addr add 192.0.2.1/24 dev veth0
ip -n "$B" addr add 192.0.2.2/24 dev veth0
ip -n "$A" addr add 2001:db8:7::1/64 dev veth0 nodad
ip -n "$B" addr add 2001:db8:7::2/64 dev veth0 nodad
ip -n "$A" link set veth0 up
ip -n "$B" link set veth0 up
sleep 2

for ns in "$A" "$B"; do spawn "$ns" "${PEER[@]}" serve 90; wait_tcp "$ns" 8080; wait_tcp "$ns" 53; done
flush() { ip -n "$A" neigh flush dev veth0; ip -n "$B" neigh flush dev veth0; }

log "lo_ipv4.pcap: loopback, IPv4"
cap_start "$A" "$WORK/lo_ipv4.pcap" "${TCPDUMP[@]}" -i lo
nsx "$A" ping -c 2 -i 0.2 127.0.0.1 >/dev/null
peer "$A" tcp 127.0.0.1 8080 600        # handshake, request, 600-byte answer, FIN both ways
peer "$A" tcp 127.0.0.1 8081            # nobody listens: SYN, RST/ACK
peer "$A" udp 127.0.0.1 7777            # UDP echo
peer "$A" udp 127.0.0.1 7778            # closed port: ICMP port unreachable
peer "$A" dns 127.0.0.1 web.corpus.test A
peer "$A" dns 127.0.0.1 corpus.test TXT tcp
peer "$A" dns 127.0.0.1 nothing.corpus.test A   # NXDOMAIN
cap_stop

log "lo_ipv6.pcap: loopback, IPv6"
cap_start "$A" "$WORK/lo_ipv6.pcap" "${TCPDUMP[@]}" -i lo
nsx "$A" ping -6 -c 2 -i 0.2 ::1 >/dev/null
peer "$A" tcp ::1 8080 900
peer "$A" tcp ::1 8081
peer "$A" udp ::1 7777
peer "$A" udp ::1 7778                  # ICMPv6 destination unreachable (port)
peer "$A" dns ::1 web.corpus.test AAAA
peer "$A" dns ::1 web.corpus.test AAAA tcp
cap_stop

log "veth_arp_nd.pcap: Ethernet between the namespaces: ARP, neighbour discovery, TCP, DNS"
flush
cap_start "$A" "$WORK/veth_arp_nd.pcap" "${TCPDUMP[@]}" -i veth0
nsx "$A" ping -c 2 -i 0.2 192.0.2.2 >/dev/null
nsx "$A" ping -6 -c 2 -i 0.2 2001:db8:7::2 >/dev/null
peer "$A" tcp 192.0.2.2 8080 3000
peer "$A" tcp 2001:db8:7::2 8080 2000
peer "$A" tcp 192.0.2.2 8081
peer "$A" dns 192.0.2.2 web.corpus.test A
peer "$A" dns 2001:db8:7::2 corpus.test TXT tcp
peer "$A" udp 192.0.2.2 7778
cap_stop

log "two_if.pcapng: dumpcap on lo and veth0, one pcapng with two interfaces"
flush
cap_start "$A" "$WORK/two_if.pcapng" dumpcap -q -i lo -i veth0
nsx "$A" ping -c 2 -i 0.2 127.0.0.1 >/dev/null
nsx "$A" ping -c 2 -i 0.2 192.0.2.2 >/dev/null
peer "$A" udp 192.0.2.2 7777
peer "$A" dns 127.0.0.1 web.corpus.test A
peer "$A" tcp 192.0.2.2 8080 500
peer "$A" tcp ::1 8080 300
cap_stop

log "sll2_any.pcap: tcpdump -i any, Linux cooked v2"
flush
cap_start "$A" "$WORK/sll2_any.pcap" "${TCPDUMP[@]}" -i any -y LINUX_SLL2
nsx "$A" ping -c 2 -i 0.2 192.0.2.2 >/dev/null
nsx "$A" ping -6 -c 2 -i 0.2 ::1 >/dev/null
peer "$A" dns 192.0.2.2 web.corpus.test A
peer "$A" dns 2001:db8:7::2 corpus.test TXT tcp
peer "$A" tcp 192.0.2.2 8080 800
peer "$A" tcp 192.0.2.2 8081
peer "$A" udp 192.0.2.2 7777
peer "$A" udp 127.0.0.1 7778
cap_stop

log "veth_snaplen80.pcap: tcpdump -s 80 (every longer frame cut short)"
cap_start "$A" "$WORK/veth_snaplen80.pcap" "${TCPDUMP[@]}" -s 80 -i veth0
peer "$A" tcp 192.0.2.2 8080 20000
peer "$A" dns 192.0.2.2 corpus.test TXT
nsx "$A" ping -c 2 -i 0.2 -s 400 192.0.2.2 >/dev/null
cap_stop

log "tcp22_session.pcap: one TCP connection to port 22 (tests/filter_vs_tshark.rs' ruleset)"
cap_start "$A" "$WORK/tcp22_session.pcap" "${TCPDUMP[@]}" -i veth0 tcp port 22
peer "$A" tcp 192.0.2.2 22 1500
cap_stop

mkdir -p "$OUT"
for f in lo_ipv4.pcap lo_ipv6.pcap veth_arp_nd.pcap two_if.pcapng sll2_any.pcap veth_snaplen80.pcap tcp22_session.pcap; do
  cp "$WORK/$f" "$OUT/$f"; chmod 644 "$OUT/$f"
done
log "done: $OUT (now run scripts/make-test-truth.sh)"
