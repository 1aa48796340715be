//! TCP over the lossy link, without root.
//!
//! A user-space relay cannot drop the segments of a kernel TCP connection (the kernel would see
//! a byte stream from the relay, not the segments), so the two ends here run their own TCP:
//! smoltcp, a complete TCP/IP stack in a library. Each end is an IP interface (10.77.0.1 and
//! 10.77.0.2) whose "wire" is a UDP socket on 127.0.0.1: every IP packet it sends is one
//! datagram, which goes through the lossy relay like any other. Lost, duplicated and reordered
//! segments are therefore really lost, duplicated and reordered, and smoltcp really retransmits.
//!
//! The retransmission counter is taken from the wire: every TCP segment the client puts out is
//! inspected, and one that starts below the highest sequence number already sent is a
//! retransmission. The receiving application checks that it gets every message, in order,
//! byte for byte.
//!
//! The two UDP ends are fixed ([`ports::TCP_LOSSY_CLIENT`] and [`ports::TCP_LOSSY_SERVER`]), the
//! ports packetlab's decoder reads as a tunnel: it shows the TCP session inside, not UDP.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{interval, sleep, Instant, Interval};

use super::kit::{
    bind_udp, current_payload, io_err, link_drain, placed, Client, GenCtx, Group, Server, Started,
};
use super::lossy::{LinkStats, RelaySockets};
use super::ports::{self, fixed_or_ephemeral};
use super::seq::{tcp_message, Deframer, MAX_MESSAGE, TCP_HEADER};
use super::settings::LabSettings;
use super::smol_stack::{Stack, BUFFER};
use super::stats::{read, record_error, update, GeneratorStats, Shared};
use super::tasks::{Cancel, TaskCounter};

pub use super::smol_stack::{RetransmitCounter, MTU};

/// The client end's address on the virtual link.
pub const CLIENT_IP: IpAddress = IpAddress::v4(10, 77, 0, 1);
/// The server end's address on the virtual link.
pub const SERVER_IP: IpAddress = IpAddress::v4(10, 77, 0, 2);
/// The TCP port of the smoltcp server, inside the tunnel.
pub const SERVER_PORT: u16 = ports::TCP_LOSSY_TCP;
const CLIENT_PORT_BASE: u16 = 49_152;
/// The client stops queueing new messages when this much is waiting for the socket.
const MAX_BACKLOG: usize = 256 * 1024;

/// How the client produces data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// A message every tick at the settings' rate and payload (the generator).
    Rate,
    /// `messages` messages of `size` bytes, as fast as TCP takes them (the tests).
    Bulk { messages: u64, size: usize },
}

/// Binds everything and spawns the three tasks (client stack, relay, server stack) with
/// `tasks`; the client listens to `stop`, the relay and the server end with the client.
pub(crate) fn spawn(ctx: &GenCtx, pace: Pace) -> io::Result<Started> {
    let (server_udp, server_why) = fixed_or_ephemeral(ports::TCP_LOSSY_SERVER, bind_udp)?;
    let server_addr = server_udp.local_addr()?;
    let relay = RelaySockets::bind(server_addr)?;
    let front = relay.front_addr()?;
    server_udp.connect(relay.back.local_addr()?)?;
    let (client_udp, client_why) = fixed_or_ephemeral(ports::TCP_LOSSY_CLIENT, bind_udp)?;
    client_udp.connect(front)?;
    let local = client_udp.local_addr().ok();
    let server_udp = UdpSocket::from_std(server_udp)?;
    let client_udp = UdpSocket::from_std(client_udp)?;
    // Off the tunnel's ports, packetlab shows the datagrams as plain UDP: say so.
    let plain = if server_why.is_empty() && client_why.is_empty() {
        ""
    } else {
        ", shown as plain UDP"
    };
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(front);
        s.server = format!(
            ":{SERVER_PORT} in UDP {}{plain}",
            placed(server_addr, &server_why)
        );
        s.note = format!(
            "smoltcp {CLIENT_IP} in UDP {}{client_why} → lossy link {front} → smoltcp \
             {SERVER_IP}:{SERVER_PORT} in UDP {server_addr}{server_why}{plain}",
            local.map(|a| a.to_string()).unwrap_or_default()
        );
    });
    let mut g = Group::new(ctx);
    let link = g.lossy_link(relay);
    g.serve(Receiver::new(server_udp, ctx.stats.clone(), ctx.seed));
    Ok(g.client(Sender::new(client_udp, ctx.seed, pace, link)))
}

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    spawn(&ctx, Pace::Rate).map_err(io_err("start TCP over the lossy link"))
}

