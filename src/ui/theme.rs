//! Colours and styles in one place.

use ratatui::style::{Color, Modifier, Style};

use crate::decode::{Proto, Summary};

pub const BORDER: Style = Style::new().fg(Color::DarkGray);
pub const BORDER_FOCUS: Style = Style::new().fg(Color::Cyan);
pub const HEADER: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const SELECTED: Style = Style::new().bg(Color::Blue).fg(Color::White);
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
