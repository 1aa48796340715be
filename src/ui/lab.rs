//! The lab pane: the traffic generators, what each sent and received, and the lab's settings.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme;
use super::widgets::{human_bytes, pane};
use crate::app::state::{App, Focus};
use crate::lab::GeneratorKind;
use crate::sanitize::sanitize;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let Some(lab) = &app.lab else { return };
    let s = &lab.settings;
    let title = format!(
        " Lab — {} msg/s, {} B payload, lossy link {:.0} % loss ",
        s.rate_per_sec, s.payload, s.loss_pct
    );
    let block = pane(title, app.focus == Focus::Lab);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows: Vec<Row> = GeneratorKind::ALL
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let st = lab
                .generator(*k)
                .map(|g| g.stats.clone())
                .unwrap_or_default();
            let on = if st.running { "●" } else { "○" };
            let style = if i == app.lab_selected && app.focus == Focus::Lab {
                theme::selected()
            } else if st.running {
                Style::new().fg(Color::LightGreen)
            } else {
                Style::new()
            };
            let losses = if st.lost + st.out_of_order + st.duplicates + st.retransmissions > 0 {
                format!(
                    "lost {} ooo {} dup {} retx {}",
                    st.lost, st.out_of_order, st.duplicates, st.retransmissions
                )
            } else {
                String::new()
            };
            let note = if st.note.is_empty() {
                k.describe().to_string()
            } else {
                st.note.clone()
            };
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
                Cell::from(sanitize(&note).into_owned()).style(theme::DIM),
            ])
            .style(style)
        })
        .collect();
    let watch = app
        .scenario
        .as_ref()
        .map(|s| s.watch.clone())
        .unwrap_or_else(|| {
            "Enter starts/stops a generator; x explains it; + - < > ( ) tune it.".into()
        });
    let table_h = inner.height.saturating_sub(1);
    let widths = [
        Constraint::Length(22),
        Constraint::Length(16),
        Constraint::Length(16),
        Constraint::Length(30),
        Constraint::Length(4),
        Constraint::Min(10),
    ];
    let header = Row::new([
        "Generator",
        "Sent",
        "Received",
        "Loss / order",
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
            format!("▶ {watch}"),
            theme::DIM,
        )])),
        Rect {
            y: inner.y + table_h,
            height: inner.height.min(1),
            ..inner
        },
    );
}
