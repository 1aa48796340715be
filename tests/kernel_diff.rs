//! Kernel differential test of the firewall simulator (issue 4).
//!
//! Two network namespaces joined by a veth pair (10.213.0.0/24 and fd00:213::/64, nothing else).
//! The *sender* has routes and static neighbours but no address: it sends pre-built packets
//! (correct checksums, a unique IPv4 id or IPv6 flow label each) through raw IP sockets, so they
//! meet its own connection tracking and output hook, and it reads what leaves and what comes back
//! on a packet socket bound to its veth end. The *receiver* (10.213.0.2–6, fd00:213::2–6) runs
//! TCP listeners and UDP echo sockets. Each of ≥ 20 runs (seeded, deterministic) generates two
//! rulesets in packetlab's nft subset, loaded with `nft -f`: one on the receiver's input hook,
//! one on the sender's output hook; then traffic until ≥ 500 packets have left the sender: TCP
//! handshakes with data and FIN/RST ends, SYNs to closed ports and what follows the RST, single
//! segments with any flag mix where no flow is known, UDP exchanges, ICMP/ICMPv6 echo,
//! timestamp, info and mask requests, odd ICMP types, ICMP errors about known flows (both
//! directions) and about unknown ones; and connections whose window the kernel's TCP tracker
//! checks (`tcp_window_probe`): handshakes with or without window scale and SACK-permitted
//! (every fourth run the receiver offers no scaling back, so a scale sent by one side only
//! counts on neither), data each waited for its ACK, then crafted segments — ACKs of data
//! never sent or from long ago, data at or past the window's right edge or far behind it,
//! retransmissions, RSTs and FINs out of window, an RST in window but off the expected
//! sequence, a SYN inside the connection, data after a gap (answered with SACK), window
//! updates — an orderly or aborted end, and a SYN on the same ports again. Some of these
//! connections are picked up mid-stream by the sender's conntrack: their SYN goes out through
//! the packet socket, past the sender's hooks, so only the receiver saw it. Input rulesets often
//! open with a `reject` (TCP reset or ICMP) of segments inside established connections, or of
//! invalid ones, so the reject's answer travels on a flow both sides track.
//!
//! The kernel's side, per hook:
//! - per-rule `counter`s, read back with `nft -j list ruleset`;
//! - per packet, through NFLOG (`tcpdump -i nflog:1` in each namespace): once the ruleset file
//!   is loaded with `nft -f`, its tables are swapped (one transaction) for the same text where
//!   every rule also has `log prefix "r<index>" group 1 queue-threshold 1` right after its
//!   `counter`, so before its verdict, on the same line; a probe base chain logs each packet's
//!   `ct state`, a sentinel base chain at priority 1000 logs what got through. The kernel's
//!   verdict, deciding rule and deciding chain follow from the records (and the sentinel must
//!   agree with them; the records per rule must equal its counter). On the sender, what its
//!   output hook let through must also be exactly what left on the wire.
//!
//! The simulator's side: packetlab reads each host's packets as the hook met them, in order —
//! for the receiver a `tcpdump -i veth-r` capture (what reached its IP stack, and what it sent
//! back), for the sender the packets it sent (before its output hook) interleaved with what came
//! back, as read on its veth — with `--rules` the same file and `--local` that host's addresses
//! (`--print packets` and `--print rules`, JSON).
//!
//! Compared, for every packet met by each hook: verdict (accept/drop/reject), deciding rule (the
//! line, or none for a policy), deciding chain, `ct state`; for every rule: packets and bytes.
//! Agreement must be 100 %. Replies (RST, ICMP unreachable) are rate-limited by the kernel and
//! are not an oracle; they only feed both sides' connection tracking. The sender waits for the
//! receiver's answers (its kernel's come within the send call; the UDP echo service is waited
//! on until idle), so no answer races the next packet of its flow.
//!
//! What the simulator is not asked here: `th` ports of protocols without ports (the kernel
//! reads raw transport-header bytes there; generated `th` matches come with a TCP/UDP match),
//! interface names (a pcap file has none), `reject` on output (its answer loops back through
//! the hook; `tests/kernel_loopback.rs` asks that), output chains before conntrack (priority
//! < -200: no `ct state` there), conntrack timeouts (every run lasts seconds), and the
//! simultaneous-open and reinitialised-SYN corners of the TCP state machine (the sender plays
//! the client only).
//!
//! Needs root, `ip`, `nft` and `tcpdump` (with NFLOG): skipped otherwise, a failure in CI.
//! Knobs: PLK_KDIFF_RULESETS (default 20), PLK_KDIFF_PACKETS (default 500), PLK_KDIFF_SEED,
//! PLK_KDIFF_KEEP=DIR keeps every run's files there.

mod common;

use common::netns::{addr_bytes, enter_netns, fold, in_ns, ip, ip_batch, run, sum16};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

const SND_MAC: [u8; 6] = [0x02, 0, 0, 0x13, 0, 0x01];
const RCV_MAC: [u8; 6] = [0x02, 0, 0, 0x13, 0, 0x02];
const SND_IF: &str = "veth-s";
const RCV_IF: &str = "veth-r";
/// The receiver's addresses: the last byte / group of 10.213.0.x and fd00:213::x.
const RCV_HOSTS: [u8; 5] = [2, 3, 4, 5, 6];
/// The sender's source addresses: x = 1 and 0x10..=0x2f (16..=47).
const SND_FIRST: u8 = 0x10;
const SND_LAST: u8 = 0x2f;
const TCP_LISTEN: [u16; 3] = [22, 80, 443];
const TCP_CLOSED: [u16; 5] = [25, 3306, 8080, 1022, 1100];
const UDP_ECHO: [u16; 2] = [53, 123];
const UDP_CLOSED: [u16; 4] = [161, 514, 5000, 1053];
/// How long the sender waits for a reply the receiver's kernel may or may not send: it comes
/// within the send call itself (the receive path runs in the sender's softirq), so this is slack.
const KERNEL_REPLY: Duration = Duration::from_millis(4);
/// The longest any setup step may take.
const WAIT: Duration = Duration::from_secs(10);

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_URG: u8 = 0x20;
const TCP_ECE: u8 = 0x40;
const TCP_CWR: u8 = 0x80;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn v4(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 213, 0, host))
}

fn v6(host: u8) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x213, 0, 0, 0, 0, 0, host as u16))
}

fn host(v6: bool, h: u8) -> IpAddr {
    if v6 {
        self::v6(h)
    } else {
        v4(h)
    }
}

// ---------------------------------------------------------------------------------------------
// A small deterministic generator (SplitMix64): the same seed gives the same rulesets and the
// same traffic plan.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, w: &[u32]) -> usize {
        let total: u32 = w.iter().sum();
        let mut x = self.below(total as u64) as u32;
        for (i, &wi) in w.iter().enumerate() {
            if x < wi {
                return i;
            }
            x -= wi;
        }
        w.len() - 1
    }
}

// ---------------------------------------------------------------------------------------------
// Processes and namespaces.

/// The two namespaces of one ruleset's run; both are deleted when this is dropped, also when
/// the test fails half-way.
struct Lab {
    snd: String,
    rcv: String,
}

impl Lab {
    fn create(k: usize) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            snd: format!("plk-snd-{pid}-{k}"),
            rcv: format!("plk-rcv-{pid}-{k}"),
        };
        ip(&["netns", "add", &lab.snd]);
        // From here on the guard removes what exists.
        ip(&["netns", "add", &lab.rcv]);
        for (ns, conf) in [
            // The sender has routes but no address: it answers nothing it receives (nothing
            // is for it) and sends nothing of its own (no link-local address, no DAD, no
            // router solicitation, static neighbours), only the test's raw packets.
            (
                &lab.snd,
                &[
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.default.addr_gen_mode=1",
                    "net.ipv6.conf.default.accept_ra=0",
                    "net.ipv6.conf.default.router_solicitations=0",
                ][..],
            ),
            (
                &lab.rcv,
                &[
                    "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv4.conf.all.accept_redirects=0",
                    "net.ipv4.conf.default.accept_redirects=0",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.default.addr_gen_mode=1",
                    "net.ipv6.conf.default.accept_ra=0",
                    "net.ipv6.conf.default.router_solicitations=0",
                    "net.ipv6.conf.all.accept_redirects=0",
                    "net.ipv6.conf.default.accept_redirects=0",
                ][..],
            ),
        ] {
            let mut args = vec!["-qw"];
            args.extend_from_slice(conf);
            in_ns(ns, "sysctl", &args);
        }
        // Every fourth run the receiver offers no window scaling: a SYN's scale option then
        // counts on neither side.
        if k % 4 == 3 {
            in_ns(
                &lab.rcv,
                "sysctl",
                &["-qw", "net.ipv4.tcp_window_scaling=0"],
            );
        }
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let (smac, rmac) = (mac(SND_MAC), mac(RCV_MAC));
        ip(&[
            "link", "add", SND_IF, "netns", &lab.snd, "address", &smac, "type", "veth", "peer",
            "name", RCV_IF, "netns", &lab.rcv, "address", &rmac,
        ]);
        let mut batch = String::new();
        for h in RCV_HOSTS {
            let _ = writeln!(batch, "addr add {}/24 dev {RCV_IF}", v4(h));
            let _ = writeln!(batch, "addr add {}/64 dev {RCV_IF} nodad", v6(h));
        }
        // Static neighbours: the receiver never sends ARP or neighbour solicitations.
        for h in std::iter::once(1).chain(SND_FIRST..=SND_LAST) {
            for a in [v4(h), v6(h)] {
                let _ = writeln!(
                    batch,
                    "neigh replace {a} lladdr {smac} dev {RCV_IF} nud permanent"
                );
            }
        }
        let _ = writeln!(batch, "link set lo up");
        let _ = writeln!(batch, "link set {RCV_IF} up");
        ip_batch(&lab.rcv, &batch);
        let mut batch = format!("link set lo up\nlink set {SND_IF} up\n");
        let _ = writeln!(batch, "route add 10.213.0.0/24 dev {SND_IF}");
        let _ = writeln!(batch, "route add fd00:213::/64 dev {SND_IF}");
        for h in RCV_HOSTS {
            for a in [v4(h), v6(h)] {
                let _ = writeln!(
                    batch,
                    "neigh replace {a} lladdr {rmac} dev {SND_IF} nud permanent"
                );
            }
        }
        ip_batch(&lab.snd, &batch);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.snd, &self.rcv] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn nft_text(ns: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules.nft");
    std::fs::write(&p, text).unwrap();
    in_ns(ns, "nft", &["-f", p.to_str().unwrap()]);
}

/// A child process killed and reaped if the test ends early.
struct Proc {
    child: Option<Child>,
    err: Option<mpsc::Receiver<String>>,
    what: String,
}

impl Proc {
    /// `tcpdump` in a namespace, once it says it is listening.
    fn tcpdump(ns: &str, iface: &str, out: &Path) -> Proc {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "tcpdump", "-Z", "root", "-n", "-U"])
            .args([
                "--immediate-mode",
                "-B",
                "8192",
                "-s",
                "0",
                "-i",
                iface,
                "-w",
            ])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("tcpdump: {e}"));
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
            err: Some(rx),
            what: format!("tcpdump -i {iface}"),
        };
        let deadline = Instant::now() + WAIT;
        let mut said = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match p.err.as_ref().unwrap().recv_timeout(left) {
                Ok(l) if l.contains("listening on") => break,
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
        // SAFETY: kill on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + WAIT;
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not stop on SIGINT", self.what);
            }
            thread::sleep(Duration::from_millis(10));
        }
        let rx = self.err.take().unwrap();
        let mut said = String::new();
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
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

/// The receiver's services: TCP listeners (connections are accepted and held open, so the
/// receiver never closes them while we watch) and UDP echo sockets, one per address so a reply
/// leaves from the address the request went to.
struct Services {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    echo: Echo,
}

/// What the sender needs to know the UDP echo service is idle: its sockets (file descriptors
/// are the process's, whichever namespace they live in) and a flag it holds while it works.
#[derive(Clone)]
struct Echo {
    fds: Vec<i32>,
    busy: Arc<AtomicBool>,
}

