//! Kernel differential test of the firewall simulator on loopback (issue 15): the host talking to
//! itself, where every packet crosses output and postrouting, is seen on `lo`, then crosses
//! prerouting and input — with one conntrack entry confirmed at postrouting, before input.
//!
//! One network namespace with only `lo` (up; 127.0.0.1/8 and ::1), deleted at the end, also on
//! failure. For each hand-written ruleset in `tests/data/loopback/` (every rule with `counter`,
//! one rule a line): the file is loaded with `nft -f` with every `counter` followed by
//! `log prefix "r<line>" group 1 queue-threshold 1` (so each rule that matches leaves an NFLOG
//! record, before its verdict, naming its line), beside a probe table that logs each packet's
//! `ct state` first thing on output (priority -190, after conntrack) and on prerouting and input,
//! and an `acc` record at priority 1000 on every hook for what got through it. `tcpdump -i
//! nflog:1` keeps the records (with the hook each came from), `dumpcap -i lo` the frames
//! (pcapng).
//!
//! Traffic, from a thread in the namespace: ping through a raw ICMP socket (127.0.0.1, 127.0.0.2,
//! ::1), TCP to an echo port with data and an orderly close and to a closed port (IPv4 and
//! IPv6), UDP echo and to a closed port, a DNS exchange with a tiny server, a connect whose SYN
//! some rulesets drop (retried by the kernel after a second), twenty short connections; crafted
//! through raw IP sockets: an echo reply nobody asked for, a SYN+ACK out of nowhere, a datagram
//! input may drop followed by its answer and an ICMP error quoting it, and on a live connection
//! (its sequence numbers read off `lo` with a packet socket) an ACK of data never sent, an ACK
//! and an RST outside the window, and data far behind it.
//!
//! The kernel's side, per packet: its NFLOG records are grouped into traversals by hook half
//! (output+postrouting, prerouting+input) and by the packet's bytes (identical on every hook on
//! loopback, and in the capture); each captured frame is paired with the next traversal of its
//! bytes on each half, in order. The deciding rule and chain follow from replaying the records
//! through the base chains of the hooks (a base chain's last record is its verdict if it is one,
//! else its policy decided). Traversals of the output half that never got through postrouting
//! are the frames dropped at output: not in the capture, so counted apart and checked through the
//! counters — the kernel's counter of each rule (`nft -j list ruleset`) must equal its NFLOG
//! records, and packetlab's counter must equal the kernel's less what the uncaptured frames hit.
//!
//! The simulator's side: `packetlab -r lo.pcapng --rules FILE --print packets|rules --format
//! json`. Compared per frame: verdict, deciding rule (line, or none for a policy), deciding chain
//! and `ct state`; per rule: packets and bytes. Agreement must be 100 %; the figures are printed.
//! Segments whose verdict depends on TCP window tracking (the window helper's part of issue 15)
//! are listed apart when they disagree, so a disagreement of that kind shows as such, and the
//! counters are compared a second time over the capture without them (a classic pcap, `--iface
//! lo`) against the kernel's less what they hit: N/N there says nothing else differs. They
//! still fail the test: the target is 100 %.
//!
//! Needs root, `ip`, `nft`, `tcpdump` (with NFLOG) and `dumpcap`: skipped otherwise, a failure
//! in CI. Knobs: PLK_KLO_ONLY=substring (only those files), PLK_KLO_KEEP=DIR (keep the files).

mod common;

use common::netns::{enter_netns, in_ns, ip, ip_packet, run, tcp_segment, udp_datagram, RawIp};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::CString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);
const TCP_ECHO: u16 = 7001;
const TCP_RETRY: u16 = 7002;
const TCP_HOLD: u16 = 7003;
const TCP_CLOSED: u16 = 7009;
const UDP_ECHO: u16 = 7101;
const UDP_CLOSED: u16 = 7109;
const DNS: u16 = 53;
/// The crafted datagram flow (7201 → 7202, nobody listens on either).
const UDP_A: u16 = 7201;
const UDP_B: u16 = 7202;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

const HOOK_PRE: u8 = 0;
const HOOK_IN: u8 = 1;
const HOOK_OUT: u8 = 3;
const HOOK_POST: u8 = 4;

fn lo4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn lo4b() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
}

fn lo6() -> IpAddr {
    IpAddr::V6(Ipv6Addr::LOCALHOST)
}

// ---------------------------------------------------------------------------------------------
// The namespace and the processes in it.

/// The namespace; deleted when dropped, also when the test fails half-way.
struct Ns(String);

impl Ns {
    fn create(k: usize) -> Ns {
        let ns = Ns(format!("plk-lo-{}-{k}", std::process::id()));
        ip(&["netns", "add", &ns.0]);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

/// A capture process in the namespace, killed and reaped if the test ends early.
struct Proc {
    child: Option<Child>,
    err: mpsc::Receiver<String>,
    what: String,
}

impl Proc {
    /// Starts `args` in the namespace and waits until a line of its stderr contains `ready`.
    fn start(ns: &str, args: &[&str], ready: &str) -> Proc {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Proc {
            child: Some(child),
            err: rx,
            what: args.join(" "),
        };
        let deadline = Instant::now() + WAIT;
        let mut said = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match p.err.recv_timeout(left) {
                Ok(l) if l.contains(ready) => break,
                Ok(l) => said.push_str(&l),
                Err(_) => {
                    p.kill();
                    panic!("{} did not start: {said}", p.what);
                }
            }
        }
        p
    }

    /// SIGINT, then waits; returns what it said on stderr.
    fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill on the pid of our own child (`ip netns exec` execs the program), which
        // has not been reaped yet.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + WAIT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not stop on SIGINT", self.what);
            }
            thread::sleep(Duration::from_millis(10));
        }
        let mut said = String::new();
        while let Ok(l) = self.err.recv_timeout(Duration::from_millis(300)) {
            said.push_str(&l);
            said.push('\n');
        }
        said
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Services: TCP echo (until the client closes), a listener that takes and closes, one that
// holds, UDP echo and a DNS server, on 127.0.0.1 and ::1.

