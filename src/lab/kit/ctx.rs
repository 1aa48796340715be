//! What every generator task gets, and what a started generator hands back to the Lab.

use std::sync::{Arc, Mutex};

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::lab::lossy::LinkStats;
use crate::lab::settings::LabSettings;
use crate::lab::stats::Shared;
use crate::lab::tasks::{Cancel, TaskCounter};

/// What every generator task gets.
#[derive(Clone)]
pub(crate) struct GenCtx {
    pub rt: Handle,
    pub tasks: TaskCounter,
    pub stats: Shared,
    pub settings: watch::Receiver<LabSettings>,
    /// The Lab's stop signal for this generator (the client listens to it; servers stop when
    /// their client is done).
    pub stop: Cancel,
    pub seed: u64,
}

/// The tasks of a started generator: the first handle is its client.
pub(crate) struct Started {
    pub handles: Vec<JoinHandle<()>>,
    pub link: Option<Arc<Mutex<LinkStats>>>,
}
