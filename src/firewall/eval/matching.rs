//! Whether a rule's tests pass for a packet: the fields a packet reads at a hook, the one
//! containment test of values, and three-valued results for what the capture cannot tell.

use std::net::IpAddr;

use crate::firewall::model::*;

use super::packet::{Class, PacketView};
use super::state::{KeyPart, State};

/// What testing a rule's matches gave (the stateless part; rate models come after).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Res {
    Match,
    /// It matched, and its verdict map chose this entry.
    Entry(u32),
    /// It may match: something it reads is not known or not simulated. Treated as not
    /// matching, and the verdict is approximate.
    Unknown,
}

/// A rule that matched (or may have), as the compiled matcher hands them to the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub id: RuleId,
    pub res: Res,
}

/// Three-valued result of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tri {
    Yes,
    No,
    Maybe,
}

/// What a rule may read besides the packet: the mark the walk has given it so far, and what
/// rules keep across packets (`None`: not kept, as for one packet's explanation).
#[derive(Clone, Copy)]
pub(super) struct Live<'s> {
    /// The table the rule is in (sets filled at run time are kept per table).
    pub(super) table: u16,
    pub(super) mark: Option<u32>,
    pub(super) state: Option<&'s State>,
}

/// Whether `rule`'s tests pass for `p` at a hook of `class` (`None`: they do not). The part
/// that reads the packet only: tests of marks and of sets rules fill, and every test after a
/// statement that changes them, pass here and are made at the walk (`needs_live`); rate
/// models are applied by the walk.
pub fn test_rule(table: &Table, rule: &Rule, p: &PacketView<'_>, class: Class) -> Option<Res> {
    let upto = rule
        .effects
        .first()
        .map_or(rule.matches.len(), |e| e.0 as usize);
    let mut maybe = false;
    for m in rule.matches.iter().take(upto) {
        match match_tri(table, m, p, class, None) {
            Tri::No => return None,
            Tri::Maybe => maybe = true,
            Tri::Yes => {}
        }
    }
    if upto < rule.matches.len() {
        // The rest is for the walk to say.
        return Some(if maybe { Res::Unknown } else { Res::Match });
    }
    if rule.unsupported.is_some() || maybe {
        return Some(Res::Unknown);
    }
    vmap_res(table, rule, p, class, None)
}

/// Whether the rule reads or changes what the walk holds (marks, sets rules fill): then the
/// walk tests it again with that (`test_rule` only says whether it may match).
pub(super) fn needs_live(table: &Table, rule: &Rule) -> bool {
    !rule.effects.is_empty()
        || rule.matches.iter().any(|m| is_live(table, m))
        || rule.vmap.as_ref().is_some_and(|v| {
            std::iter::once(&v.field)
                .chain(&v.more)
                .any(|f| live_field(*f))
        })
}

/// Marks are the walk's; a packet's raw bytes are read at the walk too, so that the cache of
/// rules per signature (which holds no bytes) stays right.
fn live_field(f: Field) -> bool {
    matches!(f, Field::MetaMark | Field::CtMark | Field::Raw { .. })
}

fn is_live(table: &Table, m: &Match) -> bool {
    m.fields().any(live_field)
        || matches!(&m.rhs, Rhs::Set(n) if table.set(n).is_some_and(|s| s.dynamic))
}

/// After its matches passed: the rule's entry in its verdict map, if it has one.
pub(super) fn vmap_res(
    table: &Table,
    rule: &Rule,
    p: &PacketView<'_>,
    class: Class,
    live: Option<&Live<'_>>,
) -> Option<Res> {
    let Some(vm) = &rule.vmap else {
        return Some(Res::Match);
    };
    let entries: Vec<&Value> = match &vm.map {
        MapRef::Inline(e) => e.iter().map(|e| &e.0).collect(),
        MapRef::Named(n) => match table.set(n) {
            Some(s) => s.elements.iter().collect(),
            None => return None,
        },
    };
    let fields: Vec<Field> = std::iter::once(vm.field)
        .chain(vm.more.iter().copied())
        .collect();
    if live.is_none() && fields.iter().any(|f| live_field(*f)) {
        return Some(Res::Match);
    }
    let mut reads = Vec::with_capacity(fields.len());
    for f in &fields {
        match read_live(*f, p, class, live) {
            Reading::Got(r) => reads.push(r),
            Reading::Absent => return None,
            Reading::Unknown => return Some(Res::Unknown),
        }
    }
    entries
        .iter()
        .position(|v| element_has(v, &reads))
        .map(|i| Res::Entry(i as u32))
}

