//! The TUI: state, keys, and the one async event loop where sources, keys and drawing meet.

pub mod firewall_view;
pub mod keys;
pub mod sessions_view;
pub mod state;

use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::capture::live;
use crate::capture::write::PcapngWriter;
use crate::cli::Cli;
use crate::engine::Engine;
use crate::run::{Input, EXIT_NOT_PERMITTED};
use crate::source::{self, SourceMsg, SourceStats};
use keys::Effect;
use state::{App, SourceKind};

/// At most this many frames are taken in per loop turn, so keys stay responsive under a flood.
const FRAMES_PER_TURN: usize = 8192;

pub fn run_tui(cli: Cli, input: Input) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(run_async(cli, input))
}

async fn run_async(cli: Cli, input: Input) -> Result<i32> {
    let stats = Arc::new(SourceStats::default());
    let (tx, rx) = mpsc::channel(source::CHANNEL_BATCHES);
    let mut engine = Engine::with_limits(cli.keep, cli.max_sessions);
    let live_names = match &input {
        Input::Live { interfaces } => interfaces.clone(),
        _ => Vec::new(),
    };
    match crate::run::load_firewall(&cli, &live_names) {
        Ok(fw) => engine.firewall = fw,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(2);
        }
    }
    let (kind, notice, ifaces, handles) = match input {
        Input::File { path, pace } => {
            let h = source::spawn_file(path.clone(), pace, stats.clone(), tx);
            (
                SourceKind::File(path.display().to_string()),
                None,
                Vec::new(),
                vec![h],
            )
        }
        Input::Demo { path, reason } => {
            let h = source::spawn_file(path.clone(), true, stats.clone(), tx);
            let why = reason.unwrap_or_else(|| "demo requested with --demo".into());
            let notice = format!("Demo capture, replayed at its original pace — {why}");
            (
                SourceKind::Demo(path.display().to_string()),
                Some(notice),
                Vec::new(),
                vec![h],
            )
        }
        Input::Nothing { reason } => {
            drop(tx);
            (
                SourceKind::File("(no capture)".into()),
                Some(reason),
                Vec::new(),
                Vec::new(),
            )
        }
        Input::Live { interfaces } => match live::start(&interfaces, stats.clone(), tx) {
            Ok((ifaces, handles)) => (SourceKind::Live(interfaces), None, ifaces, handles),
            Err(e) => {
                eprintln!("packetlab: {e}");
                return Ok(if e.is_permission() {
                    EXIT_NOT_PERMITTED
                } else {
                    1
                });
            }
        },
    };
    engine.iface_names = ifaces.iter().map(|i| i.name.clone()).collect();
    let writer = match &cli.write {
        Some(p) => {
            let f = File::create(p).wrap_err_with(|| format!("cannot write {}", p.display()))?;
            Some(PcapngWriter::new(BufWriter::new(f), ifaces)?)
        }
        None => None,
    };
    // Socket owners are only meaningful for traffic of this machine, captured live.
    let owners = matches!(kind, SourceKind::Live(_))
        .then(|| crate::procs::Watcher::start(Duration::from_millis(500)));
    let mut app = App::new(engine, kind);
    if let Some(fw) = &app.engine.firewall {
        app.firewall.move_by(fw, 0);
    }
    app.analyze_rules();
    app.notice = notice;
    app.no_color |= cli.no_color;
    app.columns = cli.columns.clone();
    for (c, name) in &cli.keymap {
        if let Some((_, a)) = keys::ACTION_NAMES.iter().find(|(n, _)| n == name) {
            app.keymap.insert(*c, *a);
        }
    }
    if !cli.no_resolve {
        app.resolver = Some(crate::names::Resolver::start());
    }
    app.errors.extend(cli.config_warnings.iter().cloned());
    start_lab(&mut app, &cli);

    let mut terminal = ratatui::init();
    // Mouse: click to focus and select, wheel to scroll. Turned off again before restoring.
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    // On a panic, mouse reporting is turned off too before ratatui's hook restores the rest.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        previous(info);
    }));
    let result = event_loop(
        &mut terminal,
        &mut app,
        rx,
        stats.clone(),
        writer,
        cli.count,
        owners,
    )
    .await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    if let Some(lab) = app.lab.as_mut() {
        // Every generator stops, and its sockets close, before the program ends.
        lab.shutdown().await;
    }
    stats.stop.store(true, Ordering::Relaxed);
    // Live receivers wake every 50 ms to see `stop`; a file or stdin reader may be blocked in a
    // read that never returns (an idle pipe), so it is left to end with the process.
    if matches!(app.source, SourceKind::Live(_)) {
        for h in handles {
            let _ = h.join();
        }
    }
    result.map(|_| 0)
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    mut rx: mpsc::Receiver<SourceMsg>,
    mut stats: Arc<SourceStats>,
    mut writer: Option<PcapngWriter<BufWriter<File>>>,
    count: Option<u64>,
    owners: Option<crate::procs::Watcher>,
) -> Result<()> {
    let mut events = EventStream::new();
    let mut frame_tick = tokio::time::interval(Duration::from_millis(33));
    frame_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stats_tick = tokio::time::interval(Duration::from_millis(500));
    let mut dirty = true;
    let mut last_sessions_refresh = std::time::Instant::now();
    let mut source_open = true;
    let limit = count.unwrap_or(u64::MAX);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    ui_fit(terminal, app)?;
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
                    match app.on_key(k) {
                        Some(Effect::Quit) => break,
                        Some(Effect::SetPaused(p)) => stats.paused.store(p, Ordering::Relaxed),
                        Some(Effect::Capture(name)) => {
                            // Switch to live capture on `name` without restarting: the old
                            // source stops (its threads see `stop`), a new one feeds the loop.
                            let new_stats = Arc::new(SourceStats::default());
                            let (tx, new_rx) = mpsc::channel(source::CHANNEL_BATCHES);
                            match live::start(std::slice::from_ref(&name), new_stats.clone(), tx) {
                                Ok((ifaces, _handles)) => {
                                    stats.stop.store(true, Ordering::Relaxed);
                                    stats = new_stats;
                                    rx = new_rx;
                                    source_open = true;
                                    app.source_done = false;
                                    app.engine.iface_names = ifaces.iter().map(|i| i.name.clone()).collect();
                                    app.source = SourceKind::Live(vec![name.clone()]);
                                    app.notice = Some(format!("Capturing live on {name}"));
                                    app.follow = true;
                                }
                                Err(e) => app.errors.push(e.to_string()),
                            }
                        }
                        None => {}
                    }
                    ui_fit(terminal, app)?;
                    // Draw at once: a key press must not wait for the next frame tick.
                    terminal.draw(|f| crate::ui::render(f, app))?;
                    dirty = false;
                }
                Some(Ok(Event::Resize(_, _))) => {
                    ui_fit(terminal, app)?;
                    dirty = true;
                }
                Some(Ok(Event::Mouse(m))) => {
                    let size = terminal.size()?;
                    app.on_mouse(m, ratatui::layout::Rect::new(0, 0, size.width, size.height));
                    terminal.draw(|f| crate::ui::render(f, app))?;
                    dirty = false;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).wrap_err("reading the terminal"),
                None => break,
            },
            _ = sigterm.recv() => break,
            msg = rx.recv(), if source_open => {
                let mut taken = 0;
                let mut next = msg;
                loop {
                    match next {
                        Some(SourceMsg::Frames(frames)) => {
                            taken += frames.len();
                            for f in frames {
                                if app.engine.packets >= limit {
                                    stats.stop.store(true, Ordering::Relaxed);
                                    app.source_done = true;
                                    break;
                                }
                                if let Some(w) = writer.as_mut() {
                                    if let Err(e) = w.write(&f.as_ref()) {
                                        app.errors.push(format!("writing the capture file failed: {e}"));
                                        writer = None;
                                    }
                                }
                                app.ingest(f);
                            }
                        }
                        Some(SourceMsg::Interfaces(ifaces)) => {
                            app.engine.iface_names = ifaces.iter().map(|i| i.name.clone()).collect();
                            // A pcapng file declares its interfaces as it goes; -w keeps their names.
                            if let Some(w) = writer.as_mut() {
                                w.learn_interfaces(&ifaces);
                            }
                        }
                        Some(SourceMsg::Error(e)) => app.errors.push(e),
                        Some(SourceMsg::Done) => app.source_done = true,
                        None => {
                            source_open = false;
                            app.source_done = true;
                            break;
                        }
                    }
                    if taken >= FRAMES_PER_TURN {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(m) => next = Some(m),
                        Err(_) => break,
                    }
                }
                app.after_ingest();
                dirty = true;
            },
            _ = stats_tick.tick() => {
                if terminal_hung_up() {
                    // The terminal went away (window closed, ssh dropped): crossterm's reader
                    // would spin on the dead tty, and nobody is watching. Leave.
                    break;
                }
                let (ch, k) = stats.drops();
                let skipped = stats.paused_skipped.load(Ordering::Relaxed);
                if (ch, k, skipped) != (app.channel_drops, app.kernel_drops, app.paused_skipped) {
                    app.channel_drops = ch;
                    app.kernel_drops = k;
                    app.paused_skipped = skipped;
                    dirty = true;
                }
                dirty |= app.rate.update(app.engine.packets);
                if let Some(o) = owners.as_ref().and_then(|w| w.take()) {
                    app.engine.sessions.attribute(|p, ep| o.owner(p, ep).cloned());
                    app.sockets = Some(o);
                    dirty = true;
                }
                app.engine.sessions.age();
                dirty |= app.refresh_sessions();
                // Running generators change their counters all the time.
                dirty |= app
                    .lab
                    .as_ref()
                    .is_some_and(|l| crate::lab::GeneratorKind::ALL.iter().any(|k| l.is_running(*k)));
                if let Some(w) = writer.as_mut() {
                    let _ = w.flush();
                }
            },
            _ = frame_tick.tick() => {
                if dirty {
                    // The session rows follow the table at most a few times a second.
                    if last_sessions_refresh.elapsed() >= Duration::from_millis(200) {
                        app.refresh_sessions();
                        last_sessions_refresh = std::time::Instant::now();
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
    stats.stop.store(true, Ordering::Relaxed);
    if let Some(mut w) = writer {
        w.flush().wrap_err("writing the capture file")?;
    }
    Ok(())
}

fn ui_fit(terminal: &mut DefaultTerminal, app: &mut App) -> Result<()> {
    let size = terminal.size()?;
    crate::ui::fit(
        app,
        ratatui::layout::Rect::new(0, 0, size.width, size.height),
    );
    Ok(())
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

/// The lab pane, and the scenario of `--lab NAME` started in it.
fn start_lab(app: &mut App, cli: &Cli) {
    app.lab = Some(crate::lab::Lab::new(tokio::runtime::Handle::current()));
    if let Some(sc) = cli.lab.as_deref().and_then(crate::scenario::find) {
        app.start_scenario(sc);
    }
}
