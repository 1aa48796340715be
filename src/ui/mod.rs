//! Drawing: a pure function of `&App`. No I/O, no locking, nothing decoded here except the rows
//! on screen (their Info text) and the one selected packet's hex.

mod capture_list;
mod detail;
mod firewall;
mod help;
mod hex;
mod lab;
mod session_detail;
mod sessions;
mod status;
pub mod theme;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui::Frame;

use crate::app::state::{App, Focus};

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

/// Updates the row counts key handling needs (paging, keeping the selection in view).
pub fn fit(app: &mut App, area: Rect) {
    let a = layout(area, app);
    app.list_rows = a.list.map(|r| inner_rows(r, 1)).unwrap_or(10).max(1);
    app.sessions.visible_rows = a.sessions.map(|r| inner_rows(r, 1)).unwrap_or(10).max(1);
    let banner = app
        .engine
        .firewall
        .as_ref()
        .map_or(0, |fw| u16::from(!fw.unsupported().is_empty()));
    app.firewall.visible_rows = a
        .firewall
        .map(|r| inner_rows(r, banner))
        .unwrap_or(10)
        .max(1);
    app.detail_rows = a.detail.map(|r| inner_rows(r, 0)).unwrap_or(10).max(1);
    app.hex_rows = a.hex.map(|r| inner_rows(r, 0)).unwrap_or(10).max(1);
}

pub fn render(f: &mut Frame, app: &App) {
    render_panes(f, app);
    if app.no_color {
        // NO_COLOR (https://no-color.org): keep bold, reverse and underline, drop the colours.
        let area = f.area();
        let buf = f.buffer_mut();
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                let c = &mut buf[(x, y)];
                c.fg = ratatui::style::Color::Reset;
                c.bg = ratatui::style::Color::Reset;
            }
        }
    }
}

/// Whether the person asked for no colours: `NO_COLOR` set and not empty (read once, at start).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn render_panes(f: &mut Frame, app: &App) {
    let a = layout(f.area(), app);
    if let Some(r) = a.sessions {
        sessions::render(f, r, app);
    }
    if let Some(r) = a.session_detail {
        session_detail::render(f, r, app);
    }
    if let Some(r) = a.firewall {
        firewall::render(f, r, app);
    }
    if let Some(r) = a.lab {
        lab::render(f, r, app);
    }
    if let Some(r) = a.list {
        capture_list::render(f, r, app);
    }
    if let Some(r) = a.detail {
        detail::render(f, r, app);
    }
    if let Some(r) = a.hex {
        hex::render(f, r, app);
    }
    if let Some(n) = a.notice {
        status::render_notice(f, n, app);
    }
    status::render(f, a.status, app);
    if app.show_help {
        help::render(f, f.area());
    }
    if let Some(p) = &app.picker {
        help::render_picker(f, f.area(), p);
    }
    if app.show_graphs {
        help::render_graphs(f, f.area(), app);
    }
    if let Some(v) = &app.follow_view {
        help::render_follow(f, f.area(), v);
    }
    if let Some((title, paragraphs)) = &app.explain {
        help::render_explain(f, f.area(), title, paragraphs);
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

/// A byte count for people: 950 B, 12.3 kB, 4.5 MB.
pub fn human_bytes(b: u64) -> String {
    match b {
        0..=999 => format!("{b} B"),
        1_000..=999_999 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.2} GB", b as f64 / 1e9),
    }
}

/// A duration for people: 0.042s, 12.3s, 5m03s, 2h10m.
pub fn human_secs(ns: i64) -> String {
    let s = ns.max(0) as f64 / 1e9;
    if s < 1.0 {
        format!("{s:.3}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// Values as a row of block characters, scaled to the largest.
pub fn spark(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                BARS[((v * 7).div_ceil(max.max(1))) as usize % 8]
            }
        })
        .collect()
}