struct Services {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// A DNS answer to `q`: the question echoed, one A record 192.0.2.1.
fn dns_answer(q: &[u8]) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut a = q.to_vec();
    a[2] = 0x81;
    a[3] = 0x80;
    a[6..8].copy_from_slice(&1u16.to_be_bytes());
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    Some(a)
}

fn dns_query(id: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["lab", "example"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

impl Services {
    fn start(ns: &str) -> Services {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (ns, flag) = (ns.to_string(), stop.clone());
        let handle = thread::spawn(move || {
            enter_netns(&ns);
            let mut tcp = Vec::new();
            for a in [lo4(), lo6()] {
                for p in [TCP_ECHO, TCP_RETRY, TCP_HOLD] {
                    let l = TcpListener::bind(SocketAddr::new(a, p))
                        .unwrap_or_else(|e| panic!("listen {a} {p}: {e}"));
                    l.set_nonblocking(true).unwrap();
                    tcp.push((p, l));
                }
            }
            let mut udp = Vec::new();
            for a in [lo4(), lo6()] {
                for p in [UDP_ECHO, DNS] {
                    let s = UdpSocket::bind(SocketAddr::new(a, p))
                        .unwrap_or_else(|e| panic!("udp {a} {p}: {e}"));
                    s.set_nonblocking(true).unwrap();
                    udp.push((p, s));
                }
            }
            tx.send(()).unwrap();
            let mut workers = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(1));
                for (p, l) in &tcp {
                    while let Ok((s, _)) = l.accept() {
                        let p = *p;
                        workers.push(thread::spawn(move || serve_tcp(p, s)));
                    }
                }
                for (p, s) in &udp {
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        let answer = if *p == DNS {
                            dns_answer(&buf[..n])
                        } else {
                            Some(buf[..n].to_vec())
                        };
                        if let Some(a) = answer {
                            let _ = s.send_to(&a, from);
                        }
                    }
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        rx.recv_timeout(WAIT).expect("services did not start");
        Services {
            stop,
            handle: Some(handle),
        }
    }
}

/// One accepted connection: echo (until EOF, then close), take-and-close, or hold (read until
/// EOF without answering, then close).
fn serve_tcp(port: u16, mut s: TcpStream) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    if port == TCP_RETRY {
        return;
    }
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        if port == TCP_ECHO && s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic.

/// A raw ICMP or ICMPv6 socket for echo requests (the kernel writes the IP header; for ICMPv6
/// also the checksum).
fn ping(dst: IpAddr, id: u16, count: u16) {
    let v6 = dst.is_ipv6();
    let (domain, proto) = if v6 {
        (libc::AF_INET6, libc::IPPROTO_ICMPV6)
    } else {
        (libc::AF_INET, libc::IPPROTO_ICMP)
    };
    // SAFETY: a plain socket call; the fd is owned right away.
    let fd = unsafe { libc::socket(domain, libc::SOCK_RAW, proto) };
    assert!(fd >= 0, "icmp socket: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    for seq in 1..=count {
        let mut m = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&[0x5a; 24]);
        if !v6 {
            let c = common::netns::fold(common::netns::sum16(&m, 0));
            m[2..4].copy_from_slice(&c.to_be_bytes());
        }
        sendto(&fd, dst, &m);
        thread::sleep(Duration::from_millis(15));
    }
}

fn sendto(fd: &OwnedFd, dst: IpAddr, m: &[u8]) {
    // SAFETY: zeroed sockaddr structs are valid; the buffers are valid for their lengths. A
    // send the output hook refuses fails with EPERM: that is fine here.
    unsafe {
        match dst {
            IpAddr::V4(a) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                libc::sendto(
                    fd.as_raw_fd(),
                    m.as_ptr() as *const libc::c_void,
                    m.len(),
                    0,
                    &sa as *const libc::sockaddr_in as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                );
            }
            IpAddr::V6(a) => {
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_addr.s6_addr = a.octets();
                libc::sendto(
                    fd.as_raw_fd(),
                    m.as_ptr() as *const libc::c_void,
                    m.len(),
                    0,
                    &sa as *const libc::sockaddr_in6 as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                );
            }
        }
    }
}

/// A TCP exchange: connect (bounded), send `data`, read the echo, close in order.
fn tcp_echo(to: SocketAddr, data: &[u8], timeout: Duration) {
    let Ok(mut s) = TcpStream::connect_timeout(&to, timeout) else {
        return;
    };
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = s.write_all(data);
    let mut got = 0;
    let mut buf = [0u8; 4096];
    while got < data.len() {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    // The server closes after our FIN: read its FIN.
    let _ = s.read(&mut buf);
}

fn udp_exchange(to: SocketAddr, data: &[u8], answers: bool) {
    let bind = if to.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let s = UdpSocket::bind(bind).unwrap();
    let _ = s.send_to(data, to);
    let wait = if answers { 150 } else { 40 };
    s.set_read_timeout(Some(Duration::from_millis(wait)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let _ = s.recv_from(&mut buf);
}

/// A packet socket on `lo`: reads the sequence numbers of a connection the test holds.
struct Sniffer {
    fd: OwnedFd,
}

impl Sniffer {
    fn open() -> Sniffer {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket calls with valid arguments; the fd is owned right away.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as i32);
            assert!(fd >= 0, "AF_PACKET: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let name = CString::new("lo").unwrap();
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
            let r = libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(r, 0, "bind lo: {}", std::io::Error::last_os_error());
            Sniffer { fd }
        }
    }

    /// The sequence number of the first segment from `sport` to `dport` with exactly the
    /// flags `flags` (of SYN/ACK/FIN/RST) read within `within`.
    fn seq_of(&self, sport: u16, dport: u16, flags: u8, within: Duration) -> Option<u32> {
        let deadline = Instant::now() + within;
        let mut buf = vec![0u8; 70000];
        while Instant::now() < deadline {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32 + 1) } <= 0 {
                continue;
            }
            // SAFETY: a valid buffer of the length given.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 14 {
                continue;
            }
            let ip = &buf[14..n as usize];
            let Some((proto, l4)) = l4_of(ip) else {
                continue;
            };
            if proto != 6 || l4.len() < 20 {
                continue;
            }
            let sp = u16::from_be_bytes([l4[0], l4[1]]);
            let dp = u16::from_be_bytes([l4[2], l4[3]]);
            let f = l4[13] & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST);
            if sp == sport && dp == dport && f == flags {
                return Some(u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]));
            }
        }
        None
    }
}

