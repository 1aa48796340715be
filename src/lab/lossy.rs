//! The lossy link: a user-space UDP relay between a client and its server that drops,
//! duplicates, delays and reorders datagrams, each with its own percentage, both ways, with a
//! seeded random generator (the same seed gives the same fate to the same sequence of
//! datagrams). No root, no qdisc: the client simply talks to the relay instead of the server.
//!
//! [`Impairer`] is the decision part, pure and driven by the caller's clock, so it is tested on
//! its own; [`run_relay`] puts two of them (one per direction) between two sockets.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use super::ports::fixed_or_ephemeral;
use super::seq::{parse_udp_message, udp_message, GapTracker};
use super::settings::LabSettings;
use super::stats::{read, update};
use super::tasks::Cancel;

/// A datagram chosen for reordering waits at most this long for a later one to overtake it;
/// after that it goes on in order (and does not count as reordered).
pub const HOLD_MAX: Duration = Duration::from_millis(20);

/// The link's impairments.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// Percentage of datagrams dropped.
    pub loss_pct: f64,
    /// Percentage of the datagrams not dropped that are sent twice.
    pub dup_pct: f64,
    /// Percentage of the datagrams not dropped that are held back until a later one has passed.
    pub reorder_pct: f64,
    /// Delay added to every datagram.
    pub delay: Duration,
}

impl From<&LabSettings> for LinkConfig {
    fn from(s: &LabSettings) -> Self {
        LinkConfig {
            loss_pct: s.loss_pct,
            dup_pct: s.dup_pct,
            reorder_pct: s.reorder_pct,
            delay: Duration::from_millis(s.delay_ms),
        }
    }
}

/// What one direction of the link did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Datagrams that entered the link.
    pub offered: u64,
    pub dropped: u64,
    /// Datagrams sent twice.
    pub duplicated: u64,
    /// Datagrams that a later one overtook.
    pub reordered: u64,
    /// Datagrams that left the link (duplicates counted twice).
    pub delivered: u64,
}

/// Both directions of the link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Client to server.
    pub to_server: DirectionStats,
    /// Server to client.
    pub to_client: DirectionStats,
}

impl LinkStats {
    /// "link: 1000 in, 98 dropped (9.8%), 0 dup, 0 reordered" for the client-to-server side.
    pub fn summary(&self) -> String {
        let d = &self.to_server;
        let pct = |n: u64| {
            if d.offered == 0 {
                0.0
            } else {
                100.0 * n as f64 / d.offered as f64
            }
        };
        format!(
            "link: {} in, {} dropped ({:.1}%), {} duplicated, {} reordered; back: {} in, {} dropped",
            d.offered,
            d.dropped,
            pct(d.dropped),
            d.duplicated,
            d.reordered,
            self.to_client.offered,
            self.to_client.dropped
        )
    }
}

#[derive(Debug)]
struct Scheduled {
    at: Instant,
    order: u64,
    data: Vec<u8>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

#[derive(Debug)]
struct Held {
    since: Instant,
    data: Vec<u8>,
    copies: u8,
}

/// One direction of the lossy link: decides each datagram's fate and releases the survivors at
/// their time. The caller offers datagrams and takes out the ones that are due.
#[derive(Debug)]
pub struct Impairer {
    rng: fastrand::Rng,
    held: Vec<Held>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    order: u64,
    stats: DirectionStats,
}

impl Impairer {
    pub fn new(seed: u64) -> Self {
        Impairer {
            rng: fastrand::Rng::with_seed(seed),
            held: Vec::new(),
            queue: BinaryHeap::new(),
            order: 0,
            stats: DirectionStats::default(),
        }
    }

    fn chance(&mut self, pct: f64) -> bool {
        pct > 0.0 && self.rng.f64() * 100.0 < pct
    }

    fn schedule(&mut self, data: Vec<u8>, copies: u8, at: Instant) {
        for _ in 1..copies {
            self.order += 1;
            self.queue.push(Reverse(Scheduled {
                at,
                order: self.order,
                data: data.clone(),
            }));
        }
        self.order += 1;
        self.queue.push(Reverse(Scheduled {
            at,
            order: self.order,
            data,
        }));
    }

