//! Keys → actions → state changes, and the effects to carry out. `on_key` and `apply` route a
//! key to the pane or overlay it belongs to; each file here handles one.

mod firewall;
mod lab;
pub mod mouse;
mod overlays;
mod packets;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::effect::Effect;
use crate::app::keymap::{action_for, Action};
use crate::app::state::{App, FilterBar, Focus, PacketFilterKind};
use crate::firewall::eval::Final;

impl App {
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if self.sessions.editing && key.kind != KeyEventKind::Release {
            self.edit_filter(key.code);
            return Vec::new();
        }
        if self.load_prompt.is_some() && key.kind != KeyEventKind::Release {
            return self.load_prompt_key(key.code);
        }
        if self.rule_editor.is_some() && key.kind != KeyEventKind::Release {
            self.edit_rule_key(key.code);
            return Vec::new();
        }
        if self.filter_bar.is_some() && key.kind != KeyEventKind::Release {
            self.filter_bar_key(key.code);
            return Vec::new();
        }
        if self.follow_view.is_some() && key.kind != KeyEventKind::Release {
            return self.follow_key(key);
        }
        if self.picker.is_some() && key.kind != KeyEventKind::Release {
            return self.picker_key(key.code);
        }
        if self.confirm_delete.is_some() && key.kind != KeyEventKind::Release {
            self.confirm_delete_key(key.code);
            return Vec::new();
        }
        if self.show_help
            && key.code == KeyCode::Char('q')
            && !key.modifiers.contains(KeyModifiers::CONTROL)
            && !self.keymap.contains_key(&'q')
        {
            // q closes the help as Esc and ? do; Ctrl-C still quits from it.
            self.show_help = false;
            return Vec::new();
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
        let a = action_for(key);
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        // A bound action's built-in key no longer does it (Ctrl-C always quits).
        if a.is_some_and(|a| self.keymap.values().any(|b| *b == a)) && !ctrl_c {
            return Vec::new();
        }
        a.map(|a| self.apply(a)).unwrap_or_default()
    }

    pub fn apply(&mut self, a: Action) -> Vec<Effect> {
        if self.show_graphs && !matches!(a, Action::Quit) {
            // Any key closes the graphs.
            self.show_graphs = false;
            return Vec::new();
        }
        if self.explain.is_some() && !matches!(a, Action::Quit) {
            // Any key closes the explanation.
            self.explain = None;
            return Vec::new();
        }
        if self.show_help && !matches!(a, Action::Quit) {
            // The scrolling keys move the help (it may be taller than the screen); any other
            // key closes it and does nothing else.
            let last = crate::app::keymap::KEYS.len().saturating_sub(1);
            match a {
                Action::Down => self.help_scroll = (self.help_scroll + 1).min(last),
                Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
                Action::PageDown => self.help_scroll = (self.help_scroll + 10).min(last),
                Action::PageUp => self.help_scroll = self.help_scroll.saturating_sub(10),
                _ => self.show_help = false,
            }
            return Vec::new();
        }
        match a {
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Action::ToggleHelp => {
                self.show_help = true;
                self.help_scroll = 0;
            }
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
                    6 if self.shows_lab() => Focus::Lab,
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
                if self.lab_net.is_some() {
                    return self.switch_lab_network(all[next].clone());
                }
                return self.start_scenario(all[next].clone());
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
                self.filter_bar = Some(FilterBar {
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
                self.filter_bar = Some(FilterBar {
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
            Action::Interfaces => return vec![Effect::ListInterfaces],
            Action::SearchNext => self.search_step(1),
            Action::SearchPrev => self.search_step(-1),
            Action::Space if self.focus == Focus::Firewall => self.toggle_rule(),
            Action::EditRule | Action::AddRule if self.focus == Focus::Firewall => {
                self.open_editor(a)
            }
            Action::DeleteRule if self.focus == Focus::Firewall => self.ask_delete_rule(),
            Action::UndoDelete if self.focus == Focus::Firewall => self.undo_delete(),
            Action::ReloadRules if self.focus == Focus::Firewall => return self.reload_rules(),
            Action::SaveRules if self.focus == Focus::Firewall => return self.save_rules(),
            Action::EditRule
            | Action::AddRule
            | Action::DeleteRule
            | Action::UndoDelete
            | Action::ReloadRules
            | Action::SaveRules => {}
            Action::Explain => self.explain = self.explanation(),
            Action::Lab => {
                if self.shows_lab() {
                    self.focus = Focus::Lab;
                }
            }
            Action::Space if self.focus == Focus::Lab => return self.toggle_generator(),
            Action::Faster
            | Action::Slower
            | Action::Bigger
            | Action::Smaller
            | Action::MoreLoss
            | Action::LessLoss => return self.tune_lab(a),
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
                return vec![Effect::SetPaused(self.paused)];
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
                let lab = self.shows_lab();
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
                Focus::Lab => return self.toggle_generator(),
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
        Vec::new()
    }

    pub(crate) fn page(&self) -> usize {
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

    pub(crate) fn move_by(&mut self, delta: i64) {
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
                    let max = len.div_ceil(self.hex_row_bytes.max(1)).saturating_sub(rows);
                    d.hex_scroll = (d.hex_scroll as i64 + delta).clamp(0, max as i64) as usize;
                }
            }
        }
    }
}
