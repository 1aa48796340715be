//! The network: the router and hosts, the two segments between them, and virtual time. It
//! runs by events — a frame arriving, a node's timer — in time order, as fast as the caller
//! asks (headless: seconds of lab time in milliseconds; the TUI: in step with the clock).
//! Every frame a segment carries is captured as it arrives, with the judgement of the node
//! that received it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::apps::Report;
use super::enforce::Judged;
use super::host::{Host, HostCounters};
use super::router::{Router, RouterCounters};
use super::topology::{self, Segment};
use crate::firewall::model::Ruleset;
use crate::lab::{DirectionStats, LinkConfig};

/// A LAN frame's time on the switch.
const LAN_DELAY: u64 = 50;

/// One captured frame: when it arrived, on which segment, its bytes, and what the receiving
/// node's ruleset made of it.
#[derive(Clone, Debug)]
pub struct Captured {
    /// Virtual time, microseconds since the network started.
    pub at: u64,
    pub segment: Segment,
    pub data: Vec<u8>,
    pub judged: Option<Judged>,
    /// The node that received it (for a unicast frame).
    pub node: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sender {
    Router,
    Host(usize),
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: u64,
    order: u64,
    seg: SegIdx,
    from: FromIdx,
    data: Vec<u8>,
}

type SegIdx = u8;
/// 0: the router, n: host n-1.
type FromIdx = u8;

/// What the WAN link did, each way.
#[derive(Clone, Copy, Debug, Default)]
pub struct WanStats {
    pub offered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
}

impl Sender {
    fn idx(self) -> FromIdx {
        match self {
            Sender::Router => 0,
            Sender::Host(i) => i as u8 + 1,
        }
    }
}

pub struct Network {
    now: u64,
    router: Router,
    hosts: Vec<Host>,
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    pub wan: LinkConfig,
    rng: fastrand::Rng,
    pub wan_stats: WanStats,
    captured: Vec<Captured>,
    /// Wall-clock nanoseconds at virtual time 0 (the captured frames' timestamps).
    pub epoch_ns: u64,
}

impl Network {
    /// The network with every node running `rs`, no apps yet.
    pub fn new(rs: &Ruleset, seed: u64, epoch_ns: u64) -> Network {
        let hosts = topology::HOSTS
            .iter()
            .enumerate()
            .map(|(i, h)| Host::new(h, rs.clone(), seed.wrapping_add(i as u64 * 7919), epoch_ns))
            .collect();
        Network {
            now: 0,
            router: Router::new(rs.clone(), epoch_ns),
            hosts,
            queue: BinaryHeap::new(),
            order: 0,
            wan: LinkConfig::default(),
            rng: fastrand::Rng::with_seed(seed ^ 0x5eed),
            wan_stats: WanStats::default(),
            captured: Vec::new(),
            epoch_ns,
        }
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn host_mut(&mut self, name: &str) -> Option<&mut Host> {
        self.hosts.iter_mut().find(|h| h.spec.name == name)
    }

    /// Replaces every node's ruleset (a toggle or a load in the firewall pane): from now on
    /// the network enforces the new one. Tracked connections stay, as in the kernel when
    /// rules change.
    pub fn set_rules(&mut self, rs: &Ruleset) {
        let fws = std::iter::once(self.router.firewall())
            .chain(self.hosts.iter_mut().map(|h| h.firewall()));
        for fw in fws {
            *fw.ruleset_mut() = rs.clone();
            fw.rules_changed();
        }
    }

    /// The frames captured since the last call.
    pub fn take_captured(&mut self) -> Vec<Captured> {
        std::mem::take(&mut self.captured)
    }

    pub fn reports(&self) -> Vec<Report> {
        self.hosts.iter().flat_map(|h| h.reports()).collect()
    }

    pub fn router_counters(&self) -> RouterCounters {
        self.router.counters
    }

    pub fn host_counters(&self) -> Vec<(&'static str, HostCounters)> {
        self.hosts
            .iter()
            .map(|h| (h.spec.name, h.counters))
            .collect()
    }

    fn put(&mut self, seg: Segment, from: Sender, data: Vec<u8>) {
        let mut at = self.now + LAN_DELAY;
        let mut copies = 1;
        if seg == Segment::Wan {
            let cfg = self.wan;
            let chance = |rng: &mut fastrand::Rng, pct: f64| pct > 0.0 && rng.f64() * 100.0 < pct;
            self.wan_stats.offered += 1;
            if chance(&mut self.rng, cfg.loss_pct) {
                self.wan_stats.dropped += 1;
                return;
            }
            if chance(&mut self.rng, cfg.dup_pct) {
                self.wan_stats.duplicated += 1;
                copies = 2;
            }
            at += cfg.delay.as_micros() as u64;
            if chance(&mut self.rng, cfg.reorder_pct) {
                // Held back long enough for what follows to overtake it.
                self.wan_stats.reordered += 1;
                at += 60_000 + cfg.delay.as_micros() as u64;
            }
        }
        for _ in 0..copies {
            self.order += 1;
            self.queue.push(Reverse(InFlight {
                at,
                order: self.order,
                seg: seg as u8,
                from: from.idx(),
                data: data.clone(),
            }));
        }
    }

    fn deliver(&mut self, f: InFlight) {
        let seg = if f.seg == 0 {
            Segment::Lan
        } else {
            Segment::Wan
        };
        let Some((dst, ..)) = super::frame::eth_parts(&f.data) else {
            return;
        };
        let mut judged = None;
        let mut node = None;
        let multi = dst[0] & 1 == 1;
        let rp = self.router.port_on(seg);
        if f.from != 0 && (multi || dst == self.router.mac(rp)) {
            let j = self.router.receive(rp, f.data.clone(), self.now);
            if !multi {
                judged = j;
                node = Some("gw");
            }
        }
        for (i, h) in self.hosts.iter_mut().enumerate() {
            if h.spec.port.segment != seg || f.from == i as u8 + 1 {
                continue;
            }
            if multi || dst == h.spec.port.mac {
                let j = h.receive(f.data.clone(), self.now);
                if !multi {
                    judged = j;
                    node = Some(h.spec.name);
                }
            }
        }
        self.captured.push(Captured {
            at: f.at,
            segment: seg,
            data: f.data,
            judged,
            node,
        });
    }

    /// Puts a frame on a segment as if a node outside the topology had sent it (tests,
    /// and what a person might replay into the lab).
    pub fn inject(&mut self, seg: Segment, data: Vec<u8>) {
        self.order += 1;
        self.queue.push(Reverse(InFlight {
            at: self.now,
            order: self.order,
            seg: seg as u8,
            from: u8::MAX,
            data,
        }));
    }

    /// Runs the network up to virtual time `until` (microseconds).
    pub fn run_until(&mut self, until: u64) {
        let mut guard = 0u32;
        loop {
            // Every node that is due runs; what it sends is in flight.
            let now = self.now;
            for i in 0..self.hosts.len() {
                if self.hosts[i].wake <= now {
                    let out = self.hosts[i].poll(now);
                    let seg = self.hosts[i].spec.port.segment;
                    for f in out {
                        self.put(seg, Sender::Host(i), f);
                    }
                }
            }
            for (seg, f) in self.router.take_output(now) {
                self.put(seg, Sender::Router, f);
            }
            let next_frame = self.queue.peek().map_or(u64::MAX, |Reverse(f)| f.at);
            let next_wake = self
                .hosts
                .iter()
                .map(|h| h.wake)
                .chain([self.router.wake()])
                .min()
                .unwrap_or(u64::MAX);
            let next = next_frame.min(next_wake).max(now);
            if next > until {
                self.now = until;
                return;
            }
            if next == now {
                guard += 1;
                if guard > 10_000 {
                    // A node that wants to run again at once, forever: move on a microsecond.
                    self.now += 1;
                    guard = 0;
                }
            } else {
                guard = 0;
            }
            self.now = next;
            while self.queue.peek().is_some_and(|Reverse(f)| f.at <= self.now) {
                let Some(Reverse(f)) = self.queue.pop() else {
                    break;
                };
                self.deliver(f);
            }
        }
    }
}

/// The WAN link's counters in the lossy link's terms, for the lab pane.
pub fn as_direction(w: WanStats) -> DirectionStats {
    DirectionStats {
        offered: w.offered,
        dropped: w.dropped,
        duplicated: w.duplicated,
        reordered: w.reordered,
        delivered: w.offered - w.dropped + w.duplicated,
    }
}
