//! The TUI's live path without the socket: frames into `App::ingest` as the event loop feeds
//! them (engine, store, per-session verdicts, a display filter narrowing the list), with a real
//! ruleset loaded. The frames are the bundled demo capture, repeated to 100,000.
//!
//!   cargo bench --bench tui_path

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use packetlab::app::state::{App, PacketFilterKind, SourceKind};
use packetlab::capture::file::CaptureReader;
use packetlab::capture::Frame;
use packetlab::engine::Engine;

const FRAMES: usize = 100_000;

fn frames() -> Vec<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng");
    let mut r = CaptureReader::open(&path).expect("the demo capture");
    let mut one = Vec::new();
    while let Some(f) = r.next_frame().expect("a readable demo capture") {
        one.push(f.to_owned());
    }
    one.iter().cycle().take(FRAMES).cloned().collect()
}

fn app() -> App {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/rules/workstation.nft");
    let mut e = Engine::new(100_000);
    e.firewall =
        Some(packetlab::firewall::Firewall::load(&rules, Default::default()).expect("the ruleset"));
    let mut app = App::new(e, SourceKind::Live(vec!["lo".into()]));
    app.display_filter = Some(packetlab::filter::DisplayFilter::parse("tcp || dns").unwrap());
    app.filter_packets(Some(PacketFilterKind::Display));
    app
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("tui");
    g.sample_size(20);
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("app_ingest", |b| {
        b.iter_batched(
            || (app(), frames.clone()),
            |(mut app, frames)| {
                for f in frames {
                    app.ingest(f);
                }
                app.after_ingest();
                app
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