    /// A datagram enters the link at `now`.
    pub fn offer(&mut self, data: Vec<u8>, now: Instant, cfg: &LinkConfig) {
        self.stats.offered += 1;
        if self.chance(cfg.loss_pct) {
            self.stats.dropped += 1;
            return;
        }
        let copies = if self.chance(cfg.dup_pct) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        if self.chance(cfg.reorder_pct) {
            self.held.push(Held {
                since: now,
                data,
                copies,
            });
            return;
        }
        let at = now + cfg.delay;
        self.schedule(data, copies, at);
        // Whatever was held back goes right after this one: it has been overtaken.
        for h in std::mem::take(&mut self.held) {
            self.stats.reordered += 1;
            self.schedule(h.data, h.copies, at);
        }
    }

    /// The next datagram due at `now`, if any.
    pub fn take_ready(&mut self, now: Instant, cfg: &LinkConfig) -> Option<Vec<u8>> {
        if self
            .held
            .first()
            .is_some_and(|h| now.duration_since(h.since) >= HOLD_MAX)
        {
            // Nothing overtook them in time: they go on in their order.
            for h in std::mem::take(&mut self.held) {
                self.schedule(h.data, h.copies, now + cfg.delay);
            }
        }
        if self.queue.peek().is_some_and(|Reverse(s)| s.at <= now) {
            self.stats.delivered += 1;
            return self.queue.pop().map(|Reverse(s)| s.data);
        }
        None
    }

    /// When something next becomes due (a queued datagram, or a held one's wait running out).
    pub fn next_deadline(&self) -> Option<Instant> {
        let q = self.queue.peek().map(|Reverse(s)| s.at);
        let h = self.held.first().map(|h| h.since + HOLD_MAX);
        match (q, h) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Datagrams inside the link (queued or held).
    pub fn in_flight(&self) -> usize {
        self.queue.len() + self.held.iter().map(|h| h.copies as usize).sum::<usize>()
    }

    pub fn stats(&self) -> DirectionStats {
        self.stats
    }
}

/// The relay's two sockets: `front` where the client sends, `back` connected to the server.
pub struct RelaySockets {
    pub front: StdUdpSocket,
    pub back: StdUdpSocket,
}

impl RelaySockets {
    /// Binds a relay on 127.0.0.1 in front of `server`.
    pub fn bind(server: SocketAddr) -> io::Result<RelaySockets> {
        let front = StdUdpSocket::bind("127.0.0.1:0")?;
        let back = StdUdpSocket::bind("127.0.0.1:0")?;
        back.connect(server)?;
        front.set_nonblocking(true)?;
        back.set_nonblocking(true)?;
        Ok(RelaySockets { front, back })
    }

    /// Binds a relay in front of `server` whose front (where the client sends) is
    /// 127.0.0.1:`front` when free, else an ephemeral port; the second is why it is not on
    /// `front` (" (7779 is taken)"), or "".
    pub fn bind_front(front: u16, server: SocketAddr) -> io::Result<(RelaySockets, String)> {
        let (front, why) = fixed_or_ephemeral(front, |a| StdUdpSocket::bind(a))?;
        let back = StdUdpSocket::bind("127.0.0.1:0")?;
        back.connect(server)?;
        front.set_nonblocking(true)?;
        back.set_nonblocking(true)?;
        Ok((RelaySockets { front, back }, why))
    }

