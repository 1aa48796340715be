use std::net::IpAddr;

use super::*;
use crate::decode::{ArpInfo, IcmpInfo, Inner, Proto, Summary, TcpInfo};
use crate::firewall::eval::Final;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn tcp(src: &str, dst: &str, sport: u16, dport: u16, flags: u16) -> Summary {
    Summary {
        eth_src: Some([0, 1, 2, 3, 4, 5]),
        eth_dst: Some([0xff; 6]),
        src: ip(src),
        dst: ip(dst),
        ip_proto: Some(6),
        ttl: Some(64),
        sport: Some(sport),
        dport: Some(dport),
        tcp: Some(TcpInfo {
            flags,
            ..Default::default()
        }),
        proto: Proto::Tcp,
        ..Default::default()
    }
}

fn udp(src: &str, dst: &str, sport: u16, dport: u16) -> Summary {
    Summary {
        src: ip(src),
        dst: ip(dst),
        ip_proto: Some(17),
        sport: Some(sport),
        dport: Some(dport),
        proto: Proto::Udp,
        ..Default::default()
    }
}

fn arp() -> Summary {
    Summary {
        eth_src: Some([0, 1, 2, 3, 4, 5]),
        eth_dst: Some([0xff; 6]),
        arp: Some(ArpInfo {
            op: 1,
            sender_mac: None,
            sender_ip: None,
            target_mac: None,
            target_ip: None,
        }),
        proto: Proto::Arp,
        ..Default::default()
    }
}

/// An ICMP port unreachable from 10.9.9.9 quoting a UDP packet 10.0.0.1:5000 → 10.0.0.2:53.
fn icmp_error() -> Summary {
    Summary {
        src: ip("10.9.9.9"),
        dst: ip("10.0.0.1"),
        ip_proto: Some(1),
        icmp: Some(IcmpInfo {
            typ: 3,
            code: 3,
            echo: None,
        }),
        inner: Some(Inner {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            proto: 17,
            query: None,
        }),
        sport: Some(5000),
        dport: Some(53),
        quoted: true,
        proto: Proto::Icmp,
        ..Default::default()
    }
}

/// A DNS query for www.example.com in `data` (the payload is the whole of it).
fn dns() -> (Summary, Vec<u8>) {
    let mut data = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["www", "example", "com"] {
        data.push(l.len() as u8);
        data.extend_from_slice(l.as_bytes());
    }
    data.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut s = udp("192.168.1.2", "192.168.1.1", 40000, 53);
    s.proto = Proto::Dns;
    s.payload = (0, data.len() as u32);
    s.payload_len = data.len() as u32;
    (s, data)
}

fn pkt<'a>(s: &'a Summary, data: &'a [u8]) -> FilterPacket<'a> {
    FilterPacket {
        summary: s,
        data,
        len: 60,
        verdict: None,
        session: None,
    }
}

fn m(filter: &str, p: &FilterPacket<'_>) -> bool {
    DisplayFilter::parse(filter)
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .matches(p)
}

/// (filter, expected) over one packet.
fn check(p: &FilterPacket<'_>, cases: &[(&str, bool)]) {
    for (f, want) in cases {
        assert_eq!(m(f, p), *want, "{f}");
    }
}

fn error(filter: &str) -> FilterError {
    match DisplayFilter::parse(filter) {
        Ok(_) => panic!("{filter}: parsed"),
        Err(e) => e,
    }
}

#[test]
fn protocols() {
    let syn = tcp("10.0.0.1", "10.0.0.2", 40000, 80, TcpInfo::SYN);
    let p = pkt(&syn, &[]);
    check(
        &p,
        &[
            ("tcp", true),
            ("udp", false),
            ("ip", true),
            ("ipv6", false),
            ("eth", true),
            ("frame", true),
            ("arp", false),
            ("icmp", false),
            ("dns", false),
            ("!tcp", false),
            ("not udp", true),
            ("", true),
            ("   ", true),
        ],
    );
    let a = arp();
    check(
        &pkt(&a, &[]),
        &[("arp", true), ("ip", false), ("eth", true), ("tcp", false)],
    );
    let u6 = udp("::1", "::1", 1, 2);
    check(
        &pkt(&u6, &[]),
        &[("ipv6", true), ("ip", false), ("udp", true), ("eth", false)],
    );
}

