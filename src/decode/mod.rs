//! Bytes → meaning. One walk over the layers serves two products:
//! - [`Summary`]: a small `Copy` struct for every packet (the list, sessions, firewall, printers),
//!   filled with no allocation at all;
//! - [`detail::Tree`]: layers → fields with the byte range of each, built only for the packet a
//!   person selects.
//!
//! Both come from the same code, generic over a [`Sink`]: the summary path uses [`NoSink`], whose
//! `ACTIVE = false` lets the compiler drop every field description, so the two products cannot
//! drift apart and the hot path pays nothing for the detail view.
//!
//! A truncated or malformed packet decodes as far as its bytes allow and carries an `error`; every
//! read is bounds-checked, so no packet can panic the decoder.

pub mod detail;
pub mod dns;
pub mod info;
mod ip;
mod link;
pub mod reassembly;
mod transport;

pub use transport::LAB_CARRIER_PORTS;

use std::net::IpAddr;
use std::ops::Range;

use crate::capture::LinkType;

/// The topmost protocol decoded, as named in the Protocol column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Proto {
    #[default]
    Unknown,
    Ethernet,
    Llc,
    Sll,
    Null,
    Arp,
    Rarp,
    Ipv4,
    Ipv6,
    Icmp,
    Icmpv6,
    Igmp,
    Gre,
    Esp,
    Sctp,
    Tcp,
    Udp,
    Dns,
    Mdns,
}

impl Proto {
    pub const ALL: [Proto; 19] = [
        Proto::Unknown,
        Proto::Ethernet,
        Proto::Llc,
        Proto::Sll,
        Proto::Null,
        Proto::Arp,
        Proto::Rarp,
        Proto::Ipv4,
        Proto::Ipv6,
        Proto::Icmp,
        Proto::Icmpv6,
        Proto::Igmp,
        Proto::Gre,
        Proto::Esp,
        Proto::Sctp,
        Proto::Tcp,
        Proto::Udp,
        Proto::Dns,
        Proto::Mdns,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Proto::Unknown => "Unknown",
            Proto::Ethernet => "Ethernet",
            Proto::Llc => "LLC",
            Proto::Sll => "SLL",
            Proto::Null => "Null",
            Proto::Arp => "ARP",
            Proto::Rarp => "RARP",
            Proto::Ipv4 => "IPv4",
            Proto::Ipv6 => "IPv6",
            Proto::Icmp => "ICMP",
            Proto::Icmpv6 => "ICMPv6",
            Proto::Igmp => "IGMP",
            Proto::Gre => "GRE",
            Proto::Esp => "ESP",
            Proto::Sctp => "SCTP",
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Dns => "DNS",
            Proto::Mdns => "MDNS",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_perm: bool,
    /// Timestamp option (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    /// The header carries options (the kernel's tracker rereads window scale and SACK-permitted
    /// only then).
    pub options: bool,
    /// The highest right edge of the first well-formed SACK option's blocks, or the ACK number
    /// if none is later (the kernel's `tcp_sack`, folded with sequence-space `after`).
    pub sack: Option<u32>,
}

impl TcpInfo {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;

    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// ICMP / ICMPv6 type and code, with the echo identifier and sequence when it is an echo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpInfo {
    pub typ: u8,
    pub code: u8,
    pub echo: Option<(u16, u16)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpInfo {
    pub op: u16,
    pub sender_mac: Option<[u8; 6]>,
    pub sender_ip: Option<std::net::Ipv4Addr>,
    pub target_mac: Option<[u8; 6]>,
    pub target_ip: Option<std::net::Ipv4Addr>,
}

/// The packet an ICMP error quotes: which flow the error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inner {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// A quoted ICMP query (echo, timestamp, information, address mask; ICMPv6 echo): its type
    /// and identifier, which name its flow as ports name a TCP or UDP one.
    pub query: Option<(u8, u16)>,
}

/// An IP fragment: the datagram's identity and this piece's place in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragInfo {
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    pub more: bool,
    /// Bytes of datagram payload this fragment carries (from the header, not the capture).
    pub len: u32,
}

/// IP header fields only the firewall's rules read (`ip dscp`, `ip frag-off`, `ip6 flowlabel`,
/// `exthdr …`): the outermost IP header's (the inner one's in the lab's tunnel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IpHdr {
    /// IPv4 header length, in 32-bit words.
    pub ihl: u8,
    /// IPv4 type of service / IPv6 traffic class (DSCP and ECN).
    pub tos: u8,
    /// IPv4 identification.
    pub id: u16,
    /// IPv4 flags and fragment offset, the 16 bits as in the header.
    pub frag_off: u16,
    /// IPv6 flow label (20 bits).
    pub flowlabel: u32,
    pub ext: Ext6,
}

/// The IPv6 extension headers of a packet, as `exthdr` reads them: the first of each type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ext6 {
    /// Which are present: bits of [`Ext6::HBH`] and the others.
    pub present: u8,
    /// Hop-by-hop options: next header, length field.
    pub hbh: [u8; 2],
    /// Routing: next header, length field, type, segments left.
    pub rt: [u8; 4],
    /// Destination options: next header, length field.
    pub dst: [u8; 2],
    /// Mobility: next header, length field, MH type.
    pub mh: [u8; 3],
    /// Fragment: next header, reserved byte.
    pub frag: [u8; 2],
    /// Fragment: offset (13 bits, in 8-byte units), reserved (2 bits) and M flag, as in the header.
    pub frag_off: u16,
    pub frag_id: u32,
}

