//! The session table: every TCP/UDP session (and ICMP echo, and other IP traffic by address
//! pair), counted per direction, bounded in size. Idle and closed sessions are evicted first when
//! it is full, and every eviction is counted.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use super::key::{Endpoint, Flow, SessionKey, SessionProto};
use super::tcp_state::{TcpState, TcpTracker};
use crate::capture::Timestamp;
use crate::decode::{Summary, TcpInfo};

/// A UDP (or ICMP, or other IP) session with no packet for this long is idle.
pub const IDLE_NS: i64 = 60 * 1_000_000_000;
/// A TCP session in TIME_WAIT this long is reported CLOSED.
pub const TIME_WAIT_NS: i64 = 10 * 1_000_000_000;
/// State changes kept per session (the first ones, which tell how it began, and the last).
const MAX_TRANSITIONS: usize = 32;
/// Seconds of per-second byte counts kept, each way, for the rate column and the session's
/// chart. 16 keeps the window at 128 bytes a session, as it was before it counted each
/// direction: 100,000 sessions stay within the memory target (BENCHMARKS.md).
pub const RATE_SECS: usize = 16;

/// The local process behind one end of a session (live capture on this machine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub name: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, self.pid)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    pub frames: u64,
    /// On-wire frame lengths, as tshark's conversation tables count them.
    pub bytes: u64,
    /// Transport payload bytes.
    pub payload: u64,
}

/// Bytes per second each way over the last [`RATE_SECS`] seconds. Kept per direction so the
/// session detail can chart A → B and B → A apart; 256 bytes a session, one add a packet.
#[derive(Clone, Debug)]
pub struct RateWindow {
    /// [second slot][0: A → B, 1: B → A].
    buckets: [[u32; 2]; RATE_SECS],
    head: i64,
}

impl RateWindow {
    fn new(sec: i64) -> Self {
        RateWindow {
            buckets: [[0; 2]; RATE_SECS],
            head: sec,
        }
    }

    fn add(&mut self, sec: i64, bytes: u32, a_to_b: bool) {
        self.advance(sec);
        if sec > self.head - RATE_SECS as i64 {
            let b =
                &mut self.buckets[sec.rem_euclid(RATE_SECS as i64) as usize][usize::from(!a_to_b)];
            *b = b.saturating_add(bytes);
        }
    }

    fn advance(&mut self, sec: i64) {
        if sec <= self.head {
            return;
        }
        let gap = (sec - self.head).min(RATE_SECS as i64);
        for k in 1..=gap {
            self.buckets[(self.head + k).rem_euclid(RATE_SECS as i64) as usize] = [0; 2];
        }
        self.head = sec;
    }

    /// The newest second with a packet counted.
    pub fn newest(&self) -> i64 {
        self.head
    }

    /// Bytes per second both ways for each of the `n` seconds up to `now`, oldest first.
    pub fn series(&self, now_sec: i64, n: usize) -> Vec<u64> {
        self.series_by(now_sec, n, |b| b[0] as u64 + b[1] as u64)
    }

    /// Bytes per second one way (`a_to_b`, else B → A) for the `n` seconds up to `now`.
    pub fn series_dir(&self, now_sec: i64, n: usize, a_to_b: bool) -> Vec<u64> {
        self.series_by(now_sec, n, |b| b[usize::from(!a_to_b)] as u64)
    }