/// Whether a set element holds the values read (one per part of a concatenation).
fn element_has(v: &Value, reads: &[Read<'_>]) -> bool {
    match (v, reads) {
        (Value::Concat(parts), _) => {
            parts.len() == reads.len() && parts.iter().zip(reads).all(|(v, r)| value_has(v, r))
        }
        (v, [r]) => value_has(v, r),
        _ => false,
    }
}

/// What a field reads from the packet at a hook of `class`.
pub(super) enum Reading<'a> {
    Got(Read<'a>),
    /// The packet has no such field: the rule does not match, whatever the operator (nft's
    /// implicit protocol dependency).
    Absent,
    /// It has one, but the record does not tell its value.
    Unknown,
}

pub(super) fn read<'a>(f: Field, p: &PacketView<'a>, class: Class) -> Reading<'a> {
    use Reading::*;
    let has_ports = matches!(p.l4, Some(6 | 17 | 33 | 132 | 136));
    let opt = |v: Option<u64>| v.map(|n| Got(Read::Int(n))).unwrap_or(Absent);
    let name = |n: Option<&'a str>| n.map(|n| Got(Read::Name(n))).unwrap_or(Unknown);
    match f {
        Field::IpSaddr if !p.v6 => Got(Read::Addr(p.src)),
        Field::IpDaddr if !p.v6 => Got(Read::Addr(p.dst)),
        Field::Ip6Saddr if p.v6 => Got(Read::Addr(p.src)),
        Field::Ip6Daddr if p.v6 => Got(Read::Addr(p.dst)),
        Field::IpProtocol if !p.v6 => opt(p.l4.map(u64::from)),
        Field::L4Proto => opt(p.l4.map(u64::from)),
        Field::Sport(L4::Tcp) if p.l4 == Some(6) => opt(p.sport.map(u64::from)),
        Field::Dport(L4::Tcp) if p.l4 == Some(6) => opt(p.dport.map(u64::from)),
        Field::Sport(L4::Udp) if p.l4 == Some(17) => opt(p.sport.map(u64::from)),
        Field::Dport(L4::Udp) if p.l4 == Some(17) => opt(p.dport.map(u64::from)),
        Field::Sport(L4::Th) if has_ports => opt(p.sport.map(u64::from)),
        Field::Dport(L4::Th) if has_ports => opt(p.dport.map(u64::from)),
        Field::TcpFlags if p.l4 == Some(6) => opt(p.tcp_flags.map(u64::from)),
        Field::CtState => Got(Read::Int(p.ct as u64)),
        Field::IcmpType if !p.v6 && p.l4 == Some(1) => opt(p.icmp_type.map(u64::from)),
        Field::Icmpv6Type if p.v6 && p.l4 == Some(58) => opt(p.icmpv6_type.map(u64::from)),
        Field::IcmpCode if !p.v6 && p.l4 == Some(1) => opt(p.extra.icmp_code.map(u64::from)),
        Field::Icmpv6Code if p.v6 && p.l4 == Some(58) => opt(p.extra.icmp_code.map(u64::from)),
        // The side of a hook with no device reads as the empty name, as the kernel stores it
        // (`oifname != "lo"` holds on input).
        Field::Iifname => match class {
            Class::In | Class::Fwd => name(p.iif),
            Class::Out => Got(Read::Name("")),
        },
        Field::Oifname => match class {
            Class::Out => name(p.oif),
            Class::In => Got(Read::Name("")),
            // A forwarded packet's output interface, when the record names it.
            Class::Fwd => name(p.oif),
        },
        Field::Nfproto => Got(Read::Int(if p.v6 { 10 } else { 2 })),
        Field::EtherProto => Got(Read::Int(if p.v6 { 0x86dd } else { 0x0800 })),
        Field::Pkttype => Got(Read::Int(p.extra.pkttype as u64)),
        Field::IpTtl if !p.v6 => opt(p.extra.ttl.map(u64::from)),
        Field::Ip6Hoplimit if p.v6 => opt(p.extra.ttl.map(u64::from)),
        Field::IpLength if !p.v6 => Got(Read::Int(p.len as u64)),
        Field::Ip6Length if p.v6 => Got(Read::Int(p.len.saturating_sub(40) as u64)),
        Field::Ip6Nexthdr if p.v6 => opt(p.extra.ip6_nexthdr.map(u64::from)),
        Field::TcpMss if p.l4 == Some(6) => opt(p.extra.mss.map(u64::from)),
        Field::CtStatus | Field::FibRpf => Unknown,
        Field::FibDaddrType => Got(Read::Int(fib_type(p))),
        Field::Hdr(h) => read_hdr(h, p),
        Field::ExtHdr(_) | Field::ExtField(..) => read_ext(f, p),
        Field::Time(t) => Got(Read::Int(read_time(t, p))),
        Field::Ipsec => Got(Read::Int(0)),
        Field::Host(_) => Unknown,
        Field::Raw { base, off, len } => read_raw(base, off, len, p),
        Field::DevType { out } => {
            let dev = match (class, out) {
                (Class::In | Class::Fwd, false) => p.iif,
                (Class::Out | Class::Fwd, true) => p.oif,
                // No device on this side of the hook: the kernel's `meta` fails.
                _ => return Absent,
            };
            match dev {
                Some("lo") => Got(Read::Int(ARPHRD_LOOPBACK)),
                Some(_) => Got(Read::Int(NOT_LOOPBACK)),
                None => Unknown,
            }
        }
        Field::CtDirection | Field::CtTuple { .. } => read_ct(f, p),
        _ => Absent,
    }
}

