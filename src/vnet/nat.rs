//! The router's source NAT: the translations conntrack keeps for connections that a
//! `masquerade` or `snat` rule met on their first packet, applied to the rest of them, and
//! undone on their replies (and on ICMP errors that quote them).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::frame::{self, V4};

type End = (Ipv4Addr, u16);

#[derive(Default)]
pub struct Nat {
    /// (protocol, LAN end, remote end) → the WAN end it is seen as.
    out: HashMap<(u8, End, End), End>,
    /// (protocol, remote end, WAN end) → the LAN end.
    back: HashMap<(u8, End, End), End>,
    /// Destination NAT: (protocol, client end, the router's end it asked) → the inside end.
    dnat_in: HashMap<(u8, End, End), End>,
    /// (protocol, inside end, client end) → the router's end the replies come from.
    dnat_back: HashMap<(u8, End, End), End>,
    pub translated: u64,
}

/// At most this many translations are kept; past it the oldest are not tracked (a lab run
/// makes a few hundred).
const MAX: usize = 65_536;

impl Nat {
    /// Translates `ip`'s source if its flow has a mapping, or makes one for it to `to`
    /// (`Some` when a NAT rule matched its first packet). Returns whether it translated.
    pub fn outbound(&mut self, ip: &mut [u8], to: Option<Ipv4Addr>) -> bool {
        let Some(h) = V4::parse(ip) else { return false };
        let Some((sp, dp)) = h.ports(ip) else {
            return false;
        };
        let key = (h.proto, (h.src, sp), (h.dst, dp));
        let wan = match (self.out.get(&key), to) {
            (Some(w), _) => *w,
            (None, Some(addr)) if self.out.len() < MAX => {
                let port = self.free_port(h.proto, addr, sp, (h.dst, dp));
                let w = (addr, port);
                self.out.insert(key, w);
                self.back.insert((h.proto, (h.dst, dp), w), (h.src, sp));
                w
            }
            _ => return false,
        };
        frame::rewrite(ip, true, wan.0, Some(wan.1));
        self.translated += 1;
        true
    }

    /// The source port a new translation uses: the LAN's own when it is free (as the kernel
    /// keeps it), else the next free one from 32768.
    fn free_port(&self, proto: u8, addr: Ipv4Addr, want: u16, remote: End) -> u16 {
        let free = |p: u16| !self.back.contains_key(&(proto, remote, (addr, p)));
        if free(want) {
            return want;
        }
        (32768..=65535).find(|p| free(*p)).unwrap_or(want)
    }

    /// Undoes the translation on a reply (to the WAN end) or an ICMP error quoting a
    /// translated packet; returns whether `ip` was one.
    pub fn inbound(&mut self, ip: &mut [u8]) -> bool {
        let Some(h) = V4::parse(ip) else { return false };
        if h.proto == 1 && ip.len() >= h.hlen + 8 && matches!(ip[h.hlen], 3 | 11) {
            return self.inbound_error(ip, h);
        }
        let Some((sp, dp)) = h.ports(ip) else {
            return false;
        };
        let Some(&lan) = self.back.get(&(h.proto, (h.src, sp), (h.dst, dp))) else {
            return false;
        };
        frame::rewrite(ip, false, lan.0, Some(lan.1));
        self.translated += 1;
        true
    }

    fn inbound_error(&mut self, ip: &mut [u8], h: V4) -> bool {
        let at = h.hlen + 8;
        let Some(q) = V4::parse_quoted(&ip[at..]) else {
            return false;
        };
        let Some((sp, dp)) = q.ports(&ip[at..]) else {
            return false;
        };
        let Some(&lan) = self.back.get(&(q.proto, (q.dst, dp), (q.src, sp))) else {
            return false;
        };
        // The quoted packet went out translated: put its source back, then the error's
        // destination.
        let inner = &mut ip[at..];
        inner[12..16].copy_from_slice(&lan.0.octets());
        if matches!(q.proto, 6 | 17) && inner.len() >= q.hlen + 2 {
            inner[q.hlen..q.hlen + 2].copy_from_slice(&lan.1.to_be_bytes());
        }
        inner[10] = 0;
        inner[11] = 0;
        let c = frame::checksum(&inner[..q.hlen], 0);
        inner[10..12].copy_from_slice(&c.to_be_bytes());
        frame::rewrite(ip, false, lan.0, None);
        self.translated += 1;
        true
    }

