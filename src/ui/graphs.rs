//! Charts: the graphs overlay (`T`: throughput by protocol family over time, and the top
//! talkers as bars) and the small per-direction rate chart of the session detail.

use std::collections::HashMap;
use std::net::IpAddr;

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Clear, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use super::theme;
use super::widgets::{human_bytes, pane};
use crate::app::state::App;
use crate::sanitize::sanitize;
use crate::sessions::table::RATE_SECS;
use crate::sessions::Session;
use crate::throughput::{FAMILIES, SECONDS};

/// Talkers listed at most.
const TOP: usize = 10;

/// The graphs view: bytes per second over the last two minutes of the capture, one line per
/// protocol family, and the addresses that sent and received the most.
pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let r = Rect {
        x: area.x + 2,
        y: area.y + 1,
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(2),
    };
    f.render_widget(Clear, r);
    let block = pane(" Traffic — any key closes ".into(), true);
    let inner = block.inner(r);
    f.render_widget(block, r);
    let talkers = top_talkers(app);
    // The chart matters more: the bars get what they need, up to two fifths of the height.
    let bars_h = (talkers.len().clamp(1, TOP) as u16 + 2).min((inner.height * 2 / 5).max(3));
    let [chart_area, bars_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(bars_h)]).areas(inner);
    throughput_chart(f, chart_area, app);
    talker_bars(f, bars_area, app, &talkers);
}

fn throughput_chart(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.engine.throughput;
    let (Some(head), Some(first)) = (t.newest(), app.engine.first_ts) else {
        no_traffic(f, area, "Throughput", "no packet captured");
        return;
    };
    let first = first.secs().min(head);
    let n = (head - first + 1).clamp(1, SECONDS as i64) as usize;
    let series: Vec<Vec<u64>> = (0..FAMILIES.len()).map(|i| t.series(Some(i), n)).collect();
    let max = series.iter().flatten().copied().max().unwrap_or(0);
    if n < 2 || max == 0 {
        let total: u64 = series.iter().flatten().sum();
        let why = if n < 2 {
            format!(
                "{} in one second so far: a line needs two",
                human_bytes(total)
            )
        } else {
            format!("nothing in the last {n} s")
        };
        no_traffic(f, area, "Throughput", &why);
        return;
    }
    // x is seconds since the first packet, so the axis says where in the capture this is.
    let start = head - (n as i64 - 1) - first;
    let points: Vec<Vec<(f64, f64)>> = series.iter().map(|s| points(s, start)).collect();
    let legend = legend_items(
        &FAMILIES,
        &theme::FAMILY_COLOURS,
        &theme::FAMILY_MARKS,
        &series,
    );
    let total: u64 = series.iter().flatten().sum();
    let mut title = format!("Throughput by protocol, last {n} s, {}", human_bytes(total));
    let note = "; time is since the first packet";
    if title.chars().count() + note.len() <= area.width as usize {
        title.push_str(note);
    }
    let [title_area, legend_area, plot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(Line::styled(title, theme::header())),
        title_area,
    );
    f.render_widget(
        legend_line(&legend, legend_area.width, app.no_color),
        legend_area,
    );
    rate_chart(
        f,
        plot,
        &points,
        &legend,
        [start as f64, (start + n as i64 - 1) as f64],
        max,
        app.no_color,
    );
}

/// One line of a chart's legend.
struct LegendItem {
    name: String,
    colour: ratatui::style::Color,
    mark: char,
    peak: u64,
}

/// A legend entry per line: its name, colour, mark and the peak of its series.
fn legend_items(
    names: &[&str],
    colours: &[ratatui::style::Color],
    marks: &[char],
    series: &[Vec<u64>],
) -> Vec<LegendItem> {
    names
        .iter()
        .zip(colours)
        .zip(marks)
        .zip(series)
        .map(|(((name, colour), mark), s)| LegendItem {
            name: name.to_string(),
            colour: *colour,
            mark: *mark,
            peak: s.iter().copied().max().unwrap_or(0),
        })
        .collect()
}

