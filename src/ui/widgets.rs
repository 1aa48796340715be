//! Small pieces every pane uses: the bordered pane with its title, and numbers for people.

use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Borders};

use super::theme;

pub fn pane(title: String, focused: bool) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            theme::BORDER_FOCUS
        } else {
            theme::BORDER
        })
        .title(title)
        .title_style(Style::new().add_modifier(ratatui::style::Modifier::BOLD))
}

/// A byte count for people: 950 B, 12.3 kB, 4.5 MB.
pub fn human_bytes(b: u64) -> String {
    match b {
        0..=999 => format!("{b} B"),
        1_000..=999_999 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.2} GB", b as f64 / 1e9),
    }
}

/// A duration for people: 0.042s, 12.3s, 5m03s, 2h10m.
pub fn human_secs(ns: i64) -> String {
    let s = ns.max(0) as f64 / 1e9;
    if s < 1.0 {
        format!("{s:.3}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// Values as a row of block characters, scaled to the largest.
pub fn spark(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                BARS[((v * 7).div_ceil(max.max(1))) as usize % 8]
            }
        })
        .collect()
}
