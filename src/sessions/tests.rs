use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::capture::Timestamp;
use crate::decode::{Proto, Summary, TcpInfo};

const SYN: u16 = TcpInfo::SYN;
const ACK: u16 = TcpInfo::ACK;
const FIN: u16 = TcpInfo::FIN;
const RST: u16 = TcpInfo::RST;
const PSH: u16 = TcpInfo::PSH;

const C: (u8, u16) = (1, 40000); // client
const S: (u8, u16) = (2, 80); // server

/// A test connection: segments are sent by `C` or `S` at millisecond steps.
struct Conn {
    table: SessionTable,
    ms: i64,
}

impl Conn {
    fn new() -> Self {
        Conn {
            table: SessionTable::new(100),
            ms: 0,
        }
    }

    fn seg(&mut self, from: (u8, u16), flags: u16, seq: u32, ack: u32, len: u32) -> Observed {
        let to = if from == C { S } else { C };
        self.ms += 10;
        let s = Summary {
            src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, from.0))),
            dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, to.0))),
            sport: Some(from.1),
            dport: Some(to.1),
            proto: Proto::Tcp,
            tcp: Some(TcpInfo {
                flags,
                seq,
                ack,
                window: 1000,
                ..Default::default()
            }),
            payload_len: len,
            ..Default::default()
        };
        self.table
            .observe(&s, Timestamp(self.ms * 1_000_000), 54 + len)
            .expect("a TCP packet has a session")
    }

    fn state(&self, id: u64) -> TcpState {
        self.table.get(id).unwrap().tcp.as_ref().unwrap().state
    }

    fn handshake(&mut self) -> u64 {
        let o = self.seg(C, SYN, 100, 0, 0);
        assert_eq!(self.state(o.session), TcpState::SynSent);
        self.seg(S, SYN | ACK, 500, 101, 0);
        assert_eq!(self.state(o.session), TcpState::SynReceived);
        self.seg(C, ACK, 101, 501, 0);
        assert_eq!(self.state(o.session), TcpState::Established);
        o.session
    }
}

#[test]
fn handshake_data_and_close() {
    let mut c = Conn::new();
    let id = c.handshake();
    c.seg(C, PSH | ACK, 101, 501, 10);
    c.seg(S, PSH | ACK, 501, 111, 20);
    c.seg(C, FIN | ACK, 111, 521, 0);
    assert_eq!(c.state(id), TcpState::FinWait);
    c.seg(S, ACK, 521, 112, 0);
    c.seg(S, FIN | ACK, 521, 112, 0);
    assert_eq!(c.state(id), TcpState::LastAck);
    c.seg(C, ACK, 112, 522, 0);
    assert_eq!(c.state(id), TcpState::TimeWait);
    let s = c.table.get(id).unwrap();
    assert_eq!((s.ab.frames, s.ba.frames), (5, 4));
    assert_eq!((s.ab.payload, s.ba.payload), (10, 20));
    assert_eq!(s.a.port, 40000, "the SYN's sender is A");
    let rtt = s.tcp.as_ref().unwrap().handshake_rtt;
    assert_eq!(
        rtt,
        Some(20_000_000),
        "SYN to the handshake's ACK: 2 steps of 10 ms"
    );
    let names: Vec<&str> = s.transitions.iter().map(|t| t.1).collect();
    assert_eq!(
        names,
        [
            "SYN_SENT",
            "SYN_RECEIVED",
            "ESTABLISHED",
            "FIN_WAIT",
            "LAST_ACK",
            "TIME_WAIT"
        ]
    );
    assert_eq!(s.tcp.as_ref().unwrap().retransmissions, 0);
}

#[test]
fn server_closes_first_is_close_wait() {
    let mut c = Conn::new();
    let id = c.handshake();
    c.seg(S, FIN | ACK, 501, 101, 0);
    assert_eq!(c.state(id), TcpState::CloseWait);
}

#[test]
fn simultaneous_close_is_closing() {
    let mut c = Conn::new();
    let id = c.handshake();
    c.seg(C, FIN | ACK, 101, 501, 0);
    c.seg(S, FIN | ACK, 501, 101, 0); // does not acknowledge the client's FIN
    assert_eq!(c.state(id), TcpState::Closing);
    c.seg(C, ACK, 102, 502, 0);
    c.seg(S, ACK, 502, 102, 0);
    assert_eq!(c.state(id), TcpState::TimeWait);
}