#[test]
fn addresses_any_occurrence_cidr_and_ne() {
    let s = tcp("10.0.0.1", "192.168.1.5", 40000, 443, TcpInfo::ACK);
    let p = pkt(&s, &[]);
    check(
        &p,
        &[
            ("ip.addr == 10.0.0.1", true),
            ("ip.addr == 192.168.1.5", true),
            ("ip.addr == 10.0.0.2", false),
            ("ip.src == 10.0.0.0/8", true),
            ("ip.dst == 10.0.0.0/8", false),
            ("ip.dst eq 192.168.0.0/16", true),
            // != is "no occurrence equals" (Wireshark 3.6+): one of them is 10.0.0.1.
            ("ip.addr != 10.0.0.1", false),
            ("ip.addr != 10.0.0.9", true),
            ("ip.src ne 10.0.0.1", false),
            ("ip.addr in {1.2.3.4, 192.168.1.0/24}", true),
            ("ip.addr in {10.0.0.0..10.0.0.0}", false),
            ("ip.addr in {10.0.0.0..10.0.0.3}", true),
            ("ip.src > 10.0.0.0", true),
            ("ip.src < 10.0.0.1", false),
            ("ip.src <= 10.0.0.1", true),
            ("ip.src >= 10.0.0.2", false),
            ("ipv6.addr == ::1", false),
            // Absent field: every comparison is false, != included.
            ("ipv6.addr != ::1", false),
            ("ip.addr == 0.0.0.0/0", true),
        ],
    );
    let s6 = udp("2001:db8::1", "::1", 5353, 5353);
    check(
        &pkt(&s6, &[]),
        &[
            ("ipv6.addr == ::1", true),
            ("ipv6.src == 2001:db8::/32", true),
            ("ipv6.dst == 2001:db8::/32", false),
            ("ip.addr == 10.0.0.0/8", false),
            ("ip.addr != 10.0.0.0/8", false),
            ("ipv6.addr in {::1}", true),
        ],
    );
}

#[test]
fn ports_sets_ranges_and_orderings() {
    let s = tcp("10.0.0.1", "10.0.0.2", 40000, 8080, TcpInfo::ACK);
    let p = pkt(&s, &[]);
    check(
        &p,
        &[
            ("tcp.port == 8080", true),
            ("tcp.port == 40000", true),
            ("tcp.srcport == 8080", false),
            ("tcp.dstport == 8080", true),
            ("tcp.port in {80, 443, 8000..8080}", true),
            ("tcp.port in {80 443 8000 .. 8079}", false),
            ("tcp.dstport in {0x1f90}", true),
            ("udp.port == 8080", false),
            ("tcp.srcport < 1024", false),
            ("tcp.dstport > 8079", true),
            ("tcp.dstport >= 8081", false),
            ("tcp.dstport lt 8081", true),
            ("tcp.dstport le 8079", false),
            ("tcp.dstport gt 8080", false),
            ("tcp.dstport ge 8080", true),
            ("tcp.port != 8080", false),
            ("tcp.port != 22", true),
            ("udp.port != 22", false),
            ("tcp.port", true),
            ("udp.port", false),
        ],
    );
    let u = udp("10.0.0.1", "10.0.0.2", 1234, 53);
    check(
        &pkt(&u, &[]),
        &[
            ("udp.port == 53", true),
            ("udp.srcport == 1234", true),
            ("udp.dstport == 1234", false),
            ("tcp.port == 53", false),
            ("udp.port == 53 || icmp", true),
        ],
    );
}

#[test]
fn tcp_flags() {
    let syn = tcp("10.0.0.1", "10.0.0.2", 1, 2, TcpInfo::SYN);
    let synack = tcp("10.0.0.2", "10.0.0.1", 2, 1, TcpInfo::SYN | TcpInfo::ACK);
    let rst = tcp("10.0.0.2", "10.0.0.1", 2, 1, TcpInfo::RST | TcpInfo::ACK);
    let u = udp("10.0.0.1", "10.0.0.2", 1, 2);
    let f = "tcp.flags.syn == 1 && tcp.flags.ack == 0";
    assert!(m(f, &pkt(&syn, &[])));
    assert!(!m(f, &pkt(&synack, &[])));
    assert!(!m(f, &pkt(&u, &[])));
    check(
        &pkt(&synack, &[]),
        &[
            ("tcp.flags == 0x12", true),
            ("tcp.flags == 18", true),
            ("tcp.flags == 022", true),
            ("tcp.flags == 0b10010", true),
            ("tcp.flags.syn == True", true),
            ("tcp.flags.fin == False", true),
            ("tcp.flags.reset == 1", false),
            ("tcp.flags.push == 1", false),
            ("tcp.flags.urg == 1", false),
            ("tcp.flags.ack", true),
        ],
    );
    check(
        &pkt(&rst, &[]),
        &[
            ("tcp.flags.reset == 1", true),
            ("tcp.flags.reset != 1", false),
        ],
    );
    check(
        &pkt(&u, &[]),
        &[("tcp.flags.syn == 0", false), ("tcp.flags.syn", false)],
    );
}

