//! The lab network's own speed: the `bulk` scenario (three TCP transfers and a UDP stream
//! across the router) with a 10-rule ruleset enforced on every node, run as fast as it goes
//! for two seconds of lab time. Throughput is frames carried on the links per second of
//! wall time, on one core.
//!
//!   cargo bench --bench lab_network

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use packetlab::capture::Timestamp;
use packetlab::vnet::LabRun;

/// Ten rules, as a small router's: state first, then ports and addresses.
const RULES: &str = r#"
table inet filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        ct state invalid drop
        iifname "lan0" tcp dport 22 drop
        iifname "lan0" tcp dport { 25, 465, 587 } drop
        ip saddr 10.0.0.0/8 drop
        iifname "lan0" tcp dport { 7, 9, 80, 443 } accept
        iifname "lan0" udp dport { 7, 53 } accept
        iifname "lan0" icmp type echo-request accept
        counter
    }
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 23 reject with tcp reset
    }
}
"#;

const LAB_US: u64 = 2_000_000;

fn run() -> u64 {
    let sc = packetlab::scenario::find("bulk").expect("the bulk scenario");
    let rs = packetlab::firewall::nft::parse(RULES, "bench.nft").expect("the bench ruleset");
    assert_eq!(rs.rules().count(), 10);
    let mut run = LabRun::new(&sc, &rs, 1, Timestamp(0)).expect("the lab network");
    let mut frames = 0u64;
    let mut t = 0;
    while t < LAB_US {
        t += 100_000;
        frames += run.advance(t).len() as u64;
    }
    frames
}

fn bench(c: &mut Criterion) {
    let frames = run();
    eprintln!("bulk, {LAB_US} µs of lab time: {frames} frames on the links");
    let mut g = c.benchmark_group("lab_network");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames));
    g.bench_function("bulk_10_rules", |b| b.iter(run));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