/// `@base,off,len`: the bits, big-endian, as nft's payload load and bitwise mask give them.
/// Past the packet's end (or a header it does not have) the kernel's load fails and the rule
/// does not match; past what the capture kept, the bits are not known.
fn read_raw<'a>(base: RawBase, off: u32, len: u32, p: &PacketView<'a>) -> Reading<'a> {
    let b = &p.raw;
    if b.ip.is_empty() || p.extra.reassembled {
        // No bytes given, or the kernel's reassembled datagram, which the capture shows in pieces.
        return Reading::Unknown;
    }
    let cut = if b.whole {
        Reading::Absent
    } else {
        Reading::Unknown
    };
    let start = match base {
        RawBase::Nh => 0,
        RawBase::Th if b.th > 0 => b.th as usize,
        // `@ih` is after a TCP or UDP header only (the kernel's inner offset).
        RawBase::Ih if b.ih > 0 && matches!(p.l4, Some(6 | 17)) => b.ih as usize,
        RawBase::Th | RawBase::Ih => return cut,
        // The link-layer header is not the IP packet's: not given to the rules here.
        RawBase::Ll | RawBase::XtString { .. } => return Reading::Unknown,
    };
    let (off, len) = (off as usize, len as usize);
    let first = start + off / 8;
    let nbytes = (off % 8 + len).div_ceil(8);
    let Some(bytes) = b.ip.get(first..first + nbytes) else {
        return cut;
    };
    let v = bytes.iter().fold(0u128, |v, &x| v << 8 | u128::from(x));
    let v = v >> (nbytes * 8 - off % 8 - len);
    let mask = if len >= 64 {
        u64::MAX as u128
    } else {
        (1u128 << len) - 1
    };
    Reading::Got(Read::Int((v & mask) as u64))
}

