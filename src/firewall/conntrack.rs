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
//! - a segment of a known TCP connection meets the kernel's state machine and window checks
//!   (`tcp_window.rs`): out of window, or a flag the state forbids, it is `invalid` and changes
//!   nothing (the other side is not "heard from" by an invalid reply); an entry whose only answer
//!   is an RST is deleted at once, and a SYN after a close or an abort starts afresh;
//! - an ICMP error about a tracked flow is `related`;
//! - ICMPv6 neighbour solicitation/advertisement, router solicitation/advertisement and MLD are
//!   `untracked` (not redirects: the kernel cannot track those and calls them `invalid`).
//! - ICMP queries (echo, timestamp, information, address mask; ICMPv6 echo) are keyed as the
//!   kernel's original tuple names them — the request's sender and target, its identifier and
//!   type — and a reply is told by its type, never by which address comes first: 127.0.0.1
//!   pinging itself sends request and reply between the same two addresses.
//!
//! Loopback, and what a `reject` sends (measured by `tests/kernel_loopback.rs`):
//! - a packet the host sends itself crosses output and postrouting, where conntrack confirms
//!   its entry, then `lo` (where a capture sees it), then prerouting and input, with the same
//!   entry attached (conntrack does not run again). A drop at prerouting or input leaves the
//!   entry: an answer is `established`, an ICMP error quoting it `related`. Only a drop before
//!   confirmation (output, postrouting; prerouting or input for what comes from outside)
//!   leaves none — the simulator asks [`Conntrack::unconfirm`] only then;
//! - the RST or ICMP error a `reject` sends carries the rejected packet's entry
//!   (`nf_ct_attach`: `related`, at output, postrouting, prerouting and input alike) and is
//!   never tracked itself; a TCP reset also puts a confirmed entry in CLOSE
//!   (`nf_ct_set_closing`), where a new SYN starts over. This holds at output too, where the
//!   entry was never confirmed: the answer is `related` though no lookup would find it.
//!
//! How packetlab, judging from a capture, knows such an answer:
//! - a reject of a packet the capture shows (at input, on loopback or from outside): the
//!   simulator judged that packet `reject` itself, so it awaits the answer ([`Conntrack::
//!   rejected`]) — an RST from the rejected packet's destination port back to its source port
//!   with a reset, an ICMP error to its source quoting it otherwise — and the next packet that
//!   fits is `related`. On `lo` the answer always follows its packet (it is sent while input
//!   handles it);
//! - a reject at output: the rejected packet never reaches the wire, so the answer is the only
//!   trace, and it names a flow conntrack does not know (an RST without entry, an ICMP error
//!   quoting an untracked packet — both `invalid` if nothing had rejected). [`Conntrack::
//!   answered`] rebuilds the packet it answers (an RST with ACK answers a SYN, one without an
//!   ACK; an ICMP error quotes its packet; a quoted TCP packet is taken to be a SYN) and the
//!   simulator judges it at output as a new connection's packet: if a rule rejects it the same
//!   way (reset or ICMP), the answer is `related`. The answered packet counts nowhere: the
//!   capture never held it.
//!
//! The tests `tests/kernel_diff.rs` and `tests/kernel_loopback.rs` check all this against the
//! running kernel.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use rustc_hash::FxBuildHasher;

use super::model::ct;
use super::tcp_window::{TcpWindow, Verdict};
use crate::decode::{Proto, Summary, TcpInfo};
use crate::sessions::{Endpoint, Flow, SessionKey, SessionProto};

#[derive(Clone, Copy, Debug)]
struct Entry {
    orig_src: Endpoint,
    seen_reply: bool,
    /// TCP only: the kernel's state machine and window (`tcp_window.rs`).
    tcp: TcpWindow,
}

/// The request type of an ICMP query message (echo, timestamp, information, address mask;
/// ICMPv6 echo), and whether this message is that request.
fn query_type(v6: bool, typ: u8) -> Option<(u8, bool)> {
    let request = match (v6, typ) {
        (false, 0 | 8) => 8,
        (false, 13..=18) => (typ - 1) | 1,
        (true, 128 | 129) => 128,
        _ => return None,
    };
    Some((request, typ == request))
}

