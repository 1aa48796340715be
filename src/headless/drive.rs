//! The headless loops: a capture file (or stdin) or live interfaces through the engine, printed
//! as packets, sessions, statistics, rules or a followed stream.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::mpsc;

use super::print::{self, PacketPrinter};
use crate::capture::channel::{self, SourceMsg, SourceStats};
use crate::capture::file::CaptureReader;
use crate::capture::live;
use crate::capture::write::PcapngWriter;
use crate::capture::FrameRef;
use crate::capture::Interface;
use crate::cli::{Cli, Format, PrintWhat};
use crate::engine::{Engine, Seen};
use crate::filter::{DisplayFilter, FilterPacket};
use crate::firewall::simulator::Enforced;
use crate::launch::{load_firewall, EXIT_NOT_PERMITTED};

/// How often live printing looks for a new socket-owner scan when no frames arrive.
const OWNER_TICK: std::time::Duration = std::time::Duration::from_millis(100);

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

pub fn print_file(cli: &Cli, path: &Path) -> Result<i32> {
    let reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(1);
        }
    };
    let streaming = path.as_os_str() == "-";
    let engine = Engine::with_limits(1, cli.max_sessions);
    print_frames(cli, &mut FileFrames(reader), engine, streaming)
}

/// A source of frames for the headless loop: a capture file, or the lab network.
pub trait Frames {
    /// The next frame, the interfaces known so far, and (for the lab network) the verdict
    /// the frame got where it happened.
    fn next(&mut self) -> std::result::Result<Option<Next<'_>>, String>;
    /// What the lab counted, when the frames are the lab's.
    fn lab_summary(&self) -> Option<crate::vnet::run::LabSummary> {
        None
    }
}

pub struct Next<'a> {
    pub frame: FrameRef<'a>,
    pub ifaces: &'a [Interface],
    pub given: Option<Option<&'a Enforced>>,
}

/// A frame of an enforced source (the lab network, the kernel lab): the front of `queue`,
/// moved to `current`, where the frame it lends lives until the next call.
pub fn next_enforced<'a>(
    queue: &mut std::collections::VecDeque<(crate::capture::Frame, Option<Enforced>)>,
    current: &'a mut Option<(crate::capture::Frame, Option<Enforced>)>,
    ifaces: &'a [Interface],
) -> Option<Next<'a>> {
    *current = queue.pop_front();
    let (f, e) = current.as_ref()?;
    Some(Next {
        frame: f.as_ref(),
        ifaces,
        given: Some(e.as_ref()),
    })
}

struct FileFrames(CaptureReader);

