//! The panes as a person sees them, rendered with ratatui's `TestBackend` and compared with
//! reviewed snapshots (`tests/snapshots/`). Styles that text snapshots cannot show (the hex
//! highlight) are asserted cell by cell.

mod common;

use common::screen::{app_with, draw, screen_text};

use common::frames;
use packetlab::app::keymap::Action;
use packetlab::app::state::{App, SourceKind};
use packetlab::engine::Engine;
use ratatui::layout::Rect;
use ratatui::style::Color;

#[test]
fn capture_pane() {
    let mut app = app_with(frames::sample());
    let t = draw(&mut app, 120, 16);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn capture_pane_browsing_keeps_selection() {
    let mut app = app_with(frames::sample());
    app.apply(Action::First);
    app.apply(Action::Down);
    app.apply(Action::Down);
    let t = draw(&mut app, 120, 16);
    assert_eq!(app.selected, Some(3));
    assert!(!app.follow);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn detail_tree_and_hex_with_highlight() {
    let mut app = app_with(frames::sample());
    app.apply(Action::First);
    app.apply(Action::Down); // packet 2: the DNS query
    app.apply(Action::Enter);
    app.apply(Action::Down); // first field of the DNS layer: its transaction ID
    let t = draw(&mut app, 160, 34);
    insta::assert_snapshot!(t.backend());
    // The transaction ID is bytes 42..44 of the frame: 0xbe 0xef, highlighted in the hex.
    let d = app.detail.as_ref().unwrap();
    assert_eq!(d.tree.nodes[d.cursor].range, 42..44);
    let text = screen_text(&t);
    let buf = t.backend().buffer();
    let row = text.lines().position(|l| l.contains("0020  ")).unwrap() as u16;
    let line = text.lines().nth(row as usize).unwrap();
    let col = line.find("be ef").unwrap();
    let x = line[..col].chars().count() as u16;
    for dx in [0u16, 1, 3, 4] {
        assert_eq!(
            buf[(x + dx, row)].bg,
            Color::Yellow,
            "hex byte of the field is highlighted"
        );
    }
    assert_ne!(buf[(x + 6, row)].bg, Color::Yellow, "the next byte is not");
}

#[test]
fn detail_layers_fold_and_unfold() {
    let mut app = app_with(frames::sample());
    app.apply(Action::First);
    app.apply(Action::Enter);
    let d = app.detail.as_ref().unwrap();
    let before = d.visible().len();
    app.apply(Action::Enter); // fold the open (innermost) layer
    let after = app.detail.as_ref().unwrap().visible().len();
    assert!(
        after < before,
        "folding hides the layer's fields ({before} → {after})"
    );
    let t = draw(&mut app, 160, 30);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn status_bar_counts_drops_and_evictions() {
    let mut e = Engine::new(3);
    for f in frames::sample() {
        e.ingest(f);
    }
    let mut app = App::new(e, SourceKind::Live(vec!["lo".into()]));
    app.channel_drops = 12;
    app.kernel_drops = 3;
    let t = draw(&mut app, 140, 16);
    let text = screen_text(&t);
    let status = text.lines().last().unwrap();
    assert!(status.contains("LIVE lo"), "{status}");
    assert!(status.contains("9 pkts"), "{status}");
    assert!(status.contains("12 channel, 3 kernel"), "{status}");
    assert!(status.contains("kept last 3 (6 evicted)"), "{status}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = app_with(frames::sample());
    app.apply(Action::ToggleHelp);
    let t = draw(&mut app, 120, 24);
    let text = screen_text(&t);
    for (k, _) in packetlab::app::keymap::KEYS {
        assert!(text.contains(k), "help lists {k}");
    }
    insta::assert_snapshot!(t.backend());
    app.apply(Action::Down);
    assert!(app.show_help, "j scrolls the help, it does not close it");
    app.apply(Action::Escape);
    assert!(!app.show_help, "Esc closes the help");
    app.apply(Action::ToggleHelp);
    press(&mut app, crossterm::event::KeyCode::Char('q'));
    assert!(!app.show_help && !app.quit, "q closes the help");
    app.apply(Action::ToggleHelp);
    app.apply(Action::SortNext);
    assert!(!app.show_help, "another key closes the help");
}

#[test]
fn help_on_a_short_screen_scrolls_instead_of_cutting_lines() {
    let mut app = app_with(frames::sample());
    app.apply(Action::ToggleHelp);
    let text = screen_text(&draw(&mut app, 80, 16));
    let keys = packetlab::app::keymap::KEYS;
    assert!(text.contains(keys[0].1), "{text}");
    assert!(text.contains("j/k PgDn/PgUp scroll (1-12 of"), "{text}");
    // The lab's scenario row is near the end: below the fold at first.
    let late = keys[keys.len() - 3].1;
    assert!(!text.contains(late), "{text}");
    app.apply(Action::PageDown);
    app.apply(Action::PageDown);
    app.apply(Action::PageDown);
    let text = screen_text(&draw(&mut app, 80, 16));
    assert!(
        text.contains(keys[keys.len() - 1].1),
        "the last key is reached: {text}"
    );
    assert!(!text.contains(keys[0].1), "{text}");
}

#[test]
fn a_key_the_config_binds_replaces_the_built_in_one_in_use_and_in_the_help() {
    let mut app = app_with(frames::sample());
    app.keymap.insert('Q', Action::Quit);
    app.keymap.insert('E', Action::Explain);
    press(&mut app, crossterm::event::KeyCode::Char('x'));
    assert!(app.explain.is_none(), "x no longer explains");
    press(&mut app, crossterm::event::KeyCode::Char('E'));
    assert!(app.explain.is_some(), "E explains");
    app.explain = None;
    press(&mut app, crossterm::event::KeyCode::Char('q'));
    assert!(!app.quit, "q no longer quits");
    app.apply(Action::ToggleHelp);
    let text = screen_text(&draw(&mut app, 160, 44));
    assert!(text.contains("Q / Ctrl-C"), "{text}");
    assert!(!text.contains("q / Ctrl-C"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(" E ") && l.contains("explain the selected")),
        "{text}"
    );
    app.apply(Action::Escape);
    press(&mut app, crossterm::event::KeyCode::Char('Q'));
    assert!(app.quit, "Q quits");
}

#[test]
fn d_asks_before_deleting_and_u_puts_the_rule_back() {
    use crossterm::event::KeyCode;
    let mut app = app_with_rules(RULES);
    app.apply(Action::FocusPane(5));
    app.apply(Action::Down); // line 5: udp dport 53 counter accept
    let rules = |app: &App| {
        app.engine.firewall.as_ref().unwrap().ruleset.tables[0].chains[0]
            .rules
            .len()
    };
    press(&mut app, KeyCode::Char('d'));
    let text = screen_text(&draw(&mut app, 160, 44));
    assert!(
        text.contains("delete rule 5? y/n — udp dport 53 counter accept"),
        "{text}"
    );
    assert_eq!(rules(&app), 4, "nothing deleted before y");
    press(&mut app, KeyCode::Char('n'));
    assert_eq!(rules(&app), 4, "n keeps the rule");
    assert!(app.confirm_delete.is_none());
    assert!(!screen_text(&draw(&mut app, 160, 44)).contains("y/n"));
    press(&mut app, KeyCode::Char('d'));
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(rules(&app), 3, "y deletes it");
    assert_eq!(
        app.engine.firewall.as_ref().unwrap().verdicts,
        [7, 1, 0],
        "DNS now dropped"
    );
    press(&mut app, KeyCode::Char('u'));
    assert_eq!(rules(&app), 4, "u brings it back");
    let fw = app.engine.firewall.as_ref().unwrap();
    assert_eq!(
        fw.ruleset.tables[0].chains[0].rules[1].origin.text,
        "udp dport 53 counter accept"
    );
    assert_eq!(fw.verdicts, [8, 0, 0]);
}

#[test]
fn demo_notice_is_shown() {
    let mut app = app_with(frames::sample());
    app.source = SourceKind::Demo("assets/demo.pcapng".into());
    app.notice = Some("Demo capture assets/demo.pcapng — live capture is not permitted; to enable it: sudo setcap cap_net_raw,cap_net_admin=eip packetlab".into());
    let t = draw(&mut app, 160, 16);
    let text = screen_text(&t);
    assert!(text.contains("sudo setcap cap_net_raw,cap_net_admin=eip"));
    assert!(text.contains("DEMO"));
}

#[test]
fn escape_sequences_from_the_wire_are_harmless_text() {
    let mut app = app_with(frames::hostile());
    app.apply(Action::First);
    app.apply(Action::Enter);
    let t = draw(&mut app, 160, 30);
    let text = screen_text(&t);
    assert!(!text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{9b}'));
    assert!(
        text.contains("\\x1b[2J\\x1b]0;pwned\\x07.evil"),
        "the DNS name shows its escapes as text"
    );
    insta::assert_snapshot!(t.backend());
    // The payload of the second packet shows only as hex and dots.
    app.apply(Action::Escape);
    app.apply(Action::Down);
    app.apply(Action::Enter);
    let t = draw(&mut app, 160, 30);
    let text = screen_text(&t);
    assert!(!text.contains('\x1b') && !text.contains('\r'));
    insta::assert_snapshot!("escape_payload_hex", t.backend());
}

#[test]
fn sessions_pane_sorted_two_ways() {
    let mut app = app_with(frames::sample());
    app.apply(Action::FocusPane(1));
    // Default order: creation (DNS first, then the TCP connection, then the ping).
    let t = draw(&mut app, 150, 30);
    let text = screen_text(&t);
    let order = |text: &str| -> Vec<&'static str> {
        let mut v: Vec<(usize, &'static str)> = ["UDP ", "TCP ", "ICMP "]
            .iter()
            .filter_map(|p| text.find(&format!("┃{p}")).map(|i| (i, *p)))
            .collect();
        v.sort();
        v.into_iter().map(|x| x.1).collect()
    };
    assert_eq!(order(&text), ["UDP ", "TCP ", "ICMP "]);
    insta::assert_snapshot!("sessions_by_start", t.backend());
    // s cycles the sort column: start → proto → A → B → state → process → pkts A→B → … → bytes.
    for _ in 0..8 {
        app.apply(Action::SortNext);
    }
    assert_eq!(app.sessions.sort.name(), "bytes");
    let t = draw(&mut app, 150, 30);
    let text = screen_text(&t);
    assert_eq!(order(&text), ["TCP ", "ICMP ", "UDP "], "biggest first");
    insta::assert_snapshot!("sessions_by_bytes", t.backend());
    app.apply(Action::SortReverse);
    let t = draw(&mut app, 150, 30);
    assert_eq!(
        order(&screen_text(&t)),
        ["UDP ", "ICMP ", "TCP "],
        "reversed"
    );
}

#[test]
fn session_detail_and_jump_to_its_packets() {
    let mut app = app_with(frames::sample());
    app.apply(Action::FocusPane(1));
    app.apply(Action::Down); // the TCP session
    app.apply(Action::Enter);
    let t = draw(&mut app, 160, 40);
    let text = screen_text(&t);
    assert!(text.contains("Session 1"), "{text}");
    assert!(text.contains("RESET"), "the connection ended with a RST");
    assert!(
        text.contains("192.168.1.20:80 http (private LAN)"),
        "{text}"
    );
    assert!(
        text.contains("SYN_SENT") && text.contains("ESTABLISHED"),
        "state changes listed"
    );
    insta::assert_snapshot!(t.backend());
    app.apply(Action::Jump);
    let t = draw(&mut app, 160, 40);
    let text = screen_text(&t);
    assert!(text.contains("Packets of session 1 (5 of 9)"), "{text}");
    assert!(!text.contains("Who has"), "other packets are hidden");
    app.apply(Action::Escape);
    app.apply(Action::Escape);
    assert!(app.packet_filter.is_none());
    // From a packet back to its session.
    app.apply(Action::FocusPane(2));
    app.apply(Action::First);
    app.apply(Action::Down); // the DNS query
    app.apply(Action::Jump);
    assert_eq!(app.focus, packetlab::app::state::Focus::Sessions);
    assert_eq!(app.sessions.selected, Some(0));
}

#[test]
fn combined_layout_with_everything_open() {
    let mut app = app_with(frames::sample());
    app.apply(Action::First);
    app.apply(Action::Down);
    app.apply(Action::Enter);
    app.apply(Action::FocusPane(1));
    app.apply(Action::Enter);
    let t = draw(&mut app, 180, 50);
    let text = screen_text(&t);
    for title in [
        "Sessions (3)",
        "Session 0",
        "Packets (9)",
        "Packet 2 detail",
        "Hex (71 bytes",
    ] {
        assert!(text.contains(title), "{title} shown:\n{text}");
    }
    insta::assert_snapshot!(t.backend());
    app.apply(Action::Maximize);
    let t = draw(&mut app, 180, 50);
    let text = screen_text(&t);
    assert!(
        text.contains("Sessions (3)") && !text.contains("Packets (9)"),
        "maximised"
    );
}

fn app_with_rules(rules: &str) -> App {
    let rs = packetlab::firewall::nft::parse(rules, "t.nft").unwrap();
    let mut e = Engine::new(1000);
    e.firewall = Some(packetlab::firewall::Firewall::new(
        rs,
        "t.nft".into(),
        packetlab::firewall::Locality::default(),
    ));
    let mut app = App::new(e, SourceKind::File("sample.pcap".into()));
    for f in frames::sample() {
        app.ingest(f);
    }
    app.source_done = true;
    app.refresh_sessions();
    let fw = app.engine.firewall.as_ref().unwrap();
    app.firewall.move_by(fw, 0);
    app
}

const RULES: &str = "table inet filter {\n\
    chain input {\n\
        type filter hook input priority 0; policy drop;\n\
        ct state established,related accept\n\
        udp dport 53 counter accept\n\
        tcp dport 80 ct state new counter accept\n\
        icmp type echo-request accept\n\
    }\n\
}\n";

#[test]
fn firewall_pane_toggle_recounts_and_recolours() {
    let mut app = app_with_rules(RULES);
    app.apply(Action::FocusPane(5));
    let t = draw(&mut app, 160, 44);
    let text = screen_text(&t);
    assert!(
        text.contains("Firewall t.nft — 8 accepted, 0 dropped, 0 rejected"),
        "{text}"
    );
    assert!(text.contains("Verdict"), "the packet list shows verdicts");
    insta::assert_snapshot!("firewall_all_accepted", t.backend());
    // Disable "tcp dport 80 … accept": the connection's SYN now falls to the drop policy; with
    // no connection tracked, the SYN-ACK and the RST are invalid and the ACKs new: all dropped.
    // (ARP meets no IP hook: 8 of the 9 packets are judged.)
    app.apply(Action::Down);
    app.apply(Action::Down);
    app.apply(Action::Space);
    let t = draw(&mut app, 160, 44);
    let text = screen_text(&t);
    assert!(
        text.contains("[ ]   6  tcp dport 80 ct state new counter accept"),
        "the rule is shown disabled:\n{text}"
    );
    assert!(
        text.contains("Firewall t.nft — 3 accepted, 5 dropped, 0 rejected"),
        "{text}"
    );
    // Verdict colours: a dropped packet's verdict cell is red.
    let buf = t.backend().buffer();
    let row = text
        .lines()
        .position(|l| l.contains("51000 → 80 [SYN]"))
        .unwrap() as u16;
    let line = text.lines().nth(row as usize).unwrap();
    let x = line[..line.find(" drop ").unwrap() + 1].chars().count() as u16;
    assert_eq!(buf[(x, row)].fg, Color::LightRed);
    insta::assert_snapshot!("firewall_rule_disabled", t.backend());
    // The session it belongs to shows its dropped packets.
    assert!(text.contains("✘5"), "{text}");
}

#[test]
fn explain_trace_in_the_packet_detail() {
    let mut app = app_with_rules(RULES);
    app.apply(Action::FocusPane(2));
    app.apply(Action::First);
    app.apply(Action::Down);
    app.apply(Action::Down); // packet 3: the SYN to port 80
    app.apply(Action::Enter);
    let d = app.detail.as_ref().unwrap();
    let texts: Vec<&str> = d.tree.nodes.iter().map(|n| n.text.as_str()).collect();
    let fw_at = texts
        .iter()
        .position(|t| t.starts_with("Firewall: ACCEPT by line 6"))
        .expect("firewall layer");
    let trace = &texts[fw_at..];
    assert!(trace.contains(&"ct state: new"), "{trace:?}");
    assert!(
        trace.contains(&"hook input: chain inet filter input"),
        "{trace:?}"
    );
    assert!(
        trace
            .iter()
            .any(|t| t
                .starts_with("✘ line 4: ct state established,related accept  (ct state is new)")),
        "{trace:?}"
    );
    assert!(
        trace.iter().any(|t| t.starts_with(
            "✘ line 5: udp dport 53 counter accept  (udp dport: the packet has none)"
        )),
        "{trace:?}"
    );
    assert!(
        trace
            .iter()
            .any(|t| t.starts_with("✔ line 6: tcp dport 80 ct state new counter accept")),
        "{trace:?}"
    );
    // Open the firewall layer and show it.
    let layer = fw_at;
    if let Some(d) = app.detail.as_mut() {
        d.collapsed.clear();
        d.cursor = layer;
        d.scroll = d.visible().iter().position(|&i| i == layer).unwrap();
    }
    let t = draw(&mut app, 160, 50);
    insta::assert_snapshot!(t.backend());
}

fn type_text(app: &mut App, text: &str) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    for c in text.chars() {
        app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

fn press(app: &mut App, code: crossterm::event::KeyCode) {
    app.on_key(crossterm::event::KeyEvent::new(
        code,
        crossterm::event::KeyModifiers::NONE,
    ));
}

#[test]
fn rule_editor_validates_live_and_applies() {
    use crossterm::event::KeyCode;
    let mut app = app_with_rules(RULES);
    app.apply(Action::FocusPane(5));
    app.apply(Action::Down); // line 5: udp dport 53 counter accept
    app.apply(Action::AddRule);
    type_text(&mut app, "tcp dport 8O accept");
    let err = app.rule_editor.as_ref().unwrap().error.clone();
    assert_eq!(
        err.as_deref(),
        Some("col 11: '8O' is not a port or service name")
    );
    let t = draw(&mut app, 160, 44);
    insta::assert_snapshot!("rule_editor_error", t.backend());
    press(&mut app, KeyCode::Enter);
    assert!(app.rule_editor.is_some(), "an invalid rule is not applied");
    for _ in 0..9 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "80 drop");
    assert_eq!(app.rule_editor.as_ref().unwrap().error, None);
    press(&mut app, KeyCode::Enter);
    assert!(app.rule_editor.is_none());
    // The new rule now drops the web connection's packets to port 80 (SYN, ACK, data, RST: 4)
    // and, the SYN gone, the SYN-ACK is invalid and falls to the policy.
    let fw = app.engine.firewall.as_ref().unwrap();
    assert_eq!(fw.verdicts, [3, 5, 0]);
    let t = draw(&mut app, 160, 44);
    let text = screen_text(&t);
    assert!(
        text.lines()
            .any(|l| l.contains("[x] new  tcp dport 80 drop")
                && l.contains(" 4 pkts")
                && l.contains("187 B")),
        "{text}"
    );
    // Deleting it (d, then y) brings the old verdicts back.
    app.apply(Action::DeleteRule);
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(app.engine.firewall.as_ref().unwrap().verdicts, [8, 0, 0]);
}

#[test]
fn packet_list_filtered_by_verdict() {
    let mut app = app_with_rules(RULES.replace("tcp dport 80", "tcp dport 81").as_str());
    app.apply(Action::CycleVerdictFilter); // accepted
    assert_eq!(app.view_len(), 3);
    app.apply(Action::CycleVerdictFilter); // dropped
    assert_eq!(app.view_len(), 5);
    let t = draw(&mut app, 160, 44);
    let text = screen_text(&t);
    assert!(
        text.contains("Packets with verdict drop (5 of 9)"),
        "{text}"
    );
    assert!(
        !text.contains("Standard query"),
        "the accepted DNS query is hidden"
    );
    app.apply(Action::CycleVerdictFilter); // rejected: none
    assert_eq!(app.view_len(), 0);
    app.apply(Action::CycleVerdictFilter); // all
    assert!(app.packet_filter.is_none());
    assert_eq!(app.view_len(), 9);
}

#[test]
fn sessions_filtered_by_verdict() {
    let mut app = app_with_rules(RULES.replace("tcp dport 80", "tcp dport 81").as_str());
    app.apply(Action::FocusPane(1));
    app.apply(Action::EditFilter);
    type_text(&mut app, "drop");
    press(&mut app, crossterm::event::KeyCode::Enter);
    assert_eq!(
        app.sessions.rows,
        vec![1],
        "only the TCP session had packets dropped"
    );
}

#[test]
fn explanation_of_a_dropped_syn() {
    let mut app = app_with_rules(RULES.replace("tcp dport 80", "tcp dport 81").as_str());
    app.apply(Action::FocusPane(2));
    app.apply(Action::First);
    app.apply(Action::Down);
    app.apply(Action::Down); // packet 3: the SYN, dropped by the policy
    app.apply(Action::Explain);
    let (title, paras) = app.explain.clone().expect("an explanation");
    assert!(title.starts_with("Packet 3: 51000 → 80 [SYN]"), "{title}");
    let text = paras.join("\n");
    for want in [
        "three-way handshake",
        "Private LAN",
        "ct state new",
        "silently thrown away",
        "Chain policy",
    ] {
        assert!(text.contains(want), "explains {want:?}:\n{text}");
    }
    let t = draw(&mut app, 120, 44);
    insta::assert_snapshot!(t.backend());
    app.apply(Action::Down);
    assert!(app.explain.is_none(), "any key closes it");
}

#[test]
fn lab_pane() {
    let mut app = app_with(frames::sample());
    // The lab as the loop shows it before any generator ran.
    app.lab = Some(Default::default());
    app.apply(Action::FocusPane(6));
    app.apply(Action::Down);
    let t = draw(&mut app, 160, 44);
    let text = screen_text(&t);
    for k in packetlab::lab::GeneratorKind::ALL {
        let name: String = k.name().chars().take(18).collect();
        assert!(text.contains(&name), "the lab lists {name}:\n{text}");
    }
    assert!(
        text.contains("Lab — 10 msg/s, 64 B payload, lossy link 10 % loss"),
        "{text}"
    );
    insta::assert_snapshot!(t.backend());
    // Tuning: + doubles the rate, ) adds 5 % loss.
    app.apply(Action::Faster);
    let fx = app.apply(Action::MoreLoss);
    let s = app.lab.as_ref().unwrap().settings.clone();
    assert_eq!((s.rate_per_sec, s.loss_pct), (20, 15.0));
    assert!(
        matches!(&fx[..], [packetlab::app::Effect::Lab(packetlab::app::LabCmd::Settings(t))] if *t == s),
        "the lab is told the new settings: {fx:?}"
    );
}

#[test]
fn display_filter_bar_validates_and_filters() {
    use crossterm::event::KeyCode;
    let mut app = app_with(frames::sample());
    app.apply(Action::FocusPane(2));
    app.apply(Action::EditFilter);
    type_text(&mut app, "tcp.prot == 80");
    let err = app
        .filter_bar
        .as_ref()
        .unwrap()
        .error
        .clone()
        .expect("an error");
    assert_eq!(err.pos, 0, "{err}");
    assert!(err.msg.contains("tcp.prot"), "{err}");
    let t = draw(&mut app, 120, 30);
    let text = screen_text(&t);
    assert!(text.contains("filter: tcp.prot == 80"), "{text}");
    insta::assert_snapshot!("filter_bar_error", t.backend());
    press(&mut app, KeyCode::Enter);
    assert!(app.filter_bar.is_some(), "an invalid filter is not applied");
    for _ in 0.."prot == 80".len() {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "port == 80 && tcp.flags.syn == 1");
    assert_eq!(app.filter_bar.as_ref().unwrap().error, None);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view_len(), 2, "the SYN and the SYN-ACK");
    let t = draw(&mut app, 120, 30);
    let text = screen_text(&t);
    assert!(
        text.contains("showing 2 of 9 (tcp.port == 80"),
        "the status bar counts: {text}"
    );
    // History: the bar reopens with the filter; Up recalls it after clearing.
    app.apply(Action::EditFilter);
    for _ in 0..40 {
        press(&mut app, KeyCode::Backspace);
    }
    press(&mut app, KeyCode::Enter);
    assert!(
        app.packet_filter.is_none() && app.view_len() == 9,
        "an empty filter shows all"
    );
    app.apply(Action::EditFilter);
    press(&mut app, KeyCode::Up);
    assert_eq!(
        app.filter_bar.as_ref().unwrap().text,
        "tcp.port == 80 && tcp.flags.syn == 1"
    );
}

#[test]
fn search_moves_to_matches_without_hiding_rows() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = app_with(frames::sample());
    app.apply(Action::FocusPane(2));
    app.apply(Action::First);
    app.on_key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL));
    assert!(app.filter_bar.as_ref().is_some_and(|b| b.search));
    type_text(&mut app, "tcp.flags.syn == 1");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.selected, Some(3), "the first SYN");
    app.apply(Action::SearchNext);
    assert_eq!(app.selected, Some(4), "the SYN-ACK");
    app.apply(Action::SearchNext);
    assert_eq!(app.selected, Some(3), "wraps around");
    app.apply(Action::SearchPrev);
    assert_eq!(app.selected, Some(4));
    assert_eq!(app.view_len(), 9, "nothing is hidden");
    let t = draw(&mut app, 120, 30);
    // The matches are underlined; the others are not.
    let text = screen_text(&t);
    let buf = t.backend().buffer();
    let row_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() as u16;
    let underlined = |y: u16| {
        buf[(3, y)]
            .modifier
            .contains(ratatui::style::Modifier::UNDERLINED)
    };
    assert!(underlined(row_of("51000 → 80 [SYN]")));
    assert!(!underlined(row_of("Who has")));
    insta::assert_snapshot!(t.backend());
    // Plain text (not a filter) searches the Info column; in the sessions pane, the rows.
    app.on_key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL));
    for _ in 0..30 {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "Echo (ping) reply");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.selected, Some(8));
}

