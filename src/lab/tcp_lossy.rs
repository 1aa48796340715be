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

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpProtocol, Ipv4Packet, TcpPacket};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{interval, sleep, Instant};

use super::generators::{bind_udp, current_payload, io_err, link_drain, Pacer};
use super::lossy::{run_relay, LinkStats, RelaySockets};
use super::seq::{tcp_message, Deframer};
use super::{
    record_error, snapshot, update, Cancel, GenCtx, GeneratorStats, LabSettings, Shared, Started,
    TaskCounter,
};

/// The client end's address on the virtual link.
pub const CLIENT_IP: IpAddress = IpAddress::v4(10, 77, 0, 1);
/// The server end's address on the virtual link.
pub const SERVER_IP: IpAddress = IpAddress::v4(10, 77, 0, 2);
pub const SERVER_PORT: u16 = 7;
const CLIENT_PORT_BASE: u16 = 49_152;
/// IP MTU of the virtual link (each IP packet is one UDP datagram on loopback).
pub const MTU: usize = 1400;
/// TCP buffers of each end.
const BUFFER: usize = 65_535;
/// The client stops queueing new messages when this much is waiting for the socket.
const MAX_BACKLOG: usize = 256 * 1024;

/// A smoltcp device whose frames are queued in memory; the task around it moves them to and
/// from its UDP socket.
#[derive(Default)]
struct TunnelDevice {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

struct TunnelRx(Vec<u8>);
struct TunnelTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for TunnelRx {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

impl phy::TxToken for TunnelTx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.push_back(frame);
        r
    }
}

impl Device for TunnelDevice {
    type RxToken<'a> = TunnelRx;
    type TxToken<'a> = TunnelTx<'a>;

    fn receive(
        &mut self,
        _now: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((TunnelRx(frame), TunnelTx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(TunnelTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// Counts the TCP segments a sender transmits again, from the IPv4 packets it puts on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetransmitCounter {
    /// One past the highest sequence number sent so far.
    next: Option<u32>,
    /// Segments (carrying data, SYN or FIN) that start below `next`.
    pub segments: u64,
    /// Sequence space sent again.
    pub bytes: u64,
}

impl RetransmitCounter {
    pub fn on_packet(&mut self, ip: &[u8]) {
        let Ok(ip) = Ipv4Packet::new_checked(ip) else {
            return;
        };
        if ip.next_header() != IpProtocol::Tcp {
            return;
        }
        let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
            return;
        };
        let len = tcp.segment_len() as u32;
        if len == 0 {
            return; // a bare ACK
        }
        let start = tcp.seq_number().0 as u32;
        let end = start.wrapping_add(len);
        match self.next {
            Some(next) if (start.wrapping_sub(next) as i32) < 0 => {
                self.segments += 1;
                let again = (next.wrapping_sub(start) as i32).min(len as i32);
                self.bytes += again.max(0) as u64;
                if (end.wrapping_sub(next) as i32) > 0 {
                    self.next = Some(end);
                }
            }
            _ => self.next = Some(end),
        }
    }
}

/// One end: a smoltcp interface with one TCP socket, wired to a UDP socket.
struct Stack {
    iface: Interface,
    dev: TunnelDevice,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    epoch: Instant,
    udp: UdpSocket,
}

impl Stack {
    fn new(udp: UdpSocket, ip: IpAddress, seed: u64) -> Stack {
        let epoch = Instant::now();
        let mut dev = TunnelDevice::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, smoltcp::time::Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(ip, 24));
        });
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; BUFFER]),
            tcp::SocketBuffer::new(vec![0; BUFFER]),
        );
        sock.set_nagle_enabled(false);
        sock.set_ack_delay(None);
        let mut sockets = SocketSet::new(Vec::new());
        let tcp = sockets.add(sock);
        Stack {
            iface,
            dev,
            sockets,
            tcp,
            epoch,
            udp,
        }
    }

    fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    fn poll(&mut self) {
        let now = self.now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
    }

    fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(self.tcp)
    }

    /// Sends what the stack queued, each IP packet as one datagram.
    async fn flush(&mut self, mut counter: Option<&mut RetransmitCounter>) {
        while let Some(frame) = self.dev.tx.pop_front() {
            if let Some(c) = counter.as_deref_mut() {
                c.on_packet(&frame);
            }
            // A full socket buffer or a vanished peer is one more lost packet: TCP copes.
            let _ = self.udp.send(&frame).await;
        }
    }

    /// When smoltcp next needs to be polled (a retransmission timer, say).
    fn delay(&mut self) -> Option<Duration> {
        let now = self.now();
        self.iface
            .poll_delay(now, &self.sockets)
            .map(|d| Duration::from_micros(d.total_micros()))
    }

    /// Takes the datagram just received and whatever else is already waiting.
    fn take_incoming(&mut self, first: &[u8], buf: &mut [u8]) {
        self.dev.rx.push_back(first.to_vec());
        while let Ok(n) = self.udp.try_recv(buf) {
            self.dev.rx.push_back(buf[..n].to_vec());
        }
    }
}

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
    let server_udp = bind_udp("127.0.0.1:0")?;
    let server_addr = server_udp.local_addr()?;
    let relay = RelaySockets::bind(server_addr)?;
    let front = relay.front_addr()?;
    server_udp.connect(relay.back.local_addr()?)?;
    let client_udp = bind_udp("127.0.0.1:0")?;
    client_udp.connect(front)?;
    let local = client_udp.local_addr().ok();
    let server_udp = UdpSocket::from_std(server_udp)?;
    let client_udp = UdpSocket::from_std(client_udp)?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(front);
        s.note = format!(
            "smoltcp {CLIENT_IP} in UDP {} → lossy link {front} → smoltcp {SERVER_IP}:{SERVER_PORT} in UDP {server_addr}",
            local.map(|a| a.to_string()).unwrap_or_default()
        );
    });
    let link = Arc::new(Mutex::new(LinkStats::default()));
    let (srv_tx, srv_cancel) = Cancel::new();
    let c = ctx.tasks.spawn(
        &ctx.rt,
        client(client_udp, ctx.clone(), pace, link.clone(), srv_tx),
    );
    let r = ctx.tasks.spawn(
        &ctx.rt,
        run_relay(
            relay,
            ctx.settings.clone(),
            ctx.seed,
            link.clone(),
            srv_cancel.clone(),
        ),
    );
    let s = ctx.tasks.spawn(
        &ctx.rt,
        server(server_udp, ctx.stats.clone(), ctx.seed, srv_cancel),
    );
    Ok(Started {
        handles: vec![c, r, s],
        link: Some(link),
    })
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

