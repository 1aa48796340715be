//! Kernel differential test of the firewall simulator over hand-written, realistic ruleset
//! files (`tests/data/rulesets/*`, every file with a `# packetlab-kernel:` line).
//!
//! `# packetlab-kernel: iface=eth0 local=192.168.1.10/24,fd00:1::10/64 peer=192.168.1.20,fd00:1::20`
//! gives the host the ruleset is written for. Per file, two network namespaces joined by a veth
//! pair (nothing else; both deleted at the end, also on failure): the *host*, whose veth end is
//! renamed to `iface` and has the `local` addresses (IPv6 `nodad`, plus its link-local), and the
//! *peer* with the `peer` addresses. ARP and neighbour discovery happen by themselves, except
//! that the host has static IPv6 neighbour entries for the peer (its own packets never wait for
//! an ND its input rules may refuse, a reply conntrack saw leave but the wire never did; the
//! peer's NS still come in and the host's NA go out). The host loads the file with `nft -f` (from the rulesets folder, so `include`s work) in one
//! transaction with a trace table (`inet plk_trace`: chains at priority -450 on every hook,
//! `meta nftrace set 1` in prerouting and output).
//!
//! Traffic, through ordinary sockets (plus raw ones for ICMP echo and a few scan segments) in
//! threads that entered the namespaces: from the peer, TCP connects to every port the file names
//! (numbers and service names) and a fixed list (the host listens on most of them and echoes,
//! the rest are closed), UDP datagrams to the same ports (echoed or answered with port
//! unreachable), ICMP/ICMPv6 echo, mDNS to the multicast groups, TCP scan segments (lone
//! ACK/FIN/RST, NULL, XMAS, SYN+FIN, SYNs with a tiny and a usual MSS); from the host, TCP connects, UDP and echo to the peer (so
//! output chains see new flows and input sees replies and related ICMP errors).
//!
//! The kernel's side: `nft -a monitor trace` in the host namespace. Each packet's traversal
//! starts with the trace table's prerouting or output chain; after that, every base chain it
//! meets prints the packet's headers, then the rules that matched (with handle and verdict) and
//! the policy. The final verdict is the first drop (or `reject`, a drop in the trace), else
//! accept by the last base chain met; the deciding rule is mapped from (chain, handle) to its
//! position in the chain (`nft -j list ruleset`), which is the position in the file. Traced
//! packets are paired with the captured frames by their headers (addresses, IPv4 id or IPv6
//! flow label, length, ports, TCP flags), in order. Counters of every rule with `counter`:
//! `nft -j list ruleset` after the traffic; they must equal the matches in the trace.
//!
//! The simulator's side: `dumpcap -i iface` (pcapng: the interface name travels with the
//! packets; checked) from before the traffic to after it, read by `packetlab -r … --rules FILE
//! --local …` (`--print packets` and `--print rules`, JSON). `--local`: every address the host
//! has on `iface` (unicast and the multicast groups it joined, as the kernel delivers those
//! locally).
//!
//! Compared, for every captured IP packet that met the host's input or output hook: verdict
//! (accept/drop/reject), deciding rule (line, or none for a policy) and deciding base chain;
//! for every rule with `counter`: packets and bytes, against what the trace says the captured
//! packets did. Agreement must be 100 %.
//!
//! Left out (packetlab does not model them, or a capture cannot show them): ARP (no IP hook);
//! packets on `lo` (not on the capture); packets the output hook dropped (they never reach the
//! wire, so the capture lacks them: the counters are compared over the captured packets only,
//! and separately the kernel's counters against the whole trace); incoming packets routing did
//! not deliver (multicast for a group the host did not join); `ct state` (nft 1.0.6 does not
//! print conntrack in traces). Note `--local`: without the link-local address and the joined
//! groups packetlab would judge ND and mDNS as forwarded. Replies the kernel generates (`reject`, TCP RST, ICMP errors) go
//! through the output hook and are compared like any other packet.
//!
//! Needs root, `ip`, `nft`, `dumpcap`: skipped otherwise, a failure in CI.
//! Knobs: PLK_KR_ONLY=substring (only those files), PLK_KR_KEEP=DIR (keep every run's files),
//! PLK_KR_DIR=DIR (ruleset files from there instead), PLK_KR_BIN=PATH (another packetlab binary).

mod common;

use common::netns::{addr_bytes, enter_netns, fold, in_ns, ip, ip_batch, run_out, sum16};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::UdpSocket;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0x4b, 0x52, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0x4b, 0x52, 0x02];
const PEER_IF: &str = "kr-peer";
const TRACE_TABLE: &str = "plk_trace";
/// The longest any setup step may take.
const WAIT: Duration = Duration::from_secs(10);
/// Ports always tried, besides the ones a file names.
const FIXED_PORTS: [u16; 18] = [
    22, 25, 53, 80, 123, 443, 587, 853, 993, 1194, 3000, 3306, 5353, 8080, 8443, 9100, 22000, 51820,
];
/// The peer's services, for the host's own connections.
const PEER_TCP_OPEN: [u16; 5] = [22, 53, 80, 443, 8080];
const PEER_TCP_TRY: [u16; 9] = [22, 25, 53, 80, 443, 587, 3306, 5432, 8080];
const PEER_UDP_OPEN: [u16; 2] = [53, 123];
const PEER_UDP_TRY: [u16; 4] = [53, 123, 514, 1900];
const MDNS4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);

const SERVICES: [(&str, u16); 40] = [
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("http", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("submissions", 465),
    ("syslog", 514),
    ("dhcpv6-client", 546),
    ("dhcpv6-server", 547),
    ("submission", 587),
    ("ldaps", 636),
    ("domain-s", 853),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("openvpn", 1194),
    ("mysql", 3306),
    ("nfs", 2049),
    ("postgresql", 5432),
    ("mdns", 5353),
    ("sip", 5060),
    ("http-alt", 8080),
    ("xmpp-client", 5222),
    ("redis", 6379),
    ("wireguard", 51820),
    ("git", 9418),
    ("iperf3", 5201),
    ("ms-sql-s", 1433),
];

fn knob(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------------------------
// The ruleset files.

struct Spec {
    path: PathBuf,
    name: String,
    iface: String,
    /// The host's addresses with their prefix lengths.
    locals: Vec<(IpAddr, u8)>,
    peers: Vec<IpAddr>,
    /// The ports the traffic tries (TCP and UDP).
    ports: Vec<u16>,
}

fn rulesets_dir() -> PathBuf {
    knob("PLK_KR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rulesets"))
}

fn specs() -> Vec<Spec> {
    let mut v = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(rulesets_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(line) = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("# packetlab-kernel:"))
        else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (mut iface, mut locals, mut peers) = (None, Vec::new(), Vec::new());
        for kv in line.split_whitespace() {
            let (k, val) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: `{kv}` in the packetlab-kernel line"));
            match k {
                "iface" => iface = Some(val.to_string()),
                "local" => {
                    for a in val.split(',') {
                        let (ad, len) = a.split_once('/').unwrap_or((a, ""));
                        let ad: IpAddr = ad.parse().unwrap_or_else(|e| panic!("{name}: {a}: {e}"));
                        let len = len.parse().unwrap_or(if ad.is_ipv4() { 24 } else { 64 });
                        locals.push((ad, len));
                    }
                }
                "peer" => {
                    for a in val.split(',') {
                        peers.push(a.parse().unwrap_or_else(|e| panic!("{name}: {a}: {e}")));
                    }
                }
                _ => panic!("{name}: unknown key `{k}` in the packetlab-kernel line"),
            }
        }
        let iface = iface.unwrap_or_else(|| panic!("{name}: packetlab-kernel without iface="));
        assert!(
            !locals.is_empty() && !peers.is_empty(),
            "{name}: packetlab-kernel needs local= and peer="
        );
        v.push(Spec {
            ports: ports_of(&text),
            path,
            name,
            iface,
            locals,
            peers,
        });
    }
    v
}

