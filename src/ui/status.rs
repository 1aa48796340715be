//! The status bar (source, packets, rate, drops, modes) and the notice line above it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme;
use super::widgets::ellipsize;
use crate::app::state::{App, SourceKind};
use crate::sanitize::sanitize;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let e = &app.engine;
    let source = match &app.source {
        SourceKind::Live(i) => format!(" LIVE {} ", i.join(",")),
        SourceKind::File(p) => format!(" FILE {p} "),
        SourceKind::Demo(_) => " DEMO ".to_string(),
        SourceKind::LabNet(name) if app.kernel.is_some() => format!(" KERNEL LAB {name} "),
        SourceKind::LabNet(name) => format!(" LAB {name} "),
    };
    let state = if app.paused {
        " PAUSED "
    } else if app.source_done {
        " END "
    } else if app.follow {
        " FOLLOW "
    } else {
        " BROWSE "
    };
    let mut text = format!(
        " {} pkts | {:.0} pkt/s | drops: {} channel, {} kernel",
        e.packets, app.rate.per_sec, app.channel_drops, app.kernel_drops
    );
    if e.store.evicted() > 0 {
        text.push_str(&format!(
            " | kept last {} ({} evicted)",
            e.store.len(),
            e.store.evicted()
        ));
    }
    if let Some(f) = &app.packet_filter {
        text.push_str(&format!(
            " | showing {} of {}",
            f.matches.len(),
            e.store.len()
        ));
        if let (crate::app::state::PacketFilterKind::Display, Some(df)) =
            (f.kind, &app.display_filter)
        {
            text.push_str(&format!(" ({})", df.text()));
        }
    }
    if let Some(q) = &app.search {
        text.push_str(&format!(" | search: {} (n/N)", q.text));
    }
    if app.paused_skipped > 0 {
        text.push_str(&format!(
            " | {} not recorded while paused",
            app.paused_skipped
        ));
    }
    if e.malformed > 0 {
        text.push_str(&format!(" | {} malformed", e.malformed));
    }
    // The keys to get help and out always show; the counters give way (with …) on a narrow
    // screen, and the source's name last.
    let keys = "  ? help  q quit ";
    let source = sanitize(&source).into_owned();
    let fixed = source.chars().count() + state.chars().count() + keys.chars().count();
    let text = ellipsize(&text, (area.width as usize).saturating_sub(fixed));
    let line = Line::from(vec![
        Span::styled(source, theme::STATUS_KEY),
        Span::styled(state, theme::NOTICE),
        Span::styled(text, theme::STATUS),
        Span::styled(keys, theme::STATUS),
    ]);
    f.render_widget(Paragraph::new(line).style(theme::STATUS), area);
}

pub fn render_notice(f: &mut Frame, area: Rect, app: &App) {
    use ratatui::widgets::Wrap;
    let mut lines = Vec::new();
    if let Some(n) = &app.notice {
        lines.push(Line::styled(
            sanitize(&format!(" {n}")).into_owned(),
            theme::NOTICE,
        ));
    }
    if let Some(err) = app.errors.last() {
        let more = match app.errors.len() {
            1 => String::new(),
            n => format!(" ({} more before it)", n - 1),
        };
        lines.push(Line::styled(
            sanitize(&format!(" ✗ {err}{more}")).into_owned(),
            theme::ERROR,
        ));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
