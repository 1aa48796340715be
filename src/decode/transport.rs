//! Transport layers: TCP (flags, options), UDP, ICMP and ICMPv6 (with the packet an error quotes),
//! and the hand-off to DNS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{field, layer, Dec, IcmpInfo, Inner, Proto, Sink, TcpInfo};

pub(crate) fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 5353)
}

/// The UDP ports of the lab's tunnel (TCP over the lossy link): its smoltcp client's and
/// server's IP packets ride as datagrams from and to these ports on 127.0.0.1, client first.
/// The lab binds them (`lab::ports` reuses this list), so the decoder, which must not know the
/// lab, owns it.
pub const LAB_CARRIER_PORTS: [u16; 2] = [7781, 7782];

/// Whether a UDP datagram is the lab's tunnel, whose payload is decoded as an IPv4 packet (like
/// tshark's "Decode As"). A deliberate difference from tshark, which shows plain UDP there: the
/// lab's lesson is the TCP session inside.
///
/// Only the client's leg (to or from [`LAB_CARRIER_PORTS`]`[0]`): every tunnel packet crosses
/// loopback twice (end → lossy link → other end), and decoding both legs would show each
/// segment twice, which the session table would count as retransmissions and reordering. The
/// client's leg is what a capture on the client's machine would see: everything it sent (what
/// the link then drops too) and what reached it. The server's leg stays plain UDP, the link's
/// side of the story. Only 127.0.0.1 on both ends, so that a capture from elsewhere using the
/// port stays plain UDP.
fn is_lab_carrier(src: Option<IpAddr>, dst: Option<IpAddr>, sp: u16, dp: u16) -> bool {
    let lo = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let client = LAB_CARRIER_PORTS[0];
    src == lo && dst == lo && (sp == client || dp == client)
}

pub(crate) fn tcp_flag_names(flags: u16) -> String {
    const NAMES: [(u16, &str); 9] = [
        (TcpInfo::FIN, "FIN"),
        (TcpInfo::SYN, "SYN"),
        (TcpInfo::RST, "RST"),
        (TcpInfo::PSH, "PSH"),
        (TcpInfo::ACK, "ACK"),
        (TcpInfo::URG, "URG"),
        (TcpInfo::ECE, "ECE"),
        (TcpInfo::CWR, "CWR"),
        (TcpInfo::AE, "AE"),
    ];
    let v: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join(", ")
}

impl<S: Sink> Dec<'_, '_, S> {
    pub(crate) fn transport(&mut self, proto: u8, at: usize, end: usize, v6: bool) {
        self.s.l4_at = at as u32;
        match proto {
            6 => self.tcp(at, end),
            17 => self.udp(at, end),
            1 if !v6 => self.icmp(at, end),
            58 => self.icmpv6(at, end),
            2 => self.s.proto = Proto::Igmp,
            47 => self.s.proto = Proto::Gre,
            50 => self.s.proto = Proto::Esp,
            132 => self.s.proto = Proto::Sctp,
            _ => {}
        }
        if at < end && !matches!(proto, 6 | 17 | 1 | 58) {
            layer!(
                self,
                at..end,
                "{} payload ({} bytes)",
                super::ip::ip_proto_name(proto),
                end - at
            );
        }
    }

