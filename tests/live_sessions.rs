//! Live sessions on `lo`, end to end: `packetlab -i lo --print sessions --format json` as a child
//! process while this test talks to itself over 127.0.0.1, then Ctrl-C (SIGINT).
//!
//! What a user would notice is checked on the session the traffic made: who started it, how many
//! payload bytes went each way (exactly), plausible frame counts, the state a clean close leaves,
//! no retransmissions, a handshake time, and the process behind it — this test's own, since both
//! ends are its sockets.
//!
//! Needs root (or CAP_NET_RAW): skipped otherwise, a failure in CI.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The longest any single wait in this test may last.
const WAIT: Duration = Duration::from_secs(10);
/// How long a connection is kept open: long enough for packetlab's socket-owner scan (every
/// 200 ms) to see it.
const HOLD: Duration = Duration::from_millis(600);
/// After the close, before Ctrl-C: the last frames reach packetlab.
const SETTLE: Duration = Duration::from_millis(300);

/// The tests take turns: each capture then sees only its own test's traffic on lo (another
/// test's frames would wake packetlab at moments this test does not choose).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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

/// A running `packetlab -i lo --print sessions --format json`, with its output gathered by
/// reader threads.
struct Capture {
    guard: Guard,
    out_rx: mpsc::Receiver<String>,
    err_rx: mpsc::Receiver<String>,
    readers: Vec<JoinHandle<()>>,
}

/// Starts packetlab; returns once it says it is capturing.
fn start_capture() -> Capture {
    let mut child = Command::new(common::bin())
        .args(["-i", "lo", "--print", "sessions", "--format", "json"])
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
    Capture {
        guard,
        out_rx,
        err_rx,
        readers,
    }
}

impl Capture {
    /// SIGINT, a bounded wait for a clean exit, then every session printed (one JSON object a
    /// line). The child is killed if it does not exit in time.
    fn stop(mut self) -> Vec<Value> {
        let child = self.guard.0.as_mut().unwrap();
        // SAFETY: kill(2) with a pid this test spawned and has not reaped yet, and a valid signal.
        let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        assert_eq!(r, 0, "kill(SIGINT) failed");
        let deadline = Instant::now() + WAIT;
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.guard.0 = None;
                break st.code();
            }
            if Instant::now() > deadline {
                panic!("packetlab did not exit within {WAIT:?} of SIGINT (it is killed now)");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for h in self.readers {
            h.join().unwrap();
        }
        let stderr: Vec<String> = self.err_rx.try_iter().collect();
        assert_eq!(
            code,
            Some(0),
            "exit status after SIGINT; stderr: {stderr:?}"
        );
        self.out_rx
            .try_iter()
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
            .collect()
    }
}

/// Whether live capture can run here; prints SKIPPED (or panics in CI) when it cannot.
fn can_capture() -> bool {
    if !common::is_root() {
        common::require_or_skip("live capture on lo needs root");
        return false;
    }
    true
}

fn u64_of(v: &Value, k: &str) -> u64 {
    v.get(k)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{k} is not a number in {v}"))
}

/// The one session of `proto` between ports `p` and `q` (either way round).
fn session_between<'a>(sessions: &'a [Value], proto: &str, p: u16, q: u16) -> &'a Value {
    let ports = |s: &Value| {
        (
            s["a_port"].as_u64().unwrap_or(0),
            s["b_port"].as_u64().unwrap_or(0),
        )
    };
    let (p, q) = (p as u64, q as u64);
    let found: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["proto"] == proto && (ports(s) == (p, q) || ports(s) == (q, p)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{proto} sessions between ports {p} and {q}: {found:#?}\nall sessions: {sessions:#?}"
    );
    found[0]
}

/// "name(pid)" of this test process, as packetlab names a socket's owner (the comm name, which
/// the kernel cuts to 15 bytes).
fn this_process() -> String {
    let comm = std::fs::read_to_string("/proc/self/comm").expect("reading /proc/self/comm");
    format!("{}({})", comm.trim_end(), std::process::id())
}

/// Frame-length bounds for `frames` frames carrying `payload` bytes: Ethernet (14), IPv4 (20 to
/// 60) and the transport header (`l4_min` to `l4_max`).
fn assert_bytes_plausible(s: &Value, dir: &str, l4_min: u64, l4_max: u64) {
    let frames = u64_of(s, &format!("frames_{dir}"));
    let bytes = u64_of(s, &format!("bytes_{dir}"));
    let payload = u64_of(s, &format!("payload_{dir}"));
    let (lo, hi) = (
        payload + frames * (14 + 20 + l4_min),
        payload + frames * (14 + 60 + l4_max),
    );
    assert!(
        (lo..=hi).contains(&bytes),
        "bytes_{dir} {bytes} outside {lo}..={hi} for {frames} frames, {payload} payload: {s}"
    );
}