/// iptables' `-m string`: whether one of the strings lies whole within bytes `from..to` of
/// the packet (xt_string's `skb_find_text`); unknown when the capture cut the packet before
/// `to` and the string was not found in what it kept.
fn string_tri(m: &Match, p: &PacketView<'_>) -> Tri {
    let Field::Raw {
        base: RawBase::XtString { hex, icase },
        off: from,
        len: to,
    } = m.field
    else {
        return Tri::Maybe;
    };
    let b = &p.raw;
    if b.ip.is_empty() || p.extra.reassembled {
        return Tri::Maybe;
    }
    let end = (to as usize).min(b.ip.len());
    let hay = b.ip.get(from as usize..end).unwrap_or(&[]);
    let Rhs::Values(vs) = &m.rhs else {
        return Tri::Maybe;
    };
    let found = vs.iter().any(|v| {
        let Value::Name(s) = v else { return false };
        // The pattern's bytes, read where they stand (no copy per packet): `--hex-string`
        // keeps them as hex digits.
        let n = if hex { s.len() / 2 } else { s.len() };
        let byte = |i: usize| -> u8 {
            if hex {
                s.get(2 * i..2 * i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .unwrap_or(0)
            } else {
                s.as_bytes()[i]
            }
        };
        n > 0
            && hay.windows(n).any(|w| {
                w.iter().enumerate().all(|(i, &x)| {
                    let y = byte(i);
                    x == y || (icase && x.eq_ignore_ascii_case(&y))
                })
            })
    });
    if !found && !b.whole && (to as usize) > b.ip.len() {
        return Tri::Maybe;
    }
    tri(match m.op {
        Op::Eq => found,
        Op::Ne => !found,
    })
}

/// What `meta iiftype` reads on a device other than `lo`: some type that is not loopback.
const NOT_LOOPBACK: u64 = u64::MAX;

/// `ct direction` and the connection's tuples. Without a connection (invalid, untracked) the
/// kernel's `ct` expression fails; a related packet's tuple reads as unknown.
fn read_ct<'a>(f: Field, p: &PacketView<'a>) -> Reading<'a> {
    use crate::firewall::conntrack::Dir;
    if p.ct & (ct::INVALID | ct::UNTRACKED) != 0 {
        return Reading::Absent;
    }
    let is_reply = match p.extra.ct_dir {
        Dir::Unknown => return Reading::Unknown,
        Dir::Original => false,
        Dir::Reply => true,
    };
    let Field::CtTuple { reply, key } = f else {
        return Reading::Got(Read::Int(is_reply as u64));
    };
    if p.ct & ct::RELATED != 0 {
        // An ICMP error's tuple is its connection's, named by the packet it quotes, not by
        // its own addresses: not carried in the view.
        return Reading::Unknown;
    }
    // The tuple asked for is the packet's own, or (no NAT) the packet's turned round.
    let turned = is_reply != reply;
    let (src, dst, sport, dport) = if turned {
        (p.dst, p.src, p.dport, p.sport)
    } else {
        (p.src, p.dst, p.sport, p.dport)
    };
    let fam_ok = |fam: u8| match fam {
        4 => !p.v6,
        6 => p.v6,
        _ => true,
    };
    let port = |n: Option<u16>| match n {
        Some(n) => Reading::Got(Read::Int(n as u64)),
        None => Reading::Unknown,
    };
    match key {
        TupleKey::Saddr(fam) if fam_ok(fam) => Reading::Got(Read::Addr(src)),
        TupleKey::Daddr(fam) if fam_ok(fam) => Reading::Got(Read::Addr(dst)),
        TupleKey::Saddr(_) | TupleKey::Daddr(_) => Reading::Absent,
        TupleKey::ProtoSrc => port(sport),
        TupleKey::ProtoDst => port(dport),
    }
}

