//! Hand-built frames for tests that must not depend on the shared corpus.

use packetlab::capture::{Frame, LinkType, Timestamp};

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

pub fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

pub fn tcp(sp: u16, dp: u16, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// A DNS query for one name given as raw labels (so tests can put any byte in a label).
pub fn dns_query(id: u16, labels: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in labels {
        v.push(l.len() as u8);
        v.extend_from_slice(l);
    }
    v.extend_from_slice(&[0, 0, 1, 0, 1]);
    v
}

pub fn frame(n: i64, data: Vec<u8>) -> Frame {
    Frame {
        ts: Timestamp(1_700_000_000_000_000_000 + n * 1_250_000),
        link_type: LinkType::ETHERNET,
        orig_len: data.len() as u32,
        data,
        iface: 0,
    }
}

/// A small, varied conversation on a LAN: TCP handshake, data, DNS, ping, ARP.
pub fn sample() -> Vec<Frame> {
    let a = [192, 168, 1, 10];
    let b = [192, 168, 1, 20];
    let dns = [192, 168, 1, 1];
    let v = vec![
        eth(0x0806, &{
            let mut p = vec![0, 1, 8, 0, 6, 4, 0, 1];
            p.extend_from_slice(&MAC_A);
            p.extend_from_slice(&a);
            p.extend_from_slice(&[0; 6]);
            p.extend_from_slice(&b);
            p
        }),
        eth(
            0x0800,
            &ipv4(
                a,
                dns,
                17,
                &udp(40000, 53, &dns_query(0xbeef, &[b"example", b"org"])),
            ),
        ),
        eth(0x0800, &ipv4(a, b, 6, &tcp(51000, 80, 0x02, 1000, 0, b""))),
        eth(
            0x0800,
            &ipv4(b, a, 6, &tcp(80, 51000, 0x12, 5000, 1001, b"")),
        ),
        eth(
            0x0800,
            &ipv4(a, b, 6, &tcp(51000, 80, 0x10, 1001, 5001, b"")),
        ),
        eth(
            0x0800,
            &ipv4(
                a,
                b,
                6,
                &tcp(
                    51000,
                    80,
                    0x18,
                    1001,
                    5001,
                    b"GET / HTTP/1.1\r\nHost: b\r\n\r\n",
                ),
            ),
        ),
        eth(
            0x0800,
            &ipv4(a, b, 1, &[8, 0, 0, 0, 0, 7, 0, 1, b'p', b'i', b'n', b'g']),
        ),
        eth(
            0x0800,
            &ipv4(b, a, 1, &[0, 0, 0, 0, 0, 7, 0, 1, b'p', b'i', b'n', b'g']),
        ),
        eth(0x0800, &ipv4(a, b, 6, &tcp(51000, 80, 0x04, 1028, 0, b""))),
    ];
    v.into_iter()
        .enumerate()
        .map(|(i, d)| frame(i as i64, d))
        .collect()
}

/// Packets whose DNS name and payload carry terminal escape sequences.
pub fn hostile() -> Vec<Frame> {
    let a = [10, 0, 0, 1];
    let b = [10, 0, 0, 2];
    vec![
        frame(
            0,
            eth(
                0x0800,
                &ipv4(
                    a,
                    b,
                    17,
                    &udp(
                        5353,
                        53,
                        &dns_query(1, &[b"\x1b[2J\x1b]0;pwned\x07", b"evil"]),
                    ),
                ),
            ),
        ),
        frame(
            1,
            eth(
                0x0800,
                &ipv4(a, b, 17, &udp(4000, 4001, b"\x1b[31mRED\x1b[0m\x9b6n\r\n")),
            ),
        ),
    ]
}

/// A DNS response: `example.org` is at 192.168.1.20.
pub fn dns_response() -> Frame {
    let mut m = vec![0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 168, 1, 20]);
    frame(
        20,
        eth(
            0x0800,
            &ipv4([192, 168, 1, 1], [192, 168, 1, 10], 17, &udp(53, 40000, &m)),
        ),
    )
}

/// A frame at `ms` milliseconds after the capture's start (the same start as [`frame`]).
pub fn frame_at(ms: i64, data: Vec<u8>) -> Frame {
    Frame {
        ts: Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000),
        ..frame(0, data)
    }
}

