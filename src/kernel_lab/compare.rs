//! The simulator's verdict beside the kernel's, for every IPv4 packet the kernel's router
//! received: the simulator is the lab network's own router (`vnet::router`), fed the frames
//! the kernel's switches carried; the kernel's verdict is what its router did next — the
//! packet forwarded (seen on the other segment, same IP id and length, one hop less), a reset
//! or ICMP error about it sent back, or nothing (dropped).

use crate::capture::Frame;
use crate::firewall::model::RuleId;
use crate::firewall::model::Ruleset;
use crate::vnet::enforce::NodeFirewall;
use crate::vnet::enforce::{Decision, Judged};
use crate::vnet::frame::{self, V4};
use crate::vnet::router::Router;
use crate::vnet::topology::{link_local_v6, HostSpec, GW_LAN, GW_WAN, HOSTS};
use std::net::IpAddr;

/// How long after a packet its forwarded copy or answer may come.
const WINDOW_NS: i64 = 300_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Kernel {
    Forwarded,
    Answered,
    Nothing,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Disagreement {
    pub packet: u64,
    pub simulated: String,
    pub kernel: Kernel,
    pub info: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Agreement {
    /// Packets the kernel's router received and both judged.
    pub compared: u64,
    pub agree: u64,
    /// For the router itself and accepted there: the kernel's answer is not told apart from a
    /// drop by what the switches carry, so these are not compared.
    pub local: u64,
    /// Received while the kernel's nodes were loading changed rules: either ruleset may
    /// have judged them, so they are not compared.
    pub during_change: u64,
    pub disagreements: Vec<Disagreement>,
    /// Frames the switches' capture socket lost: then the comparison is not complete.
    pub capture_lost: u64,
    /// Every node's rule counters, the kernel's beside the simulator's (headless runs).
    pub counters: Vec<super::counters::RuleCount>,
    /// Nodes whose counters were not compared: a packet of theirs came while they were read.
    pub counters_unsettled: Vec<String>,
}

/// The agreement's numbers, for a title or a counter line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub compared: u64,
    pub agree: u64,
    pub local: u64,
    pub during_change: u64,
    pub capture_lost: u64,
}

impl Agreement {
    pub fn tally(&self) -> Tally {
        Tally {
            compared: self.compared,
            agree: self.agree,
            local: self.local,
            during_change: self.during_change,
            capture_lost: self.capture_lost,
        }
    }
}

/// What follows a packet through forwarding and NAT: the IP id, protocol and length, and
/// what NAT leaves alone above IP — TCP's sequence and acknowledgment numbers, the ICMP
/// type, code and sequence, and a hash of the payload after the transport header. The IP id
/// alone is not enough: two hosts' stacks may send the same id with the same length.
fn key(ip: &[u8]) -> Option<(u16, u8, u16, u64)> {
    let h = V4::parse(ip)?;
    let l4 = ip.get(h.hlen..h.total.min(ip.len())).unwrap_or_default();
    let (kept, payload): (&[u8], &[u8]) = match h.proto {
        _ if h.later_fragment => (&[], l4),
        6 if l4.len() >= 20 => {
            let off = (usize::from(l4[12] >> 4) * 4).clamp(20, l4.len());
            (&l4[4..12], &l4[off..])
        }
        17 if l4.len() >= 8 => (&[], &l4[8..]),
        // An error's quoted packet is rewritten by NAT too: its IP id and protocol are not.
        1 if l4.len() >= 8 + 20 && matches!(l4[0], 3 | 11 | 12) => (&l4[..2], &l4[12..18]),
        1 if l4.len() >= 8 => (&l4[..2], &l4[6..]),
        _ => (&[], l4),
    };
    // FNV-1a: a few dozen bytes, to tell packets apart, not to resist anyone.
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kept.iter().chain(payload) {
        x = (x ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    Some((
        u16::from_be_bytes([ip[4], ip[5]]),
        h.proto,
        h.total as u16,
        x,
    ))
}

fn ports_of(f: &Frame) -> Option<(V4, Vec<u8>)> {
    let (_, _, ty, p) = frame::eth_parts(&f.data)?;
    if ty != frame::ETH_IPV4 {
        return None;
    }
    Some((V4::parse(p)?, p.to_vec()))
}

/// What the kernel's router did with `f`'s packet (`ip`), given the frames after it.
fn kernel_did<'a>(f: &Frame, later: impl Iterator<Item = &'a Frame>, ip: &[u8]) -> Kernel {
    let Some(k) = key(ip) else {
        return Kernel::Nothing;
    };
    let gw = [GW_LAN.mac, GW_WAN.mac];
    for g in later {
        if g.ts.0 - f.ts.0 > WINDOW_NS {
            break;
        }
        let Some((_, src, ty, p)) = frame::eth_parts(&g.data) else {
            continue;
        };
        if ty != frame::ETH_IPV4 || !gw.contains(&src) {
            continue;
        }
        if g.iface != f.iface && key(p) == Some(k) {
            return Kernel::Forwarded;
        }
        if g.iface == f.iface && answers(p, ip) {
            return Kernel::Answered;
        }
    }
    Kernel::Nothing
}

/// Whether `a` (from the router) is a reset or ICMP error about `ip`.
fn answers(a: &[u8], ip: &[u8]) -> bool {
    let (Some(ha), Some(h)) = (V4::parse(a), V4::parse(ip)) else {
        return false;
    };
    if ha.dst != h.src {
        return false;
    }
    match ha.proto {
        1 if a.len() >= ha.hlen + 8 + 20 && matches!(a[ha.hlen], 3 | 11) => {
            let q = &a[ha.hlen + 8..];
            q[4..6] == ip[4..6] && q[12..20] == ip[12..20]
        }
        6 if h.proto == 6 => {
            let (Some(pa), Some(p)) = (ha.ports(a), h.ports(ip)) else {
                return false;
            };
            a.get(ha.hlen + 13).is_some_and(|f| f & 0x04 != 0) && pa == (p.1, p.0)
        }
        _ => false,
    }
}

fn agrees(d: Decision, k: Kernel) -> bool {
    matches!(
        (d, k),
        (Decision::Accept, Kernel::Forwarded)
            | (Decision::Drop, Kernel::Nothing)
            | (Decision::Reject(_), Kernel::Answered)
    )
}

/// A packet compared: the simulator's judgement, and (for a packet the kernel's router
/// received) what the kernel did and whether the two agree.
pub struct Compared {
    pub frame: Frame,
    pub judged: Option<Judged>,
    pub kernel: Option<Kernel>,
    /// `Some(false)`: a disagreement. `None`: not compared (not for the router, for the
    /// router itself, or during a change of the rules).
    pub agrees: Option<bool>,
    /// The disagreement in words, for the packet list and the summary.
    pub why: Option<String>,
}

struct Held {
    frame: Frame,
    judged: Option<Judged>,
    /// The rules changed while it was on its way: either ruleset may have judged it.
    changing: bool,
}

/// The simulated router fed the kernel's frames as they come; a packet's comparison is
/// ready once the window for its forwarded copy or answer has passed.
pub struct Comparer {
    router: Router,
    /// The hosts' copies of the ruleset (input and output), fed the frames each host sent
    /// and was sent: for the rule counters of every node.
    hosts: Vec<(&'static HostSpec, NodeFirewall)>,
    t0: Option<i64>,
    held: std::collections::VecDeque<Held>,
    /// Rules the kernel loaded: (loading began, loaded, the ruleset), in time order.
    changes: std::collections::VecDeque<(i64, i64, Ruleset)>,
    /// The span of the change in progress, whose packets are not compared.
    changing: Option<(i64, i64)>,
    numbered: u64,
    /// Readings of the kernel's counters, with the simulator's counts at the same moment.
    readings: Vec<Reading>,
    pub agreement: Agreement,
}

/// A reading of one node's kernel counters, from `began` to `done` (ns): the simulator's
/// counts of that node are taken at its end; a frame the node judged meanwhile may be on
/// either side of the kernel's reading, which then cannot be compared ("unsettled").
struct Reading {
    node: &'static str,
    began: i64,
    done: i64,
    taken: Option<std::collections::HashMap<RuleId, u64>>,
    unsettled: bool,
}

impl Comparer {
    pub fn new(rs: &Ruleset) -> Comparer {
        Comparer {
            router: Router::new(rs.clone(), 0),
            hosts: HOSTS
                .iter()
                .map(|h| {
                    let mut addrs: Vec<IpAddr> = vec![
                        h.port.v4.into(),
                        h.port.v6.into(),
                        link_local_v6(h.port.mac).into(),
                    ];
                    addrs.extend(h.link_local_v4.map(IpAddr::V4));
                    (h, NodeFirewall::new(rs.clone(), &addrs, true))
                })
                .collect(),
            t0: None,
            held: std::collections::VecDeque::new(),
            changes: std::collections::VecDeque::new(),
            changing: None,
            numbered: 0,
            readings: Vec::new(),
            agreement: Agreement::default(),
        }
    }

    /// The kernel's nodes loaded `rs` between `began` and `done` (ns): packets after it are
    /// judged by it, packets in between are not compared.
    pub fn rules_changed(&mut self, began: i64, done: i64, rs: Ruleset) {
        self.changes.push_back((began, done, rs));
    }

    /// The packets the simulator counted to rule `id` in node `node` (gw or a host).
    fn node_counts(&self, node: &str) -> std::collections::HashMap<RuleId, u64> {
        let fw = if node == "gw" {
            Some(self.router.firewall_ref())
        } else {
            self.hosts
                .iter()
                .find(|(h, _)| h.name == node)
                .map(|(_, fw)| fw)
        };
        fw.map(|fw| fw.all_packets()).unwrap_or_default()
    }

    /// The kernel's counters of `node` were read from `began` to `done` (ns, the capture's
    /// clock); returns the reading's number, for [`Comparer::counted_between`].
    pub fn counters_read(&mut self, node: &'static str, began: i64, done: i64) -> usize {
        self.readings.push(Reading {
            node,
            began,
            done,
            taken: None,
            unsettled: false,
        });
        self.readings.len() - 1
    }

    /// What the simulator counted to each rule of the node between readings `a` and `b`
    /// (the frames pushed so far); `None` when a frame of the node came during either.
    pub fn counted_between(
        &mut self,
        a: usize,
        b: usize,
    ) -> Option<std::collections::HashMap<RuleId, u64>> {
        for i in [a, b] {
            if self.readings.get(i)?.taken.is_none() {
                let now = self.node_counts(self.readings[i].node);
                self.readings[i].taken = Some(now);
            }
        }
        let (ra, rb) = (&self.readings[a], &self.readings[b]);
        if ra.unsettled || rb.unsettled {
            return None;
        }
        let (ta, tb) = (ra.taken.as_ref()?, rb.taken.as_ref()?);
        Some(
            tb.iter()
                .map(|(id, n)| (*id, n.saturating_sub(ta.get(id).copied().unwrap_or(0))))
                .collect(),
        )
    }

    /// Takes the simulator's counts for readings that ended before `ts`, and marks those a
    /// frame of `node` at `ts` falls into.
    fn readings_at(&mut self, ts: i64, nodes: &[&str]) {
        for i in 0..self.readings.len() {
            let r = &self.readings[i];
            if r.taken.is_none() && ts > r.done {
                let now = self.node_counts(r.node);
                self.readings[i].taken = Some(now);
            } else if (r.began..=r.done).contains(&ts) && nodes.contains(&r.node) {
                self.readings[i].unsettled = true;
            }
        }
    }

    /// The router's counters, as the simulator kept them for the kernel's frames.
    pub fn router(&self) -> crate::vnet::router::RouterCounters {
        self.router.counters
    }

    pub fn push(&mut self, f: Frame) {
        while self.changes.front().is_some_and(|c| c.0 <= f.ts.0) {
            if let Some((began, done, rs)) = self.changes.pop_front() {
                for (_, fw) in &mut self.hosts {
                    *fw.ruleset_mut() = rs.clone();
                    fw.rules_changed();
                }
                *self.router.firewall().ruleset_mut() = rs;
                self.router.firewall().rules_changed();
                self.changing = Some((began, done));
            }
        }
        let changing = self
            .changing
            .is_some_and(|(b, d)| (b..=d).contains(&f.ts.0));
        if !self.readings.is_empty() {
            let nodes = self.judging(&f);
            self.readings_at(f.ts.0, &nodes);
        }
        let t0 = *self.t0.get_or_insert(f.ts.0);
        let now = ((f.ts.0 - t0).max(0) / 1000) as u64;
        let pi = f.iface as usize;
        let to_gw =
            pi < 2 && frame::eth_parts(&f.data).is_some_and(|(d, ..)| d == self.router.mac(pi));
        let judged = if to_gw {
            self.router.receive(pi, f.data.clone(), now)
        } else {
            None
        };
        let _ = self.router.take_output(now);
        if let Some((dst, src, ..)) = frame::eth_parts(&f.data) {
            let ts = (f.ts.0 - t0).max(0) as u64;
            for (h, fw) in &mut self.hosts {
                if dst == h.port.mac {
                    let _ = fw.judge(&f.data, (Some(h.port.dev), None), ts);
                } else if src == h.port.mac {
                    let _ = fw.judge(&f.data, (None, Some(h.port.dev)), ts);
                }
            }
        }
        self.held.push_back(Held {
            frame: f,
            judged,
            changing,
        });
    }

    /// The nodes whose firewall judges frame `f`: the router for a frame to it, a host for
    /// one to or from it.
    fn judging(&self, f: &Frame) -> Vec<&'static str> {
        let Some((dst, src, ..)) = frame::eth_parts(&f.data) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        if dst == GW_LAN.mac || dst == GW_WAN.mac {
            v.push("gw");
        }
        for (h, _) in &self.hosts {
            if dst == h.port.mac || src == h.port.mac {
                v.push(h.name);
            }
        }
        v
    }

    /// The packets whose window has passed by `now_ns` (all of them with `i64::MAX`), in order.
    pub fn ready(&mut self, now_ns: i64) -> Vec<Compared> {
        let mut out = Vec::new();
        while self
            .held
            .front()
            .is_some_and(|h| now_ns.saturating_sub(h.frame.ts.0) > WINDOW_NS)
        {
            let Some(h) = self.held.pop_front() else {
                break;
            };
            out.push(self.judge(h));
        }
        out
    }

    fn judge(&mut self, h: Held) -> Compared {
        self.numbered += 1;
        let mut c = Compared {
            frame: h.frame,
            judged: h.judged,
            kernel: None,
            agrees: None,
            why: None,
        };
        let (Some(j), Some((v4, ip))) = (&c.judged, ports_of(&c.frame)) else {
            return c;
        };
        let k = kernel_did(&c.frame, self.held.iter().map(|h| &h.frame), &ip);
        c.kernel = Some(k);
        let local = v4.dst == GW_LAN.v4 || v4.dst == GW_WAN.v4;
        let a = &mut self.agreement;
        if local && j.decision == Decision::Accept && k != Kernel::Forwarded {
            a.local += 1;
        } else if h.changing {
            a.during_change += 1;
        } else {
            a.compared += 1;
            if agrees(j.decision, k) {
                a.agree += 1;
                c.agrees = Some(true);
            } else {
                c.agrees = Some(false);
                let info = crate::decode::info::info(
                    &crate::decode::decode(crate::capture::LinkType::ETHERNET, &c.frame.data),
                    &c.frame.data,
                );
                let d = Disagreement {
                    packet: self.numbered,
                    simulated: format!("{:?}", j.decision),
                    kernel: k,
                    info,
                };
                c.why = Some(format!(
                    "the simulator: {}, the kernel: {}",
                    d.simulated,
                    k.word()
                ));
                if a.disagreements.len() < 50 {
                    a.disagreements.push(d);
                }
            }
        }
        c
    }
}

impl Kernel {
    pub fn word(self) -> &'static str {
        match self {
            Kernel::Forwarded => "forwarded",
            Kernel::Answered => "answered (reset or ICMP error)",
            Kernel::Nothing => "nothing (dropped)",
        }
    }
}

/// Runs the simulated router over the kernel's frames (in time order) and compares; returns
/// the simulator's judgement for each frame (for the packet list) and the tally.
pub fn compare(frames: Vec<Frame>, rs: &Ruleset) -> (Vec<Compared>, Agreement) {
    let mut c = Comparer::new(rs);
    for f in frames {
        c.push(f);
    }
    let out = c.ready(i64::MAX);
    (out, c.agreement)
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
