//! Numbered messages and the bookkeeping that tells, from the numbers alone, which messages were
//! lost, which arrived out of order and which arrived twice.
//!
//! A UDP message is `seq (u64, big endian)` followed by a fill pattern; a TCP message (a byte
//! stream needs framing) is `length (u32) seq (u64)` followed by the fill. The fill depends on the
//! sequence number and the offset, so a byte delivered in the wrong place is caught too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

/// Smallest UDP message: the sequence number.
pub const UDP_HEADER: usize = 8;
/// Smallest TCP message: length and sequence number.
pub const TCP_HEADER: usize = 12;
/// Largest message either carries (fits a UDP datagram on loopback).
pub const MAX_MESSAGE: usize = 65_000;

fn fill_byte(seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_mul(31).wrapping_add(i as u8)
}

/// A UDP message of `size` bytes (at least [`UDP_HEADER`]) numbered `seq`.
pub fn udp_message(seq: u64, size: usize) -> Vec<u8> {
    let size = size.clamp(UDP_HEADER, MAX_MESSAGE);
    let mut m = Vec::with_capacity(size);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((UDP_HEADER..size).map(|i| fill_byte(seq, i)));
    m
}

/// The sequence number of a UDP message, if it is one (header and fill intact).
pub fn parse_udp_message(m: &[u8]) -> Option<u64> {
    let seq = u64::from_be_bytes(m.get(..UDP_HEADER)?.try_into().ok()?);
    m.iter()
        .enumerate()
        .skip(UDP_HEADER)
        .all(|(i, b)| *b == fill_byte(seq, i))
        .then_some(seq)
}

/// A framed TCP message of `size` bytes (at least [`TCP_HEADER`]) numbered `seq`.
pub fn tcp_message(seq: u64, size: usize) -> Vec<u8> {
    let size = size.clamp(TCP_HEADER, MAX_MESSAGE);
    let mut m = Vec::with_capacity(size);
    m.extend_from_slice(&(size as u32).to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((TCP_HEADER..size).map(|i| fill_byte(seq, i)));
    m
}

/// One message cut from a TCP byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framed {
    pub seq: u64,
    pub len: usize,
    /// Every fill byte matched.
    pub intact: bool,
}

/// Cuts framed messages out of a byte stream as it arrives.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, if one has arrived. A length below the header (a broken stream)
    /// is reported as a message of that length that is not intact, and the buffer is dropped.
    pub fn next_message(&mut self) -> Option<Framed> {
        let len = u32::from_be_bytes(self.buf.get(..4)?.try_into().ok()?) as usize;
        if !(TCP_HEADER..=MAX_MESSAGE).contains(&len) {
            self.buf.clear();
            return Some(Framed {
                seq: 0,
                len,
                intact: false,
            });
        }
        if self.buf.len() < len {
            return None;
        }
        let seq = u64::from_be_bytes(self.buf[4..TCP_HEADER].try_into().ok()?);
        let intact = self.buf[TCP_HEADER..len]
            .iter()
            .enumerate()
            .all(|(k, b)| *b == fill_byte(seq, TCP_HEADER + k));
        self.buf.drain(..len);
        Some(Framed { seq, len, intact })
    }

    /// Bytes received that do not yet make a whole message.
    pub fn partial(&self) -> usize {
        self.buf.len()
    }
}

/// How a numbered message arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next one expected, or a later one (leaving a gap).
    InOrder,
    /// After a later-numbered one.
    Late,
    /// Again.
    Duplicate,
}

/// How many numbers declared lost are remembered, so a very late arrival is recognised.
const REMEMBER_LOST: usize = 100_000;
/// A gap larger than this is counted lost at once instead of remembered number by number.
const MAX_GAP: u64 = 100_000;

/// The receiver's view of a one-way stream of numbered messages: a number skipped over is
/// missing; missing longer than the timeout, it is lost; arriving after all, it is late.
#[derive(Debug, Default)]
pub struct GapTracker {
    next: u64,
    missing: BTreeMap<u64, Instant>,
    lost_set: BTreeSet<u64>,
    /// Distinct messages received.
    pub unique: u64,
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
}

impl GapTracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on_recv(&mut self, seq: u64, now: Instant) -> Arrival {
        if seq >= self.next {
            let gap = seq - self.next;
            if gap > MAX_GAP {
                self.lost += gap;
            } else {
                for s in self.next..seq {
                    self.missing.insert(s, now);
                }
            }
            self.next = seq + 1;
            self.unique += 1;
            Arrival::InOrder
        } else if self.missing.remove(&seq).is_some() {
            self.unique += 1;
            self.out_of_order += 1;
            Arrival::Late
        } else if self.lost_set.remove(&seq) {
            self.lost -= 1;
            self.unique += 1;
            self.out_of_order += 1;
            Arrival::Late
        } else {
            self.duplicates += 1;
            Arrival::Duplicate
        }
    }

    /// Declares lost what has been missing for longer than `timeout`.
    pub fn expire(&mut self, now: Instant, timeout: Duration) {
        while let Some((&seq, &since)) = self.missing.first_key_value() {
            if now.duration_since(since) < timeout {
                break;
            }
            self.missing.remove(&seq);
            self.declare_lost(seq);
        }
    }

    fn declare_lost(&mut self, seq: u64) {
        self.lost += 1;
        self.lost_set.insert(seq);
        if self.lost_set.len() > REMEMBER_LOST {
            self.lost_set.pop_first();
        }
    }

    /// The final tally once the sender says it sent `sent` messages (`0..sent`): everything not
    /// received is lost, the tail after the last arrival included.
    pub fn finish(&mut self, sent: u64) {
        let missing = std::mem::take(&mut self.missing);
        for seq in missing.into_keys() {
            self.declare_lost(seq);
        }
        if sent > self.next {
            self.lost += sent - self.next;
            self.next = sent;
        }
    }

    /// Numbers skipped over and not (yet) declared lost.
    pub fn missing(&self) -> usize {
        self.missing.len()
    }

    /// The number after the highest received (or declared lost by [`expire_unseen`]).
    ///
    /// [`expire_unseen`]: GapTracker::expire_unseen
    pub fn next_expected(&self) -> u64 {
        self.next
    }

    /// Declares lost every number below `upto` beyond the highest received: the sender's tail
    /// that never came although it went out longer than the timeout ago (the receiver alone
    /// cannot tell, it sees no gap). One arriving after all is late, as after [`expire`].
    ///
    /// [`expire`]: GapTracker::expire
    pub fn expire_unseen(&mut self, upto: u64) {
        if upto.saturating_sub(self.next) > MAX_GAP {
            self.lost += upto - self.next;
            self.next = upto;
        }
        while self.next < upto {
            self.declare_lost(self.next);
            self.next += 1;
        }
    }

    /// Messages neither received nor lost when the sender has sent `sent`: skipped over but not
    /// yet timed out, and the tail after the highest received.
    pub fn in_flight(&self, sent: u64) -> u64 {
        self.missing.len() as u64 + sent.saturating_sub(self.next)
    }
}