    fn series_by(&self, now_sec: i64, n: usize, pick: impl Fn(&[u32; 2]) -> u64) -> Vec<u64> {
        let n = n.min(RATE_SECS);
        (0..n)
            .map(|k| {
                let sec = now_sec - (n - 1 - k) as i64;
                if sec > self.head || sec <= self.head - RATE_SECS as i64 {
                    0
                } else {
                    pick(&self.buckets[sec.rem_euclid(RATE_SECS as i64) as usize])
                }
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    /// Creation order, from 0 (like tshark's tcp.stream / udp.stream).
    pub id: u64,
    pub proto: SessionProto,
    /// The initiator: the sender of the SYN when seen, else of the first packet.
    pub a: Endpoint,
    pub b: Endpoint,
    pub ab: DirStats,
    pub ba: DirStats,
    pub first: Timestamp,
    pub last: Timestamp,
    pub tcp: Option<TcpTracker>,
    /// State changes with their time.
    pub transitions: Vec<(Timestamp, &'static str)>,
    pub rate: RateWindow,
    /// No packet for a while (UDP, ICMP, other IP).
    pub idle: bool,
    /// Local processes owning A's and B's sockets, when known.
    pub owner_a: Option<Owner>,
    pub owner_b: Option<Owner>,
}

impl Session {
    pub fn state_name(&self) -> &'static str {
        match &self.tcp {
            Some(t) => t.state.name(),
            None if self.idle => "IDLE",
            None => "ACTIVE",
        }
    }

    /// Who owns the session's local ends: "name(pid)", or both ends when they differ.
    pub fn process_label(&self) -> Option<String> {
        match (&self.owner_a, &self.owner_b) {
            (Some(a), Some(b)) if a == b => Some(a.to_string()),
            (Some(a), Some(b)) => Some(format!("{a} ↔ {b}")),
            (Some(o), None) | (None, Some(o)) => Some(o.to_string()),
            (None, None) => None,
        }
    }

    pub fn duration_ns(&self) -> i64 {
        self.last.0 - self.first.0
    }

    pub fn frames(&self) -> u64 {
        self.ab.frames + self.ba.frames
    }

    pub fn bytes(&self) -> u64 {
        self.ab.bytes + self.ba.bytes
    }

    pub fn retransmissions(&self) -> u32 {
        self.tcp.as_ref().map(|t| t.retransmissions).unwrap_or(0)
    }

    /// Over and done with: first in line for eviction.
    pub fn is_finished(&self) -> bool {
        match &self.tcp {
            Some(t) => t.state.is_closed(),
            None => self.idle,
        }
    }

    fn transition(&mut self, ts: Timestamp, name: &'static str) {
        if self.transitions.len() >= MAX_TRANSITIONS {
            self.transitions.remove(MAX_TRANSITIONS / 2);
        }
        self.transitions.push((ts, name));
    }
}

/// What the table did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    pub session: u64,
    /// The packet went from A to B.
    pub a_to_b: bool,
}

pub struct SessionTable {
    slots: Vec<Option<Session>>,
    free: Vec<usize>,
    /// The current session for each key (an older one on the same ports stays listed).
    by_key: HashMap<SessionKey, usize, FxBuildHasher>,
    by_id: HashMap<u64, usize, FxBuildHasher>,
    max: usize,
    next_id: u64,
    live: usize,
    pub evicted: u64,
    /// The newest packet time seen: the table's clock, so files age sessions as live capture does.
    pub now: Timestamp,
    /// Bumped on every change, so a view re-reads only when something happened.
    pub generation: u64,
}

impl SessionTable {
    pub fn new(max: usize) -> Self {
        SessionTable {
            slots: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::with_hasher(FxBuildHasher),
            by_id: HashMap::with_hasher(FxBuildHasher),
            max: max.max(1),
            next_id: 0,
            live: 0,
            evicted: 0,
            now: Timestamp(i64::MIN),
            generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.slots.iter().flatten()
    }

    pub fn get(&self, id: u64) -> Option<&Session> {
        self.by_id.get(&id).and_then(|&i| self.slots[i].as_ref())
    }

    /// Sessions in creation order (the order tshark numbers streams).
    pub fn sorted_by_id(&self) -> Vec<&Session> {
        let mut v: Vec<&Session> = self.iter().collect();
        v.sort_by_key(|s| s.id);
        v
    }

    /// Accounts one decoded packet. `frame_len` is its on-wire length.
    pub fn observe(&mut self, s: &Summary, ts: Timestamp, frame_len: u32) -> Option<Observed> {
        let flow = Flow::of(s)?;
        if ts > self.now {
            self.now = ts;
        }
        self.generation += 1;
        let mut slot = self.by_key.get(&flow.key).copied();
        if let (Some(i), Some(t)) = (slot, &s.tcp) {
            let sess = self.slots[i].as_ref().expect("keyed slot is live");
            let dir = usize::from(flow.src != sess.a);
            if sess
                .tcp
                .as_ref()
                .is_some_and(|tr| tr.is_new_connection(dir, t))
            {
                slot = None;
            }
        }
        let i = match slot {
            Some(i) => i,
            None => self.create(&flow, s, ts),
        };
        let sess = self.slots[i].as_mut().expect("live slot");
        let a_to_b = flow.src == sess.a;
        let d = if a_to_b { &mut sess.ab } else { &mut sess.ba };
        d.frames += 1;
        d.bytes += frame_len as u64;
        d.payload += s.payload_len as u64;
        sess.last = sess.last.max(ts);
        if sess.idle {
            sess.idle = false;
            sess.transition(ts, "ACTIVE");
        }
        sess.rate.add(ts.secs(), frame_len, a_to_b);
        if let (Some(tr), Some(t)) = (sess.tcp.as_mut(), &s.tcp) {
            if let Some(st) = tr.on_segment(usize::from(!a_to_b), t, s.payload_len, ts) {
                sess.transition(ts, st.name());
            }
        }
        Some(Observed {
            session: sess.id,
            a_to_b,
        })
    }

    fn create(&mut self, flow: &Flow, s: &Summary, ts: Timestamp) -> usize {
        if self.live >= self.max {
            self.evict_some();
        }
        // A SYN-ACK first means the capture missed the SYN: its receiver is the initiator.
        let synack = s.tcp.is_some_and(|t| {
            t.flags & (TcpInfo::SYN | TcpInfo::ACK) == TcpInfo::SYN | TcpInfo::ACK
        });
        let (a, b) = if synack {
            (flow.dst, flow.src)
        } else {
            (flow.src, flow.dst)
        };
        let tcp = s.tcp.as_ref().map(TcpTracker::new);
        let mut sess = Session {
            id: self.next_id,
            proto: flow.key.proto,
            a,
            b,
            ab: DirStats::default(),
            ba: DirStats::default(),
            first: ts,
            last: ts,
            tcp,
            transitions: Vec::new(),
            rate: RateWindow::new(ts.secs()),
            idle: false,
            owner_a: None,
            owner_b: None,
        };
        let initial = sess.state_name();
        sess.transition(ts, initial);
        self.next_id += 1;
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(sess);
                i
            }
            None => {
                self.slots.push(Some(sess));
                self.slots.len() - 1
            }
        };
        self.by_key.insert(flow.key, i);
        self.by_id.insert(self.next_id - 1, i);
        self.live += 1;
        i
    }

    /// Fills in the owners of sessions still open, from `lookup` (a socket scan). Owners found
    /// once are kept: the socket may be gone by the time the session ends.
    pub fn attribute(&mut self, lookup: impl Fn(SessionProto, Endpoint) -> Option<Owner>) {
        for s in self.slots.iter_mut().flatten() {
            if !s.proto.has_ports() || s.is_finished() {
                continue;
            }
            if s.owner_a.is_none() {
                s.owner_a = lookup(s.proto, s.a);
            }
            if s.owner_b.is_none() {
                s.owner_b = lookup(s.proto, s.b);
            }
        }
        self.generation += 1;
    }

    /// Marks idle sessions and settles quiet TIME_WAITs, as of the table's clock.
    pub fn age(&mut self) {
        let now = self.now;
        let mut changed = false;
        for s in self.slots.iter_mut().flatten() {
            let quiet = now.0 - s.last.0;
            match s.tcp.as_mut() {
                Some(t) if t.state == TcpState::TimeWait && quiet > TIME_WAIT_NS => {
                    t.settle();
                    s.transition(now, "CLOSED");
                    changed = true;
                }
                None if !s.idle && quiet > IDLE_NS => {
                    s.idle = true;
                    s.transition(now, "IDLE");
                    changed = true;
                }
                _ => {}
            }
        }
        if changed {
            self.generation += 1;
        }
    }

    /// Frees a sixteenth of the table: finished sessions first, then the least recently seen.
    fn evict_some(&mut self) {
        self.age();
        let mut order: Vec<(bool, Timestamp, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (!s.is_finished(), s.last, i)))
            .collect();
        let n = (self.max / 16).max(1).min(order.len());
        order.select_nth_unstable(n - 1);
        for &(_, _, i) in &order[..n] {
            if let Some(s) = self.slots[i].take() {
                let key = key_of(&s);
                if self.by_key.get(&key) == Some(&i) {
                    self.by_key.remove(&key);
                }
                self.by_id.remove(&s.id);
                self.free.push(i);
                self.live -= 1;
                self.evicted += 1;
            }
        }
    }
}

fn key_of(s: &Session) -> SessionKey {
    let (lo, hi) = if s.a <= s.b { (s.a, s.b) } else { (s.b, s.a) };
    SessionKey {
        proto: s.proto,
        lo,
        hi,
    }
}
