//! The kernel's connection tracking, as far as `ct state` shows it.
//!
//! Kept apart from the session table on purpose: the kernel's rules differ from an observer's
//! (a packet conntrack calls invalid creates no entry; `nf_conntrack_tcp_loose=1` picks up a
//! connection from a bare ACK), and verdicts must be the kernel's. Measured on Linux 6.x with
//! default sysctls:
//! - no entry: TCP is `new` only when its FIN/SYN/RST/ACK bits are exactly {SYN} or {ACK}, else
//!   `invalid`; ICMP echo/timestamp/info/address-mask requests are `new`, other ICMP `invalid`;
//!   UDP and other protocols are `new`;
//! - the first reply and everything after it is `established`;
//! - an ICMP error about a tracked flow is `related`;
//! - ICMPv6 neighbour discovery and MLD are `untracked`.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

use super::model::ct;
use crate::decode::{Proto, Summary, TcpInfo};
use crate::sessions::{Endpoint, Flow, SessionKey, SessionProto};

#[derive(Clone, Copy, Debug)]
struct Entry {
    orig_src: Endpoint,
    seen_reply: bool,
    fin_orig: bool,
    fin_reply: bool,
    closed: bool,
}

/// Entries kept; the table is cleared past this (a simulation, not a kernel).
const MAX_ENTRIES: usize = 1 << 20;

#[derive(Default)]
pub struct Conntrack {
    map: HashMap<SessionKey, Entry, FxBuildHasher>,
}

impl Conntrack {
    /// The `ct state` of this packet (one bit of [`ct`]), updating the table as the kernel
    /// would. `None` for packets conntrack never sees as IP (ARP…) or that are pieces of a
    /// datagram still being reassembled.
    pub fn observe(&mut self, s: &Summary) -> Option<u8> {
        s.src?;
        if s.frag.is_some() && s.sport.is_none() && s.icmp.is_none() && s.icmpv6.is_none() {
            // The kernel reassembles before the hooks: the datagram is seen once, complete.
            if matches!(s.proto, Proto::Ipv4 | Proto::Ipv6) {
                return None;
            }
        }
        if let Some(state) = self.icmp_special(s) {
            return Some(state);
        }
        let Some(flow) = Flow::of(s) else {
            return Some(ct::NEW);
        };
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        let tcp = s.tcp.as_ref();
        let bits =
            tcp.map(|t| t.flags & (TcpInfo::FIN | TcpInfo::SYN | TcpInfo::RST | TcpInfo::ACK));
        let pure_syn = bits == Some(TcpInfo::SYN);
        let entry = self.map.get_mut(&flow.key);
        let starts_over = entry.as_ref().is_some_and(|e| e.closed && pure_syn);
        match entry {
            Some(e) if !starts_over => {
                let reply = flow.src != e.orig_src;
                if reply {
                    e.seen_reply = true;
                }
                let state = if reply || e.seen_reply {
                    ct::ESTABLISHED
                } else {
                    ct::NEW
                };
                if let Some(t) = tcp {
                    if t.has(TcpInfo::RST) {
                        e.closed = true;
                    }
                    if t.has(TcpInfo::FIN) {
                        if reply {
                            e.fin_reply = true;
                        } else {
                            e.fin_orig = true;
                        }
                    }
                    // Both FINs: TIME_WAIT, where a new SYN starts a new connection.
                    if e.fin_orig && e.fin_reply {
                        e.closed = true;
                    }
                }
                Some(state)
            }
            _ => {
                let creates = match flow.key.proto {
                    SessionProto::Tcp => bits == Some(TcpInfo::SYN) || bits == Some(TcpInfo::ACK),
                    SessionProto::IcmpEcho => {
                        s.icmp.is_some_and(|i| matches!(i.typ, 8 | 13 | 15 | 17))
                    }
                    SessionProto::Icmpv6Echo => s.icmpv6.is_some_and(|i| i.typ == 128),
                    _ => true,
                };
                if !creates {
                    return Some(ct::INVALID);
                }
                self.map.insert(
                    flow.key,
                    Entry {
                        orig_src: flow.src,
                        seen_reply: false,
                        fin_orig: false,
                        fin_reply: false,
                        closed: false,
                    },
                );
                Some(ct::NEW)
            }
        }
    }

    /// Forgets the entry this packet created, when the packet was dropped: the kernel only
    /// confirms a new connection once its first packet gets through.
    pub fn unconfirm(&mut self, s: &Summary) {
        if let Some(flow) = Flow::of(s) {
            if let Some(e) = self.map.get(&flow.key) {
                if e.orig_src == flow.src && !e.seen_reply {
                    self.map.remove(&flow.key);
                }
            }
        }
    }

    /// ICMP that is not an echo: errors (related or invalid), ND/MLD (untracked), the rest.
    fn icmp_special(&self, s: &Summary) -> Option<u8> {
        if let Some(i) = s.icmp {
            return match i.typ {
                0 | 8 => None,
                13 | 15 | 17 => Some(ct::NEW),
                3 | 4 | 5 | 11 | 12 => Some(self.related(s)),
                _ => Some(ct::INVALID),
            };
        }
        if let Some(i) = s.icmpv6 {
            return match i.typ {
                128 | 129 => None,
                130..=137 | 143 => Some(ct::UNTRACKED),
                1..=4 => Some(self.related(s)),
                _ => Some(ct::INVALID),
            };
        }
        None
    }

    /// An ICMP error is related when the flow it quotes is tracked.
    fn related(&self, s: &Summary) -> u8 {
        let Some(inner) = s.inner else {
            return ct::INVALID;
        };
        let proto = match inner.proto {
            6 => SessionProto::Tcp,
            17 => SessionProto::Udp,
            p => SessionProto::Ip(p),
        };
        let (sp, dp) = if s.quoted {
            (s.sport.unwrap_or(0), s.dport.unwrap_or(0))
        } else {
            (0, 0)
        };
        let a = Endpoint {
            addr: inner.src,
            port: sp,
        };
        let b = Endpoint {
            addr: inner.dst,
            port: dp,
        };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if self.map.contains_key(&SessionKey { proto, lo, hi }) {
            ct::RELATED
        } else {
            ct::INVALID
        }
    }
}
