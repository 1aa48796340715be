//! `--lab NAME --print …`: a scenario on the lab network, headless. No terminal, no
//! privilege, no socket: the network runs in lab time as fast as it can, and its frames go
//! through the same loop as a capture file's.

use std::collections::VecDeque;

use color_eyre::eyre::Result;

use super::drive::{next_enforced, print_frames, Frames, Next};
use crate::capture::{Frame, Interface, Timestamp};
use crate::cli::Cli;
use crate::engine::Engine;
use crate::firewall::simulator::Enforced;
use crate::scenario::Scenario;
use crate::vnet::run::{LabRun, LabSummary};

/// Lab time per step: frames come out in order, a tenth of a second at a time.
const STEP: u64 = 100_000;

struct LabFrames {
    run: LabRun,
    until: u64,
    queue: VecDeque<(Frame, Option<Enforced>)>,
    current: Option<(Frame, Option<Enforced>)>,
    ifaces: Vec<Interface>,
}

impl Frames for LabFrames {
    fn next(&mut self) -> std::result::Result<Option<Next<'_>>, String> {
        while self.queue.is_empty() {
            let now = self.run.net.now();
            if now >= self.until {
                return Ok(None);
            }
            self.queue
                .extend(self.run.advance((now + STEP).min(self.until)));
        }
        Ok(next_enforced(
            &mut self.queue,
            &mut self.current,
            &self.ifaces,
        ))
    }

    fn lab_summary(&self) -> Option<LabSummary> {
        Some(self.run.summary())
    }
}

pub fn print_lab(cli: &Cli, sc: &Scenario) -> Result<i32> {
    let fw = match crate::launch::lab_firewall(cli, sc) {
        Ok(fw) => fw,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(2);
        }
    };
    if !(cli.lab_seconds.is_finite() && cli.lab_seconds > 0.0 && cli.lab_seconds <= 86_400.0) {
        eprintln!("packetlab: --lab-seconds must be more than 0 and at most 86400");
        return Ok(2);
    }
    let run = match LabRun::new(sc, &fw.ruleset, 1, Timestamp::now()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("packetlab: {e}");
            return Ok(2);
        }
    };
    let mut engine = Engine::with_limits(1, cli.max_sessions);
    engine.enforced = true;
    engine.firewall = Some(fw);
    let mut frames = LabFrames {
        run,
        until: (cli.lab_seconds * 1e6) as u64,
        queue: VecDeque::new(),
        current: None,
        ifaces: LabRun::interfaces(),
    };
    print_frames(cli, &mut frames, engine, false)
}
