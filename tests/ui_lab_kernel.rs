//! The TUI of `--lab-kernel` rendered with `TestBackend`: the firewall pane's title carries
//! the kernel's agreement, a packet the kernel judged otherwise is marked ≠ in the packet
//! list (a mark, so it shows without colour too) and its detail says what each did; the lab
//! pane has the comparison's line instead of the WAN link's. The "kernel" here is the lab
//! network's own router enforcing firewall-blocks-ssh, while the simulator is given a
//! ruleset that lets SSH through: the SYNs to 22 disagree, and only they do.

mod common;

use common::screen::{draw, screen_text as text};
use packetlab::app::state::{App, KernelView, SourceKind};
use packetlab::capture::Timestamp;
use packetlab::engine::Engine;
use packetlab::firewall::simulator::Enforced;
use packetlab::kernel_lab::compare::Comparer;
use packetlab::vnet::LabRun;

const OPEN: &str = include_str!("../assets/lab/open.nft");

fn kernel_screen() -> App {
    let sc = packetlab::scenario::find("firewall-blocks-ssh").unwrap();
    let (file, blocks) = sc.rules.clone().unwrap();
    let kernel_rules = packetlab::firewall::nft::parse(blocks, &file).unwrap();
    let sim_rules = packetlab::firewall::nft::parse(OPEN, "open.nft").unwrap();
    let mut run = LabRun::new(&sc, &kernel_rules, 1, Timestamp(1_796_000_000_000_000_000)).unwrap();
    let mut frames: Vec<_> = run.advance(6_000_000).into_iter().map(|(f, _)| f).collect();
    frames.sort_by_key(|f| f.ts.0);
    let mut cmp = Comparer::new(&sim_rules);
    for f in frames {
        cmp.push(f);
    }
    let compared = cmp.ready(i64::MAX);
    let mut e = Engine::new(100_000);
    e.enforced = true;
    e.firewall = Some(packetlab::firewall::Firewall::new(
        sim_rules,
        "open.nft".into(),
        Default::default(),
    ));
    e.iface_names = LabRun::interfaces().into_iter().map(|i| i.name).collect();
    let mut app = App::new(e, SourceKind::LabNet(sc.name.clone()));
    app.kernel = Some(KernelView {
        tally: cmp.agreement.tally(),
        ..Default::default()
    });
    for c in compared {
        let en = c.judged.map(|j| Enforced {
            judgement: j.judgement,
            hits: j.hits,
        });
        app.ingest_enforced(c.frame, en.as_ref());
        if let Some(why) = c.why {
            app.note_differs(why);
        }
    }
    app.after_ingest();
    let mut summary = run.summary();
    summary.kernel = Some(cmp.agreement.clone());
    summary.router = cmp.router();
    app.lab_net = Some(summary);
    app.start_lab_network(sc);
    app.source_done = true;
    app.refresh_sessions();
    let fw = app.engine.firewall.as_ref().unwrap();
    app.firewall.move_by(fw, 0);
    app
}

#[test]
fn the_kernel_labs_screen_marks_what_the_kernel_judged_otherwise() {
    for (w, h) in [(80, 24), (120, 40), (200, 50)] {
        let mut app = kernel_screen();
        let k = app.kernel.clone().unwrap();
        assert!(k.tally.compared > k.tally.agree && !k.differs.is_empty());
        let t = draw(&mut app, w, h);
        let s = text(&t);
        let title = format!("{}/{}", k.tally.agree, k.tally.compared);
        assert!(s.contains(&title), "{w}×{h}: {title}\n{s}");
        assert!(
            s.contains(" KERNEL LAB firewall-blocks-ssh "),
            "{w}×{h}\n{s}"
        );
        // The newest disagreement, selected: its row and its detail.
        let no = *k.differs.keys().last().unwrap();
        app.follow = false;
        app.selected = Some(no);
        app.open_detail();
        let t = draw(&mut app, w, h);
        let s = text(&t);
        let said = if w >= 200 {
            "≠ KERNEL: the simulator: Accept, the kernel: nothing (dropped)"
        } else {
            "≠ KERNEL"
        };
        assert!(s.contains(said), "{w}×{h}\n{s}");
        insta::assert_snapshot!(format!("lab_kernel_{w}x{h}"), t.backend());
        app.no_color = true;
        let t2 = draw(&mut app, w, h);
        assert_eq!(text(&t2), s, "{w}×{h}: NO_COLOR changes no character");
        insta::assert_snapshot!(format!("lab_kernel_{w}x{h}_no_color"), t2.backend());
    }
}

#[test]
fn a_disagreeing_row_is_marked_in_the_packet_list() {
    let mut app = kernel_screen();
    let no = *app.kernel.as_ref().unwrap().differs.keys().last().unwrap();
    app.follow = false;
    app.selected = Some(no.saturating_sub(1).max(1));
    let t = draw(&mut app, 200, 50);
    let s = text(&t);
    assert!(
        s.lines()
            .any(|l| l.contains("≠accept") && l.contains("→ 22") && l.contains("SYN")),
        "{s}"
    );
    // Rows the two agree on carry no mark.
    assert!(s
        .lines()
        .any(|l| l.contains(" accept ") && l.contains("→ 80")));
}
