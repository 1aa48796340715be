use super::detail::Tree;
use super::*;
use crate::capture::{FrameRef, Timestamp};

const LINKS: [LinkType; 8] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::RAW,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::IPV4,
    LinkType::IPV6,
];

/// A valid Ethernet/IPv4/UDP/DNS frame and an Ethernet/IPv6/TCP frame with options, as seeds.
fn seeds() -> Vec<Vec<u8>> {
    let mut dns = vec![0u8; 12];
    dns.extend_from_slice(&[0x00, 0x01, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    dns.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
    dns.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
    let mut v4 = vec![0u8; 12];
    v4.extend_from_slice(&[
        0x08, 0x00, 0x45, 0, 0, 0, 0, 1, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    let udp_len = 8 + dns.len() - 12;
    v4.extend_from_slice(&[0x9c, 0x40, 0, 53]);
    v4.extend_from_slice(&(udp_len as u16).to_be_bytes());
    v4.extend_from_slice(&[0, 0]);
    v4.extend_from_slice(&dns[12..]);
    let tot = (v4.len() - 14) as u16;
    v4[16..18].copy_from_slice(&tot.to_be_bytes());
    let mut v6 = vec![0u8; 12];
    v6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 40, 6, 64]);
    v6.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend_from_slice(&[
        0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0xa0, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    v6.extend_from_slice(&[
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ]);
    vec![v4, v6]
}

fn check(link: LinkType, data: &[u8]) {
    let s = decode(link, data);
    let _ = info::info(&s, data);
    let f = FrameRef {
        ts: Timestamp(0),
        link_type: link,
        data,
        orig_len: data.len() as u32,
        iface: 0,
    };
    let (tree, s2) = Tree::build(1, &f);
    assert_eq!(s, s2, "the summary and the detail walk agree");
    for n in &tree.nodes {
        assert!(
            n.range.end <= data.len() && n.range.start <= n.range.end,
            "{n:?}"
        );
    }
}

#[test]
fn seeds_decode_as_expected() {
    let s = seeds();
    let a = decode(LinkType::ETHERNET, &s[0]);
    assert_eq!(a.proto, Proto::Dns);
    assert_eq!((a.sport, a.dport), (Some(40000), Some(53)));
    assert_eq!(a.error, None);
    assert_eq!(
        info::info(&a, &s[0]),
        "Standard query response 0x0001 A example.org A 93.184.216.34"
    );
    let b = decode(LinkType::ETHERNET, &s[1]);
    assert_eq!(b.proto, Proto::Tcp);
    let t = b.tcp.unwrap();
    assert_eq!(
        (t.flags, t.mss, t.wscale),
        (TcpInfo::SYN, Some(1460), Some(7))
    );
    assert_eq!(b.error, None);
}

#[test]
fn every_truncation_of_valid_frames_decodes_without_panic() {
    for seed in seeds() {
        for cut in 0..=seed.len() {
            for link in LINKS {
                check(link, &seed[..cut]);
                check(link, &seed[cut.min(14)..cut]);
            }
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    // xorshift: deterministic, no dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds = seeds();
    for i in 0..60_000 {
        let mut d = seeds[i % seeds.len()].clone();
        for _ in 0..(rnd() % 6 + 1) {
            let at = (rnd() as usize) % d.len();
            d[at] = rnd() as u8;
        }
        let cut = (rnd() as usize) % (d.len() + 1);
        check(LINKS[(rnd() as usize) % LINKS.len()], &d[..cut]);
        check(LinkType::ETHERNET, &d);
    }
    for _ in 0..20_000 {
        let len = (rnd() % 120) as usize;
        let d: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        for link in LINKS {
            check(link, &d);
        }
    }
}

#[test]
fn dns_compression_loop_is_an_error_not_a_hang() {
    let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[0xc0, 12]); // a pointer to itself
    assert!(dns::read_name(&m, 12).is_err());
    assert!(dns::first_question(&m).is_none());
}

fn test_ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

fn test_udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sp.to_be_bytes());
    u.extend_from_slice(&dp.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn test_syn(sp: u16, dp: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

#[test]
fn the_lab_tunnel_is_decoded_as_the_tcp_it_carries() {
    let lo = [127, 0, 0, 1];
    let inner = test_ipv4([10, 77, 0, 1], [10, 77, 0, 2], 6, &test_syn(49_152, 7080));
    for (sp, dp) in [
        (LAB_CARRIER_PORTS[0], 40_000),
        (40_001, LAB_CARRIER_PORTS[0]),
    ] {
        let outer = test_ipv4(lo, lo, 17, &test_udp(sp, dp, &inner));
        let s = decode(LinkType::RAW, &outer);
        assert_eq!(s.proto, Proto::Tcp, "{sp} → {dp}");
        assert_eq!(s.src, Some("10.77.0.1".parse().unwrap()));
        assert_eq!(s.dst, Some("10.77.0.2".parse().unwrap()));
        assert_eq!((s.sport, s.dport), (Some(49_152), Some(7080)));
        assert_eq!(s.tcp_flags(), Some(TcpInfo::SYN));
        assert_eq!(s.ip_len as usize, outer.len(), "the outer packet's length");
        assert_eq!(s.error, None);
        let mut t = Tree::default();
        walk(LinkType::RAW, &outer, &mut Summary::default(), &mut t);
        let titles: Vec<&str> = t
            .nodes
            .iter()
            .filter(|n| n.depth == 0)
            .map(|n| n.text.as_str())
            .collect();
        assert!(
            titles.iter().any(|t| t.starts_with("packetlab lab tunnel"))
                && titles
                    .last()
                    .unwrap()
                    .starts_with("Transmission Control Protocol"),
            "{titles:?}"
        );
    }
    // The server's leg (the same packets again, after the link) stays plain UDP.
    let server_leg = test_ipv4(lo, lo, 17, &test_udp(40_002, LAB_CARRIER_PORTS[1], &inner));
    assert_eq!(decode(LinkType::RAW, &server_leg).proto, Proto::Udp);
    // Off loopback the same ports are plain UDP, as tshark shows them.
    let away = test_ipv4([192, 168, 1, 2], lo, 17, &test_udp(7781, 40_000, &inner));
    assert_eq!(decode(LinkType::RAW, &away).proto, Proto::Udp);
    // A tunnel inside the tunnel is not opened again.
    let nested = test_ipv4(lo, lo, 17, &test_udp(7781, 40_000, &inner));
    let outer = test_ipv4(lo, lo, 17, &test_udp(7781, 40_000, &nested));
    let s = decode(LinkType::RAW, &outer);
    assert_eq!((s.proto, s.sport), (Proto::Udp, Some(7781)));
    // Not an IPv4 packet inside: plain data.
    let junk = test_ipv4(lo, lo, 17, &test_udp(7781, 40_000, b"hello"));
    assert_eq!(decode(LinkType::RAW, &junk).proto, Proto::Udp);
}

#[test]
fn tcp_sack_edges_and_options_are_read_as_the_kernel_reads_them() {
    // An IPv6 ACK (ack 1000) with NOP, NOP, SACK of two blocks (1500–1600, 1200–1300): the
    // kernel takes the right edge furthest after the ACK number.
    let frame = |opts: &[u8]| {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend_from_slice(&((20 + opts.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[6, 64]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0x03, 0xe8]);
        f.push((((20 + opts.len()) / 4) << 4) as u8);
        f.extend_from_slice(&[0x10, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(opts);
        f
    };
    let mut opts = vec![1, 1, 5, 18];
    for (l, r) in [(1500u32, 1600u32), (1200, 1300)] {
        opts.extend_from_slice(&l.to_be_bytes());
        opts.extend_from_slice(&r.to_be_bytes());
    }
    let t = decode(LinkType::ETHERNET, &frame(&opts)).tcp.unwrap();
    assert_eq!((t.ack, t.options, t.sack), (1000, true, Some(1600)));
    // A D-SACK (a block behind the ACK) leaves the ACK number.
    let mut dsack = vec![1, 1, 5, 10];
    dsack.extend_from_slice(&500u32.to_be_bytes());
    dsack.extend_from_slice(&600u32.to_be_bytes());
    let t = decode(LinkType::ETHERNET, &frame(&dsack)).tcp.unwrap();
    assert_eq!(t.sack, Some(1000));
    let t = decode(LinkType::ETHERNET, &frame(&[])).tcp.unwrap();
    assert_eq!((t.options, t.sack), (false, None));
}
