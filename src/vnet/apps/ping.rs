//! ping: an ICMP echo request a second, counting replies, errors ("destination unreachable")
//! and requests nothing answered.

use std::collections::BTreeMap;
use std::net::IpAddr;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::icmp;
use smoltcp::wire::IpAddress;

use super::{App, Cx, Report, SEC};
use crate::vnet::frame;

pub struct Ping {
    to: IpAddr,
    every: u64,
    ident: u16,
    h: Option<SocketHandle>,
    next: u64,
    seq: u16,
    waiting: BTreeMap<u16, u64>,
    sent: u64,
    replies: u64,
    unreachable: u64,
    timed_out: u64,
}

impl Ping {
    pub fn new(to: IpAddr, every: u64, ident: u16) -> Ping {
        Ping {
            to,
            every,
            ident,
            h: None,
            next: 0,
            seq: 0,
            waiting: BTreeMap::new(),
            sent: 0,
            replies: 0,
            unreachable: 0,
            timed_out: 0,
        }
    }
}

impl App for Ping {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        if self.h.is_none() {
            let meta = || icmp::PacketMetadata::EMPTY;
            let mut s = icmp::Socket::new(
                icmp::PacketBuffer::new(vec![meta(); 16], vec![0; 16 * 256]),
                icmp::PacketBuffer::new(vec![meta(); 16], vec![0; 16 * 256]),
            );
            if s.bind(icmp::Endpoint::Ident(self.ident)).is_err() {
                return u64::MAX;
            }
            self.h = Some(cx.sockets.add(s));
        }
        let Some(h) = self.h else { return u64::MAX };
        for e in cx
            .errors
            .iter()
            .filter(|e| e.proto == 1 && e.src.1 == self.ident)
        {
            let _ = e;
            self.unreachable += 1;
            self.waiting.pop_first();
        }
        let s = cx.sockets.get_mut::<icmp::Socket>(h);
        // ICMP echo request 8 / reply 0; ICMPv6 128 / 129.
        let (request, reply) = if self.to.is_ipv6() {
            (128, 129)
        } else {
            (8, 0)
        };
        while let Ok((m, _)) = s.recv() {
            if m.len() >= 8 && m[0] == reply {
                let seq = u16::from_be_bytes([m[6], m[7]]);
                if self.waiting.remove(&seq).is_some() {
                    self.replies += 1;
                }
            }
        }
        let now = cx.now;
        let before = self.waiting.len();
        self.waiting.retain(|_, at| *at + 2 * SEC > now);
        self.timed_out += (before - self.waiting.len()) as u64;
        if now >= self.next {
            let mut m = vec![request, 0, 0, 0];
            m.extend_from_slice(&self.ident.to_be_bytes());
            m.extend_from_slice(&self.seq.to_be_bytes());
            m.extend_from_slice(b"packetlab ping payload 0123456789abcdef");
            // smoltcp computes the checksum as it sends (for ICMPv6 over the pseudo-header).
            if !self.to.is_ipv6() {
                let c = frame::checksum(&m, 0);
                m[2..4].copy_from_slice(&c.to_be_bytes());
            }
            let to = IpAddress::from(self.to);
            if s.send_slice(&m, to).is_ok() {
                self.waiting.insert(self.seq, now);
                self.sent += 1;
                self.seq = self.seq.wrapping_add(1);
            }
            self.next = now + self.every;
        }
        let oldest = self
            .waiting
            .values()
            .min()
            .map_or(u64::MAX, |t| t + 2 * SEC);
        self.next.min(oldest)
    }

    fn report(&self, host: &'static str) -> Report {
        Report {
            host,
            app: format!("ping {}", self.to),
            counters: vec![
                ("sent", self.sent),
                ("replies", self.replies),
                ("unreachable", self.unreachable),
                ("timed_out", self.timed_out),
            ],
            detail: None,
        }
    }
}