/// `ip hdrlength`, `ip6 flowlabel`, …: from the header as captured (the IPv4 ones on IPv4
/// only, as nft's implicit `meta nfproto` dependency makes them).
fn read_hdr<'a>(h: HdrField, p: &PacketView<'a>) -> Reading<'a> {
    use HdrField::*;
    let ip = p.extra.ip.unwrap_or_default();
    let v4 = matches!(
        h,
        IpVersion | IpHdrLength | IpDscp | IpEcn | IpId | IpFragOff
    );
    if v4 == p.v6 {
        return Reading::Absent;
    }
    let n = match h {
        IpVersion => 4,
        Ip6Version => 6,
        IpHdrLength => ip.ihl as u64,
        IpDscp | Ip6Dscp => (ip.tos >> 2) as u64,
        IpEcn | Ip6Ecn => (ip.tos & 3) as u64,
        IpId => ip.id as u64,
        IpFragOff if p.extra.reassembled => return Reading::Unknown,
        IpFragOff => ip.frag_off as u64,
        Ip6Flowlabel => ip.flowlabel as u64,
    };
    Reading::Got(Read::Int(n))
}

/// `exthdr X exists` (1 or 0) and the fields of an IPv6 extension header (absent when the
/// packet has no such header: the rule does not match, as in the kernel).
fn read_ext<'a>(f: Field, p: &PacketView<'a>) -> Reading<'a> {
    use crate::decode::Ext6;
    if !p.v6 {
        return Reading::Absent;
    }
    if p.extra.reassembled {
        // The kernel's reassembly drops the fragment header; the capture shows the pieces.
        return Reading::Unknown;
    }
    let x = p.extra.ip.unwrap_or_default().ext;
    let bit = |e: Ext| match e {
        Ext::Hbh => Ext6::HBH,
        Ext::Rt => Ext6::RT,
        Ext::Frag => Ext6::FRAG,
        Ext::Dst => Ext6::DST,
        Ext::Mh => Ext6::MH,
    };
    let (e, k) = match f {
        Field::ExtHdr(e) => return Reading::Got(Read::Int(x.has(bit(e)) as u64)),
        Field::ExtField(e, k) => (e, k),
        _ => return Reading::Absent,
    };
    if !x.has(bit(e)) {
        return Reading::Absent;
    }
    use ExtKey::*;
    let n: u64 = match (e, k) {
        (Ext::Hbh, Nexthdr) => x.hbh[0].into(),
        (Ext::Hbh, HdrLength) => x.hbh[1].into(),
        (Ext::Dst, Nexthdr) => x.dst[0].into(),
        (Ext::Dst, HdrLength) => x.dst[1].into(),
        (Ext::Rt, Nexthdr) => x.rt[0].into(),
        (Ext::Rt, HdrLength) => x.rt[1].into(),
        (Ext::Rt, Type) => x.rt[2].into(),
        (Ext::Rt, SegLeft) => x.rt[3].into(),
        (Ext::Mh, Nexthdr) => x.mh[0].into(),
        (Ext::Mh, HdrLength) => x.mh[1].into(),
        (Ext::Mh, Type) => x.mh[2].into(),
        (Ext::Frag, Nexthdr) => x.frag[0].into(),
        (Ext::Frag, Reserved) => x.frag[1].into(),
        (Ext::Frag, FragOff) => (x.frag_off >> 3).into(),
        (Ext::Frag, Reserved2) => ((x.frag_off >> 1) & 3).into(),
        (Ext::Frag, More) => (x.frag_off & 1).into(),
        (Ext::Frag, Id) => x.frag_id.into(),
        _ => return Reading::Absent,
    };
    Reading::Got(Read::Int(n))
}

