//! The mouse, by pane and row: the event loop finds which pane the pointer is on and on which
//! row of it (it knows the layout); here a click focuses and selects, the wheel scrolls.

use crate::app::state::{App, Focus};

/// What the mouse did, where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mouse {
    /// A left click on row `row` of the pane's content (0 = the first data row, below its
    /// border and header).
    Click { pane: Focus, row: u16 },
    /// The wheel over a pane: positive scrolls down.
    Scroll { pane: Focus, lines: i64 },
}

impl App {
    /// Whether a pane under the pointer is what the mouse reaches (no overlay covers it).
    pub fn mouse_reaches_panes(&self) -> bool {
        !(self.show_help
            || self.explain.is_some()
            || self.follow_view.is_some()
            || self.picker.is_some())
    }

    pub fn on_mouse(&mut self, m: Mouse) {
        if !self.mouse_reaches_panes() {
            return;
        }
        match m {
            Mouse::Scroll { pane, lines } => {
                let before = self.focus;
                self.focus = pane;
                self.move_by(lines);
                self.focus = before;
            }
            Mouse::Click { pane, row } => {
                self.focus = pane;
                let row = row as i64;
                match pane {
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
        }
    }
}
