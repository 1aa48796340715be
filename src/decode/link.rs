//! Link layers: Ethernet (with 802.1Q / 802.1ad tags), Linux cooked v1/v2, BSD null/loop, raw IP.

use super::{field, fmt_mac, layer, Dec, Proto, Sink};
use crate::capture::LinkType;

pub(crate) const ETH_IPV4: u16 = 0x0800;
pub(crate) const ETH_ARP: u16 = 0x0806;
pub(crate) const ETH_RARP: u16 = 0x8035;
pub(crate) const ETH_VLAN: u16 = 0x8100;
pub(crate) const ETH_QINQ: u16 = 0x88a8;
pub(crate) const ETH_QINQ_OLD: u16 = 0x9100;
pub(crate) const ETH_IPV6: u16 = 0x86dd;

pub(crate) fn ethertype_name(t: u16) -> &'static str {
    match t {
        ETH_IPV4 => "IPv4",
        ETH_ARP => "ARP",
        ETH_RARP => "RARP",
        ETH_VLAN => "802.1Q",
        ETH_QINQ => "802.1ad",
        ETH_IPV6 => "IPv6",
        0x8847 => "MPLS",
        0x888e => "EAPOL",
        0x88cc => "LLDP",
        _ => "unknown",
    }
}

impl<S: Sink> Dec<'_, '_, S> {
    pub(crate) fn link(&mut self, link: LinkType) {
        let len = self.b.0.len();
        match link {
            LinkType::ETHERNET => self.ethernet(),
            LinkType::LINUX_SLL => self.sll(),
            LinkType::LINUX_SLL2 => self.sll2(),
            LinkType::NULL | LinkType::LOOP => self.null(link),
            LinkType::RAW => self.raw_ip(0),
            LinkType::IPV4 => self.ipv4(0, len),
            LinkType::IPV6 => self.ipv6(0, len),
            _ => {
                layer!(self, 0..len, "Link type {} (not decoded)", link.0);
                self.s.fail("link type not supported");
            }
        }
    }

    fn raw_ip(&mut self, at: usize) {
        let len = self.b.0.len();
        match self.b.u8(at).map(|v| v >> 4) {
            Some(4) => self.ipv4(at, len),
            Some(6) => self.ipv6(at, len),
            _ => {
                layer!(self, at..len, "Raw IP: version nibble is neither 4 nor 6");
                self.s.fail("raw IP packet is neither IPv4 nor IPv6");
            }
        }
    }

    fn ethernet(&mut self) {
        let len = self.b.0.len();
        self.s.proto = Proto::Ethernet;
        let (Some(dst), Some(src)) = (self.b.arr::<6>(0), self.b.arr::<6>(6)) else {
            layer!(self, 0..len, "Ethernet II (truncated)");
            self.s.fail("Ethernet header truncated");
            return;
        };
        self.s.eth_dst = Some(dst);
        self.s.eth_src = Some(src);
        layer!(
            self,
            0..14.min(len),
            "Ethernet II, Src: {}, Dst: {}",
            fmt_mac(&src),
            fmt_mac(&dst)
        );
        field!(self, 1, 0..6, "Destination: {}", fmt_mac(&dst));
        field!(self, 1, 6..12, "Source: {}", fmt_mac(&src));
        let mut at = 12;
        let mut tags = 0;
        loop {
            let Some(t) = self.b.u16(at) else {
                self.s.fail("Ethernet header truncated");
                return;
            };
            if !matches!(t, ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD) || tags >= 8 {
                field!(
                    self,
                    1,
                    at..at + 2,
                    "Type: {} (0x{t:04x})",
                    ethertype_name(t)
                );
                if t < 0x0600 {
                    // An 802.3 length field: LLC follows, which is not decoded further.
                    self.s.proto = Proto::Llc;
                    layer!(self, at + 2..len, "Logical-Link Control ({t} bytes)");
                    return;
                }
                return self.network(t, at + 2);
            }
            let Some(tci) = self.b.u16(at + 2) else {
                self.s.fail("VLAN tag truncated");
                return;
            };
            let vid = tci & 0x0fff;
            if self.s.vlan.is_none() {
                self.s.vlan = Some(vid);
            }
            layer!(
                self,
                at..at + 4,
                "{} Virtual LAN, PRI: {}, ID: {vid}",
                if t == ETH_VLAN { "802.1Q" } else { "802.1ad" },
                tci >> 13
            );
            field!(
                self,
                1,
                at + 2..at + 4,
                "Priority: {}, DEI: {}, ID: {vid}",
                tci >> 13,
                (tci >> 12) & 1
            );
            at += 4;
            tags += 1;
        }
    }

