//! Engine throughput, in packets per second:
//!
//! - `read/*`: `CaptureReader` turning pcap bytes into frames (from memory, and from a file that
//!   the page cache holds), the floor every headless command pays;
//! - `decode/*`: `Engine::summarize` (decode + IP fragment tracking) over frames already in memory,
//!   on a synthetic traffic mix and on the shared tshark corpus (odd and malformed packets);
//! - `pipeline/*`: read + summarize, what `packetlab -r F --print stats` does per packet.
//!
//! The synthetic capture is built here, deterministically, so the bench runs on any clone.
//! `PACKETLAB_BENCH_FILE=target/bench/1m.pcap cargo bench` adds the pipeline over that file too
//! (make it with `scripts/gen-capture.py`).
//!
//! `cargo bench --bench engine` takes about a minute.

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use packetlab::capture::file::CaptureReader;
use packetlab::capture::{FrameRef, LinkType, Timestamp};
use packetlab::engine::Engine;

/// Packets in the synthetic capture (~19 MB, the same mix as `scripts/gen-capture.py`'s scale).
const SYNTH_PACKETS: usize = 100_000;
/// Frames decoded per iteration of the corpus bench (the corpus repeated).
const CORPUS_FRAMES: usize = 50_000;

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

/// One frame of a traffic mix like `scripts/gen-capture.py`'s: mostly TCP (ACKs, small and
/// full-size data, handshakes, FIN/RST), then DNS, other UDP, ICMP echo and ARP; a quarter IPv6.
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

/// A little-endian microsecond pcap of `n` synthetic Ethernet frames.
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

/// Owned copies of frames so the decode bench measures decoding only.
struct Frames {
    links: Vec<LinkType>,
    spans: Vec<(usize, usize)>,
    bytes: Vec<u8>,
}

impl Frames {
    fn new() -> Self {
        Frames {
            links: Vec::new(),
            spans: Vec::new(),
            bytes: Vec::new(),
        }
    }
    fn push(&mut self, f: &FrameRef<'_>) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(f.data);
        self.links.push(f.link_type);
        self.spans.push((at, self.bytes.len()));
    }
    fn len(&self) -> usize {
        self.spans.len()
    }
    fn summarize_all(&self, engine: &mut Engine) {
        for (link, &(a, b)) in self.links.iter().zip(&self.spans) {
            let f = FrameRef {
                ts: Timestamp(0),
                link_type: *link,
                data: &self.bytes[a..b],
                orig_len: (b - a) as u32,
                iface: 0,
            };
            black_box(engine.summarize(black_box(&f)));
        }
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
    let mut one_pass = Frames::new();
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
    let mut all = Frames::new();
    while all.len() < CORPUS_FRAMES {
        for (link, &(a, b)) in one_pass.links.iter().zip(&one_pass.spans) {
            all.push(&FrameRef {
                ts: Timestamp(0),
                link_type: *link,
                data: &one_pass.bytes[a..b],
                orig_len: (b - a) as u32,
                iface: 0,
            });
        }
    }
    Some(all)
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

// ------------------------------------------------------------------------- benches

fn benches(c: &mut Criterion) {
    let pcap: &'static [u8] = Box::leak(synthetic_pcap(SYNTH_PACKETS).into_boxed_slice());
    let n = for_each_frame(reader_over(pcap), |_| {});
    assert_eq!(n, SYNTH_PACKETS as u64);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-engine");
    std::fs::create_dir_all(&dir).expect("bench temp dir");
    let file = dir.join("synthetic-100k.pcap");
    std::fs::write(&file, pcap).expect("write synthetic capture");

    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(n));
    g.bench_function("pcap_memory", |b| {
        b.iter(|| {
            for_each_frame(reader_over(pcap), |f| {
                black_box(f);
            })
        })
    });
    g.bench_function("pcap_file", |b| {
        b.iter(|| {
            let r = CaptureReader::open(&file).expect("open");
            for_each_frame(r, |f| {
                black_box(f);
            })
        })
    });
    g.finish();

    let mut frames = Frames::new();
    for_each_frame(reader_over(pcap), |f| frames.push(f));
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("summarize_synthetic", |b| {
        let mut engine = Engine::new(1);
        b.iter(|| frames.summarize_all(&mut engine))
    });
    match corpus_frames() {
        Some(corpus) => {
            g.throughput(Throughput::Elements(corpus.len() as u64));
            g.bench_function("summarize_corpus", |b| {
                let mut engine = Engine::new(1);
                b.iter(|| corpus.summarize_all(&mut engine))
            });
        }
        None => eprintln!("../shared/captures not found: skipping decode/summarize_corpus"),
    }
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(n));
    g.bench_function("read_summarize_memory", |b| {
        b.iter(|| {
            let mut engine = Engine::new(1);
            for_each_frame(reader_over(pcap), |f| {
                black_box(engine.summarize(f));
            });
            engine.packets
        })
    });
    g.bench_function("read_summarize_file", |b| {
        b.iter(|| {
            let mut engine = Engine::new(1);
            let r = CaptureReader::open(&file).expect("open");
            for_each_frame(r, |f| {
                black_box(engine.summarize(f));
            });
            engine.packets
        })
    });
    if let Some(path) = std::env::var_os("PACKETLAB_BENCH_FILE").map(PathBuf::from) {
        let count = CaptureReader::open(&path)
            .map(|r| for_each_frame(r, |_| {}))
            .unwrap_or_else(|e| panic!("PACKETLAB_BENCH_FILE: {e}"));
        g.throughput(Throughput::Elements(count));
        g.sample_size(10);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        g.bench_with_input(
            BenchmarkId::new("read_summarize_file", name),
            &path,
            |b, p| {
                b.iter(|| {
                    let mut engine = Engine::new(1);
                    let r = CaptureReader::open(p).expect("open");
                    for_each_frame(r, |f| {
                        black_box(engine.summarize(f));
                    });
                    engine.packets
                })
            },
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
