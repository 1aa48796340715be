//! The first screen a person sees (`cargo run --release`): sessions, the starter firewall, the
//! lab and the packets, at 80×24, 120×40 and 200×50, with and without colour; what each pane
//! keeps on a small terminal; the "too small" message.

mod common;

use common::screen::{draw, screen_text as text};
use packetlab::app::keymap::Action;
use packetlab::app::state::{App, Focus, SourceKind};
use packetlab::capture::file::CaptureReader;
use packetlab::engine::Engine;
use packetlab::launch::{STARTER_NAME, STARTER_RULES};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

/// The demo capture through the starter ruleset, as the TUI opens it.
fn first_screen() -> App {
    let rs = packetlab::firewall::nft::parse(STARTER_RULES, STARTER_NAME).unwrap();
    let mut e = Engine::new(100_000);
    e.firewall = Some(packetlab::firewall::Firewall::new(
        rs,
        STARTER_NAME.into(),
        Default::default(),
    ));
    let mut app = App::new(e, SourceKind::Demo("assets/demo.pcapng".into()));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng");
    let mut r = CaptureReader::open(&path).unwrap();
    while let Some(f) = r.next_frame().unwrap() {
        app.ingest(f.to_owned());
    }
    app.engine.iface_names = vec![Some("lo".into())];
    app.starter_rules = true;
    app.lab = Some(Default::default());
    app.notice =
        Some("Demo capture, replayed at its original pace — demo requested with --demo".into());
    app.source_done = true;
    app.refresh_sessions();
    let fw = app.engine.firewall.as_ref().unwrap();
    app.firewall.move_by(fw, 0);
    app
}

/// Data rows the packet list shows: lines between its header and its bottom border.
fn packet_rows(screen: &str) -> usize {
    let lines: Vec<&str> = screen.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.contains("No.") && l.contains("Source"))
        .expect("the packet list's header");
    lines[head + 1..]
        .iter()
        .take_while(|l| !l.starts_with('└') && !l.starts_with('┗'))
        .filter(|l| l.chars().nth(1).is_some_and(|c| c.is_ascii_digit()))
        .count()
}

#[test]
fn the_four_panes_at_80x24_120x40_and_200x50() {
    for (w, h) in [(80, 24), (120, 40), (200, 50)] {
        let mut app = first_screen();
        let t = draw(&mut app, w, h);
        let s = text(&t);
        assert!(s.contains("Sessions ("), "{w}×{h}: sessions\n{s}");
        assert!(
            s.contains("starter"),
            "{w}×{h}: the firewall names the starter\n{s}"
        );
        assert!(s.contains(" Lab "), "{w}×{h}: the lab\n{s}");
        assert!(s.contains("Packets ("), "{w}×{h}: packets\n{s}");
        assert!(packet_rows(&s) >= 8, "{w}×{h}: 8 packet rows at least\n{s}");
        insta::assert_snapshot!(format!("default_{w}x{h}"), t.backend());
        // The same screen without colours: the text is the same.
        app.no_color = true;
        let t2 = draw(&mut app, w, h);
        assert_eq!(text(&t2), s, "{w}×{h}: NO_COLOR changes no character");
        insta::assert_snapshot!(format!("default_{w}x{h}_no_color"), t2.backend());
    }
}

#[test]
fn without_colour_the_selection_is_reverse_video_and_nothing_is_coloured() {
    let mut app = first_screen();
    app.no_color = true;
    app.apply(Action::FocusPane(2));
    app.apply(Action::First);
    app.apply(Action::Down);
    let t = draw(&mut app, 80, 24);
    let buf = t.backend().buffer();
    let s = text(&t);
    let row = s
        .lines()
        .position(|l| l.starts_with("┃2 ") || l.starts_with("│2 "))
        .expect("packet 2's row") as u16;
    for x in 1..70 {
        let c = &buf[(x, row)];
        assert!(
            c.modifier.contains(Modifier::REVERSED),
            "x={x} of the selected row"
        );
    }
    for y in 0..24 {
        for x in 0..80 {
            let c = &buf[(x, y)];
            assert_eq!(
                (c.fg, c.bg),
                (Color::Reset, Color::Reset),
                "({x},{y}) has no colour"
            );
        }
    }
    // In colour, the selected row has its background, and its grey tags stay readable on it.
    app.no_color = false;
    let t = draw(&mut app, 80, 24);
    let c = &t.backend().buffer()[(2, row)];
    assert_ne!(c.bg, Color::Reset);
    assert!(!c.modifier.contains(Modifier::REVERSED));
}

