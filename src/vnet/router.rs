//! The lab's router `gw`: two ports (LAN, WAN), ARP, IPv4 forwarding between its two
//! on-link prefixes, the whole ruleset (prerouting, input, forward, output, postrouting) on
//! everything it receives, source NAT, and the answers the kernel itself gives: echo
//! replies, resets and port unreachables for its own closed ports, time exceeded, and a
//! reject's reset or ICMP error.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::enforce::{Decision, Judged, NodeFirewall, SourceNat};
use super::frame::{self, Arp, Mac, V4};
use super::nat::Nat;
use super::topology::{Port, Segment, GW_LAN, GW_WAN};
use crate::firewall::model::Ruleset;

/// How long a packet waits for its next hop's ARP reply before it is given up.
const ARP_WAIT: u64 = 1_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouterCounters {
    pub forwarded: u64,
    pub dropped: u64,
    pub rejected: u64,
    pub local: u64,
    pub no_route: u64,
    pub ttl_expired: u64,
    pub nat_translated: u64,
    /// NAT rules met but not carried out (redirect, a dnat to an IPv6 address).
    pub nat_ignored: u64,
    pub not_ipv4: u64,
}

pub struct Router {
    ports: [Port; 2],
    arp: HashMap<Ipv4Addr, Mac>,
    waiting: Vec<(Ipv4Addr, usize, Vec<u8>, u64)>,
    fw: NodeFirewall,
    nat: Nat,
    ip_id: u16,
    out: Vec<(Segment, Vec<u8>)>,
    pub counters: RouterCounters,
    epoch_ns: u64,
}

impl Router {
    pub fn new(rs: Ruleset, epoch_ns: u64) -> Router {
        let addrs: Vec<IpAddr> = [GW_LAN, GW_WAN]
            .iter()
            .flat_map(|p| [IpAddr::V4(p.v4), IpAddr::V6(p.v6)])
            .collect();
        Router {
            ports: [GW_LAN, GW_WAN],
            arp: HashMap::new(),
            waiting: Vec::new(),
            fw: NodeFirewall::new(rs, &addrs, false),
            nat: Nat::default(),
            ip_id: 0x1000,
            out: Vec::new(),
            counters: RouterCounters::default(),
            epoch_ns,
        }
    }

    pub fn firewall(&mut self) -> &mut NodeFirewall {
        &mut self.fw
    }

    /// Its firewall, to read (the counters).
    pub fn firewall_ref(&self) -> &NodeFirewall {
        &self.fw
    }

    pub fn port_on(&self, seg: Segment) -> usize {
        self.ports
            .iter()
            .position(|p| p.segment == seg)
            .unwrap_or(0)
    }

    pub fn mac(&self, i: usize) -> Mac {
        self.ports[i].mac
    }

    fn id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Which port reaches `a` on-link.
    fn route(&self, a: Ipv4Addr) -> Option<usize> {
        self.ports.iter().position(|p| {
            let mask = u32::MAX << (32 - u32::from(p.prefix));
            u32::from(a) & mask == u32::from(p.v4) & mask
        })
    }

    fn is_mine(&self, a: Ipv4Addr) -> bool {
        self.ports.iter().any(|p| p.v4 == a)
    }

