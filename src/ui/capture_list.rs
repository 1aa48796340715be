//! The packet list: No, Time, Source, Destination, Protocol, Length, Info.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Text;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme;
use super::widgets::{ellipsize, ellipsize_endpoint, pane};
use crate::app::state::{App, Focus, PacketFilterKind};
use crate::decode::info::endpoints;
use crate::decode::info::info;
use crate::sanitize::sanitize;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let n = app.view_len();
    let mut title = match &app.packet_filter {
        Some(f) => format!(
            " Packets {} ({} of {}) — Esc shows all ",
            match f.kind {
                PacketFilterKind::Session(id) => format!("of session {id}"),
                PacketFilterKind::Verdict(v) => format!("with verdict {}", v.name()),
                PacketFilterKind::Display => format!(
                    "matching {}",
                    app.display_filter.as_ref().map(|f| f.text()).unwrap_or("")
                ),
            },
            n,
            app.engine.packets
        ),
        None => format!(" Packets ({}) ", app.engine.packets),
    };
    if app.follow {
        title.push_str("[follow] ");
    }
    let block = pane(title, app.focus == Focus::List);
    if n == 0 {
        let msg = if app.packet_filter.is_some() {
            "No kept packet passes the filter (Esc shows all)."
        } else if app.source_done {
            "No packets in this capture."
        } else {
            "Waiting for packets…"
        };
        f.render_widget(Paragraph::new(msg).style(theme::DIM).block(block), area);
        return;
    }
    let rows_n = super::layout::inner_rows(area, 1);
    let top = app.top_index();
    let sel = app.selected_index();
    let t0 = app.engine.first_ts.map(|t| t.0).unwrap_or(0);
    let judged = app.engine.firewall.is_some();
    // Narrow screens drop the length column (unless the config file chose it) and show times
    // to the millisecond, so that addresses and Info keep room.
    let narrow = area.width < 100;
    let all_names = column_names(judged);
    let keep: Vec<bool> = all_names
        .iter()
        .map(|n| match &app.columns {
            Some(c) => c.iter().any(|x| x == n),
            None => !(narrow && *n == "Length"),
        })
        .collect();
    let pick = |v: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        v.into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect()
    };
    let last_no = app
        .view_get((top + rows_n).min(n).saturating_sub(1))
        .map_or(1, |p| p.no);
    let no_w = (last_no.to_string().len() as u16).max(3);
    let time_w = if narrow { 9 } else { 11 };
    // IPv4 addresses and MACs fit in 17 columns; wide screens leave room for IPv6.
    let addr_w: u16 = if area.width >= 140 {
        22
    } else if narrow {
        15
    } else {
        17
    };
    let mut widths = vec![
        Constraint::Length(no_w),
        Constraint::Length(time_w),
        Constraint::Length(addr_w),
        Constraint::Length(addr_w),
        Constraint::Length(if narrow { 6 } else { 8 }),
        Constraint::Length(6),
        Constraint::Min(10),
    ];
    // With a ruleset loaded, each packet's verdict gets a column of its own.
    if judged {
        widths.insert(5, Constraint::Length(7));
    }
    let widths: Vec<Constraint> = widths
        .into_iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(w, _)| w)
        .collect();
    // What the Info column gets: the last column's width once the others are placed.
    let inner_w = area.width.saturating_sub(2);
    let info_w = Layout::horizontal(widths.clone())
        .spacing(1)
        .split(Rect::new(0, 0, inner_w, 1))
        .last()
        .map_or(0, |r| r.width as usize);
    let proto_w = if narrow { 6 } else { 8 };
    let rows = (top..(top + rows_n).min(n)).filter_map(|i| {
        let p = app.view_get(i)?;
        let s = &p.summary;
        let (src, dst) = match (s.src, s.dst) {
            (Some(a), Some(b)) if app.show_names => (
                sanitize(&app.addr_text(a)).into_owned(),
                sanitize(&app.addr_text(b)).into_owned(),
            ),
            _ => endpoints(s),
        };
        let rel = (p.frame.ts.0 - t0) as f64 / 1e9;
        let mut style = if Some(i) == sel {
            theme::selected()
        } else {
            theme::packet_style(s)
        };
        // Search matches stand out without hiding the other rows.
        if app.search.as_ref().is_some_and(|q| q.hits_packet(p)) {
            style = style.add_modifier(
                ratatui::style::Modifier::BOLD | ratatui::style::Modifier::UNDERLINED,
            );
        }
        let time = if narrow {
            format!("{rel:.3}")
        } else {
            format!("{rel:.6}")
        };
        let mut cells = vec![
            Cell::from(p.no.to_string()),
            Cell::from(time),
            Cell::from(ellipsize_endpoint(&src, addr_w as usize)),
            Cell::from(ellipsize_endpoint(&dst, addr_w as usize)),
            Cell::from(ellipsize(s.proto.name(), proto_w)),
            Cell::from(p.frame.orig_len.to_string()),
            Cell::from(Text::raw(ellipsize(
                &sanitize(&info(s, &p.frame.data)),
                info_w,
            ))),
        ];
        // --lab-kernel: a packet the kernel judged otherwise is marked (≠, also without
        // colour) and its row stands out.
        let differs = app
            .kernel
            .as_ref()
            .is_some_and(|k| k.differs.contains_key(&p.no));
        if differs && Some(i) != sel {
            style = theme::differs();
        }
        if judged {
            let mark = if differs {
                "≠"
            } else if p.judgement.is_some_and(|j| !j.exact) {
                "≈"
            } else {
                ""
            };
            let v = match p.judgement {
                Some(j) => {
                    Cell::from(format!("{mark}{}", j.verdict.name())).style(if Some(i) == sel {
                        theme::selected()
                    } else if differs {
                        theme::differs()
                    } else {
                        super::firewall::verdict_style(j.verdict)
                    })
                }
                None => Cell::from("—").style(theme::tag(Some(i) == sel)),
            };
            cells.insert(5, v);
        }
        Some(Row::new(pick(cells)).style(style))
    });
    let names: Vec<&str> = all_names
        .into_iter()
        .map(|n| {
            if narrow && n == "Protocol" {
                "Proto"
            } else {
                n
            }
        })
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(n, _)| n)
        .collect();
    let header = Row::new(names).style(theme::header());
    let inner = block.inner(area);
    let bar_h = u16::from(app.filter_bar.is_some()) * 2;
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    f.render_widget(block, area);
    f.render_widget(
        table,
        Rect {
            height: inner.height.saturating_sub(bar_h),
            ..inner
        },
    );
    if let Some(bar) = &app.filter_bar {
        render_filter_bar(f, inner, bar, bar_h);
    }
}

