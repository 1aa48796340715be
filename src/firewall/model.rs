//! The ruleset as packetlab holds it, whichever syntax it came from (nft or iptables-save).

use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
    /// Parsed and shown, not simulated: they see frames, not the IP hooks packetlab models.
    Arp,
    Bridge,
    /// Its ingress chains see every packet of their device before any IP hook: their rules are
    /// tested, and a match makes the verdict approximate (they are not simulated).
    Netdev,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
            Family::Arp => "arp",
            Family::Bridge => "bridge",
            Family::Netdev => "netdev",
        }
    }

    pub fn from_name(s: &str) -> Option<Family> {
        Some(match s {
            "ip" => Family::Ip,
            "ip6" => Family::Ip6,
            "inet" => Family::Inet,
            "arp" => Family::Arp,
            "bridge" => Family::Bridge,
            "netdev" => Family::Netdev,
            _ => return None,
        })
    }

    /// Whether a table of this family sees a packet of IP version `v6`.
    pub fn sees(self, v6: bool) -> bool {
        match self {
            Family::Ip => !v6,
            Family::Ip6 => v6,
            Family::Inet | Family::Netdev => true,
            Family::Arp | Family::Bridge => false,
        }
    }

    /// Whether packetlab simulates this family's chains (else they are shown only).
    pub fn simulated(self) -> bool {
        matches!(self, Family::Ip | Family::Ip6 | Family::Inet)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
    /// netdev (and inet) ingress and netdev egress: before and after every IP hook.
    Ingress,
    Egress,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
            Hook::Ingress => "ingress",
            Hook::Egress => "egress",
        }
    }

    pub fn from_name(s: &str) -> Option<Hook> {
        Some(match s {
            "prerouting" => Hook::Prerouting,
            "input" => Hook::Input,
            "forward" => Hook::Forward,
            "output" => Hook::Output,
            "postrouting" => Hook::Postrouting,
            "ingress" => Hook::Ingress,
            "egress" => Hook::Egress,
            _ => return None,
        })
    }
}

/// What a base chain does: only `filter` chains decide verdicts here; `nat` and `route` chains
/// are parsed and shown, and a packet they would act on is marked approximate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

impl ChainType {
    pub fn name(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        }
    }
}

/// The hook priorities nft names (`priority filter + 10`), per family and hook as `nft` resolves
/// them (nftables' `std_prios`; bridge has its own numbers).
pub fn named_priority(name: &str, family: Family) -> Option<i32> {
    if family == Family::Bridge {
        return Some(match name {
            "dstnat" => -300,
            "filter" => -200,
            "out" => 100,
            "srcnat" => 300,
            _ => return None,
        });
    }
    Some(match name {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Accept,
    Drop,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Reject,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => write!(f, "accept"),
            Verdict::Drop => write!(f, "drop"),
            Verdict::Reject => write!(f, "reject"),
            Verdict::Continue => write!(f, "continue"),
            Verdict::Return => write!(f, "return"),
            Verdict::Jump(c) => write!(f, "jump {c}"),
            Verdict::Goto(c) => write!(f, "goto {c}"),
        }
    }
}

/// Which layer-4 header a port match reads (`th` = any transport header with ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp,
    Udp,
    Th,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    IpSaddr,
    IpDaddr,
    Ip6Saddr,
    Ip6Daddr,
    IpProtocol,
    L4Proto,
    Sport(L4),
    Dport(L4),
    TcpFlags,
    CtState,
    IcmpType,
    Icmpv6Type,
    IcmpCode,
    Icmpv6Code,
    Iifname,
    Oifname,
    /// `meta nfproto`: the layer-3 family (ipv4 2, ipv6 10).
    Nfproto,
    /// `meta protocol`: the ethertype (0x0800, 0x86dd).
    EtherProto,
    /// `meta pkttype`: host 0, broadcast 1, multicast 2, other 3.
    Pkttype,
    IpTtl,
    IpLength,
    /// `ip6 nexthdr`: the next-header field of the fixed IPv6 header (not the final one).
    Ip6Nexthdr,
    Ip6Hoplimit,
    Ip6Length,
    /// `tcp option maxseg size`; with `Rhs::Exists` the option's presence.
    TcpMss,
    /// `ct status`: not tracked by the simulator (it reads as unknown).
    CtStatus,
    /// `fib daddr type`: local, unicast, broadcast, multicast, from `--local`.
    FibDaddrType,
    /// `fib saddr . iif oif`, with `Rhs::Exists`: the reverse-path check, which needs the
    /// host's routes (it reads as unknown).
    FibRpf,
    /// `meta mark`: the packet's mark, 0 from outside, as the ruleset's own statements set it
    /// through the walk (`meta mark set …`).
    MetaMark,
    /// `ct mark`: the connection's mark, 0 when it is created, as `ct mark set …` sets it.
    CtMark,
    /// IP header fields read from the packet (`ip hdrlength`, `ip6 flowlabel`, …).
    Hdr(HdrField),
    /// `exthdr hbh exists` / `missing` (with `Rhs::Exists`): an IPv6 extension header's presence.
    ExtHdr(Ext),
    /// A field of an IPv6 extension header (`rt type`, `frag more-fragments`, `hbh nexthdr`).
    ExtField(Ext, ExtKey),
    /// `meta hour`, `meta day`, `meta time`: the packet's timestamp (see `firewall::clock`).
    Time(TimeKey),
    /// `meta secpath exists|missing`, iptables' `-m policy --pol ipsec|none`: whether the
    /// packet came out of IPsec. A capture's packets carry no IPsec state, so it is always
    /// missing (traffic decrypted on the host is not told apart: documented).
    Ipsec,
    /// What the host knows and the packet does not (its sockets, devices, routes): read as
    /// unknown, so the verdicts these tests take part in are approximate.
    Host(HostKey),
    /// `meta iiftype` / `meta oiftype` (`out`): the device's hardware type. Only the loopback
    /// device is of type loopback and it is always `lo`, so that much is told from the name.
    DevType {
        out: bool,
    },
    /// `ct direction`: original (0) or reply (1), as connection tracking sees the packet.
    CtDirection,
    /// `ct original saddr`, `ct reply proto-dst`, …: the connection's tuple in one direction.
    /// Without NAT (not simulated) the reply tuple is the original one turned round.
    CtTuple {
        reply: bool,
        key: TupleKey,
    },
    /// `@th,64,16`, `@nh,96,32`: `len` bits of the packet `off` bits after a header
    /// (`base`), and iptables' `-m string`: read from the packet's bytes (unknown when the
    /// capture cut the packet short of them, or no bytes were given).
    Raw {
        base: RawBase,
        off: u32,
        len: u32,
    },
}

