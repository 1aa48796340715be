//! The lab pane when the lab network runs: one row per program (clients first), what it
//! counted; then the router's and the WAN link's counters, and what to watch.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use super::widgets::{ellipsize, pane};
use crate::app::state::{App, Focus};
use crate::sanitize::sanitize;
use crate::vnet::run::LabSummary;

/// Counters that say something went wrong for the client: shown in yellow.
const BAD: [&str; 7] = [
    "timed_out",
    "refused",
    "unreachable",
    "reset",
    "lost",
    "filtered",
    "nxdomain",
];

/// The rows the pane would like: programs, the router, the link, the watch line.
pub fn wanted_rows(s: &LabSummary) -> u16 {
    (ordered(s).len() + 3) as u16
}

/// Clients (they count attempts, sends, questions or rounds) before servers.
fn ordered(s: &LabSummary) -> Vec<&crate::vnet::apps::Report> {
    let client = |r: &&crate::vnet::apps::Report| {
        r.counters
            .iter()
            .any(|(k, _)| matches!(*k, "attempts" | "sent" | "asked" | "rounds"))
    };
    // A server nothing reached yet says nothing: it waits for room.
    let busy = |r: &&crate::vnet::apps::Report| r.counters.iter().any(|(_, v)| *v > 0);
    let mut v: Vec<_> = s.apps.iter().filter(client).collect();
    v.extend(s.apps.iter().filter(|r| !client(r) && busy(r)));
    v
}

pub fn render(f: &mut Frame, area: Rect, app: &App, s: &LabSummary) {
    let w = area.width.saturating_sub(2) as usize;
    if area.height < 3 {
        let clients = ordered(s);
        let first = clients.first().map(|r| summary_text(r)).unwrap_or_default();
        let line = Line::from(vec![
            Span::styled(" Lab network ", theme::header()),
            Span::raw(ellipsize(&sanitize(&first), w.saturating_sub(12))),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let l = &app.lab_link;
    let title = if s.kernel.is_some() {
        format!(
            " Kernel lab (namespaces packetlab-*) — {} — {:.1} s ",
            s.scenario, s.seconds
        )
    } else {
        format!(
            " Lab network — {} — lab time {:.1} s — WAN {:.0} % loss, {:.0} % dup, {:.0} % reorder, {} ms ",
            s.scenario,
            s.seconds,
            l.loss_pct,
            l.dup_pct,
            l.reorder_pct,
            l.delay.as_millis()
        )
    };
    let block = pane(title, app.focus == Focus::Lab);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    let r = s.router;
    let watch = app
        .scenario
        .as_ref()
        .map(|sc| sc.watch.clone())
        .unwrap_or_default();
    let room = inner.height as usize;
    // The router, the link and the watch line are kept; programs fill what is left. In four
    // lines or fewer the watch line goes (it is at x): two programs are shown instead of one.
    let show_watch = room > 4;
    let programs = room.saturating_sub(2 + usize::from(show_watch));
    for rep in ordered(s).into_iter().take(programs) {
        let host = format!("{:<8} ", rep.host);
        let mut spans = vec![
            Span::styled(host, theme::header()),
            Span::raw(format!("{:<28} ", ellipsize(&sanitize(&rep.app), 28))),
        ];
        let mut used = 9 + 29;
        for (k, v) in rep.counters.iter().filter(|(_, v)| *v > 0) {
            let t = format!("{} {v}  ", k.replace('_', " "));
            used += t.chars().count();
            if used > w {
                break;
            }
            let style = if BAD.contains(k) {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            };
            spans.push(Span::styled(t, style));
        }
        if let Some(d) = &rep.detail {
            let left = w.saturating_sub(used);
            if left > 4 {
                spans.push(Span::styled(
                    ellipsize(&sanitize(d), left),
                    theme::tag(false),
                ));
            }
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(ellipsize(
        &format!(
            "gw       forwarded {}  dropped {}  rejected {}  NAT {}  to itself {}",
            r.forwarded, r.dropped, r.rejected, r.nat_translated, r.local
        ),
        w,
    )));
    let link = &s.wan;
    // The kernel lab has no simulated link: its line is the comparison instead.
    let (second, style) = match &s.kernel {
        Some(k) => (
            format!(
                "kernel   {} of {} router verdicts agree with the simulator  {} to the router \
                 itself  {} while rules changed  {} lost by the capture",
                k.agree, k.compared, k.local, k.during_change, k.capture_lost
            ),
            if k.agree == k.compared && k.capture_lost == 0 {
                Style::new()
            } else {
                theme::differs()
            },
        ),
        None => (
            format!(
                "WAN link {} frames  {} lost  {} duplicated  {} reordered",
                link["offered"], link["lost"], link["duplicated"], link["reordered"]
            ),
            Style::new(),
        ),
    };
    lines.push(Line::styled(ellipsize(&second, w), style));
    let keys = if s.kernel.is_some() && app.focus == Focus::Lab {
        "s S scenario  x explain — "
    } else if app.focus == Focus::Lab {
        "( ) loss  < > delay  + - reorder  s S scenario  x explain — "
    } else {
        ""
    };
    if show_watch {
        lines.push(Line::styled(
            ellipsize(&sanitize(&format!("{keys}{watch}")), w),
            theme::tag(false),
        ));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn summary_text(r: &crate::vnet::apps::Report) -> String {
    let c: Vec<String> = r
        .counters
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect();
    format!("{} {}: {} — L opens it", r.host, r.app, c.join(", "))
}
