//! The lab network's shape: two segments, a router between them, and the hosts, with their
//! names, MACs and addresses. Fixed, so that rules, filters and the README can name them.
//!
//! ```text
//!   alice 192.168.1.10 ─┐                       ┌─ server   203.0.113.10
//!   bob   192.168.1.11 ─┼─ lab-lan0 ── gw ── lab-wan0 ─┼─ resolver 203.0.113.53
//!                       │  192.168.1.1   203.0.113.1   │
//! ```
//! The LAN is private (RFC 1918, with ULA fd00:1::/64), the WAN documentation space
//! (RFC 5737 203.0.113.0/24, RFC 3849 2001:db8::/64): none of it exists outside packetlab.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::frame::Mac;

/// A segment: a switch and the capture interface that sees every frame on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    Lan = 0,
    Wan = 1,
}

impl Segment {
    pub const ALL: [Segment; 2] = [Segment::Lan, Segment::Wan];

    /// The capture interface's name.
    pub fn iface(self) -> &'static str {
        match self {
            Segment::Lan => "lab-lan0",
            Segment::Wan => "lab-wan0",
        }
    }
}

/// One network interface of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    /// The device name the node's firewall sees (`iifname`, `oifname`).
    pub dev: &'static str,
    pub segment: Segment,
    pub mac: Mac,
    pub v4: Ipv4Addr,
    pub prefix: u8,
    pub v6: Ipv6Addr,
}

/// A host: one port, a default gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSpec {
    pub name: &'static str,
    pub port: Port,
    pub gateway: Ipv4Addr,
    /// An IPv4 link-local address (169.254/16) it also answers on.
    pub link_local_v4: Option<Ipv4Addr>,
    /// What it serves, for the lab pane and `--lab list`.
    pub serves: &'static str,
}

pub const GW_LAN: Port = Port {
    dev: "lan0",
    segment: Segment::Lan,
    mac: [0x02, 0, 0, 0, 1, 1],
    v4: Ipv4Addr::new(192, 168, 1, 1),
    prefix: 24,
    v6: Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1),
};

pub const GW_WAN: Port = Port {
    dev: "wan0",
    segment: Segment::Wan,
    mac: [0x02, 0, 0, 0, 2, 1],
    v4: Ipv4Addr::new(203, 0, 113, 1),
    prefix: 24,
    v6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
};

const fn lan(last: u8, name: &'static str, serves: &'static str) -> HostSpec {
    HostSpec {
        name,
        port: Port {
            dev: "eth0",
            segment: Segment::Lan,
            mac: [0x02, 0, 0, 0, 1, last],
            v4: Ipv4Addr::new(192, 168, 1, last),
            prefix: 24,
            v6: Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, last as u16),
        },
        gateway: GW_LAN.v4,
        link_local_v4: Some(Ipv4Addr::new(169, 254, 1, last)),
        serves,
    }
}

const fn wan(last: u8, name: &'static str, serves: &'static str) -> HostSpec {
    HostSpec {
        name,
        port: Port {
            dev: "eth0",
            segment: Segment::Wan,
            mac: [0x02, 0, 0, 0, 2, last],
            v4: Ipv4Addr::new(203, 0, 113, last),
            prefix: 24,
            v6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last as u16),
        },
        gateway: GW_WAN.v4,
        link_local_v4: None,
        serves,
    }
}

pub const ALICE: HostSpec = lan(10, "alice", "a LAN client");
pub const BOB: HostSpec = lan(11, "bob", "a LAN client; UDP echo 7");
pub const SERVER: HostSpec = wan(
    10,
    "server",
    "TCP echo 7, SSH-like 22, HTTP 80, UDP echo 7, TCP sink 9",
);
pub const RESOLVER: HostSpec = wan(53, "resolver", "DNS 53 for *.lab.test");

/// Every host, in the order the network numbers them (the router is node 0).
pub const HOSTS: [HostSpec; 4] = [ALICE, BOB, SERVER, RESOLVER];

/// The host with this name.
pub fn host(name: &str) -> Option<&'static HostSpec> {
    HOSTS.iter().find(|h| h.name == name)
}

/// The host or router port owning `a`, by name: for the lab pane's labels.
pub fn owner(a: Ipv4Addr) -> Option<&'static str> {
    if a == GW_LAN.v4 || a == GW_WAN.v4 {
        return Some("gw");
    }
    HOSTS
        .iter()
        .find(|h| h.port.v4 == a || h.link_local_v4 == Some(a))
        .map(|h| h.name)
}

/// The link-local IPv6 address of a MAC (EUI-64), as every IPv6 interface has.
pub fn link_local_v6(mac: Mac) -> Ipv6Addr {
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([mac[0] ^ 2, mac[1]]),
        u16::from_be_bytes([mac[2], 0xff]),
        u16::from_be_bytes([0xfe, mac[3]]),
        u16::from_be_bytes([mac[4], mac[5]]),
    )
}
