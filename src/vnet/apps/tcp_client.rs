//! A TCP client: opens connections on a schedule (or keeps one and writes to it), says its
//! part of the conversation, and counts what became of each: established, refused (a reset),
//! unreachable (an ICMP error), timed out (no answer to its SYNs), completed, reset later.

use std::net::IpAddr;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use super::{App, Cx, Report, Talk};

/// What the client does.
#[derive(Clone, Debug)]
pub struct TcpPlan {
    pub label: &'static str,
    pub to: (IpAddr, u16),
    pub talk: Talk,
    /// A new connection this often; on a long one, a message this often.
    pub every: u64,
    /// How long a connection may stay unanswered (SYN-SENT) before it is given up, as
    /// connect() gives up after its retries.
    pub timeout: u64,
    /// At most this many connections open at once.
    pub max_open: usize,
    /// One connection carrying every message, instead of one per message.
    pub long: bool,
    /// Bytes per message (echo, sink).
    pub msg: usize,
}

struct Conn {
    h: SocketHandle,
    local: u16,
    started: u64,
    up: bool,
    phase: u8,
    got: Vec<u8>,
    echoed: usize,
    sent: usize,
    last_msg: u64,
    hold_until: u64,
    done: bool,
}

/// How long a logged-in SSH session stays open.
const SSH_SESSION: u64 = 3_000_000;

#[derive(Default, Clone, Copy)]
struct Counts {
    attempts: u64,
    established: u64,
    refused: u64,
    unreachable: u64,
    timed_out: u64,
    completed: u64,
    reset: u64,
    bytes_sent: u64,
    bytes_back: u64,
}

pub struct TcpClient {
    plan: TcpPlan,
    conns: Vec<Conn>,
    next_start: u64,
    n: Counts,
}

const BUF: usize = 32 * 1024;

impl TcpClient {
    pub fn new(plan: TcpPlan, start_at: u64) -> TcpClient {
        TcpClient {
            plan,
            conns: Vec::new(),
            next_start: start_at,
            n: Counts::default(),
        }
    }

