#!/usr/bin/env bash
# How fast the TUI answers a key while the lab network runs flat out: `packetlab --lab bulk`
# in tmux, then N times `?` (the help overlay) timed until it is on the screen, and Escape.
# Prints each latency, the median and the worst, and the packet rate the status bar shows.
# The times include tmux's own capture-pane (a few ms): an upper bound.
#
#   scripts/lab-key-latency.sh [BIN] [N]
set -euo pipefail
BIN=${1:-target/release/packetlab}
N=${2:-20}
S=plab-latency-$$
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 2; }
tmux new-session -d -s "$S" -x 160 -y 45 "$BIN --lab bulk"
trap 'tmux kill-session -t "$S" 2>/dev/null || true' EXIT
sleep 4
ms() { date +%s%N; }
lat=()
for i in $(seq "$N"); do
  t0=$(ms)
  tmux send-keys -t "$S" '?'
  until tmux capture-pane -t "$S" -p | grep -q '? closes'; do :; done
  t1=$(ms)
  lat+=($(( (t1 - t0) / 1000000 )))
  tmux send-keys -t "$S" Escape
  while tmux capture-pane -t "$S" -p | grep -q '? closes'; do :; done
  sleep 0.2
done
rate=$(tmux capture-pane -t "$S" -p | grep -o '[0-9][0-9,.]* pkt/s' | tail -1)
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(( (N + 1) / 2 ))p")
worst=$(echo "$sorted" | tail -1)
echo "key → help drawn, ms: ${lat[*]}"
echo "median ${median} ms, worst ${worst} ms, while the status bar shows ${rate:-? pkt/s}"