impl Echo {
    /// Waits (boundedly) until no datagram waits in an echo socket and none is being answered:
    /// then any answer has gone out and reached the sender (a send on a veth pair is delivered
    /// within the call), so nothing of the receiver's races the sender's next packet.
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let mut fds: Vec<libc::pollfd> = self
                .fds
                .iter()
                .map(|&fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            // SAFETY: a valid array of pollfds of the length given; zero timeout.
            let queued = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
            if queued == 0 && !self.busy.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_micros(100));
        }
    }
}

impl Services {
    fn start(ns: &str) -> Services {
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (ns, flag, working) = (ns.to_string(), stop.clone(), busy.clone());
        let handle = thread::spawn(move || {
            enter_netns(&ns);
            let mut tcp = Vec::new();
            for p in TCP_LISTEN {
                let l = TcpListener::bind(("::", p)).unwrap_or_else(|e| panic!("listen {p}: {e}"));
                l.set_nonblocking(true).unwrap();
                tcp.push(l);
            }
            let mut udp = Vec::new();
            for h in RCV_HOSTS {
                for a in [v4(h), v6(h)] {
                    for p in UDP_ECHO {
                        let s = UdpSocket::bind(SocketAddr::new(a, p))
                            .unwrap_or_else(|e| panic!("udp {a}:{p}: {e}"));
                        s.set_nonblocking(true).unwrap();
                        udp.push(s);
                    }
                }
            }
            tx.send(udp.iter().map(|s| s.as_raw_fd()).collect::<Vec<_>>())
                .unwrap();
            let mut held = Vec::new();
            let mut buf = [0u8; 2048];
            let mut fds: Vec<libc::pollfd> = tcp
                .iter()
                .map(|l| l.as_raw_fd())
                .chain(udp.iter().map(|s| s.as_raw_fd()))
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: a valid array of pollfds of the length given.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
                for l in &tcp {
                    while let Ok((s, _)) = l.accept() {
                        held.push(s);
                    }
                }
                // Busy from before taking a datagram until its answer is sent.
                working.store(true, Ordering::SeqCst);
                for s in &udp {
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        let _ = s.send_to(&buf[..n], from);
                    }
                }
                working.store(false, Ordering::SeqCst);
            }
            drop(held);
        });
        let fds = rx
            .recv_timeout(WAIT)
            .expect("receiver services did not start");
        Services {
            stop,
            handle: Some(handle),
            echo: Echo { fds, busy },
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
// Frames.

/// An Ethernet frame from the sender to the receiver carrying `l4` with correct checksums;
/// `key` is the IPv4 identification or the IPv6 flow label, unique per frame.
fn ip_frame(src: IpAddr, dst: IpAddr, proto: u8, mut l4: Vec<u8>, key: u32) -> Vec<u8> {
    let v6 = src.is_ipv6();
    let ck = match proto {
        6 => Some(16),
        17 => Some(6),
        1 | 58 => Some(2),
        _ => None,
    };
    if let Some(off) = ck {
        l4[off] = 0;
        l4[off + 1] = 0;
        let mut acc = 0;
        if proto != 1 {
            acc = sum16(&addr_bytes(src), acc);
            acc = sum16(&addr_bytes(dst), acc);
            acc += proto as u32 + l4.len() as u32;
        }
        let mut c = fold(sum16(&l4, acc));
        if proto == 17 && c == 0 {
            c = 0xffff;
        }
        l4[off..off + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut f = Vec::with_capacity(54 + l4.len());
    f.extend_from_slice(&RCV_MAC);
    f.extend_from_slice(&SND_MAC);
    if v6 {
        f.extend_from_slice(&0x86ddu16.to_be_bytes());
        f.extend_from_slice(&((6u32 << 28) | (key & 0xfffff)).to_be_bytes());
        f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&addr_bytes(src));
        f.extend_from_slice(&addr_bytes(dst));
    } else {
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        h.extend_from_slice(&(key as u16).to_be_bytes());
        h.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
        h.extend_from_slice(&addr_bytes(src));
        h.extend_from_slice(&addr_bytes(dst));
        let c = fold(sum16(&h, 0));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&h);
    }
    f.extend_from_slice(&l4);
    f
}

fn tcp_seg(sp: u16, dp: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    tcp_seg_with(sp, dp, (seq, ack), flags, 0xfaf0, &[], payload)
}

/// A TCP segment with a window and options (padded with NOPs to a multiple of four bytes).
fn tcp_seg_with(
    sp: u16,
    dp: u16,
    (seq, ack): (u32, u32),
    flags: u8,
    win: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut o = opts.to_vec();
    while !o.len().is_multiple_of(4) {
        o.insert(0, 1);
    }
    let mut v = Vec::with_capacity(20 + o.len() + payload.len());
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.push((((20 + o.len()) / 4) << 4) as u8);
    v.push(flags);
    v.extend_from_slice(&win.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&o);
    v.extend_from_slice(payload);
    v
}

/// SYN options: MSS 1460, then SACK-permitted and a window scale if asked.
fn syn_options(sack_perm: bool, wscale: Option<u8>) -> Vec<u8> {
    let mut o = vec![2, 4, 0x05, 0xb4];
    if sack_perm {
        o.extend_from_slice(&[4, 2]);
    }
    if let Some(ws) = wscale {
        o.extend_from_slice(&[3, 3, ws]);
    }
    o
}

fn udp_dgram(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An ICMP or ICMPv6 message: type, code, four bytes (id and sequence, or unused), body.
fn icmp_msg(typ: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = vec![typ, code, 0, 0];
    v.extend_from_slice(&rest);
    v.extend_from_slice(body);
    v
}

/// What the sender read back from the receiver.
#[derive(Clone, Debug)]
struct Reply {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    win: u16,
    /// A SYN's window scale option.
    wscale: Option<u8>,
    typ: u8,
    id: u16,
    /// The IP packet (header onwards), for quoting in an ICMP error.
    ip: Vec<u8>,
}

fn parse_reply(f: &[u8]) -> Option<Reply> {
    if f.len() < 14 || f[6..12] != RCV_MAC {
        return None;
    }
    let ip = &f[14..];
    let et = u16::from_be_bytes([f[12], f[13]]);
    let (src, dst, proto, l4) = match et {
        0x0800 if ip.len() >= 20 => {
            let ihl = (ip[0] & 15) as usize * 4;
            let tot = (u16::from_be_bytes([ip[2], ip[3]]) as usize).min(ip.len());
            let s: [u8; 4] = ip[12..16].try_into().ok()?;
            let d: [u8; 4] = ip[16..20].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), ip[9], ip.get(ihl..tot)?)
        }
        0x86dd if ip.len() >= 40 => {
            let s: [u8; 16] = ip[8..24].try_into().ok()?;
            let d: [u8; 16] = ip[24..40].try_into().ok()?;
            let tot = (40 + u16::from_be_bytes([ip[4], ip[5]]) as usize).min(ip.len());
            (IpAddr::from(s), IpAddr::from(d), ip[6], ip.get(40..tot)?)
        }
        _ => return None,
    };
    let mut r = Reply {
        src,
        dst,
        proto,
        sport: 0,
        dport: 0,
        flags: 0,
        seq: 0,
        ack: 0,
        win: 0,
        wscale: None,
        typ: 0,
        id: 0,
        ip: ip[..(l4.as_ptr() as usize - ip.as_ptr() as usize) + l4.len()].to_vec(),
    };
    match proto {
        6 if l4.len() >= 20 => {
            r.sport = u16::from_be_bytes([l4[0], l4[1]]);
            r.dport = u16::from_be_bytes([l4[2], l4[3]]);
            r.seq = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]);
            r.ack = u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]);
            r.flags = l4[13];
            r.win = u16::from_be_bytes([l4[14], l4[15]]);
            let opts = l4
                .get(20..((l4[12] >> 4) as usize * 4).max(20))
                .unwrap_or(&[]);
            let mut i = 0;
            while i < opts.len() {
                match opts[i] {
                    0 => break,
                    1 => i += 1,
                    k => {
                        let n = opts.get(i + 1).map_or(0, |&n| n as usize);
                        if n < 2 {
                            break;
                        }
                        if k == 3 && n == 3 {
                            r.wscale = opts.get(i + 2).copied();
                        }
                        i += n;
                    }
                }
            }
        }
        17 if l4.len() >= 8 => {
            r.sport = u16::from_be_bytes([l4[0], l4[1]]);
            r.dport = u16::from_be_bytes([l4[2], l4[3]]);
        }
        1 | 58 if l4.len() >= 8 => {
            r.typ = l4[0];
            r.id = u16::from_be_bytes([l4[4], l4[5]]);
        }
        _ => return None,
    }
    Some(r)
}

// ---------------------------------------------------------------------------------------------
// The sender: an AF_PACKET socket on its veth end, and the traffic plan.

struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// Opens a packet socket bound to `ifname` in the calling thread's namespace.
    fn open(ifname: &str) -> PacketSocket {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket calls with valid arguments; the fd is owned right away.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as i32);
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let fd = OwnedFd::from_raw_fd(fd);
            let name = CString::new(ifname).unwrap();
            let idx = libc::if_nametoindex(name.as_ptr());
            assert!(idx > 0, "no interface {ifname}");
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = idx as i32;
            let r = libc::bind(
                fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(r, 0, "bind {ifname}: {}", std::io::Error::last_os_error());
            let size: libc::c_int = 8 << 20;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            );
            PacketSocket { fd }
        }
    }

    /// Sends a frame as is, past the sender's IP stack and its netfilter hooks.
    fn send(&self, frame: &[u8]) {
        // SAFETY: a valid buffer of the length given, on a bound packet socket.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        assert_eq!(
            n,
            frame.len() as isize,
            "packet socket send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The next frame within `timeout`, and whether it is one this host sent.
    fn recv(&self, timeout: Duration) -> Option<(Vec<u8>, bool)> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if r <= 0 {
                return None;
            }
            // SAFETY: valid buffer and address storage of the sizes given.
            let (n, kind) = unsafe {
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    &mut sll as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                    &mut len,
                );
                (n, sll.sll_pkttype)
            };
            if n > 0 {
                return Some((buf[..n as usize].to_vec(), kind == libc::PACKET_OUTGOING));
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }
}

/// Raw IP sockets (`IPPROTO_RAW`: the packet is sent as built, header included) through the
/// sender's own output path: its routing, connection tracking and output hook.
struct RawSockets {
    v4: OwnedFd,
    v6: OwnedFd,
}

impl RawSockets {
    fn open() -> RawSockets {
        let open = |domain| {
            // SAFETY: a plain socket call; the fd is owned right away.
            let fd = unsafe { libc::socket(domain, libc::SOCK_RAW, libc::IPPROTO_RAW) };
            assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
            // SAFETY: fd is a fresh, valid descriptor nobody else owns.
            unsafe { OwnedFd::from_raw_fd(fd) }
        };
        RawSockets {
            v4: open(libc::AF_INET),
            v6: open(libc::AF_INET6),
        }
    }

    /// Sends an IP packet; false when the output hook dropped it (EPERM).
    fn send(&self, dst: IpAddr, packet: &[u8]) -> bool {
        // SAFETY: zeroed sockaddr structs are valid; the buffers are valid for their lengths.
        let n = unsafe {
            match dst {
                IpAddr::V4(a) => {
                    let mut sa: libc::sockaddr_in = std::mem::zeroed();
                    sa.sin_family = libc::AF_INET as libc::sa_family_t;
                    sa.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
                    libc::sendto(
                        self.v4.as_raw_fd(),
                        packet.as_ptr() as *const libc::c_void,
                        packet.len(),
                        0,
                        &sa as *const libc::sockaddr_in as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_in>() as u32,
                    )
                }
                IpAddr::V6(a) => {
                    let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    sa.sin6_addr.s6_addr = a.octets();
                    libc::sendto(
                        self.v6.as_raw_fd(),
                        packet.as_ptr() as *const libc::c_void,
                        packet.len(),
                        0,
                        &sa as *const libc::sockaddr_in6 as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_in6>() as u32,
                    )
                }
            }
        };
        if n == packet.len() as isize {
            return true;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "sendto {dst}: {e}");
        false
    }
}

