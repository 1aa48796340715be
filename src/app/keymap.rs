//! Which key means what: the actions, the built-in key table, the names a config file binds
//! keys by, and the lines the help shows.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    Escape,
    TogglePause,
    ToggleFollow,
    FocusNext,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Enter,
    /// Focus a pane by number: 1 sessions, 2 packets, 3 detail, 4 hex.
    FocusPane(u8),
    Maximize,
    SortNext,
    SortReverse,
    /// Start typing a filter for the sessions pane.
    EditFilter,
    /// Ctrl-F: type what n / N look for.
    Search,
    /// F: follow the selected session's stream.
    Follow,
    /// T: the graphs (throughput, top talkers).
    Graphs,
    /// i: the interface picker.
    Interfaces,
    /// r: names instead of addresses, and back.
    Names,
    SearchNext,
    SearchPrev,
    /// Packets pane: go to this packet's session. Sessions pane: show its packets.
    Jump,
    ToggleListening,
    /// Space: toggles the selected rule in the firewall pane, else pauses.
    Space,
    MoveRuleUp,
    MoveRuleDown,
    /// Firewall pane: edit the selected rule / add one after it / delete it.
    EditRule,
    AddRule,
    DeleteRule,
    /// Firewall pane: put back the rule deleted last.
    UndoDelete,
    /// Firewall pane: load the rules file again / save the current rules as nft.
    ReloadRules,
    SaveRules,
    /// Packet list: only accepted, then dropped, then rejected packets, then all again.
    CycleVerdictFilter,
    /// Explain the selected packet, session or rule.
    Explain,
    /// Show the lab pane (and focus it); in it: +/- rate, </> payload, (/) loss.
    Lab,
    Faster,
    Slower,
    Bigger,
    Smaller,
    MoreLoss,
    LessLoss,
}

/// Actions a config file's `[keys]` table may bind to another key, by name.
pub const ACTION_NAMES: &[(&str, Action)] = &[
    ("quit", Action::Quit),
    ("help", Action::ToggleHelp),
    ("pause", Action::TogglePause),
    ("follow", Action::ToggleFollow),
    ("filter", Action::EditFilter),
    ("search", Action::Search),
    ("search_next", Action::SearchNext),
    ("search_prev", Action::SearchPrev),
    ("jump", Action::Jump),
    ("explain", Action::Explain),
    ("graphs", Action::Graphs),
    ("interfaces", Action::Interfaces),
    ("names", Action::Names),
    ("lab", Action::Lab),
    ("maximize", Action::Maximize),
    ("sort", Action::SortNext),
    ("sort_reverse", Action::SortReverse),
    ("follow_stream", Action::Follow),
    ("verdict_filter", Action::CycleVerdictFilter),
    ("listening", Action::ToggleListening),
];

/// Every key the TUI knows, for the help overlay (and the README).
pub const KEYS: &[(&str, &str)] = &[
    ("j k ↓ ↑", "next / previous row of the focused pane"),
    ("PgDn PgUp", "a page down / up"),
    ("g G Home End", "first / last row (G: follow the newest)"),
    ("f", "follow mode on / off"),
    ("Enter", "open detail + hex; fold a layer; session"),
    ("Tab", "focus: sessions, firewall, packets, …"),
    ("1 … 6", "sessions, packets, detail, hex, firewall, lab"),
    ("z", "maximise the focused pane (again: back)"),
    ("s / S", "sessions: next sort column / reverse"),
    ("/", "packets: display filter; sessions: text filter"),
    ("^F  n  N", "search (filter or text); next / previous"),
    ("J", "jump: packet ↔ its session's packets"),
    ("F", "follow the session's stream (h hex, w save)"),
    ("T", "graphs: throughput by protocol, top talkers"),
    ("i", "interfaces: pick one to capture live on"),
    ("r", "names: from DNS answers seen and reverse DNS"),
    ("l", "sessions: list listening sockets too"),
    ("Space / p", "pause capture (firewall: toggle rule)"),
    ("[ / ]", "firewall: move the rule up / down"),
    ("e / a / d", "firewall: edit / add after / delete rule"),
    ("y / u", "firewall: yes, delete it / undo the delete"),
    ("R / w", "firewall: reload file / save NAME.saved.nft"),
    ("v", "packets: accepted, dropped, rejected, all"),
    ("Esc", "close help, detail, then filters"),
    ("x", "explain the selected packet, session or rule"),
    ("L / 6", "the lab: make traffic on loopback"),
    ("lab: Enter", "start / stop the selected generator"),
    ("lab: + - < >", "rate up / down, payload bigger / smaller"),
    ("lab: ( )", "lossy link: less / more loss"),
    ("lab: s / S", "start the next / previous scenario"),
    ("?", "this help"),
    ("q / Ctrl-C", "quit"),
];

