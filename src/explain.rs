//! Short explanations of what a packet, session or rule is, for people learning. The text lives
//! in `assets/explain.md` (sections `## name`), so it can be improved without touching code.

use crate::decode::{Proto, Summary, TcpInfo};
use crate::firewall::eval::Final;
use crate::firewall::model::{ct, Action, Rhs, Rule, Verdict};
use crate::firewall::Judgement;
use crate::sessions::names::{addr_class, port_name};
use crate::sessions::{Session, SessionProto};

const TEXT: &str = include_str!("../assets/explain.md");

/// The text of section `name`, or `None` when the file has no such section.
pub fn section(name: &str) -> Option<&'static str> {
    let head = format!("## {name}\n");
    let start = TEXT.find(&head)? + head.len();
    let end = TEXT[start..]
        .find("\n## ")
        .map(|i| start + i)
        .unwrap_or(TEXT.len());
    Some(TEXT[start..end].trim())
}

/// Paragraphs for these sections, in order, without repeats; unknown names are skipped.
pub fn compose(names: &[&str]) -> Vec<&'static str> {
    let mut seen = Vec::new();
    names
        .iter()
        .filter(|n| {
            let fresh = !seen.contains(n);
            seen.push(*n);
            fresh
        })
        .filter_map(|n| section(n))
        .collect()
}

fn addr_topic(a: std::net::IpAddr) -> &'static str {
    match addr_class(a).0 {
        "lo" => "addr-loopback",
        "lan" => "addr-private",
        "link" => "addr-link",
        "mcast" => "addr-multicast",
        _ => "addr-public",
    }
}

fn verdict_topics(j: &Judgement, out: &mut Vec<&'static str>) {
    out.push(match j.ct {
        ct::NEW => "ct-new",
        ct::ESTABLISHED => "ct-established",
        ct::RELATED => "ct-related",
        ct::UNTRACKED => "ct-untracked",
        _ => "ct-invalid",
    });
    out.push(match j.verdict {
        Final::Accept => "verdict-accept",
        Final::Drop => "verdict-drop",
        Final::Reject => "verdict-reject",
    });
    if j.rule.is_none() {
        out.push("policy");
    }
    if !j.exact {
        out.push("verdict-approximate");
    }
}

/// What to say about one packet.
pub fn for_packet(s: &Summary, j: Option<&Judgement>) -> Vec<&'static str> {
    let mut t = Vec::new();
    if let Some(tcp) = s.tcp {
        let f = tcp.flags;
        if f & TcpInfo::RST != 0 {
            t.push("tcp-rst");
        } else if f & TcpInfo::SYN != 0 && f & TcpInfo::ACK != 0 {
            t.push("tcp-synack");
        } else if f & TcpInfo::SYN != 0 {
            t.push("tcp-syn");
        } else if f & TcpInfo::FIN != 0 {
            t.push("tcp-fin");
        } else if s.payload_len > 0 {
            t.push("tcp-data");
        } else {
            t.push("tcp-ack");
        }
    }
    match s.proto {
        Proto::Dns | Proto::Mdns => t.push("dns"),
        Proto::Udp => t.push("udp"),
        Proto::Icmp | Proto::Icmpv6 => {
            let typ = s.icmp.map(|i| i.typ).or(s.icmpv6.map(|i| i.typ));
            t.push(match typ {
                Some(0 | 8 | 128 | 129) => "icmp-echo",
                Some(3 | 1) => "icmp-unreachable",
                _ => "icmp-other",
            });
        }
        Proto::Arp | Proto::Rarp => t.push("arp"),
        Proto::Ipv4 | Proto::Ipv6 if s.frag.is_some() => t.push("fragment"),
        _ => {}
    }
    if let Some(d) = s.dst {
        t.push(addr_topic(d));
    }
    let proto = if s.tcp.is_some() {
        SessionProto::Tcp
    } else {
        SessionProto::Udp
    };
    if s.dport.is_some_and(|p| port_name(proto, p).is_some())
        || s.sport.is_some_and(|p| port_name(proto, p).is_some())
    {
        t.push("port-well-known");
    }
    if let Some(j) = j {
        verdict_topics(j, &mut t);
    }
    t
}