    fn tcp(&mut self, at: usize, end: usize) {
        self.s.proto = Proto::Tcp;
        let (Some(sp), Some(dp)) = (self.b.u16(at), self.b.u16(at + 2)) else {
            self.s.fail("TCP header truncated");
            return;
        };
        self.s.sport = Some(sp);
        self.s.dport = Some(dp);
        let (Some(seq), Some(ack), Some(offflags), Some(win)) = (
            self.b.u32(at + 4),
            self.b.u32(at + 8),
            self.b.u16(at + 12),
            self.b.u16(at + 14),
        ) else {
            layer!(
                self,
                at..end,
                "Transmission Control Protocol, Src Port: {sp}, Dst Port: {dp} (header truncated)"
            );
            self.s.fail("TCP header truncated");
            return;
        };
        if at + 20 > end {
            self.s.fail("TCP header truncated");
            return;
        }
        let hlen = (offflags >> 12) as usize * 4;
        let flags = offflags & 0x01ff;
        let mut t = TcpInfo {
            flags,
            seq,
            ack,
            window: win,
            ..Default::default()
        };
        layer!(
            self,
            at..(at + hlen.max(20)).min(end),
            "Transmission Control Protocol, Src Port: {sp}, Dst Port: {dp}, Seq: {seq}, Ack: {ack}"
        );
        field!(self, 1, at..at + 2, "Source port: {sp}");
        field!(self, 1, at + 2..at + 4, "Destination port: {dp}");
        field!(self, 1, at + 4..at + 8, "Sequence number (raw): {seq}");
        field!(
            self,
            1,
            at + 8..at + 12,
            "Acknowledgment number (raw): {ack}"
        );
        field!(self, 1, at + 12..at + 13, "Header length: {hlen} bytes");
        field!(
            self,
            1,
            at + 12..at + 14,
            "Flags: 0x{flags:03x} ({})",
            tcp_flag_names(flags)
        );
        field!(self, 1, at + 14..at + 16, "Window: {win}");
        field!(
            self,
            1,
            at + 16..at + 18,
            "Checksum: 0x{:04x}",
            self.b.u16(at + 16).unwrap_or(0)
        );
        field!(
            self,
            1,
            at + 18..at + 20,
            "Urgent pointer: {}",
            self.b.u16(at + 18).unwrap_or(0)
        );
        if hlen < 20 {
            self.s.tcp = Some(t);
            self.s.fail("TCP header length below 20 bytes");
            return;
        }
        let hend = at + hlen;
        if hend > end {
            self.s.fail("TCP options truncated");
        }
        t.options = hlen > 20;
        self.tcp_options(at + 20, hend.min(end), &mut t);
        self.s.tcp = Some(t);
        let pstart = hend.min(end);
        self.s.payload = (pstart as u32, end as u32);
        self.s.payload_len = end.saturating_sub(hend) as u32;
        if pstart < end {
            layer!(self, pstart..end, "TCP payload ({} bytes)", end - pstart);
            if is_dns_port(sp) || is_dns_port(dp) {
                // DNS over TCP: a two-byte length, then the message.
                if let Some(mlen) = self.b.u16(pstart) {
                    if pstart + 2 + mlen as usize <= end {
                        self.dns(
                            pstart + 2,
                            pstart + 2 + mlen as usize,
                            sp == 5353 || dp == 5353,
                        );
                    }
                }
            }
        }
    }

    fn tcp_options(&mut self, mut p: usize, end: usize, t: &mut TcpInfo) {
        while p < end {
            let Some(kind) = self.b.u8(p) else { return };
            match kind {
                0 => {
                    field!(self, 2, p..p + 1, "Option: End of Option List");
                    return;
                }
                1 => {
                    field!(self, 2, p..p + 1, "Option: No-Operation");
                    p += 1;
                    continue;
                }
                _ => {}
            }
            let Some(len) = self.b.u8(p + 1).map(|l| l as usize) else {
                self.s.fail("TCP option truncated");
                return;
            };
            if len < 2 || p + len > end {
                self.s.fail("TCP option length invalid");
                return;
            }
            let r = p..p + len;
            match (kind, len) {
                (2, 4) => {
                    let v = self.b.u16(p + 2).unwrap_or(0);
                    t.mss = Some(v);
                    field!(self, 2, r, "Option: Maximum segment size: {v}");
                }
                (3, 3) => {
                    let v = self.b.u8(p + 2).unwrap_or(0);
                    t.wscale = Some(v);
                    field!(
                        self,
                        2,
                        r,
                        "Option: Window scale: {v} (multiply by {})",
                        1u64 << v.min(30)
                    );
                }
                (4, 2) => {
                    t.sack_perm = true;
                    field!(self, 2, r, "Option: SACK permitted");
                }
                (5, _) => {
                    if len >= 10 && (len - 2) % 8 == 0 && t.sack.is_none() {
                        let mut edge = t.ack;
                        for b in 0..(len - 2) / 8 {
                            let right = self.b.u32(p + 2 + 8 * b + 4).unwrap_or(edge);
                            if (edge.wrapping_sub(right) as i32) < 0 {
                                edge = right;
                            }
                        }
                        t.sack = Some(edge);
                    }
                    field!(self, 2, r, "Option: SACK ({} blocks)", (len - 2) / 8);
                }
                (8, 10) => {
                    let (a, b) = (
                        self.b.u32(p + 2).unwrap_or(0),
                        self.b.u32(p + 6).unwrap_or(0),
                    );
                    t.ts = Some((a, b));
                    field!(self, 2, r, "Option: Timestamps: TSval {a}, TSecr {b}");
                }
                (34, _) => field!(
                    self,
                    2,
                    r,
                    "Option: TCP Fast Open cookie ({} bytes)",
                    len - 2
                ),
                (30, _) => field!(
                    self,
                    2,
                    r,
                    "Option: Multipath TCP (subtype {})",
                    self.b.u8(p + 2).unwrap_or(0) >> 4
                ),
                (172, _) => field!(self, 2, r, "Option: Accurate ECN ({len} bytes)"),
                _ => field!(self, 2, r, "Option: kind {kind} ({len} bytes)"),
            }
            p += len;
        }
    }