/// The ports a ruleset names (numbers, ranges' ends, service names) and the fixed list, at most
/// 48 (the named ones first).
fn ports_of(text: &str) -> Vec<u16> {
    let mut named = BTreeSet::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap();
        for tok in line.split(|c: char| c.is_whitespace() || ",{};()".contains(c)) {
            let tok = tok.trim_matches('"');
            if tok.is_empty() || tok.contains(['.', ':', '/']) {
                continue;
            }
            if let Some(&(_, p)) = SERVICES.iter().find(|(n, _)| *n == tok) {
                named.insert(p);
                continue;
            }
            for part in tok.split('-') {
                if let Ok(p) = part.parse::<u16>() {
                    if p > 0 && tok.chars().all(|c| c.is_ascii_digit() || c == '-') {
                        named.insert(p);
                    }
                }
            }
        }
    }
    let mut v: Vec<u16> = named.into_iter().take(36).collect();
    for p in FIXED_PORTS {
        if !v.contains(&p) {
            v.push(p);
        }
    }
    v.truncate(48);
    v.sort();
    v
}

/// Closed on the host (no listener, no UDP socket): every fourth port, never mDNS.
fn closed(ports: &[u16], p: u16) -> bool {
    p != 5353
        && ports
            .iter()
            .position(|&q| q == p)
            .is_some_and(|i| i % 4 == 3)
}

// ---------------------------------------------------------------------------------------------
// Processes and namespaces.

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The two namespaces of one ruleset's run; both are deleted when this is dropped.
struct Lab {
    host: String,
    peer: String,
}

impl Lab {
    fn create(k: usize, spec: &Spec) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            host: format!("plk-kr-{pid}-{k}-host"),
            peer: format!("plk-kr-{pid}-{k}-peer"),
        };
        ip(&["netns", "add", &lab.host]);
        // From here on the guard removes what exists.
        ip(&["netns", "add", &lab.peer]);
        for ns in [&lab.host, &lab.peer] {
            in_ns(
                ns,
                "sysctl",
                &[
                    "-qew",
                    "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv4.conf.default.igmpv2_unsolicited_report_interval=10",
                    "net.ipv4.conf.default.igmpv3_unsolicited_report_interval=10",
                    "net.ipv4.icmp_ratelimit=0",
                    "net.ipv6.icmp.ratelimit=0",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.default.accept_ra=0",
                    "net.ipv6.conf.default.router_solicitations=0",
                    "net.ipv6.conf.default.mldv1_unsolicited_report_interval=10",
                    "net.ipv6.conf.default.mldv2_unsolicited_report_interval=10",
                ],
            );
        }
        ip(&[
            "link",
            "add",
            "kr-host",
            "netns",
            &lab.host,
            "address",
            &mac(HOST_MAC),
            "type",
            "veth",
            "peer",
            "name",
            PEER_IF,
            "netns",
            &lab.peer,
            "address",
            &mac(PEER_MAC),
        ]);
        let ifc = &spec.iface;
        ip(&["-n", &lab.host, "link", "set", "kr-host", "name", ifc]);
        for (ns, dev) in [(&lab.host, ifc.as_str()), (&lab.peer, PEER_IF)] {
            let mut args = vec!["-qew".to_string()];
            for (fam, key, val) in [
                ("ipv6", "neigh", "delay_first_probe_time=60"),
                ("ipv4", "neigh", "delay_first_probe_time=60"),
                ("ipv6", "conf", "mldv2_unsolicited_report_interval=10"),
                ("ipv6", "conf", "mldv1_unsolicited_report_interval=10"),
                ("ipv4", "conf", "igmpv3_unsolicited_report_interval=10"),
                ("ipv4", "conf", "igmpv2_unsolicited_report_interval=10"),
            ] {
                args.push(format!("net.{fam}.{key}.{dev}.{val}"));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            in_ns(ns, "sysctl", &args);
        }
        let mut batch = String::new();
        for (a, l) in &spec.locals {
            let nodad = if a.is_ipv6() { " nodad" } else { "" };
            let _ = writeln!(batch, "addr add {a}/{l} dev {ifc}{nodad}");
        }
        let _ = writeln!(batch, "link set lo up\nlink set {ifc} up");
        // The host knows the peer's IPv6 addresses: its packets to the peer never wait for a
        // neighbour discovery its own input rules may refuse (a reply the kernel's connection
        // tracking saw leave, but not the wire). The peer resolves the host by itself.
        let mut ll = [0xfe80, 0, 0, 0, 0, 0, 0, 0];
        ll[4] = u16::from_be_bytes([PEER_MAC[0] ^ 2, PEER_MAC[1]]);
        ll[5] = u16::from_be_bytes([PEER_MAC[2], 0xff]);
        ll[6] = u16::from_be_bytes([0xfe, PEER_MAC[3]]);
        ll[7] = u16::from_be_bytes([PEER_MAC[4], PEER_MAC[5]]);
        let link_local = IpAddr::V6(Ipv6Addr::from(ll));
        for p in spec
            .peers
            .iter()
            .filter(|p| p.is_ipv6())
            .chain([&link_local])
        {
            let _ = writeln!(
                batch,
                "neigh replace {p} lladdr {} dev {ifc} nud permanent",
                mac(PEER_MAC)
            );
        }
        ip_batch(&lab.host, &batch);
        let mut batch = String::new();
        for p in &spec.peers {
            let l = spec
                .locals
                .iter()
                .find(|(a, _)| a.is_ipv6() == p.is_ipv6())
                .map_or(if p.is_ipv6() { 64 } else { 24 }, |(_, l)| *l);
            let nodad = if p.is_ipv6() { " nodad" } else { "" };
            let _ = writeln!(batch, "addr add {p}/{l} dev {PEER_IF}{nodad}");
        }
        let _ = writeln!(batch, "link set lo up\nlink set {PEER_IF} up");
        let _ = writeln!(batch, "route add 224.0.0.0/4 dev {PEER_IF}");
        ip_batch(&lab.peer, &batch);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.host, &self.peer] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `f` in a new thread inside a namespace and returns its result.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    thread::spawn(move || {
        enter_netns(&ns);
        f()
    })
    .join()
    .expect("thread in a namespace")
}

