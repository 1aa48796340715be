//! The TCP connection as an observer on the wire sees it: states named from the initiator's (A's)
//! side, plus the counters that say how healthy it is (retransmissions, out-of-order segments,
//! zero windows, handshake round trip).

use crate::capture::Timestamp;
use crate::decode::TcpInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// A sent SYN.
    SynSent,
    /// B answered with SYN-ACK (or both sent SYN: simultaneous open).
    SynReceived,
    Established,
    /// The capture started inside the connection: no handshake seen.
    Midstream,
    /// A sent FIN first; B may still send (half-close).
    FinWait,
    /// B sent FIN first; A may still send.
    CloseWait,
    /// Both sent FIN, both at once (neither FIN acknowledged before the other was sent).
    Closing,
    /// Both sent FIN; the second is not yet acknowledged.
    LastAck,
    /// Both FINs acknowledged.
    TimeWait,
    /// Closed and gone quiet.
    Closed,
    Reset,
}

impl TcpState {
    pub fn name(self) -> &'static str {
        match self {
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::Midstream => "MIDSTREAM",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Closed => "CLOSED",
            TcpState::Reset => "RESET",
        }
    }

    /// The connection is over: a new SYN on its ports starts a new session.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            TcpState::TimeWait | TcpState::Closed | TcpState::Reset
        )
    }
}

/// Per-direction sequence tracking.
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    /// The next sequence number expected (highest seq + len seen).
    next_seq: Option<u32>,
    /// When `next_seq` last advanced.
    advanced_at: Timestamp,
    /// ISN of this side's SYN, when seen.
    syn_seq: Option<u32>,
    /// Sequence number of this side's FIN (its position), when seen.
    fin_seq: Option<u32>,
    /// Highest ack number this side has sent.
    acked: Option<u32>,
}

/// `a` is later than `b` in sequence space (RFC 1982 serial arithmetic).
fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn seq_ge(a: u32, b: u32) -> bool {
    a == b || seq_gt(a, b)
}

#[derive(Clone, Debug)]
pub struct TcpTracker {
    pub state: TcpState,
    side: [Side; 2],
    syn_at: Option<Timestamp>,
    synack_seen: bool,
    pub handshake_rtt: Option<i64>,
    pub retransmissions: u32,
    pub out_of_order: u32,
    pub zero_windows: u32,
}

/// Below this gap, a segment arriving behind the stream is taken as reordered, not resent
/// (Wireshark uses the RTT; 3 ms when it has none).
const REORDER_NS: i64 = 3_000_000;

impl TcpTracker {
    /// The tracker for a session whose first packet is `t` (sent by A).
    pub fn new(t: &TcpInfo) -> Self {
        let state = if t.flags & (TcpInfo::SYN | TcpInfo::ACK) == TcpInfo::SYN {
            TcpState::SynSent
        } else {
            TcpState::Midstream
        };
        TcpTracker {
            state,
            side: [Side::default(); 2],
            syn_at: None,
            synack_seen: false,
            handshake_rtt: None,
            retransmissions: 0,
            out_of_order: 0,
            zero_windows: 0,
        }
    }

    /// A pure SYN on a session that cannot be this connection any more: tshark starts a new
    /// stream for it (port reuse), and so does the table.
    pub fn is_new_connection(&self, dir: usize, t: &TcpInfo) -> bool {
        if t.flags & (TcpInfo::SYN | TcpInfo::ACK) != TcpInfo::SYN {
            return false;
        }
        if self.state.is_closed() {
            return true;
        }
        matches!(self.side[dir].syn_seq, Some(isn) if isn != t.seq)
    }