    /// Frames the router has sent since the last call, with the segment each goes on.
    pub fn take_output(&mut self, now: u64) -> Vec<(Segment, Vec<u8>)> {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.3 + ARP_WAIT > now);
        self.counters.no_route += (before - self.waiting.len()) as u64;
        std::mem::take(&mut self.out)
    }

    /// When it next needs to run (a packet waiting for ARP).
    pub fn wake(&self) -> u64 {
        self.waiting
            .iter()
            .map(|w| w.3 + ARP_WAIT)
            .min()
            .unwrap_or(u64::MAX)
    }

    /// A frame arrives on port `pi`. Returns the ruleset's judgement of it.
    pub fn receive(&mut self, pi: usize, f: Vec<u8>, now: u64) -> Option<Judged> {
        let (dst, src_mac, ty, payload) = frame::eth_parts(&f)?;
        let port = self.ports[pi];
        if dst != port.mac && dst != frame::BROADCAST {
            return None;
        }
        match ty {
            frame::ETH_ARP => {
                self.arp_in(pi, payload);
                None
            }
            frame::ETH_IPV4 => self.ipv4_in(pi, src_mac, payload.to_vec(), now),
            _ => {
                self.counters.not_ipv4 += 1;
                None
            }
        }
    }

    fn arp_in(&mut self, pi: usize, payload: &[u8]) {
        let Some(a) = Arp::parse(payload) else { return };
        let port = self.ports[pi];
        if a.sender_ip != Ipv4Addr::UNSPECIFIED {
            self.arp.insert(a.sender_ip, a.sender_mac);
        }
        if a.op == 1 && a.target_ip == port.v4 {
            let reply = Arp {
                op: 2,
                sender_mac: port.mac,
                sender_ip: port.v4,
                target_mac: a.sender_mac,
                target_ip: a.sender_ip,
            };
            self.out.push((port.segment, reply.frame()));
        }
        // What waited for this address goes now.
        let (ready, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.0 == a.sender_ip);
        self.waiting = still;
        for (next, out, ip, _) in ready {
            self.send(out, next, ip);
        }
    }

    /// Sends an IPv4 packet out of port `pi` to the on-link `next` hop, asking ARP first when
    /// its MAC is not known.
    fn send(&mut self, pi: usize, next: Ipv4Addr, ip: Vec<u8>) {
        let port = self.ports[pi];
        match self.arp.get(&next) {
            Some(mac) => self.out.push((
                port.segment,
                frame::eth_frame(*mac, port.mac, frame::ETH_IPV4, &ip),
            )),
            None => {
                let asked = self.waiting.iter().any(|w| w.0 == next);
                if self.waiting.len() < 256 {
                    self.waiting.push((next, pi, ip, 0));
                }
                if !asked {
                    let req = Arp {
                        op: 1,
                        sender_mac: port.mac,
                        sender_ip: port.v4,
                        target_mac: [0; 6],
                        target_ip: next,
                    };
                    self.out.push((port.segment, req.frame()));
                }
            }
        }
    }

    /// Stamps the time on what `send` queued for ARP.
    fn stamp_waiting(&mut self, now: u64) {
        for w in &mut self.waiting {
            if w.3 == 0 {
                w.3 = now.max(1);
            }
        }
    }

    fn ipv4_in(&mut self, pi: usize, src_mac: Mac, mut ip: Vec<u8>, now: u64) -> Option<Judged> {
        let h = V4::parse(&ip)?;
        ip.truncate(h.total);
        // Translations conntrack already holds come first (the kernel's NAT at prerouting):
        // a reply to a masqueraded connection, or a packet of a redirected one.
        let mine = self.is_mine(h.dst);
        if mine
            && ((pi == self.port_on(Segment::Wan) && self.nat.inbound(&mut ip))
                || self.nat.dnat_existing(&mut ip))
        {
            self.counters.nat_translated += 1;
        }
        let ts = self.epoch_ns + now * 1000;
        let (mut h, mut local, mut out, mut judged) = self.judge_in(pi, src_mac, &ip, ts)?;
        if judged.as_ref().is_some_and(|j| j.nat_ignored) {
            self.counters.nat_ignored += 1;
        }
        // A dnat rule on a new connection's first packet: it goes to the inside address, and
        // the forward and postrouting hooks judge it there, as the kernel's do after the
        // prerouting NAT. The first walk's hits (the dnat rule) count too.
        if let Some(to) = judged.as_ref().and_then(|j| j.dnat).filter(|_| local) {
            if self.nat.dnat_new(&mut ip, to) {
                self.counters.nat_translated += 1;
                let first = judged.take();
                (h, local, out, judged) = self.judge_in(pi, src_mac, &ip, ts)?;
                if let (Some(j), Some(f)) = (judged.as_mut(), first) {
                    for id in f.hits {
                        if !j.hits.contains(&id) {
                            j.hits.push(id);
                        }
                    }
                }
            }
        }
        let decision = judged.as_ref().map_or(Decision::Accept, |j| j.decision);
        match decision {
            Decision::Drop => {
                self.counters.dropped += 1;
                return judged;
            }
            Decision::Reject(kind) => {
                self.counters.rejected += 1;
                let id = self.id();
                let answer = match kind {
                    None => frame::tcp_reset_for(&ip, id),
                    Some((t, c)) => frame::icmp_error_for(&ip, t, c, self.ports[pi].v4, id),
                };
                if let Some(a) = answer {
                    self.out.push((
                        self.ports[pi].segment,
                        frame::eth_frame(src_mac, self.ports[pi].mac, frame::ETH_IPV4, &a),
                    ));
                }
                return judged;
            }
            Decision::Accept => {}
        }
        if local {
            self.counters.local += 1;
            self.answer_local(pi, &ip, now);
            return judged;
        }
        let Some(out) = out else {
            self.counters.no_route += 1;
            let id = self.id();
            if let Some(e) = frame::icmp_error_for(&ip, 3, 0, self.ports[pi].v4, id) {
                self.send(pi, h.src, e);
            }
            self.stamp_waiting(now);
            return judged;
        };
        if h.ttl <= 1 {
            self.counters.ttl_expired += 1;
            let id = self.id();
            if let Some(e) = frame::icmp_error_for(&ip, 11, 0, self.ports[pi].v4, id) {
                self.send(pi, h.src, e);
            }
            self.stamp_waiting(now);
            return judged;
        }
        ip[8] -= 1;
        frame::fix_checksums(&mut ip);
        let snat = judged.as_ref().and_then(|j| j.snat).map(|s| match s {
            SourceNat::Masquerade => self.ports[out].v4,
            SourceNat::To(a) => a,
        });
        if self.nat.dnat_reply(&mut ip) || self.nat.outbound(&mut ip, snat) {
            self.counters.nat_translated += 1;
        }
        self.counters.forwarded += 1;
        self.send(out, h.dst, ip);
        self.stamp_waiting(now);
        judged
    }

    /// The ruleset's judgement of `ip` arriving on port `pi`: the header, whether it is for
    /// the router itself, the port it would leave by, and the judgement.
    #[allow(clippy::type_complexity)]
    fn judge_in(
        &mut self,
        pi: usize,
        src_mac: Mac,
        ip: &[u8],
        ts: u64,
    ) -> Option<(V4, bool, Option<usize>, Option<Judged>)> {
        let h = V4::parse(ip)?;
        let local = self.is_mine(h.dst) || h.dst.is_broadcast();
        let out = if local { None } else { self.route(h.dst) };
        let eth = frame::eth_frame(self.ports[pi].mac, src_mac, frame::ETH_IPV4, ip);
        let devs = (Some(self.ports[pi].dev), out.map(|o| self.ports[o].dev));
        let judged = self.fw.judge(&eth, devs, ts);
        Some((h, local, out, judged))
    }

    /// What the router's own stack answers: pings, and closed ports for TCP and UDP (it runs
    /// no services). The answer crosses its output hook.
    fn answer_local(&mut self, pi: usize, ip: &[u8], now: u64) {
        let Some(h) = V4::parse(ip) else { return };
        if h.dst.is_broadcast() {
            return;
        }
        let id = self.id();
        let answer = match h.proto {
            1 => frame::echo_reply_for(ip, id),
            6 => frame::tcp_reset_for(ip, id),
            17 => frame::icmp_error_for(ip, 3, 3, h.dst, id),
            _ => frame::icmp_error_for(ip, 3, 2, h.dst, id),
        };
        let Some(a) = answer else { return };
        let port = self.ports[pi];
        let eth = frame::eth_frame([0; 6], port.mac, frame::ETH_IPV4, &a);
        let ts = self.epoch_ns + now * 1000;
        let ok = self
            .fw
            .judge(&eth, (None, Some(port.dev)), ts)
            .is_none_or(|j| j.decision == Decision::Accept);
        if ok {
            self.send(pi, h.src, a);
            self.stamp_waiting(now);
        }
    }
}