#[test]
fn follow_view_shows_the_conversation() {
    let mut app = app_with(frames::sample());
    app.apply(Action::FocusPane(1));
    app.apply(Action::Down); // the TCP session
    app.apply(Action::Follow);
    let v = app.follow_view.as_ref().expect("the follow view");
    assert_eq!(
        v.follower.bytes(packetlab::follow::Dir::AtoB),
        b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"
    );
    let t = draw(&mut app, 120, 30);
    let text = screen_text(&t);
    assert!(
        text.contains("Follow session 1: A → B 27 bytes, B → A 0 bytes"),
        "{text}"
    );
    assert!(
        text.contains("GET / HTTP/1.1\\r"),
        "text with escapes: {text}"
    );
    insta::assert_snapshot!("follow_text", t.backend());
    press(&mut app, crossterm::event::KeyCode::Char('h'));
    let t = draw(&mut app, 120, 30);
    assert!(
        screen_text(&t).contains("000000  47 45 54 20 2f 20 48 54"),
        "hex view"
    );
    press(&mut app, crossterm::event::KeyCode::Esc);
    assert!(app.follow_view.is_none());
}

#[test]
fn no_color_keeps_the_layout_without_colours() {
    let mut app = app_with(frames::sample());
    app.no_color = true; // what NO_COLOR=1 in the environment sets at start
    let t = draw(&mut app, 120, 20);
    let buf = t.backend().buffer();
    let coloured = buf
        .content()
        .iter()
        .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
        .count();
    assert_eq!(coloured, 0, "no cell keeps a colour");
    assert!(screen_text(&t).contains("Packets (9)"));
}