impl Frames for FileFrames {
    fn next(&mut self) -> std::result::Result<Option<Next<'_>>, String> {
        match self.0.next_frame_with_interfaces() {
            Ok(Some((frame, ifaces))) => Ok(Some(Next {
                frame,
                ifaces,
                given: None,
            })),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The headless loop over any source: decode, account, judge (or take the given verdict),
/// filter, print; then the end-of-input views.
pub fn print_frames(
    cli: &Cli,
    src: &mut dyn Frames,
    mut engine: Engine,
    streaming: bool,
) -> Result<i32> {
    let Ok(filter) = display_filter(cli) else {
        return Ok(2);
    };
    let stdout = io::stdout();
    let json = cli.format == Format::Json;
    let mut printer = PacketPrinter::new(BufWriter::with_capacity(1 << 16, stdout.lock()), json);
    let per_packet = cli.print == Some(PrintWhat::Packets);
    let mut follower: Option<crate::follow::Follower> = None;
    if cli.print == Some(PrintWhat::Follow) && cli.session.is_none() {
        eprintln!("packetlab: --print follow needs --session N (the id --print sessions shows)");
        return Ok(2);
    }
    let mut stats = Stats::default();
    let mut writer = match &cli.write {
        Some(p) => Some(open_writer(p, Vec::new())?),
        None => None,
    };
    if engine.firewall.is_none() {
        match load_firewall(cli, &[]) {
            Ok(fw) => engine.firewall = fw,
            Err(e) => {
                eprintln!("packetlab: {e}");
                return Ok(2);
            }
        }
    }
    let limit = cli.count.unwrap_or(u64::MAX);
    let mut code = 0;
    while engine.packets < limit {
        let Next {
            frame: f,
            ifaces,
            given,
        } = match src.next() {
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
        let s = match given {
            None => engine.summarize(&f),
            Some(e) => engine.summarize_enforced(&f, e),
        };
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
    let lab = src.lab_summary();
    match cli.print {
        Some(PrintWhat::Stats) => stats.print(&engine, json, lab.as_ref())?,
        Some(PrintWhat::Rules) => {
            if let Some(fw) = &engine.firewall {
                print::print_rules(&mut io::stdout().lock(), fw, json)?;
            }
        }
        Some(PrintWhat::Follow) => {
            let mut out = BufWriter::new(io::stdout().lock());
            match &follower {
                Some(fo) => print::print_follow(&mut out, fo, json)?,
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
            match print::print_sessions(&mut out, &engine.sessions, json).and_then(|_| out.flush())
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
    if let (Some(l), false) = (&lab, cli.print == Some(PrintWhat::Stats)) {
        for line in l.lines() {
            eprintln!("{line}");
        }
    }
    // The process ends right after: freeing a full session table (100,000 sessions) one by one
    // costs 5–7 % of a run (BENCHMARKS.md) for nothing.
    std::mem::forget(engine);
    match printer.flush() {
        Err(e) if !is_broken_pipe(&e) => Err(e.into()),
        _ => Ok(code),
    }
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

    fn print(
        &self,
        e: &Engine,
        json: bool,
        lab: Option<&crate::vnet::run::LabSummary>,
    ) -> io::Result<()> {
        let mut out = io::stdout().lock();
        let by_proto: std::collections::BTreeMap<&str, u64> = crate::decode::Proto::ALL
            .iter()
            .filter(|p| self.by_proto[**p as usize & 31] > 0)
            .map(|p| (p.name(), self.by_proto[*p as usize & 31]))
            .collect();
        if json {
            let mut v = serde_json::json!({
                "packets": e.packets, "bytes": e.bytes, "malformed": e.malformed,
                "protocols": by_proto,
            });
            if let Some(l) = lab {
                v["lab"] = serde_json::to_value(l).unwrap_or_default();
                if let Some(fw) = &e.firewall {
                    v["verdicts"] = serde_json::json!({
                        "accept": fw.verdicts[0], "drop": fw.verdicts[1], "reject": fw.verdicts[2],
                    });
                }
            }
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
        if let Some(l) = lab {
            for line in l.lines() {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}

/// `--print packets -i IFACE`: live until `-c` packets or Ctrl-C.
pub fn print_live(cli: &Cli, names: &[String]) -> Result<i32> {
    let Ok(filter) = display_filter(cli) else {
        return Ok(2);
    };
    let stats = Arc::new(SourceStats::default());
    let (tx, mut rx) = mpsc::channel(channel::CHANNEL_BATCHES);
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
        // Checked here, not only when a frame comes: after the Nth packet the interfaces may
        // stay quiet for as long as they like.
        if engine.packets >= limit {
            break;
        }
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
                    if engine.packets >= limit {
                        break;
                    }
                }
                let _ = printer.flush();
                if let Some(o) = &scan {
                    engine.sessions.attribute(|p, ep| o.owner(p, ep).cloned());
                }
            }
            Some(SourceMsg::Error(e)) => eprintln!("packetlab: {e}"),
            Some(SourceMsg::Interfaces(_) | SourceMsg::Enforced(_) | SourceMsg::Kernel { .. }) => {}
            Some(SourceMsg::Done) => break,
        }
        if stats.stop.load(std::sync::atomic::Ordering::Relaxed) && rx.is_empty() {
            break;
        }
    }
    live::stop_all(&stats);
    drop(rx);
    join_for_a_while(handles, std::time::Duration::from_secs(2));
    if let Some(mut w) = writer {
        w.flush()?;
    }
    if let (Some(PrintWhat::Rules), Some(fw)) = (cli.print, &engine.firewall) {
        print::print_rules(&mut io::stdout().lock(), fw, cli.format == Format::Json)?;
    }
    if cli.print == Some(PrintWhat::Sessions) {
        let o = crate::procs::scan();
        engine.sessions.attribute(|p, ep| o.owner(p, ep).cloned());
        engine.sessions.age();
        print::print_sessions(
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

/// Waits for the capture threads to see `stop` (they poll it every 50 ms, so they flush their
/// last batch and kernel drop counts), but no longer than `max`: a thread stuck in the kernel
/// must not hold the exit, the process's end closes its socket.
fn join_for_a_while(handles: Vec<std::thread::JoinHandle<()>>, max: std::time::Duration) {
    let until = std::time::Instant::now() + max;
    for h in handles {
        while !h.is_finished() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if h.is_finished() {
            let _ = h.join();
        }
    }
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
