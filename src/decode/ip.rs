//! Network layers: IPv4 (options, fragments), IPv6 (extension headers), ARP / RARP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{field, fmt_mac, layer, ArpInfo, Dec, Ext6, FragInfo, IpHdr, Proto, Sink};

pub(crate) fn ip_proto_name(p: u8) -> &'static str {
    match p {
        0 => "IPv6 Hop-by-Hop",
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        43 => "IPv6 Routing",
        44 => "IPv6 Fragment",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        59 => "IPv6 No Next Header",
        60 => "IPv6 Destination Options",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        135 => "Mobility",
        _ => "unknown",
    }
}

impl<S: Sink> Dec<'_, '_, S> {
    /// IPv4 header at `at`; `end` bounds the bytes that belong to this packet.
    pub(crate) fn ipv4(&mut self, at: usize, end: usize) {
        let end = end.min(self.b.0.len());
        self.s.proto = Proto::Ipv4;
        self.s.ip_at = (at as u32, end as u32);
        self.s.l4_at = 0;
        let Some(vihl) = self.b.u8(at) else {
            self.s.fail("IPv4 header truncated");
            return;
        };
        let ihl = (vihl & 0x0f) as usize * 4;
        if vihl >> 4 != 4 {
            layer!(
                self,
                at..end,
                "Internet Protocol, bogus version {}",
                vihl >> 4
            );
            self.s.fail("IPv4 version is not 4");
            return;
        }
        if ihl < 20 {
            layer!(
                self,
                at..end,
                "Internet Protocol Version 4, bogus header length ({ihl} bytes)"
            );
            field!(
                self,
                1,
                at..at + 1,
                "Header length: {ihl} bytes (minimum is 20)"
            );
            self.s.fail("IPv4 header length below 20 bytes");
            return;
        }
        let (Some(tot), Some(id), Some(ff), Some(ttl), Some(proto), Some(src), Some(dst)) = (
            self.b.u16(at + 2),
            self.b.u16(at + 4),
            self.b.u16(at + 6),
            self.b.u8(at + 8),
            self.b.u8(at + 9),
            self.b.arr::<4>(at + 12),
            self.b.arr::<4>(at + 16),
        ) else {
            layer!(self, at..end, "Internet Protocol Version 4 (truncated)");
            self.s.fail("IPv4 header truncated");
            return;
        };
        let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        self.s.src = Some(IpAddr::V4(src));
        self.s.dst = Some(IpAddr::V4(dst));
        self.s.ip_proto = Some(proto);
        self.s.ttl = Some(ttl);
        self.s.ip = IpHdr {
            ihl: vihl & 0x0f,
            tos: self.b.u8(at + 1).unwrap_or(0),
            id,
            frag_off: ff,
            ..IpHdr::default()
        };
        let tot = tot as usize;
        // A total length of 0 is what TSO-offloaded captures show: trust the captured bytes.
        let pkt_end = if tot == 0 { end } else { (at + tot).min(end) };
        self.s.ip_at.1 = pkt_end as u32;
        self.s.ip_len = if tot == 0 {
            (end - at) as u32
        } else {
            tot as u32
        };
        if tot != 0 && tot < ihl {
            self.s.fail("IPv4 total length smaller than its header");
        }
        layer!(
            self,
            at..(at + ihl).min(end),
            "Internet Protocol Version 4, Src: {src}, Dst: {dst}"
        );
        field!(self, 1, at..at + 1, "Header length: {ihl} bytes");
        field!(
            self,
            1,
            at + 1..at + 2,
            "DSCP/ECN: 0x{:02x}",
            self.b.u8(at + 1).unwrap_or(0)
        );
        field!(self, 1, at + 2..at + 4, "Total length: {tot}");
        field!(self, 1, at + 4..at + 6, "Identification: 0x{id:04x} ({id})");
        let (df, mf, off) = (ff & 0x4000 != 0, ff & 0x2000 != 0, (ff & 0x1fff) as u32 * 8);
        let flags = match (df, mf) {
            (true, true) => "Don't fragment, More fragments",
            (true, false) => "Don't fragment",
            (false, true) => "More fragments",
            (false, false) => "none",
        };
        field!(
            self,
            1,
            at + 6..at + 8,
            "Flags: {flags}; Fragment offset: {off}"
        );
        field!(self, 1, at + 8..at + 9, "Time to live: {ttl}");
        field!(
            self,
            1,
            at + 9..at + 10,
            "Protocol: {} ({proto})",
            ip_proto_name(proto)
        );
        field!(
            self,
            1,
            at + 10..at + 12,
            "Header checksum: 0x{:04x}",
            self.b.u16(at + 10).unwrap_or(0)
        );
        field!(self, 1, at + 12..at + 16, "Source address: {src}");
        field!(self, 1, at + 16..at + 20, "Destination address: {dst}");
        if ihl > 20 {
            field!(
                self,
                1,
                at + 20..(at + ihl).min(end),
                "Options: {} bytes",
                ihl - 20
            );
        }
        if at + ihl > end {
            self.s.fail("IPv4 header truncated");
            return;
        }
        if mf || off > 0 {
            let len = (tot.saturating_sub(ihl)) as u32;
            self.s.frag = Some(FragInfo {
                id: id as u32,
                offset: off,
                more: mf,
                len,
            });
            if off > 0 {
                layer!(
                    self,
                    at + ihl..pkt_end,
                    "Fragment of {} (offset {off}, {} bytes)",
                    ip_proto_name(proto),
                    pkt_end.saturating_sub(at + ihl)
                );
                return;
            }
        }
        self.transport(proto, at + ihl, pkt_end, false);
    }