    pub fn front_addr(&self) -> io::Result<SocketAddr> {
        self.front.local_addr()
    }
}

/// Runs the relay until cancelled: datagrams from the client (whoever last sent to `front`) go
/// to the server through one [`Impairer`], the server's answers back through another. The
/// impairments are read from `settings` for every datagram; the counters are published to
/// `stats` as they change. Must run inside a tokio runtime.
pub async fn run_relay(
    sockets: RelaySockets,
    settings: watch::Receiver<LabSettings>,
    seed: u64,
    stats: Arc<Mutex<LinkStats>>,
    mut cancel: Cancel,
) {
    let (front, back) = match (
        UdpSocket::from_std(sockets.front),
        UdpSocket::from_std(sockets.back),
    ) {
        (Ok(f), Ok(b)) => (f, b),
        _ => return,
    };
    let mut up = Impairer::new(seed);
    let mut down = Impairer::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut client: Option<SocketAddr> = None;
    let mut buf_up = vec![0u8; 65_536];
    let mut buf_down = vec![0u8; 65_536];
    loop {
        let cfg = LinkConfig::from(&*settings.borrow());
        let now = Instant::now();
        while let Some(d) = up.take_ready(now, &cfg) {
            // The server may be gone (ECONNREFUSED from an earlier ICMP): the datagram is lost.
            let _ = back.send(&d).await;
        }
        while let Some(d) = down.take_ready(now, &cfg) {
            if let Some(c) = client {
                let _ = front.send_to(&d, c).await;
            }
        }
        update(&stats, |s| {
            s.to_server = up.stats();
            s.to_client = down.stats();
        });
        let deadline = up
            .next_deadline()
            .into_iter()
            .chain(down.next_deadline())
            .min();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            r = front.recv_from(&mut buf_up) => {
                if let Ok((n, from)) = r {
                    client = Some(from);
                    up.offer(buf_up[..n].to_vec(), Instant::now(), &cfg);
                }
            }
            r = back.recv(&mut buf_down) => {
                if let Ok(n) = r {
                    down.offer(buf_down[..n].to_vec(), Instant::now(), &cfg);
                }
            }
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {}
        }
    }
}

/// The receiving end of the UDP-over-lossy-link stream: counts what arrives, the gaps, the late
/// ones and the duplicates.
#[derive(Debug, Default)]
pub struct UdpReceiver {
    pub tracker: GapTracker,
    pub msgs: u64,
    pub bytes: u64,
    /// Datagrams that were not lab messages.
    pub garbage: u64,
}

impl UdpReceiver {
    pub fn on_datagram(&mut self, d: &[u8], now: Instant) {
        self.msgs += 1;
        self.bytes += d.len() as u64;
        match parse_udp_message(d) {
            Some(seq) => {
                self.tracker.on_recv(seq, now);
            }
            None => self.garbage += 1,
        }
    }
}

/// What [`udp_transfer`] measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UdpTransferReport {
    pub sent: u64,
    /// Distinct messages received.
    pub unique: u64,
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    pub link: LinkStats,
}

impl UdpTransferReport {
    pub fn loss_rate(&self) -> f64 {
        self.lost as f64 / self.sent.max(1) as f64
    }
    /// Duplicates per distinct message received.
    pub fn dup_rate(&self) -> f64 {
        self.duplicates as f64 / self.unique.max(1) as f64
    }
    /// Late arrivals per distinct message received.
    pub fn reorder_rate(&self) -> f64 {
        self.out_of_order as f64 / self.unique.max(1) as f64
    }
}

/// Sends `count` numbered datagrams of `payload` bytes through a fresh lossy link with the
/// impairments of `settings`, as fast as loopback takes them, and reports what the receiver saw.
/// The sender keeps a small window: it waits while too many datagrams sit in the relay's or the
/// receiver's socket buffer, so the kernel never drops any and every loss is the link's.
/// Runs on the current tokio runtime.
pub async fn udp_transfer(
    count: u64,
    payload: usize,
    settings: &LabSettings,
    seed: u64,
) -> io::Result<UdpTransferReport> {
    let rx_std = StdUdpSocket::bind("127.0.0.1:0")?;
    rx_std.set_nonblocking(true)?;
    let rx_addr = rx_std.local_addr()?;
    let relay = RelaySockets::bind(rx_addr)?;
    let front = relay.front_addr()?;
    let tx_std = StdUdpSocket::bind("127.0.0.1:0")?;
    tx_std.connect(front)?;
    tx_std.set_nonblocking(true)?;
    let rx = UdpSocket::from_std(rx_std)?;
    let tx = UdpSocket::from_std(tx_std)?;

    let (_settings_tx, settings_rx) = watch::channel(settings.clone());
    let link = Arc::new(Mutex::new(LinkStats::default()));
    let (stop_tx, stop) = Cancel::new();
    let relay_task = tokio::spawn(run_relay(relay, settings_rx, seed, link.clone(), stop));

    // Datagrams allowed in a socket buffer at once: well under the default 208 KiB, counting
    // the kernel's overhead per datagram generously (a small datagram takes a few KiB).
    let window = (60_000 / (payload as u64 + 2048)).clamp(4, 32);
    let received = std::cell::Cell::new(0u64);
    let sender = async {
        let mut seq = 0;
        while seq < count {
            let l = read(&link).to_server;
            let at_relay = seq - l.offered;
            let at_receiver = l.delivered.saturating_sub(received.get());
            if at_relay >= window || at_receiver >= window {
                tokio::time::sleep(Duration::from_micros(200)).await;
                continue;
            }
            tx.send(&udp_message(seq, payload)).await?;
            seq += 1;
        }
        io::Result::Ok(())
    };
    let receiver = async {
        let mut r = UdpReceiver::default();
        let mut buf = vec![0u8; 65_536];
        let idle = Duration::from_millis(300) + settings_delay(settings) + HOLD_MAX;
        loop {
            match tokio::time::timeout(idle, rx.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    r.on_datagram(&buf[..n], Instant::now());
                    received.set(r.msgs);
                }
                Ok(Err(_)) => {}
                Err(_) if r.msgs > 0 => break,
                Err(_) => {}
            }
        }
        r
    };
    let (sent, mut r) = tokio::join!(sender, receiver);
    sent?;
    let _ = stop_tx.send(true);
    let _ = relay_task.await;
    r.tracker.finish(count);
    let link = read(&link);
    Ok(UdpTransferReport {
        sent: count,
        unique: r.tracker.unique,
        lost: r.tracker.lost,
        out_of_order: r.tracker.out_of_order,
        duplicates: r.tracker.duplicates,
        link,
    })
}

