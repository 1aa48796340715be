//! The lab's generators and its lossy link, on loopback only: counts, refusals, the link's
//! measured rates, TCP versus UDP over the same 10 %-loss link, and no task or socket left
//! behind. Each test is bounded to a few seconds.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use packetlab::lab::lossy::udp_transfer;
use packetlab::lab::tcp_lossy::tcp_transfer;
use packetlab::lab::{GeneratorKind, GeneratorStats, Lab, LabSettings, LinkStats};

/// The socket-counting test runs alone; the others may run together.
static FDS: RwLock<()> = RwLock::const_new(());

async fn shared() -> RwLockReadGuard<'static, ()> {
    FDS.read().await
}

async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    FDS.write().await
}

fn settings(rate: u32, payload: usize) -> LabSettings {
    LabSettings {
        rate_per_sec: rate,
        payload,
        ..LabSettings::default()
    }
}

/// Runs one generator for `dur`, shuts the lab down, and returns its final counters.
async fn run(
    kind: GeneratorKind,
    s: LabSettings,
    dur: Duration,
) -> (GeneratorStats, Option<LinkStats>) {
    let mut lab = Lab::new(tokio::runtime::Handle::current());
    lab.set_settings(s);
    lab.start(kind).expect("start");
    assert!(lab.is_running(kind));
    tokio::time::sleep(dur).await;
    lab.shutdown().await;
    assert_eq!(lab.live_tasks(), 0, "{kind:?} left tasks behind");
    assert!(!lab.is_running(kind));
    let st = lab.stats(kind);
    assert!(!st.running);
    eprintln!("{kind:?}: {st:?}");
    (st, lab.link_stats(kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_echo_counts_every_message_and_byte() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::UdpEcho,
        settings(200, 64),
        Duration::from_secs(1),
    )
    .await;
    assert!(st.sent_msgs >= 100, "{st:?}");
    assert_eq!(st.recv_msgs, st.sent_msgs);
    assert_eq!(st.sent_bytes, st.sent_msgs * 64);
    assert_eq!(st.recv_bytes, st.sent_bytes);
    assert_eq!(
        (st.lost, st.out_of_order, st.duplicates, st.errors),
        (0, 0, 0, 0)
    );
    assert!(st.local.unwrap().ip().is_loopback() && st.remote.unwrap().ip().is_loopback());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_long_uses_one_connection() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::TcpEchoLong,
        settings(200, 100),
        Duration::from_secs(1),
    )
    .await;
    assert!(st.sent_msgs >= 100, "{st:?}");
    assert_eq!(st.recv_msgs, st.sent_msgs);
    assert_eq!(st.sent_bytes, st.sent_msgs * 100);
    assert_eq!(st.recv_bytes, st.sent_bytes);
    assert_eq!((st.connections, st.errors), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo_short_opens_a_connection_per_message() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::TcpEchoShort,
        settings(100, 50),
        Duration::from_secs(1),
    )
    .await;
    assert!(st.sent_msgs >= 50, "{st:?}");
    assert_eq!(st.recv_msgs, st.sent_msgs);
    assert_eq!(st.connections, st.sent_msgs);
    assert_eq!(st.sent_bytes, st.sent_msgs * 50);
    assert_eq!(st.recv_bytes, st.sent_bytes);
    assert_eq!(st.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_to_a_closed_port_is_refused_with_rst() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::TcpClosedPort,
        settings(50, 64),
        Duration::from_millis(600),
    )
    .await;
    assert!(st.sent_msgs >= 10, "{st:?}");
    // Every SYN got its RST: connect() failed with ECONNREFUSED each time.
    assert_eq!(st.recv_msgs, st.sent_msgs);
    assert_eq!(st.errors, st.sent_msgs);
    assert_eq!(st.connections, 0);
    assert!(st.note.contains("connection refused (RST)"), "{}", st.note);
    assert!(
        st.last_error
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{st:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_to_a_closed_port_gets_icmp_port_unreachable() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::UdpClosedPort,
        settings(50, 32),
        Duration::from_millis(600),
    )
    .await;
    assert!(st.sent_msgs >= 10, "{st:?}");
    // One ECONNREFUSED per datagram that went out (reported on a receive or the next send).
    assert!(
        st.recv_msgs + 1 >= st.sent_msgs && st.recv_msgs <= st.sent_msgs + 1,
        "{st:?}"
    );
    assert_eq!(st.errors, st.recv_msgs);
    assert_eq!(st.sent_bytes, st.sent_msgs * 32);
    assert!(st.note.contains("port unreachable"), "{}", st.note);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_like_exchanges_requests_and_responses() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::HttpLike,
        settings(50, 64),
        Duration::from_secs(1),
    )
    .await;
    assert!(st.sent_msgs >= 20, "{st:?}");
    assert_eq!(st.recv_msgs, st.sent_msgs);
    assert_eq!(st.connections, st.sent_msgs);
    assert_eq!(st.errors, 0);
    assert!(st.note.contains("200"), "{}", st.note);
    let req = st.sent_bytes / st.sent_msgs;
    assert_eq!(
        st.sent_bytes,
        st.sent_msgs * req,
        "every request the same size"
    );
    assert_eq!(
        st.recv_bytes % st.recv_msgs,
        0,
        "every response the same size"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_queries_get_answers() {
    let _g = shared().await;
    let (st, _) = run(GeneratorKind::Dns, settings(60, 64), Duration::from_secs(1)).await;
    assert!(st.sent_msgs >= 20, "{st:?}");
    assert_eq!(st.recv_msgs, st.sent_msgs);
    assert_eq!(st.errors, 0);
    let port = st.remote.unwrap().port();
    assert!(
        port == 5353 || port == 53 || st.note.contains("plain UDP"),
        "{st:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_link_rates_over_10000_datagrams_match_the_settings() {
    let _g = shared().await;
    let s = LabSettings {
        loss_pct: 10.0,
        dup_pct: 5.0,
        reorder_pct: 5.0,
        ..LabSettings::default()
    };
    let r = udp_transfer(10_000, 64, &s, 42).await.unwrap();
    eprintln!(
        "lossy link over 10000: loss {:.2}% dup {:.2}% reorder {:.2}%; {:?}",
        100.0 * r.loss_rate(),
        100.0 * r.dup_rate(),
        100.0 * r.reorder_rate(),
        r
    );
    // Every datagram reached the relay: what the receiver misses, the link dropped.
    assert_eq!(r.link.to_server.offered, 10_000);
    assert_eq!(r.lost, r.link.to_server.dropped);
    assert!((r.loss_rate() - 0.10).abs() <= 0.02, "{r:?}");
    assert!((r.dup_rate() - 0.05).abs() <= 0.02, "{r:?}");
    assert!((r.reorder_rate() - 0.05).abs() <= 0.02, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_delivers_every_byte_in_order_where_udp_loses_a_tenth() {
    let _g = shared().await;
    let s = LabSettings {
        loss_pct: 10.0,
        ..LabSettings::default()
    };
    let t = tcp_transfer(200, 1000, &s, 7, Duration::from_secs(15))
        .await
        .unwrap();
    eprintln!(
        "TCP over 10% loss: {} bytes delivered in order={} in {:?}, {} segments retransmitted; {}",
        t.delivered_bytes,
        t.in_order,
        t.elapsed,
        t.retransmitted_segments,
        t.link.summary()
    );
    assert_eq!(t.delivered_bytes, 200_000);
    assert!(t.in_order, "{t:?}");
    assert!(t.retransmitted_segments > 0, "{t:?}");
    assert!(t.link.to_server.dropped > 0 && t.link.to_client.dropped > 0);

    let u = udp_transfer(5_000, 1000, &s, 7).await.unwrap();
    eprintln!(
        "UDP over 10% loss: {} of {} lost ({:.2}%)",
        u.lost,
        u.sent,
        100.0 * u.loss_rate()
    );
    assert_eq!(u.lost, u.link.to_server.dropped, "every loss is the link's");
    assert!((0.08..=0.12).contains(&u.loss_rate()), "{u:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_and_tcp_side_by_side_through_the_lossy_link() {
    let _g = shared().await;
    let mut lab = Lab::new(tokio::runtime::Handle::current());
    lab.set_settings(LabSettings {
        rate_per_sec: 200,
        payload: 200,
        loss_pct: 10.0,
        ..LabSettings::default()
    });
    lab.start(GeneratorKind::UdpLossy).unwrap();
    lab.start(GeneratorKind::TcpLossy).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    lab.shutdown().await;
    assert_eq!(lab.live_tasks(), 0);
    let u = lab.stats(GeneratorKind::UdpLossy);
    let t = lab.stats(GeneratorKind::TcpLossy);
    eprintln!("UdpLossy: {u:?}\nTcpLossy: {t:?}");
    // UDP: the application sees the losses.
    assert!(u.sent_msgs >= 100);
    assert!(u.lost > 0 && u.lost < u.sent_msgs / 4, "{u:?}");
    // Received counts each message once (copies are duplicates); stopped, nothing is in flight.
    assert_eq!(u.recv_msgs + u.lost, u.sent_msgs, "{u:?}");
    assert_eq!(u.in_flight, 0, "{u:?}");
    // TCP: everything, in order, at the price of retransmissions.
    assert!(t.sent_msgs >= 100, "{t:?}");
    assert_eq!(t.recv_msgs, t.sent_msgs, "{t:?}");
    assert_eq!(t.recv_bytes, t.sent_bytes);
    assert_eq!((t.lost, t.out_of_order, t.errors), (0, 0, 0), "{t:?}");
    assert!(t.retransmissions > 0, "{t:?}");
    let link = lab.link_stats(GeneratorKind::TcpLossy).unwrap();
    assert!(link.to_server.dropped > 0, "{link:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_apply_to_a_running_generator() {
    let _g = shared().await;
    let mut lab = Lab::new(tokio::runtime::Handle::current());
    lab.set_settings(settings(100, 64));
    lab.start(GeneratorKind::UdpEcho).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = lab.stats(GeneratorKind::UdpEcho);
    lab.set_settings(settings(100, 300));
    tokio::time::sleep(Duration::from_millis(300)).await;
    lab.shutdown().await;
    let after = lab.stats(GeneratorKind::UdpEcho);
    let new_msgs = after.sent_msgs - before.sent_msgs;
    assert!(new_msgs > 0);
    // Everything sent after the change (bar one message in flight) is 300 bytes.
    assert!(
        after.sent_bytes - before.sent_bytes >= (new_msgs - 1) * 300,
        "{before:?} {after:?}"
    );
}

/// The sockets this process has open, by inode. (Sockets only: other tests' runtimes may still
/// be closing their own descriptors while this one runs; a leaked socket is a new inode.)
fn open_sockets() -> BTreeSet<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.starts_with("socket:"))
        .collect()
}

fn new_sockets(before: &BTreeSet<String>) -> usize {
    open_sockets().difference(before).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generator_stops_cleanly_and_leaves_nothing_behind() {
    let _g = exclusive().await;
    let mut lab = Lab::new(tokio::runtime::Handle::current());
    lab.set_settings(settings(100, 64));
    let before = open_sockets();
    for kind in GeneratorKind::ALL {
        lab.toggle(kind).unwrap();
        assert!(lab.is_running(kind), "{kind:?}");
        lab.start(kind).unwrap(); // idempotent
    }
    assert!(lab.live_tasks() >= 9);
    assert!(new_sockets(&before) >= 9);
    tokio::time::sleep(Duration::from_millis(400)).await;
    for kind in GeneratorKind::ALL {
        assert!(lab.stats(kind).sent_msgs > 0, "{kind:?} sent nothing");
    }

    // Its key stops each one; the tasks then end by themselves.
    for kind in GeneratorKind::ALL {
        lab.toggle(kind).unwrap();
        assert!(!lab.is_running(kind), "{kind:?}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while lab.live_tasks() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lab.live_tasks(), 0, "tasks left after stopping by key");
    assert_eq!(
        new_sockets(&before),
        0,
        "sockets left after stopping by key"
    );

    // Started again and then quit: shutdown waits for everything.
    for kind in GeneratorKind::ALL {
        lab.start(kind).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    lab.shutdown().await;
    assert_eq!(lab.live_tasks(), 0, "tasks left after shutdown");
    assert_eq!(new_sockets(&before), 0, "sockets left after shutdown");
    for kind in GeneratorKind::ALL {
        assert!(!lab.stats(kind).running, "{kind:?}");
    }
}

#[test]
fn keys_names_and_descriptions() {
    let keys: String = GeneratorKind::ALL.iter().map(|k| k.key()).collect();
    assert_eq!(keys, "123456789ab");
    for k in GeneratorKind::ALL {
        assert_eq!(GeneratorKind::from_key(k.key()), Some(k));
        assert_eq!(GeneratorKind::from_slug(k.slug()), Some(k));
        assert!(!k.name().is_empty() && !k.describe().contains('\n'));
    }
    assert_eq!(LabSettings::default(), settings(10, 64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_survives_every_impairment_at_once() {
    let _g = shared().await;
    let s = LabSettings {
        loss_pct: 10.0,
        dup_pct: 10.0,
        reorder_pct: 20.0,
        delay_ms: 20,
        ..LabSettings::default()
    };
    let t = tcp_transfer(100, 1000, &s, 11, Duration::from_secs(15))
        .await
        .unwrap();
    eprintln!(
        "TCP over loss 10% dup 10% reorder 20% delay 20 ms: {} bytes in order={} in {:?}, {} retransmitted; {}",
        t.delivered_bytes,
        t.in_order,
        t.elapsed,
        t.retransmitted_segments,
        t.link.summary()
    );
    assert_eq!(t.delivered_bytes, 100_000);
    assert!(t.in_order, "{t:?}");
    assert!(t.link.to_server.duplicated > 0 && t.link.to_server.reordered > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_listen_on_their_fixed_ports_or_say_why_not() {
    let _g = shared().await;
    use packetlab::lab::ports;
    let mut lab = Lab::new(tokio::runtime::Handle::current());
    let want = [
        (GeneratorKind::UdpEcho, ports::UDP_ECHO),
        (GeneratorKind::TcpEchoShort, ports::TCP_ECHO),
        (GeneratorKind::HttpLike, ports::HTTP),
        (GeneratorKind::SshLike, ports::SSH_LIKE),
        (GeneratorKind::TcpClosedPort, ports::CLOSED),
        (GeneratorKind::UdpClosedPort, ports::CLOSED),
        (GeneratorKind::UdpLossy, ports::UDP_LOSSY_LINK),
    ];
    for (k, _) in want {
        lab.start(k).unwrap();
    }
    for (k, port) in want {
        let st = lab.stats(k);
        let got = st.remote.unwrap().port();
        // Another test (or program) may hold the port: then the note says so.
        assert!(
            (got == port && st.server.contains(&format!(":{port}")))
                || st.server.contains(&format!("({port} is taken)"))
                || st.server.contains(&format!("something listens on {port}")),
            "{k:?}: {st:?}"
        );
    }
    lab.shutdown().await;
    assert_eq!(lab.live_tasks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_like_logins_swap_banners_and_close() {
    let _g = shared().await;
    let (st, _) = run(
        GeneratorKind::SshLike,
        settings(20, 64),
        Duration::from_millis(600),
    )
    .await;
    assert!(st.connections >= 3, "{st:?}");
    assert_eq!(st.errors, 0, "{st:?}");
    // Per login: the client's banner and 3 lines out, the server's banner and 3 answers back.
    assert_eq!(st.sent_msgs, 4 * st.connections, "{st:?}");
    assert_eq!(st.recv_msgs, st.sent_msgs, "{st:?}");
    assert!(st.note.contains("stopped after"), "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_scan_finds_three_open_ports_of_twenty() {
    let _g = shared().await;
    let mut lab = Lab::new(tokio::runtime::Handle::current());
    lab.set_settings(settings(5, 64));
    lab.start(GeneratorKind::PortScan).unwrap();
    // Bounded: until two rounds are done, for at most 3 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut st = lab.stats(GeneratorKind::PortScan);
    while !st.note.starts_with("round 2:") && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        st = lab.stats(GeneratorKind::PortScan);
    }
    lab.shutdown().await;
    assert_eq!(lab.live_tasks(), 0);
    assert!(st.server.starts_with(":7100-7119"), "{st:?}");
    if !st.server.contains("taken") {
        assert_eq!(
            st.note, "round 2: 3 open (7101, 7105, 7110), 17 closed",
            "{st:?}"
        );
    }
    assert_eq!(st.sent_msgs, 40, "{st:?}");
}
