#!/usr/bin/env bash
# Check packetlab against rulesets people publish: for every file of DIR (*.nft, *.iptables,
# *.ip6tables, searched recursively), first ask the kernel tools whether they accept it
# (`nft -c -f`, `iptables-restore --test`, `ip6tables-restore --test`), then, for those they
# accept, `packetlab --rules FILE --check` (exit 0 understood whole, 1 some rules unsupported,
# 2 unreadable or unparsable) and, on exit 0, `packetlab --rules FILE --save OUT` followed by
# `nft -c -f OUT`. For an nft file whose save passes, both are also loaded for real and their
# `nft list ruleset` compared ("same").
#
# The files are not in the repository (their code is not ours): tests/data/public-rulesets.tsv
# lists each one (local name, repository, path, commit) so they can be fetched again.
#
# Each file is checked in a fresh network namespace (deleted afterwards, also on failure or
# Ctrl-C) holding a dummy interface for every name the file gives to iif/oif, `device` or
# `devices` (directly, in a set, or through a `define`), since nft refuses an `iif` of an
# interface that does not exist. `include` is resolved from the file's own folder; an include
# of a file that is not there makes nft refuse the file, and the table says so.
#
# Prints a Markdown table (one row a file), the totals, and the packetlab messages grouped by
# cause. Needs root. Exits 0 when every file the kernel accepts is understood whole and its save
# passes `nft -c`, else 1; 2 on a usage error.
#
# Usage: scripts/check-public-rulesets.sh DIR [BIN]   (BIN defaults to target/release/packetlab)
set -u

root="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -d "$1" ]; then
    echo "usage: $0 DIR [BIN]" >&2
    exit 2
fi
dir="$(cd "$1" && pwd)"
bin="${2:-$root/target/release/packetlab}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "check-public-rulesets: $bin is not executable" >&2; exit 2; }
if [ "$(id -u)" != 0 ]; then
    echo "check-public-rulesets: needs root (network namespaces)" >&2
    exit 2
fi
for tool in ip nft iptables-restore ip6tables-restore timeout; do
    command -v "$tool" >/dev/null || { echo "check-public-rulesets: $tool is missing" >&2; exit 2; }
done