#[test]
fn simultaneous_open() {
    let mut c = Conn::new();
    let o = c.seg(C, SYN, 100, 0, 0);
    let o2 = c.seg(S, SYN, 500, 0, 0);
    assert_eq!(o.session, o2.session, "both SYNs belong to one session");
    assert_eq!(c.state(o.session), TcpState::SynReceived);
    c.seg(C, SYN | ACK, 100, 501, 0);
    c.seg(S, SYN | ACK, 500, 101, 0);
    c.seg(C, ACK, 101, 501, 0);
    assert_eq!(c.state(o.session), TcpState::Established);
}

#[test]
fn half_close_keeps_counting_the_open_direction() {
    let mut c = Conn::new();
    let id = c.handshake();
    c.seg(C, FIN | ACK, 101, 501, 0);
    for k in 0..5 {
        c.seg(S, PSH | ACK, 501 + k * 100, 102, 100);
        assert_eq!(c.state(id), TcpState::FinWait, "still half-closed");
    }
    assert_eq!(c.table.get(id).unwrap().ba.payload, 500);
    c.seg(S, FIN | ACK, 1001, 102, 0);
    assert_eq!(c.state(id), TcpState::LastAck);
}

#[test]
fn rst_in_every_state_resets() {
    type Setup = fn(&mut Conn) -> u64;
    let setups: [(&str, Setup); 6] = [
        ("SYN_SENT", |c| c.seg(C, SYN, 100, 0, 0).session),
        ("SYN_RECEIVED", |c| {
            let id = c.seg(C, SYN, 100, 0, 0).session;
            c.seg(S, SYN | ACK, 500, 101, 0);
            id
        }),
        ("ESTABLISHED", |c| c.handshake()),
        ("FIN_WAIT", |c| {
            let id = c.handshake();
            c.seg(C, FIN | ACK, 101, 501, 0);
            id
        }),
        ("CLOSE_WAIT", |c| {
            let id = c.handshake();
            c.seg(S, FIN | ACK, 501, 101, 0);
            id
        }),
        ("MIDSTREAM", |c| c.seg(C, ACK, 7000, 9000, 0).session),
    ];
    for (name, setup) in setups {
        for from in [C, S] {
            let mut c = Conn::new();
            let id = setup(&mut c);
            assert_eq!(c.state(id).name(), name);
            c.seg(from, RST | ACK, 1, 1, 0);
            assert_eq!(c.state(id), TcpState::Reset, "RST in {name}");
        }
    }
}

#[test]
fn port_reuse_after_close_starts_a_new_session() {
    let mut c = Conn::new();
    let first = c.handshake();
    c.seg(C, RST, 101, 0, 0);
    let second = c.seg(C, SYN, 9000, 0, 0).session;
    assert_ne!(first, second);
    assert_eq!(c.state(second), TcpState::SynSent);
    assert_eq!(c.table.len(), 2, "the closed one stays listed");
    // A retransmitted SYN (same ISN) is the same connection, counted as a retransmission.
    assert_eq!(c.seg(C, SYN, 9000, 0, 0).session, second);
    assert_eq!(c.table.get(second).unwrap().retransmissions(), 1);
    // A SYN with a new ISN on a live session is a new connection too (tshark's port reuse).
    let third = c.seg(C, SYN, 77_000, 0, 0).session;
    assert_ne!(third, second);
}

#[test]
fn capture_starting_midstream() {
    let mut c = Conn::new();
    let o = c.seg(S, PSH | ACK, 501, 101, 100);
    assert_eq!(c.state(o.session), TcpState::Midstream);
    let s = c.table.get(o.session).unwrap();
    assert_eq!(s.a.port, 80, "with no SYN, the first packet's sender is A");
    c.seg(C, ACK, 101, 601, 0);
    c.seg(C, FIN | ACK, 101, 601, 0);
    assert_eq!(
        c.state(o.session),
        TcpState::CloseWait,
        "A (the server here) has not closed"
    );
    // A capture that starts at the SYN-ACK still names the client as A.
    let mut c = Conn::new();
    let o = c.seg(S, SYN | ACK, 500, 101, 0);
    assert_eq!(c.table.get(o.session).unwrap().a.port, 40000);
    assert!(!o.a_to_b);
}