/// Bytes the application has handed over but the socket has not yet taken, with the message
/// boundaries so that a message counts as sent once the socket has all of it.
#[derive(Default)]
struct Backlog {
    bytes: VecDeque<u8>,
    msgs: VecDeque<usize>,
    head_left: usize,
}

impl Backlog {
    fn push(&mut self, m: &[u8]) {
        if self.msgs.is_empty() && self.head_left == 0 {
            self.head_left = m.len();
        } else {
            self.msgs.push_back(m.len());
        }
        self.bytes.extend(m);
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Gives the socket what it takes; returns (messages completed, bytes taken).
    fn feed(&mut self, sock: &mut tcp::Socket) -> (u64, u64) {
        let mut done = 0;
        let mut taken = 0u64;
        while !self.bytes.is_empty() && sock.can_send() {
            let (a, _) = self.bytes.as_slices();
            let n = sock.send_slice(a).unwrap_or(0);
            if n == 0 {
                break;
            }
            self.bytes.drain(..n);
            taken += n as u64;
            let mut n = n;
            while n > 0 {
                let k = n.min(self.head_left);
                self.head_left -= k;
                n -= k;
                if self.head_left == 0 {
                    done += 1;
                    self.head_left = self.msgs.pop_front().unwrap_or(0);
                    if self.head_left == 0 {
                        break;
                    }
                }
            }
        }
        (done, taken)
    }
}

/// The sending end: a smoltcp client that connects (again, if the connection dies) and writes
/// the messages the ticks queue, or in bulk as fast as TCP takes them.
struct Sender {
    st: Stack,
    pace: Pace,
    link: Arc<Mutex<LinkStats>>,
    retrans: RetransmitCounter,
    backlog: Backlog,
    buf: Vec<u8>,
    seq: u64,
    attempts: u16,
    was_established: bool,
    report: Interval,
}

/// What wakes the sending stack between ticks.
enum Wake {
    Datagram(Vec<u8>),
    /// A smoltcp timer (a retransmission, say), or a failed receive: poll again.
    Poll,
    Report,
}

impl Sender {
    fn new(udp: UdpSocket, seed: u64, pace: Pace, link: Arc<Mutex<LinkStats>>) -> Sender {
        Sender {
            st: Stack::new(udp, CLIENT_IP, seed),
            pace,
            link,
            retrans: RetransmitCounter::default(),
            backlog: Backlog::default(),
            buf: vec![0u8; 65_536],
            seq: 0,
            attempts: 0,
            was_established: false,
            report: interval(Duration::from_millis(250)),
        }
    }

    /// Connects if it must, and moves what is queued through the stack onto the wire. Every
    /// wake-up ends with one; the pacer's first tick comes at once, so the first connects.
    async fn step(&mut self, ctx: &GenCtx, stopping: bool) {
        let st = &mut self.st;
        if !stopping && !st.socket().is_open() {
            let port = CLIENT_PORT_BASE.wrapping_add(self.attempts);
            self.attempts = self.attempts.wrapping_add(1);
            let cx = st.iface.context();
            let sock = st.sockets.get_mut::<tcp::Socket>(st.tcp);
            if let Err(e) = sock.connect(cx, (SERVER_IP, SERVER_PORT), port) {
                record_error(&ctx.stats, format!("smoltcp connect: {e}"));
            }
        }
        let established = st.socket().state() == tcp::State::Established;
        if established && !self.was_established {
            update(&ctx.stats, |s| {
                s.connections += 1;
                s.note = format!("connected {CLIENT_IP} → {SERVER_IP}:{SERVER_PORT}");
            });
        }
        self.was_established = established;
        if let Pace::Bulk { messages, size } = self.pace {
            while self.seq < messages && self.backlog.len() < BUFFER {
                self.backlog.push(&tcp_message(self.seq, size));
                self.seq += 1;
            }
        }
        st.poll();
        let (msgs, bytes) = self.backlog.feed(st.socket());
        if bytes > 0 {
            update(&ctx.stats, |s| {
                s.sent_msgs += msgs;
                s.sent_bytes += bytes;
            });
        }
        st.poll();
        st.flush(Some(&mut self.retrans)).await;
    }

