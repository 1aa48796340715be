//! Engine throughput, in packets per second (criterion reports "elem/s"):
//!
//! - `read/*`: `CaptureReader` turning pcap bytes into frames (from memory, and from a file that
//!   the page cache holds), the floor every headless command pays;
//! - `decode/decode/*`: `decode::decode` alone, over frames already in memory;
//! - `sessions/observe/*`: `SessionTable::observe` alone, over summaries already decoded;
//! - `decode/summarize/*`: `Engine::summarize` (decode + IP fragments + sessions);
//! - `pipeline/*`: read + summarize, what `packetlab -r F --print stats` does per packet.
//!
//! Inputs:
//! - `flows`: 100,000 packets from `scripts/gen-capture.py` (TCP flows with handshakes and closes,
//!   DNS, ICMP, ARP; ~10 packets per session), made on the fly when python3 is there;
//! - `churn`: 100,000 packets built here with fresh addresses and ports nearly every packet, so
//!   almost every packet opens a session (the session table's worst case). Always available;
//! - `corpus`: the shared tshark corpus (`../shared/captures`, odd and malformed packets),
//!   repeated to 50,000 frames, when present.
//!
//! `PACKETLAB_BENCH_FILE=target/bench/1m.pcap cargo bench --bench engine` adds the pipeline over
//! that file (make it with `scripts/gen-capture.py target/bench/1m.pcap`).
//!
//! `cargo bench --bench engine` takes about 90 s on 2 cores.

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use packetlab::capture::file::CaptureReader;
use packetlab::capture::{FrameRef, LinkType, Timestamp};
use packetlab::decode::{decode, Summary};
use packetlab::engine::Engine;
use packetlab::sessions::SessionTable;

/// Packets in each generated capture (~19 MB).
const PACKETS: usize = 100_000;
/// Frames decoded per iteration of the corpus bench (the corpus repeated).
const CORPUS_FRAMES: usize = 50_000;
/// The session table size `packetlab` uses by default.
const MAX_SESSIONS: usize = packetlab::engine::DEFAULT_MAX_SESSIONS;

// ------------------------------------------------------------------------- synthetic capture

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    fold(
        h.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum(),
    )
}

const CLIENT_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x10, 0x00, 0x07];
const GW_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x5a, 0x00, 0x01];

/// Ethernet + IPv4 or IPv6 around `l4` (transport header and payload).
fn ip_frame(rng: &mut Rng, v6: bool, proto: u8, outbound: bool, l4: &[u8]) -> Vec<u8> {
    let host = rng.below(200) as u8 + 10;
    let far = rng.below(4000) as u16;
    let (smac, dmac) = if outbound {
        (CLIENT_MAC, GW_MAC)
    } else {
        (GW_MAC, CLIENT_MAC)
    };
    let mut f = Vec::with_capacity(14 + 40 + l4.len());
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd]);
        let mut near = [0u8; 16];
        near[..8].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0xa0, 0, 1]);
        near[15] = host;
        let mut remote = [0u8; 16];
        remote[..8].copy_from_slice(&[0x2a, 0x00, 0x14, 0x50, 0x40, 0x01, 0x08, 0x00]);
        remote[14..].copy_from_slice(&far.to_be_bytes());
        let (src, dst) = if outbound {
            (near, remote)
        } else {
            (remote, near)
        };
        f.extend_from_slice(&0x6000_0000u32.to_be_bytes());
        f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
    } else {
        f.extend_from_slice(&[0x08, 0x00]);
        let near = [192, 168, 1, host];
        let remote = [93, 184, (far >> 8) as u8, far as u8];
        let (src, dst) = if outbound {
            (near, remote)
        } else {
            (remote, near)
        };
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&(20 + l4.len() as u16).to_be_bytes());
        h[4..6].copy_from_slice(&(rng.next() as u16).to_be_bytes());
        h[6] = 0x40; // DF
        h[8] = 64;
        h[9] = proto;
        h[12..16].copy_from_slice(&src);
        h[16..20].copy_from_slice(&dst);
        let c = ipv4_checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&h);
    }
    f.extend_from_slice(l4);
    f
}

