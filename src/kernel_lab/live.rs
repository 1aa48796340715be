//! `--lab-kernel NAME` in the TUI: the kernel lab as a live source. One thread owns the
//! namespaces, the scenario's programs and the comparison; a second, in the switches'
//! namespace, captures. Each packet is held until its window has passed (the kernel's
//! forwarded copy or answer may follow it), then sent to the loop with the simulator's
//! verdict and, where the kernel did otherwise, the disagreement. Rules changed in the
//! firewall pane are loaded into the kernel's nodes too, so both feel the change.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

use super::compare::{Compared, Comparer};
use super::netns::{self, Namespaces};
use super::traffic::{self, Traffic};
use crate::capture::channel::{KernelFrame, SourceMsg, SourceStats};
use crate::capture::lab_net::{LabNetCmd, LabNetHandle};
use crate::capture::{Frame, Timestamp};
use crate::firewall::model::Ruleset;
use crate::firewall::simulator::Enforced;
use crate::vnet::run::{LabRun, LabSummary};

/// How often captured frames are compared and sent on.
const STEP: Duration = Duration::from_millis(20);
/// How often the lab pane's counters are published.
const PUBLISH: Duration = Duration::from_millis(250);
/// A frame captured this long ago is surely out of the capture thread's hands.
const IN_FLIGHT_NS: i64 = 50_000_000;

/// What the kernel lab runs on: made before the terminal is taken, so that an error is
/// printed where it can be read.
pub struct Prepared {
    ns: Namespaces,
    scenario: String,
    rules: Ruleset,
}

/// Makes the namespaces and loads the ruleset (`nft_text`, whose model is `rules`).
pub fn prepare(scenario: &str, nft_text: &str, rules: &Ruleset) -> Result<Prepared, String> {
    super::catch_signals();
    for n in netns::remove_stale() {
        eprintln!("packetlab: removed {n}, left by a run that ended without cleaning up");
    }
    let ns = Namespaces::build()?;
    ns.load_rules(nft_text)?;
    Ok(Prepared {
        ns,
        scenario: scenario.to_string(),
        rules: rules.clone(),
    })
}

/// Starts the capture, the programs and the comparison; `stats.stop` ends them, and the
/// namespaces are removed before the returned thread ends.
pub fn spawn(
    p: Prepared,
    stats: Arc<SourceStats>,
    tx: Sender<SourceMsg>,
) -> Result<(LabNetHandle, JoinHandle<()>), String> {
    let (cmd, rx) = std::sync::mpsc::channel();
    let summary = Arc::new(Mutex::new(None));
    let shared = summary.clone();
    let h = std::thread::Builder::new()
        .name("kernel-lab".into())
        .spawn(move || drive(p, &stats, &tx, &rx, &shared))
        .map_err(|e| format!("starting the kernel lab: {e}"))?;
    Ok((
        LabNetHandle {
            cmd,
            summary,
            kernel: true,
        },
        h,
    ))
}

struct Capture {
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicU64>,
    frames: Receiver<Frame>,
    thread: JoinHandle<Result<(), String>>,
}

fn start_capture(ns: &Namespaces) -> Capture {
    let stop = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicU64::new(0));
    let (ftx, frames) = std::sync::mpsc::channel();
    let sw = ns.name("sw");
    let (s2, l2) = (stop.clone(), lost.clone());
    let thread = std::thread::spawn(move || {
        netns::enter(&sw)?;
        let names: Vec<&str> = crate::vnet::topology::Segment::ALL
            .iter()
            .map(|s| s.iface())
            .collect();
        super::capture::stream(&names, &s2, &l2, &mut |f| {
            let _ = ftx.send(f);
        })
    });
    Capture {
        stop,
        lost,
        frames,
        thread,
    }
}