async fn client(
    udp: UdpSocket,
    ctx: GenCtx,
    pace: Pace,
    link: Arc<Mutex<LinkStats>>,
    _servers: watch::Sender<bool>,
) {
    update(&ctx.stats, |s| s.running = true);
    let mut st = Stack::new(udp, CLIENT_IP, ctx.seed);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let mut retrans = RetransmitCounter::default();
    let mut backlog = Backlog::default();
    let mut buf = vec![0u8; 65_536];
    let mut seq = 0u64;
    let mut attempts = 0u16;
    let mut was_established = false;
    let mut stopping: Option<Instant> = None;
    let mut report = interval(Duration::from_millis(250));
    let rate_mode = pace == Pace::Rate;
    loop {
        // Connect (again, if the connection died).
        if stopping.is_none() && !st.socket().is_open() {
            let port = CLIENT_PORT_BASE.wrapping_add(attempts);
            attempts = attempts.wrapping_add(1);
            let cx = st.iface.context();
            let sock = st.sockets.get_mut::<tcp::Socket>(st.tcp);
            if let Err(e) = sock.connect(cx, (SERVER_IP, SERVER_PORT), port) {
                record_error(&ctx.stats, format!("smoltcp connect: {e}"));
            }
        }
        let established = st.socket().state() == tcp::State::Established;
        if established && !was_established {
            update(&ctx.stats, |s| {
                s.connections += 1;
                s.note = format!("connected {CLIENT_IP} → {SERVER_IP}:{SERVER_PORT}");
            });
        }
        was_established = established;
        if let Pace::Bulk { messages, size } = pace {
            while seq < messages && backlog.len() < BUFFER {
                backlog.push(&tcp_message(seq, size));
                seq += 1;
            }
        }
        st.poll();
        let (msgs, bytes) = backlog.feed(st.socket());
        if bytes > 0 {
            update(&ctx.stats, |s| {
                s.sent_msgs += msgs;
                s.sent_bytes += bytes;
            });
        }
        st.poll();
        st.flush(Some(&mut retrans)).await;
        if let Some(since) = stopping {
            let all_acked = backlog.len() == 0 && st.socket().send_queue() == 0;
            if all_acked || since.elapsed() > Duration::from_secs(1) + link_drain(&ctx.settings) {
                break;
            }
        }
        let delay = st.delay();
        tokio::select! {
            biased;
            _ = stop.cancelled(), if stopping.is_none() => {
                stopping = Some(Instant::now());
            }
            r = st.udp.recv(&mut buf) => {
                if let Ok(n) = r {
                    let first = buf[..n].to_vec();
                    st.take_incoming(&first, &mut buf);
                }
            }
            _ = sleep(delay.unwrap_or(Duration::ZERO)), if delay.is_some() => {}
            _ = pacer.tick(&ctx.settings), if rate_mode && stopping.is_none() => {
                if backlog.len() < MAX_BACKLOG {
                    backlog.push(&tcp_message(seq, current_payload(&ctx.settings)));
                    seq += 1;
                } else {
                    update(&ctx.stats, |s| {
                        s.note = "send backlog full: TCP is waiting for the lossy link".into();
                    });
                }
            }
            _ = report.tick() => {
                publish_client(&ctx.stats, &retrans, &link, backlog.len());
            }
        }
    }
    // Say goodbye properly (FIN), briefly; the server end closes with us either way.
    st.socket().close();
    st.poll();
    st.flush(Some(&mut retrans)).await;
    publish_client(&ctx.stats, &retrans, &link, backlog.len());
    // Let the link deliver what it still holds before the server end closes.
    sleep(link_drain(&ctx.settings)).await;
    update(&ctx.stats, |s| s.running = false);
}