/// The sender's view of numbered requests and their echoes: a request without its echo after
/// the timeout is lost; an echo after a later one is out of order; an echo twice is a duplicate.
#[derive(Debug, Default)]
pub struct EchoTracker {
    pending: BTreeMap<u64, Instant>,
    lost_set: BTreeSet<u64>,
    highest: Option<u64>,
    /// Distinct echoes received.
    pub unique: u64,
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
}

impl EchoTracker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&mut self, seq: u64, now: Instant) {
        self.pending.insert(seq, now);
    }

    pub fn on_reply(&mut self, seq: u64) -> Arrival {
        let fresh = if self.pending.remove(&seq).is_some() {
            true
        } else if self.lost_set.remove(&seq) {
            self.lost -= 1;
            true
        } else {
            false
        };
        if !fresh {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.unique += 1;
        match self.highest {
            Some(h) if seq < h => {
                self.out_of_order += 1;
                Arrival::Late
            }
            _ => {
                self.highest = Some(seq);
                Arrival::InOrder
            }
        }
    }

    /// Declares lost what has waited for its echo longer than `timeout`.
    pub fn expire(&mut self, now: Instant, timeout: Duration) {
        while let Some((&seq, &since)) = self.pending.first_key_value() {
            if now.duration_since(since) < timeout {
                break;
            }
            self.pending.remove(&seq);
            self.lost += 1;
            self.lost_set.insert(seq);
            if self.lost_set.len() > REMEMBER_LOST {
                self.lost_set.pop_first();
            }
        }
    }

    /// Requests still waiting for their echo.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Declares lost everything still waiting (when the client stops).
    pub fn finish(&mut self) {
        let now = Instant::now();
        self.expire(now + Duration::from_secs(3600), Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_messages_round_trip_and_catch_damage() {
        let m = udp_message(42, 64);
        assert_eq!(m.len(), 64);
        assert_eq!(parse_udp_message(&m), Some(42));
        let mut bad = m.clone();
        bad[40] ^= 1;
        assert_eq!(parse_udp_message(&bad), None);
        assert_eq!(udp_message(1, 2).len(), UDP_HEADER);
    }

    #[test]
    fn deframer_cuts_a_stream_fed_in_odd_pieces() {
        let mut stream = Vec::new();
        for seq in 0..50 {
            stream.extend(tcp_message(seq, 20 + seq as usize));
        }
        let mut d = Deframer::default();
        let mut got = Vec::new();
        for chunk in stream.chunks(7) {
            d.push(chunk);
            while let Some(f) = d.next_message() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 50);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, f)| f.seq == i as u64 && f.intact && f.len == 20 + i));
        assert_eq!(d.partial(), 0);
    }

    #[test]
    fn gap_tracker_counts_late_lost_and_duplicates() {
        let t0 = Instant::now();
        let mut g = GapTracker::new();
        for s in [0, 1, 3, 2, 2, 5, 6] {
            g.on_recv(s, t0);
        }
        assert_eq!((g.unique, g.out_of_order, g.duplicates), (6, 1, 1));
        assert_eq!(g.missing(), 1); // 4
        g.expire(t0 + Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(g.lost, 1);
        assert_eq!(g.on_recv(4, t0), Arrival::Late);
        assert_eq!(g.lost, 0);
        g.finish(10); // 7, 8, 9 never came
        assert_eq!(g.lost, 3);
    }

    #[test]
    fn echo_tracker_counts_lost_late_and_duplicates() {
        let t0 = Instant::now();
        let mut e = EchoTracker::new();
        for s in 0..5 {
            e.sent(s, t0);
        }
        assert_eq!(e.on_reply(0), Arrival::InOrder);
        assert_eq!(e.on_reply(2), Arrival::InOrder);
        assert_eq!(e.on_reply(1), Arrival::Late);
        assert_eq!(e.on_reply(1), Arrival::Duplicate);
        e.expire(t0 + Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!((e.lost, e.outstanding()), (2, 0));
        assert_eq!(e.on_reply(4), Arrival::InOrder);
        assert_eq!(
            (e.lost, e.unique, e.out_of_order, e.duplicates),
            (1, 4, 1, 1)
        );
    }
}