/// A child process (`ip netns exec` execs the program, so the pid is the program's), its
/// output lines collected by threads; killed and reaped if the test ends early.
struct Proc {
    child: Option<Child>,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
    what: String,
}

impl Proc {
    fn spawn(ns: &str, args: &[&str]) -> Proc {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let collect = |r: Box<dyn Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let l = lines.clone();
            thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    l.lock().unwrap().push(line);
                }
            });
            lines
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Proc {
            child: Some(child),
            out,
            err,
            what: args.join(" "),
        }
    }

    /// Waits (boundedly) until a line of stdout or stderr satisfies `f`.
    fn wait_for(&self, f: impl Fn(&str) -> bool, retry: &mut dyn FnMut()) {
        let deadline = Instant::now() + WAIT;
        loop {
            let seen = self.out.lock().unwrap().iter().any(|l| f(l))
                || self.err.lock().unwrap().iter().any(|l| f(l));
            if seen {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not get ready: {:?}",
                self.what,
                self.err.lock().unwrap()
            );
            retry();
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal, waits for the end; returns (stdout, stderr) lines.
    fn stop(mut self, sig: i32) -> (Vec<String>, Vec<String>) {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(child.id() as i32, sig) };
        let deadline = Instant::now() + WAIT;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not stop", self.what);
            }
            thread::sleep(Duration::from_millis(10));
        }
        // The reader threads end at EOF, right after the exit.
        thread::sleep(Duration::from_millis(100));
        let out = self.out.lock().unwrap().clone();
        let err = self.err.lock().unwrap().clone();
        (out, err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Services and traffic.

/// Echo services in a namespace: TCP listeners (each connection echoed until the other side
/// closes) and UDP sockets answering each datagram; stopped when dropped.
struct Services {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// A UDP socket on [::]:port that takes IPv6 only (so an IPv4 one can share the port).
fn udp6_only(port: u16) -> UdpSocket {
    // SAFETY: plain socket calls on a descriptor we own; the address structure is initialised.
    unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            &one as *const _ as *const libc::c_void,
            4,
        );
        let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
        sa.sin6_family = libc::AF_INET6 as u16;
        sa.sin6_port = port.to_be();
        let r = libc::bind(
            fd,
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in6>() as u32,
        );
        assert_eq!(
            r,
            0,
            "bind [::]:{port}: {}",
            std::io::Error::last_os_error()
        );
        UdpSocket::from_raw_fd(fd)
    }
}

fn ifindex(name: &str) -> u32 {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid NUL-terminated name.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
}

