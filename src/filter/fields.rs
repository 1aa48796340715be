//! The names a display filter knows — protocols and fields — and what each reads from a packet.
//!
//! A field may occur several times in one packet (`ip.addr` is the source and the destination,
//! and the addresses of the packet an ICMP error quotes): a read yields every occurrence, as
//! Wireshark's fields do.

use std::net::IpAddr;

use crate::decode::{Proto, TcpInfo};
use crate::firewall::eval::{Final, Read};

use super::packet::FilterPacket;

/// A protocol name: true when the packet has that layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layer {
    Frame,
    Eth,
    Vlan,
    Arp,
    Ip,
    Ipv6,
    Icmp,
    Icmpv6,
    Igmp,
    Tcp,
    Udp,
    Sctp,
    Gre,
    Esp,
    Dns,
    Mdns,
}

pub(crate) const LAYERS: &[(&str, Layer)] = &[
    ("frame", Layer::Frame),
    ("eth", Layer::Eth),
    ("vlan", Layer::Vlan),
    ("arp", Layer::Arp),
    ("ip", Layer::Ip),
    ("ipv6", Layer::Ipv6),
    ("icmp", Layer::Icmp),
    ("icmpv6", Layer::Icmpv6),
    ("igmp", Layer::Igmp),
    ("tcp", Layer::Tcp),
    ("udp", Layer::Udp),
    ("sctp", Layer::Sctp),
    ("gre", Layer::Gre),
    ("esp", Layer::Esp),
    ("dns", Layer::Dns),
    ("mdns", Layer::Mdns),
];

/// What values a field holds, which decides how its right-hand side is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Ipv4,
    Ipv6,
    /// An unsigned integer no larger than this.
    Int(u64),
    /// 0 or 1 (also `True` / `False`).
    Bool,
    /// A MAC address, held as a 48-bit integer.
    Mac,
    Str,
    /// accept / drop / reject.
    Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    IpAddr,
    IpSrc,
    IpDst,
    IpProto,
    IpTtl,
    Ip6Addr,
    Ip6Src,
    Ip6Dst,
    Ip6Nxt,
    TcpPort,
    TcpSrcport,
    TcpDstport,
    TcpFlags,
    /// One bit of the TCP flags.
    TcpFlag(u16),
    UdpPort,
    UdpSrcport,
    UdpDstport,
    EthAddr,
    EthSrc,
    EthDst,
    VlanId,
    IcmpType,
    IcmpCode,
    Icmpv6Type,
    Icmpv6Code,
    ArpOpcode,
    FrameLen,
    FrameCapLen,
    DnsQryName,
    Verdict,
    Session,
}

pub(crate) const FIELDS: &[(&str, Field, Kind)] = &[
    ("ip.addr", Field::IpAddr, Kind::Ipv4),
    ("ip.src", Field::IpSrc, Kind::Ipv4),
    ("ip.dst", Field::IpDst, Kind::Ipv4),
    ("ip.proto", Field::IpProto, Kind::Int(0xff)),
    ("ip.ttl", Field::IpTtl, Kind::Int(0xff)),
    ("ipv6.addr", Field::Ip6Addr, Kind::Ipv6),
    ("ipv6.src", Field::Ip6Src, Kind::Ipv6),
    ("ipv6.dst", Field::Ip6Dst, Kind::Ipv6),
    ("ipv6.nxt", Field::Ip6Nxt, Kind::Int(0xff)),
    ("tcp.port", Field::TcpPort, Kind::Int(0xffff)),
    ("tcp.srcport", Field::TcpSrcport, Kind::Int(0xffff)),
    ("tcp.dstport", Field::TcpDstport, Kind::Int(0xffff)),
    ("tcp.flags", Field::TcpFlags, Kind::Int(0xfff)),
    ("tcp.flags.fin", Field::TcpFlag(TcpInfo::FIN), Kind::Bool),
    ("tcp.flags.syn", Field::TcpFlag(TcpInfo::SYN), Kind::Bool),
    ("tcp.flags.reset", Field::TcpFlag(TcpInfo::RST), Kind::Bool),
    ("tcp.flags.push", Field::TcpFlag(TcpInfo::PSH), Kind::Bool),
    ("tcp.flags.ack", Field::TcpFlag(TcpInfo::ACK), Kind::Bool),
    ("tcp.flags.urg", Field::TcpFlag(TcpInfo::URG), Kind::Bool),
    ("tcp.flags.ece", Field::TcpFlag(TcpInfo::ECE), Kind::Bool),
    ("tcp.flags.cwr", Field::TcpFlag(TcpInfo::CWR), Kind::Bool),
    ("tcp.flags.ae", Field::TcpFlag(TcpInfo::AE), Kind::Bool),
    ("udp.port", Field::UdpPort, Kind::Int(0xffff)),
    ("udp.srcport", Field::UdpSrcport, Kind::Int(0xffff)),
    ("udp.dstport", Field::UdpDstport, Kind::Int(0xffff)),
    ("eth.addr", Field::EthAddr, Kind::Mac),
    ("eth.src", Field::EthSrc, Kind::Mac),
    ("eth.dst", Field::EthDst, Kind::Mac),
    ("vlan.id", Field::VlanId, Kind::Int(0xfff)),
    ("icmp.type", Field::IcmpType, Kind::Int(0xff)),
    ("icmp.code", Field::IcmpCode, Kind::Int(0xff)),
    ("icmpv6.type", Field::Icmpv6Type, Kind::Int(0xff)),
    ("icmpv6.code", Field::Icmpv6Code, Kind::Int(0xff)),
    ("arp.opcode", Field::ArpOpcode, Kind::Int(0xffff)),
    ("frame.len", Field::FrameLen, Kind::Int(u32::MAX as u64)),
    (
        "frame.cap_len",
        Field::FrameCapLen,
        Kind::Int(u32::MAX as u64),
    ),
    ("dns.qry.name", Field::DnsQryName, Kind::Str),
    ("verdict", Field::Verdict, Kind::Verdict),
    ("session", Field::Session, Kind::Int(u64::MAX)),
];

