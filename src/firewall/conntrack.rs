//! The kernel's connection tracking, as far as `ct state` shows it.
//!
//! Kept apart from the session table on purpose: the kernel's rules differ from an observer's
//! (a packet conntrack calls invalid creates no entry; `nf_conntrack_tcp_loose=1` picks up a
//! connection from a bare ACK), and verdicts must be the kernel's. Measured on Linux 6.x with
//! default sysctls:
//! - TCP flags outside the kernel's `tcp_valid_flags` (e.g. FIN alone, SYN+FIN, no flag) are
//!   `invalid` whatever the flow, and change nothing;
//! - no entry: TCP is `new` only when its FIN/SYN/RST/ACK bits are exactly {SYN} or {ACK}, else
//!   `invalid`; ICMP echo/timestamp/info/address-mask requests (ICMPv6 echo and node information
//!   queries) are `new`, other ICMP `invalid`; UDP and other protocols are `new`;
//! - the first reply and everything after it is `established` — ICMP timestamp, information and
//!   address-mask requests are flows too, keyed like echo by their identifier;
//! - a TCP entry whose only answer is an RST is deleted at once (`tcp_packet`: "if only reply is
//!   a RST … delete the conntrack immediately"): what follows on those ports starts afresh;
//! - an ICMP error about a tracked flow is `related`;
//! - ICMPv6 neighbour solicitation/advertisement, router solicitation/advertisement and MLD are
//!   `untracked` (not redirects: the kernel cannot track those and calls them `invalid`).
//!
//! The test `tests/kernel_diff.rs` checks all this against the running kernel.

use std::collections::HashMap;
use std::net::IpAddr;

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

/// The query flow of an ICMP timestamp (13/14), information (15/16) or address-mask (17/18)
/// message: its key, its sender, and whether it is the request.
fn query_flow(s: &Summary) -> Option<(QueryKey, IpAddr, bool)> {
    let (src, dst) = (s.src?, s.final_dst.or(s.dst)?);
    let i = s.icmp.filter(|i| (13..=18).contains(&i.typ))?;
    let (id, _) = i.echo?;
    let request = (i.typ - 1) | 1;
    let (lo, hi) = if src <= dst { (src, dst) } else { (dst, src) };
    Some(((request, lo, hi, id), src, i.typ == request))
}

/// Whether the kernel's TCP tracker takes these flags at all (`tcp_valid_flags`; PSH, ECE and
/// CWR do not count): SYN, SYN+URG, SYN+ACK, RST, RST+ACK, FIN+ACK, FIN+ACK+URG, ACK, ACK+URG.
/// Any other mix is invalid whether or not a flow is known.
fn valid_tcp_flags(flags: u16) -> bool {
    const F: u16 = TcpInfo::FIN;
    const S: u16 = TcpInfo::SYN;
    const R: u16 = TcpInfo::RST;
    const A: u16 = TcpInfo::ACK;
    const U: u16 = TcpInfo::URG;
    const VALID: [u16; 9] = [S, S | U, S | A, R, R | A, F | A, F | A | U, A, A | U];
    VALID.contains(&(flags & (F | S | R | A | U)))
}

/// Entries kept; the table is cleared past this (a simulation, not a kernel).
const MAX_ENTRIES: usize = 1 << 20;

/// An ICMP query flow other than echo: (request type, lower address, higher address, id).
type QueryKey = (u8, IpAddr, IpAddr, u16);

#[derive(Default)]
pub struct Conntrack {
    map: HashMap<SessionKey, Entry, FxBuildHasher>,
    queries: HashMap<QueryKey, Entry, FxBuildHasher>,
    /// The entry the last observed packet created, if it created one.
    created: Option<Created>,
}

#[derive(Clone, Copy, Debug)]
enum Created {
    Flow(SessionKey),
    Query(QueryKey),
}

