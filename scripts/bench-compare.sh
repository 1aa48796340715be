#!/usr/bin/env bash
# Times whole commands on the same capture: packetlab against tcpdump (the cost of reading the
# file) and tshark's conversation statistics, with the peak memory (max RSS) of each.
# `packetlab --print stats` and `--print sessions` both run decode + sessions on every packet;
# `--print sessions` is the counterpart of `tshark -z conv,tcp -z conv,udp`.
#
#   scripts/bench-compare.sh                      # target/bench/1m.pcap, made if absent
#   scripts/bench-compare.sh path/to/file.pcap    # any capture
#   RUNS=20 SLOW_RUNS=5 scripts/bench-compare.sh
#
# Environment:
#   RUNS        timed runs per fast command (default 10)
#   SLOW_RUNS   timed runs per tshark command (default 3; each takes several seconds)
#   RSS_RUNS    /usr/bin/time runs per command for peak RSS; the largest is kept (default 3)
#   PACKETS     packets in the generated capture (default 1000000)
#   PACKETLAB   binary to time (default: target/release/packetlab, after cargo build --release)
#
# Timing uses hyperfine (apt-get install hyperfine) when present, else repeated
# /usr/bin/time runs (apt-get install time). The file is read once beforehand so every command
# meets a warm page cache. Prints a Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

capture=${1:-target/bench/1m.pcap}
runs=${RUNS:-10}
slow_runs=${SLOW_RUNS:-3}
rss_runs=${RSS_RUNS:-3}
packets=${PACKETS:-1000000}
packetlab=${PACKETLAB:-$root/target/release/packetlab}

die() { echo "bench-compare: $*" >&2; exit 1; }

[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install -y time)"
for tool in tcpdump tshark python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [ ! -f "$capture" ]; then
    echo "bench-compare: generating $capture ($packets packets)" >&2
    python3 scripts/gen-capture.py -n "$packets" "$capture"
fi
if [ -z "${PACKETLAB:-}" ]; then
    echo "bench-compare: cargo build --release" >&2
    cargo build --release --quiet
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Warm the page cache and count the packets with the tool of reference.
cat "$capture" >/dev/null
if command -v capinfos >/dev/null; then
    count=$(capinfos -c -M "$capture" | awk '/Number of packets/ { print $NF }')
else
    count=$("$packetlab" -r "$capture" --print stats | awk '$1 == "packets" { print $2 }')
fi
size_mb=$(python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1]) / 1e6:.1f}')" "$capture")

# name | runs | command (no shell syntax: output goes to /dev/null by the harness)
commands=(
    "tcpdump -r F -w /dev/null|$runs|tcpdump -r $capture -w /dev/null"
    "tshark -q -z conv,tcp|$slow_runs|tshark -r $capture -q -z conv,tcp"
    "tshark -q -z conv,tcp -z conv,udp|$slow_runs|tshark -r $capture -q -z conv,tcp -z conv,udp"
    "packetlab --print stats|$runs|$packetlab -r $capture --print stats"
    "packetlab --print sessions|$runs|$packetlab -r $capture --print sessions"
    "packetlab --print packets --format json|$runs|$packetlab -r $capture --print packets --format json"
    "packetlab --print packets --format text|$runs|$packetlab -r $capture --print packets --format text"
)

have_hyperfine=0
command -v hyperfine >/dev/null && have_hyperfine=1

# time_cmd RUNS CMD... → prints "mean stddev min cpu" in seconds (cpu: mean user + system)
time_cmd() {
    local n=$1
    shift
    if [ "$have_hyperfine" = 1 ]; then
        hyperfine --style none --shell=none --warmup 1 --runs "$n" \
            --export-json "$work/h.json" -- "$*" >/dev/null 2>&1 \
            || die "hyperfine failed on: $*"
        python3 - "$work/h.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["mean"], r["stddev"] or 0.0, r["min"], r["user"] + r["system"])
EOF
    else
        "$@" >/dev/null 2>&1 || true
        : >"$work/times"
        for _ in $(seq "$n"); do
            /usr/bin/time -f "%e %U %S" -a -o "$work/times" "$@" >/dev/null 2>/dev/null
        done
        python3 - "$work/times" <<'EOF'
import statistics, sys
rows = [[float(v) for v in x.split()] for x in open(sys.argv[1]) if x.strip()]
t = [r[0] for r in rows]
cpu = statistics.mean(r[1] + r[2] for r in rows)
print(statistics.mean(t), statistics.stdev(t) if len(t) > 1 else 0.0, min(t), cpu)
EOF
    fi
}

# peak_rss CMD... → largest max RSS over RSS_RUNS runs, in MB
peak_rss() {
    : >"$work/rss"
    for _ in $(seq "$rss_runs"); do
        /usr/bin/time -f %M -a -o "$work/rss" "$@" >/dev/null 2>/dev/null
    done
    python3 -c "import sys; print(f'{max(int(x) for x in open(sys.argv[1]) if x.strip()) / 1024:.1f}')" \
        "$work/rss"
}

echo "bench-compare: $capture, $count packets, $size_mb MB" >&2
results=()
for entry in "${commands[@]}"; do
    IFS='|' read -r name n cmd <<<"$entry"
    echo "bench-compare: timing $name ($n runs)" >&2
    # shellcheck disable=SC2086 # cmd is a plain word list built above
    read -r mean sd min cpu < <(time_cmd "$n" $cmd)
    # shellcheck disable=SC2086
    rss=$(peak_rss $cmd)
    results+=("$name|$n|$mean|$sd|$min|$cpu|$rss")
done

python3 - "$count" "$size_mb" "${results[@]}" <<'EOF'
import sys
count = int(sys.argv[1])
size_mb = float(sys.argv[2])
rows = [r.split("|") for r in sys.argv[3:]]
# Ratios use the fastest run of each command: on a shared machine the minimum is the figure
# least disturbed by other processes (the mean and CPU time are shown beside it).
best = {r[0]: float(r[4]) for r in rows}
tcpdump = best.get("tcpdump -r F -w /dev/null")
conv = best.get("tshark -q -z conv,tcp -z conv,udp")
print(f"capture: {count} packets, {size_mb} MB\n")
print("| command | runs | min s | mean s | ± s | CPU s | packets/s (min) | peak RSS MB "
      "| ÷ tcpdump | tshark conv ÷ this |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, n, mean, sd, mn, cpu, rss in rows:
    mean, sd, mn, cpu = float(mean), float(sd), float(mn), float(cpu)
    vs_tcpdump = f"{mn / tcpdump:.2f}×" if tcpdump else "-"
    vs_conv = f"{conv / mn:.1f}×" if conv else "-"
    print(f"| `{name}` | {n} | {mn:.3f} | {mean:.3f} | {sd:.3f} | {cpu:.3f} | "
          f"{count / mn / 1e6:.2f} M | {rss} | {vs_tcpdump} | {vs_conv} |")
EOF