    fn udp(&mut self, at: usize, end: usize) {
        self.s.proto = Proto::Udp;
        let (Some(sp), Some(dp), Some(ulen)) =
            (self.b.u16(at), self.b.u16(at + 2), self.b.u16(at + 4))
        else {
            self.s.fail("UDP header truncated");
            return;
        };
        self.s.sport = Some(sp);
        self.s.dport = Some(dp);
        let ulen = ulen as usize;
        layer!(
            self,
            at..(at + 8).min(end),
            "User Datagram Protocol, Src Port: {sp}, Dst Port: {dp}"
        );
        field!(self, 1, at..at + 2, "Source port: {sp}");
        field!(self, 1, at + 2..at + 4, "Destination port: {dp}");
        field!(self, 1, at + 4..at + 6, "Length: {ulen}");
        field!(
            self,
            1,
            at + 6..at + 8,
            "Checksum: 0x{:04x}",
            self.b.u16(at + 6).unwrap_or(0)
        );
        if at + 8 > end {
            self.s.fail("UDP header truncated");
            return;
        }
        // The UDP length bounds the payload (dns-zlip-1 hides a DNS message behind length 8); 0 is
        // what jumbograms and offloaded captures show.
        let pend = if ulen == 0 {
            end
        } else if ulen < 8 {
            self.s.fail("UDP length below 8");
            at + 8
        } else {
            (at + ulen).min(end)
        };
        self.s.payload = ((at + 8) as u32, pend as u32);
        self.s.payload_len = if ulen >= 8 {
            (ulen - 8) as u32
        } else {
            (end - at - 8) as u32
        };
        if at + 8 < pend {
            if !self.tunneled && is_lab_carrier(self.s.src, self.s.dst, sp, dp) {
                self.lab_tunnel(at + 8, pend);
            } else if is_dns_port(sp) || is_dns_port(dp) {
                self.dns(at + 8, pend, sp == 5353 || dp == 5353);
            } else {
                layer!(self, at + 8..pend, "Data ({} bytes)", pend - at - 8);
            }
        }
    }

    /// The lab tunnel's payload, an IPv4 packet: its layers become the packet's topmost ones
    /// (addresses, ports, TCP), so the list and the sessions show the TCP it carries. The length
    /// stays the outer packet's (what a firewall counter on loopback counts); one level only.
    fn lab_tunnel(&mut self, at: usize, end: usize) {
        if self.b.u8(at).is_none_or(|v| v >> 4 != 4) {
            layer!(self, at..end, "Data ({} bytes)", end - at);
            return;
        }
        layer!(
            self,
            at..end,
            "packetlab lab tunnel: the payload decoded as IPv4 (UDP ports {} and {})",
            LAB_CARRIER_PORTS[0],
            LAB_CARRIER_PORTS[1]
        );
        let outer_len = self.s.ip_len;
        self.tunneled = true;
        self.ipv4(at, end);
        self.s.ip_len = outer_len;
    }

