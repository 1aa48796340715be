//! The firewall simulator: a ruleset (nft syntax, or imported from iptables-save), the kernel's
//! connection tracking, and the verdict each packet gets — with per-rule counters and a trace.
//! Engine code: no terminal.

pub mod analysis;
pub mod compile;
pub mod conntrack;
pub mod eval;
pub mod iptables;
pub mod lexer;
pub mod model;
pub mod names;
pub mod nft;
pub mod save;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use conntrack::Conntrack;
use eval::{Final, Outcome, PacketView};
use model::{Hook, RuleId, Ruleset};

use crate::decode::Summary;

/// The simulated host's own addresses: which packets are its input, its output, or forwarded.
#[derive(Clone, Debug, Default)]
pub struct Locality {
    pub nets: Vec<(IpAddr, u8)>,
}

impl Locality {
    /// From `--local` values; an unparsable one is an error naming it.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        let nets = args
            .iter()
            .map(|a| parse_local(a).ok_or_else(|| format!("--local {a}: not an address or CIDR")))
            .collect::<Result<_, _>>()?;
        Ok(Locality { nets })
    }
}

impl Locality {
    pub fn is_local(&self, a: IpAddr) -> bool {
        a.is_loopback()
            || self
                .nets
                .iter()
                .any(|(n, l)| eval::prefix_contains(*n, *l, a))
    }

    /// The hooks a packet meets: to a local address input, from one output, both (loopback)
    /// output then input, as in the kernel; neither: forward.
    pub fn hooks(&self, src: IpAddr, dst: IpAddr) -> &'static [Hook] {
        if self.nets.is_empty() && !src.is_loopback() {
            // No host given (a capture file without --local): the host is whoever receives.
            return &[Hook::Input];
        }
        match (self.is_local(src), self.is_local(dst)) {
            (true, true) => &[Hook::Output, Hook::Input],
            (false, true) => &[Hook::Input],
            (true, false) => &[Hook::Output],
            (false, false) => &[Hook::Forward],
        }
    }
}

/// Parses `CIDR` or a bare address for `--local`.
pub fn parse_local(s: &str) -> Option<(IpAddr, u8)> {
    match nft::parse_addr(s)? {
        model::Value::Prefix(a, l) => Some((a, l)),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

pub struct Firewall {
    pub ruleset: Ruleset,
    /// Where the ruleset came from, for messages.
    pub source: String,
    pub locality: Locality,
    conntrack: Conntrack,
    compiled: compile::Compiled,
    pub counters: HashMap<RuleId, Counter>,
    /// Packets per final verdict: accept, drop, reject.
    pub verdicts: [u64; 3],
}

/// A packet's judgement, kept with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Final,
    pub rule: Option<RuleId>,
    pub chain: Option<(u16, u16)>,
    pub ct: u8,
}

impl Firewall {
    pub fn new(ruleset: Ruleset, source: String, locality: Locality) -> Self {
        let compiled = compile::Compiled::new(&ruleset);
        Firewall {
            ruleset,
            source,
            locality,
            conntrack: Conntrack::default(),
            compiled,
            counters: HashMap::new(),
            verdicts: [0; 3],
        }
    }

    /// Loads a ruleset file: iptables-save output (it begins, after `#` comments, with a
    /// `*table`, `:CHAIN` or `-A` line), else nft syntax.
    pub fn load(path: &Path, locality: Locality) -> Result<Self, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let rs = if iptables::looks_like(&text) {
            iptables::parse(&text, &name)
        } else {
            nft::parse(&text, &name)
        }
        .map_err(|e| e.to_string())?;
        Ok(Firewall::new(rs, name, locality))
    }

    /// What the rules make of this packet: conntrack first, then the hooks (through the
    /// compiled matcher), then counters. `None` for packets the IP hooks never see (ARP, pieces
    /// of a datagram). The trace of one packet is `eval::evaluate` with `trace` (the explain).
    pub fn judge(
        &mut self,
        s: &Summary,
        iface: Option<&str>,
        ip_len: u32,
    ) -> Option<(Judgement, Outcome)> {
        let ct = self.conntrack.observe(s)?;
        let view = view_of(s, ct, iface, ip_len)?;
        let hooks = self.locality.hooks(view.src, view.dst);
        let out = self.compiled.evaluate(&self.ruleset, hooks, &view);
        for id in &out.hits {
            let c = self.counters.entry(*id).or_default();
            c.packets += 1;
            c.bytes += ip_len as u64;
        }
        self.verdicts[out.verdict as usize] += 1;
        if out.verdict != Final::Accept {
            self.conntrack.unconfirm(s);
        }
        let j = Judgement {
            verdict: out.verdict,
            rule: out.rule,
            chain: out.chain,
            ct,
        };
        Some((j, out))
    }

    /// Forgets every verdict, counter and tracked connection: before judging the packets again
    /// after the rules changed.
    pub fn reset(&mut self) {
        self.conntrack = Conntrack::default();
        self.counters.clear();
        self.verdicts = [0; 3];
    }

    /// Call after rules were moved, added, removed or edited (not needed for toggles).
    pub fn rules_changed(&mut self) {
        self.compiled.rebuild(&self.ruleset);
    }

    pub fn rule_text(&self, id: RuleId) -> Option<&str> {
        self.ruleset.rule(id).map(|r| r.origin.text.as_str())
    }

    pub fn rule_line(&self, id: RuleId) -> Option<u32> {
        self.ruleset.rule(id).map(|r| r.origin.line)
    }

    pub fn chain_name(&self, (t, c): (u16, u16)) -> String {
        let table = &self.ruleset.tables[t as usize];
        format!(
            "{} {} {}",
            table.family.name(),
            table.name,
            table.chains[c as usize].name
        )
    }
}

/// The packet as rules see it, from its decoded summary.
pub fn view_of<'a>(
    s: &Summary,
    ct: u8,
    iface: Option<&'a str>,
    ip_len: u32,
) -> Option<PacketView<'a>> {
    let src = s.src?;
    let dst = s.final_dst.or(s.dst)?;
    // The ports of the packet an ICMP error quotes are not this packet's ports.
    let (sport, dport) = if s.quoted {
        (None, None)
    } else {
        (s.sport, s.dport)
    };
    Some(PacketView {
        v6: src.is_ipv6(),
        src,
        dst,
        l4: s.ip_proto,
        sport,
        dport,
        tcp_flags: s.tcp.map(|t| (t.flags & 0xff) as u8),
        icmp_type: s.icmp.map(|i| i.typ),
        icmpv6_type: s.icmpv6.map(|i| i.typ),
        iif: iface,
        oif: iface,
        ct,
        len: ip_len,
    })
}

#[cfg(test)]
mod tests;
