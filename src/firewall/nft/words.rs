//! The words nft knows where packetlab reads a rule, so a word nft would reject (`acept`,
//! `tcp dpot`) is a syntax error with a suggestion, while a valid construct packetlab does not
//! simulate stays "unsupported". The lists are nft's (nft(8), `src/parser_bison.y`), wider
//! than what packetlab reads.

use crate::firewall::syntax::suggest;

/// What may begin a statement: statement keywords and the first word of every expression.
pub(super) const FIRST: &[&str] = &[
    // Verdicts and statements.
    "accept",
    "drop",
    "reject",
    "continue",
    "return",
    "jump",
    "goto",
    "queue",
    "counter",
    "log",
    "comment",
    "limit",
    "quota",
    "meter",
    "notrack",
    "masquerade",
    "snat",
    "dnat",
    "redirect",
    "flow",
    "add",
    "update",
    "delete",
    "dup",
    "fwd",
    "tproxy",
    "synproxy",
    "set",
    "map",
    "vmap",
    "xt",
    "last",
    "reset",
    "connlimit",
    "secmark",
    "ct",
    "meta",
    // Expressions.
    "ip",
    "ip6",
    "tcp",
    "udp",
    "udplite",
    "th",
    "sctp",
    "dccp",
    "icmp",
    "icmpv6",
    "igmp",
    "ah",
    "esp",
    "comp",
    "gre",
    "ipip",
    "vxlan",
    "geneve",
    "ether",
    "vlan",
    "arp",
    "rt",
    "exthdr",
    "hbh",
    "frag",
    "dst",
    "mh",
    "srh",
    "fib",
    "socket",
    "osf",
    "numgen",
    "jhash",
    "symhash",
    "ipsec",
    "tunnel",
    "inner",
    "cgroupv2",
    "mark",
    "priority",
    "nftrace",
    "iif",
    "iifname",
    "iiftype",
    "iifgroup",
    "oif",
    "oifname",
    "oiftype",
    "oifgroup",
    "pkttype",
    "skuid",
    "skgid",
    "rtclassid",
    "ibriport",
    "obriport",
    "ibrname",
    "obrname",
    "cpu",
    "cgroup",
    "random",
    "length",
    "protocol",
    "l4proto",
    "nfproto",
    "sdif",
    "sdifname",
    "time",
    "day",
    "hour",
    "devgroup",
    "secpath",
    "broute",
];

/// The keys after a protocol or `meta`/`ct` word, by that word.
pub(super) fn keys(first: &str) -> Option<&'static [&'static str]> {
    Some(match first {
        "ip" => &[
            "version",
            "hdrlength",
            "dscp",
            "ecn",
            "length",
            "id",
            "frag-off",
            "ttl",
            "protocol",
            "checksum",
            "saddr",
            "daddr",
            "option",
        ],
        "ip6" => &[
            "version",
            "dscp",
            "ecn",
            "flowlabel",
            "length",
            "nexthdr",
            "hoplimit",
            "saddr",
            "daddr",
        ],
        "tcp" => &[
            "sport", "dport", "sequence", "ackseq", "doff", "reserved", "flags", "window",
            "checksum", "urgptr", "option",
        ],
        "udp" | "udplite" => &["sport", "dport", "length", "csumcov", "checksum"],
        "th" => &["sport", "dport"],
        "icmp" => &[
            "type", "code", "checksum", "id", "sequence", "gateway", "mtu",
        ],
        "icmpv6" => &[
            "type",
            "code",
            "checksum",
            "parameter-problem",
            "packet-too-big",
            "id",
            "sequence",
            "max-delay",
            "taddr",
            "daddr",
        ],
        "meta" => &[
            "length",
            "protocol",
            "priority",
            "mark",
            "iif",
            "iifname",
            "iiftype",
            "oif",
            "oifname",
            "oiftype",
            "skuid",
            "skgid",
            "nftrace",
            "rtclassid",
            "ibriport",
            "obriport",
            "ibrname",
            "obrname",
            "pkttype",
            "cpu",
            "iifgroup",
            "oifgroup",
            "cgroup",
            "random",
            "secpath",
            "nfproto",
            "l4proto",
            "ipsec",
            "time",
            "day",
            "hour",
            "sdif",
            "sdifname",
            "broute",
            "secmark",
            "iifkind",
            "oifkind",
        ],
        "ct" => &[
            "state",
            "direction",
            "status",
            "mark",
            "expiration",
            "helper",
            "l3proto",
            "saddr",
            "daddr",
            "protocol",
            "proto-src",
            "proto-dst",
            "bytes",
            "packets",
            "avgpkt",
            "zone",
            "event",
            "label",
            "original",
            "reply",
            "count",
            "id",
            "secmark",
            "timeout",
            "expectation",
            "ip",
            "ip6",
        ],
        _ => return None,
    })
}

/// A word that could be a keyword (letters first), not a value such as a number or address.
pub(super) fn is_keyword_like(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_alphabetic())
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `unknown word 'W'`, with the suggestion when one is close.
pub(super) fn unknown_word<'a>(w: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(w, candidates) {
        Some(s) => format!("unknown word '{w}' (did you mean '{s}'?)"),
        None => format!("unknown word '{w}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_suggested_and_far_ones_not() {
        assert_eq!(suggest("acept", FIRST.iter().copied()), Some("accept"));
        assert_eq!(
            suggest("dpot", keys("tcp").unwrap().iter().copied()),
            Some("dport")
        );
        assert_eq!(
            suggest("sadr", keys("ip").unwrap().iter().copied()),
            Some("saddr")
        );
        assert_eq!(suggest("xyzzyq", FIRST.iter().copied()), None);
        assert_eq!(suggest("dorp", ["drop", "accept"]), Some("drop"));
    }
}