/// Where a raw payload expression counts its offset from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawBase {
    Ll,
    Nh,
    Th,
    Ih,
    /// iptables' `-m string`: the packet searched, from byte `off` to byte `len`, for the
    /// string (`hex`: written in hex digits, from `--hex-string`), its ASCII letters in either
    /// case with `--icase`.
    XtString {
        hex: bool,
        icase: bool,
    },
}

/// ARPHRD_LOOPBACK: the type of `lo`, and of no other device.
pub const ARPHRD_LOOPBACK: u64 = 772;

impl Rhs {
    /// The test names only the loopback device type (`iiftype loopback`, `iiftype !=
    /// loopback`): a device other than `lo` is known not to be of it.
    pub fn only_loopback(&self) -> bool {
        matches!(self, Rhs::Values(vs) if !vs.is_empty()
            && vs.iter().all(|v| *v == Value::Int(ARPHRD_LOOPBACK)))
    }
}

/// The tests of the host's own state packetlab cannot make from a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostKey {
    /// `socket transparent`: the local socket the packet would reach has IP_TRANSPARENT.
    SocketTransparent,
    /// `socket mark`: that socket's mark.
    SocketMark,
    /// `socket wildcard`: it is bound to the wildcard address.
    SocketWildcard,
    /// `meta iifkind` / `meta oifkind`: the device's driver (`"wireguard"`, `"vlan"`).
    IifKind,
    OifKind,
    /// A `fib` lookup other than `fib daddr type` (`fib daddr . iif type`, `fib saddr . iif
    /// oif`): the host's routes and which device holds which address.
    FibType,
}

/// A part of a connection's tuple, for `ct original|reply KEY`: `fam` is 4 or 6 for the
/// `ip`/`ip6` spellings, 0 for the bare `saddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TupleKey {
    Saddr(u8),
    Daddr(u8),
    ProtoSrc,
    ProtoDst,
}

/// The IP header fields beyond addresses, protocol, TTL and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HdrField {
    IpVersion,
    /// In 32-bit words, as in the header.
    IpHdrLength,
    IpDscp,
    IpEcn,
    IpId,
    /// The 16 bits of flags and fragment offset (`ip frag-off & 0x1fff != 0`).
    IpFragOff,
    Ip6Version,
    Ip6Dscp,
    Ip6Ecn,
    Ip6Flowlabel,
}

/// The IPv6 extension headers `exthdr` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ext {
    Hbh,
    Rt,
    Frag,
    Dst,
    Mh,
}

impl Ext {
    pub fn name(self) -> &'static str {
        match self {
            Ext::Hbh => "hbh",
            Ext::Rt => "rt",
            Ext::Frag => "frag",
            Ext::Dst => "dst",
            Ext::Mh => "mh",
        }
    }

    pub fn from_name(s: &str) -> Option<Ext> {
        Some(match s {
            "hbh" => Ext::Hbh,
            "rt" => Ext::Rt,
            "frag" => Ext::Frag,
            "dst" => Ext::Dst,
            "mh" => Ext::Mh,
            _ => return None,
        })
    }

    /// The keys nft knows after it (nft(8), EXTENSION HEADER EXPRESSIONS).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Ext::Hbh | Ext::Dst => &["nexthdr", "hdrlength"],
            Ext::Rt => &["nexthdr", "hdrlength", "type", "seg-left"],
            Ext::Frag => &[
                "nexthdr",
                "reserved",
                "frag-off",
                "reserved2",
                "more-fragments",
                "id",
            ],
            Ext::Mh => &["nexthdr", "hdrlength", "type", "reserved", "checksum"],
        }
    }
}

