#!/usr/bin/env bash
# Validate every ruleset in tests/data/rulesets with the real kernel tools, each in a throwaway
# network namespace: `nft -c -f` then a real `nft -f` load (.nft), `iptables-restore --test` then
# a real restore (.iptables), `ip6tables-restore --test` then a real restore (.ip6tables).
#
# The first line of each file is read:
#   # packetlab-test: ifaces=eth0,wan0 check=0 [unsupported=L1,L2]
# and each interface in ifaces= is created in the namespace first (a dummy interface, or one end
# of a veth pair where the kernel has no dummy driver), for iif/oif and netdev `device`.
# Files without that header (the older ones) are checked with no interfaces and a warning.
# nft resolves `include "./include/..."` against the current directory, so this runs from the
# rulesets folder. Needs root. Exits nonzero if any file fails.
#
# Usage: scripts/check-rulesets.sh [FILE...]   (default: every file in tests/data/rulesets)
set -u

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/tests/data/rulesets"
ns="plk-rs-$$"

if [ "$(id -u)" != 0 ]; then
    echo "check-rulesets: needs root (network namespaces)" >&2
    exit 2
fi
for tool in ip nft iptables-restore ip6tables-restore; do
    command -v "$tool" >/dev/null || { echo "check-rulesets: $tool is missing" >&2; exit 2; }
done

cleanup() { ip netns del "$ns" 2>/dev/null; }
trap cleanup EXIT

cd "$dir" || exit 2
if [ $# -gt 0 ]; then
    files=("$@")
else
    files=()
    for f in *.nft *.iptables *.ip6tables; do
        [ -f "$f" ] && files+=("$f")
    done
fi

pass=0
fail=0
failed=()
for f in "${files[@]}"; do
    f="${f##*/}"
    header="$(head -n 1 "$f")"
    ifaces="-"
    check="?"
    note=""
    if [[ "$header" =~ ^#\ packetlab-test:\ ifaces=([^ ]+)\ check=([01])( unsupported=([0-9,]+))?$ ]]; then
        ifaces="${BASH_REMATCH[1]}"
        check="${BASH_REMATCH[2]}"
        unsupported="${BASH_REMATCH[4]}"
        if [ "$check" = 1 ] && [ -z "$unsupported" ]; then
            note="check=1 without unsupported="
        fi
        if [ "$check" = 0 ] && [ -n "$unsupported" ]; then
            note="unsupported= on a check=0 file"
        fi
        lines=$(wc -l < "$f")
        for l in ${unsupported//,/ }; do
            if [ "$l" -gt $((lines + 1)) ]; then note="unsupported line $l past the end"; fi
        done
    else
        echo "warning: $f has no '# packetlab-test:' header; checked with no interfaces" >&2
    fi

    ip netns del "$ns" 2>/dev/null
    ip netns add "$ns" || { echo "check-rulesets: cannot add netns $ns" >&2; exit 2; }
    k=0
    if [ "$ifaces" != "-" ]; then
        for i in ${ifaces//,/ }; do
            ip -n "$ns" link add "$i" type dummy 2>/dev/null ||
                ip -n "$ns" link add "$i" type veth peer name "plkpeer$k" ||
                note="cannot create interface $i"
            k=$((k + 1))
        done
    fi

    out=""
    ok=1
    case "$f" in
    *.nft)
        out="$(ip netns exec "$ns" nft -c -f "$f" 2>&1)" || ok=0
        if [ $ok = 1 ]; then
            out="$(ip netns exec "$ns" nft -f "$f" 2>&1 && ip netns exec "$ns" nft list ruleset 2>&1 >/dev/null)" || ok=0
        fi
        ;;
    *.iptables)
        out="$(ip netns exec "$ns" iptables-restore --test < "$f" 2>&1)" || ok=0
        if [ $ok = 1 ]; then
            out="$(ip netns exec "$ns" iptables-restore < "$f" 2>&1 && ip netns exec "$ns" iptables-save 2>&1 >/dev/null)" || ok=0
        fi
        ;;
    *.ip6tables)
        out="$(ip netns exec "$ns" ip6tables-restore --test < "$f" 2>&1)" || ok=0
        if [ $ok = 1 ]; then
            out="$(ip netns exec "$ns" ip6tables-restore < "$f" 2>&1 && ip netns exec "$ns" ip6tables-save 2>&1 >/dev/null)" || ok=0
        fi
        ;;
    *)
        ok=0
        out="unknown extension"
        ;;
    esac
    ip netns del "$ns"
    [ -n "$note" ] && ok=0 && out="$note${out:+; $out}"

    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        printf 'ok    %-40s ifaces=%s check=%s\n' "$f" "$ifaces" "$check"
    else
        fail=$((fail + 1))
        failed+=("$f")
        printf 'FAIL  %-40s ifaces=%s check=%s\n%s\n' "$f" "$ifaces" "$check" "$out"
    fi
done

echo "check-rulesets: $pass passed, $fail failed (of ${#files[@]})"
[ $fail = 0 ] || { printf '  failed: %s\n' "${failed[@]}"; exit 1; }