/// `meta hour`: seconds after midnight UTC (the values are converted when tested, see
/// `clock::hour_has`); `meta day`: the local weekday; `meta time`: the local wall-clock time.
fn read_time(t: TimeKey, p: &PacketView<'_>) -> u64 {
    use crate::firewall::clock;
    let (ts, off) = (p.extra.ts_ns, p.extra.utc_off);
    let zoned = |local: bool| if local { off } else { 0 };
    match t {
        TimeKey::Hour => clock::utc_second_of_day(ts),
        TimeKey::Day => clock::weekday(ts, off),
        TimeKey::Time => clock::local_ns(ts, off),
        TimeKey::XtHour(l) => clock::utc_second_of_day(clock::local_ns(ts, zoned(l))),
        // xt_time counts Monday 1 … Sunday 7.
        TimeKey::XtWeekday(l) => match clock::weekday(ts, zoned(l)) {
            0 => 7,
            d => d,
        },
        TimeKey::XtDate(l) => clock::local_ns(ts, zoned(l)) / 1_000_000_000,
    }
}

/// Whether a `meta hour` value holds at `utc` (seconds after midnight UTC).
fn hour_value_has(v: &Value, utc: u64, off: i32) -> bool {
    use crate::firewall::clock::hour_has;
    match v {
        Value::Int(n) => hour_has(*n, *n, utc, off),
        Value::IntRange(a, b) => hour_has(*a, *b, utc, off),
        _ => false,
    }
}

/// `fib daddr type`: local (2) for the host's addresses, multicast (5), broadcast (3), else
/// unicast (1).
fn fib_type(p: &PacketView<'_>) -> u64 {
    if p.extra.dst_local {
        return 2;
    }
    match p.dst {
        IpAddr::V4(a) if a.is_broadcast() => 3,
        a if a.is_multicast() => 5,
        _ => 1,
    }
}

/// One value read from a packet, as a match tests it (the display filter reads into it too).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Read<'a> {
    Addr(IpAddr),
    Int(u64),
    Name(&'a str),
}

/// Whether the match value `v` (an address, prefix, range, number or name) holds `r`: the one
/// containment test of rules and display filters alike.
pub(crate) fn value_has(v: &Value, r: &Read<'_>) -> bool {
    match (v, r) {
        (Value::Prefix(net, len), Read::Addr(a)) => prefix_contains(*net, *len, *a),
        (Value::AddrRange(lo, hi), Read::Addr(a)) => {
            a.is_ipv4() == lo.is_ipv4() && lo <= a && a <= hi
        }
        (Value::Int(n), Read::Int(x)) => n == x,
        (Value::IntRange(lo, hi), Read::Int(x)) => lo <= x && x <= hi,
        (Value::Name(n), Read::Name(x)) => match n.strip_suffix('*') {
            Some(prefix) => x.starts_with(prefix),
            None => n == x,
        },
        _ => false,
    }
}

pub fn prefix_contains(net: IpAddr, len: u8, a: IpAddr) -> bool {
    match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len.min(32))
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len.min(128))
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// What a field reads, the marks and the connection's too (with `live`).
pub(super) fn read_live<'a>(
    f: Field,
    p: &PacketView<'a>,
    class: Class,
    live: Option<&Live<'_>>,
) -> Reading<'a> {
    match f {
        Field::MetaMark => match live.and_then(|l| l.mark) {
            Some(m) => Reading::Got(Read::Int(m as u64)),
            None => Reading::Unknown,
        },
        // No connection (invalid, untracked, before conntrack): the kernel's `ct` expression
        // fails, and the rule does not match.
        Field::CtMark if p.ct & (ct::INVALID | ct::UNTRACKED) != 0 => Reading::Absent,
        Field::CtMark => match (p.extra.conn, live.and_then(|l| l.state)) {
            (Some(c), Some(s)) => match s.ct_mark(c) {
                Some(m) => Reading::Got(Read::Int(m as u64)),
                None => Reading::Unknown,
            },
            _ => Reading::Unknown,
        },
        _ => read(f, p, class),
    }
}

