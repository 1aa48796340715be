//! The detail tree of the selected packet: layers (foldable) and their fields.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use super::widgets::{ellipsize, pane};
use crate::app::state::{App, Focus};
use crate::sanitize::sanitize;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = &app.detail else { return };
    // A packet the kernel judged otherwise says so where it is looked at.
    let differs = app
        .kernel
        .as_ref()
        .and_then(|k| k.differs.get(&d.no))
        .map(|w| format!("— ≠ KERNEL: {} ", sanitize(w)))
        .unwrap_or_default();
    let title = format!(" Packet {} detail {differs}", d.no);
    let block = pane(
        ellipsize(&title, area.width.saturating_sub(2) as usize),
        app.focus == Focus::Detail,
    );
    let rows = super::layout::inner_rows(area, 0);
    let vis = d.visible();
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = vis
        .iter()
        .skip(d.scroll)
        .take(rows)
        .map(|&i| {
            let n = &d.tree.nodes[i];
            let text = sanitize(&n.text).into_owned();
            let (prefix, style) = if n.depth == 0 {
                let mark = if d.collapsed.contains(&i) {
                    "▶ "
                } else {
                    "▼ "
                };
                let style = if n.text.starts_with("[Malformed") {
                    theme::ERROR
                } else {
                    theme::LAYER
                };
                (mark.to_string(), style)
            } else {
                ("  ".repeat(n.depth as usize), ratatui::style::Style::new())
            };
            let style = if i == d.cursor {
                theme::selected()
            } else {
                style
            };
            // A field longer than the pane ends in … instead of at the border.
            let text = ellipsize(&text, width.saturating_sub(prefix.chars().count()));
            Line::from(vec![Span::raw(prefix), Span::styled(text, style)])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
