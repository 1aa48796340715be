//! The lab's traffic seen by the capture (root): a TCP echo generator makes an ESTABLISHED
//! session in the session table; the closed-port generators' RSTs and ICMP port unreachables
//! appear in the packet stream, decoded as such.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use packetlab::lab::{GeneratorKind, Lab};
use serde_json::Value;

/// One capture at a time: each test's packetlab sees only its own lab traffic.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Capture(Option<Child>);

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `packetlab -i lo --print WHAT --format json` and waits until it captures.
fn capture(what: &str) -> (Capture, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(common::bin())
        .args(["-i", "lo", "--print", what, "--format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut err = BufReader::new(err);
    let mut line = String::new();
    let t0 = Instant::now();
    while !line.contains("capturing on lo") {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "packetlab ended: {line}"
        );
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
    std::thread::spawn(move || for _ in err.lines() {});
    (Capture(Some(child)), rx)
}

/// Ctrl-C, then every JSON line printed.
fn finish(mut c: Capture, rx: std::sync::mpsc::Receiver<String>) -> Vec<Value> {
    let child = c.0.take().unwrap();
    // SAFETY: SIGINT to the packetlab this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "packetlab exit: {:?}", out.status);
    rx.iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect()
}

fn root_or_skip() -> bool {
    if !common::is_root() {
        common::require_or_skip("needs root (CAP_NET_RAW) to capture on lo");
        return false;
    }
    true
}

#[test]
fn tcp_generator_makes_an_established_session() {
    if !root_or_skip() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (cap, rx) = capture("sessions");
    let mut lab = Lab::new(rt.handle().clone());
    lab.start(GeneratorKind::TcpEchoLong).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let st = lab.stats(GeneratorKind::TcpEchoLong);
    // Ctrl-C while the connection is open: the table shows it ESTABLISHED.
    let sessions = finish(cap, rx);
    let after = lab.stats(GeneratorKind::TcpEchoLong);
    rt.block_on(lab.shutdown());
    let (local, remote) = (st.local.unwrap(), st.remote.unwrap());
    let s = sessions
        .iter()
        .find(|s| {
            s["proto"] == "TCP" && s["a_port"] == local.port() && s["b_port"] == remote.port()
        })
        .unwrap_or_else(|| panic!("no session {local} → {remote} in {sessions:?}"));
    assert_eq!(s["state"], "ESTABLISHED", "{s}");
    assert!(
        s["frames_ab"].as_u64().unwrap() >= 5 && s["frames_ba"].as_u64().unwrap() >= 5,
        "{s}"
    );
    // The generator keeps writing while packetlab stops: what the capture saw lies between the
    // generator's counts just before and just after.
    let seen = s["payload_ab"].as_u64().unwrap();
    assert!(
        st.sent_bytes <= seen && seen <= after.sent_bytes,
        "the capture saw what the generator sent ({} ≤ {seen} ≤ {}): {s}",
        st.sent_bytes,
        after.sent_bytes
    );
}

#[test]
fn closed_port_generators_make_rst_and_icmp_unreachable() {
    if !root_or_skip() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (cap, rx) = capture("packets");
    let mut lab = Lab::new(rt.handle().clone());
    lab.start(GeneratorKind::TcpClosedPort).unwrap();
    lab.start(GeneratorKind::UdpClosedPort).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let tcp = lab.stats(GeneratorKind::TcpClosedPort);
    let udp = lab.stats(GeneratorKind::UdpClosedPort);
    rt.block_on(lab.shutdown());
    std::thread::sleep(Duration::from_millis(200));
    let packets = finish(cap, rx);
    let tport = tcp.remote.unwrap().port();
    let rsts = packets
        .iter()
        .filter(|p| p["sport"] == tport && p["tcp_flags"].as_u64().is_some_and(|f| f & 0x04 != 0))
        .count();
    assert!(
        rsts > 0 && rsts as u64 >= tcp.recv_msgs,
        "an RST per refused SYN ({} refused, {rsts} RSTs)",
        tcp.recv_msgs
    );
    let syn = packets
        .iter()
        .find(|p| p["dport"] == tport && p["tcp_flags"] == 2)
        .expect("the SYNs");
    assert_eq!(syn["proto"], "TCP");
    let uport = udp.remote.unwrap().port();
    let unreach: Vec<&Value> = packets
        .iter()
        .filter(|p| p["icmp_type"] == 3 && p["dport"] == uport)
        .collect();
    assert!(
        !unreach.is_empty(),
        "ICMP port unreachable quoting the datagrams to port {uport}"
    );
    assert_eq!(unreach[0]["proto"], "ICMP");
    assert!(
        unreach[0]["info"]
            .as_str()
            .unwrap()
            .contains("Port unreachable"),
        "{}",
        unreach[0]
    );
}

#[test]
fn tcp_over_the_lossy_link_shows_as_the_tcp_session_it_carries() {
    if !root_or_skip() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (cap, rx) = capture("sessions");
    let mut lab = Lab::new(rt.handle().clone());
    let mut s = lab.settings().clone();
    s.rate_per_sec = 50;
    s.loss_pct = 20.0;
    lab.set_settings(s);
    lab.start(GeneratorKind::TcpLossy).unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let st = lab.stats(GeneratorKind::TcpLossy);
    let sessions = finish(cap, rx);
    rt.block_on(lab.shutdown());
    if st.server.contains("taken") {
        eprintln!("skipped: the tunnel's ports are taken here: {}", st.server);
        return;
    }
    // The decoder reads the tunnel's datagrams as the smoltcp ends' IP packets.
    let s = sessions
        .iter()
        .find(|s| {
            s["proto"] == "TCP"
                && s["b_port"] == packetlab::lab::ports::TCP_LOSSY_TCP
                && s["b_addr"] == "10.77.0.2"
        })
        .unwrap_or_else(|| panic!("no TCP session to 10.77.0.2:7080 in {sessions:?}"));
    assert_eq!(s["state"], "ESTABLISHED", "{s}");
    assert!(s["retransmissions"].as_u64() > Some(0), "{s}");
    // The client's leg is decoded, once; the server's leg stays UDP (the link's output).
    let client = packetlab::lab::ports::TCP_LOSSY_CLIENT;
    assert!(
        sessions
            .iter()
            .all(|s| s["proto"] != "UDP" || (s["a_port"] != client && s["b_port"] != client)),
        "no datagram of the client's leg left as UDP: {sessions:?}"
    );
}
