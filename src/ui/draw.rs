//! Drawing the whole screen: the panes where the layout puts them, the notice and status lines,
//! then whichever overlay is open. A pure function of `&App`.

use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::layout::{layout, too_small, MIN_SIZE};
use super::{capture_list, detail, firewall, help, hex, lab, session_detail, sessions, status};
use crate::app::state::App;

pub fn render(f: &mut Frame, app: &App) {
    if too_small(f.area()) {
        render_too_small(f);
    } else {
        render_panes(f, app);
    }
    if app.no_color {
        // NO_COLOR (https://no-color.org): keep bold, reverse and underline, drop the colours.
        // What a background marked (the selected row, the status bar, highlighted bytes) is
        // shown in reverse video instead, so it stays visible.
        let area = f.area();
        let buf = f.buffer_mut();
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                let c = &mut buf[(x, y)];
                if c.bg != Color::Reset {
                    c.modifier.toggle(Modifier::REVERSED);
                }
                c.fg = Color::Reset;
                c.bg = Color::Reset;
            }
        }
    }
}

fn render_too_small(f: &mut Frame) {
    let area = f.area();
    let (w, h) = MIN_SIZE;
    let text = format!(
        "terminal too small ({}×{}; needs {w}×{h})",
        area.width, area.height
    );
    let y = area.y + area.height / 2;
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect {
            y: y.saturating_sub(1),
            height: area.height.min(3),
            ..area
        },
    );
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
        help::render(f, f.area(), app);
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