#[test]
fn graphs_show_throughput_and_top_talkers() {
    let mut app = app_with(frames::sample());
    app.apply(Action::Graphs);
    let t = draw(&mut app, 120, 40);
    let text = screen_text(&t);
    // All 9 frames fall in one second: too little for a line (tests/ui_graphs.rs has the
    // charts), but the talkers are there.
    for want in [
        "no traffic yet",
        "502 B in one second so far",
        "Top talkers",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    // 192.168.1.10 is in every session: 297 + 71 + 92 = 460 bytes.
    let first = text
        .lines()
        .skip_while(|l| !l.contains("Top talkers"))
        .nth(1)
        .unwrap();
    assert!(
        first.contains("192.168.1.10") && first.contains("460 B"),
        "{first}"
    );
    insta::assert_snapshot!(t.backend());
    app.apply(Action::Down);
    assert!(!app.show_graphs, "any key closes it");
}

#[test]
fn interface_picker() {
    use packetlab::app::state::{Picker, PickerItem};
    let mut app = app_with(frames::sample());
    app.picker = Some(Picker {
        items: vec![
            PickerItem {
                name: "lo".into(),
                up: true,
                addrs: vec!["127.0.0.1/8".into(), "::1/128".into()],
            },
            PickerItem {
                name: "eth0".into(),
                up: true,
                addrs: vec!["192.0.2.10/24".into()],
            },
            PickerItem {
                name: "wlan0".into(),
                up: false,
                addrs: vec![],
            },
        ],
        selected: 0,
    });
    press(&mut app, crossterm::event::KeyCode::Down);
    let t = draw(&mut app, 120, 30);
    insta::assert_snapshot!(t.backend());
    let e = app.on_key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    ));
    assert!(
        matches!(&e[..], [packetlab::app::Effect::Capture(name)] if name == "eth0"),
        "Enter asks the loop to capture on eth0: {e:?}"
    );
    assert!(app.picker.is_none());
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    use packetlab::app::update::mouse::Mouse;
    use packetlab::ui::layout::pane_at;
    let mut app = app_with(frames::sample());
    let area = Rect::new(0, 0, 120, 40);
    let t = draw(&mut app, 120, 40);
    let text = screen_text(&t);
    // Click on packet 4's row.
    let y = text
        .lines()
        .position(|l| l.contains("80 → 51000 [SYN, ACK]"))
        .unwrap() as u16;
    let click = |app: &packetlab::app::App, y| {
        let (pane, row) = pane_at(area, app, 10, y).expect("a pane there");
        Mouse::Click { pane, row }
    };
    app.on_mouse(click(&app, y));
    assert_eq!(app.focus, packetlab::app::state::Focus::List);
    assert_eq!(app.selected, Some(4));
    let (pane, _) = pane_at(area, &app, 10, y).unwrap();
    app.on_mouse(Mouse::Scroll { pane, lines: 3 });
    assert_eq!(app.selected, Some(7), "the wheel moves three rows");
    // A click in the sessions pane focuses it and selects the row.
    let y = text
        .lines()
        .position(|l| l.contains("ICMP  192.168.1.10"))
        .unwrap() as u16;
    app.on_mouse(click(&app, y));
    assert_eq!(app.focus, packetlab::app::state::Focus::Sessions);
    assert_eq!(app.sessions.selected, Some(2));
}