    /// A packet to one of the router's ends whose connection a `dnat` rule redirected: its
    /// destination becomes the inside end. Returns whether it was one.
    pub fn dnat_existing(&mut self, ip: &mut [u8]) -> bool {
        let Some((h, sp, dp)) = ends(ip) else {
            return false;
        };
        let Some(&inside) = self.dnat_in.get(&(h.proto, (h.src, sp), (h.dst, dp))) else {
            return false;
        };
        frame::rewrite(ip, false, inside.0, Some(inside.1));
        self.translated += 1;
        true
    }

    /// A `dnat to ADDR[:PORT]` on a connection's first packet: the translation is kept and
    /// the packet rewritten.
    pub fn dnat_new(&mut self, ip: &mut [u8], to: (Ipv4Addr, Option<u16>)) -> bool {
        let Some((h, sp, dp)) = ends(ip) else {
            return false;
        };
        if self.dnat_in.len() >= MAX {
            return false;
        }
        let inside = (to.0, to.1.unwrap_or(dp));
        self.dnat_in
            .insert((h.proto, (h.src, sp), (h.dst, dp)), inside);
        self.dnat_back
            .insert((h.proto, inside, (h.src, sp)), (h.dst, dp));
        frame::rewrite(ip, false, inside.0, Some(inside.1));
        self.translated += 1;
        true
    }

    /// A reply from the inside end of a redirected connection: its source becomes the
    /// router's end the client asked.
    pub fn dnat_reply(&mut self, ip: &mut [u8]) -> bool {
        let Some((h, sp, dp)) = ends(ip) else {
            return false;
        };
        let Some(&outer) = self.dnat_back.get(&(h.proto, (h.src, sp), (h.dst, dp))) else {
            return false;
        };
        frame::rewrite(ip, true, outer.0, Some(outer.1));
        self.translated += 1;
        true
    }

    pub fn flows(&self) -> usize {
        self.out.len()
    }
}

/// The header and the two ports (or echo id) of a packet NAT can key.
fn ends(ip: &[u8]) -> Option<(V4, u16, u16)> {
    let h = V4::parse(ip)?;
    let (sp, dp) = h.ports(ip)?;
    Some((h, sp, dp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(src: End, dst: End) -> Vec<u8> {
        let mut u = vec![0u8; 12];
        u[0..2].copy_from_slice(&src.1.to_be_bytes());
        u[2..4].copy_from_slice(&dst.1.to_be_bytes());
        u[4..6].copy_from_slice(&12u16.to_be_bytes());
        frame::ipv4_packet(src.0, dst.0, 17, 1, &u)
    }

    #[test]
    fn a_flow_is_translated_out_and_back_and_errors_are_too() {
        let lan = (Ipv4Addr::new(192, 168, 1, 10), 5353);
        let remote = (Ipv4Addr::new(203, 0, 113, 53), 53);
        let wan = Ipv4Addr::new(203, 0, 113, 1);
        let mut n = Nat::default();
        let mut p = udp(lan, remote);
        assert!(!n.outbound(&mut p.clone(), None), "no mapping, no rule");
        assert!(n.outbound(&mut p, Some(wan)));
        let h = V4::parse(&p).unwrap();
        assert_eq!((h.src, h.ports(&p)), (wan, Some((5353, 53))));
        // A second LAN host with the same port gets another one.
        let mut p2 = udp((Ipv4Addr::new(192, 168, 1, 11), 5353), remote);
        assert!(n.outbound(&mut p2, Some(wan)));
        assert_eq!(V4::parse(&p2).unwrap().ports(&p2), Some((32768, 53)));
        let mut r = udp(remote, (wan, 5353));
        assert!(n.inbound(&mut r));
        let h = V4::parse(&r).unwrap();
        assert_eq!((h.dst, h.ports(&r)), (lan.0, Some((53, 5353))));
        let e = frame::icmp_error_for(&p, 3, 3, remote.0, 2).unwrap();
        let mut e = e;
        assert!(n.inbound(&mut e));
        assert_eq!(V4::parse(&e).unwrap().dst, lan.0);
        assert_eq!(V4::parse_quoted(&e[28..]).unwrap().src, lan.0);
        assert_eq!(
            frame::checksum(&e[20..], 0),
            0,
            "the ICMP checksum is redone"
        );
    }
}