    /// Feeds one segment sent by side `dir` (0 = A, the initiator) with `len` payload bytes.
    /// Returns the new state when it changed.
    pub fn on_segment(
        &mut self,
        dir: usize,
        t: &TcpInfo,
        len: u32,
        ts: Timestamp,
    ) -> Option<TcpState> {
        let before = self.state;
        let f = t.flags;
        let (syn, ack, fin, rst) = (
            f & TcpInfo::SYN != 0,
            f & TcpInfo::ACK != 0,
            f & TcpInfo::FIN != 0,
            f & TcpInfo::RST != 0,
        );
        if t.window == 0 && !syn && !fin && !rst {
            self.zero_windows += 1;
        }
        self.track_sequence(dir, t, len, ts);
        if ack {
            let s = &mut self.side[dir];
            if s.acked.is_none_or(|a| seq_gt(t.ack, a)) {
                s.acked = Some(t.ack);
            }
        }
        if rst {
            self.state = TcpState::Reset;
        } else if syn && !ack {
            if dir == 0 {
                self.syn_at.get_or_insert(ts);
                if self.state == TcpState::Midstream {
                    self.state = TcpState::SynSent;
                }
            } else if self.state == TcpState::SynSent {
                // Both sides sent a bare SYN: simultaneous open.
                self.state = TcpState::SynReceived;
            }
        } else if syn && ack {
            self.synack_seen = true;
            if matches!(self.state, TcpState::SynSent | TcpState::Midstream) {
                self.state = TcpState::SynReceived;
            }
        } else {
            if self.state == TcpState::SynReceived && ack {
                self.state = TcpState::Established;
                if dir == 0 && self.synack_seen {
                    if let Some(t0) = self.syn_at {
                        self.handshake_rtt.get_or_insert(ts.0 - t0.0);
                    }
                }
            }
            if fin {
                self.on_fin(dir);
            }
            self.check_fins_acked();
        }
        (self.state != before).then_some(self.state)
    }

    fn on_fin(&mut self, dir: usize) {
        let other_fin = self.side[1 - dir].fin_seq.is_some();
        self.state = match (self.state, dir, other_fin) {
            (
                TcpState::SynSent
                | TcpState::SynReceived
                | TcpState::Established
                | TcpState::Midstream,
                0,
                false,
            ) => TcpState::FinWait,
            (
                TcpState::SynSent
                | TcpState::SynReceived
                | TcpState::Established
                | TcpState::Midstream,
                1,
                false,
            ) => TcpState::CloseWait,
            (TcpState::FinWait | TcpState::CloseWait, _, true) => {
                // The second FIN. If it acknowledges the first, the first closer is done and
                // this side awaits its last ACK; otherwise both closed at once.
                let first = 1 - dir;
                let first_fin = self.side[first].fin_seq.unwrap_or(0);
                let acks_first = self.side[dir].acked.is_some_and(|a| seq_gt(a, first_fin));
                if acks_first {
                    TcpState::LastAck
                } else {
                    TcpState::Closing
                }
            }
            (s, _, _) => s,
        };
    }

    /// Both FINs seen and each acknowledged by the other side: TIME_WAIT.
    fn check_fins_acked(&mut self) {
        if !matches!(self.state, TcpState::LastAck | TcpState::Closing) {
            return;
        }
        let acked = |d: usize| {
            let fin = self.side[d].fin_seq;
            let ack = self.side[1 - d].acked;
            matches!((fin, ack), (Some(f), Some(a)) if seq_gt(a, f))
        };
        if acked(0) && acked(1) {
            self.state = TcpState::TimeWait;
        }
    }

    fn track_sequence(&mut self, dir: usize, t: &TcpInfo, len: u32, ts: Timestamp) {
        let f = t.flags;
        let syn = f & TcpInfo::SYN != 0;
        let fin = f & TcpInfo::FIN != 0;
        let span = len + syn as u32 + fin as u32;
        let s = &mut self.side[dir];
        if syn {
            if let Some(isn) = s.syn_seq {
                if isn == t.seq {
                    self.retransmissions += 1;
                    return;
                }
            }
            s.syn_seq = Some(t.seq);
            s.next_seq = Some(t.seq.wrapping_add(span));
            s.advanced_at = ts;
            return;
        }
        if fin {
            s.fin_seq = Some(t.seq.wrapping_add(len));
        }
        if f & TcpInfo::RST != 0 || span == 0 {
            return;
        }
        let end = t.seq.wrapping_add(span);
        match s.next_seq {
            None => {
                s.next_seq = Some(end);
                s.advanced_at = ts;
            }
            Some(next) if seq_ge(t.seq, next) => {
                s.next_seq = Some(end);
                s.advanced_at = ts;
            }
            Some(next) => {
                // Behind the stream: filling a hole soon after the stream moved on is reordering,
                // anything else is a retransmission.
                if ts.0 - s.advanced_at.0 < REORDER_NS {
                    self.out_of_order += 1;
                } else {
                    self.retransmissions += 1;
                }
                if seq_gt(end, next) {
                    s.next_seq = Some(end);
                }
            }
        }
    }

    /// Closed sessions that have gone quiet are reported as CLOSED.
    pub fn settle(&mut self) {
        if self.state == TcpState::TimeWait {
            self.state = TcpState::Closed;
        }
    }
}