impl Services {
    /// `mdns`: the interface and IPv4 address to join the mDNS groups on.
    fn start(ns: &str, tcp: Vec<u16>, udp: Vec<u16>, mdns: Option<(String, Ipv4Addr)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (ns, flag) = (ns.to_string(), stop.clone());
        let handle = thread::spawn(move || {
            enter_netns(&ns);
            let listeners: Vec<TcpListener> = tcp
                .iter()
                .map(|&p| {
                    let l = TcpListener::bind(("::", p)).unwrap_or_else(|e| panic!("tcp {p}: {e}"));
                    l.set_nonblocking(true).unwrap();
                    l
                })
                .collect();
            let mut udps: Vec<UdpSocket> = udp
                .iter()
                .filter(|&&p| mdns.is_none() || p != 5353)
                .map(|&p| UdpSocket::bind(("::", p)).unwrap_or_else(|e| panic!("udp {p}: {e}")))
                .collect();
            if let Some((dev, a4)) = &mdns {
                let s4 = UdpSocket::bind(("0.0.0.0", 5353)).unwrap();
                s4.join_multicast_v4(&MDNS4, a4).unwrap();
                let s6 = udp6_only(5353);
                s6.join_multicast_v6(&MDNS6, ifindex(dev)).unwrap();
                udps.push(s4);
                udps.push(s6);
            }
            for s in &udps {
                s.set_nonblocking(true).unwrap();
            }
            tx.send(()).unwrap();
            let mut conns: Vec<TcpStream> = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                let mut fds: Vec<libc::pollfd> = listeners
                    .iter()
                    .map(|l| l.as_raw_fd())
                    .chain(udps.iter().map(|s| s.as_raw_fd()))
                    .chain(conns.iter().map(|c| c.as_raw_fd()))
                    .map(|fd| libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect();
                // SAFETY: a valid array of pollfds of the length given.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 20) };
                for l in &listeners {
                    while let Ok((s, _)) = l.accept() {
                        s.set_nonblocking(true).unwrap();
                        conns.push(s);
                    }
                }
                for s in &udps {
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        let _ = s.send_to(&buf[..n], from);
                    }
                }
                conns.retain_mut(|c| match c.read(&mut buf) {
                    Ok(0) => false,
                    Ok(n) => {
                        let _ = c.write_all(&buf[..n]);
                        true
                    }
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                });
            }
        });
        rx.recv_timeout(WAIT).expect("services did not start");
        Services {
            stop,
            handle: Some(handle),
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

/// TCP connects (in parallel, 400 ms each at most); a connection sends a line, reads the echo
/// (if any) and closes.
fn tcp_clients(ns: &str, targets: Vec<SocketAddr>) {
    for chunk in targets.chunks(24) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|&t| {
                let ns = ns.to_string();
                thread::spawn(move || {
                    enter_netns(&ns);
                    if let Ok(mut s) = TcpStream::connect_timeout(&t, Duration::from_millis(400)) {
                        let _ = s.write_all(format!("hello {t}\n").as_bytes());
                        let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                        let mut buf = [0u8; 256];
                        let _ = s.read(&mut buf);
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

/// A UDP datagram to each target from one socket per family, then 200 ms for the answers.
fn udp_clients(targets: &[SocketAddr]) {
    let s4 = UdpSocket::bind(("0.0.0.0", 0)).unwrap();
    let s6 = UdpSocket::bind(("::", 0)).unwrap();
    for t in targets {
        let s = if t.is_ipv4() { &s4 } else { &s6 };
        let payload = if matches!(t.port(), 53 | 5353) {
            dns_query(t.port() ^ 0x4b52)
        } else {
            format!("datagram to {t}").into_bytes()
        };
        let _ = s.send_to(&payload, t);
        thread::sleep(Duration::from_millis(2));
    }
    thread::sleep(Duration::from_millis(200));
}

/// A DNS query for `packetlab.local` A.
fn dns_query(id: u16) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["packetlab", "local"] {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.extend_from_slice(&[0, 0, 1, 0, 1]);
    v
}

/// Sends `l4` (its checksum field at `ck` filled in here) through a raw IP socket of protocol
/// `proto`: the kernel adds the IP header, the packet meets the sender's output hook.
fn raw_send(src: IpAddr, dst: IpAddr, proto: u8, mut l4: Vec<u8>, ck: usize) {
    l4[ck] = 0;
    l4[ck + 1] = 0;
    let mut acc = 0;
    if proto != 1 {
        acc = sum16(&addr_bytes(src), acc);
        acc = sum16(&addr_bytes(dst), acc);
        acc += proto as u32 + l4.len() as u32;
    }
    let c = fold(sum16(&l4, acc));
    l4[ck..ck + 2].copy_from_slice(&c.to_be_bytes());
    // SAFETY: plain socket calls on a descriptor we own; the address structures are initialised.
    unsafe {
        let fam = if dst.is_ipv6() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        let fd = libc::socket(fam, libc::SOCK_RAW, proto as i32);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let r = match dst {
            IpAddr::V4(d) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as u16;
                sa.sin_addr.s_addr = u32::from_ne_bytes(d.octets());
                libc::sendto(
                    fd,
                    l4.as_ptr() as *const libc::c_void,
                    l4.len(),
                    0,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                )
            }
            IpAddr::V6(d) => {
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as u16;
                sa.sin6_addr.s6_addr = d.octets();
                libc::sendto(
                    fd,
                    l4.as_ptr() as *const libc::c_void,
                    l4.len(),
                    0,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as u32,
                )
            }
        };
        let _ = r; // an output hook may refuse it (EPERM): that is part of the test
        libc::close(fd);
    }
}

fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut v = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(b"packetlab kernel rulesets");
    v
}

fn tcp_seg(sp: u16, dp: u16, seq: u32, ack: u32, flags: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(20);
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    v
}

/// Echo requests from `src` to `dst` (two per pair).
fn pings(pairs: &[(IpAddr, IpAddr)], id: u16) {
    for (i, &(s, d)) in pairs.iter().enumerate() {
        for seq in 1..=2 {
            let proto = if d.is_ipv6() { 58 } else { 1 };
            raw_send(
                s,
                d,
                proto,
                echo_request(d.is_ipv6(), id + i as u16, seq),
                2,
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Scan-like segments outside any connection: lone ACK, FIN, RST, NULL, XMAS, SYN+FIN, and
/// SYNs announcing a tiny and a usual MSS (the host answers those; the peer has no socket for
/// the answer and resets it).
fn scans(src: IpAddr, dst: IpAddr, ports: &[u16]) {
    let forms: [(u8, u16); 8] = [
        (0x10, 0),
        (0x01, 0),
        (0x04, 0),
        (0x00, 0),
        (0x29, 0),
        (0x03, 0),
        (0x02, 300),
        (0x02, 1460),
    ];
    for (i, &(flags, mss)) in forms.iter().enumerate() {
        let dp = ports[(i * 7) % ports.len()];
        let sp = 61000 + i as u16 + if dst.is_ipv6() { 100 } else { 0 };
        let mut seg = tcp_seg(sp, dp, 0x1000_0000 + i as u32, 0x2000, flags);
        if mss > 0 {
            seg[12] = 0x60;
            seg.extend_from_slice(&[2, 4]);
            seg.extend_from_slice(&mss.to_be_bytes());
        }
        raw_send(src, dst, 6, seg, 16);
        thread::sleep(Duration::from_millis(5));
    }
}

/// Every address the host has on `iface`: unicast ones and the multicast groups it joined.
fn host_addresses(ns: &str, iface: &str) -> Vec<String> {
    let mut v = Vec::new();
    let out = in_ns(ns, "ip", &["-j", "addr", "show", "dev", iface]);
    let j: Value = serde_json::from_str(&out).unwrap();
    for l in j.as_array().unwrap() {
        for a in l["addr_info"].as_array().unwrap() {
            v.push(a["local"].as_str().unwrap().to_string());
        }
    }
    let out = in_ns(ns, "ip", &["maddr", "show", "dev", iface]);
    for l in out.lines() {
        let mut t = l.split_whitespace();
        if let (Some("inet" | "inet6"), Some(a)) = (t.next(), t.next()) {
            v.push(a.to_string());
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// The trace.

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Sig {
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 identification or IPv6 flow label.
    key: u32,
    /// IP total length.
    len: u32,
    sport: Option<u16>,
    dport: Option<u16>,
    flags: Option<u8>,
}

#[derive(Clone, Debug)]
enum Ev {
    Rule { handle: u64, verdict: String },
    Policy(String),
    Other,
}

#[derive(Clone, Debug)]
struct Seg {
    /// "family table chain" of the base chain.
    chain: String,
    /// Events, each with the chain it happened in.
    events: Vec<(String, Ev)>,
}

#[derive(Clone, Debug)]
struct Traced {
    out: bool,
    sig: Option<Sig>,
    lo: bool,
    /// The trace table's chains met: "t_pre", "t_in", "t_fwd", "t_out", "t_post".
    hooks: Vec<String>,
    segs: Vec<Seg>,
    header: String,
}

/// What the kernel did with one packet (or what packetlab says it did).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    verdict: String,
    rule: Option<u64>,
    chain: Option<String>,
}

fn tcp_flags_value(words: &[&str]) -> Option<u8> {
    let mut v = 0u8;
    for w in words {
        v |= match *w {
            "|" => 0,
            "fin" => 0x01,
            "syn" => 0x02,
            "rst" => 0x04,
            "psh" => 0x08,
            "ack" => 0x10,
            "urg" => 0x20,
            "ecn" => 0x40,
            "cwr" => 0x80,
            w => u8::from_str_radix(w.strip_prefix("0x")?, 16).ok()?,
        };
    }
    Some(v)
}

/// The packet's signature from a trace `packet:` line.
fn trace_sig(line: &str) -> Option<Sig> {
    let t: Vec<&str> = line.split_whitespace().collect();
    let mut m: HashMap<String, &str> = HashMap::new();
    let mut flags = None;
    let mut i = 0;
    while i + 2 < t.len() {
        if t[i] == "tcp" && t[i + 1] == "flags" {
            let mut j = i + 2;
            if t.get(j) == Some(&"==") {
                j += 1;
            }
            let start = j;
            while j < t.len() && tcp_flags_value(&t[j..j + 1]).is_some() {
                j += 1;
            }
            flags = tcp_flags_value(&t[start..j]);
            i = j;
            continue;
        }
        if ["ip", "ip6", "tcp", "udp"].contains(&t[i]) {
            m.insert(format!("{} {}", t[i], t[i + 1]), t[i + 2]);
            i += 3;
        } else {
            i += 1;
        }
    }
    let (src, dst, key, len): (IpAddr, IpAddr, u32, u32) = if let Some(s) = m.get("ip saddr") {
        (
            s.parse().ok()?,
            m.get("ip daddr")?.parse().ok()?,
            m.get("ip id")?.parse().ok()?,
            m.get("ip length")?.parse().ok()?,
        )
    } else {
        (
            m.get("ip6 saddr")?.parse().ok()?,
            m.get("ip6 daddr")?.parse().ok()?,
            m.get("ip6 flowlabel")?.parse().ok()?,
            40 + m.get("ip6 length")?.parse::<u32>().ok()?,
        )
    };
    let port = |k: &str| m.get(k).and_then(|v| v.parse().ok());
    let (sport, dport) = if m.contains_key("tcp sport") {
        (port("tcp sport"), port("tcp dport"))
    } else {
        (port("udp sport"), port("udp dport"))
    };
    Some(Sig {
        src,
        dst,
        key,
        len,
        sport,
        dport,
        flags,
    })
}

/// Parses `nft -a monitor trace` output into packets, in the order they began.
fn parse_trace(lines: &[String]) -> Vec<Traced> {
    let mut packets: Vec<Traced> = Vec::new();
    let mut current: HashMap<String, usize> = HashMap::new();
    for line in lines {
        let t: Vec<&str> = line.splitn(7, ' ').collect();
        if t.len() < 7 || t[0] != "trace" || t[1] != "id" {
            continue;
        }
        let (id, fam, table, chain, rest) = (t[2], t[3], t[4], t[5], t[6]);
        let here = format!("{fam} {table} {chain}");
        if let Some(hdr) = rest.strip_prefix("packet: ") {
            if table == TRACE_TABLE && (chain == "t_pre" || chain == "t_out") {
                current.insert(id.to_string(), packets.len());
                packets.push(Traced {
                    out: chain == "t_out",
                    sig: trace_sig(hdr),
                    lo: hdr.contains("iif \"lo\"") || hdr.contains("oif \"lo\""),
                    hooks: Vec::new(),
                    segs: Vec::new(),
                    header: hdr.to_string(),
                });
            }
            let Some(&p) = current.get(id) else { continue };
            if table == TRACE_TABLE {
                packets[p].hooks.push(chain.to_string());
            } else {
                packets[p].segs.push(Seg {
                    chain: here.clone(),
                    events: Vec::new(),
                });
            }
            continue;
        }
        let Some(&p) = current.get(id) else { continue };
        if table == TRACE_TABLE {
            continue;
        }
        // "rule TEXT # handle N (verdict V)", or "unknown rule handle N (verdict V)" when the
        // ruleset was loaded after the monitor started (its cache lacks it).
        // A packet with a mark has it printed after the verdict: "(verdict accept) meta mark
        // 0x00000011", "policy accept meta mark 0x00000001".
        let ev = if let Some(r) = rest
            .strip_prefix("rule ")
            .or_else(|| rest.strip_prefix("unknown rule "))
        {
            let (body, verdict) = r
                .rsplit_once(" (verdict ")
                .map(|(b, v)| (b, v.split(')').next().unwrap_or("").trim().to_string()))
                .unwrap_or((r, String::new()));
            let handle = body
                .rsplit_once("handle ")
                .and_then(|(_, h)| h.trim().parse().ok())
                .unwrap_or(0);
            Ev::Rule { handle, verdict }
        } else if let Some(v) = rest.strip_prefix("policy ") {
            Ev::Policy(v.split_whitespace().next().unwrap_or("").to_string())
        } else {
            Ev::Other
        };
        match packets[p].segs.last_mut() {
            Some(s) => s.events.push((here, ev)),
            None => packets[p].segs.push(Seg {
                chain: format!("? {here}"),
                events: vec![(here, ev)],
            }),
        }
    }
    packets
}

/// A rule in the kernel: (the chain it is in, "family table chain", its handle).
type RuleRef = (String, u64);

/// The kernel's rules: position in the chain, counter (packets, bytes) if it has one, whether
/// its verdict is `reject`.
struct KRule {
    pos: usize,
    counter: Option<(u64, u64)>,
    reject: bool,
}

type KernelRules = HashMap<RuleRef, KRule>;

fn kernel_rules(ns: &str) -> KernelRules {
    let out = in_ns(ns, "nft", &["-j", "list", "ruleset"]);
    let v: Value = serde_json::from_str(&out).expect("nft -j output");
    let mut pos: HashMap<String, usize> = HashMap::new();
    let mut rules = HashMap::new();
    for o in v["nftables"].as_array().unwrap() {
        let Some(r) = o.get("rule") else { continue };
        let chain = format!(
            "{} {} {}",
            r["family"].as_str().unwrap(),
            r["table"].as_str().unwrap(),
            r["chain"].as_str().unwrap()
        );
        if r["table"] == TRACE_TABLE {
            continue;
        }
        let i = pos.entry(chain.clone()).or_default();
        let counter = r["expr"].as_array().unwrap().iter().find_map(|e| {
            let c = e.get("counter")?;
            Some((c["packets"].as_u64()?, c["bytes"].as_u64()?))
        });
        let reject = r["expr"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.get("reject").is_some());
        rules.insert(
            (chain, r["handle"].as_u64().unwrap()),
            KRule {
                pos: *i,
                counter,
                reject,
            },
        );
        *i += 1;
    }
    rules
}

/// The kernel's outcome of a traced packet, the rules it matched, and the deciding rule.
fn kernel_outcome(
    p: &Traced,
    rules: &KernelRules,
) -> Result<(Outcome, Vec<RuleRef>, Option<RuleRef>), String> {
    let mut hits = Vec::new();
    let mut out = Outcome {
        verdict: "accept".into(),
        rule: None,
        chain: None,
    };
    let mut decided: Option<(String, Option<(String, u64)>)> = None;
    for seg in &p.segs {
        let mut end = None;
        for (chain, ev) in &seg.events {
            match ev {
                Ev::Rule { handle, verdict } => {
                    let r = (chain.clone(), *handle);
                    hits.push(r.clone());
                    if end.is_none() && (verdict == "accept" || verdict == "drop") {
                        let v = if verdict == "drop" && rules.get(&r).is_some_and(|k| k.reject) {
                            "reject"
                        } else {
                            verdict.as_str()
                        };
                        end = Some((v.to_string(), Some(r)));
                    }
                }
                Ev::Policy(v) if end.is_none() => end = Some((v.clone(), None)),
                _ => {}
            }
        }
        let Some((v, rule)) = end else {
            return Err(format!("no verdict in {}: {:?}", seg.chain, seg.events));
        };
        out.chain = Some(seg.chain.clone());
        if v != "accept" {
            out.verdict = v.clone();
            decided = Some((v, rule));
            break;
        }
        decided = Some((v, rule));
    }
    Ok((out, hits, decided.and_then(|d| d.1)))
}

// ---------------------------------------------------------------------------------------------
// The capture.

/// A pcapng file: the interfaces' names and the packets (interface, data).
/// Interface names, and frames with the interface each came in on.
type Pcapng = (Vec<Option<String>>, Vec<(u32, Vec<u8>)>);

fn read_pcapng(path: &Path) -> Pcapng {
    let mut d = Vec::new();
    File::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .read_to_end(&mut d)
        .unwrap();
    let u32_at = |o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
    let u16_at = |o: usize| u16::from_le_bytes(d[o..o + 2].try_into().unwrap());
    assert_eq!(u32_at(0), 0x0a0d0d0a, "{}: not pcapng", path.display());
    assert_eq!(
        u32_at(8),
        0x1a2b3c4d,
        "{}: a little-endian section",
        path.display()
    );
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
                        let v = &d[o + 4..o + 4 + l];
                        let v = v.split(|b| *b == 0).next().unwrap();
                        name = Some(String::from_utf8_lossy(v).into_owned());
                    }
                    o += 4 + l.div_ceil(4) * 4;
                }
                names.push(name);
            }
            6 => {
                let caplen = u32_at(body + 12) as usize;
                packets.push((u32_at(body), d[body + 20..body + 20 + caplen].to_vec()));
            }
            _ => {}
        }
        off += len;
    }
    (names, packets)
}

/// An Ethernet frame's direction (sent by the host) and its IP signature.
fn frame_sig(f: &[u8]) -> Option<(bool, Sig)> {
    if f.len() < 14 {
        return None;
    }
    let out = f[6..12] == HOST_MAC;
    let ip = &f[14..];
    let (src, dst, key, len, mut proto, mut l4): (IpAddr, IpAddr, u32, u32, u8, usize);
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 if ip.len() >= 20 => {
            src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
            dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
            key = u16::from_be_bytes([ip[4], ip[5]]) as u32;
            len = u16::from_be_bytes([ip[2], ip[3]]) as u32;
            proto = ip[9];
            l4 = ((ip[0] & 0x0f) as usize) * 4;
            if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
                proto = 0;
            }
        }
        0x86dd if ip.len() >= 40 => {
            let a = |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&ip[o..o + 16]).unwrap());
            src = IpAddr::V6(a(8));
            dst = IpAddr::V6(a(24));
            key = u32::from_be_bytes([0, ip[1] & 0x0f, ip[2], ip[3]]);
            len = 40 + u16::from_be_bytes([ip[4], ip[5]]) as u32;
            proto = ip[6];
            l4 = 40;
            while matches!(proto, 0 | 43 | 60 | 44) && l4 + 8 <= ip.len() {
                if proto == 44 {
                    let frag = u16::from_be_bytes([ip[l4 + 2], ip[l4 + 3]]) & 0xfff8;
                    proto = if frag == 0 { ip[l4] } else { 255 };
                    l4 += 8;
                } else {
                    let n = (ip[l4 + 1] as usize + 1) * 8;
                    proto = ip[l4];
                    l4 += n;
                }
            }
        }
        _ => return None,
    }
    let (mut sport, mut dport, mut flags) = (None, None, None);
    if matches!(proto, 6 | 17) && l4 + 4 <= ip.len() {
        sport = Some(u16::from_be_bytes([ip[l4], ip[l4 + 1]]));
        dport = Some(u16::from_be_bytes([ip[l4 + 2], ip[l4 + 3]]));
        if proto == 6 && l4 + 14 <= ip.len() {
            flags = Some(ip[l4 + 13]);
        }
    }
    Some((
        out,
        Sig {
            src,
            dst,
            key,
            len,
            sport,
            dport,
            flags,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// packetlab's side.

fn packetlab(
    capture: &Path,
    rules: &Path,
    what: &str,
    locals: &[String],
) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new(knob("PLK_KR_BIN").map_or_else(common::bin, PathBuf::from));
    cmd.current_dir(rulesets_dir())
        .arg("-r")
        .arg(capture)
        .arg("--rules")
        .arg(rules)
        .args(["--print", what, "--format", "json"]);
    for l in locals {
        cmd.args(["--local", l]);
    }
    let o = run_out(&mut cmd);
    if !o.status.success() {
        return Err(format!(
            "packetlab --print {what} failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{l}: {e}")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One ruleset, end to end.

#[derive(Default)]
struct Figures {
    packets: usize,
    inbound: usize,
    outbound: usize,
    agreed: usize,
    counters: usize,
    counters_ok: usize,
    excluded: BTreeMap<&'static str, usize>,
    verdicts: BTreeMap<String, usize>,
    problems: Vec<String>,
}

fn trace_table() -> String {
    let mut t = format!("table inet {TRACE_TABLE} {{\n");
    for (name, hook, set) in [
        ("t_pre", "prerouting", true),
        ("t_in", "input", false),
        ("t_fwd", "forward", false),
        ("t_out", "output", true),
        ("t_post", "postrouting", false),
    ] {
        let _ = writeln!(
            t,
            "    chain {name} {{\n        type filter hook {hook} priority -450; policy accept;"
        );
        if set {
            t.push_str("        meta nftrace set 1\n");
        }
        t.push_str("    }\n");
    }
    t.push_str("}\n");
    t
}

/// A UDP datagram to 127.0.0.1:9 from the host, `n` bytes: a mark in the trace.
fn marker(ns: &str, n: usize) {
    in_netns(ns, move || {
        let s = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        let _ = s.send_to(&vec![b'm'; n], ("127.0.0.1", 9));
    });
}

fn is_marker(l: &str, n: usize) -> bool {
    l.contains("ip daddr 127.0.0.1 ") && l.contains(&format!("udp dport 9 udp length {}", n + 8))
}

fn run_ruleset(k: usize, spec: &Spec, work: &Path) -> Figures {
    let mut f = Figures::default();
    let dir = work.join(spec.name.replace('.', "_"));
    std::fs::create_dir_all(&dir).unwrap();
    let lab = Lab::create(k, spec);
    let (host, peer) = (lab.host.clone(), lab.peer.clone());
    let a4 = spec.locals.iter().find_map(|(a, _)| match a {
        IpAddr::V4(a) => Some(*a),
        _ => None,
    });
    let open: Vec<u16> = spec
        .ports
        .iter()
        .copied()
        .filter(|&p| !closed(&spec.ports, p))
        .collect();
    let host_svc = Services::start(
        &host,
        open.clone(),
        open.clone(),
        a4.map(|a| (spec.iface.clone(), a)),
    );
    let peer_svc = Services::start(&peer, PEER_TCP_OPEN.to_vec(), PEER_UDP_OPEN.to_vec(), None);
    // Reports of the groups just joined go out within tens of milliseconds.
    thread::sleep(Duration::from_millis(300));

    // The trace table alone, then the monitor (ready once it shows a marker), then the ruleset
    // and the trace table again in one transaction (the file may flush the ruleset).
    let base = dir.join("trace.nft");
    std::fs::write(&base, trace_table()).unwrap();
    in_ns(&host, "nft", &["-f", base.to_str().unwrap()]);
    let monitor = Proc::spawn(&host, &["nft", "-a", "monitor", "trace"]);
    let h = host.clone();
    monitor.wait_for(|l| is_marker(l, 1), &mut || marker(&h, 1));
    let wrapper = dir.join("load.nft");
    std::fs::write(
        &wrapper,
        format!(
            "include \"{}\"\ntable inet {TRACE_TABLE} {{}}\ndelete table inet {TRACE_TABLE}\n{}",
            spec.path.display(),
            trace_table()
        ),
    )
    .unwrap();
    let o = run_out(
        Command::new("ip")
            .current_dir(rulesets_dir())
            .args(["netns", "exec", &host, "nft", "-f"])
            .arg(&wrapper),
    );
    if !o.status.success() {
        f.problems.push(format!(
            "nft -f {} failed: {}",
            spec.name,
            String::from_utf8_lossy(&o.stderr)
        ));
        return f;
    }
    let cap_path = dir.join("host.pcapng");
    let cap = Proc::spawn(
        &host,
        &[
            "dumpcap",
            "-i",
            &spec.iface,
            "-w",
            cap_path.to_str().unwrap(),
        ],
    );
    cap.wait_for(|l| l.starts_with("Capturing on"), &mut || {});
    thread::sleep(Duration::from_millis(100));

    // Traffic: the peer's, then the host's own.
    let pairs: Vec<(IpAddr, IpAddr)> = spec
        .peers
        .iter()
        .filter_map(|&p| {
            let l = spec
                .locals
                .iter()
                .find(|(a, _)| a.is_ipv6() == p.is_ipv6())?;
            Some((p, l.0))
        })
        .collect();
    let ports = spec.ports.clone();
    let tcp_in: Vec<SocketAddr> = pairs
        .iter()
        .flat_map(|&(_, l)| ports.iter().map(move |&p| SocketAddr::new(l, p)))
        .collect();
    let (pp, pr) = (pairs.clone(), ports.clone());
    in_netns(&peer, move || {
        pings(&pp, 0x4b00);
        udp_clients(
            &pp.iter()
                .flat_map(|&(_, l)| pr.iter().map(move |&p| SocketAddr::new(l, p)))
                .collect::<Vec<_>>(),
        );
        let mut mdns = Vec::new();
        for &(p, _) in &pp {
            mdns.push(if p.is_ipv6() {
                SocketAddr::V6(SocketAddrV6::new(MDNS6, 5353, 0, ifindex(PEER_IF)))
            } else {
                SocketAddr::new(IpAddr::V4(MDNS4), 5353)
            });
        }
        udp_clients(&mdns);
        for &(p, l) in &pp {
            scans(p, l, &pr);
        }
    });
    tcp_clients(&peer, tcp_in);
    let back: Vec<(IpAddr, IpAddr)> = pairs.iter().map(|&(p, l)| (l, p)).collect();
    let b = back.clone();
    in_netns(&host, move || {
        pings(&b, 0x4c00);
        udp_clients(
            &b.iter()
                .flat_map(|&(_, p)| PEER_UDP_TRY.iter().map(move |&q| SocketAddr::new(p, q)))
                .collect::<Vec<_>>(),
        );
    });
    tcp_clients(
        &host,
        back.iter()
            .flat_map(|&(_, p)| PEER_TCP_TRY.iter().map(move |&q| SocketAddr::new(p, q)))
            .collect(),
    );
    thread::sleep(Duration::from_millis(300));
    let locals = host_addresses(&host, &spec.iface);
    let (_, said) = cap.stop(libc::SIGINT);
    // Counters before and after the closing marker: what the trace saw before the marker lies
    // between the two (the marker itself, on lo, may count).
    let counters = kernel_rules(&host);
    let h = host.clone();
    monitor.wait_for(|l| is_marker(l, 2), &mut || marker(&h, 2));
    let counters_after = kernel_rules(&host);
    let (trace_lines, trace_err) = monitor.stop(libc::SIGTERM);
    drop(host_svc);
    drop(peer_svc);
    drop(lab);
    std::fs::write(dir.join("trace.txt"), trace_lines.join("\n")).unwrap();
    if !trace_err.is_empty() {
        f.problems.push(format!("nft monitor said: {trace_err:?}"));
    }
    let dropped = said
        .iter()
        .find_map(|l| l.strip_prefix("Packets received/dropped on interface"))
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|l| l.split('/').nth(1))
        .and_then(|n| n.parse::<u64>().ok());
    if dropped != Some(0) {
        f.problems.push(format!("dumpcap lost packets: {said:?}"));
    }

    // Everything traced before the closing marker.
    let end = trace_lines
        .iter()
        .position(|l| is_marker(l, 2))
        .unwrap_or(trace_lines.len());
    let traced = parse_trace(&trace_lines[..end]);

    // The capture and packetlab's view of it.
    let (names, frames) = read_pcapng(&cap_path);
    if names
        .iter()
        .any(|n| n.as_deref() != Some(spec.iface.as_str()))
    {
        f.problems.push(format!(
            "the capture's interfaces are {names:?}, not {}",
            spec.iface
        ));
    }
    let (pl, pl_rules) = match (
        packetlab(&cap_path, &spec.path, "packets", &locals),
        packetlab(&cap_path, &spec.path, "rules", &locals),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        // The kernel's side is still checked (pairing, counters against the trace).
        (Err(e), _) | (_, Err(e)) => {
            f.problems.push(e);
            (Vec::new(), Vec::new())
        }
    };
    let judged = !pl.is_empty();
    if judged && pl.len() != frames.len() {
        f.problems.push(format!(
            "packetlab printed {} packets for {} frames",
            pl.len(),
            frames.len()
        ));
        return f;
    }
    // These rulesets hold nothing approximate: every verdict packetlab gives must say so.
    let inexact = pl
        .iter()
        .filter(|p| p["exact"] == serde_json::Value::Bool(false))
        .count();
    if inexact > 0 {
        f.problems.push(format!(
            "{inexact} verdicts marked approximate in a ruleset simulated exactly"
        ));
    }
    // packetlab's rules by chain, in order: the n-th rule of a chain in the kernel is the n-th
    // of that chain in the file.
    let mut pl_chains: HashMap<String, Vec<u64>> = HashMap::new();
    let mut pl_counts: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut pl_texts: HashMap<u64, String> = HashMap::new();
    for r in &pl_rules {
        let line = r["line"].as_u64().unwrap();
        pl_chains
            .entry(r["chain"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push(line);
        pl_texts.insert(line, r["rule"].as_str().unwrap_or("").to_string());
        pl_counts.insert(
            line,
            (
                r["packets"].as_u64().unwrap_or(0),
                r["bytes"].as_u64().unwrap_or(0),
            ),
        );
    }
    let line_of = |chain: &str, handle: u64| -> Option<u64> {
        let k = counters.get(&(chain.to_string(), handle))?;
        pl_chains.get(chain)?.get(k.pos).copied()
    };
    let mut kernel_chain_len: HashMap<&str, usize> = HashMap::new();
    for (c, _) in counters.keys() {
        *kernel_chain_len.entry(c.as_str()).or_default() += 1;
    }
    for (c, n) in &kernel_chain_len {
        let m = pl_chains.get(*c).map_or(0, Vec::len);
        if m != *n {
            f.problems.push(format!(
                "chain {c}: {n} rules in the kernel, {m} in packetlab's reading of the file"
            ));
        }
    }

    // Pair traced packets with captured frames, in order, by signature.
    let mut queue: HashMap<(bool, Sig), VecDeque<usize>> = HashMap::new();
    for (i, t) in traced.iter().enumerate() {
        if let Some(s) = &t.sig {
            queue.entry((t.out, s.clone())).or_default().push_back(i);
        }
    }
    let mut matched = vec![false; traced.len()];
    let mut hits_captured: HashMap<(String, u64), (u64, u64)> = HashMap::new();
    let mut hits_all: HashMap<(String, u64), (u64, u64)> = HashMap::new();
    let mut shown = 0;
    for (n, (_, fr)) in frames.iter().enumerate() {
        let Some((out, sig)) = frame_sig(fr) else {
            *f.excluded.entry("not IP (ARP)").or_default() += 1;
            continue;
        };
        let Some(ti) = queue
            .get_mut(&(out, sig.clone()))
            .and_then(|q| q.pop_front())
        else {
            f.problems.push(format!(
                "frame {}: captured but not traced: {sig:?} {}",
                n + 1,
                pl.get(n).and_then(|p| p["info"].as_str()).unwrap_or("")
            ));
            continue;
        };
        matched[ti] = true;
        let t = &traced[ti];
        let (kern, hits, deciding) = match kernel_outcome(t, &counters) {
            Ok(x) => x,
            Err(e) => {
                f.problems.push(format!("frame {}: {e}", n + 1));
                continue;
            }
        };
        for h in &hits {
            let e = hits_captured.entry(h.clone()).or_default();
            e.0 += 1;
            e.1 += sig.len as u64;
        }
        if !out && kern.verdict == "accept" && !t.hooks.iter().any(|h| h == "t_in") {
            *f.excluded.entry("not delivered to the host").or_default() += 1;
            continue;
        }
        f.packets += 1;
        if out {
            f.outbound += 1;
        } else {
            f.inbound += 1;
        }
        *f.verdicts.entry(kern.verdict.clone()).or_default() += 1;
        let kern = Outcome {
            rule: deciding.as_ref().and_then(|(c, h)| line_of(c, *h)),
            ..kern
        };
        if !judged {
            continue;
        }
        let p = &pl[n];
        let sim = Outcome {
            verdict: p["verdict"].as_str().unwrap_or("none").to_string(),
            rule: p["rule"].as_u64(),
            chain: p["chain"].as_str().map(str::to_string),
        };
        if sim == kern {
            f.agreed += 1;
        } else {
            if shown < 15 {
                let text = kern
                    .rule
                    .and_then(|l| pl_texts.get(&l).cloned())
                    .unwrap_or_else(|| "policy".into());
                f.problems.push(format!(
                    "frame {} ({}, {}):\n      kernel:    {kern:?} `{text}`\n      \
                     packetlab: {sim:?} `{}`\n      trace: {}",
                    n + 1,
                    if out { "out" } else { "in" },
                    p["info"].as_str().unwrap_or(""),
                    p["rule_text"].as_str().unwrap_or("policy"),
                    t.header
                ));
            }
            shown += 1;
        }
    }
    if shown > 15 {
        f.problems
            .push(format!("… and {} more packets", shown - 15));
    }
    let mut unmatched = String::new();
    for (i, t) in traced.iter().enumerate() {
        let Ok((kern, hits, _)) = kernel_outcome(t, &counters) else {
            continue;
        };
        let len = t.sig.as_ref().map_or(0, |s| s.len as u64);
        for h in &hits {
            let e = hits_all.entry(h.clone()).or_default();
            e.0 += 1;
            e.1 += len;
        }
        if !matched[i] {
            let why = if t.lo {
                "on lo"
            } else if t.out && kern.verdict != "accept" {
                "dropped by output (never on the wire)"
            } else if t.out {
                "sent, never on the wire (before the capture began?)"
            } else {
                "received before the capture began"
            };
            *f.excluded.entry(why).or_default() += 1;
            let _ = writeln!(unmatched, "{why}: {}", t.header);
        }
    }

    std::fs::write(dir.join("not-captured.txt"), unmatched).unwrap();

    // Counters of the rules with `counter`.
    let mut keys: Vec<_> = counters.iter().collect();
    keys.sort_by_key(|((c, _), k)| (c.clone(), k.pos));
    for (rule, k) in keys {
        let Some(kc) = k.counter else { continue };
        let (chain, handle) = rule;
        let line = line_of(chain, *handle);
        let traced_all = hits_all.get(rule).copied().unwrap_or((0, 0));
        let after = counters_after
            .get(rule)
            .and_then(|k| k.counter)
            .unwrap_or(kc);
        if !(kc.0 <= traced_all.0 && traced_all.0 <= after.0) {
            f.problems.push(format!(
                "{chain} handle {handle} (line {line:?}): kernel counter {kc:?} (then {after:?}) \
                 but the trace matched it {traced_all:?} (trace incomplete?)"
            ));
        }
        if !judged {
            continue;
        }
        f.counters += 1;
        let want = hits_captured.get(rule).copied().unwrap_or((0, 0));
        let sim = line.and_then(|l| pl_counts.get(&l).copied());
        if sim == Some(want) {
            f.counters_ok += 1;
        } else {
            f.problems.push(format!(
                "counter of line {line:?} in {chain}: kernel {want:?} (captured packets; {kc:?} \
                 in all), packetlab {sim:?}"
            ));
        }
    }
    f
}

#[test]
fn kernel_rulesets() {
    if !common::netns::ready(
        "the kernel ruleset test",
        &["ip", "nft", "dumpcap", "sysctl"],
        "iproute2 nftables wireshark-common procps",
    ) {
        return;
    }
    let all = specs();
    let only = knob("PLK_KR_ONLY");
    let specs: Vec<&Spec> = all
        .iter()
        .filter(|s| only.as_ref().is_none_or(|o| s.name.contains(o.as_str())))
        .collect();
    if only.is_none() {
        assert!(
            specs.len() >= 10,
            "only {} ruleset files with a packetlab-kernel line",
            specs.len()
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let work: PathBuf = knob("PLK_KR_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let started = Instant::now();
    let mut failures = Vec::new();
    let (mut packets, mut agreed, mut counters, mut counters_ok) = (0, 0, 0, 0);
    for (k, spec) in specs.iter().enumerate() {
        let t0 = Instant::now();
        let f = run_ruleset(k, spec, &work);
        eprintln!(
            "{:28} {:4} packets ({} in, {} out), {:4} agree, counters {}/{}, kernel {:?}, \
             excluded {:?} ({:.1} s)",
            spec.name,
            f.packets,
            f.inbound,
            f.outbound,
            f.agreed,
            f.counters_ok,
            f.counters,
            f.verdicts,
            f.excluded,
            t0.elapsed().as_secs_f64()
        );
        packets += f.packets;
        agreed += f.agreed;
        counters += f.counters;
        counters_ok += f.counters_ok;
        if !f.problems.is_empty() {
            failures.push(format!("{}:\n  {}", spec.name, f.problems.join("\n  ")));
        }
    }
    eprintln!(
        "kernel_rulesets: {} rulesets, {packets} packets, {:.2} % verdicts agree, {counters_ok}/{counters} \
         counters equal ({:.1} s)",
        specs.len(),
        100.0 * agreed as f64 / packets.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    let leftover = ip(&["netns", "list"]);
    let pid = std::process::id().to_string();
    assert!(
        !leftover
            .lines()
            .any(|l| l.starts_with(&format!("plk-kr-{pid}-"))),
        "namespaces left behind: {leftover}"
    );
    assert!(
        failures.is_empty(),
        "the simulator disagrees with the kernel:\n{}",
        failures.join("\n\n")
    );
    assert!(packets > 0);
}
