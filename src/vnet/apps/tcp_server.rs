//! A TCP server: a few listening sockets on one port (each takes one connection, as smoltcp
//! has no accept queue), answering as its `Talk` says, and listening again when a
//! connection is over.

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use super::{App, Cx, Report, Talk};

const POOL: usize = 8;
const BUF: usize = 32 * 1024;

struct Slot {
    h: SocketHandle,
    up: bool,
    greeted: bool,
    answered: bool,
    got: Vec<u8>,
    pending: Vec<u8>,
}

pub struct TcpServer {
    label: &'static str,
    port: u16,
    talk: Talk,
    slots: Vec<Slot>,
    accepted: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl TcpServer {
    pub fn new(label: &'static str, port: u16, talk: Talk) -> TcpServer {
        TcpServer {
            label,
            port,
            talk,
            slots: Vec::new(),
            accepted: 0,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    fn listener(&self, cx: &mut Cx<'_>) -> Slot {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUF]),
            tcp::SocketBuffer::new(vec![0; BUF]),
        );
        s.set_nagle_enabled(false);
        s.set_ack_delay(None);
        let _ = s.listen(self.port);
        Slot {
            h: cx.sockets.add(s),
            up: false,
            greeted: false,
            answered: false,
            got: Vec::new(),
            pending: Vec::new(),
        }
    }
}

impl App for TcpServer {
    fn step(&mut self, cx: &mut Cx<'_>) -> u64 {
        while self.slots.len() < POOL {
            let s = self.listener(cx);
            self.slots.push(s);
        }
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            let s = cx.sockets.get_mut::<tcp::Socket>(slot.h);
            let state = s.state();
            if matches!(state, State::Closed | State::TimeWait) {
                cx.sockets.remove(slot.h);
                self.slots[i] = self.listener(cx);
                continue;
            }
            if matches!(state, State::Listen | State::SynReceived) {
                continue;
            }
            if !slot.up {
                slot.up = true;
                self.accepted += 1;
            }
            let mut buf = [0u8; 4096];
            while s.can_recv() {
                match s.recv_slice(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        self.bytes_in += n as u64;
                        match self.talk {
                            Talk::Echo => slot.pending.extend_from_slice(&buf[..n]),
                            Talk::Sink => {}
                            // Logged in, the "shell" answers each line.
                            Talk::Ssh if slot.answered => {
                                slot.pending.extend_from_slice(b"up 42 days\r\n")
                            }
                            Talk::Ssh | Talk::Http if slot.got.len() < 8192 => {
                                slot.got.extend_from_slice(&buf[..n])
                            }
                            _ => {}
                        }
                    }
                }
            }
            match self.talk {
                Talk::Ssh if !slot.greeted => {
                    slot.pending.extend_from_slice(b"SSH-2.0-packetlab\r\n");
                    slot.greeted = true;
                }
                Talk::Ssh if !slot.answered && slot.got.windows(5).any(|w| w == b"login") => {
                    slot.pending.extend_from_slice(b"ok\r\n");
                    slot.answered = true;
                }
                Talk::Http if !slot.answered && slot.got.windows(4).any(|w| w == b"\r\n\r\n") => {
                    let body = "<html><body>packetlab lab server</body></html>\n";
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    slot.pending.extend_from_slice(head.as_bytes());
                    slot.pending.extend_from_slice(body.as_bytes());
                    slot.answered = true;
                }
                _ => {}
            }
            if !slot.pending.is_empty() && s.can_send() {
                let n = s.send_slice(&slot.pending).unwrap_or(0);
                self.bytes_out += n as u64;
                slot.pending.drain(..n);
            }
            let http_done = self.talk == Talk::Http && slot.answered && slot.pending.is_empty();
            if (state == State::CloseWait && slot.pending.is_empty())
                || (http_done && state == State::Established)
            {
                s.close();
            }
        }
        // Listening costs nothing: the stack wakes the host when a segment arrives.
        u64::MAX
    }

    fn report(&self, host: &'static str) -> Report {
        Report {
            host,
            app: format!("{} :{}", self.label, self.port),
            counters: vec![
                ("accepted", self.accepted),
                ("bytes_in", self.bytes_in),
                ("bytes_out", self.bytes_out),
            ],
            detail: None,
        }
    }
}
