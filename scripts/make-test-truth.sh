#!/usr/bin/env bash
# make-test-truth.sh - write tshark ground truth beside each capture of tests/data/captures/,
# as CAPTURE.truth/, exactly as ../shared/captures/make_truth.sh does for the shared corpus
# (same tshark commands, fields and files; the tests read both corpora the same way)
#
#   scripts/make-test-truth.sh [CAPTURE...]   (default: every *.pcap / *.pcapng in
#                                              tests/data/captures/)
#
# CAPTURE.truth/ holds:
#   packets.tsv       tshark -T fields, one row per frame (the columns listed in FIELDS below);
#                     a field that occurs more than once in a frame (e.g. ip.src of an ICMP error
#                     that quotes the offending IP header, or tunnelled traffic) lists every
#                     occurrence, comma-separated, outermost first.  Empty = field absent.
#                     Files over GZIP_ROWS frames get packets.tsv.gz instead (gzip -n).
#   conv_tcp.txt      tshark -q -z conv,tcp
#   conv_udp.txt      tshark -q -z conv,udp
#   conv_ip.txt       tshark -q -z conv,ip
#   conv_ipv6.txt     tshark -q -z conv,ipv6
#   expert.txt        tshark -q -z expert   (malformed packets, warnings, notes)
#   capinfos.txt      capinfos CAPTURE      (stdout and stderr)
#   tshark_stderr.txt what tshark printed on stderr while writing packets.tsv (e.g. that the
#                     file is cut short or cannot be read); empty when it had nothing to say
# tshark runs with an empty, throw-away configuration folder, so no personal preferences
# change the output.  The version used is recorded in tests/data/captures/TRUTH_VERSION.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/data/captures" && pwd)
GZIP_ROWS=${GZIP_ROWS:-200000}
FIELDS=(frame.number frame.time_epoch frame.len frame.cap_len eth.src eth.dst ip.src ip.dst
        ipv6.src ipv6.dst ip.proto ipv6.nxt tcp.srcport tcp.dstport tcp.flags tcp.seq_raw
        tcp.ack_raw udp.srcport udp.dstport icmp.type icmpv6.type arp.opcode dns.qry.name
        _ws.col.Protocol)
EF=()
for f in "${FIELDS[@]}"; do EF+=(-e "$f"); done

CFG=$(mktemp -d /tmp/plab-truth-cfg.XXXXXX)
trap 'rm -rf "$CFG"' EXIT
export WIRESHARK_CONFIG_DIR="$CFG"   # empty profile: default preferences only
export HOME="$CFG"                   # (older releases look under $HOME/.config/wireshark)
ERR=$CFG/stderr

# drop tshark's note about running as root; keep every other message
quiet() { grep -v '^Running as user "root" and group "root". This could be dangerous.$' "$1" || true; }

if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- "$HERE"/*.pcap "$HERE"/*.pcapng
fi

for path in "$@"; do
  [ -f "$path" ] || continue
  echo "truth: $path" >&2
  # work beside the capture and name it by its bare file name, so that no output
  # (capinfos' "File name:", tshark's error messages) depends on where the corpus lives
  cd "$(dirname "$path")" || exit 1
  cap=$(basename "$path")
  t="$cap.truth"
  rm -rf "$t"
  mkdir -p "$t"
  n=$(capinfos -M -c -T -r "$cap" 2>/dev/null | awk -F'\t' 'NR==1{print $2}')
  if [ -n "$n" ] && [ "$n" -gt "$GZIP_ROWS" ] 2>/dev/null; then
    tshark -r "$cap" -T fields -E header=y -E separator=/t "${EF[@]}" 2>"$ERR" | gzip -n > "$t/packets.tsv.gz"
  else
    tshark -r "$cap" -T fields -E header=y -E separator=/t "${EF[@]}" > "$t/packets.tsv" 2>"$ERR"
  fi
  quiet "$ERR" > "$t/tshark_stderr.txt"
  for z in tcp udp ip ipv6; do
    tshark -r "$cap" -q -z "conv,$z" > "$t/conv_$z.txt" 2>"$ERR"
    quiet "$ERR" >&2
  done
  tshark -r "$cap" -q -z expert > "$t/expert.txt" 2>"$ERR"
  quiet "$ERR" >&2
  capinfos "$cap" > "$t/capinfos.txt" 2>&1
  cd - >/dev/null || exit 1
done
{
  echo "Ground truth made with:"
  tshark --version 2>/dev/null | head -1
  capinfos --version 2>/dev/null | head -1
  echo "Preferences: defaults (make-test-truth.sh points WIRESHARK_CONFIG_DIR and HOME at an empty folder)"
} > "$HERE/TRUTH_VERSION"
