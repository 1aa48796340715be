//! Firewall throughput with 10,000 rules, packets per second (criterion's "elem/s"):
//!
//! - `firewall/compiled`: the matcher packetlab uses (port index + per-signature cache), over
//!   1,000,000 packets of 20,000 flows (~50 packets a flow, as real traffic has);
//! - `firewall/compiled_cold`: the same packets, each with a signature of its own (the cache
//!   never hits: the index alone);
//! - `firewall/linear`: a plain scan of every rule per packet, on a 2,000-packet sample (it is
//!   too slow for the full million).
//!
//! The ruleset: 10,000 rules, each `ip saddr 10.X.0.0/16 tcp dport P accept|drop` on its own
//! port, behind a `ct state established,related accept` and before two general rules.
//! `cargo bench --bench firewall` takes about a minute on 2 cores.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use packetlab::firewall::compile::Compiled;
use packetlab::firewall::eval::{evaluate, PacketView};
use packetlab::firewall::model::{ct, Hook, Ruleset};
use packetlab::firewall::nft;

const RULES: u32 = 10_000;

fn ruleset() -> Ruleset {
    let mut s = String::from(
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    ct state established,related accept\n",
    );
    for i in 0..RULES {
        let verdict = if i.is_multiple_of(3) {
            "drop"
        } else {
            "accept"
        };
        s.push_str(&format!(
            "    ip saddr 10.{}.0.0/16 tcp dport {} {verdict}\n",
            i % 250,
            10_000 + i
        ));
    }
    s.push_str(
        "    tcp flags & (syn|ack) == syn counter reject\n    udp dport 53 accept\n  }\n}\n",
    );
    nft::parse(&s, "bench.nft").expect("the bench ruleset parses")
}

fn packet(flow: u32, k: u32) -> PacketView<'static> {
    let new = k == 0;
    PacketView {
        v6: false,
        src: IpAddr::V4(Ipv4Addr::new(
            10,
            (flow % 250) as u8,
            (flow >> 8) as u8,
            flow as u8,
        )),
        dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        l4: Some(6),
        sport: Some(20_000 + (flow % 40_000) as u16),
        dport: Some(10_000 + (flow.wrapping_mul(7919) % (RULES + 500)) as u16),
        tcp_flags: Some(if new { 0x02 } else { 0x10 }),
        icmp_type: None,
        icmpv6_type: None,
        iif: Some("eth0"),
        oif: Some("eth0"),
        // Most packets of a flow are established: the rules that decide are met by the first.
        ct: if new {
            ct::NEW
        } else if k.is_multiple_of(10) {
            ct::INVALID
        } else {
            ct::ESTABLISHED
        },
        len: 60,
        extra: Default::default(),
        raw: Default::default(),
    }
}

fn bench(c: &mut Criterion) {
    let rs = ruleset();
    let hooks = [Hook::Input];
    let flows = 20_000u32;
    let per = 50u32;
    let packets: Vec<PacketView> = (0..per)
        .flat_map(|k| (0..flows).map(move |f| packet(f, k)))
        .collect();
    let cold: Vec<PacketView> = (0..1_000_000u32).map(|i| packet(i, 0)).collect();
    let mut g = c.benchmark_group("firewall");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.bench_function("compiled", |b| {
        b.iter(|| {
            let mut m = Compiled::new(&rs);
            for p in &packets {
                black_box(m.evaluate(&rs, &hooks, p).verdict);
            }
        })
    });
    g.throughput(Throughput::Elements(cold.len() as u64));
    g.bench_function("compiled_cold", |b| {
        b.iter(|| {
            let mut m = Compiled::new(&rs);
            for p in &cold {
                black_box(m.evaluate(&rs, &hooks, p).verdict);
            }
        })
    });
    let sample = &packets[..2_000];
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.bench_function("linear", |b| {
        b.iter(|| {
            for p in sample {
                black_box(evaluate(&rs, &hooks, p, false).verdict);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
