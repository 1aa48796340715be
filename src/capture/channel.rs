//! The bounded channel from a source thread to the loop that feeds the engine, and the counters
//! and switches the two share. Files and stdin use a blocking send (a file can wait; nothing is
//! lost); live capture uses `try_send` and counts what a full channel drops (see `live`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{Frame, Interface};
use crate::firewall::simulator::Enforced;

/// Capacity of the frame channel, in batches.
pub const CHANNEL_BATCHES: usize = 256;

pub struct KernelFrame {
    pub frame: Frame,
    pub enforced: Option<Enforced>,
    pub differs: Option<String>,
}

pub enum SourceMsg {
    Frames(Vec<Frame>),
    /// Frames of the lab network, each with the verdict its receiving node enforced.
    Enforced(Vec<(Frame, Option<Enforced>)>),
    /// Frames of `--lab-kernel`: each with the simulator's verdict and, where the kernel did
    /// otherwise, the disagreement in words; and the agreement so far.
    Kernel {
        frames: Vec<KernelFrame>,
        tally: crate::kernel_lab::compare::Tally,
    },
    /// The interfaces a file declared (sent whenever the list grows).
    Interfaces(Vec<Interface>),
    /// A problem that ends this source; what was read before it is kept.
    Error(String),
    /// The source ended normally.
    Done,
}

/// Counters and switches shared between a source thread and the loop.
#[derive(Default)]
pub struct SourceStats {
    /// Frames dropped because the channel to the engine was full.
    pub channel_drops: AtomicU64,
    /// Frames the kernel dropped before packetlab could read them.
    pub kernel_drops: AtomicU64,
    /// Frames not recorded because capture was paused.
    pub paused_skipped: AtomicU64,
    pub paused: AtomicBool,
    pub stop: AtomicBool,
}

impl SourceStats {
    pub fn drops(&self) -> (u64, u64) {
        (
            self.channel_drops.load(Ordering::Relaxed),
            self.kernel_drops.load(Ordering::Relaxed),
        )
    }
}