/// One frame the sender sent: its key (IP version, IPv4 id or IPv6 flow label), what it was,
/// whether its output hook let it go (sendto succeeded), and whether it left on the wire (the
/// packet socket saw it go out, unchanged).
#[derive(Clone, Debug)]
struct Sent {
    key: (bool, u32),
    desc: String,
    passed: bool,
    on_wire: bool,
    /// Sent through the packet socket, past the sender's own hooks: its conntrack never saw
    /// it (so a connection it opens is picked up there mid-stream), its output hook neither.
    bypass: bool,
    frame: Vec<u8>,
}

struct Sender {
    sock: PacketSocket,
    raw: RawSockets,
    echo: Echo,
    rng: Rng,
    next_key: u32,
    sent: Vec<Sent>,
    by_key: HashMap<(bool, u32), usize>,
    /// The sender's view, in order: what it sent (before its output hook) and what came back
    /// (before its input path): the simulator's input for the output hook.
    view: Vec<Vec<u8>>,
    /// Answers read since the last send, not yet claimed by a wait.
    pending: Vec<Reply>,
    /// Frames that left altered or unasked: problems for the report.
    odd: Vec<String>,
    used: HashSet<(u8, IpAddr, u16, IpAddr, u16)>,
    next_icmp_id: u16,
}