#[test]
fn frame_eth_icmp_arp_ip_fields() {
    let s = tcp("10.0.0.1", "10.0.0.2", 1, 2, TcpInfo::ACK);
    let data = b"\x00\x01GET / HTTP/1.1\r\n".to_vec();
    let mut p = pkt(&s, &data);
    p.len = 150;
    check(
        &p,
        &[
            ("frame.len > 100", true),
            ("frame.len <= 60", false),
            ("frame.len == 150", true),
            ("frame.cap_len == 18", true),
            ("frame contains \"GET\"", true),
            ("frame contains \"POST\"", false),
            ("frame contains 47:45:54", true),
            ("eth.addr == ff:ff:ff:ff:ff:ff", true),
            ("eth.src == ff-ff-ff-ff-ff-ff", false),
            ("eth.dst == ffff.ffff.ffff", true),
            ("eth.src == 00:01:02:03:04:05", true),
            ("ip.proto == 6", true),
            ("ip.ttl >= 64", true),
            ("icmp.type == 3", false),
        ],
    );
    let e = icmp_error();
    check(
        &pkt(&e, &[]),
        &[
            ("icmp", true),
            ("icmp.type == 3", true),
            ("icmp.code == 3", true),
            // The quoted packet is a UDP one, as tshark decodes it.
            ("udp", true),
            ("udp.port == 53", true),
            ("udp.port == 53 || icmp", true),
            ("tcp", false),
            ("ip.addr == 10.0.0.2", true),
            ("ip.src == 10.0.0.1", true),
            ("ip.proto == 17", true),
            ("ip.proto == 1", true),
        ],
    );
    let a = arp();
    check(
        &pkt(&a, &[]),
        &[
            ("arp.opcode == 1", true),
            ("arp.opcode == 2", false),
            ("(tcp.srcport < 1024) and not arp", false),
        ],
    );
}

#[test]
fn dns_names() {
    let (s, data) = dns();
    let p = pkt(&s, &data);
    check(
        &p,
        &[
            ("dns", true),
            ("udp", true),
            ("dns.qry.name == \"www.example.com\"", true),
            ("dns.qry.name == www.example.com", true),
            ("dns.qry.name != \"www.example.com\"", false),
            ("dns.qry.name != \"x\"", true),
            ("dns.qry.name contains \"example\"", true),
            ("dns.qry.name contains \"tcpdump\"", false),
            ("dns.qry.name in {\"a\", \"www.example.com\"}", true),
            ("dns.qry.name", true),
        ],
    );
    let t = tcp("10.0.0.1", "10.0.0.2", 1, 2, 0);
    check(
        &pkt(&t, &[]),
        &[
            ("dns.qry.name != \"x\"", false),
            ("dns.qry.name contains \"\"", false),
        ],
    );
}

#[test]
fn verdict_and_session() {
    let s = tcp("10.0.0.1", "10.0.0.2", 1, 2, 0);
    let mut p = pkt(&s, &[]);
    check(
        &p,
        &[
            ("verdict == drop", false),
            ("verdict != drop", false),
            ("session == 3", false),
            ("verdict", false),
        ],
    );
    p.verdict = Some(Final::Drop);
    p.session = Some(3);
    check(
        &p,
        &[
            ("verdict == drop", true),
            ("verdict == accept", false),
            ("verdict != accept", true),
            ("verdict in {accept, reject}", false),
            ("verdict in {drop, reject}", true),
            ("session == 3", true),
            ("session in {1..5}", true),
            ("session > 3", false),
            ("verdict == drop && session == 3", true),
        ],
    );
}

#[test]
fn precedence_and_parentheses() {
    let s = udp("10.0.0.1", "10.0.0.2", 1, 53);
    let p = pkt(&s, &[]);
    check(
        &p,
        &[
            // && binds tighter than ||.
            ("tcp && tcp.port == 1 || udp", true),
            ("tcp && (tcp.port == 1 || udp)", false),
            ("udp || tcp && arp", true),
            ("(udp || tcp) && arp", false),
            ("!udp || ip", true),
            ("!(udp || arp)", false),
            ("not not udp", true),
            ("!!udp", true),
            ("udp and ip or arp", true),
            ("((udp))", true),
        ],
    );
}

#[test]
fn text_and_display() {
    let f = DisplayFilter::parse("tcp.port == 80").unwrap();
    assert_eq!(f.text(), "tcp.port == 80");
    assert!(!f.is_empty());
    assert!(DisplayFilter::parse("").unwrap().is_empty());
    let e = FilterError {
        pos: 4,
        msg: "x".into(),
    };
    assert_eq!(e.to_string(), "col 5: x");
}