    pub(crate) fn ipv6(&mut self, at: usize, end: usize) {
        let end = end.min(self.b.0.len());
        self.s.proto = Proto::Ipv6;
        self.s.ip_at = (at as u32, end as u32);
        self.s.l4_at = 0;
        // Take each fixed-header field the capture holds, as tshark does with a cut header.
        let plen = self.b.u16(at + 4);
        let nxt = self.b.u8(at + 6);
        let hlim = self.b.u8(at + 7);
        let src = self.b.arr::<16>(at + 8).map(Ipv6Addr::from);
        let dst = self.b.arr::<16>(at + 24).map(Ipv6Addr::from);
        self.s.src = src.map(IpAddr::V6);
        self.s.dst = dst.map(IpAddr::V6);
        self.s.ipv6_nxt = nxt;
        self.s.ttl = hlim;
        let vtf = self.b.u32(at).unwrap_or(0);
        self.s.ip = IpHdr {
            tos: (vtf >> 20) as u8,
            flowlabel: vtf & 0xf_ffff,
            ..IpHdr::default()
        };
        let (Some(plen), Some(nxt), Some(src), Some(dst)) = (plen, nxt, src, dst) else {
            layer!(
                self,
                at..end,
                "Internet Protocol Version 6 (header truncated)"
            );
            self.s.fail("IPv6 header truncated");
            return;
        };
        if self.b.u8(at).map(|v| v >> 4) != Some(6) {
            self.s.fail("IPv6 version is not 6");
        }
        layer!(
            self,
            at..at + 40,
            "Internet Protocol Version 6, Src: {src}, Dst: {dst}"
        );
        field!(self, 1, at + 4..at + 6, "Payload length: {plen}");
        field!(
            self,
            1,
            at + 6..at + 7,
            "Next header: {} ({nxt})",
            ip_proto_name(nxt)
        );
        field!(self, 1, at + 7..at + 8, "Hop limit: {}", hlim.unwrap_or(0));
        field!(self, 1, at + 8..at + 24, "Source address: {src}");
        field!(self, 1, at + 24..at + 40, "Destination address: {dst}");
        // A zero payload length is a jumbogram or offloaded capture: trust the captured bytes.
        let pkt_end = if plen == 0 {
            end
        } else {
            (at + 40 + plen as usize).min(end)
        };
        self.s.ip_at.1 = pkt_end as u32;
        self.s.ip_len = if plen == 0 {
            (end - at) as u32
        } else {
            40 + plen as u32
        };
        let mut nh = nxt;
        let mut p = at + 40;
        // Each extension header moves `p` forward by at least 8 bytes, so this ends.
        loop {
            match nh {
                0 | 43 | 60 | 135 | 139 | 140 | 51 => {
                    let (Some(next), Some(l)) = (self.b.u8(p), self.b.u8(p + 1)) else {
                        self.s.ip_proto = Some(nh);
                        self.s.fail("IPv6 extension header truncated");
                        return;
                    };
                    let hlen = if nh == 51 {
                        (l as usize + 2) * 4
                    } else {
                        (l as usize + 1) * 8
                    };
                    layer!(
                        self,
                        p..(p + hlen).min(end),
                        "IPv6 {} (next: {})",
                        ip_proto_name(nh),
                        ip_proto_name(next)
                    );
                    if nh == 43 {
                        self.routing_header(p, l);
                    }
                    self.note_ext(nh, p, next, l);
                    nh = next;
                    p += hlen;
                }
                44 => {
                    let (Some(next), Some(ff), Some(id)) =
                        (self.b.u8(p), self.b.u16(p + 2), self.b.u32(p + 4))
                    else {
                        self.s.ip_proto = Some(nh);
                        self.s.fail("IPv6 fragment header truncated");
                        return;
                    };
                    let (off, more) = ((ff & 0xfff8) as u32, ff & 1 != 0);
                    let ext = &mut self.s.ip.ext;
                    if !ext.has(Ext6::FRAG) {
                        ext.present |= Ext6::FRAG;
                        ext.frag = [next, self.b.u8(p + 1).unwrap_or(0)];
                        ext.frag_off = ff;
                        ext.frag_id = id;
                    }
                    layer!(
                        self,
                        p..p + 8,
                        "IPv6 Fragment, offset {off}{}, id 0x{id:08x}",
                        if more { ", more fragments" } else { "" }
                    );
                    let len = (at + 40 + plen as usize).saturating_sub(p + 8) as u32;
                    // An atomic fragment (offset 0, no more) is a whole datagram (RFC 6946).
                    if more || off > 0 {
                        self.s.frag = Some(FragInfo {
                            id,
                            offset: off,
                            more,
                            len,
                        });
                    }
                    nh = next;
                    p += 8;
                    if off > 0 {
                        self.s.ip_proto = Some(nh);
                        return;
                    }
                }
                _ => break,
            }
        }
        self.s.ip_proto = Some(nh);
        if p > pkt_end {
            self.s.fail("IPv6 extension headers run past the packet");
            return;
        }
        self.transport(nh, p, pkt_end, true);
    }