/// The legend: each line's swatch (its mark when there are no colours), name and peak; the
/// peaks go first when the width is short.
fn legend_line(items: &[LegendItem], width: u16, no_color: bool) -> Line<'static> {
    let swatch = |it: &LegendItem| {
        if no_color {
            format!("{0}{0}", it.mark)
        } else {
            "━━".to_string()
        }
    };
    let with_peaks: usize = items
        .iter()
        .map(|it| 2 + 1 + it.name.chars().count() + 7 + human_bytes(it.peak).len() + 3 + 3)
        .sum();
    let peaks = with_peaks <= width as usize;
    let mut spans = Vec::new();
    for it in items {
        spans.push(Span::styled(
            swatch(it),
            Style::new().fg(it.colour).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {}", it.name)));
        if peaks {
            spans.push(Span::styled(
                format!(" (peak {}/s)", human_bytes(it.peak)),
                theme::DIM,
            ));
        }
        spans.push(Span::raw("   "));
    }
    Line::from(spans)
}

/// Per-second values as chart points, x counted from `start`.
fn points(series: &[u64], start: i64) -> Vec<(f64, f64)> {
    series
        .iter()
        .enumerate()
        .map(|(k, &v)| ((start + k as i64) as f64, v as f64))
        .collect()
}

/// A line chart of bytes per second: x in seconds (`x_bounds`; no axis title, which ratatui
/// draws over the plot's bottom row where idle lines run), y from 0 to a round number
/// above `max` in the unit that suits it, one dataset per legend item.
fn rate_chart(
    f: &mut Frame,
    area: Rect,
    points: &[Vec<(f64, f64)>],
    legend: &[LegendItem],
    x_bounds: [f64; 2],
    max: u64,
    no_color: bool,
) {
    let (top, unit_div, unit) = y_scale(max);
    let y_labels: Vec<Line> = [0.0, top / 2.0, top]
        .iter()
        .map(|v| Line::from(format!("{} {unit}", number(v / unit_div))))
        .collect();
    // Five time labels when there is room for them, else three.
    let k = if area.width >= 70 { 5 } else { 3 };
    let x_labels: Vec<Line> = (0..k)
        .map(|i| {
            let x = x_bounds[0] + (x_bounds[1] - x_bounds[0]) * i as f64 / (k - 1) as f64;
            Line::from(rel_secs(x))
        })
        .collect();
    // The busiest line first: where lines meet (all of them, along zero) the quieter one is
    // drawn over it and stays visible, the busy one shows everywhere else.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(legend[i].peak));
    let datasets: Vec<Dataset> = order
        .iter()
        .map(|&i| (&points[i], &legend[i]))
        .map(|(p, it)| {
            Dataset::default()
                .name(it.name.clone())
                .marker(if no_color {
                    Marker::Custom(it.mark)
                } else {
                    Marker::Braille
                })
                .graph_type(GraphType::Line)
                .style(Style::new().fg(it.colour))
                .data(p)
        })
        .collect();
    let chart = Chart::new(datasets)
        // Our own legend line sits above the chart, where it never hides a line.
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds(x_bounds)
                .labels(x_labels)
                .style(theme::AXIS),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(y_labels)
                .labels_alignment(Alignment::Right)
                .style(theme::AXIS),
        );
    f.render_widget(chart, area);
}

/// A round top for the y axis (1, 2, 2.5 or 5 times a power of ten, at or above `max`), and the
/// unit its labels are in: (top in bytes/s, bytes per unit, unit).
fn y_scale(max: u64) -> (f64, f64, &'static str) {
    let max = max.max(1) as f64;
    let pow = 10f64.powf(max.log10().floor());
    let top = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|t| *t >= max)
        .unwrap_or(10.0 * pow);
    let (div, unit) = if top < 1e3 {
        (1.0, "B/s")
    } else if top < 1e6 {
        (1e3, "kB/s")
    } else if top < 1e9 {
        (1e6, "MB/s")
    } else {
        (1e9, "GB/s")
    };
    (top, div, unit)
}

