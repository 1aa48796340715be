//! Live capture on `lo`, end to end: `packetlab -i lo --print packets --format json` as a child
//! process while this test makes known traffic on 127.0.0.1, then Ctrl-C (SIGINT).
//!
//! What a user would notice is checked: every datagram shows up exactly once (not twice, as a
//! naive packet socket on `lo` shows each packet, and not missing), with the right ports and
//! protocol; a TCP connection shows its handshake and both FINs; the summary on stderr, printed
//! after Ctrl-C, states the packet count and the drop counts.
//!
//! Needs root (or CAP_NET_RAW): skipped otherwise, a failure in CI.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

const DATAGRAMS: usize = 1000;
/// The longest any single wait in this test may last.
const WAIT: Duration = Duration::from_secs(10);

/// A child process that is killed (and reaped) if the test ends early, so none is left running.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `packetlab -i lo` with `extra` flags; returns once it says it is capturing.
/// Its stdout lines and stderr lines arrive on the two receivers.
fn start_capture(
    extra: &[&str],
) -> (
    Guard,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
    Vec<JoinHandle<()>>,
) {
    let mut child = Command::new(common::bin())
        .args(["-i", "lo"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting packetlab");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let guard = Guard(Some(child));
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    let readers = vec![
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if out_tx.send(line).is_err() {
                    break;
                }
            }
        }),
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if err_tx.send(line).is_err() {
                    break;
                }
            }
        }),
    ];
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match err_rx.recv_timeout(left) {
            Ok(l) if l.contains("packetlab: capturing on lo") => break,
            Ok(l) => eprintln!("packetlab stderr: {l}"),
            Err(_) => panic!("packetlab did not report `capturing on lo` within {WAIT:?}"),
        }
    }
    (guard, out_rx, err_rx, readers)
}