pub(crate) fn layer(name: &str) -> Option<Layer> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

pub(crate) fn field(name: &str) -> Option<(Field, Kind)> {
    FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, k)| (*f, *k))
}

pub(crate) fn verdict_code(v: Final) -> u64 {
    match v {
        Final::Accept => 0,
        Final::Drop => 1,
        Final::Reject => 2,
    }
}

pub(crate) fn verdict_of_name(name: &str) -> Option<u64> {
    Some(match name {
        "accept" => 0,
        "drop" => 1,
        "reject" => 2,
        _ => return None,
    })
}

fn mac(m: [u8; 6]) -> u64 {
    m.iter().fold(0, |acc, b| acc << 8 | *b as u64)
}

/// The packet an ICMP error quotes carries this transport protocol, its ports read.
fn quoted(p: &FilterPacket<'_>, proto: u8) -> bool {
    let s = p.summary;
    s.quoted && s.inner.is_some_and(|i| i.proto == proto)
}

/// A TCP header, even one cut short after its ports (tshark still shows a malformed TCP layer).
/// The type of the ICMP (1) or ICMPv6 (58) query an ICMP error quotes (tshark decodes it too).
fn quoted_query(p: &FilterPacket<'_>, proto: u8) -> Option<u8> {
    let i = p.summary.inner.filter(|i| i.proto == proto)?;
    i.query.map(|(t, _)| t)
}

fn has_tcp(p: &FilterPacket<'_>) -> bool {
    let s = p.summary;
    s.tcp.is_some() || (s.ip_proto == Some(6) && !s.quoted && s.sport.is_some()) || quoted(p, 6)
}

fn has_udp(p: &FilterPacket<'_>) -> bool {
    let s = p.summary;
    (s.ip_proto == Some(17) && !s.quoted && s.sport.is_some()) || quoted(p, 17)
}

/// Whether the packet has this layer (tshark's test of a bare protocol name).
pub(crate) fn has_layer(l: Layer, p: &FilterPacket<'_>) -> bool {
    let s = p.summary;
    let inner_v6 = s.inner.map(|i| i.src.is_ipv6());
    match l {
        Layer::Frame => true,
        Layer::Eth => s.eth_src.is_some(),
        Layer::Vlan => s.vlan.is_some(),
        Layer::Arp => s.arp.is_some(),
        // A header too malformed to give addresses is still the layer (the topmost one).
        Layer::Ip => {
            matches!(s.src, Some(IpAddr::V4(_)))
                || s.proto == Proto::Ipv4
                || inner_v6 == Some(false)
        }
        Layer::Ipv6 => {
            matches!(s.src, Some(IpAddr::V6(_))) || s.proto == Proto::Ipv6 || inner_v6 == Some(true)
        }
        Layer::Icmp => s.icmp.is_some(),
        Layer::Icmpv6 => s.icmpv6.is_some(),
        Layer::Igmp => s.proto == Proto::Igmp,
        Layer::Tcp => has_tcp(p),
        Layer::Udp => has_udp(p),
        Layer::Sctp => s.proto == Proto::Sctp,
        Layer::Gre => s.proto == Proto::Gre,
        Layer::Esp => s.proto == Proto::Esp,
        Layer::Dns => s.proto == Proto::Dns,
        Layer::Mdns => s.proto == Proto::Mdns,
    }
}

/// Up to four occurrences of a field (ip.addr: source, destination and the quoted pair).
pub(crate) struct Occurrences<'a> {
    buf: [Read<'a>; 4],
    n: usize,
}

impl<'a> Occurrences<'a> {
    fn new() -> Self {
        Occurrences {
            buf: [Read::Int(0); 4],
            n: 0,
        }
    }

