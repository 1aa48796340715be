//! A host of the lab network: a smoltcp TCP/IP stack on one Ethernet port, the ruleset's
//! input and output hooks around it, and the programs (apps) it runs.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr};

use super::apps::{App, Cx, IcmpNote, Report};
use super::enforce::{Decision, Judged, NodeFirewall};
use super::frame::{self, Mac};
use super::topology::{self, HostSpec};
use crate::firewall::model::Ruleset;
use crate::lab::smol_stack::RetransmitCounter;

/// Frames queued between the host and its stack.
#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.push_back(frame);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.rx.pop_front()?;
        Some((Rx(f), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

/// What a host's firewall did to its own traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounters {
    pub in_dropped: u64,
    pub in_rejected: u64,
    pub out_dropped: u64,
    pub out_rejected: u64,
    /// TCP segments (data, SYN or FIN) it sent again.
    pub retransmits: u64,
}

pub struct Host {
    pub spec: &'static HostSpec,
    iface: Interface,
    dev: Queues,
    sockets: SocketSet<'static>,
    fw: NodeFirewall,
    apps: Vec<Box<dyn App>>,
    errors: Vec<IcmpNote>,
    next_port: u16,
    ip_id: u16,
    retx: HashMap<(Ipv4Addr, u16, u16), RetransmitCounter>,
    pub counters: HostCounters,
    /// When it next wants to run.
    pub wake: u64,
    epoch_ns: u64,
}

pub fn smol_now(us: u64) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(us as i64)
}