    fn icmp(&mut self, at: usize, end: usize) {
        self.s.proto = Proto::Icmp;
        let (Some(typ), Some(code)) = (self.b.u8(at), self.b.u8(at + 1)) else {
            self.s.fail("ICMP header truncated");
            return;
        };
        let mut i = IcmpInfo {
            typ,
            code,
            echo: None,
        };
        layer!(
            self,
            at..end,
            "Internet Control Message Protocol: {}",
            icmp_type_name(typ, code)
        );
        field!(
            self,
            1,
            at..at + 1,
            "Type: {typ} ({})",
            icmp_type_name(typ, 0)
        );
        field!(self, 1, at + 1..at + 2, "Code: {code}");
        field!(
            self,
            1,
            at + 2..at + 4,
            "Checksum: 0x{:04x}",
            self.b.u16(at + 2).unwrap_or(0)
        );
        match typ {
            0 | 8 | 13 | 14 | 15 | 16 | 17 | 18 => {
                if let (Some(id), Some(seq)) = (self.b.u16(at + 4), self.b.u16(at + 6)) {
                    i.echo = Some((id, seq));
                    field!(self, 1, at + 4..at + 6, "Identifier: 0x{id:04x} ({id})");
                    field!(self, 1, at + 6..at + 8, "Sequence number: {seq}");
                }
                self.s.payload = (((at + 8).min(end)) as u32, end as u32);
            }
            3 | 4 | 5 | 11 | 12 => self.quoted(at + 8, end, false),
            _ => {}
        }
        self.s.icmp = Some(i);
    }

    fn icmpv6(&mut self, at: usize, end: usize) {
        self.s.proto = Proto::Icmpv6;
        let (Some(typ), Some(code)) = (self.b.u8(at), self.b.u8(at + 1)) else {
            self.s.fail("ICMPv6 header truncated");
            return;
        };
        let mut i = IcmpInfo {
            typ,
            code,
            echo: None,
        };
        layer!(
            self,
            at..end,
            "Internet Control Message Protocol v6: {}",
            icmpv6_type_name(typ)
        );
        field!(
            self,
            1,
            at..at + 1,
            "Type: {} ({typ})",
            icmpv6_type_name(typ)
        );
        field!(self, 1, at + 1..at + 2, "Code: {code}");
        field!(
            self,
            1,
            at + 2..at + 4,
            "Checksum: 0x{:04x}",
            self.b.u16(at + 2).unwrap_or(0)
        );
        match typ {
            128 | 129 => {
                if let (Some(id), Some(seq)) = (self.b.u16(at + 4), self.b.u16(at + 6)) {
                    i.echo = Some((id, seq));
                    field!(self, 1, at + 4..at + 6, "Identifier: 0x{id:04x}");
                    field!(self, 1, at + 6..at + 8, "Sequence: {seq}");
                }
            }
            135..=137 => {
                if let Some(t) = self.b.arr::<16>(at + 8) {
                    field!(
                        self,
                        1,
                        at + 8..at + 24,
                        "Target address: {}",
                        Ipv6Addr::from(t)
                    );
                }
            }
            1..=4 => self.quoted(at + 8, end, true),
            _ => {}
        }
        self.s.icmpv6 = Some(i);
    }

