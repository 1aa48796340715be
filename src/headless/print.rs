//! Headless printers (`--print packets`): text lines like tshark's, or JSON lines.

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::FrameRef;
use crate::decode::info::{endpoints, info};
use crate::decode::{dns, fmt_mac, Summary};
use crate::engine::Seen;
use crate::firewall::{Firewall, Judgement};
use crate::sessions::{Session, SessionTable};

/// One packet as JSON; keys are null where they do not apply.
#[derive(Serialize)]
pub struct PacketJson {
    pub no: u64,
    pub ts: String,
    pub len: u32,
    pub caplen: usize,
    pub iface: u16,
    pub link: &'static str,
    pub eth_src: Option<String>,
    pub eth_dst: Option<String>,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub ip_proto: Option<u8>,
    /// The IPv6 fixed header's next-header field (tshark's `ipv6.nxt`).
    pub ipv6_nxt: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub tcp_flags: Option<u16>,
    pub tcp_seq: Option<u32>,
    pub tcp_ack: Option<u32>,
    pub icmp_type: Option<u8>,
    pub icmpv6_type: Option<u8>,
    pub arp_op: Option<u16>,
    pub dns_qname: Option<String>,
    pub proto: &'static str,
    pub info: String,
    pub error: Option<&'static str>,
    /// Present when a ruleset is loaded (`--rules`).
    #[serde(flatten)]
    pub firewall: Option<VerdictJson>,
}

/// The firewall's word on a packet.
#[derive(Serialize)]
pub struct VerdictJson {
    /// accept, drop or reject; null when the packet meets no IP hook (ARP…).
    pub verdict: Option<&'static str>,
    /// The base chain that decided: "family table chain".
    pub chain: Option<String>,
    /// The deciding rule's line in the rules file; null when a chain policy decided.
    pub rule: Option<u32>,
    pub rule_text: Option<String>,
    /// The packet's conntrack state as `ct state` sees it.
    pub ct_state: Option<&'static str>,
    /// False when the verdict depends on something not simulated exactly (a rate model, an
    /// unsupported rule, a NAT chain acting on it, an interface the capture does not name).
    pub exact: Option<bool>,
}

impl VerdictJson {
    pub fn new(fw: &Firewall, j: Option<&Judgement>) -> Self {
        VerdictJson {
            verdict: j.map(|j| j.verdict.name()),
            chain: j.and_then(|j| j.chain).map(|c| fw.chain_name(c)),
            rule: j.and_then(|j| j.rule).and_then(|r| fw.rule_line(r)),
            rule_text: j
                .and_then(|j| j.rule)
                .and_then(|r| fw.rule_text(r))
                .map(str::to_string),
            ct_state: j.map(|j| crate::firewall::model::ct::name(j.ct)),
            exact: j.map(|j| j.exact),
        }
    }
}

impl PacketJson {
    pub fn new(no: u64, f: &FrameRef<'_>, s: &Summary) -> Self {
        Self::judged(no, f, s, None)
    }

    pub fn judged(
        no: u64,
        f: &FrameRef<'_>,
        s: &Summary,
        fw: Option<(&Firewall, Option<&Judgement>)>,
    ) -> Self {
        PacketJson {
            no,
            ts: f.ts.epoch_string(),
            len: f.orig_len,
            caplen: f.data.len(),
            iface: f.iface,
            link: f.link_type.name(),
            eth_src: s.eth_src.as_ref().map(fmt_mac),
            eth_dst: s.eth_dst.as_ref().map(fmt_mac),
            src: s.src,
            dst: s.dst,
            ip_proto: s.ip_proto,
            ipv6_nxt: s.ipv6_nxt,
            sport: s.sport,
            dport: s.dport,
            tcp_flags: s.tcp.map(|t| t.flags),
            tcp_seq: s.tcp.map(|t| t.seq),
            tcp_ack: s.tcp.map(|t| t.ack),
            icmp_type: s.icmp.map(|i| i.typ),
            icmpv6_type: s.icmpv6.map(|i| i.typ),
            arp_op: s.arp.map(|a| a.op),
            dns_qname: dns::qname_of(s, f.data),
            proto: s.proto.name(),
            info: info(s, f.data),
            error: s.error,
            firewall: fw.map(|(fw, j)| VerdictJson::new(fw, j)),
        }
    }
}

