//! Drawing the app on ratatui's test backend, and reading the screen back as text.

use packetlab::app::state::{App, SourceKind};
use packetlab::engine::Engine;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

/// An app over `frames` read from a finished file.
pub fn app_with(frames: Vec<packetlab::capture::Frame>) -> App {
    let mut e = Engine::new(1000);
    for f in frames {
        e.ingest(f);
    }
    let mut app = App::new(e, SourceKind::File("sample.pcap".into()));
    app.source_done = true;
    app.sessions.refresh(&app.engine.sessions);
    app
}

/// One frame drawn at `w`×`h`, after the app is told its panes' rows there.
pub fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    app.fit(packetlab::ui::layout::rows(Rect::new(0, 0, w, h), app));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| packetlab::ui::render(f, app)).unwrap();
    t
}

pub fn screen_text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