    /// Keeps the first extension header of each type `exthdr` reads (`nh` at `p`).
    fn note_ext(&mut self, nh: u8, p: usize, next: u8, l: u8) {
        let byte = |i: usize| self.b.u8(p + i).unwrap_or(0);
        let (rtype, left, mht) = (byte(2), byte(3), byte(2));
        let ext = &mut self.s.ip.ext;
        let bit = match nh {
            0 => Ext6::HBH,
            43 => Ext6::RT,
            60 => Ext6::DST,
            135 => Ext6::MH,
            _ => return,
        };
        if ext.has(bit) {
            return;
        }
        ext.present |= bit;
        match nh {
            0 => ext.hbh = [next, l],
            43 => ext.rt = [next, l, rtype, left],
            60 => ext.dst = [next, l],
            _ => ext.mh = [next, l, mht],
        }
    }

    /// An IPv6 routing header at `p` (`l` is its length field).
    fn routing_header(&mut self, p: usize, l: u8) {
        let rtype = self.b.u8(p + 2).unwrap_or(0);
        let left = self.b.u8(p + 3).unwrap_or(0);
        field!(
            self,
            1,
            p + 2..p + 4,
            "Routing type: {rtype}, segments left: {left}"
        );
        // Types 0 and 2 list addresses after 4 reserved bytes; with segments left, the last one
        // is where the packet is finally going.
        let n = l as usize / 2;
        if matches!(rtype, 0 | 2) && left > 0 && n > 0 {
            let last = p + 8 + 16 * (n - 1);
            if let Some(a) = self.b.arr::<16>(last).map(Ipv6Addr::from) {
                self.s.final_dst = Some(IpAddr::V6(a));
                field!(self, 1, last..last + 16, "Final destination: {a}");
            }
        }
    }

    pub(crate) fn arp(&mut self, at: usize, rarp: bool) {
        let len = self.b.0.len();
        self.s.proto = if rarp { Proto::Rarp } else { Proto::Arp };
        let (Some(htype), Some(ptype), Some(hlen), Some(plen), Some(op)) = (
            self.b.u16(at),
            self.b.u16(at + 2),
            self.b.u8(at + 4),
            self.b.u8(at + 5),
            self.b.u16(at + 6),
        ) else {
            self.s.fail("ARP header truncated");
            return;
        };
        let (hl, pl) = (hlen as usize, plen as usize);
        let mut info = ArpInfo {
            op,
            sender_mac: None,
            sender_ip: None,
            target_mac: None,
            target_ip: None,
        };
        let sha = at + 8;
        let spa = sha + hl;
        let tha = spa + pl;
        let tpa = tha + hl;
        if hl == 6 && pl == 4 {
            info.sender_mac = self.b.arr::<6>(sha);
            info.sender_ip = self.b.arr::<4>(spa).map(Ipv4Addr::from);
            info.target_mac = self.b.arr::<6>(tha);
            info.target_ip = self.b.arr::<4>(tpa).map(Ipv4Addr::from);
        }
        self.s.arp = Some(info);
        if tpa + pl > len {
            self.s.fail("ARP addresses truncated");
        }
        layer!(
            self,
            at..(tpa + pl).min(len),
            "{} ({})",
            if rarp {
                "Reverse ARP"
            } else {
                "Address Resolution Protocol"
            },
            arp_op_name(op)
        );
        field!(self, 1, at..at + 2, "Hardware type: {htype}");
        field!(self, 1, at + 2..at + 4, "Protocol type: 0x{ptype:04x}");
        field!(
            self,
            1,
            at + 6..at + 8,
            "Opcode: {} ({op})",
            arp_op_name(op)
        );
        if let (Some(m), Some(ip)) = (info.sender_mac, info.sender_ip) {
            field!(self, 1, sha..sha + 6, "Sender MAC address: {}", fmt_mac(&m));
            field!(self, 1, spa..spa + 4, "Sender IP address: {ip}");
        }
        if let (Some(m), Some(ip)) = (info.target_mac, info.target_ip) {
            field!(self, 1, tha..tha + 6, "Target MAC address: {}", fmt_mac(&m));
            field!(self, 1, tpa..tpa + 4, "Target IP address: {ip}");
        }
    }
}

pub(crate) fn arp_op_name(op: u16) -> &'static str {
    match op {
        1 => "request",
        2 => "reply",
        3 => "reverse request",
        4 => "reverse reply",
        8 => "inverse request",
        9 => "inverse reply",
        _ => "unknown",
    }
}