fn settings_delay(s: &LabSettings) -> Duration {
    Duration::from_millis(s.delay_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: LinkConfig, n: u64) -> (Vec<u64>, DirectionStats) {
        let mut imp = Impairer::new(7);
        let mut t = Instant::now();
        let mut out = Vec::new();
        for seq in 0..n {
            imp.offer(seq.to_be_bytes().to_vec(), t, &cfg);
            t += Duration::from_micros(100);
            while let Some(d) = imp.take_ready(t, &cfg) {
                out.push(u64::from_be_bytes(d.try_into().unwrap()));
            }
        }
        t += Duration::from_secs(1) + cfg.delay;
        while let Some(d) = imp.take_ready(t, &cfg) {
            out.push(u64::from_be_bytes(d.try_into().unwrap()));
        }
        (out, imp.stats())
    }

    #[test]
    fn a_clean_link_passes_everything_in_order() {
        let (out, st) = run(LinkConfig::default(), 1000);
        assert_eq!(out, (0..1000).collect::<Vec<_>>());
        assert_eq!((st.offered, st.delivered, st.dropped), (1000, 1000, 0));
    }

    #[test]
    fn a_held_datagram_comes_after_the_next_one() {
        let cfg = LinkConfig {
            reorder_pct: 100.0,
            ..LinkConfig::default()
        };
        let mut imp = Impairer::new(1);
        let t = Instant::now();
        imp.offer(vec![1], t, &cfg);
        assert_eq!(imp.take_ready(t, &cfg), None);
        assert_eq!(imp.in_flight(), 1);
        // Alone, it waits HOLD_MAX and then goes on.
        assert_eq!(imp.next_deadline(), Some(t + HOLD_MAX));
        assert_eq!(imp.take_ready(t + HOLD_MAX, &cfg), Some(vec![1]));
        assert_eq!(imp.stats().reordered, 0);
    }

    #[test]
    fn delay_holds_every_datagram() {
        let cfg = LinkConfig {
            delay: Duration::from_millis(50),
            ..LinkConfig::default()
        };
        let mut imp = Impairer::new(1);
        let t = Instant::now();
        imp.offer(vec![9], t, &cfg);
        assert_eq!(imp.take_ready(t + Duration::from_millis(49), &cfg), None);
        assert_eq!(
            imp.take_ready(t + Duration::from_millis(50), &cfg),
            Some(vec![9])
        );
    }

    #[test]
    fn loss_dup_and_reorder_rates_match_the_settings() {
        let cfg = LinkConfig {
            loss_pct: 10.0,
            dup_pct: 5.0,
            reorder_pct: 5.0,
            delay: Duration::ZERO,
        };
        let (out, st) = run(cfg, 10_000);
        let mut g = GapTracker::new();
        let t = Instant::now();
        for s in &out {
            g.on_recv(*s, t);
        }
        g.finish(10_000);
        let loss = g.lost as f64 / 10_000.0;
        let dup = g.duplicates as f64 / g.unique as f64;
        let reo = g.out_of_order as f64 / g.unique as f64;
        assert!((loss - 0.10).abs() < 0.02, "loss {loss}");
        assert!((dup - 0.05).abs() < 0.02, "dup {dup}");
        assert!((reo - 0.05).abs() < 0.02, "reorder {reo}");
        assert_eq!(st.dropped, g.lost);
        assert_eq!(st.duplicated, g.duplicates);
    }
}
