//! The engine: frames in, decoded packets kept and counted. Plain synchronous Rust, no terminal
//! and no async, so the TUI, the headless printers, the tests and the benchmarks drive the same
//! code.

use crate::capture::{Frame, FrameRef};
use crate::decode::reassembly::Reassembler;
use crate::decode::{decode, Summary};
use crate::sessions::{Observed, SessionTable};
use crate::store::{Packet, PacketStore};

pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

pub struct Engine {
    reassembler: Reassembler,
    pub store: PacketStore,
    pub sessions: SessionTable,
    /// Packets seen in total (kept or not).
    pub packets: u64,
    pub bytes: u64,
    /// Packets whose decoding stopped at an error.
    pub malformed: u64,
    /// Timestamp of the first packet, the zero of relative times.
    pub first_ts: Option<crate::capture::Timestamp>,
    /// Bumped on every change, so a view redraws only when something happened.
    pub generation: u64,
}

impl Engine {
    pub fn new(keep: usize) -> Self {
        Self::with_limits(keep, DEFAULT_MAX_SESSIONS)
    }

    pub fn with_limits(keep: usize, max_sessions: usize) -> Self {
        Engine {
            reassembler: Reassembler::default(),
            store: PacketStore::new(keep),
            sessions: SessionTable::new(max_sessions),
            packets: 0,
            bytes: 0,
            malformed: 0,
            first_ts: None,
            generation: 0,
        }
    }

    /// Decodes a frame and accounts for it (totals and sessions), without keeping it: the
    /// headless hot path.
    pub fn summarize(&mut self, f: &FrameRef<'_>) -> (Summary, Option<Observed>) {
        let mut s = decode(f.link_type, f.data);
        self.reassembler.apply(&mut s);
        self.packets += 1;
        self.first_ts.get_or_insert(f.ts);
        self.bytes += f.orig_len as u64;
        if s.error.is_some() {
            self.malformed += 1;
        }
        self.generation += 1;
        let seen = self.sessions.observe(&s, f.ts, f.orig_len);
        (s, seen)
    }

    /// Decodes a frame and keeps it in the ring.
    pub fn ingest(&mut self, frame: Frame) -> u64 {
        let (summary, seen) = self.summarize(&frame.as_ref());
        let no = self.packets;
        self.store.push(Packet {
            no,
            frame,
            summary,
            session: seen.map(|o| o.session),
        });
        no
    }
}