/// What to say about one session.
pub fn for_session(s: &Session, verdicts: Option<&[u32; 4]>) -> Vec<&'static str> {
    let mut t = Vec::new();
    match s.state_name() {
        "ESTABLISHED" => t.push("state-established"),
        "SYN_SENT" | "SYN_RECEIVED" => t.push("state-syn"),
        "FIN_WAIT" | "CLOSE_WAIT" | "CLOSING" | "LAST_ACK" => t.push("state-closing"),
        "TIME_WAIT" | "CLOSED" => t.push("state-time-wait"),
        "RESET" => t.push("state-reset"),
        "MIDSTREAM" => t.push("state-midstream"),
        _ => {}
    }
    match s.proto {
        SessionProto::Udp => t.extend(["session-udp", "udp"]),
        SessionProto::IcmpEcho | SessionProto::Icmpv6Echo => t.push("icmp-echo"),
        _ => {}
    }
    if s.retransmissions() > 0 {
        t.push("retransmission");
    }
    t.push(addr_topic(s.a.addr));
    t.push(addr_topic(s.b.addr));
    if port_name(s.proto, s.b.port).is_some() {
        t.push("port-well-known");
    }
    if let Some([_, d, r, _]) = verdicts {
        if *d > 0 {
            t.push("verdict-drop");
        }
        if *r > 0 {
            t.push("verdict-reject");
        }
    }
    t
}

/// What to say about one rule.
pub fn for_rule(r: &Rule) -> Vec<&'static str> {
    let mut t = Vec::new();
    for m in &r.matches {
        if let (crate::firewall::model::Field::CtState, Rhs::AnyBits(bits)) = (m.field, &m.rhs) {
            for (bit, name) in [
                (ct::NEW, "ct-new"),
                (ct::ESTABLISHED, "ct-established"),
                (ct::RELATED, "ct-related"),
                (ct::INVALID, "ct-invalid"),
            ] {
                if bits & bit as u64 != 0 {
                    t.push(name);
                }
            }
        }
    }
    if r.unsupported.is_some() {
        t.push("rule-unsupported");
        return t;
    }
    if r.vmap.is_some() {
        t.push("rule-vmap");
    }
    if r.is_approx() {
        t.push("rule-approximate");
    }
    for a in &r.actions {
        t.push(match a {
            Action::Notrack => "ct-untracked",
            Action::Nat(_) => "rule-nat",
            Action::Other(_) => "rule-other-statement",
        });
    }
    t.push(match r.verdict {
        Some(Verdict::Drop) => "verdict-drop",
        Some(Verdict::Reject) => "verdict-reject",
        _ => "verdict-accept",
    });
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_the_code_names_has_text() {
        for name in [
            "tcp-syn",
            "tcp-synack",
            "tcp-ack",
            "tcp-data",
            "tcp-fin",
            "tcp-rst",
            "udp",
            "udp-loss",
            "icmp-echo",
            "icmp-unreachable",
            "icmp-other",
            "arp",
            "dns",
            "fragment",
            "addr-loopback",
            "addr-private",
            "addr-link",
            "addr-multicast",
            "addr-public",
            "port-well-known",
            "ct-new",
            "ct-established",
            "ct-related",
            "ct-invalid",
            "ct-untracked",
            "verdict-accept",
            "verdict-drop",
            "verdict-reject",
            "policy",
            "state-established",
            "state-syn",
            "state-closing",
            "state-time-wait",
            "state-reset",
            "state-midstream",
            "session-udp",
            "retransmission",
            "verdict-approximate",
            "rule-unsupported",
            "rule-vmap",
            "rule-approximate",
            "rule-nat",
            "rule-other-statement",
        ] {
            assert!(
                section(name).is_some_and(|t| t.len() > 40),
                "assets/explain.md lacks ## {name}"
            );
        }
        assert!(section("tcp-syn").unwrap().starts_with("**SYN**"));
        assert!(
            !section("tcp-syn").unwrap().contains("## "),
            "a section ends at the next heading"
        );
    }
}
