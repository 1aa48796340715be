//! The lab: traffic generators a person starts and stops with keys, to watch what UDP, TCP, ports
//! and firewalls do with traffic. Every generator is a real socket program (servers and a client)
//! running as tokio tasks and talking only to 127.0.0.1, so each concept shows on a machine with
//! no other traffic and needs no extra tools and no root.
//!
//! No terminal code lives here: the TUI pane drives a [`Lab`] through its methods and draws
//! [`GeneratorStats`] snapshots.
//!
//! The lossy link ([`lossy`]) is a user-space UDP relay that drops, duplicates, delays and
//! reorders datagrams. UDP goes through it as is; TCP goes through it as a user-space TCP stack
//! (smoltcp, [`tcp_lossy`]) whose IP packets ride in the relay's datagrams, so its segments are
//! really lost and really retransmitted without any root privilege.

pub mod dns;
pub mod generators;
pub mod lossy;
pub mod seq;
pub mod tcp_lossy;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use lossy::{DirectionStats, Impairer, LinkConfig, LinkStats};

/// The generators, in the order of their keys `1`..`9`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeneratorKind {
    UdpEcho,
    TcpEchoLong,
    TcpEchoShort,
    TcpClosedPort,
    UdpClosedPort,
    HttpLike,
    Dns,
    UdpLossy,
    TcpLossy,
}

impl GeneratorKind {
    pub const ALL: [GeneratorKind; 9] = [
        GeneratorKind::UdpEcho,
        GeneratorKind::TcpEchoLong,
        GeneratorKind::TcpEchoShort,
        GeneratorKind::TcpClosedPort,
        GeneratorKind::UdpClosedPort,
        GeneratorKind::HttpLike,
        GeneratorKind::Dns,
        GeneratorKind::UdpLossy,
        GeneratorKind::TcpLossy,
    ];

