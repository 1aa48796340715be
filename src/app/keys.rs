//! Keys → actions → state changes. Side effects (pausing the source, quitting) come back as
//! [`Effect`] values for the loop to carry out, so all of this is testable without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{App, DetailView, EditTarget, Focus, PacketFilterKind, RuleEditor};
use crate::decode::detail::Tree;
use crate::firewall::eval::Final;

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    SetPaused(bool),
    /// Capture live on this interface from now on (the interface picker).
    Capture(String),
    Quit,
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
    ("R / w", "firewall: reload file / save FILE.saved.nft"),
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

impl App {
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Effect> {
        if self.sessions.editing && key.kind != KeyEventKind::Release {
            self.edit_filter(key.code);
            return None;
        }
        if self.rule_editor.is_some() && key.kind != KeyEventKind::Release {
            self.edit_rule_key(key.code);
            return None;
        }
        if self.filter_bar.is_some() && key.kind != KeyEventKind::Release {
            self.filter_bar_key(key.code);
            return None;
        }
        if self.follow_view.is_some() && key.kind != KeyEventKind::Release {
            return self.follow_key(key);
        }
        if self.picker.is_some() && key.kind != KeyEventKind::Release {
            return self.picker_key(key.code);
        }
        // Keys the config file bound come first.
        if let (KeyCode::Char(c), KeyEventKind::Press | KeyEventKind::Repeat) = (key.code, key.kind)
        {
            if !key.modifiers.contains(KeyModifiers::CONTROL) {
                if let Some(a) = self.keymap.get(&c).copied() {
                    return self.apply(a);
                }
            }
        }
        action_for(key).and_then(|a| self.apply(a))
    }

    /// A key while the sessions filter line is being typed.
    pub fn edit_filter(&mut self, code: KeyCode) {
        let v = &mut self.sessions;
        match code {
            KeyCode::Char(c) => v.filter.push(c),
            KeyCode::Backspace => {
                v.filter.pop();
            }
            KeyCode::Enter => v.editing = false,
            KeyCode::Esc => {
                v.filter.clear();
                v.editing = false;
            }
            _ => return,
        }
        v.invalidate();
        self.refresh_sessions();
    }