/// The transport protocol and header onwards of an IP packet (no extension headers).
fn l4_of(ip: &[u8]) -> Option<(u8, &[u8])> {
    match ip.first()? >> 4 {
        4 if ip.len() >= 20 => Some((ip[9], ip.get((ip[0] & 15) as usize * 4..)?)),
        6 if ip.len() >= 40 => Some((ip[6], &ip[40..])),
        _ => None,
    }
}

/// The segments crafted on a live connection, by what they are: named in the report when
/// they disagree, as depending on TCP window tracking.
const WINDOW_CASES: [&str; 4] = [
    "ACK of data never sent",
    "ACK outside the window",
    "RST outside the window",
    "data far behind the window",
];

/// The whole traffic of one ruleset, from a thread in the namespace. Returns the crafted
/// window-tracking segments (their IP bytes) and what each is.
fn traffic() -> Vec<(Vec<u8>, &'static str)> {
    let raw = RawIp::open();
    let short = Duration::from_millis(300);
    let mut key = 0x4c00u32;
    let mut craft = |src: IpAddr, dst: IpAddr, proto: u8, l4: Vec<u8>| {
        key += 1;
        let p = ip_packet(src, dst, proto, l4, key);
        raw.send(dst, &p);
        thread::sleep(Duration::from_millis(5));
        p
    };

    // Ping: 127.0.0.1 to itself, to 127.0.0.2, ::1 to itself.
    ping(lo4(), 0x1001, 3);
    ping(lo4b(), 0x1002, 2);
    ping(lo6(), 0x1003, 3);

    // TCP with data and an orderly close; to a closed port.
    for a in [lo4(), lo6()] {
        tcp_echo(SocketAddr::new(a, TCP_ECHO), b"hello over loopback", short);
        tcp_echo(SocketAddr::new(a, TCP_CLOSED), b"nobody", short);
    }
    // UDP echo, to a closed port, DNS.
    for a in [lo4(), lo6()] {
        udp_exchange(SocketAddr::new(a, UDP_ECHO), b"echo me", true);
        udp_exchange(SocketAddr::new(a, UDP_ECHO), b"and me", true);
        udp_exchange(SocketAddr::new(a, UDP_CLOSED), b"closed", false);
        udp_exchange(SocketAddr::new(a, DNS), &dns_query(0x4242), true);
    }
    udp_exchange(SocketAddr::new(lo4b(), UDP_B), b"to .2", false);
    // A SYN some rulesets drop at input (or prerouting): the kernel retries it after a second.
    tcp_echo(
        SocketAddr::new(lo4(), TCP_RETRY),
        b"retry",
        Duration::from_millis(1300),
    );
    // Many short connections.
    for i in 0..20u8 {
        let a = if i % 4 == 3 { lo6() } else { lo4() };
        tcp_echo(SocketAddr::new(a, TCP_ECHO), &[b'a' + i], short);
    }

    // Crafted: replies nobody asked for.
    for a in [lo4(), lo6()] {
        let typ = if a.is_ipv6() { 129 } else { 0 };
        let proto = if a.is_ipv6() { 58 } else { 1 };
        let mut m = vec![typ, 0, 0, 0, 0x77, 0x77, 0, 1];
        m.extend_from_slice(&[0x11; 16]);
        craft(a, a, proto, m);
        craft(
            a,
            a,
            6,
            tcp_segment(7050, 7051, 1000, 2000, TCP_SYN | TCP_ACK, &[]),
        );
    }
    // Crafted: a datagram nobody listens for (input may drop it), its answer, and an ICMP error
    // quoting it.
    for a in [lo4(), lo6()] {
        let d = craft(a, a, 17, udp_datagram(UDP_A, UDP_B, b"dropped?"));
        craft(a, a, 17, udp_datagram(UDP_B, UDP_A, b"answer"));
        let (proto, typ, code) = if a.is_ipv6() { (58, 1, 4) } else { (1, 3, 3) };
        let mut m = vec![typ, code, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&d);
        craft(a, a, proto, m);
    }

    // A live connection whose numbers the sniffer reads; then segments only window tracking
    // can judge.
    let mut window = Vec::new();
    let sniff = Sniffer::open();
    if let Ok(mut s) = TcpStream::connect_timeout(&SocketAddr::new(lo4(), TCP_HOLD), short) {
        let cport = s.local_addr().unwrap().port();
        let c_isn = sniff.seq_of(cport, TCP_HOLD, TCP_SYN, short);
        let s_isn = sniff.seq_of(TCP_HOLD, cport, TCP_SYN | TCP_ACK, short);
        let _ = s.write_all(b"0123456789");
        thread::sleep(Duration::from_millis(20));
        if let (Some(c), Some(sv)) = (c_isn, s_isn) {
            let (snd, rcv) = (c.wrapping_add(11), sv.wrapping_add(1));
            let cases = [
                (snd, rcv.wrapping_add(500_000), TCP_ACK, &b""[..]),
                (snd.wrapping_add(2_000_000_000), rcv, TCP_ACK, &b""[..]),
                (snd.wrapping_add(3_000_000), 0, TCP_RST, &b""[..]),
                (
                    snd.wrapping_sub(1_000_000),
                    rcv,
                    TCP_ACK | TCP_PSH,
                    &b"old data"[..],
                ),
            ];
            for ((seq, ack, flags, data), what) in cases.into_iter().zip(WINDOW_CASES) {
                let p = craft(
                    lo4(),
                    lo4(),
                    6,
                    tcp_segment(cport, TCP_HOLD, seq, ack, flags, data),
                );
                window.push((p, what));
            }
        }
        let _ = s.shutdown(Shutdown::Write);
        s.set_read_timeout(Some(short)).unwrap();
        let _ = s.read(&mut [0u8; 64]);
    }
    thread::sleep(Duration::from_millis(50));
    let _ = (TCP_FIN, TCP_RST);
    window
}

