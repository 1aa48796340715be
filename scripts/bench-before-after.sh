#!/usr/bin/env bash
# Times two packetlab binaries on the same command, alternating runs (old, new, old, new, …)
# so that a busy machine slows both alike; prints the median wall and CPU (user+sys) seconds
# and the peak RSS of each.
#
#   scripts/bench-before-after.sh OLD_BIN NEW_BIN [RUNS] -- ARGS...
#   scripts/bench-before-after.sh /tmp/old/packetlab target/release/packetlab 9 -- \
#       -r target/bench/1m.pcap --print sessions
set -euo pipefail
old=$1 new=$2 runs=${3:-9}
shift 3
[ "${1:-}" = "--" ] && shift
[ -x /usr/bin/time ] || { echo "bench-before-after: /usr/bin/time missing (apt-get install -y time)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$runs"); do
    for which in old new; do
        bin=$old
        [ "$which" = new ] && bin=$new
        /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$bin" "$@" >/dev/null 2>"$work/err" || {
            cat "$work/err" >&2; exit 1; }
        cat "$work/t" >>"$work/$which"
    done
done
for which in old new; do
    python3 - "$work/$which" "$which" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
wall = statistics.median(r[0] for r in rows)
cpu = statistics.median(r[1] + r[2] for r in rows)
rss = max(r[3] for r in rows) / 1024
print(f"{sys.argv[2]:>4}: {len(rows)} runs, median wall {wall:.3f} s, median CPU {cpu:.3f} s, peak RSS {rss:.1f} MB")
PY
done
