//! The scenario's programs on real kernel sockets, each thread inside its node's namespace:
//! the same servers and clients as the lab network's (`vnet::scenarios`), counting the same
//! outcomes from what the kernel's sockets report (ECONNREFUSED, a connect timeout,
//! EHOSTUNREACH). Pings are not made here (they need raw sockets); everything else is.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::netns::{enter, Namespaces};
use crate::vnet::apps::Report;
use crate::vnet::scenarios::SCAN_PORTS;
use crate::vnet::topology::{BOB, GW_WAN, RESOLVER, SERVER};

/// One program's counters, shared with its threads.
pub struct Counted {
    pub host: &'static str,
    pub app: String,
    names: &'static [&'static str],
    values: Vec<AtomicU64>,
    pub detail: std::sync::Mutex<Option<String>>,
}

impl Counted {
    fn new(host: &'static str, app: String, names: &'static [&'static str]) -> Arc<Counted> {
        Arc::new(Counted {
            host,
            app,
            names,
            values: names.iter().map(|_| AtomicU64::new(0)).collect(),
            detail: Default::default(),
        })
    }

    fn add(&self, name: &str, n: u64) {
        if let Some(i) = self.names.iter().position(|k| *k == name) {
            self.values[i].fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn report(&self) -> Report {
        Report {
            host: self.host,
            app: self.app.clone(),
            counters: self
                .names
                .iter()
                .zip(&self.values)
                .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
                .collect(),
            detail: self.detail.lock().ok().and_then(|d| d.clone()),
        }
    }
}

const TCP: &[&str] = &[
    "attempts",
    "established",
    "completed",
    "refused",
    "unreachable",
    "timed_out",
    "reset",
    "bytes_sent",
    "bytes_back",
];
const UDP: &[&str] = &["sent", "echoed", "unreachable"];
const DNS: &[&str] = &["asked", "answers", "nxdomain", "timed_out"];
const SCAN: &[&str] = &["rounds", "open", "closed", "filtered"];
const SERVE: &[&str] = &["accepted"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Talk {
    Echo,
    Ssh,
    Http,
    Sink,
}

/// The running programs: their threads and counters.
pub struct Traffic {
    pub stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub counted: Vec<Arc<Counted>>,
}

impl Traffic {
    fn spawn(&mut self, ns: String, f: impl FnOnce(Arc<AtomicBool>) + Send + 'static) {
        let stop = self.stop.clone();
        let h = std::thread::spawn(move || {
            if enter(&ns).is_ok() {
                f(stop);
            }
        });
        self.threads.push(h);
    }

    pub fn reports(&self) -> Vec<Report> {
        self.counted.iter().map(|c| c.report()).collect()
    }

    pub fn finish(mut self) -> Vec<Report> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.reports()
    }
}

fn tick(stop: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
    }
    !stop.load(Ordering::Relaxed)
}

/// Starts scenario `name`'s programs in the namespaces.
pub fn start(name: &str, ns: &Namespaces) -> Traffic {
    let mut t = Traffic {
        stop: Arc::new(AtomicBool::new(false)),
        threads: Vec::new(),
        counted: Vec::new(),
    };
    let server = ns.name(SERVER.name);
    for (port, talk, label) in [
        (7, Talk::Echo, "tcp echo"),
        (9, Talk::Sink, "tcp sink"),
        (22, Talk::Ssh, "ssh"),
        (80, Talk::Http, "http"),
    ] {
        serve_tcp(&mut t, server.clone(), SERVER.name, port, talk, label);
    }
    serve_udp_echo(&mut t, server.clone(), SERVER.name);
    serve_udp_echo(&mut t, ns.name(BOB.name), BOB.name);
    serve_dns(&mut t, ns.name(RESOLVER.name));
    let sv = |p: u16| SocketAddr::new(SERVER.port.v4.into(), p);
    let alice = ns.name("alice");
    let bob = ns.name("bob");
    match name {
        "udp-vs-tcp" => {
            udp_client(
                &mut t,
                alice.clone(),
                "alice",
                sv(7),
                Duration::from_millis(50),
            );
            tcp_client(
                &mut t,
                alice,
                "alice",
                "tcp stream",
                sv(7),
                Talk::Echo,
                Duration::from_millis(50),
            );
        }
        "handshake" => {
            tcp_client(
                &mut t,
                alice,
                "alice",
                "tcp echo",
                sv(7),
                Talk::Echo,
                Duration::from_secs(2),
            );
            tcp_client(
                &mut t,
                bob,
                "bob",
                "http",
                sv(80),
                Talk::Http,
                Duration::from_secs(3),
            );
        }
        "firewall-blocks-ssh" => {
            tcp_client(
                &mut t,
                alice,
                "alice",
                "ssh",
                sv(22),
                Talk::Ssh,
                Duration::from_secs(2),
            );
            tcp_client(
                &mut t,
                bob,
                "bob",
                "http",
                sv(80),
                Talk::Http,
                Duration::from_secs(3),
            );
        }
        "port-scan" => scanner(&mut t, alice),
        "dns" => dns_client(&mut t, alice, "alice"),
        "nat" => {
            tcp_client(
                &mut t,
                alice,
                "alice",
                "http",
                sv(80),
                Talk::Http,
                Duration::from_secs(2),
            );
            dns_client(&mut t, bob.clone(), "bob");
            tcp_client(
                &mut t,
                bob,
                "bob",
                "http",
                sv(80),
                Talk::Http,
                Duration::from_secs(2),
            );
        }
        "address-classes" => {
            let bob_ll = SocketAddr::new(BOB.link_local_v4.unwrap_or(BOB.port.v4).into(), 7);
            udp_client(
                &mut t,
                alice.clone(),
                "alice",
                SocketAddr::new(BOB.port.v4.into(), 7),
                Duration::from_secs(1),
            );
            udp_client(
                &mut t,
                alice.clone(),
                "alice",
                bob_ll,
                Duration::from_secs(1),
            );
            udp_client(&mut t, alice, "alice", sv(7), Duration::from_secs(1));
        }
        "bulk" => {
            for _ in 0..3 {
                tcp_client(
                    &mut t,
                    alice.clone(),
                    "alice",
                    "tcp bulk",
                    sv(9),
                    Talk::Sink,
                    Duration::from_secs(3600),
                );
            }
            udp_client(&mut t, bob, "bob", sv(7), Duration::from_millis(1));
        }
        "port-forward" => {
            serve_tcp(&mut t, bob, BOB.name, 80, Talk::Http, "http");
            let gw = SocketAddr::new(GW_WAN.v4.into(), 8080);
            tcp_client(
                &mut t,
                server,
                "server",
                "http",
                gw,
                Talk::Http,
                Duration::from_secs(2),
            );
        }
        _ => {}
    }
    t
}

fn serve_tcp(t: &mut Traffic, ns: String, host: &'static str, port: u16, talk: Talk, label: &str) {
    let c = Counted::new(host, format!("{label} :{port}"), SERVE);
    t.counted.push(c.clone());
    t.spawn(ns, move |stop| {
        let Ok(l) = TcpListener::bind(("0.0.0.0", port)) else {
            return;
        };
        let _ = l.set_nonblocking(true);
        while !stop.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((s, _)) => {
                    c.add("accepted", 1);
                    let stop = stop.clone();
                    std::thread::spawn(move || answer(s, talk, &stop));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
}

fn answer(mut s: TcpStream, talk: Talk, stop: &AtomicBool) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 8192];
    let mut got = Vec::new();
    if talk == Talk::Ssh {
        let _ = s.write_all(b"SSH-2.0-packetlab\r\n");
    }
    let mut answered = false;
    while !stop.load(Ordering::Relaxed) {
        let n = match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        match talk {
            Talk::Echo => {
                let _ = s.write_all(&buf[..n]);
            }
            Talk::Sink => {}
            Talk::Ssh if answered => {
                let _ = s.write_all(b"up 42 days\r\n");
            }
            Talk::Ssh | Talk::Http => {
                got.extend_from_slice(&buf[..n]);
                if talk == Talk::Ssh && got.windows(5).any(|w| w == b"login") {
                    let _ = s.write_all(b"ok\r\n");
                    answered = true;
                } else if talk == Talk::Http && got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let body = "<html><body>packetlab lab server</body></html>\n";
                    let r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(r.as_bytes());
                    return;
                }
            }
        }
    }
}

fn serve_udp_echo(t: &mut Traffic, ns: String, host: &'static str) {
    let c = Counted::new(host, "udp echo :7".into(), &["echoed"]);
    t.counted.push(c.clone());
    t.spawn(ns, move |stop| {
        let Ok(s) = UdpSocket::bind(("0.0.0.0", 7)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = s.recv_from(&mut buf) {
                if s.send_to(&buf[..n], from).is_ok() {
                    c.add("echoed", 1);
                }
            }
        }
    });
}

fn serve_dns(t: &mut Traffic, ns: String) {
    let c = Counted::new(RESOLVER.name, "dns server :53".into(), &["answered"]);
    t.counted.push(c.clone());
    t.spawn(ns, move |stop| {
        let Ok(s) = UdpSocket::bind(("0.0.0.0", 53)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 600];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = s.recv_from(&mut buf) {
                if let Some(r) =
                    crate::lab::dns::respond_with(&buf[..n], crate::vnet::apps::lab_zone)
                {
                    if s.send_to(&r, from).is_ok() {
                        c.add("answered", 1);
                    }
                }
            }
        }
    });
}

fn tcp_client(
    t: &mut Traffic,
    ns: String,
    host: &'static str,
    label: &str,
    to: SocketAddr,
    talk: Talk,
    every: Duration,
) {
    let c = Counted::new(host, format!("{label} → {to}"), TCP);
    t.counted.push(c.clone());
    let long = label == "tcp stream" || talk == Talk::Sink;
    t.spawn(ns, move |stop| {
        let mut conns: Vec<JoinHandle<()>> = Vec::new();
        loop {
            conns.retain(|h| !h.is_finished());
            if !long || conns.is_empty() {
                let (c, stop2) = (c.clone(), stop.clone());
                conns.push(std::thread::spawn(move || {
                    connect_once(&c, to, talk, long, every, &stop2)
                }));
            }
            if !tick(&stop, if long { Duration::from_secs(1) } else { every }) {
                break;
            }
        }
        for h in conns {
            let _ = h.join();
        }
    });
}

fn connect_once(
    c: &Counted,
    to: SocketAddr,
    talk: Talk,
    long: bool,
    every: Duration,
    stop: &AtomicBool,
) {
    c.add("attempts", 1);
    let mut s = match TcpStream::connect_timeout(&to, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => {
            c.add(
                match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => "refused",
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed_out",
                    _ => "unreachable",
                },
                1,
            );
            return;
        }
    };
    c.add("established", 1);
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = s.set_nodelay(true);
    let mut buf = [0u8; 65536];
    let send = |s: &mut TcpStream, d: &[u8]| {
        if s.write_all(d).is_ok() {
            c.add("bytes_sent", d.len() as u64);
        }
    };
    let read = |s: &mut TcpStream, buf: &mut [u8]| -> Option<usize> {
        match s.read(buf) {
            Ok(n) => {
                c.add("bytes_back", n as u64);
                Some(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Some(usize::MAX)
            }
            Err(_) => None,
        }
    };
    let ok = match talk {
        Talk::Echo if long => {
            while tick(stop, every) {
                send(&mut s, &[b'.'; 200]);
                let _ = read(&mut s, &mut buf);
            }
            true
        }
        Talk::Echo => {
            send(&mut s, &[b'.'; 64]);
            let mut back = 0;
            while back < 64 {
                match read(&mut s, &mut buf) {
                    Some(0) | None => break,
                    Some(usize::MAX) if stop.load(Ordering::Relaxed) => break,
                    Some(usize::MAX) => {}
                    Some(n) => back += n,
                }
            }
            back >= 64
        }
        Talk::Ssh => {
            let mut r = BufReader::new(s.try_clone().expect("a socket clone"));
            let mut line = String::new();
            let banner = r.read_line(&mut line).is_ok_and(|n| n > 0);
            send(&mut s, b"SSH-2.0-packetlab_client\r\nlogin alice\r\n");
            line.clear();
            let ok = banner && r.read_line(&mut line).is_ok() && line.starts_with("ok");
            if ok {
                for _ in 0..3 {
                    if !tick(stop, Duration::from_secs(1)) {
                        break;
                    }
                    send(&mut s, b"uptime\r\n");
                    line.clear();
                    let _ = r.read_line(&mut line);
                }
            }
            ok
        }
        Talk::Http => {
            send(
                &mut s,
                b"GET / HTTP/1.1\r\nHost: server.lab.test\r\nConnection: close\r\n\r\n",
            );
            let mut got = 0;
            loop {
                match read(&mut s, &mut buf) {
                    Some(0) => break got > 0,
                    None => break false,
                    Some(usize::MAX) if stop.load(Ordering::Relaxed) => break false,
                    Some(usize::MAX) => {}
                    Some(n) => got += n,
                }
            }
        }
        Talk::Sink => {
            // Paced (1.6 MB/s a stream): flat out, the switches' capture socket would lose
            // frames, and a comparison needs every one.
            let chunk = vec![b'.'; 16384];
            while tick(stop, Duration::from_millis(10)) {
                send(&mut s, &chunk);
            }
            true
        }
    };
    c.add(if ok { "completed" } else { "reset" }, 1);
}

fn udp_client(t: &mut Traffic, ns: String, host: &'static str, to: SocketAddr, every: Duration) {
    let c = Counted::new(host, format!("udp → {to}"), UDP);
    t.counted.push(c.clone());
    t.spawn(ns, move |stop| {
        let Ok(s) = UdpSocket::bind(("0.0.0.0", 0)) else {
            return;
        };
        let _ = s.set_nonblocking(true);
        let mut buf = [0u8; 2048];
        let mut n = 0u64;
        loop {
            let mut d = vec![b'u'; 200];
            d[..8].copy_from_slice(&n.to_be_bytes());
            match s.send_to(&d, to) {
                Ok(_) => c.add("sent", 1),
                Err(_) => c.add("unreachable", 1),
            }
            n += 1;
            while let Ok((_, _)) = s.recv_from(&mut buf) {
                c.add("echoed", 1);
            }
            if !tick(&stop, every) {
                break;
            }
        }
    });
}

fn dns_client(t: &mut Traffic, ns: String, host: &'static str) {
    let c = Counted::new(host, format!("dns client → {}:53", RESOLVER.port.v4), DNS);
    t.counted.push(c.clone());
    t.spawn(ns, move |stop| {
        let Ok(s) = UdpSocket::bind(("0.0.0.0", 0)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let qs = [
            ("server.lab.test", crate::lab::dns::TYPE_A),
            ("server.lab.test", crate::lab::dns::TYPE_AAAA),
            ("nothing.lab.test", crate::lab::dns::TYPE_A),
        ];
        let mut i = 0u16;
        loop {
            let (name, ty) = qs[i as usize % 3];
            let q = crate::lab::dns::build_query(0x4c00 + i, name, ty);
            i = i.wrapping_add(1);
            if s.send_to(&q, (RESOLVER.port.v4, 53)).is_ok() {
                c.add("asked", 1);
                let mut buf = [0u8; 600];
                match s.recv_from(&mut buf) {
                    Ok((n, _)) => match crate::lab::dns::parse_response(&buf[..n]) {
                        Ok(a) if a.rcode == crate::lab::dns::RCODE_NXDOMAIN => c.add("nxdomain", 1),
                        Ok(_) => c.add("answers", 1),
                        Err(_) => {}
                    },
                    Err(_) => c.add("timed_out", 1),
                }
            }
            if !tick(&stop, Duration::from_secs(1)) {
                break;
            }
        }
    });
}

fn scanner(t: &mut Traffic, ns: String) {
    let c = Counted::new("alice", format!("port scan → {}", SERVER.port.v4), SCAN);
    t.counted.push(c.clone());
    t.spawn(ns, move |stop| loop {
        let probes: Vec<(u16, JoinHandle<&'static str>)> = SCAN_PORTS
            .iter()
            .map(|&p| {
                let to = SocketAddr::new(SERVER.port.v4.into(), p);
                (
                    p,
                    std::thread::spawn(move || {
                        match TcpStream::connect_timeout(&to, Duration::from_secs(3)) {
                            Ok(_) => "open",
                            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "closed",
                            Err(_) => "filtered",
                        }
                    }),
                )
            })
            .collect();
        let found: Vec<(u16, &str)> = probes
            .into_iter()
            .map(|(p, h)| (p, h.join().unwrap_or("filtered")))
            .collect();
        c.add("rounds", 1);
        let list = |w: &str| {
            let v: Vec<String> = found
                .iter()
                .filter(|f| f.1 == w)
                .map(|f| f.0.to_string())
                .collect();
            format!(
                "{w} {}",
                if v.is_empty() {
                    "-".into()
                } else {
                    v.join(",")
                }
            )
        };
        if let Ok(mut d) = c.detail.lock() {
            *d = Some([list("open"), list("closed"), list("filtered")].join("; "));
        }
        if !tick(&stop, Duration::from_secs(2)) {
            break;
        }
    });
}