#[test]
fn at_80x24_an_open_packet_gives_list_detail_and_hex_three_rows_each() {
    let mut app = first_screen();
    app.apply(Action::FocusPane(2));
    app.apply(Action::Enter);
    assert!(app.detail.is_some());
    let t = draw(&mut app, 80, 24);
    let rows = packetlab::ui::layout::rows(Rect::new(0, 0, 80, 24), &app);
    assert!(
        rows.list >= 3 && rows.detail >= 3 && rows.hex >= 3,
        "{rows:?}"
    );
    let s = text(&t);
    assert!(packet_rows(&s) >= 3, "{s}");
    assert!(s.contains("detail") && s.contains("Hex"), "{s}");
    insta::assert_snapshot!("default_80x24_packet_open", t.backend());
}

#[test]
fn an_idle_lab_is_one_line_and_a_focused_one_lists_its_generators() {
    let mut app = first_screen();
    let a = packetlab::ui::layout::layout(Rect::new(0, 0, 80, 24), &app);
    assert_eq!(a.lab.map(|r| r.height), Some(1));
    app.apply(Action::Lab);
    assert_eq!(app.focus, Focus::Lab);
    let a = packetlab::ui::layout::layout(Rect::new(0, 0, 120, 40), &app);
    assert!(a.lab.unwrap().height >= 8, "{:?}", a.lab);
    let t = draw(&mut app, 120, 40);
    let s = text(&t);
    assert!(s.contains("UDP echo") && s.contains("Generator"), "{s}");
}

#[test]
fn below_60x15_the_screen_says_it_is_too_small() {
    let mut app = first_screen();
    let t = draw(&mut app, 50, 14);
    let s = text(&t);
    assert!(s.contains("terminal too small (50×14; needs 60×15)"), "{s}");
    let t = draw(&mut app, 60, 15);
    assert!(!text(&t).contains("too small"));
}

#[test]
fn resizing_keeps_the_selection() {
    let mut app = first_screen();
    app.apply(Action::FocusPane(2));
    app.apply(Action::First);
    for _ in 0..5 {
        app.apply(Action::Down);
    }
    let sel = app.selected;
    assert!(sel.is_some());
    for (w, h) in [(80, 24), (200, 50), (60, 15), (120, 40), (80, 24)] {
        let t = draw(&mut app, w, h);
        assert_eq!(app.selected, sel, "{w}×{h}");
        let no = sel.unwrap().to_string();
        let s = text(&t);
        assert!(
            s.lines().any(|l| l[3..].starts_with(&format!("{no} "))),
            "{w}×{h}: the selected packet stays in view\n{s}"
        );
    }
}

#[test]
fn space_on_a_starter_rule_changes_the_counts_in_the_title() {
    let mut app = first_screen();
    app.apply(Action::FocusPane(5));
    let title = |app: &mut App| {
        let s = text(&draw(app, 120, 40));
        s.lines()
            .find(|l| l.contains("starter rules: "))
            .map(str::to_string)
            .unwrap()
    };
    let before = title(&mut app);
    // The rule that accepts the UDP echo's port.
    while !app
        .engine
        .firewall
        .as_ref()
        .and_then(|fw| app.firewall.selected_rule(fw))
        .and_then(|id| app.engine.firewall.as_ref()?.ruleset.rule(id))
        .is_some_and(|r| r.origin.text.contains("7777"))
    {
        app.apply(Action::Down);
    }
    app.apply(Action::Space);
    let after = title(&mut app);
    assert_ne!(before, after, "the counts change");
    assert!(
        app.engine.session_verdicts.values().any(|v| v[1] > 0),
        "a session now has dropped packets"
    );
}