/// The query flow of an ICMP echo, timestamp, information or address-mask message (ICMPv6
/// echo): its key and whether it is the request. The kernel's tuple holds the ICMP type, so
/// request and reply are told apart by their types, never by which address comes first —
/// 127.0.0.1 pinging itself sends both between the same two addresses.
fn query_flow(s: &Summary) -> Option<(QueryKey, bool)> {
    let (src, dst) = (s.src?, s.final_dst.or(s.dst)?);
    let (v6, i) = match (s.icmp, s.icmpv6) {
        (Some(i), _) => (false, i),
        (None, Some(i)) => (true, i),
        _ => return None,
    };
    let (request_type, request) = query_type(v6, i.typ)?;
    let (id, _) = i.echo?;
    let (from, to) = if request { (src, dst) } else { (dst, src) };
    Some(((request_type, from, to, id), request))
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

/// An ICMP query flow (echo, timestamp, information, address mask; ICMPv6 echo), as the
/// kernel's original tuple names it: (request type, the request's sender, its target, id). A
/// request the other way round is another flow.
type QueryKey = (u8, IpAddr, IpAddr, u16);

#[derive(Default)]
pub struct Conntrack {
    map: HashMap<SessionKey, Entry, FxBuildHasher>,
    queries: HashMap<QueryKey, Entry, FxBuildHasher>,
    /// The entry the last observed packet created, if it created one.
    created: Option<Created>,
    /// Packets a `reject` answered whose answer has not been seen yet (oldest first).
    rejected: VecDeque<Rejected>,
    /// The last observed packet's direction in its connection (`ct direction`).
    dir: Dir,
}

/// A packet's direction in its connection, as `ct direction` reads it: an ICMP error's is the
/// other way from the packet it quotes. `Unknown` for a reject's TCP reset (it quotes nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dir {
    #[default]
    Unknown,
    Original,
    Reply,
}

/// A packet a `reject` answered: whether with a TCP reset (else an ICMP error), its addresses,
/// transport protocol and ports (an ICMP query's identifier as both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rejected {
    reset: bool,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    /// The rejected packet's direction: its answer goes the other way (`nf_ct_attach`).
    dir: Dir,
}

/// Answers awaited at most: a reject's answer follows its packet at once.
const MAX_REJECTED: usize = 64;

#[derive(Clone, Copy, Debug)]
enum Created {
    Flow(SessionKey),
    Query(QueryKey),
}

impl Dir {
    /// The other way.
    pub fn turned(self) -> Dir {
        match self {
            Dir::Original => Dir::Reply,
            Dir::Reply => Dir::Original,
            Dir::Unknown => Dir::Unknown,
        }
    }
}

impl Conntrack {
    /// The `ct state` of this packet (one bit of [`ct`]), updating the table as the kernel
    /// would. `None` for packets conntrack never sees as IP (ARP…) or that are pieces of a
    /// datagram still being reassembled.
    pub fn observe(&mut self, s: &Summary) -> Option<u8> {
        self.dir = Dir::Unknown;
        let state = self.track(s)?;
        match state {
            ct::NEW => self.dir = Dir::Original,
            ct::ESTABLISHED => {}
            // An ICMP error goes the other way from the packet it quotes
            // (nf_conntrack_inet_error's IP_CT_IS_REPLY).
            // (A reject's answer has its direction from the rejected packet already.)
            ct::RELATED if self.dir == Dir::Unknown => {
                self.dir = match self.quoted(s) {
                    Some(true) => Dir::Reply,
                    Some(false) => Dir::Original,
                    None => Dir::Unknown,
                }
            }
            ct::RELATED => {}
            _ => self.dir = Dir::Unknown,
        }
        Some(state)
    }

    /// The last observed packet's direction (`Unknown` when it was not tracked or related).
    pub fn direction(&self) -> Dir {
        self.dir
    }

    fn track(&mut self, s: &Summary) -> Option<u8> {
        self.created = None;
        if !self.sees(s) {
            return None;
        }
        if let Some(state) = self.reject_answer(s) {
            return Some(state);
        }
        if let Some(state) = self.icmp_special(s) {
            return Some(state);
        }
        if let Some((key, request)) = query_flow(s) {
            if self.queries.len() >= MAX_ENTRIES {
                self.queries.clear();
            }
            return Some(self.query(key, request));
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
        if let Some(e) = self.map.get_mut(&flow.key) {
            let reply = flow.src != e.orig_src;
            self.dir = if reply { Dir::Reply } else { Dir::Original };
            let state = if reply || e.seen_reply {
                ct::ESTABLISHED
            } else {
                ct::NEW
            };
            let verdict = match tcp {
                Some(t) => e.tcp.segment(reply, t, s.payload_len, e.seen_reply),
                None => Verdict::Accept,
            };
            match verdict {
                // Nothing changes, not even whether the other side was heard from.
                Verdict::Invalid => return Some(ct::INVALID),
                Verdict::Kill => {
                    self.map.remove(&flow.key);
                    return Some(state);
                }
                Verdict::Accept | Verdict::Ignore => {
                    e.seen_reply |= reply;
                    return Some(state);
                }
                // The closed connection is gone; the SYN starts a new one below.
                Verdict::Reopen => {}
            }
        }
        // A TCP segment starts a connection only if the tracker takes it as a first segment.
        let tcp = match tcp {
            Some(t) => match TcpWindow::open(t, s.payload_len) {
                Some(w) => w,
                None => return Some(ct::INVALID),
            },
            None => TcpWindow::default(),
        };
        let creates = match flow.key.proto {
            SessionProto::Tcp => s.tcp.is_some(),
            SessionProto::IcmpEcho => s.icmp.is_some_and(|i| matches!(i.typ, 8 | 13 | 15 | 17)),
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
                tcp,
            },
        );
        Some(ct::NEW)
    }

