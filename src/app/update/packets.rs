//! The packet list, its detail tree and hex view: moving, folding, jumping between packets and
//! sessions, the display-filter bar and search.

use crossterm::event::KeyCode;

use crate::app::edit::{line_key, LineKey};
use crate::app::state::{App, DetailView, Focus, PacketFilterKind, Search};
use crate::decode::detail::Tree;

impl App {
    /// Leaves follow mode with the current newest packet selected.
    pub(crate) fn pin_selection(&mut self) {
        if let Some(i) = self.selected_index() {
            let top = self.top_index();
            self.selected = self.view_get(i).map(|p| p.no);
            self.top = self.view_get(top).map(|p| p.no);
        }
        self.follow = false;
    }

    /// A key while the display-filter bar is open: typing (checked at every key), Enter applies
    /// a valid filter (an empty one shows all), Esc leaves it unchanged, Up / Down walk the
    /// history.
    pub(crate) fn filter_bar_key(&mut self, code: KeyCode) {
        let Some(bar) = self.filter_bar.as_mut() else {
            return;
        };
        match line_key(&mut bar.text, code) {
            LineKey::Changed => {}
            LineKey::Other(code @ (KeyCode::Up | KeyCode::Down)) => {
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
            LineKey::Cancel => {
                self.filter_bar = None;
                return;
            }
            LineKey::Submit if bar.search => {
                let text = bar.text.trim().to_string();
                self.filter_bar = None;
                self.search = (!text.is_empty()).then(|| Search::new(&text));
                self.search_step(1);
                return;
            }
            LineKey::Submit => {
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
            LineKey::Other(_) => return,
        }
        let err = crate::filter::DisplayFilter::parse(bar.text.trim()).err();
        bar.error = if bar.text.trim().is_empty() {
            None
        } else {
            err
        };
    }

    /// Moves the selection of the focused pane to the next (or previous, `dir` < 0) row the
    /// search matches, wrapping around; other rows stay in view.
    pub(crate) fn search_step(&mut self, dir: i64) {
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
                            crate::app::sessions_view::row_text(s)
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

    /// From a packet to its session, or from a session to its packets.
    pub(crate) fn jump(&mut self) {
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

    pub(crate) fn selected_packet_len(&self) -> usize {
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
                .extend(crate::app::firewall_view::explain(fw, p, iface));
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
    pub(crate) fn refresh_detail(&mut self) {
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

    pub(crate) fn toggle_fold(&mut self) {
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
