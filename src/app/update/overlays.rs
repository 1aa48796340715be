//! The overlays: the interface picker, the follow-stream view, the sessions filter line and the
//! explanation of what is selected.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::edit::{line_key, LineKey};
use crate::app::effect::Effect;
use crate::app::state::{App, Focus};

impl App {
    /// A key while the sessions filter line is being typed.
    pub fn edit_filter(&mut self, code: KeyCode) {
        let v = &mut self.sessions;
        match line_key(&mut v.filter, code) {
            LineKey::Changed => {}
            LineKey::Submit => v.editing = false,
            LineKey::Cancel => {
                v.filter.clear();
                v.editing = false;
            }
            LineKey::Other(_) => return,
        }
        v.invalidate();
        self.refresh_sessions();
    }

    /// Keys of the interface picker: move, Enter captures on the interface, Esc closes.
    pub(crate) fn picker_key(&mut self, code: KeyCode) -> Vec<Effect> {
        let Some(p) = self.picker.as_mut() else {
            return Vec::new();
        };
        let n = p.items.len();
        match code {
            KeyCode::Char('j') | KeyCode::Down => {
                p.selected = (p.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Char('k') | KeyCode::Up => p.selected = p.selected.saturating_sub(1),
            KeyCode::Esc | KeyCode::Char('q') => self.picker = None,
            KeyCode::Enter => {
                let name = p.items.get(p.selected).map(|i| i.name.clone());
                self.picker = None;
                return name.map(Effect::Capture).into_iter().collect();
            }
            _ => {}
        }
        Vec::new()
    }

    /// Keys of the follow view: scroll, h toggles hex, w saves, Esc / q closes.
    pub(crate) fn follow_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let Some(v) = self.follow_view.as_mut() else {
            return Vec::new();
        };
        let n = v.lines().len();
        match key.code {
            KeyCode::Char('c') if ctrl => {
                self.quit = true;
                return vec![Effect::Quit];
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
                let done = format!("Saved the stream of session {} to {path}", v.session);
                return vec![Effect::WriteFile {
                    path: path.into(),
                    contents: text,
                    done,
                }];
            }
            _ => {}
        }
        Vec::new()
    }

    /// The explanation of what the focused pane has selected.
    pub(crate) fn explanation(&self) -> Option<(String, Vec<&'static str>)> {
        use crate::explain;
        let (title, topics) = match self.focus {
            Focus::Sessions => {
                let s = self
                    .sessions
                    .selected
                    .and_then(|id| self.engine.sessions.get(id))?;
                (
                    format!("Session {}: {} {}", s.id, s.proto.name(), s.state_name()),
                    explain::for_session(s, self.engine.session_verdicts.get(&s.id)),
                )
            }
            Focus::Lab if self.lab_net.is_some() => {
                // The lab network: the scenario's lesson, then each concept it shows.
                let sc = self.scenario.as_ref()?;
                let names: Vec<&str> = sc.explain.iter().map(String::as_str).collect();
                return Some((
                    format!("Lab network: {}", sc.title),
                    explain::compose(&names),
                ));
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
}