    /// An ICMP query (echo, timestamp, information, address mask; ICMPv6 echo), request or
    /// reply: a flow keyed by its request's type, addresses and identifier. Only a request
    /// starts one; the first reply and all after it are established.
    fn query(&mut self, key: QueryKey, request: bool) -> u8 {
        match self.queries.get_mut(&key) {
            Some(e) => {
                self.dir = if request { Dir::Original } else { Dir::Reply };
                if !request {
                    e.seen_reply = true;
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
                            addr: key.1,
                            port: key.3,
                        },
                        seen_reply: false,
                        tcp: TcpWindow::default(),
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
            (Some((k, _)), _) => (1u8, k).hash(&mut h),
            // An ICMP error belongs to the connection it quotes (as `related` says).
            (None, Some(_)) if matches!(self.related(s), ct::RELATED) => match quoted_key(s)? {
                Ok(k) => (1u8, k).hash(&mut h),
                Err((k, _)) => (0u8, k).hash(&mut h),
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

    /// A `reject` answered `s` (the simulator judged it so): its RST or ICMP error is awaited,
    /// to be attached to `s`'s entry. Nothing is awaited where the kernel sends nothing: no
    /// RST for an RST, no ICMP error about an ICMP error.
    pub fn rejected(&mut self, s: &Summary, reset: bool) {
        let Some(mut r) = rejected_of(s, reset) else {
            return;
        };
        // Called right after the rejected packet was observed.
        r.dir = self.dir;
        if self.rejected.len() >= MAX_REJECTED {
            self.rejected.pop_front();
        }
        self.rejected.push_back(r);
    }

    /// The state of an RST or ICMP error a `reject` sent: `related`, carrying the rejected
    /// packet's entry (the kernel's `nf_ct_attach`), never tracked itself. An RST also closes
    /// that entry (`nf_ct_set_closing`): a SYN on the same ports starts afresh.
    fn reject_answer(&mut self, s: &Summary) -> Option<u8> {
        if self.rejected.is_empty() {
            return None;
        }
        let at = self.rejected.iter().position(|r| answers(s, r))?;
        let r = self.rejected.remove(at)?;
        self.dir = r.dir.turned();
        if r.reset {
            if let Some(e) = Flow::of(s).and_then(|f| self.map.get_mut(&f.key)) {
                // The kernel sets the rejected connection to CLOSE (`tcp_window.rs`).
                e.tcp.set_closing();
            }
        }
        Some(ct::RELATED)
    }

    /// The packet an RST or ICMP error answers, when its flow is unknown here — as after a
    /// `reject` at output, whose packet never reached the capture — and whether a TCP reset
    /// answered it: the simulator asks the ruleset whether its output chains reject that
    /// packet so. An RST with ACK answers a packet without (a SYN), one without ACK a packet
    /// with (an ACK); a quoted TCP packet is taken to be a SYN (the quote's flags are not
    /// read).
    pub fn answered(&self, s: &Summary) -> Option<(Summary, bool)> {
        let (src, dst) = (s.src?, s.final_dst.or(s.dst)?);
        let mut p = Summary {
            quoted: false,
            inner: None,
            icmp: None,
            icmpv6: None,
            final_dst: None,
            frag: None,
            ..*s
        };
        if let (Some(t), false) = (s.tcp, s.quoted) {
            if !t.has(TcpInfo::RST) || Flow::of(s).is_some_and(|f| self.map.contains_key(&f.key)) {
                return None;
            }
            let flags = if t.has(TcpInfo::ACK) {
                TcpInfo::SYN
            } else {
                TcpInfo::ACK
            };
            p.src = Some(dst);
            p.dst = Some(src);
            p.sport = s.dport;
            p.dport = s.sport;
            p.tcp = Some(TcpInfo {
                flags,
                seq: t.ack.wrapping_sub(1),
                ack: t.seq,
                ..TcpInfo::default()
            });
            return Some((p, true));
        }
        let inner = s.inner?;
        if self.related(s) != ct::INVALID {
            return None;
        }
        p.src = Some(inner.src);
        p.dst = Some(inner.dst);
        p.ip_proto = Some(inner.proto);
        p.tcp = (inner.proto == 6).then(|| TcpInfo {
            flags: TcpInfo::SYN,
            ..TcpInfo::default()
        });
        if !s.quoted {
            p.sport = None;
            p.dport = None;
        }
        if let Some((typ, id)) = inner.query {
            let info = crate::decode::IcmpInfo {
                typ,
                code: 0,
                echo: Some((id, 0)),
            };
            if inner.proto == 58 {
                p.icmpv6 = Some(info);
            } else {
                p.icmp = Some(info);
            }
        }
        Some((p, false))
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
        match self.quoted(s) {
            Some(_) => ct::RELATED,
            None => ct::INVALID,
        }
    }

    /// Whether the packet an ICMP error quotes went its connection's original way (`None`: no
    /// connection it could belong to). The error must go back to whoever sent the quoted
    /// packet: the kernel calls one that goes elsewhere invalid ("outer daddr != inner saddr",
    /// nf_conntrack_inet_error).
    fn quoted(&self, s: &Summary) -> Option<bool> {
        let inner = s.inner?;
        if s.final_dst.or(s.dst) != Some(inner.src) {
            return None;
        }
        match quoted_key(s)? {
            Ok(k) => {
                self.queries.get(&k)?;
                // The key is the request's: the quote is the original way when it is one.
                let t = inner.query.map_or(0, |q| q.0);
                Some(t == k.0)
            }
            Err((k, from)) => Some(self.map.get(&k)?.orig_src == from),
        }
    }
}

/// What is kept of a rejected packet to know its answer, if the kernel answers it.
fn rejected_of(s: &Summary, reset: bool) -> Option<Rejected> {
    let (src, dst) = (s.src?, s.final_dst.or(s.dst)?);
    let proto = s.ip_proto?;
    if reset && s.tcp.is_none_or(|t| t.has(TcpInfo::RST)) {
        return None;
    }
    if s.inner.is_some() || s.frag.is_some_and(|f| f.offset > 0) {
        return None;
    }
    let id = s.icmp.or(s.icmpv6).and_then(|i| i.echo).map(|e| e.0);
    let (sport, dport) = match id {
        Some(id) => (id, id),
        None => (s.sport.unwrap_or(0), s.dport.unwrap_or(0)),
    };
    Some(Rejected {
        reset,
        src,
        dst,
        proto,
        sport,
        dport,
        dir: Dir::Unknown,
    })
}

/// Whether `s` is the answer a reject of `r` sends: an RST from its destination port back to
/// its source port, or an ICMP error to its source quoting it.
fn answers(s: &Summary, r: &Rejected) -> bool {
    let (Some(src), Some(dst)) = (s.src, s.final_dst.or(s.dst)) else {
        return false;
    };
    if dst != r.src {
        return false;
    }
    if r.reset {
        return !s.quoted
            && src == r.dst
            && s.tcp.is_some_and(|t| t.has(TcpInfo::RST))
            && s.sport == Some(r.dport)
            && s.dport == Some(r.sport);
    }
    let Some(inner) = s.inner else {
        return false;
    };
    let ports = match inner.query {
        Some((_, id)) => (id, id),
        None if s.quoted => (s.sport.unwrap_or(0), s.dport.unwrap_or(0)),
        None => (r.sport, r.dport),
    };
    inner.src == r.src
        && inner.dst == r.dst
        && inner.proto == r.proto
        && ports == (r.sport, r.dport)
}

/// The key of the flow an ICMP error quotes, as `Conntrack::related` finds it: a query flow
/// (`Ok`) or a session and the quoted packet's source in it (`Err`).
fn quoted_key(s: &Summary) -> Option<Result<QueryKey, (SessionKey, Endpoint)>> {
    let inner = s.inner?;
    let (sp, dp) = (s.sport.unwrap_or(0), s.dport.unwrap_or(0));
    let (proto, sp, dp) = match (inner.proto, inner.query) {
        (1 | 58, Some((t, id))) if query_type(inner.proto == 58, t).is_some() => {
            let (request_type, request) = query_type(inner.proto == 58, t).unwrap_or((t, true));
            let (from, to) = if request {
                (inner.src, inner.dst)
            } else {
                (inner.dst, inner.src)
            };
            return Some(Ok((request_type, from, to, id)));
        }
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
    Some(Err((SessionKey { proto, lo, hi }, a)))
}