impl Ext6 {
    pub const HBH: u8 = 1;
    pub const RT: u8 = 2;
    pub const FRAG: u8 = 4;
    pub const DST: u8 = 8;
    pub const MH: u8 = 16;

    pub fn has(&self, bit: u8) -> bool {
        self.present & bit != 0
    }
}

/// Everything the list, sessions and firewall need from one packet, without allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub link: LinkType,
    pub eth_src: Option<[u8; 6]>,
    pub eth_dst: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    /// Outermost IP header's addresses; in the lab's tunnel ([`LAB_CARRIER_PORTS`]) the inner
    /// packet's, with its ports and TCP, so that the sessions see the TCP it carries.
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// The final destination named by an IPv6 routing header with segments left: the transport's
    /// real peer (tshark's conversations use it too).
    pub final_dst: Option<IpAddr>,
    /// IPv4 protocol, or IPv6 next header after the extension headers.
    pub ip_proto: Option<u8>,
    /// The next-header field of the IPv6 fixed header (tshark's `ipv6.nxt`).
    pub ipv6_nxt: Option<u8>,
    pub ttl: Option<u8>,
    /// Length of the (outermost) IP packet, header included: what firewall counters count.
    pub ip_len: u32,
    pub frag: Option<FragInfo>,
    pub ip: IpHdr,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// Ports (and `src`/`dst` of `inner`) came from the packet an ICMP error quotes.
    pub quoted: bool,
    pub inner: Option<Inner>,
    pub tcp: Option<TcpInfo>,
    pub icmp: Option<IcmpInfo>,
    pub icmpv6: Option<IcmpInfo>,
    pub arp: Option<ArpInfo>,
    /// Application payload (after the transport header) within the frame's bytes.
    pub payload: (u32, u32),
    /// The IP packet within the frame's bytes (the inner one in the lab's tunnel): start and
    /// captured end; the firewall's raw payload tests read it. `(0, 0)`: none.
    pub ip_at: (u32, u32),
    /// Where the transport header starts in the frame (0: not reached).
    pub l4_at: u32,
    /// The payload length the headers declare (may exceed the captured bytes).
    pub payload_len: u32,
    pub proto: Proto,
    pub error: Option<&'static str>,
}

impl Summary {
    pub fn payload_range(&self) -> Range<usize> {
        self.payload.0 as usize..self.payload.1 as usize
    }

    pub fn tcp_flags(&self) -> Option<u16> {
        self.tcp.map(|t| t.flags)
    }

    fn fail(&mut self, msg: &'static str) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }
}

/// Receives the description of each layer and field as the decoder walks the bytes.
pub trait Sink {
    /// False for sinks that ignore descriptions: field text is then never formatted.
    const ACTIVE: bool;
    fn layer(&mut self, range: Range<usize>, title: String);
    fn field(&mut self, depth: u8, range: Range<usize>, text: String);
}

/// The sink of the hot path: keeps nothing.
pub struct NoSink;

impl Sink for NoSink {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn layer(&mut self, _: Range<usize>, _: String) {}
    #[inline(always)]
    fn field(&mut self, _: u8, _: Range<usize>, _: String) {}
}

/// Describe a layer: only formats when the sink is active.
macro_rules! layer {
    ($dec:expr, $range:expr, $($fmt:tt)*) => {
        if S::ACTIVE {
            $dec.sink.layer($range, format!($($fmt)*));
        }
    };
}

/// Describe a field at `depth` (1 = directly under its layer).
macro_rules! field {
    ($dec:expr, $depth:expr, $range:expr, $($fmt:tt)*) => {
        if S::ACTIVE {
            $dec.sink.field($depth, $range, format!($($fmt)*));
        }
    };
}
pub(crate) use {field, layer};

/// Bounds-checked big-endian reads over the frame.
pub(crate) struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    #[inline]
    pub fn u8(&self, at: usize) -> Option<u8> {
        self.0.get(at).copied()
    }
    #[inline]
    pub fn u16(&self, at: usize) -> Option<u16> {
        Some(u16::from_be_bytes(self.0.get(at..at + 2)?.try_into().ok()?))
    }
    #[inline]
    pub fn u32(&self, at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(self.0.get(at..at + 4)?.try_into().ok()?))
    }
    #[inline]
    pub fn arr<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at + N)?.try_into().ok()
    }
}

/// The walk over one frame's layers.
pub(crate) struct Dec<'a, 'b, S: Sink> {
    pub b: Bytes<'a>,
    pub s: &'b mut Summary,
    pub sink: &'b mut S,
    /// Inside the lab's tunnel (see `transport::LAB_CARRIER_PORTS`): not decoded as one again.
    pub tunneled: bool,
}

/// Decodes one frame into its summary (the hot path: no allocation).
pub fn decode(link: LinkType, data: &[u8]) -> Summary {
    let mut s = Summary::default();
    walk(link, data, &mut s, &mut NoSink);
    s
}

/// Decodes one frame, describing every layer and field to `sink`.
pub fn walk<S: Sink>(link: LinkType, data: &[u8], s: &mut Summary, sink: &mut S) {
    s.link = link;
    let mut d = Dec {
        b: Bytes(data),
        s,
        sink,
        tunneled: false,
    };
    d.link(link);
}

pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests;
