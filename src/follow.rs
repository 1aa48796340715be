//! Follow stream: a session's payload, in order, each direction apart — what the two programs
//! said to each other. TCP segments are put in sequence order once each (retransmitted bytes
//! are not repeated); UDP datagrams are taken as they came.

use std::net::IpAddr;

use crate::decode::{Summary, TcpInfo};
use crate::sessions::Session;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    AtoB,
    BtoA,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub dir: Dir,
    /// The packet the bytes came from.
    pub no: u64,
    pub bytes: Vec<u8>,
}

/// Collects one session's payload packet by packet.
pub struct Follower {
    a: (IpAddr, u16),
    /// Next sequence number expected per direction (TCP).
    next: [Option<u32>; 2],
    pub chunks: Vec<Chunk>,
}

/// `a` is after `b` in sequence space.
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Follower {
    pub fn new(s: &Session) -> Self {
        Follower {
            a: (s.a.addr, s.a.port),
            next: [None, None],
            chunks: Vec::new(),
        }
    }

    /// Adds one packet of the session (`data` its frame's bytes).
    pub fn add(&mut self, no: u64, s: &Summary, data: &[u8]) {
        let (Some(src), Some(sp)) = (s.src, s.sport) else {
            return;
        };
        let dir = if (src, sp) == self.a {
            Dir::AtoB
        } else {
            Dir::BtoA
        };
        let Some(payload) = data.get(s.payload_range()) else {
            return;
        };
        let mut bytes = payload;
        if let Some(t) = &s.tcp {
            let d = dir as usize;
            let len = payload.len() as u32;
            if t.flags & TcpInfo::SYN != 0 {
                self.next[d] = Some(t.seq.wrapping_add(1));
            }
            if len == 0 {
                return;
            }
            let next = *self.next[d].get_or_insert(t.seq);
            let end = t.seq.wrapping_add(len);
            if !seq_after(end, next) {
                return; // all of it was had already: a retransmission
            }
            if seq_after(next, t.seq) {
                // Overlaps what was had: keep only the new bytes.
                bytes = &payload[next.wrapping_sub(t.seq) as usize..];
            }
            self.next[d] = Some(end);
        }
        if bytes.is_empty() {
            return;
        }
        match self.chunks.last_mut() {
            // Consecutive packets one way are one chunk, as a person reads them.
            Some(c) if c.dir == dir => c.bytes.extend_from_slice(bytes),
            _ => self.chunks.push(Chunk {
                dir,
                no,
                bytes: bytes.to_vec(),
            }),
        }
    }

    /// All the bytes one way, in order.
    pub fn bytes(&self, dir: Dir) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|c| c.dir == dir)
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }
}

/// Bytes as text a terminal can show: printable ASCII and newlines as they are, the rest
/// escaped (`\x1b`, `\r`, `\t`).
pub fn escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\n' => s.push('\n'),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