ns="plk-pub-$$"
work="$(mktemp -d /tmp/plk-pub.XXXXXX)"
cleanup() {
    ip netns del "$ns" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The interface names a ruleset needs to exist: words after iif/oif/device/devices, the
# elements of a set there, and the values of the defines used there.
ifaces_of() {
    python3 - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
text = re.sub(r"#[^\n]*", "", text)
defines = {}
for name, value in re.findall(r"define\s+(\w+)\s*=\s*([^\n;]+)", text):
    defines[name] = value
names = set()
def words(s, depth=0):
    for w in re.findall(r'\$?[\w.@:+-]+|"[^"]*"', s):
        w = w.strip('"')
        if w.startswith("$") and depth < 4:
            words(defines.get(w[1:], ""), depth + 1)
        elif re.fullmatch(r"[A-Za-z][\w.@-]{0,14}", w) and w not in ("lo", "accept", "drop",
                "counter", "jump", "goto", "return", "meta", "ip", "ip6", "tcp", "udp", "ct",
                "log", "reject", "masquerade", "snat", "dnat", "to", "vmap", "map"):
            names.add(w)
for m in re.finditer(r"\b(?:iif|oif)\s+(!=\s*)?(\{[^}]*\}|\S+)", text):
    words(m.group(2))
for m in re.finditer(r"\bdevices?\s*=?\s*(\{[^}]*\}|\S+)", text):
    words(m.group(1))
print(" ".join(sorted(names)))
EOF
}

# Fresh namespace with the given interfaces; an interface the kernel refuses is skipped (nft
# will then say what it lacks).
fresh_ns() {
    ip netns del "$ns" 2>/dev/null
    ip netns add "$ns" || { echo "check-public-rulesets: cannot add netns $ns" >&2; exit 2; }
    local k=0 i
    for i in "$@"; do
        ip -n "$ns" link add "$i" type dummy 2>/dev/null ||
            ip -n "$ns" link add "$i" type veth peer name "plkpeer$k" 2>/dev/null
        k=$((k + 1))
    done
}

# First line of output that says something (skips nft's caret lines and blank lines).
first_msg() {
    grep -v -E '^[[:space:]^~]*$' | head -n 1 | cut -c1-200 | tr '|' '/'
}

mapfile -t files < <(cd "$dir" && find . -type f \( -name '*.nft' -o -name '*.iptables' -o -name '*.ip6tables' \) | sed 's|^\./||' | sort)
[ ${#files[@]} -gt 0 ] || { echo "check-public-rulesets: no *.nft, *.iptables or *.ip6tables in $dir" >&2; exit 2; }

msgs="$work/messages"
: > "$msgs"
total=0 kacc=0 e0=0 e1=0 e2=0 eo=0 saveok=0 savebad=0 same=0 differ=0 nsame=0
n_nft=0 n_ipt=0 k_nft=0 k_ipt=0 includes=0
nft_e0=0 nft_e1=0 nft_e2=0 ipt_e0=0 ipt_e1=0 ipt_e2=0
echo "| file | kernel accepts | packetlab --check | save → nft -c | same list | first message |"
echo "|---|---|---|---|---|---|"
for f in "${files[@]}"; do
    total=$((total + 1))
    path="$dir/$f"
    fdir="$(dirname "$path")"
    case "$f" in
    *.nft)
        n_nft=$((n_nft + 1))
        # shellcheck disable=SC2046
        fresh_ns $(ifaces_of "$path")
        out="$(cd "$fdir" && timeout 30 ip netns exec "$ns" nft -c -f "$path" 2>&1)"
        krc=$?
        ;;
    *.iptables)
        n_ipt=$((n_ipt + 1))
        fresh_ns
        out="$(timeout 30 ip netns exec "$ns" iptables-restore --test < "$path" 2>&1)"
        krc=$?
        ;;
    *.ip6tables)
        n_ipt=$((n_ipt + 1))
        fresh_ns
        out="$(timeout 30 ip netns exec "$ns" ip6tables-restore --test < "$path" 2>&1)"
        krc=$?
        ;;
    esac
    if [ $krc != 0 ]; then
        kmsg="$(printf '%s\n' "$out" | first_msg)"
        kernel="no"
        if grep -qE '^[[:space:]]*include[[:space:]]' "$path" &&
            printf '%s' "$out" | grep -qiE 'No such file|include'; then
            kernel="no (include of a missing file)"
            includes=$((includes + 1))
        fi
        printf '| %s | %s | – | – | – | %s |\n' "$f" "$kernel" "${kmsg//$dir\//}"
        continue
    fi
    kacc=$((kacc + 1))
    case "$f" in *.nft) k_nft=$((k_nft + 1)) ;; *) k_ipt=$((k_ipt + 1)) ;; esac

    out="$(cd "$fdir" && timeout 60 "$bin" --rules "$path" --check 2>&1)"
    prc=$?
    printf '%s\n' "$out" | grep -E ': (unsupported|error|unknown|expected|invalid)|:[0-9]+(:[0-9]+)?: ' |
        grep -vE ': (approximate|warning|shadowed|redundant|never matches|note|shown only|not simulated)' |
        sed "s|^$dir/||" >> "$msgs"
    if [ $prc = 0 ]; then
        pmsg=""
    else
        pmsg="$(printf '%s\n' "$out" | grep -E ': unsupported|:[0-9]+(:[0-9]+)?: ' |
            grep -vE ': (approximate|warning|shadowed|redundant|never matches|note|shown only|not simulated)' |
            first_msg)"
        [ -n "$pmsg" ] || pmsg="$(printf '%s\n' "$out" | first_msg)"
        pmsg="${pmsg//$dir\//}"
    fi
    case "$f" in *.nft) kind=nft ;; *) kind=ipt ;; esac
    case $prc in 0 | 1 | 2) eval "${kind}_e$prc=\$((${kind}_e$prc + 1))" ;; esac
    case $prc in
    0) e0=$((e0 + 1)) ;;
    1) e1=$((e1 + 1)) ;;
    2) e2=$((e2 + 1)) ;;
    *) eo=$((eo + 1)) ;;
    esac
    save="–"
    lst="–"
    if [ $prc = 0 ]; then
        saved="$work/saved.nft"
        rm -f "$saved"
        sout="$(cd "$fdir" && timeout 60 "$bin" --rules "$path" --save "$saved" 2>&1)"
        if [ $? = 0 ] && [ -s "$saved" ] &&
            sout="$(cd "$fdir" && timeout 30 ip netns exec "$ns" nft -c -f "$saved" 2>&1)"; then
            save="ok"
            saveok=$((saveok + 1))
        else
            save="FAIL"
            savebad=$((savebad + 1))
            pmsg="save: $(printf '%s\n' "$sout" | first_msg)"
            printf '%s: save: %s\n' "$f" "$(printf '%s\n' "$sout" | first_msg)" >> "$msgs"
        fi
        # The two rulesets the kernel holds after loading each, compared (nft files only: an
        # iptables-save file becomes xt compat expressions, its save native nft ones).
        if [ "$save" = ok ] && [ "${f%.nft}" != "$f" ]; then
            a="$work/a" b="$work/b"
            ip netns exec "$ns" nft flush ruleset
            if (cd "$fdir" && timeout 30 ip netns exec "$ns" nft -f "$path" >/dev/null 2>&1) &&
                ip netns exec "$ns" nft -s list ruleset > "$a" 2>&1 &&
                ip netns exec "$ns" nft flush ruleset &&
                (cd "$fdir" && timeout 30 ip netns exec "$ns" nft -f "$saved" >/dev/null 2>&1) &&
                ip netns exec "$ns" nft -s list ruleset > "$b" 2>&1; then
                if cmp -s "$a" "$b"; then
                    lst="yes"
                    same=$((same + 1))
                else
                    lst="no"
                    differ=$((differ + 1))
                    printf '%s: save: nft list ruleset differs: %s\n' "$f" \
                        "$(diff "$a" "$b" | grep -E '^[<>]' | head -n 1 | cut -c1-150)" >> "$msgs"
                fi
            else
                lst="not loaded"
                nsame=$((nsame + 1))
            fi
        fi
    fi
    printf '| %s | yes | %s | %s | %s | %s |\n' "$f" "$prc" "$save" "$lst" "$pmsg"
