//! The terminal front end: sets the terminal up and restores it (also on a panic), starts the
//! sources, the lab, the resolver and the socket-owner watcher, and runs the one event loop.
//! Everything here that touches the world (terminal, files, sockets, tasks) is here and in
//! `effects.rs`; the state it drives is `app::App`, drawn by `ui::render`.

mod effects;
mod event_loop;

use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::mpsc;

use crate::app::keymap::ACTION_NAMES;
use crate::app::state::{App, SourceKind};
use crate::capture::channel::{self, SourceStats};
use crate::capture::write::PcapngWriter;
use crate::capture::{live, replay};
use crate::cli::Cli;
use crate::engine::Engine;
use crate::launch::{tui_firewall, Input, EXIT_NOT_PERMITTED};
use effects::World;

pub fn run_tui(cli: Cli, input: Input) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(run_async(cli, input))
}

/// Whether the person asked for no colours: `NO_COLOR` set and not empty (read once, at start).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// `--lab-kernel` in the TUI: the namespaces are made (and the ruleset loaded) here, before
/// the terminal is taken, so that what fails is said where it can be read.
fn start_kernel_lab(
    cli: &Cli,
    sc: &crate::scenario::Scenario,
    rules: &crate::firewall::model::Ruleset,
    stats: Arc<SourceStats>,
    tx: mpsc::Sender<channel::SourceMsg>,
) -> std::result::Result<
    (
        crate::capture::lab_net::LabNetHandle,
        std::thread::JoinHandle<()>,
    ),
    String,
> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("--lab-kernel makes network namespaces: it needs root".into());
    }
    let text = crate::kernel_lab::nft_text(cli, sc)?;
    let p = crate::kernel_lab::live::prepare(&sc.name, &text, rules)?;
    crate::kernel_lab::live::spawn(p, stats, tx)
}

async fn run_async(cli: Cli, input: Input) -> Result<i32> {
    let stats = Arc::new(SourceStats::default());
    let (tx, rx) = mpsc::channel(channel::CHANNEL_BATCHES);
    let mut engine = Engine::with_limits(cli.keep, cli.max_sessions);
    let live_names = match &input {
        Input::Live { interfaces } => interfaces.clone(),
        _ => Vec::new(),
    };
    let lab_scenario = match &input {
        Input::LabNet { scenario } => Some((**scenario).clone()),
        _ => None,
    };
    let firewall = match &lab_scenario {
        Some(sc) => crate::launch::lab_firewall(&cli, sc).map(|fw| Some((fw, false))),
        None => tui_firewall(&cli, &live_names),
    };
    engine.enforced = lab_scenario.is_some();
    let mut lab_net = None;
    let starter = match firewall {
        Ok(fw) => {
            let starter = fw.as_ref().is_some_and(|(_, s)| *s);
            engine.firewall = fw.map(|(fw, _)| fw);
            starter
        }
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(2);
        }
    };
    let (kind, notice, ifaces, handles) = match input {
        Input::File { path, pace } => {
            let h = replay::spawn_file(path.clone(), pace, stats.clone(), tx);
            (
                SourceKind::File(path.display().to_string()),
                None,
                Vec::new(),
                vec![h],
            )
        }
        Input::Demo { path, reason } => {
            let h = replay::spawn_file(path.clone(), true, stats.clone(), tx);
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
        Input::LabNet { scenario } => {
            let Some(fw) = &engine.firewall else {
                return Ok(2);
            };
            let run = match crate::vnet::LabRun::new(
                &scenario,
                &fw.ruleset,
                std::process::id() as u64,
                crate::capture::Timestamp::now(),
            ) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("packetlab: {e}");
                    return Ok(2);
                }
            };
            let first = run.summary();
            let (handle, h) = if cli.lab_kernel {
                match start_kernel_lab(&cli, &scenario, &fw.ruleset, stats.clone(), tx) {
                    Ok(k) => k,
                    Err(e) => {
                        eprintln!("packetlab: {e}");
                        return Ok(2);
                    }
                }
            } else {
                crate::capture::lab_net::spawn(run, stats.clone(), tx)
            };
            if let Ok(mut s) = handle.summary.lock() {
                *s = Some(first);
            }
            lab_net = Some(handle);
            (
                SourceKind::LabNet(scenario.name.clone()),
                None,
                crate::vnet::LabRun::interfaces(),
                vec![h],
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
    let is_live = matches!(kind, SourceKind::Live(_));
    let mut app = App::new(engine, kind);
    if lab_net.as_ref().is_some_and(|n| n.kernel) {
        app.kernel = Some(Default::default());
    }
    app.starter_rules = starter;
    app.own_rules = cli.rules.is_some();
    if let Some(fw) = &app.engine.firewall {
        app.firewall.move_by(fw, 0);
    }
    app.analyze_rules();
    app.notice = notice;
    app.no_color = no_color_env() || cli.no_color;
    app.columns = cli.columns.clone();
    for (c, name) in &cli.keymap {
        if let Some((_, a)) = ACTION_NAMES.iter().find(|(n, _)| n == name) {
            app.keymap.insert(*c, *a);
        }
    }
    app.errors.extend(cli.config_warnings.iter().cloned());
    app.lab_capture_hint = if !live::permitted() {
        Some(format!(
            "its packets are captured only with permission: {}",
            crate::launch::grant_hint()
        ))
    } else if matches!(app.source, SourceKind::File(_)) {
        Some("a file is shown, not the lab's loopback traffic: i captures live".into())
    } else {
        None
    };
    let mut world = World {
        stats,
        rx,
        source_open: true,
        writer,
        // Socket owners are only meaningful for traffic of this machine, captured live.
        owners: is_live.then(|| crate::procs::Watcher::start(Duration::from_millis(500))),
        resolver: (!cli.no_resolve).then(crate::names::Resolver::start),
        lab: crate::lab::Lab::new(tokio::runtime::Handle::current()),
        source_handles: handles,
        lab_net,
    };
    world.refresh_lab(&mut app);
    // `--lab NAME`: its scenario runs on the lab network, or (`--lab-loopback`) starts its
    // generators in the lab pane.
    if let Some(sc) = lab_scenario {
        app.start_lab_network(sc);
    } else if let Some(sc) = cli.lab.as_deref().and_then(crate::scenario::find) {
        let fx = app.start_scenario(sc);
        world.carry_out(&mut app, fx);
    }

    let mut terminal = ratatui::init();
    // Mouse: click to focus and select, wheel to scroll. Turned off again before restoring.
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    // On a panic, mouse reporting is turned off too before ratatui's hook restores the rest.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        previous(info);
    }));
    let result = event_loop::run(&mut terminal, &mut app, &mut world, cli.count).await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    // Every generator stops, and its sockets close, before the program ends.
    world.lab.shutdown().await;
    world.stats.stop.store(true, Ordering::Relaxed);
    // Live receivers wake every 50 ms to see `stop`; a file or stdin reader may be blocked in a
    // read that never returns (an idle pipe), so it is left to end with the process.
    if matches!(app.source, SourceKind::Live(_) | SourceKind::LabNet(_)) {
        for h in world.source_handles.drain(..) {
            let _ = h.join();
        }
    }
    result?;
    // The error was on screen, which is gone now: said again where the shell keeps it, and
    // the exit code tells a script the file was not read.
    if let Some(e) = &app.source_error {
        eprintln!("packetlab: {e}");
        return Ok(1);
    }
    Ok(0)
}