/// A field of an extension header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtKey {
    Nexthdr,
    HdrLength,
    /// `rt type`, `mh type`.
    Type,
    SegLeft,
    /// `frag reserved` (the byte after the next header).
    Reserved,
    /// `frag frag-off`: the offset in 8-byte units.
    FragOff,
    /// `frag reserved2`: the two bits before the M flag.
    Reserved2,
    More,
    Id,
}

impl ExtKey {
    pub fn name(self) -> &'static str {
        match self {
            ExtKey::Nexthdr => "nexthdr",
            ExtKey::HdrLength => "hdrlength",
            ExtKey::Type => "type",
            ExtKey::SegLeft => "seg-left",
            ExtKey::Reserved => "reserved",
            ExtKey::FragOff => "frag-off",
            ExtKey::Reserved2 => "reserved2",
            ExtKey::More => "more-fragments",
            ExtKey::Id => "id",
        }
    }

    pub fn from_name(s: &str) -> Option<ExtKey> {
        Some(match s {
            "nexthdr" => ExtKey::Nexthdr,
            "hdrlength" => ExtKey::HdrLength,
            "type" => ExtKey::Type,
            "seg-left" => ExtKey::SegLeft,
            "reserved" => ExtKey::Reserved,
            "frag-off" => ExtKey::FragOff,
            "reserved2" => ExtKey::Reserved2,
            "more-fragments" => ExtKey::More,
            "id" => ExtKey::Id,
            _ => return None,
        })
    }
}

/// `meta hour` (seconds since midnight), `meta day` (0 = Sunday), `meta time` (nanoseconds
/// since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeKey {
    Hour,
    Day,
    Time,
    /// iptables' `-m time --timestart/--timestop`: seconds after midnight, in UTC (false) or
    /// with `--kerneltz` in the kernel's zone (true; judged in `--tz`). A range whose start is
    /// not below its stop wraps past midnight, both ends included (`xt_time.c`).
    XtHour(bool),
    /// `--weekdays`: 1 (Monday) to 7 (Sunday).
    XtWeekday(bool),
    /// `--datestart/--datestop`: seconds since the epoch.
    XtDate(bool),
}

/// An open end of a `meta hour` comparison (`>= "17:00"` is `IntRange(61200, OPEN)`): nft
/// converts only the bound written, so the other end must stay open through the conversion.
pub const OPEN: u64 = u64::MAX;

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::IpSaddr => "ip saddr",
            Field::IpDaddr => "ip daddr",
            Field::Ip6Saddr => "ip6 saddr",
            Field::Ip6Daddr => "ip6 daddr",
            Field::IpProtocol => "ip protocol",
            Field::L4Proto => "meta l4proto",
            Field::Sport(L4::Tcp) => "tcp sport",
            Field::Sport(L4::Udp) => "udp sport",
            Field::Sport(L4::Th) => "th sport",
            Field::Dport(L4::Tcp) => "tcp dport",
            Field::Dport(L4::Udp) => "udp dport",
            Field::Dport(L4::Th) => "th dport",
            Field::TcpFlags => "tcp flags",
            Field::CtState => "ct state",
            Field::IcmpType => "icmp type",
            Field::Icmpv6Type => "icmpv6 type",
            Field::IcmpCode => "icmp code",
            Field::Icmpv6Code => "icmpv6 code",
            Field::Iifname => "iifname",
            Field::Oifname => "oifname",
            Field::Nfproto => "meta nfproto",
            Field::EtherProto => "meta protocol",
            Field::Pkttype => "meta pkttype",
            Field::IpTtl => "ip ttl",
            Field::IpLength => "ip length",
            Field::Ip6Nexthdr => "ip6 nexthdr",
            Field::Ip6Hoplimit => "ip6 hoplimit",
            Field::Ip6Length => "ip6 length",
            Field::TcpMss => "tcp option maxseg size",
            Field::CtStatus => "ct status",
            Field::FibDaddrType => "fib daddr type",
            Field::FibRpf => "fib saddr . iif oif",
            Field::MetaMark => "meta mark",
            Field::CtMark => "ct mark",
            Field::Hdr(h) => match h {
                HdrField::IpVersion => "ip version",
                HdrField::IpHdrLength => "ip hdrlength",
                HdrField::IpDscp => "ip dscp",
                HdrField::IpEcn => "ip ecn",
                HdrField::IpId => "ip id",
                HdrField::IpFragOff => "ip frag-off",
                HdrField::Ip6Version => "ip6 version",
                HdrField::Ip6Dscp => "ip6 dscp",
                HdrField::Ip6Ecn => "ip6 ecn",
                HdrField::Ip6Flowlabel => "ip6 flowlabel",
            },
            Field::ExtHdr(e) => match e {
                Ext::Hbh => "exthdr hbh",
                Ext::Rt => "exthdr rt",
                Ext::Frag => "exthdr frag",
                Ext::Dst => "exthdr dst",
                Ext::Mh => "exthdr mh",
            },
            Field::ExtField(e, k) => ext_field_name(e, k),
            Field::Ipsec => "meta secpath",
            Field::Host(h) => match h {
                HostKey::SocketTransparent => "socket transparent",
                HostKey::SocketMark => "socket mark",
                HostKey::SocketWildcard => "socket wildcard",
                HostKey::IifKind => "meta iifkind",
                HostKey::OifKind => "meta oifkind",
                HostKey::FibType => "fib daddr . iif type",
            },
            Field::DevType { out: false } => "meta iiftype",
            Field::DevType { out: true } => "meta oiftype",
            Field::CtDirection => "ct direction",
            Field::CtTuple { reply, key } => tuple_name(reply, key),
            Field::Raw {
                base: RawBase::XtString { .. },
                ..
            } => "-m string",
            Field::Raw { .. } => "raw payload",
            Field::Time(t) => match t {
                TimeKey::Hour => "meta hour",
                TimeKey::Day => "meta day",
                TimeKey::Time => "meta time",
                TimeKey::XtHour(_) => "meta hour",
                TimeKey::XtWeekday(_) => "meta day",
                TimeKey::XtDate(_) => "meta time",
            },
        }
    }
}

