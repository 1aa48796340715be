//! `--lab-kernel NAME` (root): the lab network's topology as network namespaces with the
//! kernel's own stacks, the ruleset loaded into each with nft, the scenario's programs on
//! real sockets; packetlab captures the two switches (the bridges `lab-lan0`, `lab-wan0`) and
//! shows each packet the kernel's router received with the simulator's verdict beside what
//! the kernel did, and the agreement.
//!
//! Side effects live here: namespaces and veths (`netns.rs`, made inside the new
//! namespaces, removed on exit, on Ctrl-C, and at the next start after a crash), threads in
//! the namespaces (`traffic.rs`), the capture. The comparison is `compare.rs`.

pub mod capture;
pub mod compare;
pub mod counters;
pub mod live;
pub mod netns;
pub mod traffic;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::Result;

use crate::capture::{Frame, Interface};
use crate::cli::Cli;
use crate::engine::Engine;
use crate::firewall::simulator::Enforced;
use crate::headless::drive::{next_enforced, print_frames, Frames, Next};
use crate::scenario::Scenario;
use crate::vnet::run::LabSummary;

/// The nft text the nodes load: the `--rules` file, or the scenario's.
pub fn nft_text(cli: &Cli, sc: &Scenario) -> std::result::Result<String, String> {
    match &cli.rules {
        Some(p) => {
            let t = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if crate::firewall::iptables::looks_like(&t) {
                return Err(format!(
                    "{}: --lab-kernel loads nft rulesets (this one is iptables-save)",
                    p.display()
                ));
            }
            Ok(t)
        }
        None => sc
            .rules
            .as_ref()
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| format!("lab scenario {} has no ruleset", sc.name)),
    }
}

struct Captured {
    frames: VecDeque<(Frame, Option<Enforced>)>,
    current: Option<(Frame, Option<Enforced>)>,
    ifaces: Vec<Interface>,
    summary: LabSummary,
}

impl Frames for Captured {
    fn next(&mut self) -> std::result::Result<Option<Next<'_>>, String> {
        Ok(next_enforced(
            &mut self.frames,
            &mut self.current,
            &self.ifaces,
        ))
    }

    fn lab_summary(&self) -> Option<LabSummary> {
        Some(self.summary.clone())
    }
}

/// One reading of every node's rule counters: each with when it began and ended (the
/// capture's clock), `None` where it could not be read (said, and not compared).
type Readings = Vec<(&'static str, Option<counters::Snapshot>, i64, i64)>;

fn node_counters(ns: &netns::Namespaces) -> Readings {
    ["gw", "alice", "bob", "server", "resolver"]
        .into_iter()
        .map(|n| {
            let began = crate::capture::Timestamp::now().0;
            let s = counters::read(&ns.name(n))
                .map_err(|e| eprintln!("packetlab: {e}"))
                .ok();
            (n, s, began, crate::capture::Timestamp::now().0)
        })
        .collect()
}

/// Set by SIGINT or SIGTERM: the run stops and removes its namespaces.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// Whether SIGINT or SIGTERM came (only caught once a kernel lab has started).
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::Relaxed)
}

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::Relaxed);
}

/// Installs the handler before anything is made, so that no signal can end the run between
/// making a namespace and removing it.
fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe); the sigaction
        // struct is fully initialised (zeroed, then the handler set) before the call.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn print_kernel(cli: &Cli, sc: &Scenario) -> Result<i32> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("packetlab: --lab-kernel makes network namespaces: it needs root");
        return Ok(2);
    }
    catch_signals();
    for n in netns::remove_stale() {
        eprintln!("packetlab: removed {n}, left by a run that ended without cleaning up");
    }
    let (fw, text) = match (crate::launch::lab_firewall(cli, sc), nft_text(cli, sc)) {
        (Ok(fw), Ok(t)) => (fw, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("packetlab: {e}");
            return Ok(2);
        }
    };
    let ns = match netns::Namespaces::build().and_then(|ns| ns.load_rules(&text).map(|_| ns)) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(1);
        }
    };
    let sw = ns.name("sw");
    let cap_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = cap_stop.clone();
    let capture = std::thread::spawn(move || -> std::result::Result<(Vec<Frame>, u64), String> {
        netns::enter(&sw)?;
        let names: Vec<&str> = crate::vnet::topology::Segment::ALL
            .iter()
            .map(|s| s.iface())
            .collect();
        capture::run(&names, stop2)
    });
    std::thread::sleep(Duration::from_millis(200));
    // The kernel's counters from here on are compared (what the nodes said at link-up,
    // before the capture, is not).
    let base = node_counters(&ns);
    let traffic = traffic::start(&sc.name, &ns);
    let until = Instant::now() + Duration::from_secs_f64(cli.lab_seconds.clamp(0.5, 3600.0));
    while Instant::now() < until && !SIGNALLED.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let reports = traffic.finish();
    // What is still in flight comes in before the capture stops.
    std::thread::sleep(Duration::from_millis(300));
    let end = node_counters(&ns);
    cap_stop.store(true, Ordering::Relaxed);
    let (mut frames, lost) = match capture.join() {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            eprintln!("packetlab: capture in the lab's switches: {e}");
            return Ok(1);
        }
        Err(_) => return Ok(1),
    };
    let limit = cli.count.unwrap_or(u64::MAX) as usize;
    drop(ns);
    let whole = frames.len() <= limit;
    frames.truncate(limit);
    let mut cmp = compare::Comparer::new(&fw.ruleset);
    let marks: Vec<(usize, usize)> = base
        .iter()
        .zip(&end)
        .map(|(b, e)| {
            (
                cmp.counters_read(b.0, b.2, b.3),
                cmp.counters_read(e.0, e.2, e.3),
            )
        })
        .collect();
    for f in frames {
        cmp.push(f);
    }
    let compared = cmp.ready(i64::MAX);
    // Counters count the whole run: with -c cutting it short they are not compared.
    let mut rule_counts = Vec::new();
    let mut unsettled = Vec::new();
    if whole {
        for (((node, b, ..), (_, e, ..)), (mb, me)) in base.iter().zip(&end).zip(marks) {
            let (Some(b), Some(e)) = (b, e) else {
                continue;
            };
            let Some(sim) = cmp.counted_between(mb, me) else {
                unsettled.push(node.to_string());
                continue;
            };
            let counted = counters::compare(node, &fw.ruleset, true, b, e, &|id| {
                sim.get(&id).copied().unwrap_or(0)
            });
            rule_counts.extend(counted);
        }
    }
    let mut agreement = cmp.agreement;
    agreement.capture_lost = lost;
    agreement.counters = rule_counts;
    agreement.counters_unsettled = unsettled;
    let summary = LabSummary {
        scenario: sc.name.clone(),
        seconds: cli.lab_seconds,
        apps: reports,
        kernel: Some(agreement.clone()),
        ..LabSummary::default()
    };
    let mut engine = Engine::with_limits(1, cli.max_sessions);
    engine.enforced = true;
    engine.firewall = Some(fw);
    let mut src = Captured {
        frames: compared
            .into_iter()
            .map(|c| {
                let e = c.judged.map(|j| Enforced {
                    judgement: j.judgement,
                    hits: j.hits,
                });
                (c.frame, e)
            })
            .collect(),
        current: None,
        ifaces: crate::vnet::LabRun::interfaces(),
        summary,
    };
    let code = print_frames(cli, &mut src, engine, false)?;
    let counted_alike = agreement.counters.iter().all(|c| c.kernel == c.simulated);
    let ok = agreement.compared == agreement.agree && lost == 0 && counted_alike;
    Ok(if ok { code } else { code.max(3) })
}
