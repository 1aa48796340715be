//! The ring of recent packets kept with their bytes (`--keep N`): memory stays bounded however
//! long the capture runs; what falls off the end is counted.

use std::collections::VecDeque;

use crate::capture::Frame;
use crate::decode::Summary;

pub struct Packet {
    /// 1-based number in the capture, never reused.
    pub no: u64,
    pub frame: Frame,
    pub summary: Summary,
    /// The session it belongs to, if any.
    pub session: Option<u64>,
    /// The firewall's verdict, when a ruleset is loaded.
    pub judgement: Option<crate::firewall::Judgement>,
}

pub struct PacketStore {
    ring: VecDeque<Packet>,
    keep: usize,
    evicted: u64,
}

impl PacketStore {
    pub fn new(keep: usize) -> Self {
        PacketStore {
            ring: VecDeque::with_capacity(keep.min(1 << 16)),
            keep: keep.max(1),
            evicted: 0,
        }
    }

    /// Keeps `p` (dropping the oldest when full) and returns it as kept.
    pub fn push(&mut self, p: Packet) -> &Packet {
        if self.ring.len() >= self.keep {
            // Reuse the evicted packet's buffer: no allocation per packet once the ring is full.
            if let Some(mut old) = self.ring.pop_front() {
                self.evicted += 1;
                old.frame.data.clear();
                old.frame.data.extend_from_slice(&p.frame.data);
                let data = std::mem::take(&mut old.frame.data);
                self.ring.push_back(Packet {
                    frame: Frame { data, ..p.frame },
                    ..p
                });
                return self.ring.back().expect("just pushed");
            }
        }
        self.ring.push_back(p);
        self.ring.back().expect("just pushed")
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Packets dropped from the front to respect `--keep`.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The packet at `i` (0 = oldest kept).
    pub fn get(&self, i: usize) -> Option<&Packet> {
        self.ring.get(i)
    }

    /// Index of packet number `no`, if it is still kept.
    pub fn index_of(&self, no: u64) -> Option<usize> {
        let first = self.ring.front()?.no;
        let i = no.checked_sub(first)? as usize;
        (i < self.ring.len()).then_some(i)
    }

    pub fn set_judgement(&mut self, i: usize, j: Option<crate::firewall::Judgement>) {
        if let Some(p) = self.ring.get_mut(i) {
            p.judgement = j;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Packet> {
        self.ring.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{LinkType, Timestamp};

    fn pkt(no: u64) -> Packet {
        Packet {
            no,
            frame: Frame {
                ts: Timestamp(no as i64),
                link_type: LinkType::ETHERNET,
                data: vec![no as u8; 60],
                orig_len: 60,
                iface: 0,
            },
            summary: Summary::default(),
            session: None,
            judgement: None,
        }
    }

    #[test]
    fn keeps_the_last_n_and_counts_the_rest() {
        let mut s = PacketStore::new(3);
        for no in 1..=10 {
            s.push(pkt(no));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.evicted(), 7);
        assert_eq!(s.get(0).unwrap().no, 8);
        assert_eq!(s.get(0).unwrap().frame.data, vec![8u8; 60]);
        assert_eq!(s.index_of(9), Some(1));
        assert_eq!(s.index_of(3), None);
        assert_eq!(s.index_of(11), None);
    }
}