fn flag_names(f: u8) -> String {
    let names = ["F", "S", "R", "P", ".", "U", "E", "C"];
    let s: String = (0..8)
        .filter(|b| f & (1 << b) != 0)
        .map(|b| names[b])
        .collect();
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

impl Sender {
    fn key(&mut self) -> u32 {
        self.next_key += 1;
        assert!(
            self.next_key < 0xffff,
            "too many frames for unique IPv4 ids"
        );
        self.next_key
    }

    fn send(&mut self, src: IpAddr, dst: IpAddr, proto: u8, l4: Vec<u8>, desc: String) {
        let key = self.key();
        let f = ip_frame(src, dst, proto, l4, key);
        // What arrived since the last send comes first in the sender's view.
        self.drain();
        self.pending.clear();
        self.view.push(f.clone());
        self.by_key.insert((src.is_ipv6(), key), self.sent.len());
        self.sent.push(Sent {
            key: (src.is_ipv6(), key),
            desc: format!("{desc} (key {key})"),
            passed: false,
            on_wire: false,
            bypass: false,
            frame: f.clone(),
        });
        let passed = self.raw.send(dst, &f[14..]);
        self.sent.last_mut().unwrap().passed = passed;
        // The packet going out, and what the receiver answered at once.
        self.drain();
        // A breath now and then, so nothing queues up anywhere (NFLOG, tcpdump).
        if self.sent.len().is_multiple_of(64) {
            thread::sleep(Duration::from_millis(3));
        }
    }

    /// Sends a frame straight onto the wire through the packet socket (see `Sent::bypass`).
    fn inject(&mut self, src: IpAddr, dst: IpAddr, proto: u8, l4: Vec<u8>, desc: String) {
        let key = self.key();
        let f = ip_frame(src, dst, proto, l4, key);
        self.drain();
        self.pending.clear();
        self.by_key.insert((src.is_ipv6(), key), self.sent.len());
        self.sent.push(Sent {
            key: (src.is_ipv6(), key),
            desc: format!("{desc} (key {key}, injected)"),
            passed: true,
            on_wire: true,
            bypass: true,
            frame: f.clone(),
        });
        self.sock.send(&f);
        self.drain();
    }

    fn tcp(&mut self, t: &Tuple, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.tcp_with(t, (seq, ack), flags, (0xfaf0, &[]), payload, false);
    }

    /// A TCP segment with a window and options; `inject`: past the sender's own hooks.
    fn tcp_with(
        &mut self,
        t: &Tuple,
        (seq, ack): (u32, u32),
        flags: u8,
        (win, opts): (u16, &[u8]),
        payload: &[u8],
        inject: bool,
    ) {
        let desc = format!(
            "tcp {} → {} [{}] seq={seq} ack={ack} win={win}{} len={}",
            SocketAddr::new(t.src, t.sport),
            SocketAddr::new(t.dst, t.dport),
            flag_names(flags),
            if opts.is_empty() { "" } else { " +options" },
            payload.len()
        );
        let seg = tcp_seg_with(t.sport, t.dport, (seq, ack), flags, win, opts, payload);
        if inject {
            self.inject(t.src, t.dst, 6, seg, desc);
        } else {
            self.send(t.src, t.dst, 6, seg, desc);
        }
    }

    fn udp(&mut self, t: &Tuple, payload: &[u8]) {
        let desc = format!(
            "udp {} → {} len={}",
            SocketAddr::new(t.src, t.sport),
            SocketAddr::new(t.dst, t.dport),
            payload.len()
        );
        self.send(t.src, t.dst, 17, udp_dgram(t.sport, t.dport, payload), desc);
    }

    /// An ICMP or ICMPv6 message of `(type, code)`.
    fn icmp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        (typ, code): (u8, u8),
        rest: [u8; 4],
        body: &[u8],
        what: &str,
    ) {
        let v6 = src.is_ipv6();
        let desc = format!(
            "{} {src} → {dst} type {typ} code {code}{what}",
            if v6 { "icmpv6" } else { "icmp" }
        );
        let proto = if v6 { 58 } else { 1 };
        self.send(src, dst, proto, icmp_msg(typ, code, rest, body), desc);
    }

    /// Takes a frame from the packet socket: our own going out (checked against what was
    /// sent), or the receiver's, which joins the sender's view.
    fn take(&mut self, f: Vec<u8>, outgoing: bool) -> Option<Reply> {
        if outgoing {
            let key = (f.len() > 14).then(|| ip_key(&f[14..])).flatten();
            match key.and_then(|k| self.by_key.get(&k)) {
                Some(&i) if self.sent[i].bypass && self.sent[i].frame == f => {}
                Some(&i) if self.sent[i].frame == f && !self.sent[i].on_wire => {
                    self.sent[i].on_wire = true;
                }
                _ => self.odd.push(format!("the sender's kernel sent {f:02x?}")),
            }
            return None;
        }
        let r = parse_reply(&f);
        self.view.push(f);
        r
    }

    /// Reads whatever is there now.
    fn drain(&mut self) {
        while let Some((f, out)) = self.sock.recv(Duration::ZERO) {
            if let Some(r) = self.take(f, out) {
                self.pending.push(r);
            }
        }
    }

    /// Waits for the receiver's frame that `want` accepts (none when the last packet did not
    /// even leave).
    fn wait(&mut self, within: Duration, want: impl Fn(&Reply) -> bool) -> Option<Reply> {
        if let Some(i) = self.pending.iter().position(&want) {
            return Some(self.pending.remove(i));
        }
        if !self.sent.last().is_some_and(|s| s.passed) {
            return None;
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (f, out) = self.sock.recv(left)?;
            if let Some(r) = self.take(f, out) {
                if want(&r) {
                    return Some(r);
                }
            }
        }
    }

    fn src(&mut self, v6: bool) -> IpAddr {
        if self.rng.chance(0.1) {
            host(v6, 1)
        } else {
            host(v6, self.rng.range(SND_FIRST as u64, SND_LAST as u64) as u8)
        }
    }

    fn dst(&mut self, v6: bool) -> IpAddr {
        host(v6, *self.rng.pick(&RCV_HOSTS))
    }

    fn sport(&mut self) -> u16 {
        match self.rng.weighted(&[50, 20, 15, 15]) {
            0 => self.rng.range(32768, 60999) as u16,
            1 => self.rng.range(1024, 2000) as u16,
            2 => *self.rng.pick(&[53u16, 123, 22, 80, 1000]),
            _ => self.rng.range(2001, 32767) as u16,
        }
    }

    /// A 5-tuple not used before in this run.
    fn tuple(&mut self, v6: bool, proto: u8, dport: u16) -> Tuple {
        for _ in 0..1000 {
            let t = Tuple {
                src: self.src(v6),
                dst: self.dst(v6),
                sport: self.sport(),
                dport,
            };
            if self.used.insert((proto, t.src, t.sport, t.dst, t.dport)) {
                return t;
            }
        }
        panic!("no fresh tuple");
    }

    fn icmp_id(&mut self) -> u16 {
        self.next_icmp_id = self.next_icmp_id.wrapping_add(1);
        self.next_icmp_id
    }

    fn v6(&mut self) -> bool {
        self.rng.chance(0.25)
    }

    // --- scenarios -------------------------------------------------------------------------

    /// A connection attempt: a handshake with data and a FIN or RST end when the receiver
    /// answers; retries, stray ACKs or nothing when it resets or stays silent.
    fn tcp_connection(&mut self) {
        let v6 = self.v6();
        let listening = self.rng.chance(0.75);
        let dport = if listening {
            *self.rng.pick(&TCP_LISTEN)
        } else {
            *self.rng.pick(&TCP_CLOSED)
        };
        let t = self.tuple(v6, 6, dport);
        let isn = self.rng.next() as u32;
        let syn = *self.rng.pick(&[
            TCP_SYN,
            TCP_SYN,
            TCP_SYN,
            TCP_SYN,
            TCP_SYN | TCP_ECE | TCP_CWR,
            TCP_SYN | TCP_PSH,
        ]);
        self.tcp(&t, isn, 0, syn, &[]);
        let reply = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t));
        match reply {
            Some(r) if r.flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK => {
                let mut seq = isn.wrapping_add(1);
                let ack = r.seq.wrapping_add(1);
                self.tcp(&t, seq, ack, TCP_ACK, &[]);
                for _ in 0..self.rng.below(3) {
                    let n = self.rng.range(1, 200) as usize;
                    let data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                    let fl = if self.rng.chance(0.8) {
                        TCP_PSH | TCP_ACK
                    } else {
                        TCP_ACK | TCP_URG
                    };
                    self.tcp(&t, seq, ack, fl, &data);
                    seq = seq.wrapping_add(n as u32);
                }
                match self.rng.below(5) {
                    0 | 1 => self.tcp(&t, seq, ack, TCP_FIN | TCP_ACK, &[]),
                    2 => self.tcp(&t, seq, ack, TCP_RST | TCP_ACK, &[]),
                    3 => self.tcp(&t, seq, 0, TCP_RST, &[]),
                    _ => {}
                }
                if self.rng.chance(0.3) {
                    self.icmp_error_about(&r, true);
                }
            }
            Some(r) if r.flags & TCP_RST != 0 => match self.rng.below(4) {
                0 => self.tcp(&t, isn, 0, TCP_SYN, &[]),
                1 => self.tcp(&t, isn.wrapping_add(1), r.seq, TCP_ACK, &[]),
                2 => self.icmp_error_about(&r, true),
                _ => {}
            },
            // No answer: the SYN was dropped (a stray ACK after it is odd_tcp's business).
            _ => {}
        }
    }

    /// A connection whose window the kernel's tracker checks: a handshake (with or without
    /// window scale and SACK-permitted; the receiver offers scaling back only in some runs),
    /// data each waited for its ACK, then segments crafted around the window — ACKs of data
    /// never sent or from long ago, data past the window or far behind it, retransmissions,
    /// RSTs and FINs out of window or not quite where expected, a SYN inside the connection,
    /// data after a gap (answered with SACK), window updates — and an end, sometimes followed
    /// by a SYN on the same ports. `pickup`: the SYN goes out past the sender's own hooks, so
    /// its conntrack picks the connection up from the first ACK (loose tracking), while the
    /// receiver's tracks it from the start.
    fn tcp_window_probe(&mut self, pickup: bool) {
        let v6 = self.v6();
        let dport = *self.rng.pick(&TCP_LISTEN);
        let t = self.tuple(v6, 6, dport);
        let isn = self.rng.next() as u32;
        let (sack_perm, wscale) = match self.rng.below(4) {
            0 => (false, None),
            1 => (true, None),
            2 => (true, Some(*self.rng.pick(&[0u8, 2, 7, 14, 15]))),
            _ => (false, Some(self.rng.range(1, 9) as u8)),
        };
        let opts = syn_options(sack_perm, wscale);
        let win: u16 = *self.rng.pick(&[64240, 65535, 29200, 1024]);
        self.tcp_with(&t, (isn, 0), TCP_SYN, (win, &opts), &[], pickup);
        let Some(sa) = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t)) else {
            return;
        };
        if sa.flags & (TCP_SYN | TCP_ACK | TCP_RST) != TCP_SYN | TCP_ACK {
            return;
        }
        let their_scale = match (wscale, sa.wscale) {
            (Some(_), Some(ws)) => ws.min(14) as u32,
            _ => 0,
        };
        let mut snd = isn.wrapping_add(1);
        let rcv = sa.seq.wrapping_add(1);
        let mut peer_win = sa.win as u32;
        self.tcp(&t, snd, rcv, TCP_ACK, &[]);
        let mut last_data: Option<(u32, Vec<u8>)> = None;
        for _ in 0..self.rng.range(1, 3) {
            let n = self.rng.range(1, 1200) as usize;
            let data: Vec<u8> = (0..n).map(|i| b'A' + (i % 26) as u8).collect();
            self.tcp_with(&t, (snd, rcv), TCP_PSH | TCP_ACK, (win, &[]), &data, false);
            last_data = Some((snd, data));
            snd = snd.wrapping_add(n as u32);
            let end = snd;
            if let Some(r) = self.wait(Duration::from_millis(60), |r| {
                r.proto == 6 && r.is_reply_to(&t) && r.ack == end
            }) {
                peer_win = (r.win as u32) << their_scale;
            }
        }
        let mut closed = false;
        for _ in 0..self.rng.range(1, 4) {
            let (mut seq, mut ack, mut flags, mut len, mut w) = (snd, rcv, TCP_ACK, 0usize, win);
            match self.rng.below(11) {
                // An ACK of data never sent.
                0 => ack = rcv.wrapping_add(*self.rng.pick(&[1, 1000, 70_000, 0x8000_0000])),
                // An ACK from long ago.
                1 => ack = rcv.wrapping_sub(*self.rng.pick(&[70_000, 200_000, 0x4000_0000])),
                // Data at or past the right edge of the receiver's window.
                2 => {
                    let past = *self.rng.pick(&[0, 1, 100, 5000, 70_000, 1_000_000]);
                    seq = snd.wrapping_add(peer_win).wrapping_add(past);
                    (flags, len) = (TCP_PSH | TCP_ACK, 10);
                }
                // Data behind what was sent: a little, or more than a window.
                3 => {
                    let back = *self.rng.pick(&[10, 1000, 70_010, 200_000, 0x7fff_fff0]);
                    seq = snd.wrapping_sub(back);
                    (flags, len) = (TCP_PSH | TCP_ACK, 10);
                }
                // A retransmission of the last data.
                4 => {
                    if let Some((at, d)) = last_data.clone() {
                        self.tcp_with(&t, (at, rcv), TCP_PSH | TCP_ACK, (win, &[]), &d, false);
                        let _ = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t));
                        continue;
                    }
                }
                // An RST out of window, ahead or behind.
                5 => {
                    seq = if self.rng.chance(0.5) {
                        let ahead = *self.rng.pick(&[1000, 200_000, 0x4000_0000]);
                        snd.wrapping_add(peer_win).wrapping_add(ahead)
                    } else {
                        snd.wrapping_sub(*self.rng.pick(&[1, 1000, 70_000]))
                    };
                    flags = if self.rng.chance(0.5) {
                        TCP_RST
                    } else {
                        TCP_RST | TCP_ACK
                    };
                    w = 0;
                }
                // An RST in window but not at the expected sequence.
                6 => {
                    seq = snd.wrapping_add(self.rng.range(1, 1000) as u32);
                    (flags, w) = (TCP_RST, 0);
                }
                // A SYN inside the connection.
                7 => (seq, ack, flags) = (self.rng.next() as u32, 0, TCP_SYN),
                // A FIN past the window.
                8 => {
                    let past = *self.rng.pick(&[1, 100_000]);
                    seq = snd.wrapping_add(peer_win).wrapping_add(past);
                    flags = TCP_FIN | TCP_ACK;
                }
                // Data after a gap: out of order, answered with a SACK when permitted.
                9 => {
                    seq = snd.wrapping_add(self.rng.range(1, 2000) as u32);
                    (flags, len) = (TCP_PSH | TCP_ACK, 10);
                }
                // A window update.
                _ => w = self.rng.range(0, 65535) as u16,
            }
            self.tcp_with(&t, (seq, ack), flags, (w, &[]), &vec![b'w'; len], false);
            if flags & TCP_RST != 0 {
                let _ = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t));
                continue;
            }
            if let Some(r) = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t)) {
                if r.flags & TCP_RST != 0 {
                    closed = true;
                } else if r.flags & TCP_SYN == 0 {
                    peer_win = (r.win as u32) << their_scale;
                }
            }
        }
        match self.rng.below(4) {
            0 => self.tcp(&t, snd, rcv, TCP_FIN | TCP_ACK, &[]),
            1 => self.tcp(&t, snd, 0, TCP_RST, &[]),
            2 => self.tcp(&t, snd, rcv, TCP_RST | TCP_ACK, &[]),
            _ => {}
        }
        let _ = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t));
        if !closed && self.rng.chance(0.3) {
            // The same ports again: a new connection after an abort or a close, or a SYN the
            // tracker lets through for the receiver to judge.
            let isn2 = self.rng.next() as u32;
            self.tcp_with(&t, (isn2, 0), TCP_SYN, (win, &opts), &[], false);
            let _ = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t));
        }
    }

    /// One or two segments with any mix of flags on a fresh tuple. Any mix only where no flow is
    /// known at either end (the first segment started none, the sender's output dropped it, or
    /// the receiver ended it with an RST, which ends a flow that had only that answer); on a
    /// known flow only mixes the tracker refuses outright: within a live connection the
    /// kernel's TCP state machine and window checks judge the rest, which the simulator does not
    /// model.
    fn odd_tcp(&mut self) {
        let v6 = self.v6();
        let dport = match self.rng.below(3) {
            0 => *self.rng.pick(&TCP_LISTEN),
            1 => *self.rng.pick(&TCP_CLOSED),
            _ => self.rng.range(1, 65535) as u16,
        };
        let t = self.tuple(v6, 6, dport);
        let n = if self.rng.chance(0.35) { 2 } else { 1 };
        // Whether the sender's own conntrack now knows this flow (its first segment passed the
        // sender's output hook and the receiver did not end it with an RST).
        let mut known = false;
        for _ in 0..n {
            let flags = if known {
                // On a known flow only combinations the tracker refuses outright.
                let mut f = TCP_SYN | TCP_FIN;
                for _ in 0..64 {
                    let x = self.rng.next() as u8;
                    if !valid_tcp_flags(x) {
                        f = x;
                        break;
                    }
                }
                f
            } else if self.rng.chance(0.5) {
                self.rng.next() as u8
            } else {
                // The bits conntrack looks at, with the ones it ignores now and then.
                let core = *self.rng.pick(&[
                    TCP_SYN,
                    TCP_ACK,
                    TCP_SYN | TCP_ACK,
                    TCP_RST,
                    TCP_RST | TCP_ACK,
                    TCP_FIN,
                    TCP_FIN | TCP_ACK,
                    TCP_SYN | TCP_FIN,
                    TCP_SYN | TCP_RST,
                    0,
                ]);
                let extra = if self.rng.chance(0.4) {
                    *self
                        .rng
                        .pick(&[TCP_PSH, TCP_URG, TCP_ECE, TCP_CWR, TCP_ECE | TCP_CWR])
                } else {
                    0
                };
                core | extra
            };
            let seq = self.rng.next() as u32;
            let ack = if flags & TCP_ACK != 0 {
                self.rng.next() as u32
            } else {
                0
            };
            let len = if self.rng.chance(0.2) { 10 } else { 0 };
            self.tcp(&t, seq, ack, flags, &vec![b'x'; len]);
            if flags & TCP_RST != 0 {
                // Nothing answers an RST, and it starts no flow.
                continue;
            }
            let reply = self.wait(KERNEL_REPLY, |r| r.proto == 6 && r.is_reply_to(&t));
            if reply.as_ref().is_some_and(|r| r.flags & TCP_RST == 0) {
                break;
            }
            let core = flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK);
            let passed = self.sent.last().is_some_and(|s| s.passed);
            if passed && valid_tcp_flags(flags) && (core == TCP_SYN || core == TCP_ACK) {
                known = reply.is_none();
            }
        }
    }

    /// Datagrams to an echo port (each answered before the next) or to a closed one.
    fn udp_flow(&mut self) {
        let v6 = self.v6();
        let echo = self.rng.chance(0.6);
        let dport = if echo {
            *self.rng.pick(&UDP_ECHO)
        } else {
            *self.rng.pick(&UDP_CLOSED)
        };
        let t = self.tuple(v6, 17, dport);
        let mut last = None;
        for _ in 0..self.rng.range(1, 3) {
            let n = self.rng.range(0, 120) as usize;
            self.udp(&t, &vec![b'u'; n]);
            if echo {
                self.echo.settle();
                if let Some(r) = self.wait(KERNEL_REPLY, |r| r.proto == 17 && r.is_reply_to(&t)) {
                    last = Some(r);
                }
            }
        }
        if let Some(r) = last {
            if self.rng.chance(0.35) {
                self.icmp_error_about(&r, true);
            }
        }
    }

    /// Echo requests with one id, each answered before the next.
    fn ping(&mut self) {
        let v6 = self.v6();
        let (src, dst) = (self.src(v6), self.dst(v6));
        let id = self.icmp_id();
        let (req, rep) = if v6 { (128, 129) } else { (8, 0) };
        let mut last = None;
        for seq in 1..=self.rng.range(1, 3) as u16 {
            let [a, b] = id.to_be_bytes();
            let [c, d] = seq.to_be_bytes();
            self.icmp(src, dst, (req, 0), [a, b, c, d], &[0x42; 24], "");
            if let Some(r) = self.wait(KERNEL_REPLY, |r| {
                r.src == dst && r.dst == src && r.typ == rep && r.id == id
            }) {
                last = Some(r);
            }
        }
        if let Some(r) = last {
            if self.rng.chance(0.25) {
                self.icmp_error_about(&r, true);
            }
        }
    }

    /// ICMP requests conntrack tracks besides echo (timestamp, info, address mask), twice with
    /// one id: the receiver answers timestamps only.
    fn icmp_query_pair(&mut self) {
        let (src, dst) = (self.src(false), self.dst(false));
        let typ = *self.rng.pick(&[13u8, 13, 15, 17]);
        let id = self.icmp_id();
        let body: &[u8] = if typ == 13 { &[0; 12] } else { &[0; 4] };
        for seq in 1..=2u16 {
            let [a, b] = id.to_be_bytes();
            let [c, d] = seq.to_be_bytes();
            self.icmp(src, dst, (typ, 0), [a, b, c, d], body, "");
            let _ = self.wait(KERNEL_REPLY, |r| {
                r.src == dst && r.dst == src && r.typ == typ + 1 && r.id == id
            });
        }
    }

    /// An ICMP or ICMPv6 message of some type no flow is known for: replies without requests,
    /// errors about nothing, neighbour discovery, types conntrack does not know.
    fn odd_icmp(&mut self) {
        let v6 = self.v6();
        let (src, dst) = (self.src(v6), self.dst(v6));
        let typ = if v6 {
            *self.rng.pick(&[
                1u8, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 139, 140, 143, 200,
            ])
        } else {
            *self.rng.pick(&[
                0u8, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30, 42, 77,
            ])
        };
        let is_err = if v6 {
            typ < 128
        } else {
            matches!(typ, 3 | 4 | 11 | 12)
        };
        if is_err {
            // About a flow nobody started: made-up ports between two sender-side addresses.
            let fake = Tuple {
                src: dst,
                dst: self.src(v6),
                sport: self.rng.range(1024, 65535) as u16,
                dport: self.rng.range(1, 65535) as u16,
            };
            let inner = if self.rng.chance(0.5) {
                udp_dgram(fake.sport, fake.dport, b"zz")
            } else {
                tcp_seg(fake.sport, fake.dport, 1, 0, TCP_SYN, &[])
            };
            let proto = if inner.len() == 10 { 17 } else { 6 };
            let q = ip_frame(fake.src, fake.dst, proto, inner, 0)[14..].to_vec();
            let code = if typ == 3 { *self.rng.pick(&[1, 3]) } else { 0 };
            self.icmp(src, dst, (typ, code), [0; 4], &q, " about an unknown flow");
        } else {
            let id = self.icmp_id();
            let [a, b] = id.to_be_bytes();
            self.icmp(src, dst, (typ, 0), [a, b, 0, 1], &[0; 16], "");
            if !matches!(typ, 8 | 13 | 128) {
                // The receiver answers echo and timestamp requests only.
                return;
            }
            let _ = self.wait(KERNEL_REPLY, |r| {
                r.src == dst && r.dst == src && r.proto != 6 && r.proto != 17
            });
        }
    }

    /// An ICMP error about a packet the receiver sent (`right_way`: to the receiver, so the
    /// quoted packet is its own) — or, the other way round, about one the sender sent.
    fn icmp_error_about(&mut self, r: &Reply, right_way: bool) {
        let v6 = r.src.is_ipv6();
        let right_way = right_way && self.rng.chance(0.8);
        let quoted = if right_way {
            r.ip.clone()
        } else {
            // The sender's side of the same flow, as if the receiver had quoted it to itself.
            let l4 = match r.proto {
                6 => tcp_seg(r.dport, r.sport, 1, 0, TCP_ACK, &[]),
                17 => udp_dgram(r.dport, r.sport, b"q"),
                _ => icmp_msg(if v6 { 128 } else { 8 }, 0, [0, 1, 0, 1], &[]),
            };
            ip_frame(r.dst, r.src, r.proto, l4, 0)[14..].to_vec()
        };
        let hdr = if v6 {
            40
        } else {
            (quoted[0] & 15) as usize * 4
        };
        let keep = if self.rng.chance(0.5) {
            (hdr + 8).min(quoted.len())
        } else {
            quoted.len().min(400)
        };
        let (typ, code) = match (v6, self.rng.below(3)) {
            (false, 0) => (3, 3),
            (false, 1) => (3, 1),
            (false, _) => (11, 0),
            (true, 0) => (1, 4),
            (true, 1) => (1, 3),
            (true, _) => (3, 0),
        };
        // From the peer the quoted packet went to, or from some other sender-side address (a
        // router on the way).
        let from = if self.rng.chance(0.7) {
            r.dst
        } else {
            self.src(v6)
        };
        let what = if right_way {
            " about the receiver's reply"
        } else {
            " about the sender's own packet"
        };
        self.icmp(from, r.src, (typ, code), [0; 4], &quoted[..keep], what);
    }

    /// Runs scenarios until at least `n` frames went out on the wire (so the sender's output
    /// hook met at least that many, and the receiver's input hook too).
    fn run(&mut self, n: usize) {
        while self.sent.iter().filter(|s| s.on_wire).count() < n {
            assert!(
                self.sent.len() < 20 * n,
                "the sender's output ruleset lets too little through"
            );
            match self.rng.weighted(&[30, 18, 18, 12, 5, 12, 16, 5]) {
                0 => self.tcp_connection(),
                1 => self.odd_tcp(),
                2 => self.udp_flow(),
                3 => self.ping(),
                4 => self.icmp_query_pair(),
                5 => self.odd_icmp(),
                6 => self.tcp_window_probe(false),
                _ => self.tcp_window_probe(true),
            }
        }
        // Late replies (delayed ACKs) land in the capture before it stops.
        thread::sleep(Duration::from_millis(60));
        self.drain();
    }
}

