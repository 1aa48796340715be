//! A connect() port scan: every port of a list at once, each round. Open: the handshake
//! completes (and the scanner resets it). Closed: a reset answers the SYN. Filtered: nothing
//! answers before the timeout, or an ICMP error says a firewall refused (nmap calls both
//! "filtered").

use std::collections::BTreeMap;
use std::net::IpAddr;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use super::{App, Cx, Report, SEC};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    Open,
    Closed,
    Filtered,
}

impl PortState {
    fn name(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
        }
    }
}

pub struct Scanner {
    to: IpAddr,
    ports: Vec<u16>,
    every: u64,
    timeout: u64,
    round_start: Option<u64>,
    next_round: u64,
    probes: Vec<(u16, u16, SocketHandle)>,
    found: BTreeMap<u16, PortState>,
    last: BTreeMap<u16, PortState>,
    rounds: u64,
    closing: Vec<SocketHandle>,
}

impl Scanner {
    pub fn new(to: IpAddr, ports: Vec<u16>, every: u64) -> Scanner {
        Scanner {
            to,
            ports,
            every,
            timeout: 3 * SEC,
            round_start: None,
            next_round: 0,
            probes: Vec::new(),
            found: BTreeMap::new(),
            last: BTreeMap::new(),
            rounds: 0,
            closing: Vec::new(),
        }
    }

    fn start_round(&mut self, cx: &mut Cx<'_>) {
        self.found.clear();
        for &port in &self.ports {
            let s = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; 256]),
                tcp::SocketBuffer::new(vec![0; 256]),
            );
            let local = cx.port();
            let h = cx.sockets.add(s);
            let ok = cx
                .sockets
                .get_mut::<tcp::Socket>(h)
                .connect(cx.iface.context(), (self.to, port), local)
                .is_ok();
            if ok {
                self.probes.push((port, local, h));
            } else {
                cx.sockets.remove(h);
            }
        }
        self.round_start = Some(cx.now);
    }
}

impl App for Scanner {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        // smoltcp sends an aborted socket's reset on the poll after the abort: the sockets
        // aborted last time have sent theirs.
        for h in self.closing.drain(..) {
            cx.sockets.remove(h);
        }
        if self.round_start.is_none() && cx.now >= self.next_round {
            self.start_round(cx);
        }
        let Some(started) = self.round_start else {
            return self.next_round;
        };
        let expired = cx.now >= started + self.timeout;
        let mut i = 0;
        while i < self.probes.len() {
            let (port, local, h) = self.probes[i];
            let refused = cx
                .errors
                .iter()
                .any(|e| e.proto == 6 && e.src.1 == local && e.dst.1 == port && e.is_hard());
            let s = cx.sockets.get_mut::<tcp::Socket>(h);
            let verdict = match s.state() {
                State::Established | State::CloseWait => Some(PortState::Open),
                State::Closed => Some(PortState::Closed),
                _ if refused => Some(PortState::Filtered),
                _ if expired => Some(PortState::Filtered),
                _ => None,
            };
            if let Some(v) = verdict {
                // Open or not, the probe is done: a reset ends what the handshake opened.
                s.abort();
                self.found.insert(port, v);
                self.probes.swap_remove(i);
                self.closing.push(h);
            } else {
                i += 1;
            }
        }
        if self.probes.is_empty() {
            self.round_start = None;
            self.rounds += 1;
            self.last = std::mem::take(&mut self.found);
            self.next_round = started + self.every;
            return self.next_round.max(cx.now + 1);
        }
        (started + self.timeout).max(cx.now + 1)
    }

    fn report(&self, host: &'static str) -> Report {
        let count = |s: PortState| self.last.values().filter(|v| **v == s).count() as u64;
        let list = |s: PortState| {
            let ports: Vec<String> = self
                .last
                .iter()
                .filter(|(_, v)| **v == s)
                .map(|(p, _)| p.to_string())
                .collect();
            format!(
                "{} {}",
                s.name(),
                if ports.is_empty() {
                    "-".into()
                } else {
                    ports.join(",")
                }
            )
        };
        Report {
            host,
            app: format!("port scan → {}", self.to),
            counters: vec![
                ("rounds", self.rounds),
                ("open", count(PortState::Open)),
                ("closed", count(PortState::Closed)),
                ("filtered", count(PortState::Filtered)),
            ],
            detail: (self.rounds > 0).then(|| {
                [PortState::Open, PortState::Closed, PortState::Filtered]
                    .map(list)
                    .join("; ")
            }),
        }
    }
}
