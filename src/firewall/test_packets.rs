//! Summaries of packets for the firewall's unit tests: one builder for every test file.

use std::net::{IpAddr, Ipv4Addr};

use crate::decode::{Proto, Summary, TcpInfo};

pub(super) fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// A TCP segment `src:sport → dst:dport` with these flags (sequence and ACK numbers 0).
pub(super) fn tcp_at(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u16) -> Summary {
    Summary {
        src: Some(src),
        dst: Some(dst),
        sport: Some(sport),
        dport: Some(dport),
        ip_proto: Some(6),
        proto: Proto::Tcp,
        tcp: Some(TcpInfo {
            flags,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A UDP datagram `src:sport → dst:dport`.
pub(super) fn udp_at(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Summary {
    Summary {
        src: Some(src),
        dst: Some(dst),
        sport: Some(sport),
        dport: Some(dport),
        ip_proto: Some(17),
        proto: Proto::Udp,
        ..Default::default()
    }
}

/// `tcp_at` between IPv4 addresses.
pub(super) fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, flags: u16) -> Summary {
    tcp_at(v4(src), sport, v4(dst), dport, flags)
}

/// `udp_at` between IPv4 addresses.
pub(super) fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Summary {
    udp_at(v4(src), sport, v4(dst), dport)
}