    /// A short name for lists and titles.
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => "UDP echo",
            GeneratorKind::TcpEchoLong => "TCP echo, one connection",
            GeneratorKind::TcpEchoShort => "TCP echo, short connections",
            GeneratorKind::TcpClosedPort => "TCP to a closed port",
            GeneratorKind::UdpClosedPort => "UDP to a closed port",
            GeneratorKind::HttpLike => "HTTP request/response",
            GeneratorKind::Dns => "DNS query",
            GeneratorKind::UdpLossy => "UDP over the lossy link",
            GeneratorKind::TcpLossy => "TCP over the lossy link",
        }
    }

    /// The key that starts and stops it: `'1'`..`'9'` in [`GeneratorKind::ALL`] order.
    pub fn key(self) -> char {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        char::from(b'1' + i as u8)
    }

    /// The generator whose key is `c`.
    pub fn from_key(c: char) -> Option<GeneratorKind> {
        Self::ALL.into_iter().find(|k| k.key() == c)
    }

    /// A stable lower-case name for files and command lines (the lab scenarios' `start:` line):
    /// `udp-echo tcp-long tcp-short tcp-closed udp-closed http dns udp-lossy tcp-lossy`.
    pub fn slug(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => "udp-echo",
            GeneratorKind::TcpEchoLong => "tcp-long",
            GeneratorKind::TcpEchoShort => "tcp-short",
            GeneratorKind::TcpClosedPort => "tcp-closed",
            GeneratorKind::UdpClosedPort => "udp-closed",
            GeneratorKind::HttpLike => "http",
            GeneratorKind::Dns => "dns",
            GeneratorKind::UdpLossy => "udp-lossy",
            GeneratorKind::TcpLossy => "tcp-lossy",
        }
    }

    /// The generator whose [`slug`](Self::slug) is `s`.
    pub fn from_slug(s: &str) -> Option<GeneratorKind> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// One line saying what it does.
    pub fn describe(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => {
                "numbered datagrams to a UDP echo server; replies counted, lost and out of order"
            }
            GeneratorKind::TcpEchoLong => "one TCP connection carries every message and its echo",
            GeneratorKind::TcpEchoShort => {
                "a new TCP connection per message: handshake, data, FIN, every time"
            }
            GeneratorKind::TcpClosedPort => {
                "SYN to a port nobody listens on: the kernel answers RST, connection refused"
            }
            GeneratorKind::UdpClosedPort => {
                "datagram to a closed port: ICMP port unreachable comes back as ECONNREFUSED"
            }
            GeneratorKind::HttpLike => "GET / to a tiny HTTP/1.1 server, one connection each",
            GeneratorKind::Dns => "A queries for *.lab.test to the lab's DNS responder",
            GeneratorKind::UdpLossy => {
                "datagrams through the lossy link: the app sees every loss and reordering"
            }
            GeneratorKind::TcpLossy => {
                "user-space TCP through the same link: retransmits, delivers every byte in order"
            }
        }
    }

    /// A few sentences on the concept the generator shows, for a help or detail view.
    pub fn lesson(self) -> &'static str {
        match self {
            GeneratorKind::UdpEcho => {
                "UDP sends each datagram on its own: no connection, no handshake, no \
                 acknowledgement. The client numbers its messages so it can tell, from the \
                 echoes alone, which ones never came back and which came back out of order. On \
                 loopback nothing is lost; try the same over the lossy link (8)."
            }
            GeneratorKind::TcpEchoLong => {
                "TCP opens a connection once (SYN, SYN-ACK, ACK) and then carries a byte \
                 stream both ways. Message boundaries are the application's business: the \
                 client writes a length-prefixed message and reads back exactly that many bytes."
            }
            GeneratorKind::TcpEchoShort => {
                "Every message pays for a whole connection: three-way handshake, data, then \
                 FIN both ways. The side that closes first keeps the port in TIME_WAIT; watch \
                 the sessions pile up compared with the long connection (2)."
            }
            GeneratorKind::TcpClosedPort => {
                "When no socket listens on a TCP port, the kernel answers the SYN with a RST \
                 and connect() fails with 'connection refused' at once. A firewall that DROPs \
                 instead makes connect() hang until it times out; one that REJECTs sends the \
                 RST (or an ICMP error) itself."
            }
            GeneratorKind::UdpClosedPort => {
                "UDP has no RST: a datagram to a closed port makes the kernel send back an \
                 ICMP 'port unreachable'. Only a connected UDP socket hears about it, as \
                 ECONNREFUSED on its next send or receive."
            }
            GeneratorKind::HttpLike => {
                "HTTP/1.1 is text over a TCP connection: a request line and headers, a blank \
                 line, then a status line, headers, and a body whose length Content-Length \
                 gives. Here each request has its own connection (Connection: close)."
            }
            GeneratorKind::Dns => {
                "A DNS query is one UDP datagram: a 12-byte header, the question (name, type, \
                 class), and the response repeats the question and adds answers. Names outside \
                 lab.test get NXDOMAIN. packetlab decodes DNS on ports 53 and 5353."
            }
            GeneratorKind::UdpLossy => {
                "The lossy link is a relay between client and server that drops, duplicates, \
                 delays and reorders datagrams. UDP hands all of that to the application: the \
                 receiver counts the gaps, the late arrivals and the duplicates."
            }
            GeneratorKind::TcpLossy => {
                "The same link under TCP: a user-space TCP stack whose IP packets ride in the \
                 relay's datagrams. Lost segments and lost ACKs are retransmitted, duplicates \
                 dropped, reordered data put back in order: the receiver gets every byte, in \
                 order, a little later. The retransmission counter shows the price."
            }
        }
    }

    fn index(self) -> u64 {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0) as u64
    }
}

/// What the person can tune. Rate and payload apply to running generators at their next
/// message; the link settings at the next datagram through the link.
#[derive(Clone, Debug, PartialEq)]
pub struct LabSettings {
    /// Messages (datagrams, requests, connection attempts) per second, per generator.
    pub rate_per_sec: u32,
    /// Size of each echo message in bytes, sequence-number header included (at least 8 for UDP,
    /// 12 for TCP, which also carries a length).
    pub payload: usize,
    /// Lossy link: percentage of datagrams dropped (each direction).
    pub loss_pct: f64,
    /// Lossy link: percentage of the datagrams it forwards that it sends twice.
    pub dup_pct: f64,
    /// Lossy link: percentage of the datagrams it forwards that it holds back until the next one
    /// has passed (so they arrive after it).
    pub reorder_pct: f64,
    /// Lossy link: fixed delay added to every datagram, in milliseconds.
    pub delay_ms: u64,
}

impl Default for LabSettings {
    fn default() -> Self {
        LabSettings {
            rate_per_sec: 10,
            payload: 64,
            loss_pct: 10.0,
            dup_pct: 0.0,
            reorder_pct: 0.0,
            delay_ms: 0,
        }
    }
}

