//! The lab pane: the traffic generators, what each sent and received, and the lab's settings.
//! Idle and unfocused it is one line; while generators run it lists those; focused, all.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme;
use super::widgets::{ellipsize, human_bytes, pane};
use crate::app::state::{App, Focus};
use crate::lab::{GeneratorKind, GeneratorStats};
use crate::sanitize::sanitize;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    if let Some(net) = &app.lab_net {
        return super::lab_net::render(f, area, app, net);
    }
    let Some(lab) = &app.lab else { return };
    let s = &lab.settings;
    if area.height < 3 {
        let running = lab.generators.iter().filter(|g| g.stats.running).count();
        let text = match &app.lab_capture_hint {
            Some(hint) => format!("{running} running — {hint}"),
            None => format!(
                "{} generators, {running} running — L or 6 opens it, Enter starts one",
                lab.generators.len()
            ),
        };
        let line = Line::from(vec![
            Span::styled(" Lab ", theme::header()),
            Span::raw(ellipsize(&text, area.width.saturating_sub(5) as usize)),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let title = format!(
        " Lab — {} msg/s, {} B payload, lossy link {:.0} % loss ",
        s.rate_per_sec, s.payload, s.loss_pct
    );
    let focused = app.focus == Focus::Lab;
    let block = pane(title, focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    // Focused: every generator, scrolled to keep the selected one in view. Otherwise only the
    // running ones (that is why the pane is open).
    let shown: Vec<(usize, GeneratorKind)> = GeneratorKind::ALL
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, k)| focused || stats(app, *k).running)
        .collect();
    let table_h = inner.height.saturating_sub(1);
    let rows_fit = table_h.saturating_sub(1) as usize;
    let top = if focused {
        (app.lab_selected + 1).saturating_sub(rows_fit.max(1))
    } else {
        0
    };
    let name_w = GeneratorKind::ALL
        .iter()
        .map(|k| k.name().chars().count())
        .max()
        .unwrap_or(10) as u16
        + 2;
    let widths = [
        Constraint::Length(name_w),
        Constraint::Length(14),
        Constraint::Length(14),
        Constraint::Length(28),
        Constraint::Length(3),
        Constraint::Fill(1),
    ];
    // The note column's width, for its ellipsis: what the fixed columns and spacing leave.
    let fixed: u16 = name_w + 14 + 14 + 28 + 3 + 5;
    let note_w = inner.width.saturating_sub(fixed) as usize;
    let rows: Vec<Row> = shown
        .iter()
        .skip(top)
        .take(rows_fit)
        .map(|&(i, k)| {
            let st = stats(app, k);
            let on = if st.running { "●" } else { "○" };
            let selected = i == app.lab_selected && focused;
            let style = if selected {
                theme::selected()
            } else if st.running {
                Style::new().fg(Color::LightGreen)
            } else {
                Style::new()
            };
            // "lost" = not answered within the loss timeout, "in flight" = sent less than that
            // ago: with "Received" they add up to "Sent" (the header says so).
            let mut parts = Vec::new();
            if st.lost + st.in_flight > 0 {
                parts.push(format!("lost {}, {} in flight", st.lost, st.in_flight));
            }
            for (n, what) in [
                (st.out_of_order, "ooo"),
                (st.duplicates, "dup"),
                (st.retransmissions, "retx"),
            ] {
                if n > 0 {
                    parts.push(format!("{what} {n}"));
                }
            }
            let losses = parts.join(" ");
            let note = if st.note.is_empty() {
                k.describe().to_string()
            } else {
                st.note.clone()
            };
            let port = if st.server.is_empty() {
                k.port_label()
            } else {
                st.server.clone()
            };
            let note = format!("→ {port}  {note}");
            Row::new(vec![
                Cell::from(format!("{on} {}", k.name())),
                Cell::from(format!("{} / {}", st.sent_msgs, human_bytes(st.sent_bytes))),
                Cell::from(format!("{} / {}", st.recv_msgs, human_bytes(st.recv_bytes))),
                Cell::from(losses).style(Style::new().fg(Color::Yellow)),
                Cell::from(if st.errors > 0 {
                    st.errors.to_string()
                } else {
                    String::new()
                })
                .style(theme::ERROR),
                Cell::from(ellipsize(&sanitize(&note), note_w)).style(theme::tag(selected)),
            ])
            .style(style)
        })
        .collect();
    let watch = match (&app.scenario, &app.lab_capture_hint) {
        (_, Some(hint)) => format!("The lab's packets: {hint}"),
        (Some(s), None) => s.loopback_watch.clone().unwrap_or_else(|| s.watch.clone()),
        (None, None) => {
            "Enter starts/stops a generator; x explains it; + - < > ( ) tune it.".into()
        }
    };
    let header = Row::new([
        "Generator",
        "Sent",
        "Received",
        "Lost >1s, in flight, order",
        "Err",
        "Note",
    ])
    .style(theme::header());
    f.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        Rect {
            height: table_h,
            ..inner
        },
    );
    f.render_widget(
        Paragraph::new(Line::from(vec![Span::styled(
            ellipsize(&format!("▶ {watch}"), inner.width as usize),
            theme::DIM,
        )])),
        Rect {
            y: inner.y + table_h,
            height: inner.height.min(1),
            ..inner
        },
    );
}

fn stats(app: &App, k: GeneratorKind) -> GeneratorStats {
    app.lab
        .as_ref()
        .and_then(|l| l.generator(k))
        .map(|g| g.stats.clone())
        .unwrap_or_default()
}