fn publish_client(
    stats: &Shared,
    retrans: &RetransmitCounter,
    link: &Mutex<LinkStats>,
    backlog: usize,
) {
    let l = snapshot(link);
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

async fn server(udp: UdpSocket, stats: Shared, seed: u64, mut cancel: Cancel) {
    let mut st = Stack::new(udp, SERVER_IP, seed ^ 0x5e4e);
    let mut buf = vec![0u8; 65_536];
    let mut data = vec![0u8; BUFFER];
    let mut check = StreamCheck::default();
    loop {
        if !st.socket().is_open() {
            // Listen (again): a new connection is a new stream.
            check = StreamCheck::default();
            if let Err(e) = st.socket().listen(SERVER_PORT) {
                record_error(&stats, format!("smoltcp listen: {e}"));
            }
        }
        st.poll();
        let mut got_any = false;
        while st.socket().can_recv() {
            let n = st.socket().recv_slice(&mut data).unwrap_or(0);
            if n == 0 {
                break;
            }
            got_any = true;
            check.on_data(&data[..n], &stats);
        }
        if st.socket().state() == tcp::State::CloseWait {
            st.socket().close();
        }
        if got_any {
            // Reading opened the window: tell the sender.
            st.poll();
        }
        st.flush(None).await;
        let delay = st.delay();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            r = st.udp.recv(&mut buf) => {
                if let Ok(n) = r {
                    let first = buf[..n].to_vec();
                    st.take_incoming(&first, &mut buf);
                }
            }
            _ = sleep(delay.unwrap_or(Duration::ZERO)), if delay.is_some() => {}
        }
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
    let size = size.clamp(super::seq::TCP_HEADER, super::seq::MAX_MESSAGE);
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
    while snapshot(&stats).recv_bytes < expected && t0.elapsed() < limit {
        sleep(Duration::from_millis(5)).await;
    }
    let elapsed = t0.elapsed();
    let _ = stop_tx.send(true);
    for h in started.handles {
        let _ = h.await;
    }
    let s = snapshot(&stats);
    let link = started.link.map(|l| snapshot(&l)).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{IpProtocol, Ipv4Address, Ipv4Repr, TcpRepr, TcpSeqNumber};

    fn segment(seq: i32, len: usize) -> Vec<u8> {
        let payload = vec![0u8; len];
        let tcp = TcpRepr {
            src_port: 1,
            dst_port: 2,
            control: smoltcp::wire::TcpControl::None,
            seq_number: TcpSeqNumber(seq),
            ack_number: None,
            window_len: 1000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &payload,
        };
        let ip = Ipv4Repr {
            src_addr: Ipv4Address::new(10, 0, 0, 1),
            dst_addr: Ipv4Address::new(10, 0, 0, 2),
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut buf = vec![0u8; ip.buffer_len() + tcp.buffer_len()];
        let mut p = Ipv4Packet::new_unchecked(&mut buf);
        ip.emit(&mut p, &smoltcp::phy::ChecksumCapabilities::default());
        let mut t = TcpPacket::new_unchecked(p.payload_mut());
        tcp.emit(
            &mut t,
            &ip.src_addr.into(),
            &ip.dst_addr.into(),
            &smoltcp::phy::ChecksumCapabilities::default(),
        );
        buf
    }

    #[test]
    fn retransmissions_are_segments_below_the_highest_sent() {
        let mut c = RetransmitCounter::default();
        c.on_packet(&segment(1000, 100));
        c.on_packet(&segment(1100, 100));
        c.on_packet(&segment(1200, 0)); // bare ACK
        assert_eq!(c.segments, 0);
        c.on_packet(&segment(1000, 100)); // again
        assert_eq!((c.segments, c.bytes), (1, 100));
        c.on_packet(&segment(1100, 200)); // half again, half new
        assert_eq!((c.segments, c.bytes), (2, 200));
        c.on_packet(&segment(1300, 100));
        assert_eq!(c.segments, 2);
        // Across the wrap of the sequence space.
        let mut c = RetransmitCounter::default();
        c.on_packet(&segment(-50, 100));
        c.on_packet(&segment(50, 10));
        c.on_packet(&segment(-50, 100));
        assert_eq!(c.segments, 1);
    }
}