// ---------------------------------------------------------------------------------------------
// The ruleset files: tables, base chains and rules, by line.

#[derive(Clone, Debug)]
struct Rule {
    line: u32,
    table: usize,
    text: String,
}

#[derive(Clone, Debug)]
struct Base {
    table: usize,
    chain: String,
    hook: u8,
    priority: i32,
    drop: bool,
}

#[derive(Debug, Default)]
struct RuleFile {
    /// (family, name) of each table.
    tables: Vec<(String, String)>,
    bases: Vec<Base>,
    rules: Vec<Rule>,
    /// Rule lines per (table, chain), in order.
    chains: HashMap<(usize, String), Vec<u32>>,
}

fn hook_number(name: &str) -> u8 {
    match name {
        "prerouting" => HOOK_PRE,
        "input" => HOOK_IN,
        "output" => HOOK_OUT,
        "postrouting" => HOOK_POST,
        other => panic!("hook {other} not used on loopback"),
    }
}

/// Reads the simple layout of the files in tests/data/loopback: `table F N {`, `chain C {`,
/// `type filter hook H priority P; policy X;`, one rule a line, each with `counter`.
fn parse_rules(text: &str) -> RuleFile {
    let mut f = RuleFile::default();
    let mut chain: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        let l = raw.trim();
        let w: Vec<&str> = l.split_whitespace().collect();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if w.first() == Some(&"table") {
            f.tables.push((w[1].to_string(), w[2].to_string()));
        } else if w.first() == Some(&"chain") {
            chain = Some(w[1].to_string());
        } else if l == "}" {
            chain = None;
        } else if w.first() == Some(&"type") {
            let hook = w[w.iter().position(|x| *x == "hook").unwrap() + 1];
            let prio = w[w.iter().position(|x| *x == "priority").unwrap() + 1];
            f.bases.push(Base {
                table: f.tables.len() - 1,
                chain: chain.clone().unwrap(),
                hook: hook_number(hook),
                priority: prio.trim_end_matches(';').parse().unwrap(),
                drop: l.contains("policy drop"),
            });
        } else if let Some(c) = &chain {
            assert!(l.contains("counter"), "line {line}: a rule without counter");
            let table = f.tables.len() - 1;
            f.rules.push(Rule {
                line,
                table,
                text: l.to_string(),
            });
            f.chains.entry((table, c.clone())).or_default().push(line);
        }
    }
    f.bases.sort_by_key(|b| (b.hook, b.priority));
    f
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verd {
    Accept,
    Drop,
    Reject,
    Other,
}

fn verdict_of(text: &str) -> Verd {
    let t = text.split(" comment ").next().unwrap_or(text).trim();
    if t.ends_with(" accept") {
        Verd::Accept
    } else if t.ends_with(" drop") {
        Verd::Drop
    } else if t.contains(" reject") {
        Verd::Reject
    } else {
        Verd::Other
    }
}

