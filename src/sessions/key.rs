//! What identifies a session: the protocol and the unordered pair of endpoints.

use std::cmp::Ordering;
use std::net::IpAddr;

use crate::decode::{Proto, Summary};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SessionProto {
    Tcp,
    Udp,
    /// ICMP echo request/reply, keyed by the echo identifier.
    IcmpEcho,
    Icmpv6Echo,
    /// Any other IP traffic between two addresses, by IP protocol number.
    Ip(u8),
}

impl SessionProto {
    pub fn name(self) -> String {
        match self {
            SessionProto::Tcp => "TCP".into(),
            SessionProto::Udp => "UDP".into(),
            SessionProto::IcmpEcho => "ICMP".into(),
            SessionProto::Icmpv6Echo => "ICMPv6".into(),
            SessionProto::Ip(p) => format!("IP/{p}"),
        }
    }

    pub fn has_ports(self) -> bool {
        matches!(self, SessionProto::Tcp | SessionProto::Udp)
    }
}

/// An address and a port (the echo identifier for ICMP echo, 0 for plain IP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// The table's key: the endpoints in a fixed order, so both directions find the same session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub proto: SessionProto,
    pub lo: Endpoint,
    pub hi: Endpoint,
}

/// Which session a packet belongs to, and which way it goes (`src` is the packet's sender).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub key: SessionKey,
    pub src: Endpoint,
    pub dst: Endpoint,
}

impl Flow {
    /// The flow of a decoded packet, or `None` for traffic that is not IP (ARP…), ICMP errors
    /// (they belong to the flow they quote) and ICMP other than echo.
    pub fn of(s: &Summary) -> Option<Flow> {
        let (src, dst) = (s.src?, s.final_dst.or(s.dst)?);
        let (proto, sp, dp) = match s.proto {
            _ if s.quoted => return None,
            Proto::Tcp if s.tcp.is_some() => (SessionProto::Tcp, s.sport?, s.dport?),
            Proto::Udp | Proto::Dns | Proto::Mdns if s.tcp.is_none() => {
                (SessionProto::Udp, s.sport?, s.dport?)
            }
            Proto::Dns | Proto::Mdns => (SessionProto::Tcp, s.sport?, s.dport?),
            Proto::Icmp => {
                let (id, _) = s.icmp?.echo?;
                if !matches!(s.icmp?.typ, 0 | 8) {
                    return None;
                }
                (SessionProto::IcmpEcho, id, id)
            }
            Proto::Icmpv6 => {
                let (id, _) = s.icmpv6?.echo?;
                (SessionProto::Icmpv6Echo, id, id)
            }
            Proto::Ipv4 | Proto::Ipv6 if s.frag.is_some() => return None,
            Proto::Tcp | Proto::Udp => return None,
            _ => (SessionProto::Ip(s.ip_proto?), 0, 0),
        };
        let a = Endpoint {
            addr: src,
            port: sp,
        };
        let b = Endpoint {
            addr: dst,
            port: dp,
        };
        let (lo, hi) = match a.cmp(&b) {
            Ordering::Greater => (b, a),
            _ => (a, b),
        };
        Some(Flow {
            key: SessionKey { proto, lo, hi },
            src: a,
            dst: b,
        })
    }
}
