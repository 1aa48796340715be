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
    // Top to bottom: sessions beside the firewall, the lab, the packets (list, then detail and
    // hex). The packet list is what people came for: it keeps 8 rows, or 3 each for list,
    // detail and hex once a packet is open; the rest is shared.
    let lab_h = if app.shows_lab() {
        lab_height(app, main.height)
    } else {
        0
    };
    // List alone: borders, header and 8 rows; with a packet open: 6 for the list, 5 below.
    // Beside a lab pane on a small screen, 7 rows: the sessions keep 3 (the lab is about
    // connections as much as packets).
    let packets_min = if lab_h > 1 && main.height < 30 {
        10
    } else {
        11
    };
    let rest = main.height.saturating_sub(lab_h);
    let share = if app.detail.is_some() { 30 } else { 45 };
    let top_h = (rest * share / 100)
        .min(rest.saturating_sub(packets_min))
        .max(4.min(rest));
    let [top, lab, packets] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Length(lab_h),
        Constraint::Fill(1),
    ])
    .areas(main);
    if app.shows_lab() {
        a.lab = Some(lab);
    }
    // The firewall shares the top row with the sessions; an open session detail takes its
    // place on screens too narrow for three columns.
    let fw_beside =
        app.engine.firewall.is_some() && (!app.sessions.detail_open || top.width >= 200);
    if fw_beside {
        let fw_pct = match top.width {
            160.. => 55,
            100..160 => 45,
            _ => 50,
        };
        let [s, f] = Layout::horizontal([
            Constraint::Percentage(100 - fw_pct),
            Constraint::Percentage(fw_pct),
        ])
        .areas(top);
        split_sessions(&mut a, s, app);
        a.firewall = Some(f);
    } else {
        split_sessions(&mut a, top, app);
    }
    if app.detail.is_some() {
        // The list keeps at least 3 rows (6 with its border and header); detail and hex get
        // the larger part.
        let list_h = (packets.height * 40 / 100)
            .max(6)
            .min(packets.height.saturating_sub(5));
        let [list, bottom] =
            Layout::vertical([Constraint::Length(list_h), Constraint::Fill(1)]).areas(packets);
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

/// Rows the lab pane takes: one line while it is idle and not focused; while generators run,
/// a row for each of them; focused, all of them (as many as half the screen allows).
fn lab_height(app: &App, main_h: u16) -> u16 {
    if let Some(net) = &app.lab_net {
        // The lab network is what this screen is about: its pane is open, a third of the
        // screen (half when focused).
        let want = 2 + super::lab_net::wanted_rows(net);
        let share = if app.focus == Focus::Lab { 2 } else { 3 };
        // On a small screen, unfocused, it keeps 4 lines: the programs, the router, the
        // link or the kernel (its watch line is at x).
        let cap = if main_h < 30 && app.focus != Focus::Lab {
            6
        } else {
            u16::MAX
        };
        return want.min((main_h / share).max(5)).min(cap).min(main_h);
    }
    let Some(lab) = &app.lab else { return 0 };
    let running = lab.generators.iter().filter(|g| g.stats.running).count() as u16;
    // Borders, the header row and the hint line.
    let chrome = 4;
    let want = if app.focus == Focus::Lab {
        chrome + lab.generators.len() as u16
    } else if running > 0 {
        chrome + running
    } else {
        return 1;
    };
    // Focused, it may take half the screen (the person is looking at it); otherwise a third.
    let share = if app.focus == Focus::Lab { 2 } else { 3 };
    want.min((main_h / share).max(chrome + 1)).min(main_h)
}

/// The smallest screen packetlab draws its panes on; below it says so instead.
pub const MIN_SIZE: (u16, u16) = (60, 15);

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1
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
        hex_row_bytes: a
            .hex
            .map_or(16, |r| hex_row_bytes(r.width.saturating_sub(2))),
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

/// Bytes a hex row shows in `width` columns: 16 (`0000  xx … xx  xx … xx  text`), else 8 or 4
/// with a one-space gap, so that no row is cut at the pane's edge.
pub fn hex_row_bytes(width: u16) -> usize {
    match width {
        73.. => 16,
        38.. => 8,
        _ => 4,
    }
}