    pub fn apply(&mut self, a: Action) -> Option<Effect> {
        if self.show_graphs && !matches!(a, Action::Quit) {
            // Any key closes the graphs.
            self.show_graphs = false;
            return None;
        }
        if self.explain.is_some() && !matches!(a, Action::Quit) {
            // Any key closes the explanation.
            self.explain = None;
            return None;
        }
        if self.show_help && !matches!(a, Action::Quit) {
            // Any key closes the help; it does nothing else.
            self.show_help = false;
            return None;
        }
        match a {
            Action::Quit => {
                self.quit = true;
                return Some(Effect::Quit);
            }
            Action::ToggleHelp => self.show_help = true,
            Action::Escape => {
                if self.maximized {
                    self.maximized = false;
                } else if self.focus == Focus::Sessions && self.sessions.detail_open {
                    self.sessions.detail_open = false;
                } else if self.detail.is_some() {
                    self.detail = None;
                    self.focus = Focus::List;
                } else if self.packet_filter.is_some() {
                    self.filter_packets(None);
                    self.follow = true;
                }
            }
            Action::FocusPane(n) => {
                self.focus = match n {
                    1 => Focus::Sessions,
                    2 => Focus::List,
                    3 if self.detail.is_some() => Focus::Detail,
                    4 if self.detail.is_some() => Focus::Hex,
                    5 if self.engine.firewall.is_some() => Focus::Firewall,
                    6 if self.lab.is_some() => Focus::Lab,
                    _ => self.focus,
                }
            }
            Action::Maximize => self.maximized = !self.maximized,
            Action::SortNext | Action::SortReverse if self.focus == Focus::Lab => {
                // s / S in the lab: the next / previous scenario.
                let all = crate::scenario::all();
                let cur = self
                    .scenario
                    .as_ref()
                    .and_then(|c| all.iter().position(|s| s.name == c.name));
                let n = all.len();
                let next = match (cur, a) {
                    (None, Action::SortNext) => 0,
                    (None, _) => n - 1,
                    (Some(i), Action::SortNext) => (i + 1) % n,
                    (Some(i), _) => (i + n - 1) % n,
                };
                self.start_scenario(all[next].clone());
            }
            Action::SortNext if self.focus == Focus::Sessions => {
                self.sessions.cycle_sort();
                self.refresh_sessions();
            }
            Action::SortReverse if self.focus == Focus::Sessions => {
                self.sessions.reverse_sort();
                self.refresh_sessions();
            }
            Action::EditFilter if self.focus == Focus::Sessions => self.sessions.editing = true,
            Action::EditFilter
                if matches!(self.focus, Focus::List | Focus::Detail | Focus::Hex) =>
            {
                let text = self
                    .display_filter
                    .as_ref()
                    .map(|f| f.text().to_string())
                    .unwrap_or_default();
                self.filter_bar = Some(super::state::FilterBar {
                    text,
                    error: None,
                    history_pos: None,
                    search: false,
                });
            }
            Action::ToggleListening => self.sessions.show_listening = !self.sessions.show_listening,
            Action::Jump => self.jump(),
            Action::SortNext | Action::SortReverse | Action::EditFilter => {}
            Action::Search => {
                self.filter_bar = Some(super::state::FilterBar {
                    text: self
                        .search
                        .as_ref()
                        .map(|s| s.text.clone())
                        .unwrap_or_default(),
                    error: None,
                    history_pos: None,
                    search: true,
                });
            }
            Action::Follow => {
                let id = match self.focus {
                    Focus::Sessions => self.sessions.selected,
                    _ => self
                        .selected_index()
                        .and_then(|i| self.view_get(i))
                        .and_then(|p| p.session),
                };
                if let Some(id) = id {
                    self.open_follow(id);
                }
            }
            Action::Graphs => self.show_graphs = true,
            Action::Names => self.show_names = !self.show_names,
            Action::Interfaces => {
                self.picker = Some(super::state::Picker {
                    items: crate::capture::live::interfaces()
                        .iter()
                        .map(|i| super::state::PickerItem {
                            name: i.name.clone(),
                            up: i.is_up(),
                            addrs: i.ips.iter().map(|n| n.to_string()).collect(),
                        })
                        .collect(),
                    selected: 0,
                })
            }
            Action::SearchNext => self.search_step(1),
            Action::SearchPrev => self.search_step(-1),
            Action::Space if self.focus == Focus::Firewall => self.toggle_rule(),
            Action::EditRule | Action::AddRule if self.focus == Focus::Firewall => {
                self.open_editor(a)
            }
            Action::DeleteRule if self.focus == Focus::Firewall => self.delete_rule(),
            Action::ReloadRules if self.focus == Focus::Firewall => self.reload_rules(),
            Action::SaveRules if self.focus == Focus::Firewall => self.save_rules(),
            Action::EditRule
            | Action::AddRule
            | Action::DeleteRule
            | Action::ReloadRules
            | Action::SaveRules => {}
            Action::Explain => self.explain = self.explanation(),
            Action::Lab => {
                if self.lab.is_some() {
                    self.focus = Focus::Lab;
                }
            }
            Action::Space if self.focus == Focus::Lab => self.toggle_generator(),
            Action::Faster
            | Action::Slower
            | Action::Bigger
            | Action::Smaller
            | Action::MoreLoss
            | Action::LessLoss => self.tune_lab(a),
            Action::CycleVerdictFilter => {
                let next = match self.packet_filter.as_ref().map(|f| f.kind) {
                    None | Some(PacketFilterKind::Session(_) | PacketFilterKind::Display) => {
                        Some(Final::Accept)
                    }
                    Some(PacketFilterKind::Verdict(Final::Accept)) => Some(Final::Drop),
                    Some(PacketFilterKind::Verdict(Final::Drop)) => Some(Final::Reject),
                    Some(PacketFilterKind::Verdict(Final::Reject)) => None,
                };
                if self.engine.firewall.is_some() {
                    self.detail = None;
                    self.filter_packets(next.map(PacketFilterKind::Verdict));
                    if next.is_none() {
                        self.follow = true;
                    }
                }
            }
            Action::MoveRuleUp => self.move_rule(-1),
            Action::MoveRuleDown => self.move_rule(1),
            Action::TogglePause | Action::Space => {
                self.paused = !self.paused;
                return Some(Effect::SetPaused(self.paused));
            }
            Action::ToggleFollow => {
                if self.follow {
                    self.pin_selection();
                } else {
                    self.follow = true;
                    self.refresh_detail();
                }
            }
            Action::FocusNext => {
                let fw = self.engine.firewall.is_some();
                let lab = self.lab.is_some();
                self.focus = match (self.focus, self.detail.is_some()) {
                    (Focus::Sessions, _) if lab => Focus::Lab,
                    (Focus::Sessions | Focus::Lab, _) if fw => Focus::Firewall,
                    (Focus::Sessions | Focus::Firewall | Focus::Lab, _) => Focus::List,
                    (Focus::List, true) => Focus::Detail,
                    (Focus::Detail, _) => Focus::Hex,
                    _ => Focus::Sessions,
                }
            }
            Action::Enter => match self.focus {
                Focus::List => {
                    self.pin_selection();
                    self.open_detail();
                    if self.detail.is_some() {
                        self.focus = Focus::Detail;
                    }
                }
                Focus::Detail => self.toggle_fold(),
                Focus::Hex | Focus::Firewall => {}
                Focus::Lab => self.toggle_generator(),
                Focus::Sessions => {
                    self.sessions.detail_open =
                        !self.sessions.detail_open && self.sessions.selected.is_some();
                }
            },
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page() as i64)),
            Action::PageDown => self.move_by(self.page() as i64),
            Action::First => self.move_by(i64::MIN / 2),
            Action::Last => match self.focus {
                Focus::Sessions | Focus::Firewall | Focus::Lab => self.move_by(i64::MAX / 2),
                Focus::List => {
                    self.follow = true;
                    self.refresh_detail();
                }
                _ => self.move_by(i64::MAX / 2),
            },
        }
        None
    }

    fn page(&self) -> usize {
        match self.focus {
            Focus::List => self.list_rows,
            Focus::Detail => self.detail_rows,
            Focus::Hex => self.hex_rows,
            Focus::Sessions => self.sessions.visible_rows,
            Focus::Firewall => self.firewall.visible_rows,
            Focus::Lab => crate::lab::GeneratorKind::ALL.len(),
        }
        .saturating_sub(1)
        .max(1)
    }

    /// Leaves follow mode with the current newest packet selected.
    fn pin_selection(&mut self) {
        if let Some(i) = self.selected_index() {
            let top = self.top_index();
            self.selected = self.view_get(i).map(|p| p.no);
            self.top = self.view_get(top).map(|p| p.no);
        }
        self.follow = false;
    }

    /// Enables or disables the selected rule, and judges everything again.
    fn toggle_rule(&mut self) {
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        if let Some(r) = fw.ruleset.rule_mut(id) {
            r.enabled = !r.enabled;
        }
        self.rejudge();
    }

    /// A key while the display-filter bar is open: typing (checked at every key), Enter applies
    /// a valid filter (an empty one shows all), Esc leaves it unchanged, Up / Down walk the
    /// history.
    fn filter_bar_key(&mut self, code: KeyCode) {
        let Some(bar) = self.filter_bar.as_mut() else {
            return;
        };
        match code {
            KeyCode::Char(c) => bar.text.push(c),
            KeyCode::Backspace => {
                bar.text.pop();
            }
            KeyCode::Up | KeyCode::Down => {
                let n = self.filter_history.len();
                if n == 0 {
                    return;
                }
                let pos = match (bar.history_pos, code) {
                    (None, KeyCode::Up) => n - 1,
                    (None, _) => return,
                    (Some(p), KeyCode::Up) => p.saturating_sub(1),
                    (Some(p), _) => (p + 1).min(n - 1),
                };
                bar.history_pos = Some(pos);
                bar.text = self.filter_history[pos].clone();
            }
            KeyCode::Esc => {
                self.filter_bar = None;
                return;
            }
            KeyCode::Enter if bar.search => {
                let text = bar.text.trim().to_string();
                self.filter_bar = None;
                self.search = (!text.is_empty()).then(|| super::state::Search::new(&text));
                self.search_step(1);
                return;
            }
            KeyCode::Enter => {
                let text = bar.text.trim().to_string();
                if text.is_empty() {
                    self.filter_bar = None;
                    self.display_filter = None;
                    self.filter_packets(None);
                    self.refresh_sessions();
                    self.follow = true;
                    return;
                }
                match crate::filter::DisplayFilter::parse(&text) {
                    Ok(f) => {
                        self.filter_bar = None;
                        if self.filter_history.last() != Some(&text) {
                            self.filter_history.push(text);
                        }
                        self.display_filter = Some(f);
                        self.detail = None;
                        self.filter_packets(Some(PacketFilterKind::Display));
                        self.refresh_sessions();
                    }
                    Err(e) => bar.error = Some(e),
                }
                return;
            }
            _ => return,
        }
        let err = crate::filter::DisplayFilter::parse(bar.text.trim()).err();
        bar.error = if bar.text.trim().is_empty() {
            None
        } else {
            err
        };
    }

    /// A mouse event on a screen of `area`: the wheel scrolls the pane under the pointer, a
    /// click focuses the pane and selects the row under it.
    pub fn on_mouse(&mut self, m: crossterm::event::MouseEvent, area: ratatui::layout::Rect) {
        use crossterm::event::{MouseButton, MouseEventKind};
        if self.show_help
            || self.explain.is_some()
            || self.follow_view.is_some()
            || self.picker.is_some()
        {
            return;
        }
        let a = crate::ui::layout(area, self);
        let at = |r: Option<ratatui::layout::Rect>| {
            r.is_some_and(|r| r.contains(ratatui::layout::Position::new(m.column, m.row)))
        };
        let (focus, rect) = if at(a.sessions) {
            (Focus::Sessions, a.sessions)
        } else if at(a.list) {
            (Focus::List, a.list)
        } else if at(a.detail) {
            (Focus::Detail, a.detail)
        } else if at(a.hex) {
            (Focus::Hex, a.hex)
        } else if at(a.firewall) {
            (Focus::Firewall, a.firewall)
        } else if at(a.lab) {
            (Focus::Lab, a.lab)
        } else {
            return;
        };
        match m.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let before = self.focus;
                self.focus = focus;
                self.move_by(if m.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                });
                self.focus = before;
            }
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = focus;
                let r = rect.expect("the pane under the pointer");
                // Table panes: a border row and a header row above the first data row.
                let row = m.row.saturating_sub(r.y + 2) as i64;
                match focus {
                    Focus::List => {
                        let target = self.top_index() as i64 + row;
                        let cur = self.selected_index().unwrap_or(0) as i64;
                        self.move_by(target - cur);
                    }
                    Focus::Sessions => {
                        let target = self.sessions.top as i64 + row;
                        let cur = self.sessions.selected_row().unwrap_or(0) as i64;
                        self.sessions.move_by(target - cur);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Keys of the interface picker: move, Enter captures on the interface, Esc closes.
    fn picker_key(&mut self, code: KeyCode) -> Option<Effect> {
        let p = self.picker.as_mut()?;
        let n = p.items.len();
        match code {
            KeyCode::Char('j') | KeyCode::Down => {
                p.selected = (p.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Char('k') | KeyCode::Up => p.selected = p.selected.saturating_sub(1),
            KeyCode::Esc | KeyCode::Char('q') => self.picker = None,
            KeyCode::Enter => {
                let name = p.items.get(p.selected)?.name.clone();
                self.picker = None;
                return Some(Effect::Capture(name));
            }
            _ => {}
        }
        None
    }

    /// Keys of the follow view: scroll, h toggles hex, w saves, Esc / q closes.
    fn follow_key(&mut self, key: KeyEvent) -> Option<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let v = self.follow_view.as_mut()?;
        let n = v.lines().len();
        match key.code {
            KeyCode::Char('c') if ctrl => {
                self.quit = true;
                return Some(Effect::Quit);
            }
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('F') => self.follow_view = None,
            KeyCode::Char('h') => {
                v.hex = !v.hex;
                v.scroll = 0;
            }
            KeyCode::Char('j') | KeyCode::Down => {
                v.scroll = (v.scroll + 1).min(n.saturating_sub(1))
            }
            KeyCode::Char('k') | KeyCode::Up => v.scroll = v.scroll.saturating_sub(1),
            KeyCode::PageDown => v.scroll = (v.scroll + 20).min(n.saturating_sub(1)),
            KeyCode::PageUp => v.scroll = v.scroll.saturating_sub(20),
            KeyCode::Char('g') | KeyCode::Home => v.scroll = 0,
            KeyCode::Char('G') | KeyCode::End => v.scroll = n.saturating_sub(1),
            KeyCode::Char('w') => {
                let path = format!("packetlab-follow-session-{}.txt", v.session);
                let mut text = String::new();
                for (_, _, l) in v.lines() {
                    text.push_str(&l);
                    text.push('\n');
                }
                match std::fs::write(&path, text) {
                    Ok(()) => {
                        self.notice = Some(format!(
                            "Saved the stream of session {} to {path}",
                            v.session
                        ))
                    }
                    Err(e) => self.errors.push(format!("{path}: {e}")),
                }
            }
            _ => {}
        }
        None
    }

    /// Moves the selection of the focused pane to the next (or previous, `dir` < 0) row the
    /// search matches, wrapping around; other rows stay in view.
    fn search_step(&mut self, dir: i64) {
        let Some(search) = &self.search else { return };
        match self.focus {
            Focus::Sessions => {
                let needle = search.text.to_lowercase();
                let rows = &self.sessions.rows;
                let n = rows.len();
                let cur = self.sessions.selected_row().unwrap_or(0);
                let hit = (1..=n)
                    .map(|k| (cur as i64 + dir * k as i64).rem_euclid(n.max(1) as i64) as usize)
                    .find(|&i| {
                        self.engine.sessions.get(rows[i]).is_some_and(|s| {
                            super::sessions_view::row_text(s)
                                .to_lowercase()
                                .contains(&needle)
                        })
                    });
                if let Some(i) = hit {
                    let id = rows[i];
                    self.sessions.selected = Some(id);
                    self.sessions.move_by(0);
                }
            }
            _ => {
                let n = self.view_len();
                if n == 0 {
                    return;
                }
                let cur = self.selected_index().unwrap_or(0);
                let hit = (1..=n)
                    .map(|k| (cur as i64 + dir * k as i64).rem_euclid(n as i64) as usize)
                    .find(|&i| self.view_get(i).is_some_and(|p| search.hits_packet(p)));
                if let Some(i) = hit {
                    // Move the packet list's selection, whichever of its panes has focus.
                    let delta = i as i64 - cur as i64;
                    let focus = self.focus;
                    self.focus = Focus::List;
                    self.move_by(delta);
                    self.focus = focus;
                }
            }
        }
    }

    /// Starts or stops the selected lab generator.
    fn toggle_generator(&mut self) {
        let k = crate::lab::GeneratorKind::ALL[self.lab_selected];
        if let Some(lab) = self.lab.as_mut() {
            if let Err(e) = lab.toggle(k) {
                self.errors.push(format!("lab: {}: {e}", k.name()));
            }
        }
    }

    /// Rate, payload and loss of the lab, by small steps.
    fn tune_lab(&mut self, a: Action) {
        if self.focus != Focus::Lab {
            return;
        }
        let Some(lab) = self.lab.as_mut() else { return };
        let mut s = lab.settings().clone();
        match a {
            Action::Faster => s.rate_per_sec = (s.rate_per_sec * 2).min(1000),
            Action::Slower => s.rate_per_sec = (s.rate_per_sec / 2).max(1),
            Action::Bigger => s.payload = (s.payload * 2).min(60_000),
            Action::Smaller => s.payload = (s.payload / 2).max(16),
            Action::MoreLoss => s.loss_pct = (s.loss_pct + 5.0).min(90.0),
            Action::LessLoss => s.loss_pct = (s.loss_pct - 5.0).max(0.0),
            _ => return,
        }
        lab.set_settings(s);
    }

    /// The explanation of what the focused pane has selected.
    fn explanation(&self) -> Option<(String, Vec<&'static str>)> {
        use crate::explain;
        let (title, topics) = match self.focus {
            Focus::Sessions => {
                let s = self
                    .sessions
                    .selected
                    .and_then(|id| self.engine.sessions.get(id))?;
                (
                    format!("Session {}: {} {}", s.id, s.proto.name(), s.state_name()),
                    explain::for_session(s, self.session_verdicts.get(&s.id)),
                )
            }
            Focus::Lab => {
                let k = crate::lab::GeneratorKind::ALL[self.lab_selected];
                return Some((k.name().to_string(), vec![k.lesson()]));
            }
            Focus::Firewall => {
                let fw = self.engine.firewall.as_ref()?;
                let id = self.firewall.selected_rule(fw)?;
                let r = fw.ruleset.rule(id)?;
                (format!("Rule: {}", r.origin.text), explain::for_rule(r))
            }
            Focus::List | Focus::Detail | Focus::Hex => {
                let p = self.selected_index().and_then(|i| self.view_get(i))?;
                (
                    format!(
                        "Packet {}: {}",
                        p.no,
                        crate::decode::info::info(&p.summary, &p.frame.data)
                    ),
                    explain::for_packet(&p.summary, p.judgement.as_ref()),
                )
            }
        };
        Some((title, explain::compose(&topics)))
    }

    fn open_editor(&mut self, a: Action) {
        let Some(fw) = &self.engine.firewall else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        let (target, text) = match a {
            Action::EditRule => (
                EditTarget::Replace(id),
                fw.ruleset
                    .rule(id)
                    .map(|r| r.origin.text.clone())
                    .unwrap_or_default(),
            ),
            _ => (EditTarget::InsertAfter(id), String::new()),
        };
        self.rule_editor = Some(RuleEditor {
            target,
            text,
            error: None,
        });
        self.validate_rule();
    }

    /// A key while the rule editor is open: typing, Enter applies a valid rule, Esc cancels.
    fn edit_rule_key(&mut self, code: KeyCode) {
        let Some(ed) = self.rule_editor.as_mut() else {
            return;
        };
        match code {
            KeyCode::Char(c) => ed.text.push(c),
            KeyCode::Backspace => {
                ed.text.pop();
            }
            KeyCode::Esc => {
                self.rule_editor = None;
                return;
            }
            KeyCode::Enter => {
                self.apply_editor();
                return;
            }
            _ => return,
        }
        self.validate_rule();
    }

    fn editor_table(&self) -> Option<(&crate::firewall::model::Table, EditTarget)> {
        let fw = self.engine.firewall.as_ref()?;
        let ed = self.rule_editor.as_ref()?;
        let id = match ed.target {
            EditTarget::Replace(id) | EditTarget::InsertAfter(id) => id,
        };
        Some((&fw.ruleset.tables[id.table as usize], ed.target))
    }

    fn validate_rule(&mut self) {
        let Some((table, _)) = self.editor_table() else {
            return;
        };
        let text = self
            .rule_editor
            .as_ref()
            .map(|e| e.text.clone())
            .unwrap_or_default();
        let err = crate::firewall::nft::parse_rule(&text, table)
            .err()
            .map(|e| format!("col {}: {}", e.col, e.msg));
        if let Some(ed) = self.rule_editor.as_mut() {
            ed.error = err;
        }
    }

    fn apply_editor(&mut self) {
        let Some((table, target)) = self.editor_table() else {
            return;
        };
        let text = self
            .rule_editor
            .as_ref()
            .map(|e| e.text.clone())
            .unwrap_or_default();
        let Ok(mut rule) = crate::firewall::nft::parse_rule(&text, table) else {
            return; // the error is on screen; the editor stays open
        };
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        match target {
            EditTarget::Replace(id) => {
                if let Some(old) = fw.ruleset.rule_mut(id) {
                    rule.origin.line = old.origin.line;
                    rule.enabled = old.enabled;
                    *old = rule;
                }
            }
            EditTarget::InsertAfter(id) => {
                // A rule typed here has no line in the file: 0 marks it new.
                rule.origin.line = 0;
                let rules =
                    &mut fw.ruleset.tables[id.table as usize].chains[id.chain as usize].rules;
                rules.insert(id.rule as usize + 1, rule);
                self.firewall.selected += 1;
            }
        }
        self.rule_editor = None;
        if let Some(fw) = self.engine.firewall.as_mut() {
            fw.rules_changed();
        }
        self.rejudge();
    }

    fn delete_rule(&mut self) {
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        fw.ruleset.tables[id.table as usize].chains[id.chain as usize]
            .rules
            .remove(id.rule as usize);
        fw.rules_changed();
        let fw = self.engine.firewall.as_ref().expect("checked above");
        self.firewall.move_by(fw, 0);
        self.rejudge();
    }

    fn reload_rules(&mut self) {
        let Some(fw) = self.engine.firewall.as_ref() else {
            return;
        };
        let (path, locality) = (fw.source.clone(), fw.locality.clone());
        match crate::firewall::Firewall::load(std::path::Path::new(&path), locality) {
            Ok(new) => {
                self.engine.firewall = Some(new);
                self.notice = Some(format!("Reloaded {path}"));
                self.firewall.selected = 0;
                if let Some(fw) = &self.engine.firewall {
                    self.firewall.move_by(fw, 0);
                }
                self.rejudge();
            }
            // The rules in use stay; the file's problem is shown.
            Err(e) => self.errors.push(e),
        }
    }

    fn save_rules(&mut self) {
        let Some(fw) = self.engine.firewall.as_ref() else {
            return;
        };
        let base = fw.source.strip_suffix(".nft").unwrap_or(&fw.source);
        let path = format!("{base}.saved.nft");
        match std::fs::write(&path, crate::firewall::save::to_nft(&fw.ruleset)) {
            Ok(()) => self.notice = Some(format!("Saved the rules, toggles included, to {path}")),
            Err(e) => self.errors.push(format!("{path}: {e}")),
        }
    }

    /// Moves the selected rule within its chain, and judges everything again.
    fn move_rule(&mut self, delta: i64) {
        if self.focus != Focus::Firewall {
            return;
        }
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        let rules = &mut fw.ruleset.tables[id.table as usize].chains[id.chain as usize].rules;
        let to = id.rule as i64 + delta;
        if to < 0 || to >= rules.len() as i64 {
            return;
        }
        rules.swap(id.rule as usize, to as usize);
        fw.rules_changed();
        self.firewall.selected = (self.firewall.selected as i64 + delta) as usize;
        self.rejudge();
    }

    /// From a packet to its session, or from a session to its packets.
    fn jump(&mut self) {
        match self.focus {
            Focus::Sessions => {
                if let Some(id) = self.sessions.selected {
                    self.detail = None;
                    self.filter_packets(Some(PacketFilterKind::Session(id)));
                    self.focus = Focus::List;
                }
            }
            Focus::Firewall | Focus::Lab => {}
            Focus::List | Focus::Detail | Focus::Hex => {
                let sess = self
                    .selected_index()
                    .and_then(|i| self.view_get(i))
                    .and_then(|p| p.session);
                if let Some(id) = sess {
                    if !self.sessions.filter.is_empty() {
                        self.sessions.filter.clear();
                        self.sessions.invalidate();
                    }
                    self.refresh_sessions();
                    let v = &mut self.sessions;
                    v.selected = Some(id);
                    v.move_by(0);
                    v.detail_open = true;
                    self.focus = Focus::Sessions;
                }
            }
        }
    }

    fn move_by(&mut self, delta: i64) {
        match self.focus {
            Focus::Sessions => self.sessions.move_by(delta),
            Focus::Lab => {
                let n = crate::lab::GeneratorKind::ALL.len() as i64;
                self.lab_selected = (self.lab_selected as i64 + delta).clamp(0, n - 1) as usize;
            }
            Focus::Firewall => {
                if let Some(fw) = &self.engine.firewall {
                    self.firewall.move_by(fw, delta);
                }
            }
            Focus::List => {
                let n = self.view_len();
                if n == 0 {
                    return;
                }
                let top = self.top_index();
                self.pin_selection();
                let cur = self.selected_index().unwrap_or(0) as i64;
                let next = (cur + delta).clamp(0, n as i64 - 1) as usize;
                self.selected = self.view_get(next).map(|p| p.no);
                self.top = self.view_get(top).map(|p| p.no);
                let top = self.top_index();
                self.top = self.view_get(top).map(|p| p.no);
                self.refresh_detail();
            }
            Focus::Detail => {
                let rows = self.detail_rows.max(1);
                if let Some(d) = self.detail.as_mut() {
                    let vis = d.visible();
                    let pos = vis.iter().position(|&i| i == d.cursor).unwrap_or(0) as i64;
                    let next = (pos + delta).clamp(0, vis.len() as i64 - 1) as usize;
                    d.cursor = vis[next];
                    if next < d.scroll {
                        d.scroll = next;
                    } else if next >= d.scroll + rows {
                        d.scroll = next + 1 - rows;
                    }
                }
            }
            Focus::Hex => {
                let rows = self.hex_rows.max(1);
                let len = self.selected_packet_len();
                if let Some(d) = self.detail.as_mut() {
                    let max = len.div_ceil(16).saturating_sub(rows);
                    d.hex_scroll = (d.hex_scroll as i64 + delta).clamp(0, max as i64) as usize;
                }
            }
        }
    }

    fn selected_packet_len(&self) -> usize {
        self.detail
            .as_ref()
            .and_then(|d| self.engine.store.index_of(d.no))
            .and_then(|i| self.engine.store.get(i))
            .map(|p| p.frame.data.len())
            .unwrap_or(0)
    }

    /// Builds the detail tree of the selected packet (only ever for that one packet).
    pub fn open_detail(&mut self) {
        let Some(p) = self.selected_index().and_then(|i| self.view_get(i)) else {
            return;
        };
        let (mut tree, _) = Tree::build(p.no, &p.frame.as_ref());
        if let Some(fw) = &self.engine.firewall {
            let iface = self
                .engine
                .iface_names
                .get(p.frame.iface as usize)
                .and_then(|n| n.as_deref());
            tree.nodes
                .extend(super::firewall_view::explain(fw, p, iface));
        }
        // Start on the innermost layer: that is what the packet is about.
        let cursor = tree
            .nodes
            .iter()
            .rposition(|n| n.depth == 0 && !n.text.starts_with("[Malformed"))
            .unwrap_or(0);
        // Outer layers start folded, as in Wireshark: one line each, Enter opens them.
        let collapsed = tree
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| n.depth == 0 && *i != cursor)
            .map(|(i, _)| i)
            .collect();
        self.detail = Some(DetailView {
            no: p.no,
            tree,
            cursor,
            collapsed,
            scroll: 0,
            hex_scroll: 0,
        });
    }

    /// Keeps an open detail in step with the selection.
    fn refresh_detail(&mut self) {
        let Some(d) = &self.detail else { return };
        let sel = self
            .selected_index()
            .and_then(|i| self.view_get(i))
            .map(|p| p.no);
        if sel != Some(d.no) {
            let focus = self.focus;
            self.open_detail();
            self.focus = focus;
        }
    }

    fn toggle_fold(&mut self) {
        if let Some(d) = self.detail.as_mut() {
            // Fold the layer the cursor is in, and put the cursor on it.
            let layer = (0..=d.cursor)
                .rev()
                .find(|&i| d.tree.nodes[i].depth == 0)
                .unwrap_or(0);
            if !d.collapsed.remove(&layer) {
                d.collapsed.insert(layer);
            }
            d.cursor = layer;
        }
    }

    /// Called after new packets arrived: follow mode shows the newest, and an open detail
    /// follows it.
    pub fn after_ingest(&mut self) {
        if self.follow {
            self.refresh_detail();
        }
    }
}