/// `ct original ip saddr`, `ct reply proto-dst`…, for `Field::name`.
fn tuple_name(reply: bool, k: TupleKey) -> &'static str {
    use TupleKey::*;
    match (reply, k) {
        (false, Saddr(4)) => "ct original ip saddr",
        (false, Saddr(6)) => "ct original ip6 saddr",
        (false, Saddr(_)) => "ct original saddr",
        (false, Daddr(4)) => "ct original ip daddr",
        (false, Daddr(6)) => "ct original ip6 daddr",
        (false, Daddr(_)) => "ct original daddr",
        (false, ProtoSrc) => "ct original proto-src",
        (false, ProtoDst) => "ct original proto-dst",
        (true, Saddr(4)) => "ct reply ip saddr",
        (true, Saddr(6)) => "ct reply ip6 saddr",
        (true, Saddr(_)) => "ct reply saddr",
        (true, Daddr(4)) => "ct reply ip daddr",
        (true, Daddr(6)) => "ct reply ip6 daddr",
        (true, Daddr(_)) => "ct reply daddr",
        (true, ProtoSrc) => "ct reply proto-src",
        (true, ProtoDst) => "ct reply proto-dst",
    }
}

/// `rt seg-left`, `frag more-fragments`…, for `Field::name` (a pair the parser never makes
/// reads as its key alone).
fn ext_field_name(e: Ext, k: ExtKey) -> &'static str {
    use ExtKey::*;
    match (e, k) {
        (Ext::Hbh, Nexthdr) => "hbh nexthdr",
        (Ext::Hbh, HdrLength) => "hbh hdrlength",
        (Ext::Rt, Nexthdr) => "rt nexthdr",
        (Ext::Rt, HdrLength) => "rt hdrlength",
        (Ext::Rt, Type) => "rt type",
        (Ext::Rt, SegLeft) => "rt seg-left",
        (Ext::Frag, Nexthdr) => "frag nexthdr",
        (Ext::Frag, Reserved) => "frag reserved",
        (Ext::Frag, FragOff) => "frag frag-off",
        (Ext::Frag, Reserved2) => "frag reserved2",
        (Ext::Frag, More) => "frag more-fragments",
        (Ext::Frag, Id) => "frag id",
        (Ext::Dst, Nexthdr) => "dst nexthdr",
        (Ext::Dst, HdrLength) => "dst hdrlength",
        (Ext::Mh, Nexthdr) => "mh nexthdr",
        (Ext::Mh, HdrLength) => "mh hdrlength",
        (Ext::Mh, Type) => "mh type",
        (Ext::Mh, Reserved) => "mh reserved",
        (_, k) => k.name(),
    }
}

/// Connection-tracking states, as bits so a set of them is one integer.
pub mod ct {
    pub const INVALID: u8 = 1;
    pub const ESTABLISHED: u8 = 2;
    pub const RELATED: u8 = 4;
    pub const NEW: u8 = 8;
    pub const UNTRACKED: u8 = 64;

