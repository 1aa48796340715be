//! The charts as a person sees them: the graphs overlay (`T`) at the smallest screen it must
//! stay readable on and at a roomy one, and the session detail's rate chart, with colours and
//! under NO_COLOR (where the lines differ by their marks). Snapshots in `tests/snapshots/`.

mod common;

use common::screen::{app_with, draw, screen_text};

use common::frames;
use packetlab::app::keymap::Action;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

/// Cells drawn in `colour` whose symbol is a Braille dot pattern: the chart's lines.
fn line_cells(t: &Terminal<TestBackend>, colour: Color) -> usize {
    t.backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.fg == colour && ('\u{2801}'..='\u{28ff}').contains(&first_char(c.symbol())))
        .count()
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or(' ')
}

fn graphs(no_color: bool, w: u16, h: u16) -> (Terminal<TestBackend>, String) {
    let mut app = app_with(frames::over_seconds());
    app.no_color = no_color;
    app.apply(Action::Graphs);
    let t = draw(&mut app, w, h);
    let text = screen_text(&t);
    (t, text)
}

/// What every size of the overlay must show: the time axis, the rate axis in kB/s (the
/// download peaks at 2.46 kB/s: the axis tops at 2.5), the legend and the top talker.
fn assert_readable(text: &str) {
    for want in [
        "Throughput by protocol, last 19 s",
        "+0s",
        "+18s",
        "0 kB/s",
        "1.25 kB/s",
        "2.5 kB/s",
        "TCP",
        "UDP",
        "ICMP",
        "other",
        "Top talkers",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    let first = text
        .lines()
        .skip_while(|l| !l.contains("Top talkers"))
        .nth(1)
        .unwrap();
    assert!(
        first.contains("192.168.1.10") && first.contains('█') && first.contains("kB"),
        "the client is in every session and talks most: {first}"
    );
}

#[test]
fn graphs_at_80x24() {
    let (t, text) = graphs(false, 80, 24);
    assert_readable(&text);
    insta::assert_snapshot!("graphs_80x24", t.backend());
    for (i, c) in packetlab::ui::theme::FAMILY_COLOURS.iter().enumerate() {
        assert!(
            line_cells(&t, *c) > 0,
            "family {i} has a line in its colour"
        );
    }
}

#[test]
fn graphs_at_120x40() {
    let (t, text) = graphs(false, 120, 40);
    assert_readable(&text);
    assert!(
        text.contains("+4.5s") && text.contains("+9s") && text.contains("+13.5s"),
        "{text}"
    );
    assert!(
        text.contains("(peak 2.5 kB/s)"),
        "the legend gives TCP's peak: {text}"
    );
    // Ten talkers of the fifteen addresses, no more.
    let bars = text
        .lines()
        .filter(|l| l.contains('█') || l.contains('▏'))
        .count();
    assert!(bars >= 10, "{text}");
    let talkers = text
        .lines()
        .skip_while(|l| !l.contains("Top talkers"))
        .skip(1)
        .take_while(|l| l.contains(" B ") || l.contains("kB"))
        .count();
    assert_eq!(talkers, 10, "{text}");
    insta::assert_snapshot!("graphs_120x40", t.backend());
}

#[test]
fn graphs_without_colours_mark_each_line() {
    for (w, h) in [(80, 24), (120, 40)] {
        let (t, text) = graphs(true, w, h);
        assert_readable(&text);
        let coloured = t
            .backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count();
        assert_eq!(coloured, 0, "no cell keeps a colour");
        // The legend shows each family's mark, and the plot draws with it.
        for (mark, name) in packetlab::ui::theme::FAMILY_MARKS
            .iter()
            .zip(packetlab::throughput::FAMILIES)
        {
            assert!(
                text.contains(&format!("{mark}{mark} {name}")),
                "{name}:\n{text}"
            );
        }
        let plot: String = text
            .lines()
            .skip(4)
            .take_while(|l| !l.contains("Top talkers"))
            .collect();
        for mark in ['*', '+', 'x'] {
            assert!(plot.contains(mark), "{mark} drawn:\n{text}");
        }
        insta::assert_snapshot!(format!("graphs_no_color_{w}x{h}"), t.backend());
    }
}

#[test]
fn graphs_of_one_second_say_no_traffic_yet() {
    let mut app = app_with(frames::sample());
    app.apply(Action::Graphs);
    let t = draw(&mut app, 80, 24);
    let text = screen_text(&t);
    assert!(text.contains("no traffic yet"), "{text}");
    assert!(!text.contains("kB/s"), "no empty axes: {text}");
    let mut app = app_with(Vec::new());
    app.apply(Action::Graphs);
    let text = screen_text(&draw(&mut app, 80, 24));
    assert!(
        text.contains("no traffic yet") && text.contains("no sessions yet"),
        "{text}"
    );
}

fn session_detail(no_color: bool) -> (Terminal<TestBackend>, String) {
    let mut app = app_with(frames::over_seconds());
    app.no_color = no_color;
    app.apply(Action::FocusPane(1));
    app.apply(Action::First); // the download, the first session to start
    app.apply(Action::Enter);
    let t = draw(&mut app, 160, 40);
    let text = screen_text(&t);
    (t, text)
}

#[test]
fn session_detail_charts_each_direction() {
    let (t, text) = session_detail(false);
    assert!(text.contains("Session 0"), "{text}");
    // The server's segments: 2 × (54 + 1,200) bytes in second 8.
    for want in [
        "A → B",
        "B → A",
        "bytes/s, its last 16 s",
        "+1s",
        "+16s",
        "2.5 kB/s",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    for (i, c) in packetlab::ui::theme::DIR_COLOURS.iter().enumerate() {
        assert!(
            line_cells(&t, *c) > 0,
            "direction {i} has a line in its colour"
        );
    }
    insta::assert_snapshot!("session_detail_rate_chart", t.backend());
    let (t, text) = session_detail(true);
    assert!(
        text.contains(">> A → B") && text.contains("<< B → A"),
        "{text}"
    );
    insta::assert_snapshot!("session_detail_rate_chart_no_color", t.backend());
}

#[test]
fn top_talkers_show_names_when_asked() {
    let mut f = frames::sample();
    f.push(frames::dns_response()); // example.org is 192.168.1.20
    let mut app = app_with(f);
    app.apply(Action::Graphs);
    let text = screen_text(&draw(&mut app, 100, 30));
    assert!(text.contains(" 192.168.1.20 "), "{text}");
    app.show_names = true;
    let text = screen_text(&draw(&mut app, 100, 30));
    assert!(
        text.contains(" example.org ") && !text.contains(" 192.168.1.20 "),
        "{text}"
    );
}

#[test]
fn charts_fit_small_screens_without_panicking() {
    for (w, h) in [(8, 4), (20, 6), (40, 10), (60, 14), (80, 24)] {
        let (_, text) = graphs(false, w, h);
        assert_eq!(text.lines().count(), h as usize);
        let mut app = app_with(frames::over_seconds());
        app.apply(Action::FocusPane(1));
        app.apply(Action::First);
        app.apply(Action::Enter);
        draw(&mut app, w, h);
    }
}