    fn open(&mut self, cx: &mut Cx<'_>) {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUF]),
            tcp::SocketBuffer::new(vec![0; BUF]),
        );
        s.set_nagle_enabled(false);
        s.set_ack_delay(None);
        let local = cx.port();
        let h = cx.sockets.add(s);
        let sock = cx.sockets.get_mut::<tcp::Socket>(h);
        if sock
            .connect(cx.iface.context(), self.plan.to, local)
            .is_err()
        {
            cx.sockets.remove(h);
            return;
        }
        self.n.attempts += 1;
        self.conns.push(Conn {
            h,
            local,
            started: cx.now,
            up: false,
            phase: 0,
            got: Vec::new(),
            echoed: 0,
            sent: 0,
            last_msg: 0,
            hold_until: 0,
            done: false,
        });
    }

    /// One connection's step; `false` when it is over and its socket removed.
    fn drive(&mut self, i: usize, cx: &mut Cx<'_>) -> bool {
        let plan = &self.plan;
        let c = &mut self.conns[i];
        let now = cx.now;
        let hard_error = cx.errors.iter().any(|e| {
            e.is_hard()
                && e.proto == 6
                && e.src.1 == c.local
                && e.dst == (ip4(plan.to.0), plan.to.1)
        });
        let s = cx.sockets.get_mut::<tcp::Socket>(c.h);
        let state = s.state();
        match state {
            State::SynSent | State::SynReceived if hard_error => {
                s.abort();
                self.n.unreachable += 1;
                cx.sockets.remove(c.h);
                return false;
            }
            State::SynSent | State::SynReceived => {
                if now.saturating_sub(c.started) >= plan.timeout {
                    s.abort();
                    self.n.timed_out += 1;
                    cx.sockets.remove(c.h);
                    return false;
                }
                return true;
            }
            State::Closed => {
                if !c.up {
                    self.n.refused += 1;
                } else if !c.done {
                    self.n.reset += 1;
                }
                cx.sockets.remove(c.h);
                return false;
            }
            State::TimeWait => {
                // Its part is over; the wait for stray segments is the stack's, not ours.
                cx.sockets.remove(c.h);
                return false;
            }
            _ => {}
        }
        if !c.up {
            c.up = true;
            self.n.established += 1;
        }
        let mut buf = [0u8; 4096];
        while s.can_recv() {
            match s.recv_slice(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.n.bytes_back += n as u64;
                    c.echoed += n;
                    if c.got.len() < 4096 {
                        c.got.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
        if c.done {
            if matches!(state, State::CloseWait) {
                s.close();
            }
            return true;
        }
        let send = |s: &mut tcp::Socket<'_>, data: &[u8], sent: &mut u64| {
            let n = s.send_slice(data).unwrap_or(0);
            *sent += n as u64;
            n
        };
        match plan.talk {
            Talk::Echo if plan.long => {
                if now >= c.last_msg + plan.every && s.send_capacity() - s.send_queue() >= plan.msg
                {
                    c.last_msg = now;
                    let msg = message(plan.msg, c.sent);
                    c.sent += send(s, &msg, &mut self.n.bytes_sent);
                }
            }
            Talk::Echo => {
                if c.phase == 0 {
                    let msg = message(plan.msg, 0);
                    c.sent += send(s, &msg, &mut self.n.bytes_sent);
                    c.phase = 1;
                } else if c.echoed >= c.sent {
                    finish(s, c, &mut self.n);
                }
            }
            Talk::Ssh => {
                if c.phase == 0 && c.got.windows(2).any(|w| w == b"\r\n") {
                    let hello = b"SSH-2.0-packetlab_client\r\nlogin alice\r\n";
                    send(s, hello, &mut self.n.bytes_sent);
                    c.got.clear();
                    c.phase = 1;
                } else if c.phase == 1 && c.got.windows(4).any(|w| w == b"ok\r\n") {
                    // Logged in: a short interactive session, a command a second.
                    c.phase = 2;
                    c.last_msg = now;
                    c.hold_until = now + SSH_SESSION;
                } else if c.phase == 2 && now >= c.hold_until {
                    finish(s, c, &mut self.n);
                } else if c.phase == 2 && now >= c.last_msg + 1_000_000 {
                    c.last_msg = now;
                    send(s, b"uptime\r\n", &mut self.n.bytes_sent);
                }
            }
            Talk::Http => {
                if c.phase == 0 {
                    let req =
                        b"GET / HTTP/1.1\r\nHost: server.lab.test\r\nConnection: close\r\n\r\n";
                    send(s, req, &mut self.n.bytes_sent);
                    c.phase = 1;
                } else if matches!(state, State::CloseWait) && c.got.starts_with(b"HTTP/1.1 200") {
                    finish(s, c, &mut self.n);
                }
            }
            Talk::Sink => {
                let room = s.send_capacity() - s.send_queue();
                if c.sent < plan.msg && room > 0 {
                    let chunk = message((plan.msg - c.sent).min(room), c.sent);
                    c.sent += send(s, &chunk, &mut self.n.bytes_sent);
                } else if s.send_queue() == 0 {
                    finish(s, c, &mut self.n);
                }
            }
        }
        if matches!(state, State::CloseWait) && !c.done {
            s.close();
        }
        true
    }
}

fn finish(s: &mut tcp::Socket<'_>, c: &mut Conn, n: &mut Counts) {
    c.done = true;
    n.completed += 1;
    s.close();
}

fn ip4(a: IpAddr) -> std::net::Ipv4Addr {
    match a {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
    }
}

/// `len` bytes of readable text, numbered by where they start in the stream.
fn message(len: usize, at: usize) -> Vec<u8> {
    let head = format!("packetlab {at:>10} ");
    head.bytes()
        .chain(std::iter::repeat(b'.'))
        .take(len.max(1))
        .collect()
}

impl App for TcpClient {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        let mut i = 0;
        while i < self.conns.len() {
            if self.drive(i, cx) {
                i += 1;
            } else {
                self.conns.swap_remove(i);
            }
        }
        let open = self.conns.iter().filter(|c| !c.done).count();
        let may_open = if self.plan.long {
            open == 0
        } else {
            open < self.plan.max_open
        };
        if cx.now >= self.next_start && may_open {
            self.open(cx);
            // A long connection that failed is tried again a second later.
            self.next_start = cx.now
                + if self.plan.long {
                    1_000_000
                } else {
                    self.plan.every
                };
        }
        // Timers: the next connection, a connect timeout, a long connection's next message.
        let mut wake = self.next_start.max(cx.now + 1);
        for c in &self.conns {
            if !c.up {
                wake = wake.min(c.started + self.plan.timeout);
            } else if self.plan.long {
                wake = wake.min(c.last_msg + self.plan.every);
            } else if c.phase == 2 {
                wake = wake.min(c.hold_until.min(c.last_msg + 1_000_000));
            }
        }
        wake.max(cx.now + 1)
    }

    fn report(&self, host: &'static str) -> Report {
        let n = self.n;
        Report {
            host,
            app: format!(
                "{} → {}:{}",
                self.plan.label, self.plan.to.0, self.plan.to.1
            ),
            counters: vec![
                ("attempts", n.attempts),
                ("established", n.established),
                ("completed", n.completed),
                ("refused", n.refused),
                ("unreachable", n.unreachable),
                ("timed_out", n.timed_out),
                ("reset", n.reset),
                ("bytes_sent", n.bytes_sent),
                ("bytes_back", n.bytes_back),
                ("open", self.conns.iter().filter(|c| !c.done).count() as u64),
            ],
            detail: None,
        }
    }
}
