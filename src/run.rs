//! From parsed flags to a running program: which source, headless or TUI, and the exit code.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::mpsc;

use crate::capture::file::CaptureReader;
use crate::capture::live;
use crate::capture::write::PcapngWriter;
use crate::capture::FrameRef;
use crate::capture::Interface;
use crate::cli::{Cli, Format, PrintWhat};
use crate::engine::{Engine, Seen};
use crate::filter::{DisplayFilter, FilterPacket};
use crate::headless::PacketPrinter;
use crate::source::{self, SourceMsg, SourceStats};

/// Exit code when live capture was asked for and is not permitted.
pub const EXIT_NOT_PERMITTED: i32 = 2;

/// How often live printing looks for a new socket-owner scan when no frames arrive.
const OWNER_TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// What feeds the engine, decided from the flags and what the machine permits.
pub enum Input {
    File {
        path: PathBuf,
        pace: bool,
    },
    Live {
        interfaces: Vec<String>,
    },
    /// The bundled demo capture, because live capture is not permitted (`reason` says why).
    Demo {
        path: PathBuf,
        reason: Option<String>,
    },
    /// No packets at all: the lab runs without capture (`reason` says why).
    Nothing {
        reason: String,
    },
}

/// Where the bundled demo capture is: next to the binary's crate in a checkout, or installed.
pub fn demo_path() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng");
    if here.exists() {
        return here;
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("assets/demo.pcapng")))
        .filter(|p| p.exists())
        .unwrap_or(here)
}

pub fn grant_hint() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "target/release/packetlab".into());
    format!("sudo setcap cap_net_raw,cap_net_admin=eip {exe}  (or run with sudo)")
}

pub fn run(cli: Cli) -> Result<i32> {
    if let Some(shell) = cli.completions {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "packetlab", &mut io::stdout());
        return Ok(0);
    }
    if cli.man {
        let cmd = <Cli as clap::CommandFactory>::command();
        clap_mangen::Man::new(cmd).render(&mut io::stdout())?;
        return Ok(0);
    }
    if cli.list_interfaces {
        for (n, i) in live::interfaces().iter().enumerate() {
            let addrs: Vec<String> = i.ips.iter().map(|a| a.to_string()).collect();
            println!(
                "{}. {} [{}] {}",
                n + 1,
                i.name,
                if i.is_up() { "up" } else { "down" },
                addrs.join(" ")
            );
        }
        return Ok(0);
    }
    if cli.check {
        return check_rules(&cli);
    }
    if let Some(out) = &cli.save {
        return save_rules(&cli, out);
    }
    if let Some(name) = &cli.lab {
        if name == "list" {
            for s in crate::scenario::all() {
                println!("{:<22} {}", s.name, s.title);
            }
            return Ok(0);
        }
        if crate::scenario::find(name).is_none() {
            eprintln!("packetlab: no lab scenario {name:?} (packetlab --lab list shows them)");
            return Ok(2);
        }
    }
    let input = choose_input(&cli);
    if cli.print == Some(PrintWhat::Rules) && cli.rules.is_none() {
        eprintln!("packetlab: --print rules needs --rules FILE");
        return Ok(2);
    }
    if let Some(what) = cli.print {
        return match (what, input) {
            (_, Input::File { path, .. }) => print_file(&cli, &path),
            (_, Input::Live { interfaces }) => print_live(&cli, &interfaces),
            (_, Input::Nothing { reason }) => {
                eprintln!("packetlab: {reason}");
                Ok(EXIT_NOT_PERMITTED)
            }
            (_, Input::Demo { reason, .. }) => {
                eprintln!(
                    "packetlab: {}",
                    reason.unwrap_or_else(|| "live capture is not permitted".into())
                );
                Ok(EXIT_NOT_PERMITTED)
            }
        };
    }
    crate::app::run_tui(cli, input)
}

fn choose_input(cli: &Cli) -> Input {
    if cli.lab.is_some() && cli.read.is_none() && cli.interfaces.is_empty() {
        // The lab's traffic is on loopback: capture there when permitted.
        return if live::permitted() {
            Input::Live {
                interfaces: vec!["lo".into()],
            }
        } else {
            Input::Nothing {
                reason: format!(
                    "live capture is not permitted, so the lab shows its sockets' counters only; \
                     to see its packets and sessions too: {}",
                    grant_hint()
                ),
            }
        };
    }
    if let Some(path) = &cli.read {
        return Input::File {
            path: path.clone(),
            pace: cli.pace,
        };
    }
    if cli.demo {
        return Input::Demo {
            path: demo_path(),
            reason: None,
        };
    }
    if !cli.interfaces.is_empty() {
        return Input::Live {
            interfaces: cli.interfaces.clone(),
        };
    }
    match live::default_interface() {
        Some(i) if live::permitted() => Input::Live {
            interfaces: vec![i],
        },
        _ => Input::Demo {
            path: demo_path(),
            reason: Some(format!(
                "live capture is not permitted for this user. Enable it: {}",
                grant_hint()
            )),
        },
    }
}