    fn push(&mut self, r: Read<'a>) {
        if self.n < self.buf.len() {
            self.buf[self.n] = r;
            self.n += 1;
        }
    }

    fn push_opt<T>(&mut self, v: Option<T>, f: impl FnOnce(T) -> Read<'a>) {
        if let Some(v) = v {
            self.push(f(v));
        }
    }

    pub(crate) fn as_slice(&self) -> &[Read<'a>] {
        &self.buf[..self.n]
    }
}

fn int(v: impl Into<u64>) -> Read<'static> {
    Read::Int(v.into())
}

/// Every occurrence of a non-string field in the packet (none: the field is absent).
pub(crate) fn read<'a>(f: Field, p: &FilterPacket<'a>) -> Occurrences<'a> {
    let s = p.summary;
    let mut o = Occurrences::new();
    let v4 = |a: Option<IpAddr>| a.filter(|a| a.is_ipv4());
    let v6 = |a: Option<IpAddr>| a.filter(|a| a.is_ipv6());
    let (isrc, idst) = (s.inner.map(|i| i.src), s.inner.map(|i| i.dst));
    let tcp = has_tcp(p);
    let udp = has_udp(p);
    match f {
        Field::IpAddr => {
            for a in [v4(s.src), v4(s.dst), v4(isrc), v4(idst)] {
                o.push_opt(a, Read::Addr);
            }
        }
        Field::IpSrc => {
            o.push_opt(v4(s.src), Read::Addr);
            o.push_opt(v4(isrc), Read::Addr);
        }
        Field::IpDst => {
            o.push_opt(v4(s.dst), Read::Addr);
            o.push_opt(v4(idst), Read::Addr);
        }
        Field::IpProto => {
            if v4(s.src).is_some() {
                o.push_opt(s.ip_proto, int);
            }
            if let Some(i) = s.inner.filter(|i| i.src.is_ipv4()) {
                o.push(int(i.proto));
            }
        }
        Field::IpTtl => {
            if v4(s.src).is_some() {
                o.push_opt(s.ttl, int);
            }
        }
        Field::Ip6Addr => {
            for a in [v6(s.src), v6(s.dst), v6(isrc), v6(idst)] {
                o.push_opt(a, Read::Addr);
            }
        }
        Field::Ip6Src => {
            o.push_opt(v6(s.src), Read::Addr);
            o.push_opt(v6(isrc), Read::Addr);
        }
        Field::Ip6Dst => {
            o.push_opt(v6(s.dst), Read::Addr);
            o.push_opt(v6(idst), Read::Addr);
        }
        Field::Ip6Nxt => o.push_opt(s.ipv6_nxt, int),
        Field::TcpPort | Field::TcpSrcport | Field::TcpDstport if !tcp => {}
        Field::UdpPort | Field::UdpSrcport | Field::UdpDstport if !udp => {}
        Field::TcpPort | Field::UdpPort => {
            o.push_opt(s.sport, int);
            o.push_opt(s.dport, int);
        }
        Field::TcpSrcport | Field::UdpSrcport => o.push_opt(s.sport, int),
        Field::TcpDstport | Field::UdpDstport => o.push_opt(s.dport, int),
        Field::TcpFlags => o.push_opt(s.tcp, |t| int(t.flags)),
        Field::TcpFlag(bit) => o.push_opt(s.tcp, |t| int(t.has(bit))),
        Field::EthAddr => {
            o.push_opt(s.eth_src, |m| int(mac(m)));
            o.push_opt(s.eth_dst, |m| int(mac(m)));
        }
        Field::EthSrc => o.push_opt(s.eth_src, |m| int(mac(m))),
        Field::EthDst => o.push_opt(s.eth_dst, |m| int(mac(m))),
        Field::VlanId => o.push_opt(s.vlan, int),
        Field::IcmpType => {
            o.push_opt(s.icmp, |i| int(i.typ));
            o.push_opt(quoted_query(p, 1), int);
        }
        Field::IcmpCode => o.push_opt(s.icmp, |i| int(i.code)),
        Field::Icmpv6Type => {
            o.push_opt(s.icmpv6, |i| int(i.typ));
            o.push_opt(quoted_query(p, 58), int);
        }
        Field::Icmpv6Code => o.push_opt(s.icmpv6, |i| int(i.code)),
        Field::ArpOpcode => o.push_opt(s.arp, |a| int(a.op)),
        Field::FrameLen => o.push(int(p.len)),
        Field::FrameCapLen => o.push(int(p.data.len() as u64)),
        Field::Verdict => o.push_opt(p.verdict, |v| int(verdict_code(v))),
        Field::Session => o.push_opt(p.session, int),
        Field::DnsQryName => {}
    }
    o
}

/// The value of a string field, when present.
pub(crate) fn read_str(f: Field, p: &FilterPacket<'_>) -> Option<String> {
    match f {
        Field::DnsQryName => crate::decode::dns::qname_of(p.summary, p.data),
        _ => None,
    }
}