/// A label's number: no trailing ".0", at most two decimals (2.5 and 1.25 stay exact).
fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Seconds since the start, as the time axis labels them: +0s, +4.5s, +45s, +2m30s. Labels
/// sit at even steps of the axis, so a step may fall on a half second.
fn rel_secs(x: f64) -> String {
    let s = x.round() as i64;
    if x < 100.0 && (x - x.round()).abs() > 0.05 {
        format!("+{x:.1}s")
    } else if s < 120 {
        format!("+{s}s")
    } else if s < 3600 {
        format!("+{}m{:02}s", s / 60, s % 60)
    } else {
        format!("+{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// In place of a chart with nothing to draw: its title and why.
fn no_traffic(f: &mut Frame, area: Rect, title: &str, why: &str) {
    let mut lines = vec![Line::styled(title.to_string(), theme::header())];
    lines.extend(std::iter::repeat_n(
        Line::from(""),
        (area.height as usize).saturating_sub(3) / 2,
    ));
    lines.push(Line::styled("no traffic yet", theme::header()).centered());
    lines.push(Line::styled(format!("({why})"), theme::DIM).centered());
    f.render_widget(Paragraph::new(lines), area);
}

/// Bytes each address sent and received over the sessions, most first.
fn top_talkers(app: &App) -> Vec<(IpAddr, u64)> {
    let mut by_addr: HashMap<IpAddr, u64> = HashMap::new();
    for s in app.engine.sessions.iter() {
        *by_addr.entry(s.a.addr).or_default() += s.bytes();
        *by_addr.entry(s.b.addr).or_default() += s.bytes();
    }
    let mut top: Vec<(IpAddr, u64)> = by_addr.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(TOP);
    top
}

/// The top talkers as horizontal bars: address (or name), bar, bytes; as many as fit.
fn talker_bars(f: &mut Frame, area: Rect, app: &App, talkers: &[(IpAddr, u64)]) {
    let rows = area.height.saturating_sub(1) as usize;
    let mut lines = vec![Line::styled(
        format!(
            "Top talkers, bytes sent + received (top {})",
            talkers.len().min(rows)
        ),
        theme::header(),
    )];
    if talkers.is_empty() {
        lines.push(Line::styled("  no sessions yet", theme::DIM));
    }
    let names: Vec<String> = talkers
        .iter()
        .take(rows)
        .map(|(a, _)| sanitize(&app.addr_text(*a)).into_owned())
        .collect();
    let name_w = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(area.width as usize / 3)
        .min(40);
    let value_w = 10;
    let bar_w = (area.width as usize).saturating_sub(name_w + value_w + 4);
    let max = talkers.first().map(|t| t.1).unwrap_or(1).max(1);
    for (name, (_, bytes)) in names.iter().zip(talkers) {
        let name: String = if name.chars().count() > name_w {
            let mut s: String = name.chars().take(name_w.saturating_sub(1)).collect();
            s.push('…');
            s
        } else {
            name.clone()
        };
        lines.push(Line::from(vec![
            Span::raw(format!(" {name:<name_w$} ")),
            Span::styled(bar(*bytes, max, bar_w), theme::BAR),
            Span::raw(format!(" {:>value_w$}", human_bytes(*bytes))),
        ]));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// A bar `width` cells long at `max`, in eighths of a cell, padded to `width`; never empty for
/// a value above zero.
fn bar(v: u64, max: u64, width: usize) -> String {
    const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = ((v as u128 * width as u128 * 8) / max.max(1) as u128) as usize;
    let eighths = if v > 0 { eighths.max(1) } else { 0 };
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 != 0 {
        s.push(EIGHTHS[eighths % 8 - 1]);
    }
    let len = s.chars().count();
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
    s
}

/// Whether the session's traffic spans two seconds or more, so [`session_rate`] draws a chart
/// and not its one line of numbers.
pub fn session_rate_charts(s: &Session) -> bool {
    s.rate.newest() > s.first.secs()
}

/// The session detail's rate chart: bytes per second A → B and B → A over the session's last
/// [`RATE_SECS`] seconds up to its newest packet, x in seconds since it began.
pub fn session_rate(f: &mut Frame, area: Rect, s: &Session, no_color: bool) {
    let head = s.rate.newest();
    let first = s.first.secs().min(head);
    let n = (head - first + 1).clamp(1, RATE_SECS as i64) as usize;
    let series = [
        s.rate.series_dir(head, n, true),
        s.rate.series_dir(head, n, false),
    ];
    let max = series.iter().flatten().copied().max().unwrap_or(0);
    let names = ["A → B", "B → A"];
    if n < 2 || max == 0 || area.height < 6 {
        // Too short for a line, or too little room: the numbers instead.
        let what = if n < 2 {
            "all in one second".to_string()
        } else {
            format!("peaks over its last {n} s")
        };
        let peak = |i: usize| human_bytes(series[i].iter().copied().max().unwrap_or(0));
        let line = Line::styled(
            format!(
                "bytes/s, {what}: {} {}/s, {} {}/s",
                names[0],
                peak(0),
                names[1],
                peak(1)
            ),
            theme::DIM,
        );
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let start = head - (n as i64 - 1) - first;
    let points: Vec<Vec<(f64, f64)>> = series.iter().map(|s| points(s, start)).collect();
    let legend = legend_items(&names, &theme::DIR_COLOURS, &theme::DIR_MARKS, &series);
    let [legend_area, plot] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let mut line = legend_line(&legend, legend_area.width.saturating_sub(20), no_color);
    line.spans
        .push(Span::styled(format!("bytes/s, its last {n} s"), theme::DIM));
    f.render_widget(Paragraph::new(line), legend_area);
    rate_chart(
        f,
        plot,
        &points,
        &legend,
        [start as f64, (start + n as i64 - 1) as f64],
        max,
        no_color,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_tops_at_a_round_number_in_a_unit_that_suits() {
        assert_eq!(y_scale(0), (1.0, 1.0, "B/s"));
        assert_eq!(y_scale(297), (500.0, 1.0, "B/s"));
        assert_eq!(y_scale(1_000), (1_000.0, 1e3, "kB/s"));
        assert_eq!(y_scale(2_100), (2_500.0, 1e3, "kB/s"));
        assert_eq!(y_scale(7_300_000), (10_000_000.0, 1e6, "MB/s"));
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(1.25), "1.25");
        assert_eq!(number(500.0), "500");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn bars_are_as_long_as_their_share() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██  ");
        assert_eq!(bar(1, 1000, 4), "▏   ", "a talker never vanishes");
        assert_eq!(bar(0, 10, 2), "  ");
        assert_eq!(rel_secs(0.0), "+0s");
        assert_eq!(rel_secs(150.0), "+2m30s");
        assert_eq!(rel_secs(4.5), "+4.5s");
    }
}