    /// Dispatches on an ethertype to the network layer at `at`.
    pub(crate) fn network(&mut self, ethertype: u16, at: usize) {
        let len = self.b.0.len();
        match ethertype {
            ETH_IPV4 => self.ipv4(at, len),
            ETH_IPV6 => self.ipv6(at, len),
            ETH_ARP | ETH_RARP => self.arp(at, ethertype == ETH_RARP),
            _ => {
                if at < len {
                    layer!(
                        self,
                        at..len,
                        "Data ({} bytes, ethertype 0x{ethertype:04x})",
                        len - at
                    );
                }
            }
        }
    }

    fn sll(&mut self) {
        let len = self.b.0.len();
        self.s.proto = Proto::Sll;
        let (Some(ptype), Some(alen), Some(proto)) = (self.b.u16(0), self.b.u16(4), self.b.u16(14))
        else {
            layer!(self, 0..len, "Linux cooked capture v1 (truncated)");
            self.s.fail("Linux cooked header truncated");
            return;
        };
        layer!(self, 0..16, "Linux cooked capture v1");
        field!(
            self,
            1,
            0..2,
            "Packet type: {} ({ptype})",
            sll_pkttype(ptype)
        );
        let alen = (alen as usize).min(8);
        field!(
            self,
            1,
            6..6 + alen,
            "Source: {}",
            hex_addr(&self.b.0[6..6 + alen])
        );
        field!(
            self,
            1,
            14..16,
            "Protocol: {} (0x{proto:04x})",
            ethertype_name(proto)
        );
        self.network(proto, 16);
    }

    fn sll2(&mut self) {
        let len = self.b.0.len();
        self.s.proto = Proto::Sll;
        let (Some(proto), Some(ifindex), Some(ptype), Some(alen)) =
            (self.b.u16(0), self.b.u32(4), self.b.u8(10), self.b.u8(11))
        else {
            layer!(self, 0..len, "Linux cooked capture v2 (truncated)");
            self.s.fail("Linux cooked v2 header truncated");
            return;
        };
        if len < 20 {
            self.s.fail("Linux cooked v2 header truncated");
            return;
        }
        layer!(self, 0..20, "Linux cooked capture v2");
        field!(
            self,
            1,
            0..2,
            "Protocol: {} (0x{proto:04x})",
            ethertype_name(proto)
        );
        field!(self, 1, 4..8, "Interface index: {ifindex}");
        field!(
            self,
            1,
            10..11,
            "Packet type: {} ({ptype})",
            sll_pkttype(ptype as u16)
        );
        let alen = (alen as usize).min(8);
        field!(
            self,
            1,
            12..12 + alen,
            "Source: {}",
            hex_addr(&self.b.0[12..12 + alen])
        );
        self.network(proto, 20);
    }

    fn null(&mut self, link: LinkType) {
        let len = self.b.0.len();
        self.s.proto = Proto::Null;
        let Some(raw) = self.b.arr::<4>(0) else {
            self.s.fail("loopback header truncated");
            return;
        };
        // DLT_NULL's family is in the capturing host's byte order; LOOP's is big-endian.
        let be = u32::from_be_bytes(raw);
        let le = u32::from_le_bytes(raw);
        let fam = if link == LinkType::LOOP || be < 256 {
            be
        } else {
            le
        };
        layer!(self, 0..4, "Null/Loopback");
        field!(self, 1, 0..4, "Family: {fam}");
        match fam {
            2 => self.ipv4(4, len),
            24 | 28 | 30 => self.ipv6(4, len),
            _ => self.s.fail("loopback address family not IPv4 or IPv6"),
        }
    }
}

fn sll_pkttype(t: u16) -> &'static str {
    match t {
        0 => "Unicast to us",
        1 => "Broadcast",
        2 => "Multicast",
        3 => "Unicast to another host",
        4 => "Sent by us",
        _ => "Unknown",
    }
}

fn hex_addr(b: &[u8]) -> String {
    if let Ok(m) = <[u8; 6]>::try_from(b) {
        return fmt_mac(&m);
    }
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