/// What a generator has done so far. "Sent" and "received" are counted by the application
/// (bytes it wrote and read, messages it framed), not on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeneratorStats {
    pub running: bool,
    pub sent_msgs: u64,
    pub sent_bytes: u64,
    pub recv_msgs: u64,
    pub recv_bytes: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Messages that never arrived (UDP; for TCP this stays 0 unless TCP itself failed).
    pub lost: u64,
    /// Messages that arrived after a later-numbered one.
    pub out_of_order: u64,
    /// Messages that arrived more than once.
    pub duplicates: u64,
    /// TCP segments sent again (TCP over the lossy link), counted from the segments the sender
    /// put on the wire.
    pub retransmissions: u64,
    /// Connections established (TCP) or connection attempts refused (closed TCP port: 0).
    pub connections: u64,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// What happened last, in words, e.g. "connection refused (RST)".
    pub note: String,
}

/// Stats shared between a generator's tasks and the [`Lab`].
pub(crate) type Shared = Arc<Mutex<GeneratorStats>>;

pub(crate) fn update<T>(s: &Mutex<T>, f: impl FnOnce(&mut T)) {
    let mut g = s.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut g);
}

pub(crate) fn snapshot<T: Clone>(s: &Mutex<T>) -> T {
    s.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Records an error on the stats.
pub(crate) fn record_error(s: &Shared, msg: impl Into<String>) {
    let msg = msg.into();
    update(s, |st| {
        st.errors += 1;
        st.note = msg.clone();
        st.last_error = Some(msg);
    });
}

/// A cancellation signal: fires when its sender says `true` or is dropped.
#[derive(Clone, Debug)]
pub struct Cancel(watch::Receiver<bool>);

impl Cancel {
    pub fn new() -> (watch::Sender<bool>, Cancel) {
        let (tx, rx) = watch::channel(false);
        (tx, Cancel(rx))
    }

    /// Resolves once cancelled (at once if it already is).
    pub async fn cancelled(&mut self) {
        let _ = self.0.wait_for(|c| *c).await;
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}

/// Counts live tasks: one is counted from the moment it is wrapped by [`tracked`] until its
/// future completes or is dropped (aborted, or its runtime shut down).
#[derive(Clone, Debug, Default)]
pub struct TaskCounter(Arc<AtomicUsize>);

struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TaskCounter {
    pub fn live(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Wraps `f` so that it counts as live until it ends or is dropped.
    pub fn tracked<F>(&self, f: F) -> impl Future<Output = F::Output> + Send + 'static
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.0.fetch_add(1, Ordering::SeqCst);
        let guard = LiveGuard(self.0.clone());
        async move {
            let _guard = guard;
            f.await
        }
    }

    /// Spawns `f` on `rt`, counted.
    pub fn spawn<F>(&self, rt: &Handle, f: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        rt.spawn(self.tracked(f))
    }
}

/// What every generator task gets.
#[derive(Clone)]
pub(crate) struct GenCtx {
    pub rt: Handle,
    pub tasks: TaskCounter,
    pub stats: Shared,
    pub settings: watch::Receiver<LabSettings>,
    /// The Lab's stop signal for this generator (the client listens to it; servers stop when
    /// their client is done).
    pub stop: Cancel,
    pub seed: u64,
}

/// The tasks of a started generator: the first handle is its client.
pub(crate) struct Started {
    pub handles: Vec<JoinHandle<()>>,
    pub link: Option<Arc<Mutex<LinkStats>>>,
}

struct Running {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Slot {
    stats: Shared,
    link: Option<Arc<Mutex<LinkStats>>>,
    run: Option<Running>,
    starts: u64,
}

/// The traffic lab: starts and stops generators on a tokio runtime and keeps their counters.
pub struct Lab {
    rt: Handle,
    settings: LabSettings,
    settings_tx: watch::Sender<LabSettings>,
    tasks: TaskCounter,
    slots: HashMap<GeneratorKind, Slot>,
    /// Tasks of stopped generators, still winding down.
    stopping: Vec<JoinHandle<()>>,
}

/// How long [`Lab::shutdown`] waits for a task before aborting it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Lab {
    pub fn new(rt: tokio::runtime::Handle) -> Lab {
        let settings = LabSettings::default();
        let (settings_tx, _) = watch::channel(settings.clone());
        Lab {
            rt,
            settings,
            settings_tx,
            tasks: TaskCounter::default(),
            slots: HashMap::new(),
            stopping: Vec::new(),
        }
    }

    pub fn settings(&self) -> &LabSettings {
        &self.settings
    }

    /// New settings; running generators pick up rate and payload at their next message and the
    /// lossy link its percentages and delay at its next datagram.
    pub fn set_settings(&mut self, s: LabSettings) {
        self.settings = s.clone();
        self.settings_tx.send_replace(s);
    }

    /// Starts `kind`: binds its sockets on 127.0.0.1 (ephemeral ports) and spawns its tasks.
    /// Starting a running generator does nothing. Its counters start again from zero.
    pub fn start(&mut self, kind: GeneratorKind) -> Result<(), String> {
        if self.is_running(kind) {
            return Ok(());
        }
        self.reap(kind);
        let slot = self.slots.entry(kind).or_default();
        slot.starts += 1;
        let seed = 0x5eed_1ab0_u64 ^ (kind.index() << 32) ^ slot.starts;
        let stats: Shared = Arc::new(Mutex::new(GeneratorStats::default()));
        let (stop_tx, stop) = Cancel::new();
        let ctx = GenCtx {
            rt: self.rt.clone(),
            tasks: self.tasks.clone(),
            stats: stats.clone(),
            settings: self.settings_tx.subscribe(),
            stop,
            seed,
        };
        let started = {
            let _enter = self.rt.enter();
            generators::start(kind, ctx)
        };
        let slot = self.slots.entry(kind).or_default();
        slot.stats = stats;
        match started {
            Ok(st) => {
                slot.link = st.link;
                slot.run = Some(Running {
                    stop: stop_tx,
                    handles: st.handles,
                });
                Ok(())
            }
            Err(e) => {
                slot.link = None;
                record_error(&slot.stats, e.clone());
                Err(e)
            }
        }
    }

    /// Stops `kind`: its client stops sending, waits briefly for replies in flight, and its
    /// servers close after it. Returns at once; [`Lab::shutdown`] waits for the tasks.
    pub fn stop(&mut self, kind: GeneratorKind) {
        if let Some(slot) = self.slots.get_mut(&kind) {
            if let Some(run) = slot.run.take() {
                let _ = run.stop.send(true);
                self.stopping.extend(run.handles);
            }
        }
        self.stopping.retain(|h| !h.is_finished());
    }

    pub fn toggle(&mut self, kind: GeneratorKind) -> Result<(), String> {
        if self.is_running(kind) {
            self.stop(kind);
            Ok(())
        } else {
            self.start(kind)
        }
    }

    pub fn stop_all(&mut self) {
        for kind in GeneratorKind::ALL {
            self.stop(kind);
        }
    }

    /// Whether `kind` was started and its client is still at work (a client that ended on its
    /// own, e.g. because a socket failed, is not running).
    pub fn is_running(&self, kind: GeneratorKind) -> bool {
        self.slots
            .get(&kind)
            .and_then(|s| s.run.as_ref())
            .and_then(|r| r.handles.first())
            .is_some_and(|h| !h.is_finished())
    }

    pub fn stats(&self, kind: GeneratorKind) -> GeneratorStats {
        let mut st = self
            .slots
            .get(&kind)
            .map(|s| snapshot(&s.stats))
            .unwrap_or_default();
        st.running = self.is_running(kind);
        st
    }

    /// The lossy link's own counters (per direction), for the generators that use it.
    pub fn link_stats(&self, kind: GeneratorKind) -> Option<LinkStats> {
        self.slots
            .get(&kind)
            .and_then(|s| s.link.as_ref())
            .map(|l| snapshot(l))
    }

    /// Tasks still alive, servers' per-connection tasks included.
    pub fn live_tasks(&self) -> usize {
        self.tasks.live()
    }

    /// Stops every generator and waits until each of their tasks has finished (aborting any
    /// that has not after a few seconds).
    pub async fn shutdown(&mut self) {
        self.stop_all();
        let handles = std::mem::take(&mut self.stopping);
        for mut h in handles {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut h).await.is_err() {
                h.abort();
                let _ = h.await;
            }
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.tasks.live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Moves the tasks of a generator whose client ended on its own to the stopping list.
    fn reap(&mut self, kind: GeneratorKind) {
        if let Some(slot) = self.slots.get_mut(&kind) {
            if let Some(run) = slot.run.take() {
                let _ = run.stop.send(true);
                self.stopping.extend(run.handles);
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Dropping the stop senders cancels every task; they end on their own.
        for slot in self.slots.values_mut() {
            if let Some(run) = slot.run.take() {
                let _ = run.stop.send(true);
            }
        }
    }
}
