//! Colours and styles in one place.

use ratatui::style::{Color, Modifier, Style};

use crate::decode::{Proto, Summary};

pub const BORDER: Style = Style::new().fg(Color::DarkGray);
pub const BORDER_FOCUS: Style = Style::new().fg(Color::Cyan);
const HEADER: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
const SELECTED: Style = Style::new().bg(Color::Blue).fg(Color::White);

/// Colours the config file's `[theme]` may change; set once at start, before drawing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub selected: Style,
    pub header: Style,
    pub accept: Color,
    pub drop: Color,
    pub reject: Color,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            selected: SELECTED,
            header: HEADER,
            accept: Color::LightGreen,
            drop: Color::LightRed,
            reject: Color::LightMagenta,
        }
    }
}

static THEME: std::sync::OnceLock<Theme> = std::sync::OnceLock::new();

/// Installs the theme (the first call wins; without one, the defaults).
pub fn set(t: Theme) {
    let _ = THEME.set(t);
}

pub fn current() -> Theme {
    THEME.get().copied().unwrap_or_default()
}

/// The selected row.
pub fn selected() -> Style {
    current().selected
}

/// Column headers and titles of lists.
pub fn header() -> Style {
    current().header
}

/// A packet the kernel judged otherwise than the simulator (`--lab-kernel`).
pub fn differs() -> Style {
    Style::new()
        .fg(Color::White)
        .bg(current().drop)
        .add_modifier(Modifier::BOLD)
}
pub const HIGHLIGHT_BYTES: Style = Style::new().bg(Color::Yellow).fg(Color::Black);
pub const LAYER: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const ERROR: Style = Style::new().fg(Color::LightRed);
pub const NOTICE: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
pub const STATUS: Style = Style::new().fg(Color::White).bg(Color::DarkGray);
pub const STATUS_KEY: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Cyan)
    .add_modifier(Modifier::BOLD);

/// Row colour by what the packet is, as Wireshark's colouring rules do it.
pub fn packet_style(s: &Summary) -> Style {
    if s.error.is_some() {
        return Style::new().fg(Color::LightRed);
    }
    if let Some(t) = s.tcp {
        if t.flags & 0x004 != 0 {
            return Style::new().fg(Color::Red);
        }
        if t.flags & 0x003 != 0 {
            return Style::new().fg(Color::Gray);
        }
    }
    match s.proto {
        Proto::Tcp => Style::new().fg(Color::LightBlue),
        Proto::Udp => Style::new().fg(Color::LightCyan),
        Proto::Dns | Proto::Mdns => Style::new().fg(Color::LightGreen),
        Proto::Icmp | Proto::Icmpv6 => Style::new().fg(Color::LightMagenta),
        Proto::Arp | Proto::Rarp => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::White),
    }
}

/// Grey tags and notes beside a row's text; on the selected row a grey that its background
/// does not swallow.
pub fn tag(on_selected_row: bool) -> Style {
    if on_selected_row {
        Style::new().fg(Color::Gray)
    } else {
        DIM
    }
}

/// The graphs' line per protocol family, in `throughput::FAMILIES` order: the colours the packet
/// list gives those protocols, so a line reads as its rows do.
pub const FAMILY_COLOURS: [Color; 4] = [
    Color::LightBlue,
    Color::LightCyan,
    Color::LightMagenta,
    Color::Gray,
];
/// Under NO_COLOR every line would look the same: each family draws with its own mark instead,
/// and the legend shows it.
pub const FAMILY_MARKS: [char; 4] = ['*', '+', 'x', 'o'];
/// A session's two directions, as the follow view colours them: A → B, B → A.
pub const DIR_COLOURS: [Color; 2] = [Color::LightCyan, Color::LightMagenta];
/// Their marks without colours: which way the bytes went.
pub const DIR_MARKS: [char; 2] = ['>', '<'];
/// The top talkers' bars.
pub const BAR: Style = Style::new().fg(Color::LightGreen);
/// Axis lines and their labels: darker than the "other" family's grey line that runs along
/// the time axis.
pub const AXIS: Style = Style::new().fg(Color::DarkGray);
