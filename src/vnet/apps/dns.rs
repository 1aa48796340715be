//! DNS on the lab network: the resolver's responder for `*.lab.test` (the lab's own names and
//! addresses), and a client asking it in turn for a name that exists, its IPv6 address, and
//! one that does not.

use std::net::IpAddr;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;

use super::{App, Cx, Report, SEC};
use crate::lab::dns as wire;
use crate::vnet::topology;

/// The lab zone: `NAME.lab.test` for every host and `gw.lab.test`.
pub fn lab_zone(name: &str, qtype: u16) -> Option<Option<Vec<u8>>> {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let host = n.strip_suffix(".lab.test")?;
    let (v4, v6) = if host == "gw" {
        (topology::GW_LAN.v4, topology::GW_LAN.v6)
    } else {
        let h = topology::host(host)?;
        (h.port.v4, h.port.v6)
    };
    Some(match qtype {
        wire::TYPE_A => Some(v4.octets().to_vec()),
        wire::TYPE_AAAA => Some(v6.octets().to_vec()),
        _ => None,
    })
}

fn udp_socket(cx: &mut Cx<'_>, port: u16) -> Option<SocketHandle> {
    let meta = || udp::PacketMetadata::EMPTY;
    let mut s = udp::Socket::new(
        udp::PacketBuffer::new(vec![meta(); 32], vec![0; 32 * 600]),
        udp::PacketBuffer::new(vec![meta(); 32], vec![0; 32 * 600]),
    );
    s.bind(port).ok()?;
    Some(cx.sockets.add(s))
}

#[derive(Default)]
pub struct DnsServer {
    h: Option<SocketHandle>,
    answered: u64,
}

impl App for DnsServer {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        if self.h.is_none() {
            self.h = udp_socket(cx, 53);
        }
        let Some(h) = self.h else { return u64::MAX };
        let s = cx.sockets.get_mut::<udp::Socket>(h);
        let mut buf = [0u8; 600];
        while let Ok((n, meta)) = s.recv_slice(&mut buf) {
            if let Some(r) = wire::respond_with(&buf[..n], lab_zone) {
                if s.send_slice(&r, meta.endpoint).is_ok() {
                    self.answered += 1;
                }
            }
        }
        u64::MAX
    }

    fn report(&self, host: &'static str) -> Report {
        Report {
            host,
            app: "dns server :53".into(),
            counters: vec![("answered", self.answered)],
            detail: None,
        }
    }
}

const QUESTIONS: [(&str, u16); 3] = [
    ("server.lab.test", wire::TYPE_A),
    ("server.lab.test", wire::TYPE_AAAA),
    ("nothing.lab.test", wire::TYPE_A),
];

pub struct DnsClient {
    to: IpAddr,
    every: u64,
    h: Option<SocketHandle>,
    local: u16,
    next: u64,
    id: u16,
    waiting: Option<(u16, u64)>,
    asked: u64,
    answers: u64,
    nxdomain: u64,
    timed_out: u64,
    unreachable: u64,
    last: Option<String>,
}

impl DnsClient {
    pub fn new(to: IpAddr, every: u64) -> DnsClient {
        DnsClient {
            to,
            every,
            h: None,
            local: 0,
            next: 0,
            id: 0x4c00,
            waiting: None,
            asked: 0,
            answers: 0,
            nxdomain: 0,
            timed_out: 0,
            unreachable: 0,
            last: None,
        }
    }
}

impl App for DnsClient {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        if self.h.is_none() {
            self.local = cx.port();
            self.h = udp_socket(cx, self.local);
        }
        let Some(h) = self.h else { return u64::MAX };
        if cx
            .errors
            .iter()
            .any(|e| e.proto == 17 && e.src.1 == self.local && e.is_hard())
            && self.waiting.take().is_some()
        {
            self.unreachable += 1;
        }
        let s = cx.sockets.get_mut::<udp::Socket>(h);
        let mut buf = [0u8; 600];
        while let Ok((n, _)) = s.recv_slice(&mut buf) {
            let Ok(a) = wire::parse_response(&buf[..n]) else {
                continue;
            };
            if self.waiting.is_some_and(|(id, _)| id == a.id) {
                self.waiting = None;
                if a.rcode == wire::RCODE_NXDOMAIN {
                    self.nxdomain += 1;
                } else {
                    self.answers += 1;
                }
                self.last = Some(a.describe());
            }
        }
        if let Some((_, at)) = self.waiting {
            if cx.now >= at + 2 * SEC {
                self.waiting = None;
                self.timed_out += 1;
            }
        }
        if cx.now >= self.next && self.waiting.is_none() {
            let (name, qtype) = QUESTIONS[(self.asked % 3) as usize];
            self.id = self.id.wrapping_add(1);
            let q = wire::build_query(self.id, name, qtype);
            if s.send_slice(&q, (self.to, 53)).is_ok() {
                self.waiting = Some((self.id, cx.now));
                self.asked += 1;
            }
            self.next = cx.now + self.every;
        }
        let timeout = self.waiting.map_or(u64::MAX, |(_, at)| at + 2 * SEC);
        self.next.max(cx.now + 1).min(timeout)
    }

    fn report(&self, host: &'static str) -> Report {
        Report {
            host,
            app: format!("dns client → {}:53", self.to),
            counters: vec![
                ("asked", self.asked),
                ("answers", self.answers),
                ("nxdomain", self.nxdomain),
                ("timed_out", self.timed_out),
                ("unreachable", self.unreachable),
            ],
            detail: self.last.clone(),
        }
    }
}
