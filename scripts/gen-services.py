#!/usr/bin/env python3
"""Writes src/firewall/services.rs from a services(5) file (default /etc/services, Debian's
netbase): every name and alias with its port, as nft resolves `tcp dport distcc`. The table is
built in so that a ruleset means the same on every machine; names also listed in names.rs's
short table keep that table's value."""
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "/etc/services"
ports = {}
for line in open(path, encoding="utf-8", errors="replace"):
    line = line.split("#", 1)[0].split()
    if len(line) < 2 or "/" not in line[1]:
        continue
    port = int(line[1].split("/")[0])
    for name in [line[0]] + line[2:]:
        ports.setdefault(name, port)

out = [
    "//! Service names and ports from Debian's netbase `/etc/services`, made by",
    "//! `scripts/gen-services.py` (do not edit by hand). nft resolves a service name with the",
    "//! host's services file; this table is what Debian's says, so a ruleset reads the same",
    "//! everywhere.",
    "",
    "/// The port of a service name or alias.",
    "pub fn port(name: &str) -> Option<u16> {",
    "    // Sorted by name: a binary search.",
    "    SERVICES",
    "        .binary_search_by(|(n, _)| n.cmp(&name))",
    "        .ok()",
    "        .map(|i| SERVICES[i].1)",
    "}",
    "",
    "/// Every name and alias with its port, sorted by name (bytewise).",
    "pub const SERVICES: &[(&str, u16)] = &[",
]
for name in sorted(ports):
    out.append(f'    ("{name}", {ports[name]}),')
out.append("];")
open("src/firewall/services.rs", "w").write("\n".join(out) + "\n")
print(f"{len(ports)} names from {path}")
