//! The engine: frames in, decoded packets kept and counted. Plain synchronous Rust, no terminal
//! and no async, so the TUI, the headless printers, the tests and the benchmarks drive the same
//! code.

use crate::capture::{Frame, FrameRef};
use crate::decode::reassembly::Reassembler;
use crate::decode::{decode, Summary};
use crate::firewall::simulator::Enforced;
use crate::firewall::{Firewall, Judgement};
use crate::sessions::{Observed, SessionTable};
use crate::store::{Packet, PacketStore};

pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// What the engine made of one frame.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub summary: Summary,
    pub session: Option<Observed>,
    /// The firewall's verdict, when a ruleset is loaded and the packet meets its hooks.
    pub judgement: Option<Judgement>,
}

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
    pub firewall: Option<Firewall>,
    /// Names of the source's interfaces by index (pcapng `if_name`, live `-i`), which
    /// `iifname`/`oifname` rules compare with.
    pub iface_names: Vec<Option<String>>,
    /// Names learned from the DNS answers in the traffic.
    pub names: crate::names::SniffedNames,
    /// Bytes per second by protocol family, for the graphs.
    pub throughput: crate::throughput::Throughput,
    /// Kept packets per verdict of each session: [accept, drop, reject, approximate]. Kept by
    /// `ingest` (the TUI's path) and recounted by `rejudge`; the headless path has no use for it.
    pub session_verdicts: SessionVerdicts,
    /// The frames come with the verdicts the lab network enforced: rules changing does not
    /// judge them again.
    pub enforced: bool,
}

/// Packets per verdict (accept, drop, reject) and how many of them were approximate, by session.
pub type SessionVerdicts = std::collections::HashMap<u64, [u32; 4]>;

fn count_verdict(v: &mut SessionVerdicts, session: Option<u64>, j: Option<Judgement>) {
    if let (Some(s), Some(j)) = (session, j) {
        let c = v.entry(s).or_default();
        c[j.verdict as usize] += 1;
        c[3] += u32::from(!j.exact);
    }
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
            firewall: None,
            iface_names: Vec::new(),
            throughput: Default::default(),
            names: Default::default(),
            session_verdicts: Default::default(),
            enforced: false,
        }
    }

    /// Decodes a frame and accounts for it (totals and sessions), without keeping it: the
    /// headless hot path.
    pub fn summarize(&mut self, f: &FrameRef<'_>) -> Seen {
        self.summarize_with(f, None)
    }

    /// `summarize` for a frame whose verdict was given where it happened (the lab network):
    /// counted to the rules it hit, not judged again.
    pub fn summarize_enforced(&mut self, f: &FrameRef<'_>, e: Option<&Enforced>) -> Seen {
        self.summarize_with(f, Some(e))
    }

    fn summarize_with(&mut self, f: &FrameRef<'_>, given: Option<Option<&Enforced>>) -> Seen {
        let mut s = decode(f.link_type, f.data);
        self.reassembler.apply(&mut s);
        self.packets += 1;
        self.first_ts.get_or_insert(f.ts);
        self.bytes += f.orig_len as u64;
        if s.error.is_some() {
            self.malformed += 1;
        }
        self.generation += 1;
        let session = self.sessions.observe(&s, f.ts, f.orig_len);
        self.throughput.add(f.ts.secs(), &s, f.orig_len);
        self.names.learn(&s, f.data);
        let judgement = match given {
            None => self.judge(&s, f.data, f.iface, f.ts.0),
            Some(e) => e.map(|e| {
                if let Some(fw) = self.firewall.as_mut() {
                    fw.count(&e.judgement, &e.hits, s.ip_len);
                }
                e.judgement
            }),
        };
        Seen {
            summary: s,
            session,
            judgement,
        }
    }

    fn judge(&mut self, s: &Summary, data: &[u8], iface: u16, ts_ns: i64) -> Option<Judgement> {
        let fw = self.firewall.as_mut()?;
        let name = self
            .iface_names
            .get(iface as usize)
            .and_then(|n| n.as_deref());
        fw.judge_frame(s, data, name, s.ip_len, ts_ns.max(0) as u64)
            .map(|(j, _)| j)
    }

    /// Judges every kept packet again, in order, from a clean slate: after a rule was toggled,
    /// moved or edited ("what if"). Counters then count the kept packets.
    pub fn rejudge(&mut self) {
        // What the lab network enforced happened: its packets keep their verdicts, and the
        // new rules act on what comes next.
        if self.enforced {
            return;
        }
        let Some(fw) = self.firewall.as_mut() else {
            return;
        };
        fw.reset();
        self.session_verdicts.clear();
        for i in 0..self.store.len() {
            let Some(p) = self.store.get(i) else { break };
            let name = self
                .iface_names
                .get(p.frame.iface as usize)
                .and_then(|n| n.as_deref());
            let ts = p.frame.ts.0.max(0) as u64;
            let j = fw
                .judge_frame(&p.summary, &p.frame.data, name, p.summary.ip_len, ts)
                .map(|(j, _)| j);
            count_verdict(&mut self.session_verdicts, p.session, j);
            self.store.set_judgement(i, j);
        }
        self.generation += 1;
    }

    /// Decodes a frame, counts its verdict to its session, and keeps it in the ring; returns it
    /// as kept, so a caller that also filters it need not look it up again.
    pub fn ingest(&mut self, frame: Frame) -> &Packet {
        self.ingest_with(frame, None)
    }

    /// `ingest` for a frame of the lab network, with the verdict it got there.
    pub fn ingest_enforced(&mut self, frame: Frame, e: Option<&Enforced>) -> &Packet {
        self.ingest_with(frame, Some(e))
    }

    fn ingest_with(&mut self, frame: Frame, given: Option<Option<&Enforced>>) -> &Packet {
        let seen = self.summarize_with(&frame.as_ref(), given);
        let session = seen.session.map(|o| o.session);
        count_verdict(&mut self.session_verdicts, session, seen.judgement);
        self.store.push(Packet {
            no: self.packets,
            frame,
            summary: seen.summary,
            session,
            judgement: seen.judgement,
        })
    }
}