/// Twenty seconds of traffic for the charts: an HTTP download that speeds up then stops (TCP,
/// up to 2.5 kB/s, mostly B → A), a DNS query every 3 s (UDP), a large ping each second for the
/// first 10 s (ICMP), ARP now and then (other), and twelve hosts that each send one UDP datagram of a
/// different size, so the top talkers have more than ten addresses to choose from.
pub fn over_seconds() -> Vec<Frame> {
    let a = [192, 168, 1, 10];
    let b = [192, 168, 1, 20];
    let dns = [192, 168, 1, 1];
    let mut v: Vec<(i64, Vec<u8>)> = Vec::new();
    let arp = || {
        let mut p = vec![0, 1, 8, 0, 6, 4, 0, 1];
        p.extend_from_slice(&MAC_A);
        p.extend_from_slice(&a);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&b);
        eth(0x0806, &p)
    };
    for s in [0, 7, 14] {
        v.push((s * 1000 + 5, arp()));
    }
    v.push((
        10,
        eth(0x0800, &ipv4(a, b, 6, &tcp(51000, 80, 0x02, 1000, 0, b""))),
    ));
    v.push((
        20,
        eth(
            0x0800,
            &ipv4(b, a, 6, &tcp(80, 51000, 0x12, 5000, 1001, b"")),
        ),
    ));
    v.push((
        30,
        eth(
            0x0800,
            &ipv4(a, b, 6, &tcp(51000, 80, 0x10, 1001, 5001, b"")),
        ),
    ));
    let get = b"GET /big HTTP/1.1\r\nHost: b\r\n\r\n";
    v.push((
        40,
        eth(
            0x0800,
            &ipv4(a, b, 6, &tcp(51000, 80, 0x18, 1001, 5001, get)),
        ),
    ));
    let a_seq = 1001 + get.len() as u32;
    let mut b_seq = 5001u32;
    // Seconds 1..=15: two segments a second, growing to 1,120 bytes of payload by second 8,
    // then shrinking; the client acknowledges each.
    for s in 1..=15i64 {
        let len = (140 * (8 - (s - 8).abs()) as usize).max(60);
        for half in 0..2 {
            let t = s * 1000 + half * 500;
            let body = vec![b'x'; len];
            v.push((
                t,
                eth(
                    0x0800,
                    &ipv4(b, a, 6, &tcp(80, 51000, 0x18, b_seq, a_seq, &body)),
                ),
            ));
            b_seq += len as u32;
            v.push((
                t + 1,
                eth(
                    0x0800,
                    &ipv4(a, b, 6, &tcp(51000, 80, 0x10, a_seq, b_seq, b"")),
                ),
            ));
        }
    }
    let fin = 16_000;
    v.push((
        fin,
        eth(
            0x0800,
            &ipv4(b, a, 6, &tcp(80, 51000, 0x11, b_seq, a_seq, b"")),
        ),
    ));
    v.push((
        fin + 1,
        eth(
            0x0800,
            &ipv4(a, b, 6, &tcp(51000, 80, 0x11, a_seq, b_seq + 1, b"")),
        ),
    ));
    v.push((
        fin + 2,
        eth(
            0x0800,
            &ipv4(b, a, 6, &tcp(80, 51000, 0x10, b_seq + 1, a_seq + 1, b"")),
        ),
    ));
    for (i, s) in (0..20).step_by(3).enumerate() {
        let q = dns_query(0x100 + i as u16, &[b"example", b"org"]);
        v.push((
            s * 1000 + 200,
            eth(0x0800, &ipv4(a, dns, 17, &udp(40000 + i as u16, 53, &q))),
        ));
    }
    for s in 0..10i64 {
        let mut echo = vec![8, 0, 0, 0, 0, 7, 0, s as u8];
        echo.extend_from_slice(&[b'p'; 400]);
        v.push((s * 1000 + 300, eth(0x0800, &ipv4(a, b, 1, &echo))));
        echo[0] = 0;
        v.push((s * 1000 + 301, eth(0x0800, &ipv4(b, a, 1, &echo))));
    }
    for h in 0..12u8 {
        let payload = vec![0u8; 100 + 40 * h as usize];
        let src = [10, 0, 0, 30 + h];
        v.push((
            5_000 + h as i64 * 400,
            eth(
                0x0800,
                &ipv4(src, [10, 0, 0, 255], 17, &udp(6000, 6000, &payload)),
            ),
        ));
    }
    v.sort_by_key(|(t, _)| *t);
    v.into_iter().map(|(t, d)| frame_at(t, d)).collect()
}