/// A set element's key from what was read.
pub(super) fn key_of(reads: &[Read<'_>]) -> Vec<KeyPart> {
    reads
        .iter()
        .map(|r| match r {
            Read::Addr(a) => KeyPart::Addr(*a),
            Read::Int(n) => KeyPart::Int(*n),
            Read::Name(n) => KeyPart::Name((*n).into()),
        })
        .collect()
}

/// One test of a rule. Without `live`, a test of what the walk holds (marks, sets rules fill)
/// passes: the walk makes it.
pub(super) fn match_tri(
    table: &Table,
    m: &Match,
    p: &PacketView<'_>,
    class: Class,
    live: Option<&Live<'_>>,
) -> Tri {
    if live.is_none() && is_live(table, m) {
        return Tri::Yes;
    }
    if matches!(
        m.field,
        Field::Raw {
            base: RawBase::XtString { .. },
            ..
        }
    ) {
        return string_tri(m, p);
    }
    let mut reads = Vec::with_capacity(1 + m.more.len());
    for f in m.fields() {
        match read_live(f, p, class, live) {
            Reading::Got(r) => reads.push(r),
            Reading::Absent => {
                // `tcp option maxseg missing` holds exactly when the option is absent.
                if let (Field::TcpMss, Rhs::Exists(false)) = (f, &m.rhs) {
                    if p.l4 == Some(6) {
                        return tri(m.op == Op::Eq);
                    }
                }
                return Tri::No;
            }
            Reading::Unknown => return Tri::Maybe,
        }
    }
    if matches!(reads.first(), Some(Read::Int(NOT_LOOPBACK)))
        && matches!(m.field, Field::DevType { .. })
        && !m.rhs.only_loopback()
    {
        // A device other than `lo`, tested for a type other than loopback: not known.
        return Tri::Maybe;
    }
    let hit = match &m.rhs {
        Rhs::Values(vs) if m.field == Field::Time(TimeKey::Hour) && m.more.is_empty() => {
            let Read::Int(utc) = reads[0] else {
                return Tri::No;
            };
            vs.iter().any(|v| hour_value_has(v, utc, p.extra.utc_off))
        }
        Rhs::Values(vs) if matches!(m.field, Field::Time(TimeKey::XtHour(_))) => {
            let Read::Int(x) = reads[0] else {
                return Tri::No;
            };
            // xt_time: a start not below the stop wraps past midnight, both ends included.
            vs.iter().any(|v| match v {
                Value::IntRange(a, b) if a >= b => x >= *a || x <= *b,
                v => value_has(v, &reads[0]),
            })
        }
        Rhs::Values(vs) => vs.iter().any(|v| element_has(v, &reads)),
        Rhs::Set(name) => match table.set(name) {
            Some(s) => {
                let mut found = s.elements.iter().any(|v| element_has(v, &reads));
                if !found && s.dynamic {
                    // Filled at run time: what the rules put in, when that is kept; a rule
                    // not simulated may have put the key there too.
                    let state = live.and_then(|l| Some((l.table, l.state?)));
                    let Some((t, state)) = state else {
                        return Tri::Maybe;
                    };
                    found = state.has(t, name, &key_of(&reads), p.extra.ts_ns);
                    if !found && s.unsure {
                        return Tri::Maybe;
                    }
                }
                found
            }
            None => false,
        },
        Rhs::Masked { mask, value } => match reads[0] {
            Read::Int(x) => x & mask == *value,
            _ => false,
        },
        Rhs::MaskedRange { mask, lo, hi } => match reads[0] {
            Read::Int(x) => (*lo..=*hi).contains(&(x & mask)),
            _ => false,
        },
        Rhs::AnyBits(bits) => match reads[0] {
            Read::Int(x) => x & bits != 0,
            _ => false,
        },
        // `exthdr X exists` reads the header's presence; the others only exist when read.
        Rhs::Exists(e) => match (m.field, reads[0]) {
            (Field::ExtHdr(_) | Field::Ipsec, Read::Int(x)) => (x != 0) == *e,
            _ => *e,
        },
    };
    tri(match m.op {
        Op::Eq => hit,
        Op::Ne => !hit,
    })
}

fn tri(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}