#[test]
fn lo_tcp_connection_is_one_session_with_exact_bytes_state_and_process() {
    if !can_capture() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cap = start_capture();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = listener.local_addr().unwrap().port();
    // The server: reads the client's 1,000 bytes, answers with 500, then waits for the client's
    // FIN and closes its end.
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        drop(listener);
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut b = vec![0u8; 1000];
        s.read_exact(&mut b).unwrap();
        assert!(b.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
        s.write_all(&[b'r'; 500]).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap(); // until the client's FIN
        assert!(rest.is_empty(), "unexpected bytes after the request");
        // Dropping `s` closes the server's end: its FIN.
    });

    let mut c = TcpStream::connect(("127.0.0.1", lport)).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.set_nodelay(true).unwrap();
    let cport = c.local_addr().unwrap().port();
    let request: Vec<u8> = (0..1000).map(|i| (i % 251) as u8).collect();
    for part in request.chunks(250) {
        c.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut reply = vec![0u8; 500];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [b'r'; 500]);
    // Open long enough for the socket-owner scan to see both ends.
    std::thread::sleep(HOLD);
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap(); // until the server's FIN
    assert!(rest.is_empty());
    drop(c);
    server.join().unwrap();
    std::thread::sleep(SETTLE);

    let sessions = cap.stop();
    let s = session_between(&sessions, "TCP", cport, lport);

    // A is the client (it sent the SYN), B the listener.
    assert_eq!(s["a_addr"], "127.0.0.1", "{s}");
    assert_eq!(s["b_addr"], "127.0.0.1", "{s}");
    assert_eq!(u64_of(s, "a_port"), cport as u64, "A is the client: {s}");
    assert_eq!(u64_of(s, "b_port"), lport as u64, "B is the listener: {s}");
    assert_eq!(
        u64_of(s, "payload_ab"),
        1000,
        "client → server payload: {s}"
    );
    assert_eq!(u64_of(s, "payload_ba"), 500, "server → client payload: {s}");
    // A→B: SYN, the handshake's ACK, at least one data segment, FIN, the ACK of B's FIN.
    // B→A: SYN-ACK, at least one data segment, FIN.
    let (fab, fba) = (u64_of(s, "frames_ab"), u64_of(s, "frames_ba"));
    assert!((5..=20).contains(&fab), "frames A→B {fab}: {s}");
    assert!((3..=20).contains(&fba), "frames B→A {fba}: {s}");
    assert_bytes_plausible(s, "ab", 20, 60);
    assert_bytes_plausible(s, "ba", 20, 60);
    let state = s["state"].as_str().unwrap_or_default();
    assert!(
        state == "TIME_WAIT" || state == "CLOSED",
        "a cleanly closed connection, state {state}: {s}"
    );
    assert_eq!(u64_of(s, "retransmissions"), 0, "{s}");
    assert_eq!(u64_of(s, "zero_windows"), 0, "{s}");
    let rtt = s["handshake_rtt"]
        .as_f64()
        .unwrap_or_else(|| panic!("no handshake_rtt: {s}"));
    assert!(
        (0.0..0.1).contains(&rtt),
        "handshake_rtt {rtt} s on lo: {s}"
    );
    let duration = s["duration"].as_f64().unwrap();
    assert!(
        (HOLD.as_secs_f64()..WAIT.as_secs_f64()).contains(&duration),
        "duration {duration} s, the connection was held {HOLD:?}: {s}"
    );
    assert_eq!(
        s["process"].as_str(),
        Some(this_process().as_str()),
        "both ends are this test's sockets: {s}"
    );
}

#[test]
fn lo_udp_exchange_is_one_session_with_frames_each_way_and_process() {
    if !can_capture() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cap = start_capture();

    // The sockets are made after packetlab's first socket-owner scan, and the exchange takes well
    // under a millisecond, so it is most likely over before any scan sees them: a scan during the
    // quiet time that follows must name them, as they are closed before Ctrl-C.
    std::thread::sleep(Duration::from_millis(300));
    // A sends 4 datagrams of 100 bytes, B answers the first 3 with 40 bytes each.
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(WAIT)).unwrap();
    }
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let mut buf = [0u8; 256];
    for i in 0..4u8 {
        a.send_to(&[i; 100], b_addr).unwrap();
        let (n, from) = b.recv_from(&mut buf).expect("datagram A → B not received");
        assert_eq!((n, from), (100, a_addr));
        if i < 3 {
            b.send_to(&[0x80 | i; 40], a_addr).unwrap();
            let (n, from) = a.recv_from(&mut buf).expect("datagram B → A not received");
            assert_eq!((n, from), (40, b_addr));
        }
    }
    // Both sockets stay open, quiet, long enough for the socket-owner scan to see them.
    std::thread::sleep(HOLD);
    drop(a);
    drop(b);
    std::thread::sleep(SETTLE);

    let sessions = cap.stop();
    let s = session_between(&sessions, "UDP", a_addr.port(), b_addr.port());
    assert_eq!(s["a_addr"], "127.0.0.1", "{s}");
    assert_eq!(s["b_addr"], "127.0.0.1", "{s}");
    assert_eq!(
        u64_of(s, "a_port"),
        a_addr.port() as u64,
        "A sent first: {s}"
    );
    assert_eq!(u64_of(s, "b_port"), b_addr.port() as u64, "{s}");
    assert_eq!(u64_of(s, "frames_ab"), 4, "datagrams A → B: {s}");
    assert_eq!(u64_of(s, "frames_ba"), 3, "datagrams B → A: {s}");
    assert_eq!(u64_of(s, "payload_ab"), 400, "{s}");
    assert_eq!(u64_of(s, "payload_ba"), 120, "{s}");
    // Ethernet 14 + IPv4 20 + UDP 8 around each payload, nothing more on lo.
    assert_eq!(u64_of(s, "bytes_ab"), 4 * (14 + 20 + 8 + 100), "{s}");
    assert_eq!(u64_of(s, "bytes_ba"), 3 * (14 + 20 + 8 + 40), "{s}");
    assert_eq!(s["state"], "ACTIVE", "{s}");
    assert_eq!(u64_of(s, "retransmissions"), 0, "{s}");
    assert!(s["handshake_rtt"].is_null(), "{s}");
    assert_eq!(
        s["process"].as_str(),
        Some(this_process().as_str()),
        "both ends are this test's sockets: {s}"
    );
}