#[test]
fn names_from_dns_answers_replace_addresses_when_asked() {
    let mut fr = frames::sample();
    fr.insert(2, frames::dns_response());
    let mut app = app_with(fr);
    assert_eq!(
        app.engine
            .names
            .names
            .get(&"192.168.1.20".parse().unwrap())
            .map(String::as_str),
        Some("example.org"),
        "learned from the response's A record"
    );
    let t = draw(&mut app, 140, 30);
    assert!(
        !screen_text(&t).contains("example.org:80"),
        "addresses by default"
    );
    app.apply(Action::Names);
    let t = draw(&mut app, 140, 30);
    let text = screen_text(&t);
    assert!(
        text.contains("example.org:80 http"),
        "the session's B by name: {text}"
    );
    assert!(
        text.contains("example.org "),
        "the packet list by name: {text}"
    );
}

#[test]
fn config_keys_and_columns() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = app_with(frames::sample());
    // [keys] quit = "Q", graphs = "g" (g no longer goes to the first row).
    app.keymap.insert('Q', packetlab::app::keymap::Action::Quit);
    app.keymap
        .insert('g', packetlab::app::keymap::Action::Graphs);
    app.on_key(KeyEvent::new(KeyCode::Char('g'), KeyModifiers::NONE));
    assert!(app.show_graphs, "g is bound to the graphs");
    app.on_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)); // closes them
    app.on_key(KeyEvent::new(KeyCode::Char('Q'), KeyModifiers::NONE));
    assert!(app.quit);
    // [ui] columns = ["No.", "Source", "Info"]
    let mut app = app_with(frames::sample());
    app.columns = Some(vec!["No.".into(), "Source".into(), "Info".into()]);
    let t = draw(&mut app, 120, 30);
    let text = screen_text(&t);
    let header = text.lines().find(|l| l.contains("No.")).unwrap();
    assert!(
        header.contains("Source") && header.contains("Info"),
        "{header}"
    );
    assert!(
        !header.contains("Destination") && !header.contains("Protocol") && !header.contains("Time"),
        "{header}"
    );
}