/// SIGINT, then waits (bounded) for a clean exit; returns its exit status code.
fn interrupt_and_wait(guard: &mut Guard) -> Option<i32> {
    let child = guard.0.as_mut().unwrap();
    // SAFETY: kill(2) with a pid this test spawned and has not reaped yet, and a valid signal.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(r, 0, "kill(SIGINT) failed");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            guard.0 = None;
            return st.code();
        }
        if Instant::now() > deadline {
            panic!("packetlab did not exit within {WAIT:?} of SIGINT (it is killed now)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn u64_of(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// Parses `packetlab: N packets captured, C dropped (channel full), K dropped by the kernel`.
fn parse_summary(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.strip_prefix("packetlab: ")?;
    let (n, rest) = rest.split_once(" packets captured, ")?;
    let (c, rest) = rest.split_once(" dropped (channel full), ")?;
    let k = rest.strip_suffix(" dropped by the kernel")?;
    Some((n.parse().ok()?, c.parse().ok()?, k.parse().ok()?))
}

/// Whether live capture can run here; prints SKIPPED (or panics in CI) when it cannot.
fn can_capture() -> bool {
    if !common::is_root() {
        common::require_or_skip("live capture on lo needs root");
        return false;
    }
    true
}

#[test]
fn lo_udp_datagrams_and_tcp_connection_seen_exactly_once() {
    if !can_capture() {
        return;
    }
    let (mut guard, out_rx, err_rx, readers) =
        start_capture(&["--print", "packets", "--format", "json"]);

    // 1,000 datagrams between two sockets on 127.0.0.1, each received before the next is sent.
    let rx_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx_sock
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let (sport, dport) = (
        tx_sock.local_addr().unwrap().port(),
        rx_sock.local_addr().unwrap().port(),
    );
    let mut buf = [0u8; 64];
    for i in 0..DATAGRAMS {
        let msg = format!("packetlab-{i:04}");
        tx_sock
            .send_to(msg.as_bytes(), rx_sock.local_addr().unwrap())
            .unwrap();
        let (n, from) = rx_sock.recv_from(&mut buf).expect("datagram not received");
        assert_eq!(&buf[..n], msg.as_bytes());
        assert_eq!(from.port(), sport);
    }

    // One TCP connection: handshake, a few bytes each way, FIN from both sides.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 5];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        s.write_all(b"world").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap(); // until the client's FIN
        assert!(rest.is_empty());
    });
    let mut c = TcpStream::connect(("127.0.0.1", lport)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let cport = c.local_addr().unwrap().port();
    c.write_all(b"hello").unwrap();
    let mut b = [0u8; 5];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"world");
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap(); // until the server's FIN
    drop(c);
    server.join().unwrap();

    // Collect packets until everything expected has been printed (bounded), then Ctrl-C.
    let mut packets: Vec<Value> = Vec::new();
    let is_udp = |p: &Value| {
        u64_of(p, "sport") == Some(sport as u64)
            && u64_of(p, "dport") == Some(dport as u64)
            && u64_of(p, "ip_proto") == Some(17)
    };
    let is_fin = |p: &Value| {
        u64_of(p, "ip_proto") == Some(6)
            && [u64_of(p, "sport"), u64_of(p, "dport")].contains(&Some(lport as u64))
            && u64_of(p, "tcp_flags").is_some_and(|f| f & 1 != 0)
    };
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if packets.iter().filter(|p| is_udp(p)).count() >= DATAGRAMS
            && packets.iter().filter(|p| is_fin(p)).count() >= 2
        {
            break;
        }
        if let Ok(l) = out_rx.recv_timeout(Duration::from_millis(100)) {
            packets
                .push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")));
        }
    }
    // A moment more for any duplicate that would follow.
    std::thread::sleep(Duration::from_millis(300));
    let code = interrupt_and_wait(&mut guard);
    for h in readers {
        h.join().unwrap();
    }
    packets.extend(out_rx.try_iter().map(|l| {
        serde_json::from_str::<Value>(&l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}"))
    }));
    let stderr: Vec<String> = err_rx.try_iter().collect();
    assert_eq!(
        code,
        Some(0),
        "exit status after SIGINT; stderr: {stderr:?}"
    );

    let summary = stderr
        .iter()
        .rev()
        .find_map(|l| parse_summary(l))
        .unwrap_or_else(|| panic!("no summary line with drop counts on stderr: {stderr:?}"));
    let (captured, channel_drops, kernel_drops) = summary;
    assert_eq!(
        captured as usize,
        packets.len(),
        "summary count vs JSON lines printed"
    );
    let drops = format!("drops: {channel_drops} channel, {kernel_drops} kernel");

    // Numbered 1, 2, 3, … with no gap.
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(u64_of(p, "no"), Some(i as u64 + 1), "packet numbering");
    }

    // Every datagram exactly once, in the order sent, with its ports, protocol and length.
    let udp: Vec<&Value> = packets.iter().filter(|p| is_udp(p)).collect();
    assert_eq!(udp.len(), DATAGRAMS, "datagrams captured ({drops})");
    for (i, p) in udp.iter().enumerate() {
        assert_eq!(p["proto"], "UDP");
        assert_eq!(p["src"], "127.0.0.1");
        assert_eq!(p["dst"], "127.0.0.1");
        let payload = format!("packetlab-{i:04}").len() as u64;
        assert_eq!(
            u64_of(p, "len"),
            Some(14 + 20 + 8 + payload),
            "frame length of datagram {i}"
        );
        assert_eq!(u64_of(p, "caplen"), u64_of(p, "len"));
    }
    // Nothing in the other direction was sent: nothing must appear there.
    let reverse = packets
        .iter()
        .filter(|p| {
            u64_of(p, "sport") == Some(dport as u64) && u64_of(p, "dport") == Some(sport as u64)
        })
        .count();
    assert_eq!(reverse, 0, "packets from the receiver to the sender");

    // The TCP connection, in both directions.
    let tcp: Vec<(u16, u16, u16)> = packets
        .iter()
        .filter(|p| u64_of(p, "ip_proto") == Some(6))
        .filter_map(|p| {
            Some((
                u64_of(p, "sport")? as u16,
                u64_of(p, "dport")? as u16,
                u64_of(p, "tcp_flags")? as u16,
            ))
        })
        .filter(|&(s, d, _)| (s, d) == (cport, lport) || (s, d) == (lport, cport))
        .collect();
    const SYN: u16 = 0x002;
    const ACK: u16 = 0x010;
    const FIN: u16 = 0x001;
    const RST: u16 = 0x004;
    let pos = |want: (u16, u16, u16)| tcp.iter().position(|&t| t == want);
    let syn = pos((cport, lport, SYN)).unwrap_or_else(|| panic!("no SYN in {tcp:x?}"));
    let synack = pos((lport, cport, SYN | ACK)).unwrap_or_else(|| panic!("no SYN+ACK in {tcp:x?}"));
    let ack = pos((cport, lport, ACK)).unwrap_or_else(|| panic!("no ACK in {tcp:x?}"));
    assert!(
        syn < synack && synack < ack,
        "handshake out of order: {tcp:x?}"
    );
    assert_eq!(
        tcp.iter().filter(|t| t.2 & SYN != 0).count(),
        2,
        "one SYN, one SYN+ACK: {tcp:x?}"
    );
    let fin_from = |s: u16| tcp.iter().filter(|t| t.0 == s && t.2 & FIN != 0).count();
    assert_eq!(fin_from(cport), 1, "client FIN: {tcp:x?}");
    assert_eq!(fin_from(lport), 1, "server FIN: {tcp:x?}");
    assert!(
        tcp.iter().all(|t| t.2 & RST == 0),
        "no RST expected: {tcp:x?}"
    );
    // handshake 3 + data 2 (+ its ACKs, possibly delayed/merged) + FIN/ACK each way.
    assert!(
        (7..=12).contains(&tcp.len()),
        "TCP segment count {}: {tcp:x?}",
        tcp.len()
    );
}

/// `-c N` ends the capture at the Nth packet even when nothing more arrives (it waited for
/// the next frame before), with one interface and with two, and the exit is prompt.
#[test]
fn count_exits_at_the_nth_packet_on_a_quiet_link() {
    if !can_capture() {
        return;
    }
    for extra in [&["-c", "4"][..], &["-i", "lo", "-c", "4"][..]] {
        let args: Vec<&str> = [&["--print", "packets"][..], extra].concat();
        let (mut guard, out_rx, _err_rx, _readers) = start_capture(&args);
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..4u8 {
            tx.send_to(&[i; 8], rx.local_addr().unwrap()).unwrap();
        }
        // Then the link stays quiet: the exit may not wait for a fifth frame.
        let sent = Instant::now();
        let child = guard.0.as_mut().unwrap();
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                guard.0 = None;
                break st.code();
            }
            assert!(
                sent.elapsed() < Duration::from_secs(5),
                "{extra:?}: packetlab -c 4 still running 5 s after the 4th packet"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(code, Some(0), "{extra:?}");
        let lines: Vec<String> = out_rx.try_iter().collect();
        assert_eq!(lines.len(), 4, "{extra:?}: {lines:?}");
    }
}
