//! A node's own copy of the ruleset, judging the frames it receives, sends and forwards: the
//! simulator's verdict turned into what the node does (deliver, drop, answer with a reset or
//! an ICMP error, translate addresses).

use std::net::IpAddr;
use std::net::Ipv4Addr;

use smallvec::SmallVec;

use crate::capture::LinkType;
use crate::decode::{decode, Summary};
use crate::firewall::eval::Final;
use crate::firewall::model::{Action, RuleId, Ruleset};
use crate::firewall::{Firewall, Judgement, Locality};

use super::frame;

/// What the node does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Drop,
    /// Answer with an ICMP error of this type and code, or (`None`) a TCP reset.
    Reject(Option<(u8, u8)>),
}

/// Source NAT a rule asked for on a connection's first packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceNat {
    /// `masquerade`: the outgoing port's address.
    Masquerade,
    /// `snat to ADDR`.
    To(Ipv4Addr),
}

/// One judgement by a node: what it does, the simulator's record of it (kept with the
/// captured frame), the rules that matched, and any source NAT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    pub decision: Decision,
    pub judgement: Judgement,
    pub hits: SmallVec<[RuleId; 6]>,
    pub snat: Option<SourceNat>,
    /// `dnat to ADDR[:PORT]` matched the connection's first packet: where it goes instead.
    pub dnat: Option<(Ipv4Addr, Option<u16>)>,
    /// A NAT rule the lab does not carry out matched (`redirect`, a dnat to something not an
    /// IPv4 address).
    pub nat_ignored: bool,
}

pub struct NodeFirewall {
    fw: Firewall,
}

impl NodeFirewall {
    /// The ruleset as the node with these addresses runs it; `end_host`: only input and
    /// output.
    pub fn new(rs: Ruleset, addrs: &[IpAddr], end_host: bool) -> NodeFirewall {
        let locality = Locality {
            nets: addrs
                .iter()
                .map(|a| (*a, if a.is_ipv4() { 32 } else { 128 }))
                .collect(),
            end_host,
            ..Locality::default()
        };
        NodeFirewall {
            fw: Firewall::new(rs, "lab".into(), locality),
        }
    }

    pub fn ruleset_mut(&mut self) -> &mut Ruleset {
        &mut self.fw.ruleset
    }

    /// The packets counted to each rule so far.
    pub fn all_packets(&self) -> std::collections::HashMap<RuleId, u64> {
        self.fw
            .counters
            .iter()
            .map(|(id, c)| (*id, c.packets))
            .collect()
    }

    /// After the ruleset was replaced or edited.
    pub fn rules_changed(&mut self) {
        self.fw.rules_changed();
    }

    /// Judges an Ethernet frame; `None` when no hook of this node sees it (ARP, a frame
    /// for another host).
    pub fn judge(
        &mut self,
        eth: &[u8],
        devs: (Option<&str>, Option<&str>),
        ts_ns: u64,
    ) -> Option<Judged> {
        let s = decode(LinkType::ETHERNET, eth);
        self.judge_summary(&s, eth, devs, ts_ns)
    }

    fn judge_summary(
        &mut self,
        s: &Summary,
        eth: &[u8],
        devs: (Option<&str>, Option<&str>),
        ts_ns: u64,
    ) -> Option<Judged> {
        let (j, out) = self.fw.judge_via(s, eth, devs, s.ip_len, ts_ns)?;
        let rs = &self.fw.ruleset;
        let decision = match j.verdict {
            Final::Accept => Decision::Accept,
            Final::Drop => Decision::Drop,
            Final::Reject => {
                let with = j
                    .rule
                    .and_then(|id| rs.rule(id))
                    .and_then(|r| r.reject_with.as_ref())
                    .map(|(w, _)| w.as_str());
                // An ICMP error does not answer a TCP packet in `reject with tcp reset`, and
                // a reset is only for TCP: the kernel falls back to port unreachable.
                let kind = frame::reject_kind(with);
                if kind.is_none() && s.ip_proto != Some(6) {
                    Decision::Reject(Some((3, 3)))
                } else {
                    Decision::Reject(kind)
                }
            }
        };
        let mut snat = None;
        let mut dnat = None;
        let mut nat_ignored = false;
        for id in &out.hits {
            let Some(r) = rs.rule(*id) else { continue };
            for a in &r.actions {
                if let Action::Nat(t) = a {
                    let t = t.trim();
                    if t.starts_with("masquerade") && snat.is_none() {
                        snat = Some(SourceNat::Masquerade);
                    } else if t.starts_with("snat") && snat.is_none() {
                        snat = snat_target(t).map(SourceNat::To);
                    } else if t.starts_with("dnat") && dnat.is_none() {
                        dnat = dnat_target(t);
                        nat_ignored |= dnat.is_none();
                    } else if t.starts_with("redirect") || t.starts_with("dnat") {
                        nat_ignored = true;
                    }
                }
            }
        }
        Some(Judged {
            decision,
            judgement: j,
            hits: out.hits,
            snat,
            dnat,
            nat_ignored,
        })
    }
}

/// The address of `snat [ip] to ADDR[:PORT]` (the first of a range).
fn snat_target(t: &str) -> Option<Ipv4Addr> {
    let to = t.split(" to ").nth(1)?.trim();
    let addr = to.split([':', '-', ' ']).next()?;
    addr.parse().ok()
}

/// The address and port of `dnat [ip] to ADDR[:PORT]` (the first of a range).
fn dnat_target(t: &str) -> Option<(Ipv4Addr, Option<u16>)> {
    let to = t.split(" to ").nth(1)?.trim();
    let to = to.split(' ').next()?;
    let (addr, port) = match to.split_once(':') {
        Some((a, p)) => (a, p.split('-').next().and_then(|p| p.parse().ok())),
        None => (to.split('-').next()?, None),
    };
    Some((addr.parse().ok()?, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snat_targets_parse() {
        assert_eq!(
            snat_target("snat ip to 203.0.113.1:1024-2000"),
            Some(Ipv4Addr::new(203, 0, 113, 1))
        );
        assert_eq!(
            snat_target("snat to 203.0.113.7"),
            Some(Ipv4Addr::new(203, 0, 113, 7))
        );
        assert_eq!(snat_target("snat to $x"), None);
        assert_eq!(
            dnat_target("dnat ip to 192.168.1.11:80"),
            Some((Ipv4Addr::new(192, 168, 1, 11), Some(80)))
        );
        assert_eq!(
            dnat_target("dnat to 192.168.1.11"),
            Some((Ipv4Addr::new(192, 168, 1, 11), None))
        );
        assert_eq!(dnat_target("dnat to [2001:db8::1]:80"), None);
    }
}
