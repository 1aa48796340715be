//! The firewall pane: the ruleset as a list, each rule with its enabled mark, live hit counters
//! and its verdict's colour.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use super::widgets::{ellipsize, human_bytes, pane};
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
    // The counts are what to watch: on a narrow pane shorter words, and the ruleset's name
    // shortened to its file name.
    let width = area.width.saturating_sub(2) as usize;
    let inexact = if fw.inexact > 0 {
        format!("(≈ {} approximate) ", fw.inexact)
    } else {
        String::new()
    };
    let long_name = if app.starter_rules {
        "starter ruleset (yours: --rules FILE, or R)".to_string()
    } else {
        fw.source.clone()
    };
    // --lab-kernel: whether the kernel agrees is the first thing the title says.
    let kernel = app
        .kernel
        .as_ref()
        .map(|k| {
            let t = k.tally;
            let mark = if t.agree == t.compared { "" } else { "≠ " };
            (
                format!(" {mark}{} —", k.title()),
                format!(" {mark}kernel {}/{}", t.agree, t.compared),
            )
        })
        .unwrap_or_default();
    let long = format!(
        "{} Firewall {long_name} — {a} accepted, {d} dropped, {r} rejected {inexact}",
        kernel.0
    );
    let title = if long.chars().count() <= width {
        long
    } else {
        let short_name = if app.starter_rules {
            "starter rules".to_string()
        } else {
            std::path::Path::new(&fw.source)
                .file_name()
                .map_or(fw.source.clone(), |n| n.to_string_lossy().into_owned())
        };
        format!(
            "{} {short_name}: {a} acc {d} drop {r} rej {inexact}",
            kernel.1
        )
    };
    let title = ellipsize(&title, width);
    let unsupported = fw.unsupported().len();
    // The banner of a partial load, the pane's first line: what packetlab could not read as a
    // rule is never silent.
    let banner_h = u16::from(unsupported > 0);
    let block = pane(sanitize(&title).into_owned(), app.focus == Focus::Firewall);
    let delete_prompt = app.delete_prompt();
    let editor_h =
        if app.rule_editor.is_some() || app.load_prompt.is_some() || delete_prompt.is_some() {
            2
        } else {
            0
        };
    let n = super::layout::inner_rows(area, editor_h + banner_h);
    let v = &app.firewall;
    let all = rows(fw);
    // Narrow panes size the line numbers and counters to what this ruleset needs.
    let line_w = fw
        .ruleset
        .tables
        .iter()
        .flat_map(|t| t.chains.iter().flat_map(|c| c.rules.iter()))
        .map(|r| r.origin.line)
        .max()
        .map_or(3, |l| l.to_string().len().max(3));
    let count_w = fw
        .counters
        .values()
        .map(|c| c.packets)
        .max()
        .map_or(1, |n| n.to_string().len());
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
                let head = ellipsize(
                    &sanitize(&format!("{}{kind}{base}", fw.chain_name((t, c)))),
                    width,
                );
                let rest = width.saturating_sub(head.chars().count());
                let mut spans = vec![Span::styled(head, theme::header())];
                if shown_only {
                    spans.push(Span::styled(
                        ellipsize("  — not simulated (shown; a packet it acts on is ≈)", rest),
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
                // The counters stand at the right; the rule's text (and why it is not simulated
                // exactly) takes what is left, shortened with … when it must be.
                // Packets always; bytes too when the rule's text still fits beside them.
                let text_n = rule.origin.text.chars().count();
                let short = format!(" {:>w$} pkts", c.packets, w = count_w);
                let long = format!("{short} {:>9}", human_bytes(c.bytes));
                let counters = if line_w + 8 + text_n + long.chars().count() <= width {
                    long
                } else {
                    short
                };
                let prefix = format!(" {mark} {line:>w$} {approx}", w = line_w);
                let mut text = sanitize(&rule.origin.text).into_owned();
                let note = match &rule.unsupported {
                    Some((_, why)) => Some(format!("  ✘ unsupported: {}", sanitize(why))),
                    None if rule.is_approx() => Some("  ≈ modelled".to_string()),
                    None => None,
                };
                let room = width.saturating_sub(prefix.chars().count() + counters.chars().count());
                let note = note.map(|n| {
                    let left = room.saturating_sub(text_n);
                    ellipsize(&n, left)
                });
                if note.as_ref().is_none_or(|n| n.is_empty()) {
                    text = ellipsize(&text, room);
                }
                let used = text.chars().count() + note.as_ref().map_or(0, |n| n.chars().count());
                let pad = " ".repeat(room.saturating_sub(used));
                let note_style = if rule.unsupported.is_some() {
                    Style::new().fg(Color::LightRed)
                } else {
                    Style::new().fg(Color::Yellow)
                };
                let mut spans = vec![Span::styled(prefix, style), Span::styled(text, style)];
                if let Some(n) = note {
                    spans.push(Span::styled(n, note_style));
                }
                spans.push(Span::styled(pad, style));
                spans.push(Span::styled(counters, theme::tag(i == v.selected)));
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
    // The pane's bottom lines: the path line of R, the question of d, or the rule editor.
    let bottom: Option<Vec<Line>> = if let Some(path) = &app.load_prompt {
        Some(vec![
            Line::from(vec![
                Span::styled("load rules> ", theme::header()),
                Span::raw(sanitize(path).into_owned()),
                Span::styled("▏", theme::BORDER_FOCUS),
            ]),
            Line::styled(
                "  an nft file or iptables-save output — Enter loads it, Esc cancels",
                theme::DIM,
            ),
        ])
    } else if let Some(ask) = &delete_prompt {
        Some(vec![
            Line::styled(sanitize(ask).into_owned(), Style::new().fg(Color::LightRed)),
            Line::styled(
                "  y deletes it (u takes it back), any other key keeps it",
                theme::DIM,
            ),
        ])
    } else {
        app.rule_editor.as_ref().map(|ed| {
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
            vec![
                Line::from(vec![
                    Span::styled(format!("{verb}> "), theme::header()),
                    Span::raw(sanitize(&ed.text).into_owned()),
                    Span::styled("▏", theme::BORDER_FOCUS),
                ]),
                status,
            ]
        })
    };
    if let Some(lines) = bottom {
        let r = Rect {
            y: inner.y + banner_h + list_h,
            height: editor_h.min(inner.height),
            ..inner
        };
        f.render_widget(Paragraph::new(lines), r);
    }
}