/// The flag mixes the kernel's TCP tracker accepts at all (`tcp_valid_flags`, PSH/ECE/CWR
/// aside); any other is invalid on any flow, known or not.
fn valid_tcp_flags(f: u8) -> bool {
    let core = f & (TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK | TCP_URG);
    [
        TCP_SYN,
        TCP_SYN | TCP_URG,
        TCP_SYN | TCP_ACK,
        TCP_RST,
        TCP_RST | TCP_ACK,
        TCP_FIN | TCP_ACK,
        TCP_FIN | TCP_ACK | TCP_URG,
        TCP_ACK,
        TCP_ACK | TCP_URG,
    ]
    .contains(&core)
}

#[derive(Clone, Copy, Debug)]
struct Tuple {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
}

impl Reply {
    fn is_reply_to(&self, t: &Tuple) -> bool {
        self.src == t.dst && self.dst == t.src && self.sport == t.dport && self.dport == t.sport
    }
}

// ---------------------------------------------------------------------------------------------
// Rulesets: generated in packetlab's nft subset, with a counter on every rule.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verd {
    None,
    Accept,
    Drop,
    Reject,
    Jump,
    Goto,
    Return,
}

#[derive(Clone, Debug)]
struct GenRule {
    table: usize,
    line: u32,
    verdict: Verd,
    text: String,
}

#[derive(Clone, Debug)]
struct GenChain {
    name: String,
    /// Priority and whether the policy is drop.
    base: Option<(i32, bool)>,
    rules: Vec<usize>,
}

#[derive(Clone, Debug)]
struct GenTable {
    inet: bool,
    name: String,
    sets: Vec<String>,
    chains: Vec<GenChain>,
}

impl GenTable {
    fn family(&self) -> &'static str {
        if self.inet {
            "inet"
        } else {
            "ip"
        }
    }
}

struct GenRuleset {
    /// The hook of its base chains: `input` (the receiver's) or `output` (the sender's).
    hook: &'static str,
    tables: Vec<GenTable>,
    rules: Vec<GenRule>,
    text: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Any,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

fn eq_or_ne(rng: &mut Rng, p_ne: f64) -> &'static str {
    if rng.chance(p_ne) {
        "!= "
    } else {
        ""
    }
}

/// Source addresses: the sender's hosts are 1 and 0x10..=0x2f, in four blocks of eight.
fn src_value(rng: &mut Rng, v6: bool, set_name: Option<&str>) -> String {
    let a = |h: u8| host(v6, h).to_string();
    let block_prefix = |b: u8| format!("{}/{}", a(SND_FIRST + 8 * b), if v6 { 125 } else { 29 });
    match rng.below(8) {
        0 => a(rng.range(SND_FIRST as u64, SND_LAST as u64) as u8),
        1 => block_prefix(rng.below(4) as u8),
        2 | 7 => format!(
            "{}/{}",
            a(SND_FIRST + 16 * rng.below(2) as u8),
            if v6 { 124 } else { 28 }
        ),
        3 => {
            let lo = rng.range(SND_FIRST as u64, SND_LAST as u64 - 4) as u8;
            let hi = lo + rng.range(1, 12).min((SND_LAST - lo) as u64) as u8;
            format!("{}-{}", a(lo), a(hi))
        }
        4 if set_name.is_some() => format!("@{}", set_name.unwrap()),
        4 => a(1),
        _ => {
            // Disjoint elements: each from its own block.
            let mut blocks = [0u8, 1, 2, 3];
            let k = rng.range(2, 3) as usize;
            for i in 0..4 {
                let j = rng.range(i as u64, 3) as usize;
                blocks.swap(i, j);
            }
            let mut els: Vec<String> = blocks[..k]
                .iter()
                .map(|&b| {
                    let base = SND_FIRST + 8 * b;
                    match rng.below(3) {
                        0 => block_prefix(b),
                        1 => a(base + rng.below(8) as u8),
                        _ => format!("{}-{}", a(base + 1), a(base + 5)),
                    }
                })
                .collect();
            if rng.chance(0.3) {
                els.push(a(1));
            }
            format!("{{ {} }}", els.join(", "))
        }
    }
}

fn set_elements(rng: &mut Rng, v6: bool) -> String {
    let a = |h: u8| host(v6, h).to_string();
    let b = rng.below(4) as u8;
    let base = SND_FIRST + 8 * b;
    let other = SND_FIRST + 8 * ((b + 1 + rng.below(3) as u8) % 4);
    format!(
        "{}/{}, {}, {}-{}",
        a(base),
        if v6 { 125 } else { 29 },
        a(other),
        a(other + 2),
        a(other + 6)
    )
}

fn dst_value(rng: &mut Rng, v6: bool) -> String {
    let a = |h: u8| host(v6, h).to_string();
    match rng.below(5) {
        0 | 1 => a(*rng.pick(&RCV_HOSTS)),
        2 => format!("{}/{}", a(4), if v6 { 127 } else { 31 }),
        3 => format!("{}-{}", a(2), a(rng.range(3, 5) as u8)),
        _ => format!("{{ {}, {} }}", a(3), a(6)),
    }
}

fn port_value(rng: &mut Rng, ctx: Ctx, dst: bool, set_name: Option<&str>) -> String {
    if !dst {
        return match rng.below(6) {
            0 => "32768-60999".into(),
            1 => "1024-2000".into(),
            2 => "0-1023".into(),
            3 => "{ 53, 123 }".into(),
            4 => "53".into(),
            _ => "{ 22, 80, 2001-32767 }".into(),
        };
    }
    let pool: Vec<u16> = match ctx {
        Ctx::Udp => UDP_ECHO.iter().chain(&UDP_CLOSED).copied().collect(),
        _ => TCP_LISTEN.iter().chain(&TCP_CLOSED).copied().collect(),
    };
    match rng.below(6) {
        0 | 1 => rng.pick(&pool).to_string(),
        2 => rng
            .pick(&[
                "20-30",
                "70-100",
                "400-500",
                "1000-1100",
                "1024-65535",
                "3000-9000",
                "0-1023",
            ])
            .to_string(),
        3 if set_name.is_some() => format!("@{}", set_name.unwrap()),
        _ => {
            let mut v: Vec<u16> = Vec::new();
            for _ in 0..rng.range(2, 3) {
                let p = *rng.pick(&pool);
                if !v.contains(&p) {
                    v.push(p);
                }
            }
            let mut s: Vec<String> = v.iter().map(|p| p.to_string()).collect();
            if rng.chance(0.3) && !v.iter().any(|p| (1000..=1100).contains(p)) {
                s.push("1000-1099".into());
            }
            format!("{{ {} }}", s.join(", "))
        }
    }
}

const TCP_FLAG_FORMS: [&str; 12] = [
    "tcp flags syn",
    "tcp flags syn,ack",
    "tcp flags & (syn|ack) == syn",
    "tcp flags & (syn|ack) == syn|ack",
    "tcp flags & (fin|syn|rst|ack) == ack",
    "tcp flags & (fin|syn|rst|ack) != syn",
    "tcp flags { syn, ack }",
    "tcp flags != syn",
    "tcp flags == syn",
    "tcp flags rst",
    "tcp flags & (fin|rst) != 0",
    "tcp flags != syn,ack",
];

const CT_FORMS: [&str; 10] = [
    "ct state new",
    "ct state established,related",
    "ct state { new, invalid }",
    "ct state != established",
    "ct state invalid",
    "ct state related",
    "ct state established",
    "ct state untracked",
    "ct state != established,related",
    "ct state == new",
];