/// The display-filter line and, under it, whether the text is a filter (or where it is not).
fn render_filter_bar(f: &mut Frame, inner: Rect, bar: &crate::app::state::FilterBar, h: u16) {
    use ratatui::style::{Color, Style};
    use ratatui::text::{Line, Span};
    let r = Rect {
        y: inner.y + inner.height.saturating_sub(h),
        height: h.min(inner.height),
        ..inner
    };
    let label = if bar.search { "search: " } else { "filter: " };
    let status = match &bar.error {
        Some(e) => Line::from(vec![
            // A caret under the column where the problem is.
            Span::raw(" ".repeat(8 + e.pos)),
            Span::styled(format!("^ {e}"), Style::new().fg(Color::LightRed)),
        ]),
        None if bar.text.trim().is_empty() => Line::styled(
            "empty: Enter shows every packet, Esc keeps the list",
            theme::DIM,
        ),
        None => Line::styled(
            "✔ Enter applies, Esc cancels, ↑ ↓ history",
            Style::new().fg(Color::LightGreen),
        ),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(label, theme::header()),
            Span::raw(sanitize(&bar.text).into_owned()),
            Span::styled("▏", theme::BORDER_FOCUS),
        ]),
        status,
    ];
    f.render_widget(ratatui::widgets::Paragraph::new(lines), r);
}

/// The packet list's columns, in order; the verdict has one when a ruleset is loaded.
fn column_names(judged: bool) -> Vec<&'static str> {
    let mut names = vec![
        "No.",
        "Time",
        "Source",
        "Destination",
        "Protocol",
        "Length",
        "Info",
    ];
    if judged {
        names.insert(5, "Verdict");
    }
    names
}
