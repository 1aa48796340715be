//! The packet list: No, Time, Source, Destination, Protocol, Length, Info.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Text;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme;
use super::widgets::pane;
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
    // The columns shown: all, or those the config file chose (Verdict only with a ruleset).
    let all_names = column_names(judged);
    let keep: Vec<bool> = all_names
        .iter()
        .map(|n| {
            app.columns
                .as_ref()
                .is_none_or(|c| c.iter().any(|x| x == n))
        })
        .collect();
    let pick = |v: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        v.into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect()
    };
    let rows = (top..(top + rows_n).min(n)).filter_map(|i| {
        let p = app.view_get(i)?;
        let s = &p.summary;
        let (src, dst) = match (s.src, s.dst) {
            (Some(a), Some(b)) if app.show_names => (app.addr_text(a), app.addr_text(b)),
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
        let mut cells = vec![
            Cell::from(p.no.to_string()),
            Cell::from(format!("{rel:.6}")),
            Cell::from(src),
            Cell::from(dst),
            Cell::from(s.proto.name()),
            Cell::from(p.frame.orig_len.to_string()),
            Cell::from(Text::raw(sanitize(&info(s, &p.frame.data)).into_owned())),
        ];
        if judged {
            let v = match p.judgement {
                Some(j) => Cell::from(if j.exact {
                    j.verdict.name().to_string()
                } else {
                    format!("≈{}", j.verdict.name())
                })
                .style(if Some(i) == sel {
                    theme::selected()
                } else {
                    super::firewall::verdict_style(j.verdict)
                }),
                None => Cell::from("—").style(theme::DIM),
            };
            cells.insert(5, v);
        }
        Some(Row::new(pick(cells)).style(style))
    });
    // IPv4 addresses and MACs fit in 17 columns; wide screens leave room for IPv6.
    let addr_w = if area.width >= 140 { 22 } else { 17 };
    let mut widths = vec![
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(addr_w),
        Constraint::Length(addr_w),
        Constraint::Length(8),
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
    let names: Vec<&str> = all_names
        .into_iter()
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
