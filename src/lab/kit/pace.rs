//! Pacing: messages at the rate and payload the person has set, picked up as they change.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{interval, Interval, MissedTickBehavior};

use crate::lab::settings::LabSettings;

/// An echo not back after this long is lost.
pub const LOSS_TIMEOUT: Duration = Duration::from_secs(1);
/// Highest rate a generator runs at.
pub const MAX_RATE: u32 = 100_000;

/// Ticks at the current `rate_per_sec`, following changes to it.
pub(crate) struct Pacer {
    rate: u32,
    interval: Interval,
}

fn rate_interval(rate: u32) -> Interval {
    let mut i = interval(Duration::from_secs(1) / rate);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

impl Pacer {
    pub fn new(settings: &watch::Receiver<LabSettings>) -> Pacer {
        let rate = current_rate(settings);
        Pacer {
            rate,
            interval: rate_interval(rate),
        }
    }

    /// Waits for the next tick (cancel-safe). The first comes at once.
    pub async fn tick(&mut self, settings: &watch::Receiver<LabSettings>) {
        let rate = current_rate(settings);
        if rate != self.rate {
            self.rate = rate;
            self.interval = rate_interval(rate);
        }
        self.interval.tick().await;
    }
}

fn current_rate(settings: &watch::Receiver<LabSettings>) -> u32 {
    settings.borrow().rate_per_sec.clamp(1, MAX_RATE)
}

pub(crate) fn current_payload(settings: &watch::Receiver<LabSettings>) -> usize {
    settings.borrow().payload
}