fn open_writer(path: &Path, ifaces: Vec<Interface>) -> Result<PcapngWriter<BufWriter<File>>> {
    let f = File::create(path).wrap_err_with(|| format!("cannot write {}", path.display()))?;
    Ok(PcapngWriter::new(BufWriter::new(f), ifaces)?)
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// `--print packets -r FILE`: the hot path, no threads and no allocation per packet.
/// The `-Y` filter, compiled; `Err` (already reported) when it does not parse.
fn display_filter(cli: &Cli) -> std::result::Result<Option<DisplayFilter>, ()> {
    match cli.filter.as_deref().map(DisplayFilter::parse).transpose() {
        Ok(f) => Ok(f.filter(|f| !f.is_empty())),
        Err(e) => {
            eprintln!("packetlab: -Y: {e}");
            Err(())
        }
    }
}

/// Whether `-Y` keeps this packet (no filter keeps all).
fn keeps(filter: Option<&DisplayFilter>, f: &FrameRef<'_>, seen: &Seen) -> bool {
    filter.is_none_or(|flt| {
        flt.matches(&FilterPacket {
            summary: &seen.summary,
            data: f.data,
            len: f.orig_len,
            verdict: seen.judgement.as_ref().map(|j| j.verdict),
            session: seen.session.as_ref().map(|o| o.session),
        })
    })
}

fn print_file(cli: &Cli, path: &Path) -> Result<i32> {
    let Ok(filter) = display_filter(cli) else {
        return Ok(2);
    };
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(1);
        }
    };
    let stdout = io::stdout();
    let json = cli.format == Format::Json;
    let mut printer = PacketPrinter::new(BufWriter::with_capacity(1 << 16, stdout.lock()), json);
    let per_packet = cli.print == Some(PrintWhat::Packets);
    let streaming = path.as_os_str() == "-";
    let mut follower: Option<crate::follow::Follower> = None;
    if cli.print == Some(PrintWhat::Follow) && cli.session.is_none() {
        eprintln!("packetlab: --print follow needs --session N (the id --print sessions shows)");
        return Ok(2);
    }
    let mut stats = Stats::default();
    let mut writer = match &cli.write {
        Some(p) => Some(open_writer(p, reader.interfaces().to_vec())?),
        None => None,
    };
    let mut engine = Engine::with_limits(1, cli.max_sessions);
    match load_firewall(cli, &[]) {
        Ok(fw) => engine.firewall = fw,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(2);
        }
    }
    let limit = cli.count.unwrap_or(u64::MAX);
    let mut code = 0;
    while engine.packets < limit {
        let (f, ifaces) = match reader.next_frame_with_interfaces() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                eprintln!("packetlab: {e}");
                code = 1;
                break;
            }
        };
        if ifaces.len() != engine.iface_names.len() {
            engine.iface_names = ifaces.iter().map(|i| i.name.clone()).collect();
        }
        let s = engine.summarize(&f);
        if let Some(w) = writer.as_mut() {
            w.learn_interfaces(ifaces);
            w.write(&f)?;
        }
        if let (Some(want), Some(o)) = (cli.session, s.session) {
            if o.session == want && cli.print == Some(PrintWhat::Follow) {
                let fo = follower.get_or_insert_with(|| {
                    crate::follow::Follower::new(engine.sessions.get(want).expect("just seen"))
                });
                fo.add(engine.packets, &s.summary, f.data);
            }
        }
        if !per_packet {
            stats.add(&s.summary);
            continue;
        }
        if !keeps(filter.as_ref(), &f, &s) {
            printer.skip(&f);
            continue;
        }
        // A stream (stdin) is printed as it arrives, not when a buffer fills.
        let r = printer
            .print(engine.packets, &f, &s, engine.firewall.as_ref())
            .and_then(|_| if streaming { printer.flush() } else { Ok(()) });
        if let Err(e) = r {
            if is_broken_pipe(&e) {
                return Ok(0);
            }
            return Err(e.into());
        }
    }
    match cli.print {
        Some(PrintWhat::Stats) => stats.print(&engine, json)?,
        Some(PrintWhat::Rules) => {
            if let Some(fw) = &engine.firewall {
                crate::headless::print_rules(&mut io::stdout().lock(), fw, json)?;
            }
        }
        Some(PrintWhat::Follow) => {
            let mut out = BufWriter::new(io::stdout().lock());
            match &follower {
                Some(fo) => crate::headless::print_follow(&mut out, fo, json)?,
                None => {
                    eprintln!(
                        "packetlab: no session {} in this capture",
                        cli.session.unwrap_or(0)
                    );
                    code = code.max(1);
                }
            }
            out.flush()?;
        }
        Some(PrintWhat::Sessions) => {
            engine.sessions.age();
            let mut out = BufWriter::new(io::stdout().lock());
            match crate::headless::print_sessions(&mut out, &engine.sessions, json)
                .and_then(|_| out.flush())
            {
                Err(e) if !is_broken_pipe(&e) => return Err(e.into()),
                _ => {}
            }
        }
        _ => {}
    }
    if let Some(mut w) = writer {
        w.flush()?;
    }
    // The process ends right after: freeing a full session table (100,000 sessions) one by one
    // costs 5–7 % of a run (BENCHMARKS.md) for nothing.
    std::mem::forget(engine);
    match printer.flush() {
        Err(e) if !is_broken_pipe(&e) => Err(e.into()),
        _ => Ok(code),
    }
}

