//! Just enough IP reassembly to see fragmented datagrams as tshark does: the first fragment keeps
//! its transport header to itself, and the fragment that completes the datagram is the one that
//! carries the ports, flags and protocol (and so the one sessions count). Payload bytes are not
//! glued together: that is only needed for application decoding, which a fragmented datagram then
//! does not get.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Proto, Summary};

/// Datagrams still waiting for fragments; the oldest is dropped past this many.
const MAX_PENDING: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

#[derive(Clone, Copy)]
struct Pending {
    /// The first fragment's decoded transport, once seen.
    first: Option<Summary>,
    /// Payload bytes received so far.
    have: u32,
    /// Total datagram length, known once the last fragment arrives.
    total: Option<u32>,
    order: u64,
}

#[derive(Default)]
pub struct Reassembler {
    pending: HashMap<Key, Pending>,
    counter: u64,
}

impl Reassembler {
    /// Adjusts `s` (a freshly decoded summary) for fragmentation. Unfragmented packets pass
    /// through untouched.
    pub fn apply(&mut self, s: &mut Summary) {
        let (Some(f), Some(src), Some(dst), Some(proto)) = (s.frag, s.src, s.dst, s.ip_proto)
        else {
            return;
        };
        let key = Key {
            src,
            dst,
            id: f.id,
            proto,
        };
        self.counter += 1;
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(&key) {
            if let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.order)
                .map(|(k, _)| *k)
            {
                self.pending.remove(&oldest);
            }
        }
        let p = self.pending.entry(key).or_insert(Pending {
            first: None,
            have: 0,
            total: None,
            order: self.counter,
        });
        p.have = p.have.saturating_add(f.len);
        if f.offset == 0 {
            p.first = Some(*s);
        }
        if !f.more {
            p.total = Some(f.offset.saturating_add(f.len));
        }
        let complete = p.first.is_some() && p.total.is_some_and(|t| p.have >= t);
        let first = p.first;
        // Every fragment shows as bare IP until the datagram is whole.
        strip_transport(s);
        if complete {
            self.pending.remove(&key);
            if let Some(first) = first {
                s.sport = first.sport;
                s.dport = first.dport;
                s.tcp = first.tcp;
                s.icmp = first.icmp;
                s.icmpv6 = first.icmpv6;
                s.inner = first.inner;
                s.quoted = first.quoted;
                // The reassembled payload is not kept: name the transport, not what it carried.
                s.proto = match first.proto {
                    Proto::Dns | Proto::Mdns => Proto::Udp,
                    other => other,
                };
            }
        }
    }
}

fn strip_transport(s: &mut Summary) {
    s.sport = None;
    s.dport = None;
    s.tcp = None;
    s.icmp = None;
    s.icmpv6 = None;
    s.inner = None;
    s.quoted = false;
    s.payload = (0, 0);
    s.payload_len = 0;
    s.proto = if matches!(s.src, Some(IpAddr::V6(_))) {
        Proto::Ipv6
    } else {
        Proto::Ipv4
    };
}
