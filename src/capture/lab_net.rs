//! The lab network as a live source: a thread that runs it in step with the clock and sends
//! its frames, with their enforced verdicts, down the channel; it takes the rules and the WAN
//! link's settings as they change, and publishes the lab's counters for the lab pane.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender as CmdSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::channel::{SourceMsg, SourceStats};
use crate::firewall::model::Ruleset;
use crate::lab::LinkConfig;
use crate::vnet::run::{LabRun, LabSummary};

/// How often the network is advanced to the clock (and its frames sent).
const STEP: Duration = Duration::from_millis(5);
/// How often the counters are published.
const PUBLISH: Duration = Duration::from_millis(250);

pub enum LabNetCmd {
    /// The ruleset changed (a toggle, an edit, a load): the nodes enforce this one now.
    Rules(Ruleset),
    Link(LinkConfig),
    /// Another scenario: a new network, from the start.
    Restart(Box<LabRun>),
    /// Another scenario in the kernel lab: its programs in the same namespaces, its rules
    /// loaded there.
    Scenario {
        name: String,
        rules: Ruleset,
    },
}

/// The loop's side of the running network.
pub struct LabNetHandle {
    pub cmd: CmdSender<LabNetCmd>,
    pub summary: Arc<Mutex<Option<LabSummary>>>,
    /// The kernel lab (`--lab-kernel`), not the simulated network.
    pub kernel: bool,
}

pub fn spawn(
    mut run: LabRun,
    stats: Arc<SourceStats>,
    tx: Sender<SourceMsg>,
) -> (LabNetHandle, JoinHandle<()>) {
    let (cmd, rx) = std::sync::mpsc::channel();
    let summary = Arc::new(Mutex::new(None));
    let shared = summary.clone();
    let h = std::thread::Builder::new()
        .name("lab-network".into())
        .spawn(move || drive(&mut run, &stats, &tx, &rx, &shared))
        .expect("spawning the lab network's thread");
    (
        LabNetHandle {
            cmd,
            summary,
            kernel: false,
        },
        h,
    )
}

fn drive(
    run: &mut LabRun,
    stats: &SourceStats,
    tx: &Sender<SourceMsg>,
    rx: &Receiver<LabNetCmd>,
    summary: &Mutex<Option<LabSummary>>,
) {
    let _ = tx.blocking_send(SourceMsg::Interfaces(LabRun::interfaces()));
    let mut start = Instant::now();
    let mut published = start;
    while !stats.stop.load(Ordering::Relaxed) {
        while let Ok(c) = rx.try_recv() {
            match c {
                LabNetCmd::Rules(rs) => run.net.set_rules(&rs),
                LabNetCmd::Link(l) => run.net.wan = l,
                LabNetCmd::Restart(r) => {
                    *run = *r;
                    start = Instant::now();
                }
                LabNetCmd::Scenario { .. } => {}
            }
        }
        let frames = run.advance(start.elapsed().as_micros() as u64);
        if !frames.is_empty() {
            if stats.paused.load(Ordering::Relaxed) {
                stats
                    .paused_skipped
                    .fetch_add(frames.len() as u64, Ordering::Relaxed);
            } else if tx.blocking_send(SourceMsg::Enforced(frames)).is_err() {
                return;
            }
        }
        if published.elapsed() >= PUBLISH {
            published = Instant::now();
            if let Ok(mut s) = summary.lock() {
                *s = Some(run.summary());
            }
        }
        std::thread::sleep(STEP);
    }
}
