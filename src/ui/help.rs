//! The help overlay: every key, drawn over the panes.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{pane, theme};
use crate::app::keys::KEYS;

pub fn render(f: &mut Frame, area: Rect) {
    let h = KEYS.len() as u16 + 4;
    let [v] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(86)])
        .flex(Flex::Center)
        .areas(v);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<13}"), theme::HEADER),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(" Any key closes this help.", theme::DIM));
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(pane(" Keys ".into(), true)), r);
}