fn tcp_segment(rng: &mut Rng, flags: u8, syn: bool, payload: usize) -> Vec<u8> {
    let opts: &[u8] = if syn {
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
        &[
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]
    } else {
        &[1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1]
    };
    let mut t = Vec::with_capacity(20 + opts.len() + payload);
    let port = if rng.chance(80) { 443u16 } else { 80 };
    t.extend_from_slice(&(32768 + rng.below(28000) as u16).to_be_bytes());
    t.extend_from_slice(&port.to_be_bytes());
    t.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    t.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    t.push((((20 + opts.len()) / 4) as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&502u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(opts);
    if payload > 0 {
        // A TLS application-data record filling the payload.
        t.extend_from_slice(&[0x17, 0x03, 0x03]);
        t.extend_from_slice(&(payload.saturating_sub(5) as u16).to_be_bytes());
        t.extend((5..payload).map(|i| (i as u8).wrapping_mul(31)));
    }
    t
}

fn udp_datagram(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn dns_message(rng: &mut Rng, response: bool) -> Vec<u8> {
    const NAMES: [&str; 5] = [
        "example.com",
        "api.github.com",
        "static.crates.io",
        "deb.debian.org",
        "a.long.subdomain.for.testing.example.net",
    ];
    let name = NAMES[rng.below(NAMES.len() as u64) as usize];
    let answers: u16 = if response { 1 + rng.below(3) as u16 } else { 0 };
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&(rng.next() as u16).to_be_bytes());
    m.extend_from_slice(if response {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&answers.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    for _ in 0..answers {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    }
    m
}

/// One frame of the `churn` mix: the protocols of `scripts/gen-capture.py`'s (TCP ACKs, small and
/// full-size data, handshakes, FIN/RST, then DNS, other UDP, ICMP echo and ARP; a quarter IPv6),
/// but with addresses and ports drawn afresh for every frame, so nearly each one is a new session.
fn synthetic_frame(rng: &mut Rng) -> Vec<u8> {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH: u8 = 0x08;
    let v6 = rng.chance(25);
    let out = rng.chance(50);
    let (v6, proto, l4) = match rng.below(1000) {
        0..=449 => (v6, 6, tcp_segment(rng, ACK, false, 0)),
        450..=749 => {
            let n = 20 + rng.below(300) as usize;
            (v6, 6, tcp_segment(rng, PSH | ACK, false, n))
        }
        750..=789 => (v6, 6, tcp_segment(rng, ACK, false, 1448)),
        790..=819 => {
            let flags = if out { SYN } else { SYN | ACK };
            (v6, 6, tcp_segment(rng, flags, true, 0))
        }
        820..=849 => {
            let flags = if rng.chance(80) { 0x11 } else { 0x14 }; // FIN|ACK or RST|ACK
            (v6, 6, tcp_segment(rng, flags, false, 0))
        }
        850..=939 => {
            let dns = dns_message(rng, !out);
            let (sp, dp) = if out { (40000, 53) } else { (53, 40000) };
            (v6, 17, udp_datagram(sp, dp, &dns))
        }
        940..=959 => (false, 17, udp_datagram(41000, 123, &[0x23; 48])),
        960..=989 => {
            let (proto, typ) = match (v6, out) {
                (false, true) => (1, 8),
                (false, false) => (1, 0),
                (true, true) => (58, 128),
                (true, false) => (58, 129),
            };
            let mut icmp = vec![typ, 0, 0, 0, 0x12, 0x34, 0, 1];
            icmp.extend_from_slice(&[0xab; 56]);
            (v6, proto, icmp)
        }
        _ => {
            let mut f = Vec::with_capacity(60);
            f.extend_from_slice(&[0xff; 6]);
            f.extend_from_slice(&CLIENT_MAC);
            f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
            f.extend_from_slice(&CLIENT_MAC);
            f.extend_from_slice(&[192, 168, 1, 7, 0, 0, 0, 0, 0, 0, 192, 168, 1, 1]);
            f.resize(60, 0);
            return f;
        }
    };
    ip_frame(rng, v6, proto, out, &l4)
}

/// A little-endian microsecond pcap of `n` synthetic Ethernet frames (the `churn` input).
fn synthetic_pcap(n: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(n * 200);
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut ts_us: u64 = 1_704_067_200_000_000;
    for _ in 0..n {
        let f = synthetic_frame(&mut rng);
        ts_us += 1 + rng.below(40);
        out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    out
}

// ------------------------------------------------------------------------- helpers

/// A reader over bytes that live for the whole bench run (the reader wants a `'static` source).
fn reader_over(bytes: &'static [u8]) -> CaptureReader {
    CaptureReader::new("bench".into(), Box::new(Cursor::new(bytes))).expect("valid capture")
}

/// Reads every frame, handing each to `f`; returns how many there were.
fn for_each_frame(mut r: CaptureReader, mut f: impl FnMut(&FrameRef<'_>)) -> u64 {
    let mut n = 0;
    while let Some(frame) = r.next_frame().expect("readable capture") {
        f(&frame);
        n += 1;
    }
    n
}

/// Owned copies of frames so the decode benches measure decoding only.
#[derive(Default)]
struct Frames {
    links: Vec<LinkType>,
    ts: Vec<Timestamp>,
    spans: Vec<(usize, usize)>,
    bytes: Vec<u8>,
}

impl Frames {
    fn push(&mut self, f: &FrameRef<'_>) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(f.data);
        self.links.push(f.link_type);
        self.ts.push(f.ts);
        self.spans.push((at, self.bytes.len()));
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> FrameRef<'_> {
        let (a, b) = self.spans[i];
        FrameRef {
            ts: self.ts[i],
            link_type: self.links[i],
            data: &self.bytes[a..b],
            orig_len: (b - a) as u32,
            iface: 0,
        }
    }

    fn of_pcap(pcap: &'static [u8]) -> Self {
        let mut frames = Frames::default();
        for_each_frame(reader_over(pcap), |f| frames.push(f));
        frames
    }
}

/// The shared tshark corpus (`../shared/captures`), repeated up to `CORPUS_FRAMES`.
fn corpus_frames() -> Option<Frames> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    paths.sort();
    let mut one_pass = Frames::default();
    for p in paths {
        // Some corpus files are deliberately broken: keep whatever frames come before the damage.
        let Ok(mut r) = CaptureReader::open(&p) else {
            continue;
        };
        while let Ok(Some(f)) = r.next_frame() {
            one_pass.push(&f);
        }
    }
    if one_pass.len() == 0 {
        return None;
    }
    let mut all = Frames::default();
    while all.len() < CORPUS_FRAMES {
        for i in 0..one_pass.len() {
            all.push(&one_pass.get(i));
        }
    }
    Some(all)
}

/// `scripts/gen-capture.py -n PACKETS` into the bench's temp dir (kept between runs).
fn generated_capture(dir: &Path) -> Option<Vec<u8>> {
    let path = dir.join(format!("gen-{PACKETS}.pcap"));
    if !path.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-capture.py");
        let ok = Command::new("python3")
            .arg(script)
            .args(["-n", &PACKETS.to_string()])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("python3 scripts/gen-capture.py failed: skipping the `flows` input");
            return None;
        }
    }
    std::fs::read(&path).ok()
}

/// One input: its pcap bytes (memory and file) and its frames.
struct Input {
    name: &'static str,
    pcap: &'static [u8],
    file: PathBuf,
    frames: Frames,
}

impl Input {
    fn new(name: &'static str, bytes: Vec<u8>, dir: &Path) -> Self {
        let pcap: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        let file = dir.join(format!("{name}.pcap"));
        std::fs::write(&file, pcap).expect("write bench capture");
        let frames = Frames::of_pcap(pcap);
        Input {
            name,
            pcap,
            file,
            frames,
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(15)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
}

// ------------------------------------------------------------------------- benches

fn read_file_through_engine(path: &Path) -> Engine {
    let mut engine = Engine::new(1);
    let r = CaptureReader::open(path).expect("open");
    for_each_frame(r, |f| {
        black_box(engine.summarize(f));
    });
    engine
}

fn benches(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-engine");
    std::fs::create_dir_all(&dir).expect("bench temp dir");
    let mut inputs = Vec::new();
    if let Some(bytes) = generated_capture(&dir) {
        inputs.push(Input::new("flows", bytes, &dir));
    }
    inputs.push(Input::new("churn", synthetic_pcap(PACKETS), &dir));

    let mut g = c.benchmark_group("read");
    for input in &inputs {
        g.throughput(Throughput::Elements(input.frames.len() as u64));
        g.bench_function(BenchmarkId::new("pcap_memory", input.name), |b| {
            b.iter(|| {
                for_each_frame(reader_over(input.pcap), |f| {
                    black_box(f);
                })
            })
        });
        g.bench_function(BenchmarkId::new("pcap_file", input.name), |b| {
            b.iter(|| {
                let r = CaptureReader::open(&input.file).expect("open");
                for_each_frame(r, |f| {
                    black_box(f);
                })
            })
        });
    }
    g.finish();

    let corpus = corpus_frames();
    if corpus.is_none() {
        eprintln!("../shared/captures not found: skipping the `corpus` input");
    }
    let mut g = c.benchmark_group("decode");
    for (name, frames) in inputs
        .iter()
        .map(|i| (i.name, &i.frames))
        .chain(corpus.as_ref().map(|c| ("corpus", c)))
    {
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| {
                for i in 0..frames.len() {
                    let f = frames.get(i);
                    black_box(decode(f.link_type, black_box(f.data)));
                }
            })
        });
        // A fresh engine each time, so every session is created again (and dropped, timed, as
        // the command drops it).
        g.bench_function(BenchmarkId::new("summarize", name), |b| {
            b.iter(|| {
                let mut engine = Engine::new(1);
                for i in 0..frames.len() {
                    black_box(engine.summarize(black_box(&frames.get(i))));
                }
                engine
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sessions");
    for input in &inputs {
        let decoded: Vec<(Summary, Timestamp, u32)> = (0..input.frames.len())
            .map(|i| {
                let f = input.frames.get(i);
                (decode(f.link_type, f.data), f.ts, f.orig_len)
            })
            .collect();
        g.throughput(Throughput::Elements(decoded.len() as u64));
        g.bench_function(BenchmarkId::new("observe", input.name), |b| {
            b.iter(|| {
                let mut table = SessionTable::new(MAX_SESSIONS);
                for (s, ts, len) in &decoded {
                    black_box(table.observe(s, *ts, *len));
                }
                table
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    for input in &inputs {
        g.throughput(Throughput::Elements(input.frames.len() as u64));
        g.bench_function(BenchmarkId::new("read_summarize_file", input.name), |b| {
            b.iter(|| read_file_through_engine(&input.file))
        });
    }
    if let Some(path) = std::env::var_os("PACKETLAB_BENCH_FILE").map(PathBuf::from) {
        let count = CaptureReader::open(&path)
            .map(|r| for_each_frame(r, |_| {}))
            .unwrap_or_else(|e| panic!("PACKETLAB_BENCH_FILE: {e}"));
        g.throughput(Throughput::Elements(count));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(6));
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        g.bench_with_input(
            BenchmarkId::new("read_summarize_file", name),
            &path,
            |b, p| b.iter(|| read_file_through_engine(p)),
        );
    }
    g.finish();
}

criterion_group! {
    name = engine;
    config = config();
    targets = benches
}
criterion_main!(engine);