fn drive(
    p: Prepared,
    stats: &SourceStats,
    tx: &Sender<SourceMsg>,
    rx: &Receiver<LabNetCmd>,
    summary: &Mutex<Option<LabSummary>>,
) {
    let ns = p.ns;
    let _ = tx.blocking_send(SourceMsg::Interfaces(LabRun::interfaces()));
    let cap = start_capture(&ns);
    // The capture is in place before the first packet is sent.
    std::thread::sleep(Duration::from_millis(100));
    let mut scenario = p.scenario;
    let mut traffic: Option<Traffic> = Some(traffic::start(&scenario, &ns));
    let mut cmp = Comparer::new(&p.rules);
    let mut started = Instant::now();
    let mut published = Instant::now() - PUBLISH;
    let ended = || stats.stop.load(Ordering::Relaxed) || super::SIGNALLED.load(Ordering::Relaxed);
    while !ended() {
        loop {
            match rx.try_recv() {
                Ok(LabNetCmd::Rules(rs)) => reload(&ns, &mut cmp, rs, tx),
                Ok(LabNetCmd::Scenario { name, rules }) => {
                    if let Some(t) = traffic.take() {
                        let _ = t.finish();
                    }
                    reload(&ns, &mut cmp, rules, tx);
                    traffic = Some(traffic::start(&name, &ns));
                    scenario = name;
                    started = Instant::now();
                }
                // The kernel's links are not impaired: the comparison follows each packet
                // across the router, and a loss after it would read as the router's drop.
                Ok(LabNetCmd::Link(_) | LabNetCmd::Restart(_)) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        while let Ok(f) = cap.frames.try_recv() {
            cmp.push(f);
        }
        cmp.agreement.capture_lost = cap.lost.load(Ordering::Relaxed);
        let ready = cmp.ready(Timestamp::now().0 - IN_FLIGHT_NS);
        if !ready.is_empty() && !send(tx, stats, ready, &cmp, &ended) {
            break;
        }
        if published.elapsed() >= PUBLISH {
            published = Instant::now();
            if let Ok(mut s) = summary.lock() {
                *s = Some(LabSummary {
                    scenario: scenario.clone(),
                    seconds: started.elapsed().as_secs_f64(),
                    apps: traffic.as_ref().map(|t| t.reports()).unwrap_or_default(),
                    router: cmp.router(),
                    kernel: Some(cmp.agreement.clone()),
                    ..LabSummary::default()
                });
            }
        }
        std::thread::sleep(STEP);
    }
    if let Some(t) = traffic.take() {
        let _ = t.finish();
    }
    cap.stop.store(true, Ordering::Relaxed);
    if let Ok(Err(e)) = cap.thread.join() {
        let _ = tx.try_send(SourceMsg::Error(format!(
            "capture in the lab's switches: {e}"
        )));
    }
    // The namespaces go here, before the thread ends: the loop waits for it.
    drop(ns);
}

/// Loads the changed rules into the kernel's nodes and tells the comparison when.
fn reload(ns: &Namespaces, cmp: &mut Comparer, rs: Ruleset, tx: &Sender<SourceMsg>) {
    let text = crate::firewall::save::to_nft(&rs);
    match ns.replace_rules(&text) {
        Ok((began, done)) => cmp.rules_changed(began, done, rs),
        Err(e) => {
            let _ = tx.try_send(SourceMsg::Error(format!(
                "the kernel's nodes kept their rules: {e}"
            )));
        }
    }
}

/// Sends compared frames to the loop; false when the loop is gone.
fn send(
    tx: &Sender<SourceMsg>,
    stats: &SourceStats,
    ready: Vec<Compared>,
    cmp: &Comparer,
    ended: &dyn Fn() -> bool,
) -> bool {
    if stats.paused.load(Ordering::Relaxed) {
        stats
            .paused_skipped
            .fetch_add(ready.len() as u64, Ordering::Relaxed);
        return true;
    }
    let frames = ready
        .into_iter()
        .map(|c| KernelFrame {
            enforced: c.judged.map(|j| Enforced {
                judgement: j.judgement,
                hits: j.hits,
            }),
            differs: c.why,
            frame: c.frame,
        })
        .collect();
    let mut msg = SourceMsg::Kernel {
        frames,
        tally: cmp.agreement.tally(),
    };
    // Never blocked for good: at the end the loop stops reading, and this thread must still
    // remove the namespaces.
    loop {
        match tx.try_send(msg) {
            Ok(()) => return true,
            Err(TrySendError::Closed(_)) => return false,
            Err(TrySendError::Full(m)) => {
                if ended() {
                    return false;
                }
                msg = m;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