/// `--rules FILE --check`: what packetlab cannot simulate (`FILE:LINE:COL: unsupported: …`,
/// exit 1), the analysis' warnings, the approximate and shown-only parts (exit 0 with only
/// those), exit 2 when the file cannot be read or parsed.
fn check_rules(cli: &Cli) -> Result<i32> {
    let Some(fw) = firewall_or_say_why(cli) else {
        return Ok(2);
    };
    for line in crate::firewall::report::check_lines(&fw) {
        println!("{line}");
    }
    let unsupported = fw.unsupported().len();
    Ok(if unsupported > 0 { 1 } else { 0 })
}

/// The `--rules` firewall, or `None` once the reason (`FILE:LINE:COL: …`) is printed.
fn firewall_or_say_why(cli: &Cli) -> Option<crate::firewall::Firewall> {
    match load_firewall(cli, &[]) {
        Ok(fw) => fw,
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// `--rules FILE --save OUT`: the ruleset as nft syntax.
fn save_rules(cli: &Cli, out: &Path) -> Result<i32> {
    let Some(fw) = firewall_or_say_why(cli) else {
        return Ok(2);
    };
    let text = crate::firewall::save::to_nft(&fw.ruleset);
    if let Err(e) = std::fs::write(out, text) {
        eprintln!("{}: {e}", out.display());
        return Ok(2);
    }
    Ok(0)
}

/// The firewall of `--rules`, with the host's addresses from `--local` (and `live` interfaces').
pub fn load_firewall(
    cli: &Cli,
    live: &[String],
) -> Result<Option<crate::firewall::Firewall>, String> {
    let Some(path) = &cli.rules else {
        return Ok(None);
    };
    let mut locality = crate::firewall::Locality::from_args(&cli.locals)?;
    locality.iface = cli.iface.clone();
    for i in live::interfaces().iter().filter(|i| live.contains(&i.name)) {
        locality.nets.extend(
            i.ips
                .iter()
                .map(|n| (n.ip(), if n.is_ipv4() { 32 } else { 128 })),
        );
    }
    crate::firewall::Firewall::load(path, locality).map(Some)
}

/// `--print stats`: packets per top protocol, with the engine's totals.
#[derive(Default)]
struct Stats {
    /// Packets per `Proto`, indexed by its discriminant: an array add per packet, no lookup.
    by_proto: [u64; 32],
}

impl Stats {
    fn add(&mut self, s: &crate::decode::Summary) {
        self.by_proto[s.proto as usize & 31] += 1;
    }

    fn print(&self, e: &Engine, json: bool) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let by_proto: std::collections::BTreeMap<&str, u64> = crate::decode::Proto::ALL
            .iter()
            .filter(|p| self.by_proto[**p as usize & 31] > 0)
            .map(|p| (p.name(), self.by_proto[*p as usize & 31]))
            .collect();
        if json {
            let v = serde_json::json!({
                "packets": e.packets, "bytes": e.bytes, "malformed": e.malformed,
                "protocols": by_proto,
            });
            return writeln!(out, "{v}");
        }
        writeln!(
            out,
            "packets   {}\nbytes     {}\nmalformed {}",
            e.packets, e.bytes, e.malformed
        )?;
        for (p, n) in &by_proto {
            writeln!(out, "  {p:<10} {n}")?;
        }
        Ok(())
    }
}

/// `--print packets -i IFACE`: live until `-c` packets or Ctrl-C.
fn print_live(cli: &Cli, names: &[String]) -> Result<i32> {
    let Ok(filter) = display_filter(cli) else {
        return Ok(2);
    };
    let stats = Arc::new(SourceStats::default());
    let (tx, mut rx) = mpsc::channel(source::CHANNEL_BATCHES);
    let (ifaces, handles) = match live::start(names, stats.clone(), tx) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(if e.is_permission() {
                EXIT_NOT_PERMITTED
            } else {
                1
            });
        }
    };
    {
        let stats = stats.clone();
        ctrlc_stop(stats);
    }
    eprintln!("packetlab: capturing on {}", names.join(", "));
    let stdout = io::stdout();
    let mut printer = PacketPrinter::new(stdout.lock(), cli.format == Format::Json);
    let mut engine = Engine::with_limits(1, cli.max_sessions);
    engine.iface_names = ifaces.iter().map(|i| i.name.clone()).collect();
    match load_firewall(cli, names) {
        Ok(fw) => engine.firewall = fw,
        Err(e) => {
            eprintln!("packetlab: {e}");
            live::stop_all(&stats);
            return Ok(2);
        }
    }
    let mut writer = match &cli.write {
        Some(p) => Some(open_writer(p, ifaces)?),
        None => None,
    };
    let per_packet = cli.print == Some(PrintWhat::Packets);
    let owners = crate::procs::Watcher::start(std::time::Duration::from_millis(200));
    let limit = cli.count.unwrap_or(u64::MAX);
    // The loop also wakes without frames, so a socket-owner scan is applied while the interface
    // is quiet: the sockets it saw may be gone by the next frame (or by Ctrl-C).
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    'outer: loop {
        let next = timer.block_on(async { tokio::time::timeout(OWNER_TICK, rx.recv()).await });
        let msg = match next {
            Ok(Some(msg)) => Some(msg),
            Ok(None) => break,
            Err(_) => None,
        };
        // A new scan is applied before the frames, so it names a session even when this batch
        // closes it (closed sessions are not attributed: their ports may be reused), and again
        // after them, for sessions this batch opens.
        let scan = owners.take();
        if let Some(o) = &scan {
            engine.sessions.attribute(|p, ep| o.owner(p, ep).cloned());
        }
        match msg {
            None => {}
            Some(SourceMsg::Frames(frames)) => {
                for f in &frames {
                    if engine.packets >= limit {
                        break 'outer;
                    }
                    let f = f.as_ref();
                    let s = engine.summarize(&f);
                    if let Some(w) = writer.as_mut() {
                        w.write(&f)?;
                    }
                    if !per_packet {
                        continue;
                    }
                    if !keeps(filter.as_ref(), &f, &s) {
                        printer.skip(&f);
                        continue;
                    }
                    match printer.print(engine.packets, &f, &s, engine.firewall.as_ref()) {
                        Err(e) if is_broken_pipe(&e) => break 'outer,
                        r => r?,
                    }
                }
                let _ = printer.flush();
                if let Some(o) = &scan {
                    engine.sessions.attribute(|p, ep| o.owner(p, ep).cloned());
                }
            }
            Some(SourceMsg::Error(e)) => eprintln!("packetlab: {e}"),
            Some(SourceMsg::Interfaces(_)) => {}
            Some(SourceMsg::Done) => break,
        }
        if stats.stop.load(std::sync::atomic::Ordering::Relaxed) && rx.is_empty() {
            break;
        }
    }
    live::stop_all(&stats);
    drop(rx);
    for h in handles {
        let _ = h.join();
    }
    if let Some(mut w) = writer {
        w.flush()?;
    }
    if let (Some(PrintWhat::Rules), Some(fw)) = (cli.print, &engine.firewall) {
        crate::headless::print_rules(&mut io::stdout().lock(), fw, cli.format == Format::Json)?;
    }
    if cli.print == Some(PrintWhat::Sessions) {
        let o = crate::procs::scan();
        engine.sessions.attribute(|p, ep| o.owner(p, ep).cloned());
        engine.sessions.age();
        crate::headless::print_sessions(
            &mut io::stdout().lock(),
            &engine.sessions,
            cli.format == Format::Json,
        )?;
    }
    let (ch, k) = stats.drops();
    eprintln!(
        "packetlab: {} packets captured, {ch} dropped (channel full), {k} dropped by the kernel",
        engine.packets
    );
    let _ = io::stdout().flush();
    Ok(0)
}

/// Ctrl-C (SIGINT) and SIGTERM stop live capture cleanly so the summary and `-w` file are complete.
fn ctrlc_stop(stats: Arc<SourceStats>) {
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(_) => return,
        };
        rt.block_on(async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return,
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            live::stop_all(&stats);
        });
    });
}
