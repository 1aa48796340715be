//! ICMP and ICMPv6 types and codes by iptables' and ip6tables' names.

use crate::firewall::model::*;
use crate::firewall::names;

/// A test of an ICMP(v6) type and code together: nft's `icmp type . icmp code { 3 . 3 }`.
pub(super) fn type_and_code(typ: Field, code: Field, op: Op, t: u64, c: u64) -> Match {
    Match {
        field: typ,
        more: vec![code],
        op,
        rhs: Rhs::Values(vec![Value::Concat(vec![Value::Int(t), Value::Int(c)])]),
        var: None,
    }
}

/// An ICMP type with its code, as `T/C` or one of iptables' names that stand for both.
pub(super) fn icmp_type_code(s: &str) -> Option<(u64, u64)> {
    type_code(s, &ICMP_TYPE_CODES)
}

const ICMP_TYPE_CODES: [(&str, (u64, u64)); 23] = [
    ("network-unreachable", (3, 0)),
    ("host-unreachable", (3, 1)),
    ("protocol-unreachable", (3, 2)),
    ("port-unreachable", (3, 3)),
    ("fragmentation-needed", (3, 4)),
    ("source-route-failed", (3, 5)),
    ("network-unknown", (3, 6)),
    ("host-unknown", (3, 7)),
    ("network-prohibited", (3, 9)),
    ("host-prohibited", (3, 10)),
    ("TOS-network-unreachable", (3, 11)),
    ("TOS-host-unreachable", (3, 12)),
    ("communication-prohibited", (3, 13)),
    ("host-precedence-violation", (3, 14)),
    ("precedence-cutoff", (3, 15)),
    ("network-redirect", (5, 0)),
    ("host-redirect", (5, 1)),
    ("TOS-network-redirect", (5, 2)),
    ("TOS-host-redirect", (5, 3)),
    ("ttl-zero-during-transit", (11, 0)),
    ("ttl-zero-during-reassembly", (11, 1)),
    ("ip-header-bad", (12, 0)),
    ("required-option-missing", (12, 1)),
];

/// The same for ICMPv6 (ip6tables' names).
pub(super) fn icmp6_type_code(s: &str) -> Option<(u64, u64)> {
    type_code(s, &ICMP6_TYPE_CODES)
}

const ICMP6_TYPE_CODES: [(&str, (u64, u64)); 12] = [
    ("no-route", (1, 0)),
    ("communication-prohibited", (1, 1)),
    ("beyond-scope", (1, 2)),
    ("address-unreachable", (1, 3)),
    ("port-unreachable", (1, 4)),
    ("failed-policy", (1, 5)),
    ("reject-route", (1, 6)),
    ("ttl-zero-during-transit", (3, 0)),
    ("ttl-zero-during-reassembly", (3, 1)),
    ("bad-header", (4, 0)),
    ("unknown-header-type", (4, 1)),
    ("unknown-option", (4, 2)),
];

/// ip6tables' names of ICMPv6 types.
pub(super) fn icmp6_type(s: &str) -> Option<u64> {
    Some(match s {
        "destination-unreachable" => 1,
        "packet-too-big" => 2,
        "time-exceeded" | "ttl-exceeded" => 3,
        "parameter-problem" => 4,
        "echo-request" | "ping" => 128,
        "echo-reply" | "pong" => 129,
        "router-solicitation" => 133,
        "router-advertisement" => 134,
        "neighbour-solicitation" | "neighbor-solicitation" => 135,
        "neighbour-advertisement" | "neighbor-advertisement" => 136,
        "redirect" => 137,
        _ => return names::lookup(Kind::Icmpv6Type, s),
    })
}

/// `T/C` in numbers, else the type and code a name in `names` stands for.
fn type_code(s: &str, names: &[(&str, (u64, u64))]) -> Option<(u64, u64)> {
    if let Some((t, c)) = s.split_once('/') {
        return Some((t.parse::<u8>().ok()?.into(), c.parse::<u8>().ok()?.into()));
    }
    names.iter().find(|(n, _)| *n == s).map(|(_, tc)| *tc)
}