impl Host {
    pub fn new(spec: &'static HostSpec, rs: Ruleset, seed: u64, epoch_ns: u64) -> Host {
        let mut dev = Queues::default();
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(spec.port.mac)));
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, smol_now(0));
        let ll6 = topology::link_local_v6(spec.port.mac);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(spec.port.v4.into(), spec.port.prefix));
            let _ = a.push(IpCidr::new(spec.port.v6.into(), 64));
            let _ = a.push(IpCidr::new(ll6.into(), 64));
            if let Some(ll) = spec.link_local_v4 {
                let _ = a.push(IpCidr::new(ll.into(), 16));
            }
        });
        let _ = iface.routes_mut().add_default_ipv4_route(spec.gateway);
        let mut addrs: Vec<IpAddr> = vec![spec.port.v4.into(), spec.port.v6.into(), ll6.into()];
        addrs.extend(spec.link_local_v4.map(IpAddr::V4));
        // The host resolves its gateway when its link comes up, as a kernel does on the first
        // packet: smoltcp drops the packet that starts a resolution, which a kernel queues.
        let hello = frame::Arp {
            op: 1,
            sender_mac: spec.port.mac,
            sender_ip: spec.port.v4,
            target_mac: [0; 6],
            target_ip: spec.gateway,
        };
        dev.tx.push_back(hello.frame());
        Host {
            spec,
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            fw: NodeFirewall::new(rs, &addrs, true),
            apps: Vec::new(),
            errors: Vec::new(),
            next_port: 49152 + (seed % 8192) as u16,
            ip_id: seed as u16,
            retx: HashMap::new(),
            counters: HostCounters::default(),
            wake: 0,
            epoch_ns,
        }
    }

    pub fn add_app(&mut self, app: Box<dyn App>) {
        self.apps.push(app);
    }

    pub fn firewall(&mut self) -> &mut NodeFirewall {
        &mut self.fw
    }

    pub fn reports(&self) -> Vec<Report> {
        self.apps.iter().map(|a| a.report(self.spec.name)).collect()
    }

    fn mine(&self, dst: Mac) -> bool {
        dst == self.spec.port.mac || dst[0] & 1 == 1
    }

    /// A frame arrives from the segment. Returns the input hook's judgement of it (`None` for
    /// a frame no hook sees, or one for another host).
    pub fn receive(&mut self, f: Vec<u8>, now: u64) -> Option<Judged> {
        let (dst, src, ty, _) = frame::eth_parts(&f)?;
        if !self.mine(dst) {
            return None;
        }
        self.wake = now;
        if ty == frame::ETH_ARP {
            self.dev.rx.push_back(f);
            return None;
        }
        let ts = self.epoch_ns + now * 1000;
        let judged = self.fw.judge(&f, (Some(self.spec.port.dev), None), ts);
        let decision = judged.as_ref().map_or(Decision::Accept, |j| j.decision);
        match decision {
            Decision::Accept => {
                self.note_icmp_error(&f);
                self.dev.rx.push_back(f);
            }
            Decision::Drop => self.counters.in_dropped += 1,
            Decision::Reject(kind) => {
                self.counters.in_rejected += 1;
                if let Some(answer) = self.reject_answer(&f[14..], kind, None) {
                    self.dev
                        .tx
                        .push_back(frame::eth_frame(src, self.spec.port.mac, ty, &answer));
                }
            }
        }
        judged
    }

    fn reject_answer(
        &mut self,
        ip: &[u8],
        kind: Option<(u8, u8)>,
        from: Option<Ipv4Addr>,
    ) -> Option<Vec<u8>> {
        self.ip_id = self.ip_id.wrapping_add(1);
        let h = frame::V4::parse(ip)?;
        match kind {
            None => frame::tcp_reset_for(ip, self.ip_id),
            Some((t, c)) => frame::icmp_error_for(ip, t, c, from.unwrap_or(h.dst), self.ip_id),
        }
    }

    /// Keeps an ICMP error the host receives for its apps (smoltcp's TCP ignores them; the
    /// kernel's connect fails on a hard one).
    fn note_icmp_error(&mut self, f: &[u8]) {
        if let Some(n) = IcmpNote::parse(&f[14..]) {
            if self.errors.len() < 256 {
                self.errors.push(n);
            }
        }
    }

    /// Runs the apps and the stack at `now`; returns the frames it puts on the wire.
    pub fn poll(&mut self, now: u64) -> Vec<Vec<u8>> {
        let mut wake = u64::MAX;
        for _ in 0..4 {
            let errors = std::mem::take(&mut self.errors);
            for app in &mut self.apps {
                let mut cx = Cx {
                    now,
                    iface: &mut self.iface,
                    sockets: &mut self.sockets,
                    errors: &errors,
                    next_port: &mut self.next_port,
                };
                wake = wake.min(app.step(&mut cx));
            }
            let r = self
                .iface
                .poll(smol_now(now), &mut self.dev, &mut self.sockets);
            // What the stack received may have let an app go on (a handshake completed, an
            // echo arrived): step again, a few times at most.
            if r == smoltcp::iface::PollResult::None && self.dev.rx.is_empty() {
                break;
            }
        }
        let mut out = Vec::new();
        while let Some(f) = self.dev.tx.pop_front() {
            self.transmit(f, now, &mut out);
        }
        // Another round for what transmitting answered locally (a reject at output).
        if !self.dev.rx.is_empty() {
            self.iface
                .poll(smol_now(now), &mut self.dev, &mut self.sockets);
            while let Some(f) = self.dev.tx.pop_front() {
                self.transmit(f, now, &mut out);
            }
        }
        let stack = self
            .iface
            .poll_delay(smol_now(now), &self.sockets)
            .map_or(u64::MAX, |d| now + d.total_micros().max(1));
        self.wake = wake.min(stack).max(now + 1);
        out
    }

    fn transmit(&mut self, f: Vec<u8>, now: u64, out: &mut Vec<Vec<u8>>) {
        let Some((_, _, ty, ip)) = frame::eth_parts(&f) else {
            return;
        };
        if ty != frame::ETH_IPV4 && ty != frame::ETH_IPV6 {
            out.push(f);
            return;
        }
        let ts = self.epoch_ns + now * 1000;
        let decision = self
            .fw
            .judge(&f, (None, Some(self.spec.port.dev)), ts)
            .map_or(Decision::Accept, |j| j.decision);
        match decision {
            Decision::Accept => {
                self.count_retransmit(ip);
                out.push(f);
            }
            Decision::Drop => self.counters.out_dropped += 1,
            Decision::Reject(kind) => {
                // Rejected on the way out: the answer comes back to the host itself, from
                // its own address (the kernel's local delivery of the reset or error).
                self.counters.out_rejected += 1;
                let me = self.spec.port.v4;
                if let Some(answer) = self.reject_answer(ip, kind, Some(me)) {
                    let mac = self.spec.port.mac;
                    let back = frame::eth_frame(mac, mac, ty, &answer);
                    self.note_icmp_error(&back);
                    self.dev.rx.push_back(back);
                }
            }
        }
    }

    fn count_retransmit(&mut self, ip: &[u8]) {
        let Some(h) = frame::V4::parse(ip) else {
            return;
        };
        if h.proto != 6 {
            return;
        }
        let Some((sp, dp)) = h.ports(ip) else { return };
        if self.retx.len() > 4096 {
            self.retx.clear();
        }
        let c = self.retx.entry((h.dst, sp, dp)).or_default();
        let before = c.segments;
        c.on_packet(ip);
        self.counters.retransmits += c.segments - before;
    }
}