#[test]
fn display_filter_applies_to_the_sessions_pane_too() {
    use crossterm::event::KeyCode;
    let mut app = app_with(frames::sample());
    assert_eq!(app.sessions.rows.len(), 3);
    app.apply(Action::FocusPane(2));
    app.apply(Action::EditFilter);
    type_text(&mut app, "icmp");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        app.sessions.rows,
        vec![2],
        "only the ICMP session has matching packets"
    );
    app.apply(Action::EditFilter);
    for _ in 0..4 {
        press(&mut app, KeyCode::Backspace);
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.sessions.rows.len(), 3, "all sessions again");
}

/// A ruleset as real files are: a NAT chain (shown, not simulated), a rate limit (modelled,
/// ≈), a rule packetlab cannot simulate (red, counted in the title), and the verdicts they
/// take part in marked ≈ in the packet list and the sessions pane.
const REAL_RULES: &str = "define DNS = 53\n\
table ip nat {\n\
    chain post {\n\
        type nat hook postrouting priority srcnat; policy accept;\n\
        oifname \"wan0\" masquerade\n\
    }\n\
}\n\
table inet filter {\n\
    chain input {\n\
        type filter hook input priority filter; policy drop;\n\
        ct state vmap { established : accept, related : accept, invalid : drop }\n\
        udp dport $DNS limit rate 10/second accept\n\
        tcp dport 80 meta skuid 10 accept\n\
        icmp type echo-request accept\n\
    }\n\
}\n";

