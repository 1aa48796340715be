//! The sessions pane: who talks to whom, over what, how much, in what state.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme;
use super::widgets::{ellipsize, ellipsize_endpoint, human_bytes, human_secs, pane, spark};
use crate::app::sessions_view::recent_rate;
use crate::app::state::{App, Focus};
use crate::sanitize::sanitize;
use crate::sessions::names::addr_class;
use crate::sessions::names::port_name;
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

/// The state, and when rules are loaded how many of the session's packets they drop or reject;
/// in a narrow column the state's name gives way (with `…`) so the counts stay whole.
fn state_cell(s: &Session, verdicts: Option<&[u32; 4]>, width: usize, sel: bool) -> Cell<'static> {
    let mut marks = Vec::new();
    if let Some([_, d, r, approx]) = verdicts {
        if d + r > 0 {
            marks.push(Span::styled(
                format!(" ✘{}", d + r),
                Style::new().fg(Color::LightRed),
            ));
        }
        if *approx > 0 {
            // Some of its verdicts depend on what is not simulated exactly.
            marks.push(Span::styled(" ≈", Style::new().fg(Color::Yellow)));
        }
    }
    let marks_w: usize = marks.iter().map(|m| m.content.chars().count()).sum();
    let name = ellipsize(s.state_name(), width.saturating_sub(marks_w));
    // A grey state (IDLE, CLOSED) on the selected row takes the grey its background keeps.
    let style = match state_style(s) {
        st if st == theme::DIM => theme::tag(sel),
        st => st,
    };
    let mut spans = vec![Span::styled(name, style)];
    spans.extend(marks);
    Cell::from(Line::from(spans))
}

/// An endpoint in a column of `width`: address and port, the port's service name and the
/// address's class (lo, priv…) while there is room; when even address and port do not fit, the
/// address is shortened with `…` and the port stays whole.
fn endpoint_cell(
    app: &App,
    proto: SessionProto,
    e: Endpoint,
    width: usize,
    sel: bool,
) -> Cell<'static> {
    let base = if app.show_names {
        let name = sanitize(&app.addr_text(e.addr)).into_owned();
        let plain = if proto.has_ports() {
            e.to_string()
        } else {
            e.addr.to_string()
        };
        plain.replacen(&e.addr.to_string(), &name, 1)
    } else if proto.has_ports() {
        e.to_string()
    } else {
        e.addr.to_string()
    };
    let service = proto
        .has_ports()
        .then(|| port_name(proto, e.port))
        .flatten()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let class = format!(" {}", addr_class(e.addr).0);
    let len = |t: &str| t.chars().count();
    let mut spans = Vec::new();
    if len(&base) + len(&service) <= width {
        spans.push(Span::raw(format!("{base}{service}")));
        if len(&base) + len(&service) + len(&class) <= width {
            spans.push(Span::styled(class, theme::tag(sel)));
        }
    } else {
        spans.push(Span::raw(ellipsize_endpoint(&base, width)));
    }
    Cell::from(Line::from(spans))
}

/// Header, width, and from which pane width the column is shown (narrow panes keep the essentials).
const COLUMNS: [(&str, Constraint, u16); 10] = [
    ("Proto", Constraint::Length(5), 0),
    ("A", Constraint::Fill(1), 0),
    ("B", Constraint::Fill(1), 0),
    ("State", Constraint::Length(16), 0),
    ("Process", Constraint::Length(16), 110),
    ("A→B", Constraint::Length(7), 90),
    ("B→A", Constraint::Length(7), 90),
    ("Bytes", Constraint::Length(9), 66),
    ("Rate", Constraint::Length(18), 150),
    ("Age", Constraint::Length(7), 130),
];

fn columns_for(width: u16) -> Vec<bool> {
    COLUMNS.iter().map(|c| width >= c.2).collect()
}

/// The columns' widths in a pane of `width`: a narrow pane gives the state less room, so the
/// endpoints keep theirs.
fn widths_for(width: u16, cols: &[bool]) -> Vec<Constraint> {
    let w = COLUMNS
        .iter()
        .map(|c| match c.0 {
            "State" if width < 70 => Constraint::Length(12),
            _ => c.1,
        })
        .collect();
    pick(w, cols)
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
    let widths = widths_for(area.width, &cols);
    // The width each endpoint column gets, to shorten what does not fit.
    let inner_w = area.width.saturating_sub(2);
    let col_w = Layout::horizontal(widths.clone())
        .spacing(1)
        .split(Rect::new(0, 0, inner_w, 1));
    let ep_w = col_w.get(1).map_or(0, |r| r.width as usize);
    let state_w = col_w.get(3).map_or(0, |r| r.width as usize);
    let mut rows: Vec<Row> = v
        .rows
        .iter()
        .skip(v.top)
        .take(rows_n)
        .filter_map(|&id| table.get(id))
        .map(|s| {
            let sel = Some(s.id) == v.selected;
            let style = if sel { theme::selected() } else { Style::new() };
            let rate = recent_rate(s, now);
            let cells = vec![
                Cell::from(s.proto.name()),
                endpoint_cell(app, s.proto, s.a, ep_w, sel),
                endpoint_cell(app, s.proto, s.b, ep_w, sel),
                state_cell(s, app.engine.session_verdicts.get(&s.id), state_w, sel),
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
            Cell::from(ellipsize_endpoint(&l.local.to_string(), ep_w)),
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
