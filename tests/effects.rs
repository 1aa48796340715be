//! Every side effect of a key is an `Effect` value: the key that asks for it, and what it
//! carries. The app does no I/O itself, so these run without a terminal, files or tasks.

mod common;

use common::frames;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use packetlab::app::state::{App, Focus, PickerItem, SourceKind};
use packetlab::app::{Action, Effect, LabCmd};
use packetlab::engine::Engine;
use packetlab::lab::GeneratorKind;

const RULES: &str = "table inet filter {\n\
    chain input {\n\
        type filter hook input priority 0; policy drop;\n\
        ct state established,related accept\n\
        tcp dport 80 accept\n\
    }\n\
}\n";

fn app(rules: Option<&str>) -> App {
    let mut e = Engine::new(1000);
    if let Some(r) = rules {
        let rs = packetlab::firewall::nft::parse(r, "/nonexistent/fw.nft").unwrap();
        e.firewall = Some(packetlab::firewall::Firewall::new(
            rs,
            "/nonexistent/fw.nft".into(),
            Default::default(),
        ));
    }
    let mut app = App::new(e, SourceKind::File("sample.pcap".into()));
    for f in frames::sample() {
        app.ingest(f);
    }
    app.source_done = true;
    app.refresh_sessions();
    if let Some(fw) = &app.engine.firewall {
        app.firewall.move_by(fw, 0);
    }
    app.lab = Some(Default::default());
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn q_quits_and_ctrl_c_quits_from_the_follow_view() {
    let mut a = app(None);
    assert!(matches!(
        &key(&mut a, KeyCode::Char('q'))[..],
        [Effect::Quit]
    ));
    let mut a = app(None);
    a.apply(Action::FocusPane(1));
    a.apply(Action::Down);
    key(&mut a, KeyCode::Char('F'));
    assert!(a.follow_view.is_some());
    let fx = a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(matches!(&fx[..], [Effect::Quit]), "{fx:?}");
}

#[test]
fn p_and_space_pause_and_resume_the_source() {
    let mut a = app(None);
    assert!(matches!(
        &key(&mut a, KeyCode::Char('p'))[..],
        [Effect::SetPaused(true)]
    ));
    assert!(matches!(
        &key(&mut a, KeyCode::Char(' '))[..],
        [Effect::SetPaused(false)]
    ));
}

#[test]
fn i_lists_interfaces_and_enter_captures_on_the_chosen_one() {
    let mut a = app(None);
    let fx = key(&mut a, KeyCode::Char('i'));
    assert!(matches!(&fx[..], [Effect::ListInterfaces]), "{fx:?}");
    assert!(a.picker.is_none(), "the picker opens on the loop's answer");
    let item = |n: &str| PickerItem {
        name: n.into(),
        up: true,
        addrs: vec![],
    };
    a.show_interfaces(vec![item("lo"), item("eth0")]);
    key(&mut a, KeyCode::Down);
    let fx = key(&mut a, KeyCode::Enter);
    assert!(
        matches!(&fx[..], [Effect::Capture(n)] if n == "eth0"),
        "{fx:?}"
    );
    a.capture_started(vec!["eth0".into()], vec![Some("eth0".into())]);
    assert_eq!(a.source, SourceKind::Live(vec!["eth0".into()]));
}

#[test]
fn w_in_the_follow_view_asks_to_write_the_stream() {
    let mut a = app(None);
    a.apply(Action::FocusPane(1));
    a.apply(Action::Down); // the TCP session
    let id = a.sessions.selected.expect("a session");
    key(&mut a, KeyCode::Char('F'));
    let fx = key(&mut a, KeyCode::Char('w'));
    let [Effect::WriteFile {
        path,
        contents,
        done,
    }] = &fx[..]
    else {
        panic!("one WriteFile: {fx:?}");
    };
    assert_eq!(
        path.to_str(),
        Some(format!("packetlab-follow-session-{id}.txt").as_str())
    );
    assert!(
        contents.contains("A → B") || contents.contains("B → A"),
        "{contents}"
    );
    assert!(!path.exists(), "the key itself writes nothing");
    a.file_written(path, done.clone(), Ok(()));
    assert_eq!(a.notice.as_deref(), Some(done.as_str()));
    a.file_written(path, done.clone(), Err("Permission denied".into()));
    assert!(a.errors.last().unwrap().ends_with(": Permission denied"));
}

#[test]
fn w_and_r_in_the_firewall_pane_save_and_reload_through_the_loop() {
    let mut a = app(Some(RULES));
    a.apply(Action::FocusPane(5));
    assert_eq!(a.focus, Focus::Firewall);
    let fx = key(&mut a, KeyCode::Char('w'));
    let [Effect::WriteFile { path, contents, .. }] = &fx[..] else {
        panic!("one WriteFile: {fx:?}");
    };
    assert_eq!(path.to_str(), Some("/nonexistent/fw.saved.nft"));
    assert!(contents.contains("tcp dport 80 accept"), "{contents}");
    // R opens the path line on the file in use; Enter asks the loop to load it.
    assert!(key(&mut a, KeyCode::Char('R')).is_empty());
    assert_eq!(a.load_prompt.as_deref(), Some("/nonexistent/fw.nft"));
    let fx = key(&mut a, KeyCode::Enter);
    let [Effect::LoadRules { path, .. }] = &fx[..] else {
        panic!("one LoadRules: {fx:?}");
    };
    assert_eq!(path.to_str(), Some("/nonexistent/fw.nft"));
    // The answer: a failure keeps the rules in use and shows why; a success replaces them.
    a.rules_loaded("/nonexistent/fw.nft", Err("fw.nft: No such file".into()));
    assert!(a.engine.firewall.is_some());
    assert_eq!(
        a.errors.last().map(String::as_str),
        Some("fw.nft: No such file")
    );
    let rs = packetlab::firewall::nft::parse(
        "table ip t { chain c { type filter hook input priority 0; policy accept; } }",
        "/nonexistent/fw.nft",
    )
    .unwrap();
    let fw =
        packetlab::firewall::Firewall::new(rs, "/nonexistent/fw.nft".into(), Default::default());
    a.rules_loaded("/nonexistent/fw.nft", Ok(fw));
    assert_eq!(a.notice.as_deref(), Some("Loaded /nonexistent/fw.nft"));
    let fw = a.engine.firewall.as_ref().unwrap();
    assert!(fw
        .ruleset
        .tables
        .iter()
        .all(|t| t.chains.iter().all(|c| c.rules.is_empty())));
}

#[test]
fn lab_keys_ask_the_loop_to_toggle_tune_and_run_scenarios() {
    let mut a = app(None);
    a.apply(Action::Lab);
    assert_eq!(a.focus, Focus::Lab);
    key(&mut a, KeyCode::Down);
    let fx = key(&mut a, KeyCode::Enter);
    let second = GeneratorKind::ALL[1];
    assert!(
        matches!(&fx[..], [Effect::Lab(LabCmd::Toggle(k))] if *k == second),
        "{fx:?}"
    );
    let fx = key(&mut a, KeyCode::Char(' '));
    assert!(
        matches!(&fx[..], [Effect::Lab(LabCmd::Toggle(k))] if *k == second),
        "{fx:?}"
    );
    let fx = key(&mut a, KeyCode::Char('>'));
    assert!(
        matches!(&fx[..], [Effect::Lab(LabCmd::Settings(s))] if s.payload == 128),
        "{fx:?}"
    );
    // s: the first scenario: everything else stops, its settings, then its generators.
    let fx = key(&mut a, KeyCode::Char('s'));
    let sc = &packetlab::scenario::all()[0];
    assert!(
        matches!(fx.first(), Some(Effect::Lab(LabCmd::StopAll))),
        "{fx:?}"
    );
    assert!(
        matches!(fx.get(1), Some(Effect::Lab(LabCmd::Settings(_)))),
        "{fx:?}"
    );
    let started: Vec<&str> = fx[2..]
        .iter()
        .map(|e| match e {
            Effect::Lab(LabCmd::Start(k)) => k.slug(),
            other => panic!("only starts after the settings: {other:?}"),
        })
        .collect();
    assert_eq!(
        started,
        sc.start.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(a.notice.as_deref().unwrap().starts_with("Lab: "));
}

#[test]
fn s_on_the_lab_network_asks_for_the_next_scenario_with_its_rules() {
    let mut a = app(Some(RULES));
    a.lab_net = Some(packetlab::vnet::run::LabSummary::default());
    a.start_lab_network(packetlab::scenario::find("udp-vs-tcp").unwrap());
    assert_eq!(
        a.focus,
        Focus::Firewall,
        "the rules are what the person acts on"
    );
    a.apply(Action::Lab);
    assert_eq!(a.focus, Focus::Lab);
    // ( ) < > + - tune the WAN link: 10 % loss becomes 15 %, 20 ms becomes 40.
    let fx = key(&mut a, KeyCode::Char(')'));
    assert!(
        matches!(&fx[..], [Effect::LabNetLink(l)] if l.loss_pct == 15.0),
        "{fx:?}"
    );
    let fx = key(&mut a, KeyCode::Char('>'));
    assert!(
        matches!(&fx[..], [Effect::LabNetLink(l)] if l.delay.as_millis() == 40),
        "{fx:?}"
    );
    let fx = key(&mut a, KeyCode::Char('s'));
    let [Effect::LabNetwork { scenario, rules }] = &fx[..] else {
        panic!("{fx:?}");
    };
    assert_eq!(scenario, "handshake");
    // The scenario's ruleset is the pane's now, and the network gets that one.
    let fw = a.engine.firewall.as_ref().unwrap();
    assert_eq!(fw.source, "assets/lab/open.nft");
    assert_eq!(rules.rules().count(), fw.ruleset.rules().count());
    assert!(a.notice.as_deref().unwrap().starts_with("Lab network: "));
    // Rules the person loaded stay.
    a.own_rules = true;
    let fx = key(&mut a, KeyCode::Char('s'));
    assert!(
        matches!(&fx[..], [Effect::LabNetwork { scenario, .. }] if scenario == "firewall-blocks-ssh")
    );
    assert_eq!(
        a.engine.firewall.as_ref().unwrap().source,
        "assets/lab/open.nft"
    );
}

#[test]
fn keys_that_only_change_the_view_have_no_effect() {
    let mut a = app(Some(RULES));
    for code in [
        KeyCode::Down,
        KeyCode::Enter,
        KeyCode::Tab,
        KeyCode::Char('z'),
        KeyCode::Char('z'),
        KeyCode::Char('v'),
        KeyCode::Char('?'),
        KeyCode::Esc,
    ] {
        let fx = key(&mut a, code);
        assert!(fx.is_empty(), "{code:?} gave {fx:?}");
    }
}