    fn wake(&mut self, w: Wake, ctx: &GenCtx) {
        match w {
            Wake::Datagram(first) => self.st.take_incoming(&first, &mut self.buf),
            Wake::Poll => {}
            Wake::Report => self.publish(ctx),
        }
    }

    fn publish(&self, ctx: &GenCtx) {
        publish_client(&ctx.stats, &self.retrans, &self.link, self.backlog.len());
    }
}

impl Client for Sender {
    type Arrival = Wake;

    async fn tick(&mut self, ctx: &GenCtx) {
        if self.pace == Pace::Rate {
            if self.backlog.len() < MAX_BACKLOG {
                let m = tcp_message(self.seq, current_payload(&ctx.settings));
                self.backlog.push(&m);
                self.seq += 1;
            } else {
                update(&ctx.stats, |s| {
                    s.note = "send backlog full: TCP is waiting for the lossy link".into();
                });
            }
        }
        self.step(ctx, false).await;
    }

    async fn arrival(&mut self) -> Wake {
        let delay = self.st.delay();
        tokio::select! {
            biased;
            r = self.st.udp.recv(&mut self.buf) => match r {
                Ok(n) => Wake::Datagram(self.buf[..n].to_vec()),
                Err(_) => Wake::Poll,
            },
            _ = sleep(delay.unwrap_or(Duration::ZERO)), if delay.is_some() => Wake::Poll,
            _ = self.report.tick() => Wake::Report,
        }
    }

    async fn on_arrival(&mut self, w: Wake, ctx: &GenCtx) {
        self.wake(w, ctx);
        self.step(ctx, false).await;
    }

    async fn finish(mut self, ctx: &GenCtx) {
        // Until every byte is acknowledged (or the link has had its chance), TCP keeps going.
        let since = Instant::now();
        loop {
            self.step(ctx, true).await;
            let all_acked = self.backlog.len() == 0 && self.st.socket().send_queue() == 0;
            if all_acked || since.elapsed() > Duration::from_secs(1) + link_drain(&ctx.settings) {
                break;
            }
            let w = self.arrival().await;
            self.wake(w, ctx);
        }
        // Say goodbye properly (FIN), briefly; the server end closes with us either way.
        self.st.socket().close();
        self.st.poll();
        self.st.flush(Some(&mut self.retrans)).await;
        self.publish(ctx);
        // Let the link deliver what it still holds before the server end closes.
        sleep(link_drain(&ctx.settings)).await;
    }
}

fn publish_client(
    stats: &Shared,
    retrans: &RetransmitCounter,
    link: &Mutex<LinkStats>,
    backlog: usize,
) {
    let l = read(link);
    update(stats, |s| {
        s.retransmissions = retrans.segments;
        if s.last_error.is_none() || s.errors == 0 {
            s.note = format!(
                "{} segments retransmitted, {backlog} bytes waiting; {}",
                retrans.segments,
                l.summary()
            );
        }
    });
}

/// The receiving application's checks on the stream it reads.
#[derive(Debug, Default)]
struct StreamCheck {
    deframer: Deframer,
    expected: u64,
}

impl StreamCheck {
    fn on_data(&mut self, data: &[u8], stats: &Shared) {
        self.deframer.push(data);
        update(stats, |s| s.recv_bytes += data.len() as u64);
        while let Some(m) = self.deframer.next_message() {
            update(stats, |s: &mut GeneratorStats| {
                s.recv_msgs += 1;
                if !m.intact {
                    s.errors += 1;
                    s.last_error = Some(format!("message #{} arrived damaged", m.seq));
                }
                if m.seq > self.expected {
                    s.lost += m.seq - self.expected;
                } else if m.seq < self.expected {
                    s.out_of_order += 1;
                }
            });
            self.expected = self.expected.max(m.seq + 1);
        }
    }
}

/// The receiving end: a smoltcp server that listens (again, when a connection ends) and checks
/// the stream it reads.
struct Receiver {
    st: Stack,
    stats: Shared,
    buf: Vec<u8>,
    data: Vec<u8>,
    check: StreamCheck,
}

impl Receiver {
    fn new(udp: UdpSocket, stats: Shared, seed: u64) -> Receiver {
        Receiver {
            st: Stack::new(udp, SERVER_IP, seed ^ 0x5e4e),
            stats,
            buf: vec![0u8; 65_536],
            data: vec![0u8; BUFFER],
            check: StreamCheck::default(),
        }
    }
}

impl Server for Receiver {
    /// A datagram, or `None` when a smoltcp timer is due (or a receive failed).
    type Event = Option<Vec<u8>>;

