//! The sessions pane: who talks to whom, over what, how much, in what state.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme;
use super::widgets::{human_bytes, human_secs, pane, spark};
use crate::app::sessions_view::{endpoint_text, recent_rate};
use crate::app::state::{App, Focus};
use crate::sanitize::sanitize;
use crate::sessions::names::addr_class;
use crate::sessions::{Endpoint, Session, SessionProto};

/// Seconds shown in the rate sparkline.
const SPARK_SECS: usize = 8;

pub fn state_style(s: &Session) -> Style {
    match s.state_name() {
        "RESET" => Style::new().fg(Color::LightRed),
        "ESTABLISHED" | "ACTIVE" => Style::new().fg(Color::LightGreen),
        "SYN_SENT" | "SYN_RECEIVED" => Style::new().fg(Color::Yellow),
        "MIDSTREAM" => Style::new().fg(Color::Cyan),
        "FIN_WAIT" | "CLOSE_WAIT" | "CLOSING" | "LAST_ACK" => Style::new().fg(Color::LightYellow),
        _ => theme::DIM,
    }
}

/// The state, and when rules are loaded how many of the session's packets they drop or reject.
fn state_cell(s: &Session, verdicts: Option<&[u32; 4]>) -> Cell<'static> {
    let mut spans = vec![Span::styled(s.state_name(), state_style(s))];
    if let Some([_, d, r, approx]) = verdicts {
        if d + r > 0 {
            spans.push(Span::styled(
                format!(" ✘{}", d + r),
                Style::new().fg(Color::LightRed),
            ));
        }
        if *approx > 0 {
            // Some of its verdicts depend on what is not simulated exactly.
            spans.push(Span::styled(" ≈", Style::new().fg(Color::Yellow)));
        }
    }
    Cell::from(Line::from(spans))
}

fn endpoint_cell(app: &App, proto: SessionProto, e: Endpoint) -> Cell<'static> {
    let text = if app.show_names {
        let name = app.addr_text(e.addr);
        endpoint_text(proto, e).replacen(&e.addr.to_string(), &name, 1)
    } else {
        endpoint_text(proto, e)
    };
    Cell::from(Line::from(vec![
        Span::raw(text),
        Span::styled(format!(" {}", addr_class(e.addr).0), theme::DIM),
    ]))
}

/// Header, width, and from which pane width the column is shown (narrow panes keep the essentials).
const COLUMNS: [(&str, Constraint, u16); 10] = [
    ("Proto", Constraint::Length(6), 0),
    ("A", Constraint::Fill(1), 0),
    ("B", Constraint::Fill(1), 0),
    ("State", Constraint::Length(16), 0),
    ("Process", Constraint::Length(16), 100),
    ("A→B", Constraint::Length(7), 0),
    ("B→A", Constraint::Length(7), 0),
    ("Bytes", Constraint::Length(9), 0),
    ("Rate", Constraint::Length(18), 140),
    ("Age", Constraint::Length(7), 120),
];

fn columns_for(width: u16) -> Vec<bool> {
    COLUMNS.iter().map(|c| width >= c.2).collect()
}

fn pick<T>(v: Vec<T>, cols: &[bool]) -> Vec<T> {
    v.into_iter()
        .zip(cols)
        .filter(|(_, k)| **k)
        .map(|(x, _)| x)
        .collect()
}

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let v = &app.sessions;
    let table = &app.engine.sessions;
    let mut title = format!(
        " Sessions ({}) sort: {}{} ",
        v.rows.len(),
        v.sort.name(),
        if v.reverse { " ↑" } else { "" }
    );
    if v.editing {
        title.push_str(&format!("filter: {}▏ ", v.filter));
    } else if !v.filter.is_empty() {
        title.push_str(&format!("filter: {} ", v.filter));
    }
    if table.evicted > 0 {
        title.push_str(&format!("({} evicted) ", table.evicted));
    }
    let block = pane(sanitize(&title).into_owned(), app.focus == Focus::Sessions);
    let listening: Vec<_> = match (&app.sockets, v.show_listening) {
        (Some(s), true) => s.sockets.iter().filter(|s| s.is_listening()).collect(),
        _ => Vec::new(),
    };
    if v.rows.is_empty() && listening.is_empty() {
        let msg = if v.filter.is_empty() {
            "No sessions yet."
        } else {
            "No session matches the filter."
        };
        f.render_widget(Paragraph::new(msg).style(theme::DIM).block(block), area);
        return;
    }
    let now = table.now.secs();
    let rows_n = super::layout::inner_rows(area, 1);
    let cols = columns_for(area.width);
    let mut rows: Vec<Row> = v
        .rows
        .iter()
        .skip(v.top)
        .take(rows_n)
        .filter_map(|&id| table.get(id))
        .map(|s| {
            let style = if Some(s.id) == v.selected {
                theme::selected()
            } else {
                Style::new()
            };
            let rate = recent_rate(s, now);
            let cells = vec![
                Cell::from(s.proto.name()),
                endpoint_cell(app, s.proto, s.a),
                endpoint_cell(app, s.proto, s.b),
                state_cell(s, app.engine.session_verdicts.get(&s.id)),
                Cell::from(sanitize(&s.process_label().unwrap_or_default()).into_owned()),
                Cell::from(s.ab.frames.to_string()),
                Cell::from(s.ba.frames.to_string()),
                Cell::from(human_bytes(s.bytes())),
                Cell::from(format!(
                    "{} {}/s",
                    spark(&s.rate.series(now, SPARK_SECS)),
                    human_bytes(rate)
                )),
                Cell::from(human_secs(table.now.0 - s.first.0)),
            ];
            Row::new(pick(cells, &cols)).style(style)
        })
        .collect();
    for l in listening.iter().take(rows_n.saturating_sub(rows.len())) {
        let cells = vec![
            Cell::from(l.proto.name()),
            Cell::from(l.local.to_string()),
            Cell::from("*"),
            Cell::from(l.state.clone()),
            Cell::from(
                sanitize(&l.owner.as_ref().map(|o| o.to_string()).unwrap_or_default()).into_owned(),
            ),
            Cell::from(""),
            Cell::from(""),
            Cell::from(""),
            Cell::from(""),
            Cell::from(""),
        ];
        rows.push(Row::new(pick(cells, &cols)).style(theme::DIM));
    }
    let widths: Vec<Constraint> = pick(COLUMNS.iter().map(|c| c.1).collect(), &cols);
    let header =
        Row::new(pick(COLUMNS.iter().map(|c| c.0).collect(), &cols)).style(theme::header());
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(block),
        area,
    );
}