/// The file with `log prefix "r<line>"` after every `counter`, lines kept.
fn instrumented(text: &str, rf: &RuleFile) -> String {
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        if rf.rules.iter().any(|r| r.line == line) {
            out.push_str(&l.replacen(
                "counter",
                &format!("counter log prefix \"r{line}\" group 1 queue-threshold 1"),
                1,
            ));
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

/// The probe table: `ct state` first on output (after conntrack), prerouting and input; `acc`
/// last on every hook.
fn probe() -> String {
    let mut t = String::from("table inet plk_probe {\n");
    for (hook, prio) in [("output", -190), ("prerouting", -500), ("input", -500)] {
        let _ = writeln!(
            t,
            "    chain ct_{hook} {{\n        type filter hook {hook} priority {prio}; policy accept;"
        );
        for (state, tag) in [
            ("new", "new"),
            ("established", "est"),
            ("related", "rel"),
            ("invalid", "inv"),
            ("untracked", "unt"),
        ] {
            let _ = writeln!(
                t,
                "        ct state {state} log prefix \"ct-{tag}\" group 1 queue-threshold 1"
            );
        }
        t.push_str("    }\n");
    }
    for hook in ["output", "postrouting", "prerouting", "input"] {
        let _ = writeln!(
            t,
            "    chain acc_{hook} {{\n        type filter hook {hook} priority 1000; policy accept;\n        \
             log prefix \"acc\" group 1 queue-threshold 1\n    }}"
        );
    }
    t.push_str("}\n");
    t
}

// ---------------------------------------------------------------------------------------------
// Files: NFLOG (pcap) and the capture (pcapng).

/// NFLOG records in order: (hook, prefix, IP packet).
fn nflog(path: &Path) -> Vec<(u8, String, Vec<u8>)> {
    let mut data = Vec::new();
    File::open(path).unwrap().read_to_end(&mut data).unwrap();
    assert!(data.len() >= 24, "{}: no pcap header", path.display());
    let le = u32::from_le_bytes(data[0..4].try_into().unwrap()) == 0xa1b2c3d4;
    let u32_at = |o: usize| {
        let b: [u8; 4] = data[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20), 239, "{}: not NFLOG", path.display());
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32_at(off + 8) as usize;
        let r = &data[off + 16..(off + 16 + incl).min(data.len())];
        off += 16 + incl;
        let (mut hook, mut prefix, mut payload) = (None, None, None);
        let mut o = 4;
        while o + 4 <= r.len() {
            let len = u16::from_le_bytes([r[o], r[o + 1]]) as usize;
            let typ = u16::from_le_bytes([r[o + 2], r[o + 3]]) & 0x7fff;
            if len < 4 || o + len > r.len() {
                break;
            }
            let val = &r[o + 4..o + len];
            match typ {
                1 if val.len() >= 3 => hook = Some(val[2]),
                9 => payload = Some(val.to_vec()),
                10 => {
                    let s = val.split(|b| *b == 0).next().unwrap_or(&[]);
                    prefix = Some(String::from_utf8_lossy(s).into_owned());
                }
                _ => {}
            }
            o += (len + 3) & !3;
        }
        if let (Some(h), Some(p), Some(pl)) = (hook, prefix, payload) {
            out.push((h, p, pl));
        }
    }
    out
}

/// The frames of a pcapng capture, with the name of the interface of each.
fn read_pcapng(path: &Path) -> Vec<(Option<String>, Vec<u8>)> {
    let mut d = Vec::new();
    File::open(path).unwrap().read_to_end(&mut d).unwrap();
    let u32_at = |o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
    let u16_at = |o: usize| u16::from_le_bytes(d[o..o + 2].try_into().unwrap());
    assert_eq!(u32_at(0), 0x0a0d0d0a, "{}: not pcapng", path.display());
    let (mut names, mut packets) = (Vec::new(), Vec::new());
    let mut off = 0;
    while off + 12 <= d.len() {
        let (typ, len) = (u32_at(off), u32_at(off + 4) as usize);
        assert!(len >= 12 && off + len <= d.len(), "pcapng block at {off}");
        let body = off + 8;
        match typ {
            1 => {
                let mut name = None;
                let mut o = body + 8;
                while o + 4 <= off + len - 4 {
                    let (code, l) = (u16_at(o), u16_at(o + 2) as usize);
                    if code == 0 {
                        break;
                    }
                    if code == 2 {
                        let v = d[o + 4..o + 4 + l].split(|b| *b == 0).next().unwrap();
                        name = Some(String::from_utf8_lossy(v).into_owned());
                    }
                    o += 4 + l.div_ceil(4) * 4;
                }
                names.push(name);
            }
            6 => {
                let iface = u32_at(body) as usize;
                let caplen = u32_at(body + 12) as usize;
                let name = names.get(iface).cloned().flatten();
                packets.push((name, d[body + 20..body + 20 + caplen].to_vec()));
            }
            _ => {}
        }
        off += len;
    }
    packets
}

// ---------------------------------------------------------------------------------------------
// The kernel's account.

/// One packet's crossing of one half of the path (output+postrouting or prerouting+input):
/// its records (hook, prefix), in order.
#[derive(Clone, Debug, Default)]
struct Crossing {
    records: Vec<(u8, String)>,
}

impl Crossing {
    fn ct(&self) -> Option<&str> {
        self.records
            .iter()
            .find_map(|(_, p)| p.strip_prefix("ct-"))
            .map(|t| match t {
                "new" => "new",
                "est" => "established",
                "rel" => "related",
                "inv" => "invalid",
                _ => "untracked",
            })
    }

    fn passed(&self, hook: u8) -> bool {
        self.records.iter().any(|(h, p)| *h == hook && p == "acc")
    }

    fn lines(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        self.records
            .iter()
            .filter_map(|(h, p)| Some((*h, p.strip_prefix('r')?.parse().ok()?)))
    }
}

/// The records grouped into crossings per half and packet bytes, each list in order.
type Crossings = HashMap<(bool, Vec<u8>), VecDeque<Crossing>>;

fn crossings(records: &[(u8, String, Vec<u8>)]) -> (Crossings, usize) {
    let mut by: Crossings = HashMap::new();
    let mut stray = 0;
    for (hook, prefix, pkt) in records {
        let out_half = matches!(*hook, HOOK_OUT | HOOK_POST);
        let starts = prefix.starts_with("ct-") && matches!(*hook, HOOK_OUT | HOOK_PRE);
        let list = by.entry((out_half, pkt.clone())).or_default();
        if starts {
            list.push_back(Crossing::default());
        }
        match list.back_mut() {
            Some(c) => c.records.push((*hook, prefix.clone())),
            None => stray += 1,
        }
    }
    (by, stray)
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    verdict: &'static str,
    rule: Option<u32>,
    chain: Option<String>,
    ct: String,
}

/// Replays a packet's records through the base chains of its hooks, in the kernel's order.
fn replay(rf: &RuleFile, v6: bool, hooks: &[(u8, &Crossing)], ct: &str) -> Outcome {
    let mut out = Outcome {
        verdict: "accept",
        rule: None,
        chain: None,
        ct: ct.to_string(),
    };
    let table_of: HashMap<u32, usize> = rf.rules.iter().map(|r| (r.line, r.table)).collect();
    for (hook, c) in hooks {
        for b in rf.bases.iter().filter(|b| b.hook == *hook) {
            let (fam, name) = &rf.tables[b.table];
            if (fam == "ip" && v6) || (fam == "ip6" && !v6) {
                continue;
            }
            out.chain = Some(format!("{fam} {name} {}", b.chain));
            let last = c
                .lines()
                .filter(|(h, l)| h == hook && table_of.get(l) == Some(&b.table))
                .last()
                .map(|(_, l)| l);
            let verdict = last.map(|l| {
                let r = rf.rules.iter().find(|r| r.line == l).unwrap();
                verdict_of(&r.text)
            });
            match (last, verdict) {
                (Some(l), Some(Verd::Accept)) => out.rule = Some(l),
                (Some(l), Some(Verd::Drop)) => {
                    out.verdict = "drop";
                    out.rule = Some(l);
                    return out;
                }
                (Some(l), Some(Verd::Reject)) => {
                    out.verdict = "reject";
                    out.rule = Some(l);
                    return out;
                }
                _ if b.drop => {
                    out.verdict = "drop";
                    out.rule = None;
                    return out;
                }
                _ => out.rule = None,
            }
        }
    }
    out
}

/// The kernel's counters of the file's rules, by line (rules are in file order per chain).
fn kernel_counters(ns: &str, rf: &RuleFile) -> HashMap<u32, (u64, u64)> {
    let out = in_ns(ns, "nft", &["-j", "list", "ruleset"]);
    let v: Value = serde_json::from_str(&out).expect("nft -j output");
    let mut pos: HashMap<(usize, String), usize> = HashMap::new();
    let mut found = HashMap::new();
    for o in v["nftables"].as_array().unwrap() {
        let Some(r) = o.get("rule") else { continue };
        let (fam, table) = (r["family"].as_str().unwrap(), r["table"].as_str().unwrap());
        let Some(ti) = rf.tables.iter().position(|(f, n)| f == fam && n == table) else {
            continue;
        };
        let chain = r["chain"].as_str().unwrap().to_string();
        let i = pos.entry((ti, chain.clone())).or_default();
        let line = rf.chains[&(ti, chain)][*i];
        *i += 1;
        let (mut p, mut b) = (0, 0);
        for e in r["expr"].as_array().unwrap() {
            if let Some(c) = e.get("counter") {
                p = c["packets"].as_u64().unwrap();
                b = c["bytes"].as_u64().unwrap();
            }
        }
        found.insert(line, (p, b));
    }
    assert_eq!(found.len(), rf.rules.len(), "the kernel lists every rule");
    found
}

fn packetlab(capture: &Path, rules: &Path, what: &str, more: &[&str]) -> Vec<Value> {
    let out = run(Command::new(common::bin())
        .arg("-r")
        .arg(capture)
        .arg("--rules")
        .arg(rules)
        .args(["--print", what, "--format", "json"])
        .args(more));
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// packetlab's counters by line.
fn sim_counters(rules: &[Value]) -> HashMap<u32, (u64, u64)> {
    rules
        .iter()
        .filter_map(|r| {
            Some((
                r["line"].as_u64()? as u32,
                (r["packets"].as_u64()?, r["bytes"].as_u64()?),
            ))
        })
        .collect()
}

/// Frames as a classic pcap file (Ethernet), a microsecond apart.
fn write_pcap(path: &Path, frames: &[&[u8]]) {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        let len = (f.len() as u32).to_le_bytes();
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&len);
        out.extend_from_slice(&len);
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

// ---------------------------------------------------------------------------------------------
// One ruleset, end to end.

#[derive(Default)]
struct Figures {
    frames: usize,
    verdict_ok: usize,
    rule_ok: usize,
    chain_ok: usize,
    ct_ok: usize,
    agreed: usize,
    dropped_at_output: usize,
    counters: usize,
    counters_ok: usize,
    /// Counters equal over the frames whose verdict does not depend on window tracking.
    counters_ok_sans_window: usize,
    verdicts: BTreeMap<&'static str, usize>,
    states: BTreeMap<String, usize>,
    window_only: Vec<String>,
    problems: Vec<String>,
}

impl Figures {
    fn line(&self) -> String {
        format!(
            "{} frames: verdict {}/{0}, rule {}/{0}, chain {}/{0}, ct {}/{0}; {} dropped at \
             output (not captured); counters {}/{} ({}/{} without the {} window-tracking \
             disagreements); kernel {:?} {:?}",
            self.frames,
            self.verdict_ok,
            self.rule_ok,
            self.chain_ok,
            self.ct_ok,
            self.dropped_at_output,
            self.counters_ok,
            self.counters,
            self.counters_ok_sans_window,
            self.counters,
            self.window_only.len(),
            self.verdicts,
            self.states
        )
    }
}

fn describe(ip: &[u8]) -> String {
    let Some((proto, l4)) = l4_of(ip) else {
        return format!("{} bytes", ip.len());
    };
    let v6 = ip[0] >> 4 == 6;
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (
            <[u8; 16]>::try_from(&ip[8..24]).unwrap().into(),
            <[u8; 16]>::try_from(&ip[24..40]).unwrap().into(),
        )
    } else {
        (
            <[u8; 4]>::try_from(&ip[12..16]).unwrap().into(),
            <[u8; 4]>::try_from(&ip[16..20]).unwrap().into(),
        )
    };
    match proto {
        6 if l4.len() >= 20 => format!(
            "tcp {src}:{} → {dst}:{} flags {:#04x} seq {} ack {}",
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
            l4[13],
            u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
            u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]])
        ),
        17 if l4.len() >= 8 => format!(
            "udp {src}:{} → {dst}:{}",
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]])
        ),
        1 | 58 if l4.len() >= 2 => format!("icmp {src} → {dst} type {} code {}", l4[0], l4[1]),
        p => format!("proto {p} {src} → {dst}"),
    }
}

