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

/// `s` in at most `width` columns: cut at the end with `…` when longer.
pub fn ellipsize(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// An endpoint (`addr:port`, `[v6]:port`), an address or a name in at most `width` columns: the
/// address is shortened with `…` in its middle (its start and end tell addresses apart), the
/// port is never cut.
pub fn ellipsize_endpoint(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    // A port is digits after the last colon, and an IPv6 address without one keeps its colons.
    let port_at = s
        .rfind(':')
        .filter(|&i| i + 1 < s.len() && s[i + 1..].bytes().all(|b| b.is_ascii_digit()))
        .filter(|&i| !s[..i].contains(':') || s[..i].ends_with(']'));
    let (addr, port) = s.split_at(port_at.unwrap_or(s.len()));
    let port_w = port.chars().count();
    let room = width.saturating_sub(port_w);
    if room < 2 {
        // Not even one character of the address and the mark: the port alone, as far as it fits.
        return ellipsize(port, width);
    }
    // Keep the address's start and end: both tell addresses apart (a network, a host).
    let keep = room - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let chars: Vec<char> = addr.chars().collect();
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out.push_str(port);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_their_port_whole() {
        assert_eq!(ellipsize_endpoint("127.0.0.1:8000", 14), "127.0.0.1:8000");
        assert_eq!(ellipsize_endpoint("127.0.0.1:8000", 13), "127.…0.1:8000");
        assert_eq!(ellipsize_endpoint("[2001:db8::1]:443", 10), "[20…1]:443");
        assert_eq!(ellipsize_endpoint("127.0.0.1:51000", 6), ":51000");
        assert_eq!(ellipsize_endpoint("example.org", 8), "exam…org");
        assert_eq!(ellipsize_endpoint("2001:db8::1:2", 9), "2001…:1:2");
        for w in 0..20 {
            let e = ellipsize_endpoint("192.168.100.200:65535", w);
            assert!(e.chars().count() <= w, "{e:?} in {w}");
            if w >= 8 {
                assert!(e.ends_with(":65535"), "{e:?} in {w}");
            }
        }
    }

    #[test]
    fn text_is_cut_with_a_mark() {
        assert_eq!(ellipsize("accept", 6), "accept");
        assert_eq!(ellipsize("accept", 5), "acce…");
        assert_eq!(ellipsize("accept", 0), "");
    }
}
