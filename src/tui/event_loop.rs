//! The one loop: keys and the mouse, frames from the source, and two ticks meet in a single
//! `select!`. Keys come first, so a flood never makes the terminal wait; frames are taken in
//! bounded batches; drawing happens at most 30 times a second, and only when something changed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream, MouseButton, MouseEventKind};
use futures::StreamExt;
use ratatui::layout::Rect;
use ratatui::DefaultTerminal;

use super::effects::{Next, World};
use crate::app::state::App;
use crate::app::update::mouse::Mouse;
use crate::capture::channel::SourceMsg;

/// At most this many frames are taken in per loop turn, so keys stay responsive under a flood.
const FRAMES_PER_TURN: usize = 8192;

pub async fn run(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    world: &mut World,
    count: Option<u64>,
) -> Result<()> {
    let mut events = EventStream::new();
    let mut frame_tick = tokio::time::interval(Duration::from_millis(33));
    frame_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stats_tick = tokio::time::interval(Duration::from_millis(500));
    let mut dirty = true;
    let mut last_sessions_refresh = Instant::now();
    let limit = count.unwrap_or(u64::MAX);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    fit(terminal, app)?;
    loop {
        tokio::select! {
            // Input first: a key is handled before the next batch of a flood.
            biased;
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => {
                    // Lets the end-to-end test prove the terminal is restored after a panic.
                    if k.code == crossterm::event::KeyCode::F(12)
                        && std::env::var_os("PACKETLAB_TEST_PANIC").is_some()
                    {
                        panic!("panic requested with F12 (PACKETLAB_TEST_PANIC is set)");
                    }
                    let fx = app.on_key(k);
                    if world.carry_out(app, fx) == Next::Quit {
                        break;
                    }
                    world.sync_lab_rules(app);
                    world.refresh_names(app);
                    fit(terminal, app)?;
                    // Draw at once: a key press must not wait for the next frame tick.
                    terminal.draw(|f| crate::ui::render(f, app))?;
                    dirty = false;
                }
                Some(Ok(Event::Resize(_, _))) => {
                    fit(terminal, app)?;
                    dirty = true;
                }
                Some(Ok(Event::Mouse(m))) => {
                    let size = terminal.size()?;
                    let screen = Rect::new(0, 0, size.width, size.height);
                    if let Some(m) = mouse_on_pane(app, screen, m) {
                        app.on_mouse(m);
                    }
                    terminal.draw(|f| crate::ui::render(f, app))?;
                    dirty = false;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).wrap_err("reading the terminal"),
                None => break,
            },
            _ = sigterm.recv() => break,
            msg = world.rx.recv(), if world.source_open => {
                take_frames(app, world, msg, limit);
                app.after_ingest();
                dirty = true;
            },
            _ = stats_tick.tick() => {
                if terminal_hung_up() {
                    // The terminal went away (window closed, ssh dropped): crossterm's reader
                    // would spin on the dead tty, and nobody is watching. Leave.
                    break;
                }
                // SIGINT from outside (a Ctrl-C at the keyboard is a key): the kernel lab has
                // ended and removed its namespaces; so does the program.
                if crate::kernel_lab::signalled() {
                    break;
                }
                dirty |= tick(app, world);
            },
            _ = frame_tick.tick() => {
                if dirty {
                    // The session rows follow the table at most a few times a second.
                    if last_sessions_refresh.elapsed() >= Duration::from_millis(200) {
                        app.refresh_sessions();
                        last_sessions_refresh = Instant::now();
                    }
                    terminal.draw(|f| crate::ui::render(f, app))?;
                    dirty = false;
                }
            },
        }
        if app.quit {
            break;
        }
    }
    world.stats.stop.store(true, Ordering::Relaxed);
    if let Some(mut w) = world.writer.take() {
        w.flush().wrap_err("writing the capture file")?;
    }
    Ok(())
}

/// Takes in the message `first` and whatever else is waiting, up to [`FRAMES_PER_TURN`] frames.
/// One frame into the app (and `-w`); `false` once `-c` is reached.
fn take_one(
    app: &mut App,
    world: &mut World,
    f: crate::capture::Frame,
    given: Option<Option<&crate::firewall::simulator::Enforced>>,
    limit: u64,
) -> bool {
    if app.engine.packets >= limit {
        world.stats.stop.store(true, Ordering::Relaxed);
        app.source_done = true;
        return false;
    }
    if let Some(w) = world.writer.as_mut() {
        if let Err(e) = w.write(&f.as_ref()) {
            app.errors
                .push(format!("writing the capture file failed: {e}"));
            world.writer = None;
        }
    }
    match given {
        None => app.ingest(f),
        Some(e) => app.ingest_enforced(f, e),
    }
    true
}