#[test]
fn retransmission_and_out_of_order() {
    let mut c = Conn::new();
    let id = c.handshake();
    c.seg(C, ACK, 101, 501, 100); // 101..201
    c.seg(C, ACK, 301, 501, 100); // 301..401: 201..301 is missing
                                  // The hole filled 10 ms later: behind the stream, but late — a retransmission.
    c.seg(C, ACK, 201, 501, 100);
    // The same bytes sent again: retransmission.
    c.seg(C, ACK, 101, 501, 100);
    let t = c.table.get(id).unwrap().tcp.clone().unwrap();
    assert_eq!((t.retransmissions, t.out_of_order), (2, 0));
    // Reordering: a segment behind the stream within 3 ms of the stream moving on.
    let mut table = SessionTable::new(10);
    let mk = |seq: u32| Summary {
        src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
        sport: Some(1),
        dport: Some(2),
        proto: Proto::Tcp,
        tcp: Some(TcpInfo {
            flags: ACK,
            seq,
            window: 10,
            ..Default::default()
        }),
        payload_len: 100,
        ..Default::default()
    };
    let o = table.observe(&mk(1000), Timestamp(1_000_000), 154).unwrap();
    table.observe(&mk(1200), Timestamp(1_500_000), 154);
    table.observe(&mk(1100), Timestamp(2_000_000), 154);
    let t = table.get(o.session).unwrap().tcp.clone().unwrap();
    assert_eq!((t.retransmissions, t.out_of_order), (0, 1));
}

#[test]
fn zero_window_is_counted() {
    let mut c = Conn::new();
    let id = c.handshake();
    let s = Summary {
        src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
        dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        sport: Some(80),
        dport: Some(40000),
        proto: Proto::Tcp,
        tcp: Some(TcpInfo {
            flags: ACK,
            seq: 501,
            ack: 101,
            window: 0,
            ..Default::default()
        }),
        ..Default::default()
    };
    c.table.observe(&s, Timestamp(999_000_000), 54);
    assert_eq!(
        c.table.get(id).unwrap().tcp.as_ref().unwrap().zero_windows,
        1
    );
}

#[test]
fn udp_sessions_go_idle_and_are_evicted_first() {
    let mut t = SessionTable::new(16);
    let udp = |a: u8, port: u16| Summary {
        src: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, a))),
        dst: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1))),
        sport: Some(port),
        dport: Some(53),
        proto: Proto::Udp,
        payload_len: 20,
        ..Default::default()
    };
    let old = t.observe(&udp(1, 1000), Timestamp(0), 62).unwrap().session;
    let mut c = Conn::new();
    c.table = t;
    let tcp = c.handshake();
    let mut t = c.table;
    // Two minutes later, 14 more flows fill the table; the idle UDP session goes first.
    for k in 0..14u16 {
        t.observe(&udp(2, 2000 + k), Timestamp(120_000_000_000), 62);
    }
    t.age();
    assert_eq!(t.get(old).unwrap().state_name(), "IDLE");
    t.observe(&udp(3, 3000), Timestamp(120_000_000_001), 62);
    assert!(t.get(old).is_none(), "the idle session was evicted");
    assert!(
        t.get(tcp).is_some(),
        "the open TCP session outlives the idle one"
    );
    assert!(t.evicted >= 1);
}

#[test]
fn a_million_flows_through_a_table_of_ten_thousand() {
    let mut t = SessionTable::new(10_000);
    for i in 0..1_000_000u32 {
        let s = Summary {
            src: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i >> 8)))),
            dst: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            sport: Some((i & 0xff) as u16 + 1024),
            dport: Some(53),
            proto: Proto::Udp,
            ..Default::default()
        };
        t.observe(&s, Timestamp(i as i64 * 1000), 60);
        assert!(t.len() <= 10_000);
    }
    assert_eq!(
        t.len() as u64 + t.evicted,
        1_000_000,
        "every flow is kept or counted as evicted"
    );
    assert!(t.evicted >= 990_000);
}

#[test]
fn rate_window_counts_each_direction_apart() {
    let mut c = Conn::new();
    let id = c.handshake();
    // The handshake is in second 0; data each way later, at whole seconds.
    c.ms = 1_990;
    c.seg(C, ACK | PSH, 101, 501, 100); // second 2: 154 bytes A → B
    c.ms = 2_990;
    c.seg(S, ACK | PSH, 501, 201, 400); // second 3: 454 bytes B → A
    let s = c.table.get(id).unwrap();
    assert_eq!(s.rate.newest(), 3);
    let ab = s.rate.series_dir(3, 4, true);
    let ba = s.rate.series_dir(3, 4, false);
    assert_eq!(
        ab,
        vec![54 + 54, 0, 154, 0],
        "SYN and ACK from A in second 0"
    );
    assert_eq!(ba, vec![54, 0, 0, 454], "SYN-ACK from B in second 0");
    let both: Vec<u64> = ab.iter().zip(&ba).map(|(a, b)| a + b).collect();
    assert_eq!(s.rate.series(3, 4), both);
}