/// One rule: its text (matches, `counter`, verdict) and its verdict kind.
fn gen_rule(
    rng: &mut Rng,
    output: bool,
    inet: bool,
    sets: &[(String, bool, bool)],
    user: bool,
    targets: &[String],
) -> (String, Verd) {
    let ctx = match rng.weighted(&[25, 30, 20, 15, if inet { 10 } else { 0 }]) {
        0 => Ctx::Any,
        1 => Ctx::Tcp,
        2 => Ctx::Udp,
        3 => Ctx::Icmp,
        _ => Ctx::Icmpv6,
    };
    // The address family of address matches: v4, v6 or none.
    let af6 = match ctx {
        Ctx::Icmp => Some(false),
        Ctx::Icmpv6 => Some(true),
        _ if !inet => Some(false),
        _ => {
            if rng.chance(0.3) {
                Some(true)
            } else {
                Some(false)
            }
        }
    };
    let addr_set = |v6: bool| {
        sets.iter()
            .find(|(_, is_addr, s6)| *is_addr && *s6 == v6)
            .map(|(n, _, _)| n.as_str())
    };
    let port_set = sets
        .iter()
        .find(|(_, is_addr, _)| !is_addr)
        .map(|(n, _, _)| n.as_str());
    let mut m: Vec<String> = Vec::new();
    let fam = |v6: bool| if v6 { "ip6" } else { "ip" };
    if let Some(v6) = af6 {
        if rng.chance(0.3) {
            m.push(format!(
                "{} saddr {}{}",
                fam(v6),
                eq_or_ne(rng, 0.2),
                src_value(rng, v6, addr_set(v6))
            ));
        }
        if rng.chance(0.15) {
            m.push(format!(
                "{} daddr {}{}",
                fam(v6),
                eq_or_ne(rng, 0.2),
                dst_value(rng, v6)
            ));
        }
    }
    match ctx {
        Ctx::Tcp | Ctx::Udp => {
            let l4 = if ctx == Ctx::Tcp { "tcp" } else { "udp" };
            let mut any = false;
            if rng.chance(0.6) {
                m.push(format!(
                    "{l4} dport {}{}",
                    eq_or_ne(rng, 0.15),
                    port_value(rng, ctx, true, port_set)
                ));
                any = true;
            }
            if rng.chance(0.25) {
                m.push(format!(
                    "{l4} sport {}{}",
                    eq_or_ne(rng, 0.15),
                    port_value(rng, ctx, false, None)
                ));
                any = true;
            }
            if ctx == Ctx::Tcp && rng.chance(0.3) {
                m.push(rng.pick(&TCP_FLAG_FORMS).to_string());
                any = true;
            }
            if !any {
                m.push(match rng.below(3) {
                    0 if af6 == Some(false) => format!("ip protocol {}{l4}", eq_or_ne(rng, 0.2)),
                    _ => format!("meta l4proto {}{l4}", eq_or_ne(rng, 0.2)),
                });
            }
        }
        Ctx::Icmp => m.push(match rng.below(4) {
            0 => format!("icmp type {}echo-request", eq_or_ne(rng, 0.3)),
            1 => "icmp type { echo-request, timestamp-request, info-request }".into(),
            2 => format!(
                "icmp type {}",
                rng.pick(&[
                    "echo-reply",
                    "destination-unreachable",
                    "time-exceeded",
                    "address-mask-request",
                    "parameter-problem",
                    "timestamp-reply",
                ])
            ),
            _ => format!("meta l4proto {}icmp", eq_or_ne(rng, 0.2)),
        }),
        Ctx::Icmpv6 => m.push(match rng.below(4) {
            0 => format!("icmpv6 type {}echo-request", eq_or_ne(rng, 0.3)),
            1 => "icmpv6 type { nd-neighbor-solicit, mld-listener-query, nd-redirect }".into(),
            2 => format!(
                "icmpv6 type {}",
                rng.pick(&[
                    "echo-reply",
                    "destination-unreachable",
                    "time-exceeded",
                    "parameter-problem"
                ])
            ),
            _ => "meta l4proto ipv6-icmp".into(),
        }),
        Ctx::Any => {
            if rng.chance(0.3) {
                m.push(format!(
                    "meta l4proto {{ tcp, udp }} th dport {}{}",
                    eq_or_ne(rng, 0.2),
                    port_value(rng, Ctx::Tcp, true, None)
                ));
            } else if rng.chance(0.3) {
                m.push(format!(
                    "meta l4proto {}{}",
                    eq_or_ne(rng, 0.3),
                    rng.pick(&["tcp", "udp", "icmp", "{ icmp, ipv6-icmp }", "{ tcp, udp }"])
                ));
            }
        }
    }
    if rng.chance(0.25) {
        m.push(rng.pick(&CT_FORMS).to_string());
    }
    let w_jump = if targets.is_empty() { 0 } else { 22 };
    let w_goto = if targets.is_empty() { 0 } else { 8 };
    let w_ret = if user { 10 } else { 0 };
    // No reject on output: its answer would go to the sender's own (absent) address, through
    // its output hook again, and the packet would be dropped there all the same. Fewer drops
    // there too: the receiver is to see most of the traffic.
    let w_reject = if output { 0 } else { 10 };
    let w_drop = if output { 7 } else { 14 };
    let verdict = match rng.weighted(&[14, 22, w_drop, w_reject, w_jump, w_goto, w_ret]) {
        0 => Verd::None,
        1 => Verd::Accept,
        2 => Verd::Drop,
        3 => Verd::Reject,
        4 => Verd::Jump,
        5 => Verd::Goto,
        _ => Verd::Return,
    };
    // Broad drops would leave the later rules nothing: a drop gets a narrow match (an
    // address, a port, an ICMP type or TCP flags) when it has none.
    let narrow = m.iter().any(|x| {
        ["saddr", "daddr", "port", "type", "flags"]
            .iter()
            .any(|k| x.contains(k))
    });
    if !narrow && matches!(verdict, Verd::Drop | Verd::Reject) {
        let v6 = af6.unwrap_or(false);
        m.insert(
            0,
            format!("{} saddr {}", fam(v6), src_value(rng, v6, addr_set(v6))),
        );
    }
    let vtext = match verdict {
        Verd::None => String::new(),
        Verd::Accept => " accept".into(),
        Verd::Drop => " drop".into(),
        Verd::Reject => {
            let mut forms = vec!["reject"];
            if inet {
                forms.push("reject with icmpx type port-unreachable");
                forms.push("reject with icmpx type admin-prohibited");
            }
            if af6 == Some(false) && (!inet || ctx == Ctx::Icmp || rng.chance(0.5)) {
                forms.push("reject with icmp type host-unreachable");
            }
            if af6 == Some(true) && inet {
                forms.push("reject with icmpv6 type admin-prohibited");
            }
            // nft refuses a TCP reset where the rule names another protocol; where it names
            // none, it adds `meta l4proto tcp` itself.
            if ctx == Ctx::Tcp || (ctx == Ctx::Any && !m.iter().any(|x| x.contains("l4proto"))) {
                forms.push("reject with tcp reset");
            }
            format!(" {}", rng.pick(&forms))
        }
        Verd::Jump => format!(" jump {}", rng.pick(targets)),
        Verd::Goto => format!(" goto {}", rng.pick(targets)),
        Verd::Return => " return".into(),
    };
    let mut text = m.join(" ");
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str("counter");
    text.push_str(&vtext);
    (text, verdict)
}

fn gen_ruleset(rng: &mut Rng, k: usize, hook: &'static str) -> GenRuleset {
    let output = hook == "output";
    let ntables = if rng.chance(0.7) { 2 } else { 1 };
    let mut prios: Vec<i32> = Vec::new();
    let choices: &[i32] = if output {
        &[-150, -10, 0, 10, 50, 100, 200, 300]
    } else {
        &[-300, -150, -10, 0, 10, 50, 100, 200, 300]
    };
    while prios.len() < ntables {
        let p = *rng.pick(choices);
        if !prios.contains(&p) {
            prios.push(p);
        }
    }
    let mut tables = Vec::new();
    let mut rules = Vec::new();
    for (ti, prio) in prios.into_iter().enumerate() {
        let inet = rng.chance(if k % 5 == 4 { 0.0 } else { 0.7 });
        let mut sets_meta = Vec::new();
        let mut sets = Vec::new();
        if rng.chance(0.4) {
            let v6 = inet && rng.chance(0.3);
            sets.push(format!(
                "    set srcs {{\n        type {}\n        flags interval\n        elements = {{ {} }}\n    }}\n",
                if v6 { "ipv6_addr" } else { "ipv4_addr" },
                set_elements(rng, v6)
            ));
            sets_meta.push(("srcs".to_string(), true, v6));
        }
        if rng.chance(0.3) {
            sets.push(
                "    set svc {\n        type inet_service\n        flags interval\n        elements = { 22, 53, 1000-1100 }\n    }\n"
                    .to_string(),
            );
            sets_meta.push(("svc".to_string(), false, false));
        }
        let nuser = rng.below(4) as usize;
        let mut chains = vec![GenChain {
            name: hook.into(),
            base: Some((prio, rng.chance(if output { 0.15 } else { 0.25 }))),
            rules: Vec::new(),
        }];
        for u in 0..nuser {
            chains.push(GenChain {
                name: format!("c{}", u + 1),
                base: None,
                rules: Vec::new(),
            });
        }
        for ci in 0..chains.len() {
            // Jumps go only to later user chains: no loops.
            let targets: Vec<String> = chains[ci + 1..].iter().map(|c| c.name.clone()).collect();
            let n = if ci == 0 {
                rng.range(3, 9)
            } else {
                rng.range(1, 5)
            };
            let mut texts = Vec::new();
            // Base chains often open the way real ones do.
            if ci == 0 && rng.chance(0.3) {
                texts.push(("ct state invalid counter drop".to_string(), Verd::Drop));
            }
            // On the receiver, rejects inside live connections: the RST or ICMP error goes
            // back on a flow both sides track (and, from an invalid packet, is tracked itself).
            if ci == 0 && !output && rng.chance(0.4) {
                let block = src_value(rng, false, None);
                let text = match rng.below(5) {
                    0 => "ct state established tcp dport 443 tcp flags & (fin|syn|rst|ack) == \
                          fin|ack counter reject with tcp reset"
                        .to_string(),
                    1 => format!(
                        "ct state established ip saddr {block} tcp dport 22 counter reject with \
                         tcp reset"
                    ),
                    2 => format!(
                        "ct state established ip saddr {block} tcp dport {{ 22, 80 }} counter reject"
                    ),
                    3 => "ct state invalid tcp dport 80 counter reject with tcp reset".to_string(),
                    _ => format!(
                        "ct state established ip saddr {block} tcp dport 443 counter reject with \
                         icmp type host-unreachable"
                    ),
                };
                texts.push((text, Verd::Reject));
            }
            if ci == 0 && rng.chance(0.35) {
                texts.push((
                    "ct state established,related counter accept".to_string(),
                    Verd::Accept,
                ));
            }
            for _ in 0..n {
                texts.push(gen_rule(rng, output, inet, &sets_meta, ci > 0, &targets));
            }
            // A policy of drop mostly comes with a broad accept before it; on the sender's
            // output always (the receiver is to see plenty).
            if chains[ci].base.is_some_and(|b| b.1) && (output || rng.chance(0.6)) {
                let text = match rng.below(if output { 2 } else { 3 }) {
                    0 => "meta l4proto { tcp, udp, icmp, ipv6-icmp } counter accept",
                    1 => "ct state new,established,related counter accept",
                    _ => "ip saddr 10.213.0.16/28 counter accept",
                };
                texts.push((text.to_string(), Verd::Accept));
            }
            for (text, verdict) in texts {
                chains[ci].rules.push(rules.len());
                rules.push(GenRule {
                    table: ti,
                    line: 0,
                    verdict,
                    text,
                });
            }
        }
        tables.push(GenTable {
            inet,
            name: format!("plk_{}", (b'a' + ti as u8) as char),
            sets,
            chains,
        });
    }
    let mut rs = GenRuleset {
        hook,
        tables,
        rules,
        text: String::new(),
    };
    render(&mut rs);
    rs
}

fn render(rs: &mut GenRuleset) {
    let (text, lines) = render_text(rs, false);
    for (r, l) in lines.into_iter().enumerate() {
        rs.rules[r].line = l;
    }
    rs.text = text;
}

