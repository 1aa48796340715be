//! The programs the lab's hosts run, each a small state machine over smoltcp sockets that
//! the host steps: clients that count what happened to them (connected, refused, timed out,
//! lost, late) and the servers they talk to. Virtual time in microseconds.

mod dns;
mod ping;
mod scan;
mod tcp_client;
mod tcp_server;
mod udp;

pub use dns::{lab_zone, DnsClient, DnsServer};
pub use ping::Ping;
pub use scan::Scanner;
pub use tcp_client::{TcpClient, TcpPlan};
pub use tcp_server::TcpServer;
pub use udp::{UdpClient, UdpEcho};

use std::net::Ipv4Addr;

use smoltcp::iface::{Interface, SocketSet};

use super::frame;

pub const MS: u64 = 1_000;
pub const SEC: u64 = 1_000_000;

/// What a conversation says: the server's side and the client's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Talk {
    /// Whatever arrives goes back.
    Echo,
    /// An SSH-like exchange: the server's version banner, the client's, a login line, "ok".
    Ssh,
    /// One HTTP/1.1 request and its response, then the server closes.
    Http,
    /// The client writes, the server only reads (a bulk transfer).
    Sink,
}

pub struct Cx<'a> {
    pub now: u64,
    pub iface: &'a mut Interface,
    pub sockets: &'a mut SocketSet<'static>,
    /// ICMP errors the host received since the last step.
    pub errors: &'a [IcmpNote],
    pub next_port: &'a mut u16,
}

impl Cx<'_> {
    /// A fresh ephemeral port (49152–65535, as Linux's default range ends).
    pub fn port(&mut self) -> u16 {
        let p = *self.next_port;
        *self.next_port = if p == u16::MAX { 49152 } else { p + 1 };
        p
    }
}

/// A program on a host.
pub trait App: Send {
    /// Runs at `cx.now`; returns when it next needs to run.
    fn step(&mut self, cx: &mut Cx<'_>) -> u64;
    fn report(&self, host: &'static str) -> Report;
}

/// An app's counters, for the lab pane, `--print`'s lab summary and the tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub host: &'static str,
    /// What it is, e.g. "ssh client → 203.0.113.10:22".
    pub app: String,
    pub counters: Vec<(&'static str, u64)>,
    /// A line more (the port scan's findings).
    pub detail: Option<String>,
}

impl Report {
    pub fn get(&self, name: &str) -> Option<u64> {
        self.counters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

/// An ICMP error a host received: its type and code, who sent it, and the flow it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpNote {
    pub typ: u8,
    pub code: u8,
    pub from: Ipv4Addr,
    /// The quoted packet's protocol, source and destination with ports (echo id for ICMP).
    pub proto: u8,
    pub src: (Ipv4Addr, u16),
    pub dst: (Ipv4Addr, u16),
}

impl IcmpNote {
    pub fn parse(ip: &[u8]) -> Option<IcmpNote> {
        let h = frame::V4::parse(ip)?;
        if h.proto != 1 {
            return None;
        }
        let m = ip.get(h.hlen..h.total)?;
        if m.len() < 8 || !matches!(m[0], 3 | 11) {
            return None;
        }
        let inner = &m[8..];
        let q = frame::V4::parse_quoted(inner)?;
        let (sp, dp) = q.ports(inner).unwrap_or((0, 0));
        Some(IcmpNote {
            typ: m[0],
            code: m[1],
            from: h.src,
            proto: q.proto,
            src: (q.src, sp),
            dst: (q.dst, dp),
        })
    }

    /// A hard error: the kernel fails a connect or a connected UDP socket on it (port
    /// unreachable, the prohibited codes, host and net unreachable).
    pub fn is_hard(&self) -> bool {
        self.typ == 3
    }
}

/// A short summary of sequence arrivals: the receiver's count of new, late and repeated
/// numbers, and what never came.
#[derive(Clone, Debug, Default)]
pub struct Arrivals {
    next: u64,
    missing: std::collections::BTreeSet<u64>,
    pub unique: u64,
    pub late: u64,
    pub duplicates: u64,
}

impl Arrivals {
    /// Numbers below `settled` (sent long enough ago) that never arrived.
    pub fn lost_below(&self, settled: u64) -> u64 {
        self.missing.range(..settled).count() as u64 + settled.saturating_sub(self.next)
    }

    pub fn on(&mut self, seq: u64) {
        if seq >= self.next {
            if seq - self.next < 10_000 {
                self.missing.extend(self.next..seq);
            }
            self.next = seq + 1;
            self.unique += 1;
        } else if self.missing.remove(&seq) {
            self.unique += 1;
            self.late += 1;
        } else {
            self.duplicates += 1;
        }
        while self.missing.len() > 10_000 {
            self.missing.pop_first();
        }
    }
}
