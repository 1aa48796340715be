//! Where each pane goes on a screen, and how many rows of content each then has.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::state::{App, Focus, PaneRows};

/// Where each pane goes on a screen of `area`. A pane that is not shown has no area.
pub struct Areas {
    pub sessions: Option<Rect>,
    pub session_detail: Option<Rect>,
    pub firewall: Option<Rect>,
    pub lab: Option<Rect>,
    pub list: Option<Rect>,
    pub detail: Option<Rect>,
    pub hex: Option<Rect>,
    pub notice: Option<Rect>,
    pub status: Rect,
}

pub fn layout(area: Rect, app: &App) -> Areas {
    // Each notice wraps to as many lines as the screen's width needs (the enable-capture command
    // must be readable whole).
    let lines = |t: &str| {
        (t.chars().count() as u16 + 2)
            .div_ceil(area.width.max(1))
            .clamp(1, 3)
    };
    let notice_h = app.notice.as_deref().map(lines).unwrap_or(0)
        + app.errors.last().map(|e| lines(e)).unwrap_or(0);
    let [main, notice, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(notice_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut a = Areas {
        sessions: None,
        session_detail: None,
        firewall: None,
        lab: None,
        list: None,
        detail: None,
        hex: None,
        notice: (notice_h > 0).then_some(notice),
        status,
    };
    if app.maximized {
        match app.focus {
            Focus::Sessions => split_sessions(&mut a, main, app),
            Focus::List => a.list = Some(main),
            Focus::Detail => a.detail = Some(main),
            Focus::Hex => a.hex = Some(main),
            Focus::Firewall => a.firewall = Some(main),
            Focus::Lab => a.lab = Some(main),
        }
        return a;
    }
    // The session detail needs more height than the table alone.
    let share = if app.sessions.detail_open { 50 } else { 35 };
    let middle = app.engine.firewall.is_some() || app.lab.is_some();
    let fw_share = if middle { 25 } else { 0 };
    let share = share - fw_share / 3;
    // The lab needs a row per generator (9), its header, its hint and borders.
    let middle_c = if app.lab.is_some() {
        Constraint::Length(13)
    } else {
        Constraint::Percentage(fw_share)
    };
    let [top, fw, packets] =
        Layout::vertical([Constraint::Percentage(share), middle_c, Constraint::Fill(1)])
            .areas(main);
    split_sessions(&mut a, top, app);
    match (app.lab.is_some(), app.engine.firewall.is_some()) {
        (true, true) => {
            let [l, r] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(fw);
            a.lab = Some(l);
            a.firewall = Some(r);
        }
        (true, false) => a.lab = Some(fw),
        (false, true) => a.firewall = Some(fw),
        (false, false) => {}
    }
    if app.detail.is_some() {
        let [list, bottom] =
            Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(packets);
        // The hex view needs 77 columns for 16 bytes a row; the tree gets the rest, and on a
        // narrow screen they share it.
        let split = if bottom.width >= 117 {
            [Constraint::Min(40), Constraint::Length(77)]
        } else {
            [Constraint::Percentage(50), Constraint::Percentage(50)]
        };
        let [d, h] = Layout::horizontal(split).areas(bottom);
        a.list = Some(list);
        a.detail = Some(d);
        a.hex = Some(h);
    } else {
        a.list = Some(packets);
    }
    a
}

fn split_sessions(a: &mut Areas, r: Rect, app: &App) {
    if app.sessions.detail_open {
        let [t, d] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(r);
        a.sessions = Some(t);
        a.session_detail = Some(d);
    } else {
        a.sessions = Some(r);
    }
}

/// Rows of content inside a bordered pane of `r`, less `extra` header rows.
pub fn inner_rows(r: Rect, extra: u16) -> usize {
    r.height.saturating_sub(2 + extra) as usize
}

/// The rows of content each pane has on a screen of `area` (for paging and keeping the
/// selection in view).
pub fn rows(area: Rect, app: &App) -> PaneRows {
    let a = layout(area, app);
    let banner = app
        .engine
        .firewall
        .as_ref()
        .map_or(0, |fw| u16::from(!fw.unsupported().is_empty()));
    PaneRows {
        list: a.list.map(|r| inner_rows(r, 1)).unwrap_or(10).max(1),
        sessions: a.sessions.map(|r| inner_rows(r, 1)).unwrap_or(10).max(1),
        firewall: a
            .firewall
            .map(|r| inner_rows(r, banner))
            .unwrap_or(10)
            .max(1),
        detail: a.detail.map(|r| inner_rows(r, 0)).unwrap_or(10).max(1),
        hex: a.hex.map(|r| inner_rows(r, 0)).unwrap_or(10).max(1),
    }
}

/// The pane at column `x`, row `y` of a screen of `area`, and the row of its content there (0 =
/// the first data row, below the border and the header row of a table pane).
pub fn pane_at(area: Rect, app: &App, x: u16, y: u16) -> Option<(Focus, u16)> {
    let a = layout(area, app);
    let at = ratatui::layout::Position::new(x, y);
    [
        (Focus::Sessions, a.sessions),
        (Focus::List, a.list),
        (Focus::Detail, a.detail),
        (Focus::Hex, a.hex),
        (Focus::Firewall, a.firewall),
        (Focus::Lab, a.lab),
    ]
    .into_iter()
    .find_map(|(p, r)| {
        r.filter(|r| r.contains(at))
            .map(|r| (p, y.saturating_sub(r.y + 2)))
    })
}