    pub fn name(bit: u8) -> &'static str {
        match bit {
            INVALID => "invalid",
            ESTABLISHED => "established",
            RELATED => "related",
            NEW => "new",
            UNTRACKED => "untracked",
            _ => "?",
        }
    }

    pub fn from_name(s: &str) -> Option<u8> {
        Some(match s {
            "invalid" => INVALID,
            "established" => ESTABLISHED,
            "related" => RELATED,
            "new" => NEW,
            "untracked" => UNTRACKED,
            _ => return None,
        })
    }
}

/// One value on the right of a match: an address or prefix, a range, a number, a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An address with a prefix length (a plain address has the full length).
    Prefix(IpAddr, u8),
    AddrRange(IpAddr, IpAddr),
    Int(u64),
    IntRange(u64, u64),
    /// An interface name; a trailing `*` matches any suffix.
    Name(String),
    /// One element of a concatenation's set: a value per part (`tcp . 22`).
    Concat(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Prefix(a, l) if (a.is_ipv4() && *l == 32) || (a.is_ipv6() && *l == 128) => {
                write!(f, "{a}")
            }
            Value::Prefix(a, l) => write!(f, "{a}/{l}"),
            Value::AddrRange(a, b) => write!(f, "{a}-{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::IntRange(a, b) => write!(f, "{a}-{b}"),
            Value::Name(s) => write!(f, "\"{s}\""),
            Value::Concat(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        write!(f, " . ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// One value, or an anonymous set `{ a, b, c-d }` (a match is membership).
    Values(Vec<Value>),
    /// A named set of the table, `@name`.
    Set(String),
    /// `tcp flags & mask == value`, `meta mark & 0xff == 0x2` (or `!=`): a masked comparison.
    Masked { mask: u64, value: u64 },
    /// `tcp flags syn,ack`: any of these bits set (nft's implicit `& flags != 0`).
    AnyBits(u64),
    /// `tcp option maxseg exists` (true) / `missing` (false).
    Exists(bool),
    /// `tcp flags & (fin|syn|rst|psh|ack|urg) < (fin)`: the masked value, as an integer, in
    /// `lo..=hi`.
    MaskedRange { mask: u64, lo: u64, hi: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub field: Field,
    /// The further parts of a concatenation (`ip protocol . th dport`): then every value is a
    /// `Value::Concat` with a part per field.
    pub more: Vec<Field>,
    pub op: Op,
    pub rhs: Rhs,
    /// The `define` the right side came from whole (`$LAN`), kept for saving.
    pub var: Option<String>,
}

impl Match {
    pub fn new(field: Field, op: Op, rhs: Rhs) -> Match {
        Match {
            field,
            more: Vec::new(),
            op,
            rhs,
            var: None,
        }
    }

    /// The fields it reads, in order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        std::iter::once(self.field).chain(self.more.iter().copied())
    }
}

/// A verdict map: the key (one field or a concatenation), and the verdict per value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vmap {
    pub field: Field,
    pub more: Vec<Field>,
    pub map: MapRef,
    pub var: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapRef {
    Inline(Vec<(Value, Verdict)>),
    /// A named map of the table, `vmap @name`.
    Named(String),
}

/// A statement whose effect depends on state the simulator only models (rates, quotas,
/// connection counts, sets filled at run time): evaluated with that model, and every verdict it
/// takes part in is marked approximate.
#[derive(Clone, Debug, PartialEq)]
pub enum Approx {
    /// `limit rate [over] N/unit [burst B]`: a token bucket; `per_s` tokens a second.
    Limit {
        over: bool,
        per_s: f64,
        burst: f64,
        bytes: bool,
    },
    /// `quota [over] N bytes`.
    Quota { over: bool, bytes: u64 },
    /// `ct count [over] N`: connections counted per rule (or per key in a set/meter).
    CtCount { over: bool, n: u64 },
    /// `add/update @set { key [stmt] }` and `meter name { key stmt }`: the key's own instance
    /// of the inner statement (none: the statement always goes on).
    PerKey {
        key: Vec<Field>,
        inner: Option<Box<Approx>>,
    },
    /// `synproxy …`: the kernel answers a SYN with a cookie itself and takes the ACK that
    /// completes it (the packets go no further: modelled as a drop of TCP packets with SYN or
    /// ACK); the connection it then opens to the server is not modelled.
    Synproxy,
}

impl Eq for Approx {}

/// A value a statement gives a mark: a number, the packet's or the connection's mark, then the
/// bit operations nft allows on it, in order (their right sides are constants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkExpr {
    pub src: MarkSrc,
    pub ops: Vec<(MarkOp, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkSrc {
    Const(u32),
    Meta,
    Ct,
    /// iptables' `CONNMARK --restore-mark`: the connection's mark, and without a connection
    /// the packet's mark is left as it is and the rule goes on (nft's `ct mark` stops the rule).
    XtCt,
    /// Something packetlab does not compute (`numgen`, a map on the ports, a hash): the mark
    /// is unknown after it.
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkOp {
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

impl MarkExpr {
    /// The value, from the packet's mark and the connection's (`None`: not known).
    pub fn eval(&self, meta: Option<u32>, ct: Option<u32>) -> Option<u32> {
        let mut v = match self.src {
            MarkSrc::Const(n) => n,
            MarkSrc::Meta => meta?,
            MarkSrc::Ct | MarkSrc::XtCt => ct?,
            MarkSrc::Unknown => return None,
        };
        for &(op, k) in &self.ops {
            v = match op {
                MarkOp::And => v & k,
                MarkOp::Or => v | k,
                MarkOp::Xor => v ^ k,
                MarkOp::Shl => v.checked_shl(k).unwrap_or(0),
                MarkOp::Shr => v.checked_shr(k).unwrap_or(0),
            };
        }
        Some(v)
    }
}

/// What a set statement does with the packet's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    /// `add @s { … }`: put in when not there (a full set fails the rule).
    Add,
    /// `update @s { … }`: put in, or its timeout started again.
    Update,
    /// `delete @s { … }`: taken out.
    Delete,
}

/// `add @s { ip saddr timeout 10s }`, `update @s { … }`, `delete @s { … }`, and the older
/// `set add ip saddr @s`: the packet's key in a set the rules fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetOp {
    pub op: SetOpKind,
    pub set: String,
    pub key: Vec<Field>,
    /// `timeout T` of the statement, in milliseconds (else the set's own).
    pub timeout_ms: Option<u64>,
}

/// A statement that changes what later tests read: the packet's or connection's mark, or the
/// elements of a set. Applied where it stands among the rule's matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `meta mark set …` (`ct` false) or `ct mark set …` (`ct` true).
    Mark {
        ct: bool,
        expr: MarkExpr,
    },
    Set(SetOp),
    /// `ip daddr set 10.0.0.1`, `tcp dport set 8080`: the packet rewritten. Later tests of
    /// that field read as unknown (the rewrite is not simulated), and the verdict is
    /// approximate.
    Rewrite(Field),
}

/// Statements that change no verdict packetlab decides, kept to be shown and saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `notrack`: the packet is not tracked (its ct state is `untracked`).
    Notrack,
    /// A NAT statement (`masquerade`, `snat to …`, `dnat to …`, `redirect to …`): not simulated.
    Nat(String),
    /// Anything else that only alters the packet or its metadata (`meta mark set …`,
    /// `tcp option maxseg size set rt mtu`, `ct mark set …`), as written.
    Other(String),
}

/// Where a rule came from: the file line (1-based) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub line: u32,
    pub text: String,
    /// The included file it came from, when not the ruleset's own file.
    pub file: Option<String>,
    /// The whole rule as written in an nft file, on one line (continuations joined, comments
    /// left out): saved as it was, so nothing the model does not keep is lost. Empty for rules
    /// from iptables-save.
    pub full: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub origin: Origin,
    pub enabled: bool,
    pub matches: Vec<Match>,
    pub counter: bool,
    pub log: Option<String>,
    pub comment: Option<String>,
    /// None: the rule only counts or logs, and evaluation goes on.
    pub verdict: Option<Verdict>,
    /// A verdict map deciding the verdict (`ct state vmap { … }`); no match: the rule does not.
    pub vmap: Option<Vmap>,
    /// Stateful statements modelled approximately, each with its text as written.
    pub approx: Vec<(Approx, String)>,
    pub actions: Vec<Action>,
    /// `reject with …`: the words after `reject` (`with tcp reset`), and which of `matches` nft
    /// adds for it (the reply's protocol), left out when the rule is written back.
    pub reject_with: Option<(String, Option<usize>)>,
    /// Statements that change what later tests read (marks, sets filled at run time), each
    /// with how many of `matches` come before it.
    pub effects: Vec<(u16, Effect)>,
    /// Why packetlab cannot simulate this rule (`unsupported: …`) and the column it starts
    /// at. Such a rule never matches; a packet that reaches it whose tests before the
    /// unsupported part pass gets an approximate verdict.
    pub unsupported: Option<(u32, String)>,
}

impl Rule {
    pub fn new(line: u32, text: String) -> Rule {
        Rule {
            origin: Origin {
                line,
                text,
                file: None,
                full: String::new(),
            },
            enabled: true,
            matches: Vec::new(),
            counter: false,
            log: None,
            comment: None,
            verdict: None,
            vmap: None,
            approx: Vec::new(),
            actions: Vec::new(),
            reject_with: None,
            effects: Vec::new(),
            unsupported: None,
        }
    }

    /// Whether its effect is modelled only approximately (rates, quotas, dynamic sets).
    pub fn is_approx(&self) -> bool {
        !self.approx.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
    /// The device of a netdev (or inet ingress) chain.
    pub device: Option<String>,
}

impl BaseChain {
    pub fn filter(hook: Hook, priority: i32, policy: Policy) -> BaseChain {
        BaseChain {
            kind: ChainType::Filter,
            hook,
            priority,
            policy,
            device: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub rules: Vec<Rule>,
    pub line: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedSet {
    pub name: String,
    /// The set's type as written (`ipv4_addr`, `inet_proto . inet_service`), kept for saving.
    pub ty: String,
    /// Further declarations kept as written (`flags interval`, `timeout 1h`, `size 65535`).
    pub decls: Vec<String>,
    pub elements: Vec<Value>,
    /// The elements' `comment`s, by element (only kept and saved).
    pub comments: Vec<(Value, String)>,
    /// A verdict map (`map m { type … : verdict; … }`): the verdict of each element.
    pub verdicts: Option<Vec<Verdict>>,
    /// Filled at run time (`add @set`, `update @set`): its members are what the rules put
    /// in, besides its listed elements.
    pub dynamic: bool,
    /// A rule that may fill it is not simulated: a key not found may be in it (approximate).
    pub unsure: bool,
    /// `timeout T` (milliseconds): how long a key rules put in stays, unless they say.
    pub timeout_ms: Option<u64>,
    /// `size N`: how many keys rules may put in (65535 when not said, as nft makes it).
    pub size: Option<u64>,
}

impl NamedSet {
    pub fn new(name: String) -> NamedSet {
        NamedSet {
            name,
            ty: String::new(),
            decls: Vec::new(),
            elements: Vec::new(),
            comments: Vec::new(),
            verdicts: None,
            dynamic: false,
            unsure: false,
            timeout_ms: None,
            size: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub family: Family,
    pub name: String,
    pub chains: Vec<Chain>,
    /// Named sets and maps.
    pub sets: Vec<NamedSet>,
    /// Table statements kept but not simulated (`flowtable`, `counter` objects, `ct helper`…),
    /// as written, with the line they start on.
    pub other: Vec<(u32, String)>,
    /// `flags dormant`: the table's chains are not hooked; it judges nothing.
    pub dormant: bool,
}

impl Table {
    pub fn new(family: Family, name: String) -> Table {
        Table {
            family,
            name,
            chains: Vec::new(),
            sets: Vec::new(),
            other: Vec::new(),
            dormant: false,
        }
    }
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    pub fn set(&self, name: &str) -> Option<&NamedSet> {
        self.sets.iter().find(|s| s.name == name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub tables: Vec<Table>,
    /// `define NAME = VALUE` in file order, the value as written: saved back.
    pub defines: Vec<(String, String)>,
}

/// Names a rule: table, chain and position, stable while rules are toggled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId {
    pub table: u16,
    pub chain: u16,
    pub rule: u32,
}

impl Ruleset {
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.tables
            .get(id.table as usize)?
            .chains
            .get(id.chain as usize)?
            .rules
            .get(id.rule as usize)
    }

    pub fn rule_mut(&mut self, id: RuleId) -> Option<&mut Rule> {
        self.tables
            .get_mut(id.table as usize)?
            .chains
            .get_mut(id.chain as usize)?
            .rules
            .get_mut(id.rule as usize)
    }

    /// Every rule with its id, in file order.
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.tables.iter().enumerate().flat_map(|(t, table)| {
            table.chains.iter().enumerate().flat_map(move |(c, chain)| {
                chain.rules.iter().enumerate().map(move |(r, rule)| {
                    (
                        RuleId {
                            table: t as u16,
                            chain: c as u16,
                            rule: r as u32,
                        },
                        rule,
                    )
                })
            })
        })
    }
}

/// What the values of a field are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Addr,
    Port,
    Proto,
    TcpFlag,
    CtState,
    IcmpType,
    Icmpv6Type,
    IcmpCode,
    Icmpv6Code,
    Name,
    /// A plain number (TTL, length, MSS, mark).
    Int,
    Nfproto,
    EtherType,
    Pkttype,
    CtStatus,
    FibType,
    /// A device's hardware type (`ether`, `loopback`, `ppp`…, ARPHRD_*).
    DevType,
    /// `original` or `reply`.
    CtDir,
    /// A set type packetlab does not read (ether_addr, …).
    Other,
    /// `cs1`, `af41`, `ef`…
    Dscp,
    /// `not-ect`, `ect1`, `ect0`, `ce`.
    Ecn,
    /// `"17:00"`, `"17:00:30"`: seconds since midnight.
    Hour,
    /// `"Monday"`, `"Mon"`: 0 (Sunday) to 6.
    Day,
    /// `"2024-06-01 12:00"`: nanoseconds since the epoch.
    Date,
}

impl Kind {
    pub fn of(f: Field) -> Kind {
        match f {
            Field::IpSaddr | Field::IpDaddr | Field::Ip6Saddr | Field::Ip6Daddr => Kind::Addr,
            Field::IpProtocol | Field::L4Proto => Kind::Proto,
            Field::Sport(_) | Field::Dport(_) => Kind::Port,
            Field::TcpFlags => Kind::TcpFlag,
            Field::CtState => Kind::CtState,
            Field::IcmpType => Kind::IcmpType,
            Field::Icmpv6Type => Kind::Icmpv6Type,
            Field::IcmpCode => Kind::IcmpCode,
            Field::Icmpv6Code => Kind::Icmpv6Code,
            Field::Iifname | Field::Oifname => Kind::Name,
            Field::Ip6Nexthdr => Kind::Proto,
            Field::IpTtl
            | Field::IpLength
            | Field::Ip6Hoplimit
            | Field::Ip6Length
            | Field::TcpMss => Kind::Int,
            Field::Nfproto => Kind::Nfproto,
            Field::EtherProto => Kind::EtherType,
            Field::Pkttype => Kind::Pkttype,
            Field::CtStatus => Kind::CtStatus,
            Field::FibDaddrType => Kind::FibType,
            Field::FibRpf => Kind::Other,
            Field::MetaMark | Field::CtMark => Kind::Int,
            Field::Hdr(HdrField::IpDscp | HdrField::Ip6Dscp) => Kind::Dscp,
            Field::Hdr(HdrField::IpEcn | HdrField::Ip6Ecn) => Kind::Ecn,
            Field::ExtField(_, ExtKey::Nexthdr) => Kind::Proto,
            Field::Hdr(_) | Field::ExtField(..) => Kind::Int,
            Field::ExtHdr(_) | Field::Ipsec => Kind::Other,
            Field::Host(HostKey::IifKind | HostKey::OifKind) => Kind::Name,
            Field::Host(HostKey::FibType) => Kind::FibType,
            Field::Host(_) => Kind::Int,
            Field::DevType { .. } => Kind::DevType,
            Field::CtDirection => Kind::CtDir,
            Field::CtTuple {
                key: TupleKey::Saddr(_) | TupleKey::Daddr(_),
                ..
            } => Kind::Addr,
            Field::CtTuple { .. } => Kind::Port,
            Field::Raw {
                base: RawBase::XtString { .. },
                ..
            } => Kind::Name,
            Field::Raw { .. } => Kind::Int,
            Field::Time(TimeKey::Hour) => Kind::Hour,
            Field::Time(TimeKey::Day) => Kind::Day,
            Field::Time(TimeKey::Time) => Kind::Date,
            Field::Time(_) => Kind::Int,
        }
    }

    /// The largest value of a field (for `>` comparisons): its width where the kind's is not.
    pub(crate) fn max_of(f: Field) -> u64 {
        match f {
            Field::Hdr(HdrField::Ip6Flowlabel) => 0xf_ffff,
            Field::Hdr(HdrField::IpVersion | HdrField::Ip6Version | HdrField::IpHdrLength) => 15,
            Field::ExtField(Ext::Frag, ExtKey::Id) => u32::MAX as u64,
            Field::ExtField(Ext::Frag, ExtKey::FragOff) => 0x1fff,
            Field::ExtField(Ext::Frag, ExtKey::More) => 1,
            Field::ExtField(Ext::Frag, ExtKey::Reserved2) => 3,
            Field::ExtField(..) => 255,
            Field::Time(TimeKey::Hour) => OPEN,
            Field::Time(TimeKey::Time) => i64::MAX as u64,
            Field::MetaMark | Field::CtMark => u32::MAX as u64,
            Field::Host(HostKey::SocketMark) => u32::MAX as u64,
            Field::DevType { .. } => 65535,
            Field::Raw { len, .. } if len < 64 => (1u64 << len) - 1,
            Field::Raw { .. } => u64::MAX,
            _ => Kind::of(f).max(),
        }
    }

    /// The largest value of the field (for `>` comparisons).
    pub(crate) fn max(self) -> u64 {
        match self {
            Kind::Port | Kind::Int | Kind::EtherType => 65535,
            Kind::Dscp => 63,
            Kind::Ecn => 3,
            Kind::Day => 6,
            _ => 255,
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            Kind::Addr => "an address",
            Kind::Port => "a port or service name",
            Kind::Proto => "a protocol",
            Kind::TcpFlag => "a TCP flag",
            Kind::CtState => "a ct state",
            Kind::IcmpType => "an ICMP type",
            Kind::Icmpv6Type => "an ICMPv6 type",
            Kind::IcmpCode => "an ICMP code",
            Kind::Icmpv6Code => "an ICMPv6 code",
            Kind::Name => "an interface name",
            Kind::Int => "a number",
            Kind::Nfproto => "ipv4 or ipv6",
            Kind::EtherType => "an ethertype",
            Kind::Pkttype => "a packet type",
            Kind::CtStatus => "a ct status",
            Kind::FibType => "an address type",
            Kind::DevType => "a device type",
            Kind::CtDir => "original or reply",
            Kind::Other => "a value",
            Kind::Dscp => "a DSCP value",
            Kind::Ecn => "an ECN value",
            Kind::Hour => "a time of day (\"17:00\")",
            Kind::Day => "a day of the week",
            Kind::Date => "a date (\"2024-06-01 12:00\")",
        }
    }
}