fn take_frames(app: &mut App, world: &mut World, first: Option<SourceMsg>, limit: u64) {
    let mut taken = 0;
    let mut next = first;
    loop {
        match next {
            Some(SourceMsg::Frames(frames)) => {
                taken += frames.len();
                for f in frames {
                    if !take_one(app, world, f, None, limit) {
                        break;
                    }
                }
            }
            Some(SourceMsg::Enforced(frames)) => {
                taken += frames.len();
                for (f, e) in frames {
                    if !take_one(app, world, f, Some(e.as_ref()), limit) {
                        break;
                    }
                }
            }
            Some(SourceMsg::Kernel { frames, tally }) => {
                taken += frames.len();
                if let Some(k) = app.kernel.as_mut() {
                    k.tally = tally;
                }
                for kf in frames {
                    if !take_one(app, world, kf.frame, Some(kf.enforced.as_ref()), limit) {
                        break;
                    }
                    if let Some(why) = kf.differs {
                        app.note_differs(why);
                    }
                }
            }
            Some(SourceMsg::Interfaces(ifaces)) => {
                app.engine.iface_names = ifaces.iter().map(|i| i.name.clone()).collect();
                // A pcapng file declares its interfaces as it goes; -w keeps their names.
                if let Some(w) = world.writer.as_mut() {
                    w.learn_interfaces(&ifaces);
                }
            }
            Some(SourceMsg::Error(e)) => {
                app.source_error.get_or_insert_with(|| e.clone());
                app.errors.push(e);
            }
            Some(SourceMsg::Done) => app.source_done = true,
            None => {
                world.source_open = false;
                app.source_done = true;
                break;
            }
        }
        if taken >= FRAMES_PER_TURN {
            break;
        }
        match world.rx.try_recv() {
            Ok(m) => next = Some(m),
            Err(_) => break,
        }
    }
}

/// The twice-a-second work: drop counters, rate, socket owners, session ageing, the lab's and
/// the resolver's copies, the `-w` file flushed. Returns whether the screen changed.
fn tick(app: &mut App, world: &mut World) -> bool {
    let mut dirty = false;
    let (ch, k) = world.stats.drops();
    let skipped = world.stats.paused_skipped.load(Ordering::Relaxed);
    if (ch, k, skipped) != (app.channel_drops, app.kernel_drops, app.paused_skipped) {
        app.channel_drops = ch;
        app.kernel_drops = k;
        app.paused_skipped = skipped;
        dirty = true;
    }
    dirty |= app.rate.update(app.engine.packets);
    if let Some(o) = world.owners.as_ref().and_then(|w| w.take()) {
        app.engine
            .sessions
            .attribute(|p, ep| o.owner(p, ep).cloned());
        app.sockets = Some(o);
        dirty = true;
    }
    app.engine.sessions.age();
    dirty |= app.refresh_sessions();
    // Running generators change their counters all the time.
    if app.lab.as_ref().is_some_and(|l| l.any_running()) {
        dirty = true;
    }
    world.refresh_lab(app);
    dirty |= world.refresh_names(app);
    if let Some(w) = world.writer.as_mut() {
        let _ = w.flush();
    }
    dirty
}

/// Tells the app how many rows each pane has on this screen.
fn fit(terminal: &mut DefaultTerminal, app: &mut App) -> Result<()> {
    let size = terminal.size()?;
    let rows = crate::ui::layout::rows(Rect::new(0, 0, size.width, size.height), app);
    app.fit(rows);
    Ok(())
}

/// Which pane, and which row of it, a mouse event is on (the layout is the UI's to know).
fn mouse_on_pane(app: &App, screen: Rect, m: crossterm::event::MouseEvent) -> Option<Mouse> {
    if !app.mouse_reaches_panes() {
        return None;
    }
    let (pane, row) = crate::ui::layout::pane_at(screen, app, m.column, m.row)?;
    match m.kind {
        MouseEventKind::ScrollDown => Some(Mouse::Scroll { pane, lines: 3 }),
        MouseEventKind::ScrollUp => Some(Mouse::Scroll { pane, lines: -3 }),
        MouseEventKind::Down(MouseButton::Left) => Some(Mouse::Click { pane, row }),
        _ => None,
    }
}

/// Whether our terminal (stdout) has hung up.
fn terminal_hung_up() -> bool {
    let mut p = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: `p` is a valid, initialised pollfd that lives across the call; nfds is 1 and the
    // timeout 0, so poll(2) only reads and writes that one struct and returns at once.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}