#[test]
fn firewall_pane_marks_approximate_and_unsupported_rules() {
    let mut app = app_with_rules(REAL_RULES);
    app.apply(Action::FocusPane(5));
    let t = draw(&mut app, 160, 44);
    let text = screen_text(&t);
    assert!(
        text.contains("✘ 1 unsupported rule (red): never match here"),
        "{text}"
    );
    // Cut with … where the pane ends: the reason starts there.
    assert!(text.contains("✘ unsupported: 'meta sk"), "{text}");
    assert!(text.contains("≈ modelled"), "{text}");
    assert!(
        text.contains("≈accept"),
        "the DNS verdicts are approximate:\n{text}"
    );
    // The unsupported rule is drawn red.
    let row = text
        .lines()
        .position(|l| l.contains("tcp dport 80 meta skuid"))
        .unwrap();
    let line = text.lines().nth(row).unwrap();
    let x = line[..line.find("tcp dport 80").unwrap()].chars().count() as u16;
    assert_eq!(t.backend().buffer()[(x, row as u16)].fg, Color::LightRed);
    insta::assert_snapshot!("firewall_real_world_marks", t.backend());
    // Maximised, the whole ruleset: the NAT chain is shown, marked as not simulated.
    app.apply(Action::Maximize);
    let t = draw(&mut app, 160, 30);
    let text = screen_text(&t);
    assert!(
        text.contains(
            "ip nat post type nat (hook postrouting, priority 100, policy accept)  — not simulated"
        ),
        "{text}"
    );
    assert!(
        text.contains("ct state vmap { established : accept"),
        "{text}"
    );
    insta::assert_snapshot!("firewall_real_world_maximized", t.backend());
}