impl Conntrack {
    /// The `ct state` of this packet (one bit of [`ct`]), updating the table as the kernel
    /// would. `None` for packets conntrack never sees as IP (ARP…) or that are pieces of a
    /// datagram still being reassembled.
    pub fn observe(&mut self, s: &Summary) -> Option<u8> {
        self.created = None;
        if !self.sees(s) {
            return None;
        }
        if let Some(state) = self.icmp_special(s) {
            return Some(state);
        }
        if let Some((key, src, request)) = query_flow(s) {
            if self.queries.len() >= MAX_ENTRIES {
                self.queries.clear();
            }
            return Some(self.query(key, src, request));
        }
        let Some(flow) = Flow::of(s) else {
            return Some(ct::NEW);
        };
        if self.map.len() >= MAX_ENTRIES {
            self.map.clear();
        }
        let tcp = s.tcp.as_ref();
        if tcp.is_some_and(|t| !valid_tcp_flags(t.flags)) {
            // The kernel's tracker refuses these before looking for a flow: invalid, and the
            // flow they belong to (if any) is left as it was.
            return Some(ct::INVALID);
        }
        let bits =
            tcp.map(|t| t.flags & (TcpInfo::FIN | TcpInfo::SYN | TcpInfo::RST | TcpInfo::ACK));
        let pure_syn = bits == Some(TcpInfo::SYN);
        let entry = self.map.get_mut(&flow.key);
        let starts_over = entry.as_ref().is_some_and(|e| e.closed && pure_syn);
        match entry {
            Some(e) if !starts_over => {
                let reply = flow.src != e.orig_src;
                let had_reply = e.seen_reply;
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
                        // An RST before any answer, or as the only answer: the kernel deletes
                        // the entry there and then.
                        if !had_reply {
                            self.map.remove(&flow.key);
                            return Some(state);
                        }
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
                self.created = Some(Created::Flow(flow.key));
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

    /// An ICMP timestamp, information or address-mask request or reply: a flow keyed by type,
    /// addresses and identifier, as the kernel tracks echo. Only a request starts one.
    fn query(&mut self, key: QueryKey, src: IpAddr, request: bool) -> u8 {
        match self.queries.get_mut(&key) {
            Some(e) => {
                if src != e.orig_src.addr {
                    e.seen_reply = true;
                    return ct::ESTABLISHED;
                }
                if e.seen_reply {
                    ct::ESTABLISHED
                } else {
                    ct::NEW
                }
            }
            None if request => {
                self.created = Some(Created::Query(key));
                self.queries.insert(
                    key,
                    Entry {
                        orig_src: Endpoint {
                            addr: src,
                            port: key.3,
                        },
                        seen_reply: false,
                        fin_orig: false,
                        fin_reply: false,
                        closed: false,
                    },
                );
                ct::NEW
            }
            None => ct::INVALID,
        }
    }

    /// The connection a packet belongs to, as a number (the same both ways), and whether
    /// observing it just made that entry: what the simulator keeps per connection (`ct mark`)
    /// is keyed by it, and starts afresh with the entry. `None` for ICMP errors (they belong
    /// to the flow they quote) and packets of no flow.
    pub fn conn_key(&self, s: &Summary) -> Option<(u64, bool)> {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = FxBuildHasher.build_hasher();
        match (query_flow(s), s.inner) {
            (Some((k, _, _)), _) => (1u8, k).hash(&mut h),
            // An ICMP error belongs to the connection it quotes (as `related` says).
            (None, Some(_)) if matches!(self.related(s), ct::RELATED) => match quoted_key(s)? {
                Ok(k) => (1u8, k).hash(&mut h),
                Err(k) => (0u8, k).hash(&mut h),
            },
            (None, _) => (0u8, Flow::of(s)?.key).hash(&mut h),
        }
        Some((h.finish(), self.created.is_some()))
    }

    /// Whether the IP hooks see this packet at all: not ARP, not a piece of a datagram still
    /// being reassembled (the kernel reassembles before the hooks: the datagram is seen once).
    pub fn sees(&self, s: &Summary) -> bool {
        s.src.is_some()
            && !(s.frag.is_some()
                && s.sport.is_none()
                && s.icmp.is_none()
                && s.icmpv6.is_none()
                && matches!(s.proto, Proto::Ipv4 | Proto::Ipv6))
    }

    /// Forgets the entry the packet just observed created, when the packet was dropped: the
    /// kernel only confirms a new connection once its first packet gets through. An entry that
    /// was there before stays (a later packet of an unanswered flow being dropped does not
    /// forget the flow).
    pub fn unconfirm(&mut self, _s: &Summary) {
        match self.created.take() {
            Some(Created::Flow(k)) => {
                self.map.remove(&k);
            }
            Some(Created::Query(k)) => {
                self.queries.remove(&k);
            }
            None => {}
        }
    }

    /// ICMP that is not an echo: errors (related or invalid), ND/MLD (untracked), the rest.
    fn icmp_special(&self, s: &Summary) -> Option<u8> {
        if let Some(i) = s.icmp {
            return match i.typ {
                0 | 8 | 13..=18 => None,
                3 | 4 | 5 | 11 | 12 => Some(self.related(s)),
                _ => Some(ct::INVALID),
            };
        }
        if let Some(i) = s.icmpv6 {
            return match i.typ {
                128 | 129 => None,
                // A node information query starts a flow (Linux never answers one).
                139 => Some(ct::NEW),
                // The kernel's `noct_valid_new`: MLD, router and neighbour discovery, not
                // redirects (137), which it cannot track and calls invalid.
                130..=136 | 143 => Some(ct::UNTRACKED),
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
        // The error must go back to whoever sent the quoted packet: the kernel calls one that
        // goes elsewhere invalid ("outer daddr != inner saddr", nf_conntrack_inet_error).
        if s.final_dst.or(s.dst) != Some(inner.src) {
            return ct::INVALID;
        }
        let (proto, sp, dp) = match (inner.proto, inner.query) {
            // A quoted ICMP query names its flow by type and identifier.
            (1, Some((t @ 13..=18, id))) => {
                let (lo, hi) = if inner.src <= inner.dst {
                    (inner.src, inner.dst)
                } else {
                    (inner.dst, inner.src)
                };
                let known = self.queries.contains_key(&((t - 1) | 1, lo, hi, id));
                return if known { ct::RELATED } else { ct::INVALID };
            }
            (1, Some((_, id))) => (SessionProto::IcmpEcho, id, id),
            (58, Some((_, id))) => (SessionProto::Icmpv6Echo, id, id),
            (6, _) if s.quoted => (
                SessionProto::Tcp,
                s.sport.unwrap_or(0),
                s.dport.unwrap_or(0),
            ),
            (17, _) if s.quoted => (
                SessionProto::Udp,
                s.sport.unwrap_or(0),
                s.dport.unwrap_or(0),
            ),
            (6, _) => (SessionProto::Tcp, 0, 0),
            (17, _) => (SessionProto::Udp, 0, 0),
            (p, _) => (SessionProto::Ip(p), 0, 0),
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

/// The key of the flow an ICMP error quotes, as `Conntrack::related` finds it: a query flow
/// (`Ok`) or a session (`Err`).
fn quoted_key(s: &Summary) -> Option<Result<QueryKey, SessionKey>> {
    let inner = s.inner?;
    let (lo_a, hi_a) = if inner.src <= inner.dst {
        (inner.src, inner.dst)
    } else {
        (inner.dst, inner.src)
    };
    let (sp, dp) = (s.sport.unwrap_or(0), s.dport.unwrap_or(0));
    let (proto, sp, dp) = match (inner.proto, inner.query) {
        (1, Some((t @ 13..=18, id))) => return Some(Ok(((t - 1) | 1, lo_a, hi_a, id))),
        (1, Some((_, id))) => (SessionProto::IcmpEcho, id, id),
        (58, Some((_, id))) => (SessionProto::Icmpv6Echo, id, id),
        (6, _) if s.quoted => (SessionProto::Tcp, sp, dp),
        (17, _) if s.quoted => (SessionProto::Udp, sp, dp),
        (6, _) => (SessionProto::Tcp, 0, 0),
        (17, _) => (SessionProto::Udp, 0, 0),
        (p, _) => (SessionProto::Ip(p), 0, 0),
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
    Some(Err(SessionKey { proto, lo, hi }))
}