/// Where each bindable action's built-in key is written in `KEYS`: the row and the word in it.
const HELP_WORDS: &[(Action, &str, &str)] = &[
    (Action::Quit, "q / Ctrl-C", "q"),
    (Action::ToggleHelp, "?", "?"),
    (Action::TogglePause, "Space / p", "p"),
    (Action::ToggleFollow, "f", "f"),
    (Action::EditFilter, "/", "/"),
    (Action::Search, "^F  n  N", "^F"),
    (Action::SearchNext, "^F  n  N", "n"),
    (Action::SearchPrev, "^F  n  N", "N"),
    (Action::Jump, "J", "J"),
    (Action::Explain, "x", "x"),
    (Action::Graphs, "T", "T"),
    (Action::Interfaces, "i", "i"),
    (Action::Names, "r", "r"),
    (Action::Lab, "L / 6", "L"),
    (Action::Maximize, "z", "z"),
    (Action::SortNext, "s / S", "s"),
    (Action::SortReverse, "s / S", "S"),
    (Action::Follow, "F", "F"),
    (Action::CycleVerdictFilter, "v", "v"),
    (Action::ToggleListening, "l", "l"),
];

/// The help's rows with the keys in force: a key the config bound to an action replaces that
/// action's built-in key in its row.
pub fn help_rows(keymap: &std::collections::HashMap<char, Action>) -> Vec<(String, &'static str)> {
    KEYS.iter()
        .map(|(keys, what)| {
            let words: Vec<String> = keys
                .split(' ')
                .map(|w| {
                    let bound = HELP_WORDS
                        .iter()
                        .find(|(_, row, word)| row == keys && *word == w)
                        .and_then(|(a, _, _)| keymap.iter().find(|(_, b)| *b == a));
                    match bound {
                        Some((c, _)) => c.to_string(),
                        None => w.to_string(),
                    }
                })
                .collect();
            (words.join(" "), *what)
        })
        .collect()
}

pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Esc => Action::Escape,
        KeyCode::Char(' ') => Action::Space,
        KeyCode::Char('p') => Action::TogglePause,
        KeyCode::Char('[') => Action::MoveRuleUp,
        KeyCode::Char('e') => Action::EditRule,
        KeyCode::Char('a') => Action::AddRule,
        KeyCode::Char('d') | KeyCode::Delete => Action::DeleteRule,
        KeyCode::Char('u') => Action::UndoDelete,
        KeyCode::Char('R') => Action::ReloadRules,
        KeyCode::Char('w') => Action::SaveRules,
        KeyCode::Char('v') => Action::CycleVerdictFilter,
        KeyCode::Char('x') => Action::Explain,
        KeyCode::Char('L') => Action::Lab,
        KeyCode::Char('6') => Action::FocusPane(6),
        KeyCode::Char('+') => Action::Faster,
        KeyCode::Char('-') => Action::Slower,
        KeyCode::Char('>') => Action::Bigger,
        KeyCode::Char('<') => Action::Smaller,
        KeyCode::Char(')') => Action::MoreLoss,
        KeyCode::Char('(') => Action::LessLoss,
        KeyCode::Char(']') => Action::MoveRuleDown,
        KeyCode::Char('f') if !ctrl => Action::ToggleFollow,
        KeyCode::Tab | KeyCode::BackTab => Action::FocusNext,
        KeyCode::Char('k') | KeyCode::Up => Action::Up,
        KeyCode::Char('j') | KeyCode::Down => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Char('g') | KeyCode::Home => Action::First,
        KeyCode::Char('G') | KeyCode::End => Action::Last,
        KeyCode::Enter => Action::Enter,
        KeyCode::Char(c @ '1'..='5') => Action::FocusPane(c as u8 - b'0'),
        KeyCode::Char('z') => Action::Maximize,
        KeyCode::Char('s') => Action::SortNext,
        KeyCode::Char('S') => Action::SortReverse,
        KeyCode::Char('/') => Action::EditFilter,
        KeyCode::Char('f') if ctrl => Action::Search,
        KeyCode::Char('n') => Action::SearchNext,
        KeyCode::Char('N') => Action::SearchPrev,
        KeyCode::Char('F') => Action::Follow,
        KeyCode::Char('T') => Action::Graphs,
        KeyCode::Char('i') => Action::Interfaces,
        KeyCode::Char('r') => Action::Names,
        KeyCode::Char('J') => Action::Jump,
        KeyCode::Char('l') => Action::ToggleListening,
        _ => return None,
    })
}