/// The ruleset in nft syntax, and each rule's line. `logged`: every rule also logs to NFLOG
/// group 1 with prefix `r<index>`, right after its `counter` (so before its verdict), on the
/// same line.
fn render_text(rs: &GenRuleset, logged: bool) -> (String, Vec<u32>) {
    let mut out = String::new();
    let mut lines = vec![0; rs.rules.len()];
    let mut line = 1u32;
    let mut push = |out: &mut String, s: &str| {
        out.push_str(s);
        out.push('\n');
        line += 1;
        line - 1
    };
    for t in &rs.tables {
        push(&mut out, &format!("table {} {} {{", t.family(), t.name));
        for s in &t.sets {
            for l in s.lines() {
                push(&mut out, l);
            }
        }
        for c in &t.chains {
            push(&mut out, &format!("    chain {} {{", c.name));
            if let Some((prio, drop)) = c.base {
                push(
                    &mut out,
                    &format!(
                        "        type filter hook {} priority {prio}; policy {};",
                        rs.hook,
                        if drop { "drop" } else { "accept" }
                    ),
                );
            }
            for &r in &c.rules {
                let text = &rs.rules[r].text;
                let text = if logged {
                    text.replacen(
                        "counter",
                        &format!("counter log prefix \"r{r}\" group 1 queue-threshold 1"),
                        1,
                    )
                } else {
                    text.clone()
                };
                lines[r] = push(&mut out, &format!("        {text}"));
            }
            push(&mut out, "    }");
        }
        push(&mut out, "}");
    }
    (out, lines)
}

// ---------------------------------------------------------------------------------------------
// The kernel's side: instrumentation, NFLOG records, counters.