    /// The start of the packet an ICMP error quotes: its addresses and ports tell which flow the
    /// error belongs to (tshark reports the quoted ports as the packet's ports, so do we).
    fn quoted(&mut self, at: usize, end: usize, v6: bool) {
        let parsed = if v6 {
            self.b
                .arr::<16>(at + 8)
                .zip(self.b.arr::<16>(at + 24))
                .map(|(s, d)| {
                    // Walk the quoted extension headers to the transport header.
                    let (mut nh, mut p) = (self.b.u8(at + 6).unwrap_or(59), at + 40);
                    for _ in 0..8 {
                        match nh {
                            0 | 43 | 60 => match (self.b.u8(p), self.b.u8(p + 1)) {
                                (Some(n), Some(l)) => {
                                    nh = n;
                                    p += (l as usize + 1) * 8;
                                }
                                _ => break,
                            },
                            44 => {
                                let first = self.b.u16(p + 2).map(|f| f & 0xfff8 == 0);
                                nh = if first == Some(true) {
                                    self.b.u8(p).unwrap_or(59)
                                } else {
                                    59
                                };
                                p += 8;
                            }
                            _ => break,
                        }
                    }
                    (
                        IpAddr::V6(Ipv6Addr::from(s)),
                        IpAddr::V6(Ipv6Addr::from(d)),
                        nh,
                        p,
                    )
                })
        } else {
            match (
                self.b.u8(at),
                self.b.arr::<4>(at + 12),
                self.b.arr::<4>(at + 16),
            ) {
                (Some(v), Some(s), Some(d)) if v >> 4 == 4 => Some((
                    IpAddr::V4(Ipv4Addr::from(s)),
                    IpAddr::V4(Ipv4Addr::from(d)),
                    self.b.u8(at + 9).unwrap_or(0),
                    at + (v & 0x0f) as usize * 4,
                )),
                _ => None,
            }
        };
        let Some((src, dst, proto, tp)) = parsed else {
            return;
        };
        let query = match (proto, self.b.u8(tp), self.b.u16(tp + 4)) {
            (1, Some(t @ (0 | 8 | 13..=18)), Some(id)) | (58, Some(t @ (128 | 129)), Some(id)) => {
                Some((t, id))
            }
            _ => None,
        };
        self.s.inner = Some(Inner {
            src,
            dst,
            proto,
            query,
        });
        layer!(
            self,
            at..end,
            "Quoted packet: {src} → {dst}, {}",
            super::ip::ip_proto_name(proto)
        );
        if matches!(proto, 6 | 17) {
            if let (Some(sp), Some(dp)) = (self.b.u16(tp), self.b.u16(tp + 2)) {
                self.s.sport = Some(sp);
                self.s.dport = Some(dp);
                self.s.quoted = true;
                field!(self, 1, tp..tp + 4, "Quoted ports: {sp} → {dp}");
            }
        }
    }
}

pub(crate) fn icmp_type_name(t: u8, code: u8) -> &'static str {
    match (t, code) {
        (0, _) => "Echo (ping) reply",
        (3, 0) => "Destination unreachable (Network unreachable)",
        (3, 1) => "Destination unreachable (Host unreachable)",
        (3, 2) => "Destination unreachable (Protocol unreachable)",
        (3, 3) => "Destination unreachable (Port unreachable)",
        (3, 4) => "Destination unreachable (Fragmentation needed)",
        (3, 13) => "Destination unreachable (Communication administratively filtered)",
        (3, _) => "Destination unreachable",
        (4, _) => "Source quench",
        (5, _) => "Redirect",
        (8, _) => "Echo (ping) request",
        (9, _) => "Router advertisement",
        (10, _) => "Router solicitation",
        (11, _) => "Time-to-live exceeded",
        (12, _) => "Parameter problem",
        (13, _) => "Timestamp request",
        (14, _) => "Timestamp reply",
        (15, _) => "Information request",
        (16, _) => "Information reply",
        (17, _) => "Address mask request",
        (18, _) => "Address mask reply",
        _ => "Unknown ICMP type",
    }
}

pub(crate) fn icmpv6_type_name(t: u8) -> &'static str {
    match t {
        1 => "Destination Unreachable",
        2 => "Packet Too Big",
        3 => "Time Exceeded",
        4 => "Parameter Problem",
        128 => "Echo (ping) request",
        129 => "Echo (ping) reply",
        130 => "Multicast Listener Query",
        131 => "Multicast Listener Report",
        132 => "Multicast Listener Done",
        133 => "Router Solicitation",
        134 => "Router Advertisement",
        135 => "Neighbor Solicitation",
        136 => "Neighbor Advertisement",
        137 => "Redirect",
        143 => "Multicast Listener Report Message v2",
        _ => "Unknown ICMPv6 type",
    }
}