#[test]
fn errors_are_placed_where_the_problem_is() {
    let cases: &[(&str, usize, &str)] = &[
        ("tcp.port == ", 12, "expected a value"),
        ("tcp.port ==", 11, "expected a value"),
        ("tcp.prot == 80", 0, "unknown field 'tcp.prot'"),
        ("tcp && tcp.prot == 80", 7, "unknown field 'tcp.prot'"),
        ("tcp &&", 6, "expected a field, a protocol or '('"),
        ("", 0, ""),
        ("(tcp", 4, "expected ')'"),
        ("tcp)", 3, "unmatched ')'"),
        ("tcp udp", 4, "expected '&&', '||' or the end, found 'udp'"),
        ("tcp.port = 80", 9, "'=' is not an operator"),
        ("tcp & udp", 4, "'&' is not an operator"),
        ("tcp | udp", 4, "'|' is not an operator"),
        ("tcp == 1", 4, "'tcp' is a protocol"),
        ("tcp.port == http", 12, "expected a number, found 'http'"),
        ("tcp.port == 70000", 12, "too big"),
        ("ip.addr == ::1", 11, "expected an IPv4 address or CIDR"),
        (
            "ip.addr == 10.0.0.0/33",
            11,
            "expected an IPv4 address or CIDR",
        ),
        ("ipv6.addr == 10.0.0.1", 13, "expected an IPv6 address"),
        ("eth.addr == ff:ff", 12, "expected a MAC address"),
        ("tcp.flags.syn == 2", 17, "expected 1 or 0"),
        ("verdict == maybe", 11, "expected accept, drop or reject"),
        ("verdict > drop", 8, "verdicts have no order"),
        ("tcp.port in 80", 12, "expected '{' after 'in'"),
        ("tcp.port in {}", 13, "an empty set"),
        ("tcp.port in {80, 443", 20, "expected a value or '}'"),
        (
            "tcp.port in {90..80}",
            17,
            "end must not be below its start",
        ),
        (
            "ip.addr in {10.0.0.0/8..10.0.0.1}",
            22,
            "cannot form a range",
        ),
        ("ip.addr > 10.0.0.0/8", 10, "a prefix has no order"),
        ("tcp.port contains 80", 9, "'contains' needs a text field"),
        ("dns.qry.name < \"a\"", 13, "'dns.qry.name' is text"),
        ("dns.qry.name contains \"abc", 22, "unterminated string"),
        ("dns.qry.name == \"a\\q\"", 18, "unknown escape"),
        ("frame contains GETX", 15, "expected a string or bytes"),
        ("tcp.port == 80 $", 15, "unexpected character '$'"),
        ("ip.addr == 10.0.0.1 && (udp || )", 31, "expected a field"),
        ("!", 1, "expected a field"),
        ("tcp.port == (", 12, "expected a value, found '('"),
        // Positions count characters, not bytes.
        ("dns.qry.name == \"é\" && x", 23, "unknown field 'x'"),
    ];
    for (f, pos, msg) in cases {
        if f.is_empty() {
            assert!(DisplayFilter::parse(f).is_ok());
            continue;
        }
        let e = error(f);
        assert_eq!(e.pos, *pos, "{f}: {e}");
        assert!(e.msg.contains(msg), "{f}: {e}, want {msg:?}");
    }
    assert_eq!(
        error("tcp.port == ").to_string(),
        "col 13: expected a value"
    );
}

#[test]
fn malformed_headers_and_quoted_queries_count_as_tshark_counts_them() {
    // A TCP header cut short after its ports: still the TCP layer, with its ports.
    let cut = Summary {
        src: ip("10.0.0.1"),
        dst: ip("10.0.0.2"),
        ip_proto: Some(6),
        sport: Some(1),
        dport: Some(80),
        proto: Proto::Tcp,
        error: Some("TCP header truncated"),
        ..Default::default()
    };
    check(
        &pkt(&cut, &[]),
        &[
            ("tcp", true),
            ("tcp.port == 80", true),
            ("tcp.flags.syn == 0", false),
        ],
    );
    // An IPv4 header too short to give addresses: still the IP layer.
    let bad_ip = Summary {
        eth_src: Some([1; 6]),
        proto: Proto::Ipv4,
        error: Some("IPv4 header length below 20 bytes"),
        ..Default::default()
    };
    check(
        &pkt(&bad_ip, &[]),
        &[("ip", true), ("ip.addr == 0.0.0.0/0", false)],
    );
    // Host unreachable quoting an echo request: icmp.type is 3 and (quoted) 8.
    let mut e = icmp_error();
    e.sport = None;
    e.dport = None;
    e.quoted = false;
    e.icmp = Some(IcmpInfo {
        typ: 3,
        code: 1,
        echo: None,
    });
    e.inner = Some(Inner {
        proto: 1,
        query: Some((8, 0x4024)),
        ..e.inner.unwrap()
    });
    check(
        &pkt(&e, &[]),
        &[
            ("icmp.type == 8", true),
            ("icmp.type == 3", true),
            ("icmp.type != 8", false),
            ("udp", false),
            ("ip.proto == 1", true),
        ],
    );
}
