//! The firewall pane: the ruleset as a list, each rule with its enabled mark, live hit counters
//! and its verdict's colour.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use super::widgets::{human_bytes, pane};
use crate::app::firewall_view::{rows, FwRow};
use crate::app::state::{App, EditTarget, Focus};
use crate::firewall::eval::Final;
use crate::firewall::model::{ChainType, Policy, Verdict};
use crate::sanitize::sanitize;

pub fn verdict_style(v: Final) -> Style {
    let t = theme::current();
    Style::new().fg(match v {
        Final::Accept => t.accept,
        Final::Drop => t.drop,
        Final::Reject => t.reject,
    })
}

fn rule_style(v: &Option<Verdict>) -> Style {
    match v {
        Some(Verdict::Accept) => verdict_style(Final::Accept),
        Some(Verdict::Drop) => verdict_style(Final::Drop),
        Some(Verdict::Reject) => verdict_style(Final::Reject),
        Some(Verdict::Jump(_) | Verdict::Goto(_) | Verdict::Return) => Style::new().fg(Color::Cyan),
        _ => Style::new(),
    }
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let Some(fw) = &app.engine.firewall else {
        return;
    };
    let [a, d, r] = fw.verdicts;
    let mut title = format!(
        " Firewall {} — {a} accepted, {d} dropped, {r} rejected ",
        fw.source
    );
    if fw.inexact > 0 {
        title.push_str(&format!("(≈ {} approximate) ", fw.inexact));
    }
    let unsupported = fw.unsupported().len();
    // The banner of a partial load, the pane's first line: what packetlab could not read as a
    // rule is never silent.
    let banner_h = u16::from(unsupported > 0);
    let block = pane(sanitize(&title).into_owned(), app.focus == Focus::Firewall);
    let editor_h = if app.rule_editor.is_some() { 2 } else { 0 };
    let n = super::layout::inner_rows(area, editor_h + banner_h);
    let v = &app.firewall;
    let all = rows(fw);
    // A pane that grew (maximised, a taller terminal) shows rows above the old top too.
    let top = v.top.min(all.len().saturating_sub(n));
    let lines: Vec<Line> = all
        .into_iter()
        .enumerate()
        .skip(top)
        .take(n)
        .map(|(i, row)| match row {
            FwRow::Chain(t, c) => {
                let chain = &fw.ruleset.tables[t as usize].chains[c as usize];
                let base = match &chain.base {
                    Some(b) => format!(
                        " (hook {}, priority {}, policy {})",
                        b.hook.name(),
                        b.priority,
                        match b.policy {
                            Policy::Accept => "accept",
                            Policy::Drop => "drop",
                        }
                    ),
                    None => String::new(),
                };
                let table = &fw.ruleset.tables[t as usize];
                let shown_only = !table.family.simulated()
                    || chain
                        .base
                        .as_ref()
                        .is_some_and(|b| b.kind != ChainType::Filter);
                let kind = match &chain.base {
                    Some(b) if b.kind != ChainType::Filter => format!(" type {}", b.kind.name()),
                    _ => String::new(),
                };
                let mut spans = vec![Span::styled(
                    format!("{}{kind}{base}", fw.chain_name((t, c))),
                    theme::header(),
                )];
                if shown_only {
                    spans.push(Span::styled(
                        "  — not simulated (shown; a packet it acts on is ≈)",
                        Style::new().fg(Color::Yellow),
                    ));
                }
                Line::from(spans)
            }
            FwRow::Rule(id) => {
                let rule = fw.ruleset.rule(id).expect("row of an existing rule");
                let c = fw.counters.get(&id).copied().unwrap_or_default();
                let mark = if rule.enabled { "[x]" } else { "[ ]" };
                let mut style = if !rule.enabled {
                    theme::DIM
                } else if rule.unsupported.is_some() {
                    Style::new().fg(Color::LightRed)
                } else {
                    rule_style(&rule.verdict)
                };
                if i == v.selected && app.focus == Focus::Firewall {
                    style = theme::selected();
                } else if i == v.selected {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                let line = match rule.origin.line {
                    0 => "new".to_string(),
                    l => l.to_string(),
                };
                let approx = if rule.is_approx() { "≈" } else { " " };
                let mut spans = vec![
                    Span::styled(format!(" {mark} {line:>4} "), style),
                    Span::styled(
                        format!("{approx}{:>7} pkts {:>9} ", c.packets, human_bytes(c.bytes)),
                        theme::DIM,
                    ),
                    Span::styled(sanitize(&rule.origin.text).into_owned(), style),
                ];
                if let Some((_, why)) = &rule.unsupported {
                    spans.push(Span::styled(
                        format!("  ✘ unsupported: {}", sanitize(why)),
                        Style::new().fg(Color::LightRed),
                    ));
                } else if rule.is_approx() {
                    spans.push(Span::styled("  ≈ modelled", Style::new().fg(Color::Yellow)));
                }
                Line::from(spans)
            }
        })
        .collect();
    let inner = block.inner(area);
    f.render_widget(block, area);
    if banner_h > 0 {
        let banner = Line::styled(
            format!(
                "✘ {unsupported} unsupported rule{} (red): never match here; the verdicts they could change are marked ≈",
                if unsupported == 1 { "" } else { "s" }
            ),
            Style::new().fg(Color::LightRed).add_modifier(Modifier::BOLD),
        );
        f.render_widget(
            Paragraph::new(banner),
            Rect {
                height: banner_h.min(inner.height),
                ..inner
            },
        );
    }
    let list_h = inner.height.saturating_sub(editor_h + banner_h);
    f.render_widget(
        Paragraph::new(lines),
        Rect {
            y: inner.y + banner_h.min(inner.height),
            height: list_h,
            ..inner
        },
    );
    if let Some(ed) = &app.rule_editor {
        let verb = match ed.target {
            EditTarget::Replace(_) => "edit",
            EditTarget::InsertAfter(_) => "add",
        };
        let status = match &ed.error {
            Some(e) => Line::styled(format!("  ✘ {e}"), Style::new().fg(Color::LightRed)),
            None => Line::styled(
                "  ✔ a valid rule — Enter applies, Esc cancels",
                Style::new().fg(Color::LightGreen),
            ),
        };
        let editor = vec![
            Line::from(vec![
                Span::styled(format!("{verb}> "), theme::header()),
                Span::raw(sanitize(&ed.text).into_owned()),
                Span::styled("▏", theme::BORDER_FOCUS),
            ]),
            status,
        ];
        let r = Rect {
            y: inner.y + banner_h + list_h,
            height: editor_h.min(inner.height),
            ..inner
        };
        f.render_widget(Paragraph::new(editor), r);
    }
}
