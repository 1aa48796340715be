//! UDP: an echo server, and a client sending numbered datagrams to it that counts what comes
//! back — lost, late, twice — and the ICMP errors that say why nothing did.

use std::net::IpAddr;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;

use super::{App, Arrivals, Cx, Report, SEC};

fn socket(cx: &mut Cx<'_>, port: u16) -> Option<SocketHandle> {
    let meta = || udp::PacketMetadata::EMPTY;
    let mut s = udp::Socket::new(
        udp::PacketBuffer::new(vec![meta(); 64], vec![0; 64 * 1500]),
        udp::PacketBuffer::new(vec![meta(); 64], vec![0; 64 * 1500]),
    );
    s.bind(port).ok()?;
    Some(cx.sockets.add(s))
}

pub struct UdpEcho {
    port: u16,
    h: Option<SocketHandle>,
    echoed: u64,
}

impl UdpEcho {
    pub fn new(port: u16) -> UdpEcho {
        UdpEcho {
            port,
            h: None,
            echoed: 0,
        }
    }
}

impl App for UdpEcho {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        if self.h.is_none() {
            self.h = socket(cx, self.port);
        }
        let Some(h) = self.h else { return u64::MAX };
        let s = cx.sockets.get_mut::<udp::Socket>(h);
        let mut buf = [0u8; 1500];
        while let Ok((n, meta)) = s.recv_slice(&mut buf) {
            if s.send_slice(&buf[..n], meta.endpoint).is_ok() {
                self.echoed += 1;
            }
        }
        u64::MAX
    }

    fn report(&self, host: &'static str) -> Report {
        Report {
            host,
            app: format!("udp echo :{}", self.port),
            counters: vec![("echoed", self.echoed)],
            detail: None,
        }
    }
}

pub struct UdpClient {
    label: &'static str,
    to: (IpAddr, u16),
    every: u64,
    size: usize,
    h: Option<SocketHandle>,
    local: u16,
    next: u64,
    sent: u64,
    sent_at: std::collections::VecDeque<(u64, u64)>,
    back: Arrivals,
    unreachable: u64,
    /// Whether an echo is expected (not for a multicast sender).
    echoes: bool,
    /// What every datagram carries, instead of its number.
    fixed: Option<Vec<u8>>,
}

impl UdpClient {
    pub fn new(label: &'static str, to: (IpAddr, u16), every: u64, size: usize) -> UdpClient {
        UdpClient {
            label,
            to,
            every,
            size: size.clamp(8, 1400),
            h: None,
            local: 0,
            next: 0,
            sent: 0,
            sent_at: Default::default(),
            back: Arrivals::default(),
            unreachable: 0,
            echoes: true,
            fixed: None,
        }
    }

    /// A sender nothing answers (multicast): it counts what it sent, not what it lost;
    /// `payload` is what each datagram carries.
    pub fn one_way(mut self, payload: Vec<u8>) -> UdpClient {
        self.echoes = false;
        self.fixed = Some(payload);
        self
    }

    /// Datagrams sent more than two seconds ago whose echo never came.
    fn lost(&self, now: u64) -> u64 {
        let settled = self
            .sent_at
            .iter()
            .rev()
            .find(|(at, _)| at + 2 * SEC <= now)
            .map_or(0, |(_, n)| n + 1);
        self.back.lost_below(settled)
    }
}

impl App for UdpClient {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        if self.h.is_none() {
            self.local = cx.port();
            self.h = socket(cx, self.local);
        }
        let Some(h) = self.h else { return u64::MAX };
        self.unreachable += cx
            .errors
            .iter()
            .filter(|e| e.proto == 17 && e.src.1 == self.local && e.is_hard())
            .count() as u64;
        let s = cx.sockets.get_mut::<udp::Socket>(h);
        let mut buf = [0u8; 1500];
        while let Ok((n, _)) = s.recv_slice(&mut buf) {
            if n >= 8 {
                let seq = u64::from_be_bytes(buf[..8].try_into().unwrap_or_default());
                self.back.on(seq);
            }
        }
        if cx.now >= self.next {
            let d = match &self.fixed {
                Some(p) => p.clone(),
                None => {
                    let mut d = vec![b'u'; self.size];
                    d[..8].copy_from_slice(&self.sent.to_be_bytes());
                    d
                }
            };
            if s.send_slice(&d, self.to).is_ok() {
                self.sent_at.push_back((cx.now, self.sent));
                if self.sent_at.len() > 4096 {
                    self.sent_at.pop_front();
                }
                self.sent += 1;
            }
            self.next = cx.now + self.every;
        }
        self.next
    }

    fn report(&self, host: &'static str) -> Report {
        let now = self.sent_at.back().map_or(0, |(t, _)| *t + self.every);
        Report {
            host,
            app: format!("{} → {}:{}", self.label, self.to.0, self.to.1),
            counters: if self.echoes {
                vec![
                    ("sent", self.sent),
                    ("echoed", self.back.unique),
                    ("lost", self.lost(now)),
                    ("late", self.back.late),
                    ("duplicates", self.back.duplicates),
                    ("unreachable", self.unreachable),
                ]
            } else {
                vec![("sent", self.sent)]
            },
            detail: None,
        }
    }
}
