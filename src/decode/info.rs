//! The Info column: one line saying what a packet is, in the words tshark uses. Built on demand
//! (only for rows on screen or lines printed), never stored.

use std::fmt::Write as _;

use super::dns;
use super::ip::arp_op_name;
use super::transport::{icmp_type_name, icmpv6_type_name, tcp_flag_names};
use super::{fmt_mac, Proto, Summary};

pub fn info(s: &Summary, data: &[u8]) -> String {
    let mut out = String::new();
    let payload = data.get(s.payload_range()).unwrap_or(&[]);
    match s.proto {
        Proto::Dns | Proto::Mdns => {
            // TCP carries a two-byte length before the message.
            let m = if s.tcp.is_some() {
                payload.get(2..).unwrap_or(&[])
            } else {
                payload
            };
            out = dns::info(m);
        }
        Proto::Tcp => {
            let t = s.tcp.unwrap_or_default();
            let _ = write!(
                out,
                "{} → {} [{}] Seq={} Ack={} Win={} Len={}",
                s.sport.unwrap_or(0),
                s.dport.unwrap_or(0),
                tcp_flag_names(t.flags),
                t.seq,
                t.ack,
                t.window,
                s.payload_len
            );
            if let Some(m) = t.mss {
                let _ = write!(out, " MSS={m}");
            }
            if t.sack_perm {
                out.push_str(" SACK_PERM");
            }
            if let Some((v, e)) = t.ts {
                let _ = write!(out, " TSval={v} TSecr={e}");
            }
            if let Some(w) = t.wscale {
                let _ = write!(out, " WS={}", 1u32 << w.min(14));
            }
            if s.tcp.is_none() {
                out = format!("{} → {}", s.sport.unwrap_or(0), s.dport.unwrap_or(0));
            }
        }
        Proto::Udp => {
            let _ = write!(
                out,
                "{} → {} Len={}",
                s.sport.unwrap_or(0),
                s.dport.unwrap_or(0),
                s.payload_len
            );
        }
        Proto::Icmp => {
            if let Some(i) = s.icmp {
                out.push_str(icmp_type_name(i.typ, i.code));
                if let Some((id, seq)) = i.echo {
                    let _ = write!(out, " id=0x{id:04x}, seq={seq}/{}", seq.swap_bytes());
                    if let Some(ttl) = s.ttl {
                        let _ = write!(out, ", ttl={ttl}");
                    }
                }
                quoted(&mut out, s);
            }
        }
        Proto::Icmpv6 => {
            if let Some(i) = s.icmpv6 {
                out.push_str(icmpv6_type_name(i.typ));
                if let Some((id, seq)) = i.echo {
                    let _ = write!(out, " id=0x{id:04x}, seq={seq}");
                }
                quoted(&mut out, s);
            }
        }
        Proto::Arp | Proto::Rarp => {
            if let Some(a) = s.arp {
                match (a.op, a.sender_ip, a.target_ip, a.sender_mac) {
                    (1, Some(sip), Some(tip), _) => {
                        let _ = write!(out, "Who has {tip}? Tell {sip}");
                    }
                    (2, Some(sip), _, Some(smac)) => {
                        let _ = write!(out, "{sip} is at {}", fmt_mac(&smac));
                    }
                    (3, _, _, _) => {
                        let mac = a.target_mac.map(|m| fmt_mac(&m)).unwrap_or_default();
                        let _ = write!(out, "Who is {mac}? Tell {mac}");
                    }
                    (4, _, Some(tip), _) => {
                        let mac = a.target_mac.map(|m| fmt_mac(&m)).unwrap_or_default();
                        let _ = write!(out, "{mac} is at {tip}");
                    }
                    (op, ..) => {
                        let _ = write!(out, "ARP {}", arp_op_name(op));
                    }
                }
            }
        }
        Proto::Ipv4 | Proto::Ipv6 => {
            if let Some(f) = s.frag {
                let _ = write!(
                    out,
                    "Fragmented IP protocol (proto={}, off={}, ID={:04x}){}",
                    s.ip_proto.unwrap_or(0),
                    f.offset,
                    f.id,
                    if f.more { "" } else { " [last]" }
                );
            } else if let Some(p) = s.ip_proto {
                let _ = write!(out, "{} (protocol {p})", super::ip::ip_proto_name(p));
            }
        }
        Proto::Ethernet => {
            out.push_str("Ethernet frame");
        }
        Proto::Llc => out.push_str("IEEE 802.3 / LLC"),
        other => out.push_str(other.name()),
    }
    if let Some(e) = s.error {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "[Malformed: {e}]");
    }
    out
}

fn quoted(out: &mut String, s: &Summary) {
    if let Some(i) = s.inner {
        let _ = write!(out, " (about {} → {}", i.src, i.dst);
        if let (true, Some(sp), Some(dp)) = (s.quoted, s.sport, s.dport) {
            let _ = write!(out, " ports {sp} → {dp}");
        }
        out.push(')');
    }
}

/// Source and destination as the list shows them: IP addresses, else MACs.
pub fn endpoints(s: &Summary) -> (String, String) {
    match (s.src, s.dst) {
        (Some(a), Some(b)) => (a.to_string(), b.to_string()),
        (Some(a), None) => (a.to_string(), String::new()),
        _ => match (s.eth_src, s.eth_dst) {
            (Some(a), Some(b)) => (fmt_mac(&a), fmt_mac(&b)),
            _ => (String::new(), String::new()),
        },
    }
}
