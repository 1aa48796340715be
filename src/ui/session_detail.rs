//! The selected session in full: endpoints and what they are, counters, rate graph, state
//! changes with their times.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::sessions::state_style;
use super::theme;
use super::widgets::{human_bytes, human_secs, pane};
use crate::app::sessions_view::endpoint_text;
use crate::app::state::{App, Focus};
use crate::sanitize::sanitize;
use crate::sessions::names::addr_class;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let Some(s) = app
        .sessions
        .selected
        .and_then(|id| app.engine.sessions.get(id))
    else {
        return;
    };
    let block = pane(format!(" Session {} ", s.id), app.focus == Focus::Sessions);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let owner = |o: &Option<crate::sessions::Owner>| {
        o.as_ref()
            .map(|o| format!("  process {o}"))
            .unwrap_or_default()
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", s.proto.name()), theme::header()),
            Span::styled(s.state_name(), state_style(s)),
            Span::raw(format!(
                "  started +{}",
                human_secs(s.first.0 - app.engine.first_ts.map(|t| t.0).unwrap_or(s.first.0))
            )),
            Span::raw(format!(", lasted {}", human_secs(s.duration_ns()))),
        ]),
        Line::from(format!(
            "A {} ({}){}",
            endpoint_text(s.proto, s.a),
            addr_class(s.a.addr).1,
            owner(&s.owner_a)
        )),
        Line::from(format!(
            "B {} ({}){}",
            endpoint_text(s.proto, s.b),
            addr_class(s.b.addr).1,
            owner(&s.owner_b)
        )),
        Line::styled(
            format!("{:<8}{:>8} {:>10} {:>10}", "", "frames", "bytes", "payload"),
            theme::DIM,
        ),
        Line::from(format!(
            "{:<8}{:>8} {:>10} {:>10}",
            "A → B",
            s.ab.frames,
            human_bytes(s.ab.bytes),
            human_bytes(s.ab.payload)
        )),
        Line::from(format!(
            "{:<8}{:>8} {:>10} {:>10}",
            "B → A",
            s.ba.frames,
            human_bytes(s.ba.bytes),
            human_bytes(s.ba.payload)
        )),
    ];
    if let Some(t) = &s.tcp {
        lines.push(Line::from(format!(
            "handshake RTT {} · retransmissions {} · out-of-order {} · zero windows {}",
            t.handshake_rtt
                .map(|n| format!("{:.3} ms", n as f64 / 1e6))
                .unwrap_or_else(|| "—".into()),
            t.retransmissions,
            t.out_of_order,
            t.zero_windows
        )));
    }
    lines.push(Line::styled("State changes:", theme::header()));
    for (ts, name) in &s.transitions {
        lines.push(Line::from(format!(
            "  +{:>10.6}s  {name}",
            (ts.0 - s.first.0) as f64 / 1e9
        )));
    }
    lines.push(Line::styled(
        "J: its packets   Enter/Esc: close",
        theme::DIM,
    ));
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| {
            Line::from(
                l.spans
                    .into_iter()
                    .map(|sp| Span::styled(sanitize(&sp.content).into_owned(), sp.style))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    // The chart takes what the text leaves, from 7 rows (legend, 4 of plot, axis, labels) to
    // 12; with less room than that, or traffic of one second, it is one line of numbers.
    let spare = inner.height.saturating_sub(lines.len() as u16 + 1);
    let graph_h = if inner.height >= 14 && super::graphs::session_rate_charts(s) {
        spare.clamp(7, 12)
    } else {
        1
    };
    let [text_area, graph] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(graph_h)]).areas(inner);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);
    super::graphs::session_rate(f, graph, s, app.no_color);
}
