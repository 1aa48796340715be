//! Drawing: a pure function of `&App`. No I/O, no locking, nothing decoded here except the rows
//! on screen (their Info text) and the one selected packet's hex.

mod capture_list;
mod detail;
mod help;
mod hex;
mod status;
pub mod theme;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui::Frame;

use crate::app::state::App;

/// Where each pane goes on a screen of `area`.
pub struct Areas {
    pub list: Rect,
    pub detail: Option<Rect>,
    pub hex: Option<Rect>,
    pub notice: Option<Rect>,
    pub status: Rect,
}

pub fn layout(area: Rect, app: &App) -> Areas {
    let notice_h = u16::from(app.notice.is_some()) + u16::from(!app.errors.is_empty());
    let [main, notice, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(notice_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let (list, detail, hex) = if app.detail.is_some() {
        let [list, bottom] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(main);
        // The hex view needs 77 columns for 16 bytes a row; the tree gets the rest, and on a
        // narrow screen they share it.
        let split = if bottom.width >= 117 {
            [Constraint::Min(40), Constraint::Length(77)]
        } else {
            [Constraint::Percentage(50), Constraint::Percentage(50)]
        };
        let [d, h] = Layout::horizontal(split).areas(bottom);
        (list, Some(d), Some(h))
    } else {
        (main, None, None)
    };
    Areas {
        list,
        detail,
        hex,
        notice: (notice_h > 0).then_some(notice),
        status,
    }
}

/// Rows of content inside a bordered pane of `r`, less `extra` header rows.
pub fn inner_rows(r: Rect, extra: u16) -> usize {
    r.height.saturating_sub(2 + extra) as usize
}

/// Updates the row counts key handling needs (paging, keeping the selection in view).
pub fn fit(app: &mut App, area: Rect) {
    let a = layout(area, app);
    app.list_rows = inner_rows(a.list, 1).max(1);
    app.detail_rows = a.detail.map(|r| inner_rows(r, 0)).unwrap_or(10).max(1);
    app.hex_rows = a.hex.map(|r| inner_rows(r, 0)).unwrap_or(10).max(1);
}

pub fn render(f: &mut Frame, app: &App) {
    let a = layout(f.area(), app);
    capture_list::render(f, a.list, app);
    if let (Some(d), Some(h)) = (a.detail, a.hex) {
        detail::render(f, d, app);
        hex::render(f, h, app);
    }
    if let Some(n) = a.notice {
        status::render_notice(f, n, app);
    }
    status::render(f, a.status, app);
    if app.show_help {
        help::render(f, f.area());
    }
}

fn pane(title: String, focused: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            theme::BORDER_FOCUS
        } else {
            theme::BORDER
        })
        .title(title)
        .title_style(Style::new().add_modifier(ratatui::style::Modifier::BOLD))
}
