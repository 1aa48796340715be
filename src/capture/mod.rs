//! Where frames come from: capture files (pcap, pcapng, stdin), live interfaces, and where they go
//! (pcapng writer). Everything here yields [`Frame`]s; nothing here knows about terminals.

pub mod channel;
pub mod file;
pub mod lab_net;
pub mod live;
pub mod replay;
pub mod write;

use std::fmt;

/// A pcap LINKTYPE_ number. Only the low 16 bits are the link type: the upper bits of the pcap
/// header field carry FCS information (see `tcp_header_heapoverflow.pcap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    pub fn name(self) -> &'static str {
        match self {
            Self::NULL => "null",
            Self::ETHERNET => "ethernet",
            Self::RAW => "raw",
            Self::LOOP => "loop",
            Self::LINUX_SLL => "sll",
            Self::IPV4 => "ipv4",
            Self::IPV6 => "ipv6",
            Self::LINUX_SLL2 => "sll2",
            _ => "unknown",
        }
    }

    pub fn is_supported(self) -> bool {
        self.name() != "unknown"
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Nanoseconds since the Unix epoch. Signed so that odd capture files (negative or pre-1970
/// timestamps) still order and print; 64 bits reach past the year 2262.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_parts(secs: i64, nanos: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_nanos().min(i64::MAX as u128) as i64)
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Epoch seconds with nine decimals, as tshark prints `frame.time_epoch`.
    pub fn epoch_string(self) -> String {
        format!("{}.{:09}", self.secs(), self.subsec_nanos())
    }
}

/// One captured frame, owned. Sources send these (in batches) to the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ts: Timestamp,
    pub link_type: LinkType,
    pub data: Vec<u8>,
    /// Length on the wire; `data.len()` is the captured length.
    pub orig_len: u32,
    /// Index into the source's interface list (pcapng IDB index, or `-i` order for live capture).
    pub iface: u16,
}

impl Frame {
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            ts: self.ts,
            link_type: self.link_type,
            data: &self.data,
            orig_len: self.orig_len,
            iface: self.iface,
        }
    }
}

/// A frame borrowed from a reader's buffer: the zero-copy form the hot path uses.
#[derive(Clone, Copy, Debug)]
pub struct FrameRef<'a> {
    pub ts: Timestamp,
    pub link_type: LinkType,
    pub data: &'a [u8],
    pub orig_len: u32,
    pub iface: u16,
}

impl FrameRef<'_> {
    pub fn to_owned(&self) -> Frame {
        Frame {
            ts: self.ts,
            link_type: self.link_type,
            data: self.data.to_vec(),
            orig_len: self.orig_len,
            iface: self.iface,
        }
    }
}

/// An interface a source captures on (live) or that a file declares (pcapng IDB).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: Option<String>,
    pub link_type: LinkType,
}
