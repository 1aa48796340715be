//! The packet as rules see it, and which side of the host each hook is on.

use std::net::IpAddr;

use crate::decode::IpHdr;
use crate::firewall::conntrack::Dir;
use crate::firewall::model::*;

/// The parts of a packet rules can look at.
#[derive(Clone, Copy, Debug)]
pub struct PacketView<'a> {
    pub v6: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 protocol / IPv6 final next header.
    pub l4: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// The TCP flags byte (the eight classic flags).
    pub tcp_flags: Option<u8>,
    pub icmp_type: Option<u8>,
    pub icmpv6_type: Option<u8>,
    /// The interface the packet came in on: read by input-side hooks (`None`: not known, so a
    /// rule reading it gets an approximate answer).
    pub iif: Option<&'a str>,
    /// The interface it goes out on: read by output-side hooks.
    pub oif: Option<&'a str>,
    /// One `ct` bit.
    pub ct: u8,
    /// Bytes counters add: the IP packet's length, as the kernel counts at these hooks.
    pub len: u32,
    pub extra: Extra,
    /// The packet's bytes, for raw payload tests and iptables' `-m string`.
    pub raw: Bytes<'a>,
}

/// The IP packet as captured, and where its transport header and payload start in it. Empty
/// when the caller has no bytes (a test's packet): raw payload reads as unknown then.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bytes<'a> {
    pub ip: &'a [u8],
    /// Offset of the transport header (`@th`), of the payload after it (`@ih`); 0: none.
    pub th: u32,
    pub ih: u32,
    /// The capture holds the whole packet (not cut by the snapshot length).
    pub whole: bool,
}

/// What fewer rules read: kept apart so a packet for a test is written with `..Default`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Extra {
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: Option<u8>,
    /// The next-header field of the fixed IPv6 header.
    pub ip6_nexthdr: Option<u8>,
    /// The TCP MSS option's value, when present.
    pub mss: Option<u16>,
    /// `meta pkttype`: host 0, broadcast 1, multicast 2.
    pub pkttype: u8,
    /// The ICMP or ICMPv6 code.
    pub icmp_code: Option<u8>,
    /// The destination is one of the simulated host's addresses (`fib daddr type local`).
    pub dst_local: bool,
    /// The packet's time, nanoseconds: rate models (`limit`) and `meta hour/day/time` read it.
    pub ts_ns: u64,
    /// `meta mark` as the packet enters the walk: 0 from outside (packetlab cannot see a mark
    /// the sender's host gave it), or what chains before connection tracking set.
    pub mark: u32,
    /// The connection it belongs to, as conntrack numbers it: what `ct mark` is kept by.
    pub conn: Option<u64>,
    /// The IP header's other fields (`ip dscp`, `ip frag-off`, `exthdr …`): `None` reads as
    /// all zero. An option so that the compiled matcher's signature of a ruleset that reads
    /// none of them hashes one word for it, not 32 bytes.
    pub ip: Option<IpHdr>,
    /// The datagram was reassembled from fragments: its fragment fields are the kernel's
    /// reassembled header's, which the capture does not show (they read as unknown).
    pub reassembled: bool,
    /// The time zone's offset from UTC at `ts_ns`, seconds (only set when a rule reads the time).
    pub utc_off: i32,
    /// Its direction in its connection (`ct direction`, `ct original …`).
    pub ct_dir: Dir,
}

/// Which side of the host a hook is on: what `iif`/`oif` read there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// ingress, prerouting, input: the input interface is known, there is no output one.
    In,
    /// output, postrouting, egress: the other way round.
    Out,
    /// forward: the input interface is the capture's; the output one is not known.
    Fwd,
}

impl Class {
    pub fn of(h: Hook) -> Class {
        match h {
            Hook::Ingress | Hook::Prerouting | Hook::Input => Class::In,
            Hook::Output | Hook::Postrouting | Hook::Egress => Class::Out,
            Hook::Forward => Class::Fwd,
        }
    }
}