/// Writes packets, one per call, in text or JSON form.
pub struct PacketPrinter<W: Write> {
    out: W,
    json: bool,
    first_ts: Option<i64>,
}

impl<W: Write> PacketPrinter<W> {
    pub fn new(out: W, json: bool) -> Self {
        PacketPrinter {
            out,
            json,
            first_ts: None,
        }
    }

    /// A frame not printed (filtered out): times stay relative to the capture's first frame.
    pub fn skip(&mut self, f: &FrameRef<'_>) {
        self.first_ts.get_or_insert(f.ts.0);
    }

    pub fn print(
        &mut self,
        no: u64,
        f: &FrameRef<'_>,
        seen: &Seen,
        fw: Option<&Firewall>,
    ) -> io::Result<()> {
        let s = &seen.summary;
        if self.json {
            let v = PacketJson::judged(no, f, s, fw.map(|fw| (fw, seen.judgement.as_ref())));
            serde_json::to_writer(&mut self.out, &v)?;
            return self.out.write_all(b"\n");
        }
        let t0 = *self.first_ts.get_or_insert(f.ts.0);
        let rel = (f.ts.0 - t0) as f64 / 1e9;
        let (src, dst) = endpoints(s);
        let verdict = match (fw, &seen.judgement) {
            (Some(fw), Some(j)) => format!(
                " [{}{}{}]",
                if j.exact { "" } else { "≈" },
                j.verdict.name().to_uppercase(),
                j.rule
                    .and_then(|r| fw.rule_line(r))
                    .map(|l| format!(" by line {l}"))
                    .unwrap_or_else(|| " by policy".into())
            ),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "{no:>6} {rel:>11.6} {src:>15} → {dst:<15} {:<7} {:>5} {}{verdict}",
            s.proto.name(),
            f.orig_len,
            info(s, f.data)
        )
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One session as JSON.
#[derive(Serialize)]
pub struct SessionJson {
    pub id: u64,
    pub proto: String,
    pub a_addr: IpAddr,
    pub a_port: Option<u16>,
    pub b_addr: IpAddr,
    pub b_port: Option<u16>,
    pub frames_ab: u64,
    pub bytes_ab: u64,
    pub payload_ab: u64,
    pub frames_ba: u64,
    pub bytes_ba: u64,
    pub payload_ba: u64,
    pub start: String,
    pub duration: f64,
    pub state: &'static str,
    pub retransmissions: u32,
    pub out_of_order: u32,
    pub zero_windows: u32,
    /// SYN to the ACK that completed the handshake, in seconds.
    pub handshake_rtt: Option<f64>,
    pub process: Option<String>,
}

impl SessionJson {
    pub fn new(s: &Session, process: Option<String>) -> Self {
        let ports = s.proto.has_ports();
        let tcp = s.tcp.as_ref();
        SessionJson {
            id: s.id,
            proto: s.proto.name(),
            a_addr: s.a.addr,
            a_port: ports.then_some(s.a.port),
            b_addr: s.b.addr,
            b_port: ports.then_some(s.b.port),
            frames_ab: s.ab.frames,
            bytes_ab: s.ab.bytes,
            payload_ab: s.ab.payload,
            frames_ba: s.ba.frames,
            bytes_ba: s.ba.bytes,
            payload_ba: s.ba.payload,
            start: s.first.epoch_string(),
            duration: s.duration_ns() as f64 / 1e9,
            state: s.state_name(),
            retransmissions: s.retransmissions(),
            out_of_order: tcp.map(|t| t.out_of_order).unwrap_or(0),
            zero_windows: tcp.map(|t| t.zero_windows).unwrap_or(0),
            handshake_rtt: tcp.and_then(|t| t.handshake_rtt).map(|n| n as f64 / 1e9),
            process,
        }
    }
}

/// Prints the session table, in creation order.
pub fn print_sessions<W: Write>(out: &mut W, table: &SessionTable, json: bool) -> io::Result<()> {
    let sessions = table.sorted_by_id();
    if json {
        for s in sessions {
            serde_json::to_writer(&mut *out, &SessionJson::new(s, s.process_label()))?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:>5} {:<6} {:<45} {:<45} {:<12} {:>8} {:>10} {:>8} {:>10} {:>10} {:>5}",
        "id",
        "proto",
        "A",
        "B",
        "state",
        "A→B pkts",
        "A→B bytes",
        "B→A pkts",
        "B→A bytes",
        "duration",
        "retx"
    )?;
    for s in sessions {
        let (a, b) = if s.proto.has_ports() {
            (s.a.to_string(), s.b.to_string())
        } else {
            (s.a.addr.to_string(), s.b.addr.to_string())
        };
        writeln!(
            out,
            "{:>5} {:<6} {:<45} {:<45} {:<12} {:>8} {:>10} {:>8} {:>10} {:>10.6} {:>5}",
            s.id,
            s.proto.name(),
            a,
            b,
            s.state_name(),
            s.ab.frames,
            s.ab.bytes,
            s.ba.frames,
            s.ba.bytes,
            s.duration_ns() as f64 / 1e9,
            s.retransmissions()
        )?;
    }
    if table.evicted > 0 {
        writeln!(
            out,
            "({} sessions evicted to stay within --max-sessions)",
            table.evicted
        )?;
    }
    Ok(())
}

/// `--print rules`: every rule with its counters, then the policies' share.
pub fn print_rules<W: Write>(out: &mut W, fw: &Firewall, json: bool) -> io::Result<()> {
    for (id, rule) in fw.ruleset.rules() {
        let c = fw.counters.get(&id).copied().unwrap_or_default();
        let chain = fw.chain_name((id.table, id.chain));
        let table = &fw.ruleset.tables[id.table as usize];
        let simulated = table.family.simulated()
            && table.chains[id.chain as usize]
                .base
                .as_ref()
                .is_none_or(|b| b.kind == crate::firewall::model::ChainType::Filter);
        // How far the rule is simulated: exact, approximate (a modelled statement), shown only
        // (its chain is not simulated) or unsupported.
        let how = match (&rule.unsupported, rule.is_approx(), simulated) {
            (Some(_), _, _) => "unsupported",
            (None, _, false) => "not simulated",
            (None, true, true) => "approximate",
            (None, false, true) => "exact",
        };
        if json {
            let v = serde_json::json!({
                "line": rule.origin.line,
                "file": rule.origin.file,
                "chain": chain,
                "rule": rule.origin.text,
                "enabled": rule.enabled,
                "packets": c.packets,
                "bytes": c.bytes,
                "simulated": how,
                "unsupported": rule.unsupported.as_ref().map(|u| &u.1),
            });
            writeln!(out, "{v}")?;
        } else {
            let mark = match how {
                "approximate" => "≈ ",
                "unsupported" => "✘ ",
                "not simulated" => "- ",
                _ => "",
            };
            writeln!(
                out,
                "{:>5}  {:>8} pkts {:>10} bytes  {mark}{}{}",
                rule.origin.line,
                c.packets,
                c.bytes,
                if rule.enabled { "" } else { "(disabled) " },
                rule.origin.text
            )?;
        }
    }
    if !json {
        let [a, d, r] = fw.verdicts;
        writeln!(
            out,
            "verdicts: {a} accepted, {d} dropped, {r} rejected; {} approximate (≈: a modelled or unsupported rule, a chain not simulated or an unnamed interface took part)",
            fw.inexact
        )?;
    }
    Ok(())
}

/// `--print follow`: the session's payload, chunk by chunk: text with escapes (B→A indented),
/// or JSON lines `{"dir": "ab"|"ba", "no": N, "hex": "…"}`.
pub fn print_follow<W: Write>(
    out: &mut W,
    f: &crate::follow::Follower,
    json: bool,
) -> io::Result<()> {
    use crate::follow::{escaped, hex, Dir};
    for c in &f.chunks {
        let dir = if c.dir == Dir::AtoB { "ab" } else { "ba" };
        if json {
            let v = serde_json::json!({"dir": dir, "no": c.no, "hex": hex(&c.bytes)});
            writeln!(out, "{v}")?;
        } else {
            let indent = if c.dir == Dir::AtoB { "" } else { "\t" };
            writeln!(
                out,
                "{indent}── {} {} bytes (packet {}) ──",
                if c.dir == Dir::AtoB { "A→B" } else { "B→A" },
                c.bytes.len(),
                c.no
            )?;
            for line in escaped(&c.bytes).lines() {
                writeln!(out, "{indent}{line}")?;
            }
        }
    }
    Ok(())
}
