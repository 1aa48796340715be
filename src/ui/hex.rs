//! Hex and ASCII of the selected packet, the bytes of the selected field highlighted.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use super::widgets::pane;
use crate::app::state::{App, Focus};

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = &app.detail else { return };
    let Some(p) = app
        .engine
        .store
        .index_of(d.no)
        .and_then(|i| app.engine.store.get(i))
    else {
        let block = pane(" Hex ".into(), app.focus == Focus::Hex);
        f.render_widget(
            Paragraph::new("(packet no longer kept: raise --keep)").block(block),
            area,
        );
        return;
    };
    let data = &p.frame.data;
    let hl = d
        .tree
        .nodes
        .get(d.cursor)
        .map(|n| n.range.clone())
        .unwrap_or(0..0);
    let title = if hl.is_empty() {
        format!(" Hex ({} bytes) ", data.len())
    } else {
        format!(
            " Hex ({} bytes, selected {}..{}) ",
            data.len(),
            hl.start,
            hl.end
        )
    };
    let block = pane(title, app.focus == Focus::Hex);
    let rows = super::layout::inner_rows(area, 0);
    let style_of = |i: usize| {
        if hl.contains(&i) {
            theme::HIGHLIGHT_BYTES
        } else {
            Style::new()
        }
    };
    let n = super::layout::hex_row_bytes(area.width.saturating_sub(2));
    let gap = if n == 16 { "  " } else { " " };
    let lines: Vec<Line> = data
        .chunks(n)
        .enumerate()
        .skip(d.hex_scroll)
        .take(rows)
        .map(|(row, chunk)| {
            let base = row * n;
            let mut spans = vec![Span::styled(format!("{base:04x}{gap}"), theme::DIM)];
            for (j, b) in chunk.iter().enumerate() {
                spans.push(Span::styled(format!("{b:02x}"), style_of(base + j)));
                spans.push(Span::raw(if j == 7 && n == 16 { "  " } else { " " }));
            }
            for j in chunk.len()..n {
                spans.push(Span::raw(if j == 7 && n == 16 { "    " } else { "   " }));
            }
            spans.push(Span::raw(" "));
            // Only printable ASCII reaches the screen; everything else is a dot.
            for (j, b) in chunk.iter().enumerate() {
                let c = if b.is_ascii_graphic() || *b == b' ' {
                    *b as char
                } else {
                    '.'
                };
                spans.push(Span::styled(c.to_string(), style_of(base + j)));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
