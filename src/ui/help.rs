//! The help overlay: every key, drawn over the panes.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::theme;
use super::widgets::pane;
use crate::app::keymap::help_rows;
use crate::app::state::App;

// The graphs overlay has its own file (its charts are shared with the session detail); the
// overlays are all drawn from here.
pub use super::graphs::render as render_graphs;

/// The keys in force (a config's `[keys]` replace the built-in ones), in one column when the
/// screen is tall enough, else two when it is wide enough; what still does not fit scrolls
/// (`app.help_scroll`, j/k/PgDn).
pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let rows = help_rows(&app.keymap);
    let cols = if area.height as usize >= rows.len() + 4 || area.width < 59 * 2 + 2 {
        1
    } else {
        2
    };
    let per = rows.len().div_ceil(cols);
    // Borders, the blank line and the footer take 4 rows.
    let shown = per.min((area.height as usize).saturating_sub(4));
    let scrolls = shown < per;
    let first = app.help_scroll.min(per - shown);
    let h = shown as u16 + 4;
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length((59 * cols as u16 + 2).min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    let cell = |(k, what): &(String, &str)| {
        vec![
            Span::styled(format!(" {k:<13}"), theme::header()),
            Span::raw(format!("{what:<45}")),
        ]
    };
    let mut lines: Vec<Line> = (first..first + shown)
        .map(|i| {
            let mut spans = cell(&rows[i]);
            if let Some(k) = rows.get(i + per).filter(|_| cols == 2) {
                spans.extend(cell(k));
            }
            Line::from(spans)
        })
        .collect();
    lines.push(Line::from(""));
    let footer = if scrolls {
        format!(
            " j/k PgDn/PgUp scroll ({}-{} of {per}); Esc, q or ? closes.",
            first + 1,
            first + shown
        )
    } else {
        " Esc, q or ? closes this help.".to_string()
    };
    lines.push(Line::styled(footer, theme::DIM));
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(pane(" Keys ".into(), true)), r);
}

/// The explanation overlay: paragraphs with `**bold**` words, wrapped to the box.
pub fn render_explain(f: &mut Frame, area: Rect, title: &str, paragraphs: &[&str]) {
    use ratatui::widgets::Wrap;
    let w = area.width.saturating_sub(4).min(90);
    let mut lines: Vec<Line> = Vec::new();
    for p in paragraphs {
        let text = p.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut spans = Vec::new();
        for (i, part) in text.split("**").enumerate() {
            if i % 2 == 1 {
                spans.push(Span::styled(part.to_string(), theme::header()));
            } else {
                spans.push(Span::raw(part.to_string()));
            }
        }
        lines.push(Line::from(spans));
        lines.push(Line::from(""));
    }
    lines.push(Line::styled("Any key closes this explanation.", theme::DIM));
    // Room for the wrapped text: a rough count of lines at this width.
    let needed: u16 = paragraphs
        .iter()
        .map(|p| (p.len() as u16 / w.saturating_sub(2).max(1)) + 2)
        .sum::<u16>()
        + 3;
    let h = needed.min(area.height.saturating_sub(2)).max(5);
    let [v] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(v);
    f.render_widget(Clear, r);
    let title = crate::sanitize::sanitize(title).into_owned();
    let title: String = title.chars().take(w.saturating_sub(4) as usize).collect();
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(pane(format!(" {title} "), true)),
        r,
    );
}

/// The follow-stream view: the session's conversation, A → B and B → A in two colours.
pub fn render_follow(f: &mut Frame, area: Rect, v: &crate::app::state::FollowView) {
    use crate::follow::Dir;
    use ratatui::style::{Color, Modifier, Style};
    let r = Rect {
        x: area.x + 2,
        y: area.y + 1,
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(2),
    };
    let rows = r.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = v
        .lines()
        .into_iter()
        .skip(v.scroll)
        .take(rows)
        .map(|(dir, head, text)| {
            let colour = if dir == Dir::AtoB {
                Color::LightCyan
            } else {
                Color::LightMagenta
            };
            let mut style = Style::new().fg(colour);
            if head {
                style = style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            Line::styled(crate::sanitize::sanitize(&text).into_owned(), style)
        })
        .collect();
    let a = v.follower.bytes(Dir::AtoB).len();
    let b = v.follower.bytes(Dir::BtoA).len();
    let title = format!(
        " Follow session {}: A → B {a} bytes, B → A {b} bytes — h {}, w save, Esc close ",
        v.session,
        if v.hex { "text" } else { "hex" }
    );
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(pane(title, true)), r);
}

/// The interface picker: name, state and addresses; Enter captures live on the selected one.
pub fn render_picker(f: &mut Frame, area: Rect, p: &crate::app::state::Picker) {
    use ratatui::style::{Color, Style};
    let h = p.items.len() as u16 + 4;
    let [v] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(90.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    let mut lines: Vec<Line> = p
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let style = if i == p.selected {
                theme::selected()
            } else if it.up {
                Style::new()
            } else {
                theme::DIM
            };
            Line::from(vec![
                Span::styled(
                    format!(" {:<12}", crate::sanitize::sanitize(&it.name)),
                    style,
                ),
                Span::styled(
                    if it.up { " up   " } else { " down " },
                    Style::new().fg(if it.up {
                        Color::LightGreen
                    } else {
                        Color::Gray
                    }),
                ),
                Span::raw(it.addrs.join("  ")),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(
        " Enter: capture live here (needs permission)   Esc: close",
        theme::DIM,
    ));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(pane(" Interfaces ".into(), true)),
        r,
    );
}
