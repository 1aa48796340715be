//! The TUI on the lab network, rendered with `TestBackend`: the firewall-blocks-ssh scenario
//! after six seconds of lab time — SSH SYNs dropped at the router in the packets, the
//! sessions and the rule counters; the lab pane with each program's counters — at 80×24,
//! 120×40 and 200×50, with and without colour. The run is deterministic (fixed seed and
//! clock), so the snapshots are too.

mod common;

use common::screen::{draw, screen_text as text};
use packetlab::app::state::{App, SourceKind};
use packetlab::capture::Timestamp;
use packetlab::engine::Engine;
use packetlab::vnet::LabRun;

fn lab_screen() -> App {
    let sc = packetlab::scenario::find("firewall-blocks-ssh").unwrap();
    let (file, rules) = sc.rules.clone().unwrap();
    let rs = packetlab::firewall::nft::parse(rules, &file).unwrap();
    let mut run = LabRun::new(&sc, &rs, 1, Timestamp(1_796_000_000_000_000_000)).unwrap();
    let mut e = Engine::new(100_000);
    e.enforced = true;
    e.firewall = Some(packetlab::firewall::Firewall::new(
        rs,
        file,
        Default::default(),
    ));
    e.iface_names = LabRun::interfaces().into_iter().map(|i| i.name).collect();
    let mut app = App::new(e, SourceKind::LabNet(sc.name.clone()));
    for (f, j) in run.advance(6_000_000) {
        app.ingest_enforced(f, j.as_ref());
    }
    app.after_ingest();
    app.lab_net = Some(run.summary());
    app.start_lab_network(sc);
    app.source_done = true;
    app.refresh_sessions();
    let fw = app.engine.firewall.as_ref().unwrap();
    app.firewall.move_by(fw, 0);
    app
}

#[test]
fn the_lab_network_screen_at_80x24_120x40_and_200x50() {
    for (w, h) in [(80, 24), (120, 40), (200, 50)] {
        let mut app = lab_screen();
        let t = draw(&mut app, w, h);
        let s = text(&t);
        assert!(s.contains("Lab network"), "{w}×{h}: the lab pane\n{s}");
        assert!(s.contains("alice"), "{w}×{h}: alice's programs\n{s}");
        assert!(
            s.contains(" LAB firewall-blocks-ssh "),
            "{w}×{h}: status\n{s}"
        );
        assert!(
            s.contains("SYN_SENT"),
            "{w}×{h}: the blocked SSH session\n{s}"
        );
        assert!(
            s.lines().any(|l| l.contains("drop") && l.contains("→ 22")),
            "{w}×{h}: a dropped SYN in the packets\n{s}"
        );
        insta::assert_snapshot!(format!("lab_network_{w}x{h}"), t.backend());
        app.no_color = true;
        let t2 = draw(&mut app, w, h);
        assert_eq!(text(&t2), s, "{w}×{h}: NO_COLOR changes no character");
        insta::assert_snapshot!(format!("lab_network_{w}x{h}_no_color"), t2.backend());
    }
}