/// A base chain that logs each packet's `ct state`, and a sentinel at priority 1000 that logs
/// what got through every base chain of the hook. On input connection tracking has run in
/// prerouting, so the probe can come first (-500); on output it runs in the hook itself at
/// -200, so the probe comes after it (-190) — and the generated output chains too (≥ -150):
/// a chain before it would see no `ct state` at all (invalid), which the simulator does not
/// model.
fn probe(hook: &str) -> String {
    let prio = if hook == "output" { -190 } else { -500 };
    let mut t = format!(
        "table inet plk_probe {{\n    chain ct_probe {{\n        \
         type filter hook {hook} priority {prio}; policy accept;\n"
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
    let _ = write!(
        t,
        "    }}\n    chain sentinel {{\n        \
         type filter hook {hook} priority 1000; policy accept;\n        \
         log prefix \"acc\" group 1 queue-threshold 1\n    }}\n}}\n"
    );
    t
}

/// The rules of the generated tables in the kernel, in chain order: (table, chain, handle,
/// counter packets, counter bytes).
fn kernel_rules(ns: &str, rs: &GenRuleset) -> Vec<(usize, usize, u64, u64, u64)> {
    let out = in_ns(ns, "nft", &["-j", "list", "ruleset"]);
    let v: Value = serde_json::from_str(&out).expect("nft -j output");
    let mut found = Vec::new();
    for o in v["nftables"].as_array().unwrap() {
        let Some(r) = o.get("rule") else { continue };
        let table = r["table"].as_str().unwrap();
        let Some(ti) = rs.tables.iter().position(|t| t.name == table) else {
            continue;
        };
        let chain = r["chain"].as_str().unwrap();
        let ci = rs.tables[ti]
            .chains
            .iter()
            .position(|c| c.name == chain)
            .unwrap();
        let (mut p, mut b) = (0, 0);
        for e in r["expr"].as_array().unwrap() {
            if let Some(c) = e.get("counter") {
                p = c["packets"].as_u64().unwrap();
                b = c["bytes"].as_u64().unwrap();
            }
        }
        found.push((ti, ci, r["handle"].as_u64().unwrap(), p, b));
    }
    found
}

/// Maps kernel rules to generated rules by position in their chain.
fn by_position(
    rs: &GenRuleset,
    k: &[(usize, usize, u64, u64, u64)],
) -> Vec<(usize, u64, u64, u64)> {
    let mut pos: HashMap<(usize, usize), usize> = HashMap::new();
    let mut v = Vec::new();
    for (ti, ci, h, p, b) in k {
        let i = pos.entry((*ti, *ci)).or_default();
        let r = *rs.tables[*ti].chains[*ci]
            .rules
            .get(*i)
            .unwrap_or_else(|| panic!("kernel has more rules in {ti}/{ci} than generated"));
        *i += 1;
        v.push((r, *h, *p, *b));
    }
    assert_eq!(v.len(), rs.rules.len(), "kernel lists every generated rule");
    v
}

/// Swaps the loaded tables for the same tables whose every rule also logs to NFLOG (prefix
/// `r<index>`) right before its verdict, in one transaction. (nft 1.0.6 cannot `replace rule`
/// with an anonymous interval set — an assertion in interval_set_eval — so the rules are not
/// replaced one by one.)
fn instrument(ns: &str, rs: &GenRuleset, dir: &Path) {
    let mut text = String::new();
    for t in &rs.tables {
        let _ = writeln!(text, "delete table {} {}", t.family(), t.name);
    }
    let (logged, lines) = render_text(rs, true);
    assert!(
        lines.iter().zip(&rs.rules).all(|(l, r)| *l == r.line),
        "the logged ruleset keeps every rule on its line"
    );
    text.push_str(&logged);
    let p = dir.join("instrumented.nft");
    std::fs::write(&p, text).unwrap();
    in_ns(ns, "nft", &["-f", p.to_str().unwrap()]);
}

/// A pcap file's records: (link type, record data).
fn read_pcap(path: &Path) -> (u32, Vec<Vec<u8>>) {
    let mut data = Vec::new();
    File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_to_end(&mut data)
        .unwrap();
    assert!(data.len() >= 24, "{}: no pcap header", path.display());
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let le = matches!(magic, 0xa1b2c3d4 | 0xa1b23c4d);
    let u32_at = |d: &[u8], o: usize| {
        let b: [u8; 4] = d[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let link = u32_at(&data, 20);
    let mut recs = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32_at(&data, off + 8) as usize;
        let start = off + 16;
        if start + incl > data.len() {
            break;
        }
        recs.push(data[start..start + incl].to_vec());
        off = start + incl;
    }
    (link, recs)
}

/// The key (IP version, IPv4 id or IPv6 flow label) of an IP packet.
fn ip_key(ip: &[u8]) -> Option<(bool, u32)> {
    match ip.first()? >> 4 {
        4 if ip.len() >= 20 => Some((false, u16::from_be_bytes([ip[4], ip[5]]) as u32)),
        6 if ip.len() >= 40 => Some((true, u32::from_be_bytes([0, ip[1] & 0x0f, ip[2], ip[3]]))),
        _ => None,
    }
}

/// NFLOG records (`tcpdump -i nflog:1`), grouped by packet key, in order: the prefixes.
fn nflog_records(path: &Path) -> HashMap<(bool, u32), Vec<String>> {
    let (link, recs) = read_pcap(path);
    assert_eq!(link, 239, "{}: not an NFLOG capture", path.display());
    let mut by_key: HashMap<(bool, u32), Vec<String>> = HashMap::new();
    for r in recs {
        let mut off = 4;
        let (mut prefix, mut payload) = (None, None);
        while off + 4 <= r.len() {
            let len = u16::from_le_bytes([r[off], r[off + 1]]) as usize;
            let typ = u16::from_le_bytes([r[off + 2], r[off + 3]]) & 0x7fff;
            if len < 4 || off + len > r.len() {
                break;
            }
            let val = &r[off + 4..off + len];
            match typ {
                9 => payload = Some(val.to_vec()),
                10 => {
                    let s = val.split(|b| *b == 0).next().unwrap_or(&[]);
                    prefix = Some(String::from_utf8_lossy(s).into_owned());
                }
                _ => {}
            }
            off += (len + 3) & !3;
        }
        if let (Some(p), Some(pl)) = (prefix, payload) {
            if let Some(k) = ip_key(&pl) {
                by_key.entry(k).or_default().push(p);
            }
        }
    }
    by_key
}

/// What the kernel did with one packet, from its NFLOG records.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    verdict: &'static str,
    /// The deciding rule's line; None for a policy.
    rule: Option<u32>,
    /// The deciding base chain, as packetlab names it ("inet plk_a input").
    chain: Option<String>,
    ct: String,
}

fn chain_name(rs: &GenRuleset, ti: usize) -> String {
    let t = &rs.tables[ti];
    format!("{} {} {}", t.family(), t.name, t.chains[0].name)
}

/// Replays the matched rules through the base chains: the last record of a base chain's group
/// is its terminal verdict if it is one, else the chain's policy decided.
fn kernel_outcome(rs: &GenRuleset, v6: bool, hits: &[usize], ct: &str) -> Outcome {
    let mut bases: Vec<(i32, usize)> = rs
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| t.inet || !v6)
        .map(|(i, t)| (t.chains[0].base.unwrap().0, i))
        .collect();
    bases.sort();
    let mut out = Outcome {
        verdict: "accept",
        rule: None,
        chain: None,
        ct: ct.to_string(),
    };
    for (_, ti) in bases {
        out.chain = Some(chain_name(rs, ti));
        let last = hits.iter().rev().find(|&&r| rs.rules[r].table == ti);
        let policy_drop = rs.tables[ti].chains[0].base.unwrap().1;
        match last.map(|&r| (r, rs.rules[r].verdict)) {
            Some((r, Verd::Accept)) => out.rule = Some(rs.rules[r].line),
            Some((r, Verd::Drop)) => {
                out.verdict = "drop";
                out.rule = Some(rs.rules[r].line);
                return out;
            }
            Some((r, Verd::Reject)) => {
                out.verdict = "reject";
                out.rule = Some(rs.rules[r].line);
                return out;
            }
            _ if policy_drop => {
                out.verdict = "drop";
                out.rule = None;
                return out;
            }
            _ => out.rule = None,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// packetlab's side.

fn packetlab(capture: &Path, rules: &Path, what: &str, locals: &[String]) -> Vec<Value> {
    let mut cmd = Command::new(common::bin());
    cmd.arg("-r")
        .arg(capture)
        .arg("--rules")
        .arg(rules)
        .args(["--print", what, "--format", "json"]);
    for l in locals {
        cmd.args(["--local", l]);
    }
    let out = run(&mut cmd);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// Writes Ethernet frames as a pcap file, a microsecond apart.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
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

/// tcpdump's closing words must say it lost nothing.
fn lost(said: &str) -> Option<String> {
    let dropped = said
        .lines()
        .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
        .and_then(|n| n.trim().parse::<u64>().ok());
    (dropped != Some(0)).then(|| format!("tcpdump lost packets: {said}"))
}

// ---------------------------------------------------------------------------------------------
// One ruleset, end to end.

#[derive(Default)]
struct Figures {
    packets: usize,
    verdict_ok: usize,
    rule_ok: usize,
    chain_ok: usize,
    ct_ok: usize,
    rules: usize,
    rules_hit: usize,
    counters_ok: usize,
    verdicts: BTreeMap<&'static str, usize>,
    states: BTreeMap<String, usize>,
    problems: Vec<String>,
}

impl Figures {
    fn agreed(&self) -> usize {
        self.verdict_ok
            .min(self.rule_ok)
            .min(self.chain_ok)
            .min(self.ct_ok)
    }

    fn line(&self) -> String {
        format!(
            "{} packets: verdict {}/{0}, rule {}/{0}, chain {}/{0}, ct {}/{0}; counters {}/{} \
             ({} hit); kernel {:?} {:?}",
            self.packets,
            self.verdict_ok,
            self.rule_ok,
            self.chain_ok,
            self.ct_ok,
            self.counters_ok,
            self.rules,
            self.rules_hit,
            self.verdicts,
            self.states,
        )
    }
}

/// One hook's two accounts of the same packets.
struct Side<'a> {
    /// "receiver input" or "sender output".
    what: &'static str,
    rs: &'a GenRuleset,
    rules: PathBuf,
    /// What packetlab reads: the packets as the hook's host met them, in order.
    capture: PathBuf,
    /// `--local` for packetlab: the host's addresses.
    locals: Vec<String>,
    /// NFLOG prefixes by packet key, in order.
    records: HashMap<(bool, u32), Vec<String>>,
    /// The kernel's counter of each rule: (rule, handle, packets, bytes).
    counters: Vec<(usize, u64, u64, u64)>,
}

/// Compares, for the frames `sent` (which must all have met the hook), the kernel's ct state,
/// verdict, deciding rule and chain with packetlab's, then every rule's counters.
fn compare(side: &Side<'_>, sent: &[&Sent]) -> Figures {
    let rs = side.rs;
    let mut f = Figures {
        rules: rs.rules.len(),
        ..Figures::default()
    };
    let (link, frames) = read_pcap(&side.capture);
    assert_eq!(link, 1, "{}: Ethernet", side.capture.display());
    let pl = packetlab(&side.capture, &side.rules, "packets", &side.locals);
    assert_eq!(
        pl.len(),
        frames.len(),
        "packetlab prints one line per frame"
    );
    let mut at: HashMap<(bool, u32), usize> = HashMap::new();
    for (i, fr) in frames.iter().enumerate() {
        if fr.len() > 14 && fr[6..12] == SND_MAC {
            if let Some(key) = ip_key(&fr[14..]) {
                if at.insert(key, i).is_some() {
                    f.problems.push(format!("frame {key:?} seen twice"));
                }
            }
        }
    }
    let line_of = |r: &usize| rs.rules[*r].line;
    let mut hits_per_rule: HashMap<usize, u64> = HashMap::new();
    let mut shown = 0;
    for s in sent {
        f.packets += 1;
        let Some(&i) = at.get(&s.key) else {
            f.problems
                .push(format!("not in {}: {}", side.capture.display(), s.desc));
            continue;
        };
        let recs = side.records.get(&s.key).cloned().unwrap_or_default();
        let ct = match recs.first().map(String::as_str) {
            Some("ct-new") => "new",
            Some("ct-est") => "established",
            Some("ct-rel") => "related",
            Some("ct-inv") => "invalid",
            Some("ct-unt") => "untracked",
            _ => {
                f.problems.push(format!(
                    "no ct record (did it meet the hook?): {} {recs:?}",
                    s.desc
                ));
                continue;
            }
        };
        let accepted = recs.last().is_some_and(|r| r == "acc");
        let hits: Vec<usize> = recs
            .iter()
            .filter_map(|r| r.strip_prefix('r'))
            .map(|i| i.parse::<usize>().unwrap())
            .collect();
        for r in &hits {
            *hits_per_rule.entry(*r).or_default() += 1;
        }
        let kern = kernel_outcome(rs, s.key.0, &hits, ct);
        if accepted != (kern.verdict == "accept") {
            f.problems.push(format!(
                "NFLOG records inconsistent (sentinel {accepted}, replay {}): {} {recs:?}",
                kern.verdict, s.desc
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
        if sim != kern {
            if shown < 12 {
                f.problems.push(format!(
                    "packet {} ({}):\n      kernel:    {kern:?} via lines {:?}\n      \
                     packetlab: {sim:?} ({})",
                    i + 1,
                    s.desc,
                    hits.iter().map(line_of).collect::<Vec<_>>(),
                    p["info"].as_str().unwrap_or("")
                ));
            }
            shown += 1;
        }
    }
    if shown > 12 {
        f.problems
            .push(format!("… and {} more packets", shown - 12));
    }

    // Counters: the kernel's against the simulator's, and against the NFLOG records.
    let pl_rules = packetlab(&side.capture, &side.rules, "rules", &side.locals);
    let sim_counters: HashMap<u64, (u64, u64)> = pl_rules
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                (r["packets"].as_u64().unwrap(), r["bytes"].as_u64().unwrap()),
            )
        })
        .collect();
    for (r, _, kp, kb) in &side.counters {
        let line = rs.rules[*r].line;
        let sim = sim_counters.get(&(line as u64)).copied();
        if *kp > 0 {
            f.rules_hit += 1;
        }
        if sim == Some((*kp, *kb)) {
            f.counters_ok += 1;
        } else {
            f.problems.push(format!(
                "counter of line {line} `{}`: kernel {kp} packets {kb} bytes, packetlab {sim:?}",
                rs.rules[*r].text
            ));
        }
        let logged = hits_per_rule.get(r).copied().unwrap_or(0);
        if logged != *kp {
            f.problems.push(format!(
                "line {line}: kernel counter {kp} but {logged} NFLOG records (records lost?)"
            ));
        }
    }
    if !f.problems.is_empty() {
        f.problems.insert(
            0,
            format!(
                "{} ruleset ({}):\n{}",
                side.what,
                side.rules.display(),
                rs.text
            ),
        );
    }
    f
}

/// Loads a generated ruleset in a namespace with `nft -f`, then its logging twin and the probe.
fn load(ns: &str, rs: &GenRuleset, path: &Path, dir: &Path) {
    std::fs::write(path, &rs.text).unwrap();
    in_ns(ns, "nft", &["-f", path.to_str().unwrap()]);
    instrument(ns, rs, dir);
    nft_text(ns, &probe(rs.hook));
}

/// The two sides of one run: the receiver's input hook, the sender's output hook.
fn run_ruleset(k: usize, seed: u64, packets: usize, work: &Path) -> (Figures, Figures) {
    let mut rng = Rng(seed ^ (k as u64).wrapping_mul(0x9e37_79b9));
    let rs_in = gen_ruleset(&mut rng, k, "input");
    let rs_out = gen_ruleset(&mut rng, k, "output");
    let dir = work.join(format!("ruleset-{k:02}"));
    let (dir_in, dir_out) = (dir.join("receiver"), dir.join("sender"));
    std::fs::create_dir_all(&dir_in).unwrap();
    std::fs::create_dir_all(&dir_out).unwrap();
    let (rules_in, rules_out) = (dir_in.join("rules.nft"), dir_out.join("rules.nft"));

    let lab = Lab::create(k);
    load(&lab.rcv, &rs_in, &rules_in, &dir_in);
    load(&lab.snd, &rs_out, &rules_out, &dir_out);
    let services = Services::start(&lab.rcv);
    let cap_path = dir_in.join("veth.pcap");
    let log_in = dir_in.join("nflog.pcap");
    let log_out = dir_out.join("nflog.pcap");
    let cap = Proc::tcpdump(&lab.rcv, RCV_IF, &cap_path);
    let log_rcv = Proc::tcpdump(&lab.rcv, "nflog:1", &log_in);
    let log_snd = Proc::tcpdump(&lab.snd, "nflog:1", &log_out);

    let snd_ns = lab.snd.clone();
    let traffic_seed = rng.next();
    let echo = services.echo.clone();
    let (sent, view, odd) = thread::spawn(move || {
        enter_netns(&snd_ns);
        let mut s = Sender {
            sock: PacketSocket::open(SND_IF),
            raw: RawSockets::open(),
            echo,
            rng: Rng(traffic_seed),
            next_key: 0,
            sent: Vec::new(),
            by_key: HashMap::new(),
            view: Vec::new(),
            pending: Vec::new(),
            odd: Vec::new(),
            used: HashSet::new(),
            next_icmp_id: 0x100,
        };
        s.run(packets);
        (s.sent, s.view, s.odd)
    })
    .join()
    .expect("sender thread");
    thread::sleep(Duration::from_millis(150));
    let said = [cap.stop(), log_rcv.stop(), log_snd.stop()];
    let counters_in = by_position(&rs_in, &kernel_rules(&lab.rcv, &rs_in));
    let counters_out = by_position(&rs_out, &kernel_rules(&lab.snd, &rs_out));
    drop(services);
    drop(lab);

    let view_path = dir_out.join("view.pcap");
    write_pcap(&view_path, &view);
    let rcv_locals: Vec<String> = RCV_HOSTS
        .iter()
        .flat_map(|&h| [v4(h).to_string(), v6(h).to_string()])
        .collect();
    let snd_locals: Vec<String> = [
        "10.213.0.1",
        "10.213.0.16/28",
        "10.213.0.32/28",
        "fd00:213::1",
        "fd00:213::10/124",
        "fd00:213::20/124",
    ]
    .map(String::from)
    .to_vec();
    let out_side = Side {
        what: "sender output",
        rs: &rs_out,
        rules: rules_out,
        capture: view_path,
        locals: snd_locals,
        records: nflog_records(&log_out),
        counters: counters_out,
    };
    let met_output: Vec<&Sent> = sent.iter().filter(|s| !s.bypass).collect();
    let mut fo = compare(&out_side, &met_output);
    // What the output hook let go is what went on the wire, and nothing else did.
    for s in met_output.iter().copied() {
        let sentinel = out_side.records.get(&s.key).and_then(|r| r.last()) == Some(&"acc".into());
        if s.passed != s.on_wire || s.passed != sentinel {
            fo.problems.push(format!(
                "{}: sendto {}, on the wire {}, output sentinel {sentinel}",
                s.desc, s.passed, s.on_wire
            ));
        }
    }
    let keys: HashSet<(bool, u32)> = sent.iter().map(|s| s.key).collect();
    for k in out_side.records.keys().filter(|k| !keys.contains(k)) {
        fo.problems.push(format!(
            "the sender's output hook met a packet not sent: {k:?}"
        ));
    }
    fo.problems.extend(odd);

    let in_side = Side {
        what: "receiver input",
        rs: &rs_in,
        rules: rules_in,
        capture: cap_path,
        locals: rcv_locals,
        records: nflog_records(&log_in),
        counters: counters_in,
    };
    let arrived: Vec<&Sent> = sent.iter().filter(|s| s.on_wire).collect();
    let mut fi = compare(&in_side, &arrived);
    fi.problems.extend(said.iter().filter_map(|s| lost(s)));
    (fi, fo)
}

#[test]
fn kernel_differential() {
    if !common::netns::ready(
        "the kernel differential test",
        &["ip", "nft", "tcpdump"],
        "iproute2 nftables tcpdump",
    ) {
        return;
    }

    let rulesets = knob("PLK_KDIFF_RULESETS", 20) as usize;
    let packets = knob("PLK_KDIFF_PACKETS", 500) as usize;
    let seed = knob("PLK_KDIFF_SEED", 0x0213_5eed);
    let tmp = tempfile::tempdir().unwrap();
    let work: PathBuf = std::env::var_os("PLK_KDIFF_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut totals = [[0usize; 5]; 2];
    for k in 0..rulesets {
        let t0 = Instant::now();
        let (fi, fo) = run_ruleset(k, seed, packets, &work);
        eprintln!(
            "ruleset {k:2} ({:.1} s)\n  receiver input: {}\n  sender output:  {}",
            t0.elapsed().as_secs_f64(),
            fi.line(),
            fo.line()
        );
        for (t, f) in totals.iter_mut().zip([&fi, &fo]) {
            for (x, v) in
                t.iter_mut()
                    .zip([f.packets, f.agreed(), f.rules, f.counters_ok, f.rules_hit])
            {
                *x += v;
            }
        }
        for f in [fi, fo] {
            if !f.problems.is_empty() {
                failures.push(format!("ruleset {k}, {}", f.problems.join("\n  ")));
            }
        }
    }
    for (what, [packets_seen, agreed, rules, rules_ok, hit]) in
        ["receiver input", "sender output"].iter().zip(totals)
    {
        eprintln!(
            "kernel differential, {what}: {rulesets} rulesets, {packets_seen} packets, {agreed} \
             in full agreement; {rules_ok}/{rules} rule counters equal, {hit} rules hit"
        );
    }
    eprintln!("({:.1} s)", started.elapsed().as_secs_f64());
    let leftover = ip(&["netns", "list"]);
    let pid = std::process::id().to_string();
    assert!(
        !leftover
            .lines()
            .any(|l| l.starts_with("plk-") && l.contains(&pid)),
        "namespaces left behind: {leftover}"
    );
    assert!(
        failures.is_empty(),
        "the simulator disagrees with the kernel:\n{}",
        failures.join("\n\n")
    );
    let [[seen_in, ..], [seen_out, ..]] = totals;
    assert!(rulesets >= 1 && seen_out >= rulesets * packets && seen_in > 0);
}