fn run_ruleset(k: usize, file: &Path, work: &Path) -> Figures {
    // A namespace per ruleset: each starts from an empty connection table, as packetlab does.
    let ns = Ns::create(k);
    let _services = Services::start(&ns.0);
    let ns = ns.0.as_str();
    let stem = file.file_stem().unwrap().to_string_lossy().to_string();
    let dir = work.join(&stem);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let rf = parse_rules(&text);
    let rules = dir.join("rules.nft");
    std::fs::write(&rules, &text).unwrap();
    let loaded = dir.join("loaded.nft");
    std::fs::write(
        &loaded,
        format!("flush ruleset\n{}{}", instrumented(&text, &rf), probe()),
    )
    .unwrap();
    in_ns(ns, "nft", &["-f", loaded.to_str().unwrap()]);

    let cap = dir.join("lo.pcapng");
    let log = dir.join("nflog.pcap");
    let nfl = Proc::start(
        ns,
        &[
            "tcpdump",
            "-Z",
            "root",
            "-n",
            "-U",
            "--immediate-mode",
            "-B",
            "8192",
            "-s",
            "0",
            "-i",
            "nflog:1",
            "-w",
            log.to_str().unwrap(),
        ],
        "listening on",
    );
    let dc = Proc::start(
        ns,
        &[
            "dumpcap",
            "-i",
            "lo",
            "-B",
            "8",
            "-w",
            cap.to_str().unwrap(),
        ],
        "Capturing on",
    );
    // dumpcap says so a moment before its socket reads.
    thread::sleep(Duration::from_millis(200));
    let ns2 = ns.to_string();
    let window = thread::spawn(move || {
        enter_netns(&ns2);
        traffic()
    })
    .join()
    .expect("traffic thread");
    // The last frames reach dumpcap's file before it stops.
    thread::sleep(Duration::from_millis(500));
    let said = [dc.stop(), nfl.stop()];
    let counters = kernel_counters(ns, &rf);

    let mut f = Figures {
        counters: rf.rules.len(),
        ..Figures::default()
    };
    if !said[1]
        .lines()
        .any(|l| l.trim() == "0 packets dropped by kernel")
    {
        f.problems
            .push(format!("tcpdump lost NFLOG records: {}", said[1]));
    }
    let records = nflog(&log);
    let (mut by, stray) = crossings(&records);
    if stray > 0 {
        f.problems
            .push(format!("{stray} NFLOG records outside any crossing"));
    }
    let frames = read_pcapng(&cap);
    let pl = packetlab(&cap, &rules, "packets", &[]);
    if pl.len() != frames.len() {
        f.problems.push(format!(
            "packetlab printed {} packets for {} frames",
            pl.len(),
            frames.len()
        ));
        return f;
    }
    let mut per_line: HashMap<u32, (u64, u64)> = HashMap::new();
    // The frames that disagree only through window tracking, and what the kernel counted
    // for them.
    let mut window_frames = Vec::new();
    let mut window_lines: HashMap<u32, (u64, u64)> = HashMap::new();
    let mut shown = 0;
    for (i, (iface, fr)) in frames.iter().enumerate() {
        if iface.as_deref() != Some("lo") {
            f.problems
                .push(format!("frame {}: interface {iface:?}", i + 1));
        }
        if fr.len() <= 14 {
            continue;
        }
        let ipb = fr[14..].to_vec();
        let v6 = ipb[0] >> 4 == 6;
        let what = describe(&ipb);
        // The next crossing of each half that got through output and postrouting.
        let out_c = by.get_mut(&(true, ipb.clone())).and_then(|l| {
            // Crossings of these bytes before it that did not pass were dropped at output:
            // they stay, and are counted apart below.
            let at = l.iter().position(|c| c.passed(HOOK_POST))?;
            l.remove(at)
        });
        let in_c = by
            .get_mut(&(false, ipb.clone()))
            .and_then(|l| l.pop_front());
        let (Some(oc), Some(ic)) = (out_c, in_c) else {
            f.problems
                .push(format!("frame {}: no kernel record ({what})", i + 1));
            continue;
        };
        f.frames += 1;
        for (_, l) in oc.lines().chain(ic.lines()) {
            let e = per_line.entry(l).or_default();
            e.0 += 1;
            e.1 += ipb.len() as u64;
        }
        let ct = oc.ct().unwrap_or("none").to_string();
        let kern = replay(
            &rf,
            v6,
            &[
                (HOOK_OUT, &oc),
                (HOOK_POST, &oc),
                (HOOK_PRE, &ic),
                (HOOK_IN, &ic),
            ],
            &ct,
        );
        let accepted = ic.passed(HOOK_IN);
        if accepted != (kern.verdict == "accept") {
            f.problems.push(format!(
                "frame {}: records inconsistent (input sentinel {accepted}, replay {}): {what} \
                 {:?} {:?}",
                i + 1,
                kern.verdict,
                oc.records,
                ic.records
            ));
        }
        let p = &pl[i];
        let sim = Outcome {
            verdict: match p["verdict"].as_str() {
                Some("accept") => "accept",
                Some("drop") => "drop",
                Some("reject") => "reject",
                _ => "none",
            },
            rule: p["rule"].as_u64().map(|l| l as u32),
            chain: p["chain"].as_str().map(str::to_string),
            ct: p["ct_state"].as_str().unwrap_or("none").to_string(),
        };
        *f.verdicts.entry(kern.verdict).or_default() += 1;
        *f.states.entry(kern.ct.clone()).or_default() += 1;
        f.verdict_ok += usize::from(sim.verdict == kern.verdict);
        f.rule_ok += usize::from(sim.rule == kern.rule);
        f.chain_ok += usize::from(sim.chain == kern.chain);
        f.ct_ok += usize::from(sim.ct == kern.ct);
        f.agreed += usize::from(sim == kern);
        if sim != kern {
            if let Some((_, w)) = window.iter().find(|(b, _)| *b == ipb) {
                window_frames.push(i);
                for (_, l) in oc.lines().chain(ic.lines()) {
                    let e = window_lines.entry(l).or_default();
                    e.0 += 1;
                    e.1 += ipb.len() as u64;
                }
                f.window_only.push(format!(
                    "frame {} ({w}: {what}): kernel {kern:?}, packetlab {sim:?}",
                    i + 1
                ));
            } else if shown < 15 {
                shown += 1;
                f.problems.push(format!(
                    "frame {} ({what}):\n      kernel:    {kern:?} {:?} {:?}\n      packetlab: \
                     {sim:?} ({})",
                    i + 1,
                    oc.records,
                    ic.records,
                    p["info"].as_str().unwrap_or("")
                ));
            } else {
                shown += 1;
            }
        }
    }
    if shown > 15 {
        f.problems.push(format!("… and {} more frames", shown - 15));
    }
    // What is left on the output half: frames dropped at output (or postrouting).
    let mut uncaptured: HashMap<u32, (u64, u64)> = HashMap::new();
    for ((out_half, pkt), list) in &by {
        for c in list {
            if !*out_half {
                f.problems.push(format!(
                    "an input crossing without a captured frame: {}",
                    describe(pkt)
                ));
                continue;
            }
            if c.passed(HOOK_POST) {
                f.problems.push(format!(
                    "passed postrouting but not captured: {}",
                    describe(pkt)
                ));
                continue;
            }
            f.dropped_at_output += 1;
            for (_, l) in c.lines() {
                let e = uncaptured.entry(l).or_default();
                e.0 += 1;
                e.1 += pkt.len() as u64;
            }
        }
    }
    let sim = sim_counters(&packetlab(&cap, &rules, "rules", &[]));
    // The same capture without the window-tracking disagreements (as classic pcap, the
    // interface given with --iface).
    let sans = if window_frames.is_empty() {
        sim.clone()
    } else {
        let kept: Vec<&[u8]> = frames
            .iter()
            .enumerate()
            .filter(|(i, _)| !window_frames.contains(i))
            .map(|(_, (_, fr))| fr.as_slice())
            .collect();
        let path = dir.join("sans-window.pcap");
        write_pcap(&path, &kept);
        sim_counters(&packetlab(&path, &rules, "rules", &["--iface", "lo"]))
    };
    for r in &rf.rules {
        let k = counters.get(&r.line).copied().unwrap_or_default();
        let seen = per_line.get(&r.line).copied().unwrap_or_default();
        let unc = uncaptured.get(&r.line).copied().unwrap_or_default();
        if (seen.0 + unc.0, seen.1 + unc.1) != k {
            f.problems.push(format!(
                "line {}: kernel counter {k:?}, NFLOG records {seen:?} captured + {unc:?} \
                 dropped at output",
                r.line
            ));
        }
        let want = (k.0 - unc.0.min(k.0), k.1 - unc.1.min(k.1));
        let s = sim.get(&r.line).copied().unwrap_or_default();
        if s == want {
            f.counters_ok += 1;
        } else if window_frames.is_empty() {
            f.problems.push(format!(
                "counter of line {} `{}`: kernel {k:?} less {unc:?} dropped at output, \
                 packetlab {s:?}",
                r.line, r.text
            ));
        }
        let w = window_lines.get(&r.line).copied().unwrap_or_default();
        let want = (want.0 - w.0.min(want.0), want.1 - w.1.min(want.1));
        let s = sans.get(&r.line).copied().unwrap_or_default();
        if s == want {
            f.counters_ok_sans_window += 1;
        } else {
            f.problems.push(format!(
                "counter of line {} `{}` (window-tracking frames left out): kernel {want:?}, \
                 packetlab {s:?}",
                r.line, r.text
            ));
        }
    }
    for w in &f.window_only {
        f.problems
            .push(format!("only through TCP window tracking: {w}"));
    }
    if !f.problems.is_empty() {
        f.problems
            .insert(0, format!("{} (files in {})", stem, dir.display()));
    }
    f
}