    async fn next(&mut self) -> Self::Event {
        let delay = self.st.delay();
        tokio::select! {
            biased;
            r = self.st.udp.recv(&mut self.buf) => r.ok().map(|n| self.buf[..n].to_vec()),
            _ = sleep(delay.unwrap_or(Duration::ZERO)), if delay.is_some() => None,
        }
    }

    async fn handle(&mut self, ev: Self::Event) {
        let st = &mut self.st;
        if let Some(first) = ev {
            st.take_incoming(&first, &mut self.buf);
        }
        if !st.socket().is_open() {
            // Listen (again): a new connection is a new stream. Before the poll, so that the
            // SYN that woke us finds the socket listening.
            self.check = StreamCheck::default();
            if let Err(e) = st.socket().listen(SERVER_PORT) {
                record_error(&self.stats, format!("smoltcp listen: {e}"));
            }
        }
        st.poll();
        let mut got_any = false;
        while st.socket().can_recv() {
            let n = st.socket().recv_slice(&mut self.data).unwrap_or(0);
            if n == 0 {
                break;
            }
            got_any = true;
            self.check.on_data(&self.data[..n], &self.stats);
        }
        if st.socket().state() == tcp::State::CloseWait {
            st.socket().close();
        }
        if got_any {
            // Reading opened the window: tell the sender.
            st.poll();
        }
        st.flush(None).await;
    }
}

/// What [`tcp_transfer`] measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TcpTransferReport {
    /// Bytes the sending application wrote.
    pub sent_bytes: u64,
    /// Bytes the receiving application read.
    pub delivered_bytes: u64,
    pub messages: u64,
    /// Every message arrived once, in order, intact: no gap, no repeat, no damaged byte.
    pub in_order: bool,
    pub retransmitted_segments: u64,
    pub elapsed: Duration,
    pub link: LinkStats,
    pub stats: GeneratorStats,
}

/// Sends `messages` messages of `size` bytes over smoltcp TCP through a fresh lossy link with
/// `settings`' impairments, as fast as TCP goes, and reports what the receiver got. Gives up
/// after `limit`. Runs on the current tokio runtime.
pub async fn tcp_transfer(
    messages: u64,
    size: usize,
    settings: &LabSettings,
    seed: u64,
    limit: Duration,
) -> io::Result<TcpTransferReport> {
    let size = size.clamp(TCP_HEADER, MAX_MESSAGE);
    let expected = messages * size as u64;
    let (_settings_tx, settings_rx) = watch::channel(settings.clone());
    let (stop_tx, stop) = Cancel::new();
    let stats: Shared = Arc::default();
    let ctx = GenCtx {
        rt: tokio::runtime::Handle::current(),
        tasks: TaskCounter::default(),
        stats: stats.clone(),
        settings: settings_rx,
        stop,
        seed,
    };
    let t0 = Instant::now();
    let started = spawn(&ctx, Pace::Bulk { messages, size })?;
    while read(&stats).recv_bytes < expected && t0.elapsed() < limit {
        sleep(Duration::from_millis(5)).await;
    }
    let elapsed = t0.elapsed();
    let _ = stop_tx.send(true);
    for h in started.handles {
        let _ = h.await;
    }
    let s = read(&stats);
    let link = started.link.map(|l| read(&l)).unwrap_or_default();
    Ok(TcpTransferReport {
        sent_bytes: s.sent_bytes,
        delivered_bytes: s.recv_bytes,
        messages: s.recv_msgs,
        in_order: s.recv_bytes == expected
            && s.recv_msgs == messages
            && s.lost == 0
            && s.out_of_order == 0
            && s.errors == 0,
        retransmitted_segments: s.retransmissions,
        elapsed,
        link,
        stats: s,
    })
}