done

echo
echo "## Totals"
echo
echo "- files: $total ($n_nft nft, $n_ipt iptables-save)"
echo "- the kernel tools accept: $kacc ($k_nft nft, $k_ipt iptables-save); refused: $((total - kacc)) (of which $includes for an include of a missing file)"
echo "- packetlab --check of those: exit 0 $e0, exit 1 $e1, exit 2 $e2, other $eo (nft: $nft_e0 / $nft_e1 / $nft_e2; iptables-save: $ipt_e0 / $ipt_e1 / $ipt_e2)"
echo "- --save of the exit-0 files passes nft -c: $saveok (fails: $savebad)"
echo "- nft list ruleset of the saved file equals the original's: $same (differs: $differ, not loadable for real: $nsame)"
echo
echo "## packetlab messages by cause"
echo
# The cause is the message without its file:line:col (and, for `unsupported: X (…)`, without
# the explanation in brackets), so `unsupported: 'hour'` in three files is one group of three;
# within a group, each file once with the lines it occurs on.
if [ -s "$msgs" ]; then
    python3 - "$msgs" <<'EOF'
import re, sys
groups = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"(\S+?):(\d+)(?::\d+)?: (.*)$", line) or re.match(r"(\S+?): ()(.*)$", line)
    if not m:
        continue
    f, ln, msg = m.groups()
    key = re.sub(r" \(.*$", "", msg) if msg.startswith("unsupported: ") else msg
    if key.startswith("save: nft list ruleset differs"):
        key = "save: nft list ruleset differs"
    files = groups.setdefault(key, {})
    files.setdefault(f, []).append((ln, msg))
for key, files in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
    n = sum(len(v) for v in files.values())
    print(f"- **{key}** — {len(files)} file{'s' if len(files) != 1 else ''}, {n} line{'s' if n != 1 else ''}")
    for f, hits in sorted(files.items()):
        lines = ",".join(h[0] for h in hits if h[0])
        where = f"{f}:{lines}" if lines else f
        print(f"  - {where}: `{hits[0][1]}`")
EOF
else
    echo "(none)"
fi

[ $kacc = $((e0)) ] && [ $savebad = 0 ]