#[test]
fn kernel_loopback() {
    if !common::netns::ready(
        "the loopback differential test",
        &["ip", "nft", "tcpdump", "dumpcap"],
        "iproute2 nftables tcpdump tshark",
    ) {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/loopback");
    let only = std::env::var("PLK_KLO_ONLY").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "nft"))
        .filter(|p| p.to_string_lossy().contains(&only))
        .collect();
    files.sort();
    assert!(
        only.is_empty() || !files.is_empty(),
        "no ruleset matches {only}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let work = std::env::var_os("PLK_KLO_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let started = Instant::now();
    let mut total = Figures::default();
    let mut failures = Vec::new();
    for (k, file) in files.iter().enumerate() {
        let t0 = Instant::now();
        let f = run_ruleset(k, file, &work);
        eprintln!(
            "{} ({:.1} s): {}",
            file.file_name().unwrap().to_string_lossy(),
            t0.elapsed().as_secs_f64(),
            f.line()
        );
        for w in &f.window_only {
            eprintln!("  window tracking: {w}");
        }
        total.frames += f.frames;
        total.agreed += f.agreed;
        total.verdict_ok += f.verdict_ok;
        total.dropped_at_output += f.dropped_at_output;
        total.counters += f.counters;
        total.counters_ok += f.counters_ok;
        total.counters_ok_sans_window += f.counters_ok_sans_window;
        total.window_only.extend(f.window_only.iter().cloned());
        if !f.problems.is_empty() {
            failures.push(f.problems.join("\n  "));
        }
    }
    eprintln!(
        "kernel loopback: {} rulesets, {} frames, verdicts agreeing {}/{1}, in full agreement \
         (verdict, rule, chain, ct) {}/{1}, {} window-tracking cases among the disagreements; \
         {} frames dropped at output; counters equal {}/{} ({}/{} over the frames that do not \
         depend on window tracking) ({:.1} s)",
        files.len(),
        total.frames,
        total.verdict_ok,
        total.agreed,
        total.window_only.len(),
        total.dropped_at_output,
        total.counters_ok,
        total.counters,
        total.counters_ok_sans_window,
        total.counters,
        started.elapsed().as_secs_f64()
    );
    let leftover = ip(&["netns", "list"]);
    assert!(
        !leftover
            .lines()
            .any(|l| l.starts_with(&format!("plk-lo-{}-", std::process::id()))),
        "namespace left behind: {leftover}"
    );
    assert!(files.len() >= 6 && total.frames > 0, "too little was run");
    assert!(
        failures.is_empty(),
        "the simulator disagrees with the kernel on loopback:\n{}",
        failures.join("\n\n")
    );
}
