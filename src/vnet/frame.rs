//! Ethernet, ARP and IPv4 bytes as the virtual network's router and hosts write them: the
//! frames a node makes itself (ARP, a reject's TCP reset or ICMP error, an echo reply) and the
//! rewrites forwarding does (TTL, NAT). Written by hand, not with smoltcp's `wire` emitters,
//! because a reject must carry exactly the ICMP code and quoted bytes the kernel's would.

use std::net::Ipv4Addr;

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];
pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_IPV6: u16 = 0x86dd;

/// How much of an offending packet an ICMP error quotes: as the kernel's `icmp_send`, the
/// error is at most 576 bytes.
const ICMP_ERROR_MAX: usize = 576;

/// The Internet checksum of `data`, folded, starting from the partial sum `sum`.
pub fn checksum(data: &[u8], mut sum: u32) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_v4(src: &[u8], dst: &[u8], proto: u8, len: usize) -> u32 {
    let mut s = 0u32;
    for c in src.chunks(2).chain(dst.chunks(2)) {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    s + u32::from(proto) + len as u32
}

pub fn eth_frame(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The Ethernet header's fields: destination, source, type, and the payload.
pub fn eth_parts(f: &[u8]) -> Option<(Mac, Mac, u16, &[u8])> {
    if f.len() < 14 {
        return None;
    }
    let dst: Mac = f[0..6].try_into().ok()?;
    let src: Mac = f[6..12].try_into().ok()?;
    Some((dst, src, u16::from_be_bytes([f[12], f[13]]), &f[14..]))
}

/// An ARP message: operation (1 request, 2 reply), sender and target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

impl Arp {
    pub fn parse(p: &[u8]) -> Option<Arp> {
        if p.len() < 28 || p[0..6] != [0, 1, 8, 0, 6, 4] {
            return None;
        }
        Some(Arp {
            op: u16::from_be_bytes([p[6], p[7]]),
            sender_mac: p[8..14].try_into().ok()?,
            sender_ip: Ipv4Addr::new(p[14], p[15], p[16], p[17]),
            target_mac: p[18..24].try_into().ok()?,
            target_ip: Ipv4Addr::new(p[24], p[25], p[26], p[27]),
        })
    }

    pub fn frame(&self) -> Vec<u8> {
        let mut p = vec![0, 1, 8, 0, 6, 4];
        p.extend_from_slice(&self.op.to_be_bytes());
        p.extend_from_slice(&self.sender_mac);
        p.extend_from_slice(&self.sender_ip.octets());
        p.extend_from_slice(&self.target_mac);
        p.extend_from_slice(&self.target_ip.octets());
        let dst = if self.op == 1 {
            BROADCAST
        } else {
            self.target_mac
        };
        eth_frame(dst, self.sender_mac, ETH_ARP, &p)
    }
}

/// The fields of an IPv4 packet the router reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ttl: u8,
    pub hlen: usize,
    pub total: usize,
    /// A piece of a fragmented datagram other than the first (no ports).
    pub later_fragment: bool,
}

impl V4 {
    pub fn parse(ip: &[u8]) -> Option<V4> {
        let h = V4::parse_quoted(ip)?;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        (total >= h.hlen && total <= ip.len()).then_some(h)
    }

    /// The header of a packet an ICMP error quotes, which may be cut short: its length is
    /// what was quoted.
    pub fn parse_quoted(ip: &[u8]) -> Option<V4> {
        if ip.len() < 20 || ip[0] >> 4 != 4 {
            return None;
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
        let hlen = usize::from(ip[0] & 0xf) * 4;
        if hlen < 20 || hlen > total {
            return None;
        }
        Some(V4 {
            src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
            proto: ip[9],
            ttl: ip[8],
            hlen,
            total,
            later_fragment: u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0,
        })
    }

    /// The transport ports (TCP, UDP) or the echo identifier (ICMP echo, both ways), as NAT
    /// keys a flow.
    pub fn ports(&self, ip: &[u8]) -> Option<(u16, u16)> {
        if self.later_fragment {
            return None;
        }
        let l4 = ip.get(self.hlen..self.total)?;
        match self.proto {
            6 | 17 if l4.len() >= 4 => Some((
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
            )),
            1 if l4.len() >= 8 && (l4[0] == 8 || l4[0] == 0) => {
                let id = u16::from_be_bytes([l4[4], l4[5]]);
                Some((id, id))
            }
            _ => None,
        }
    }
}

/// Writes an IPv4 header (no options) in front of `payload`, checksummed.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum(&p[..20], 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    fix_l4_checksum(&mut p);
    p
}

/// Recomputes the header checksum and the TCP, UDP or ICMP checksum of a whole, unfragmented
/// IPv4 packet (after NAT or a TTL change).
pub fn fix_checksums(ip: &mut [u8]) {
    let Some(h) = V4::parse(ip) else { return };
    ip[10] = 0;
    ip[11] = 0;
    let c = checksum(&ip[..h.hlen], 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    fix_l4_checksum(ip);
}

fn fix_l4_checksum(ip: &mut [u8]) {
    let Some(h) = V4::parse(ip) else { return };
    if h.later_fragment || u16::from_be_bytes([ip[6], ip[7]]) & 0x2000 != 0 {
        return; // the checksum covers the whole datagram, which this piece is not
    }
    let (hdr, rest) = ip.split_at_mut(h.hlen);
    let l4 = &mut rest[..h.total - h.hlen];
    let at = match h.proto {
        6 if l4.len() >= 20 => 16,
        17 if l4.len() >= 8 => 6,
        1 if l4.len() >= 4 => 2,
        _ => return,
    };
    l4[at] = 0;
    l4[at + 1] = 0;
    let init = if h.proto == 1 {
        0
    } else {
        pseudo_v4(&hdr[12..16], &hdr[16..20], h.proto, l4.len())
    };
    let mut c = checksum(l4, init);
    if h.proto == 17 && c == 0 {
        c = 0xffff;
    }
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Rewrites the source or destination address and port (or echo identifier) of an IPv4
/// packet, as NAT does, and its checksums.
pub fn rewrite(ip: &mut [u8], src: bool, addr: Ipv4Addr, port: Option<u16>) {
    let Some(h) = V4::parse(ip) else { return };
    let at = if src { 12 } else { 16 };
    ip[at..at + 4].copy_from_slice(&addr.octets());
    if let Some(port) = port.filter(|_| !h.later_fragment) {
        let l4 = h.hlen;
        match h.proto {
            6 | 17 if ip.len() >= l4 + 4 => {
                let p = if src { l4 } else { l4 + 2 };
                ip[p..p + 2].copy_from_slice(&port.to_be_bytes());
            }
            1 if ip.len() >= l4 + 8 => ip[l4 + 4..l4 + 6].copy_from_slice(&port.to_be_bytes()),
            _ => {}
        }
    }
    fix_checksums(ip);
}

/// The TCP reset the kernel's `reject with tcp reset` sends for `ip` (nf_send_reset): to the
/// sender, from the address it wrote to; `None` when `ip` is not TCP or is itself a reset.
pub fn tcp_reset_for(ip: &[u8], id: u16) -> Option<Vec<u8>> {
    let h = V4::parse(ip)?;
    if h.proto != 6 || h.later_fragment {
        return None;
    }
    let t = ip.get(h.hlen..h.total)?;
    if t.len() < 20 {
        return None;
    }
    let flags = t[13];
    if flags & 0x04 != 0 {
        return None;
    }
    let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
    let ack = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
    let doff = usize::from(t[12] >> 4) * 4;
    let data = t.len().saturating_sub(doff) as u32;
    let mut r = [0u8; 20];
    r[0..2].copy_from_slice(&t[2..4]);
    r[2..4].copy_from_slice(&t[0..2]);
    if flags & 0x10 != 0 {
        // An ACK: the reset takes its sequence number from it and acknowledges nothing.
        r[4..8].copy_from_slice(&ack.to_be_bytes());
        r[13] = 0x04;
    } else {
        let len = data + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
        r[8..12].copy_from_slice(&seq.wrapping_add(len).to_be_bytes());
        r[13] = 0x14;
    }
    r[12] = 5 << 4;
    Some(ipv4_packet(h.dst, h.src, 6, id, &r))
}

/// An ICMP error of `typ`/`code` about `ip`, from `from` to its sender, quoting as much of it
/// as the kernel does. `None` for what the kernel never answers with an error: another ICMP
/// error, a later fragment, a broadcast or multicast.
pub fn icmp_error_for(ip: &[u8], typ: u8, code: u8, from: Ipv4Addr, id: u16) -> Option<Vec<u8>> {
    let h = V4::parse(ip)?;
    if h.later_fragment || h.dst.is_broadcast() || h.dst.is_multicast() {
        return None;
    }
    if h.proto == 1 {
        let t = *ip.get(h.hlen)?;
        if !matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) {
            return None;
        }
    }
    let quote = &ip[..h.total.min(ICMP_ERROR_MAX - 28)];
    let mut m = vec![typ, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(quote);
    Some(ipv4_packet(from, h.src, 1, id, &m))
}

/// The echo reply to an echo request, or `None`.
pub fn echo_reply_for(ip: &[u8], id: u16) -> Option<Vec<u8>> {
    let h = V4::parse(ip)?;
    let m = ip.get(h.hlen..h.total)?;
    if h.proto != 1 || m.len() < 8 || m[0] != 8 {
        return None;
    }
    let mut r = m.to_vec();
    r[0] = 0;
    Some(ipv4_packet(h.dst, h.src, 1, id, &r))
}

/// The ICMP type and code a `reject` statement's text names (nft `reject with …`, iptables
/// `--reject-with …`), for IPv4; `None` for a TCP reset. A bare `reject` is port
/// unreachable, as in the kernel.
pub fn reject_kind(with: Option<&str>) -> Option<(u8, u8)> {
    let w = with.unwrap_or("");
    if w.contains("tcp reset") || w.contains("tcp-reset") {
        return None;
    }
    let code = if w.contains("admin-prohibited") || w.contains("admin-prohib") {
        13
    } else if w.contains("host-prohibited") {
        10
    } else if w.contains("net-prohibited") {
        9
    } else if w.contains("host-unreachable") {
        1
    } else if w.contains("net-unreachable") || w.contains("no-route") {
        0
    } else if w.contains("prot-unreachable") || w.contains("proto-unreachable") {
        2
    } else {
        3
    };
    Some((3, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn() -> Vec<u8> {
        let mut t = [0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&22u16.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = 0x02;
        ipv4_packet(
            Ipv4Addr::new(192, 168, 1, 10),
            Ipv4Addr::new(203, 0, 113, 10),
            6,
            1,
            &t,
        )
    }

    #[test]
    fn checksums_verify_as_zero() {
        let p = syn();
        assert_eq!(checksum(&p[..20], 0), 0);
        let h = V4::parse(&p).unwrap();
        let init = pseudo_v4(&p[12..16], &p[16..20], 6, p.len() - 20);
        assert_eq!(checksum(&p[20..], init), 0);
        assert_eq!(h.ports(&p), Some((40000, 22)));
    }

    #[test]
    fn a_reset_answers_a_syn_as_the_kernel_does() {
        let p = syn();
        let r = tcp_reset_for(&p, 7).unwrap();
        let h = V4::parse(&r).unwrap();
        assert_eq!(
            (h.src, h.dst),
            (
                Ipv4Addr::new(203, 0, 113, 10),
                Ipv4Addr::new(192, 168, 1, 10)
            )
        );
        let t = &r[20..];
        assert_eq!(t[13], 0x14, "RST|ACK");
        assert_eq!(u32::from_be_bytes([t[8], t[9], t[10], t[11]]), 1001);
        assert_eq!(checksum(&r[..20], 0), 0);
        assert!(tcp_reset_for(&r, 8).is_none(), "no reset for a reset");
    }

    #[test]
    fn an_icmp_error_quotes_the_packet_and_nat_rewrites_checksums() {
        let p = syn();
        let e = icmp_error_for(&p, 3, 13, Ipv4Addr::new(192, 168, 1, 1), 9).unwrap();
        assert_eq!(&e[28..], &p[..]);
        assert_eq!(checksum(&e[20..], 0), 0);
        assert!(icmp_error_for(&e, 3, 3, Ipv4Addr::new(1, 1, 1, 1), 1).is_none());
        let mut q = p.clone();
        rewrite(&mut q, true, Ipv4Addr::new(203, 0, 113, 1), Some(50000));
        let h = V4::parse(&q).unwrap();
        assert_eq!(
            (h.src, h.ports(&q)),
            (Ipv4Addr::new(203, 0, 113, 1), Some((50000, 22)))
        );
        let init = pseudo_v4(&q[12..16], &q[16..20], 6, q.len() - 20);
        assert_eq!(checksum(&q[20..], init), 0);
        assert_eq!(
            reject_kind(Some("icmpx type admin-prohibited")),
            Some((3, 13))
        );
        assert_eq!(reject_kind(None), Some((3, 3)));
        assert_eq!(reject_kind(Some("tcp reset")), None);
    }

    #[test]
    fn arp_round_trips() {
        let a = Arp {
            op: 1,
            sender_mac: [2, 0, 0, 0, 1, 1],
            sender_ip: Ipv4Addr::new(192, 168, 1, 1),
            target_mac: [0; 6],
            target_ip: Ipv4Addr::new(192, 168, 1, 10),
        };
        let f = a.frame();
        let (dst, _, ty, p) = eth_parts(&f).unwrap();
        assert_eq!((dst, ty), (BROADCAST, ETH_ARP));
        assert_eq!(Arp::parse(p), Some(a));
    }
}
