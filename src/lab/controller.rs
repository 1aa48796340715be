//! The [`Lab`] controller: starts and stops generators on a tokio runtime, keeps their counters,
//! and copies them out for the pane. It sits on top: it alone reaches the dispatch
//! ([`generators`]), and no other file of the lab uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::generators;
use super::kind::GeneratorKind;
use super::kit::GenCtx;
use super::lossy::LinkStats;
use super::settings::LabSettings;
use super::snapshot::{GeneratorSnapshot, LabSnapshot};
use super::stats::{read, record_error, GeneratorStats, Shared};
use super::tasks::{Cancel, TaskCounter};

struct Running {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Slot {
    stats: Shared,
    link: Option<Arc<Mutex<LinkStats>>>,
    run: Option<Running>,
    starts: u64,
}

/// The traffic lab: starts and stops generators on a tokio runtime and keeps their counters.
pub struct Lab {
    rt: Handle,
    settings: LabSettings,
    settings_tx: watch::Sender<LabSettings>,
    tasks: TaskCounter,
    slots: HashMap<GeneratorKind, Slot>,
    /// Tasks of stopped generators, still winding down.
    stopping: Vec<JoinHandle<()>>,
}

/// How long [`Lab::shutdown`] waits for a task before aborting it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Lab {
    pub fn new(rt: tokio::runtime::Handle) -> Lab {
        let settings = LabSettings::default();
        let (settings_tx, _) = watch::channel(settings.clone());
        Lab {
            rt,
            settings,
            settings_tx,
            tasks: TaskCounter::default(),
            slots: HashMap::new(),
            stopping: Vec::new(),
        }
    }

    pub fn settings(&self) -> &LabSettings {
        &self.settings
    }

    /// New settings; running generators pick up rate and payload at their next message and the
    /// lossy link its percentages and delay at its next datagram.
    pub fn set_settings(&mut self, s: LabSettings) {
        self.settings = s.clone();
        self.settings_tx.send_replace(s);
    }

    /// Starts `kind`: binds its sockets on 127.0.0.1 (its fixed ports, see
    /// [`ports`](super::ports)) and spawns its tasks.
    /// Starting a running generator does nothing. Its counters start again from zero.
    pub fn start(&mut self, kind: GeneratorKind) -> Result<(), String> {
        if self.is_running(kind) {
            return Ok(());
        }
        self.reap(kind);
        let slot = self.slots.entry(kind).or_default();
        slot.starts += 1;
        let seed = 0x5eed_1ab0_u64 ^ (kind.index() << 32) ^ slot.starts;
        let stats: Shared = Arc::new(Mutex::new(GeneratorStats::default()));
        let (stop_tx, stop) = Cancel::new();
        let ctx = GenCtx {
            rt: self.rt.clone(),
            tasks: self.tasks.clone(),
            stats: stats.clone(),
            settings: self.settings_tx.subscribe(),
            stop,
            seed,
        };
        let started = {
            let _enter = self.rt.enter();
            generators::start(kind, ctx)
        };
        let slot = self.slots.entry(kind).or_default();
        slot.stats = stats;
        match started {
            Ok(st) => {
                slot.link = st.link;
                slot.run = Some(Running {
                    stop: stop_tx,
                    handles: st.handles,
                });
                Ok(())
            }
            Err(e) => {
                slot.link = None;
                record_error(&slot.stats, e.clone());
                Err(e)
            }
        }
    }

    /// Stops `kind`: its client stops sending, waits briefly for replies in flight, and its
    /// servers close after it. Returns at once; [`Lab::shutdown`] waits for the tasks.
    pub fn stop(&mut self, kind: GeneratorKind) {
        if let Some(slot) = self.slots.get_mut(&kind) {
            if let Some(run) = slot.run.take() {
                let _ = run.stop.send(true);
                self.stopping.extend(run.handles);
            }
        }
        self.stopping.retain(|h| !h.is_finished());
    }

    pub fn toggle(&mut self, kind: GeneratorKind) -> Result<(), String> {
        if self.is_running(kind) {
            self.stop(kind);
            Ok(())
        } else {
            self.start(kind)
        }
    }

    pub fn stop_all(&mut self) {
        for kind in GeneratorKind::ALL {
            self.stop(kind);
        }
    }

    /// Whether `kind` was started and its client is still at work (a client that ended on its
    /// own, e.g. because a socket failed, is not running).
    pub fn is_running(&self, kind: GeneratorKind) -> bool {
        self.slots
            .get(&kind)
            .and_then(|s| s.run.as_ref())
            .and_then(|r| r.handles.first())
            .is_some_and(|h| !h.is_finished())
    }

    pub fn stats(&self, kind: GeneratorKind) -> GeneratorStats {
        let mut st = self
            .slots
            .get(&kind)
            .map(|s| read(&s.stats))
            .unwrap_or_default();
        st.running = self.is_running(kind);
        st
    }

    /// The lossy link's own counters (per direction), for the generators that use it.
    pub fn link_stats(&self, kind: GeneratorKind) -> Option<LinkStats> {
        self.slots
            .get(&kind)
            .and_then(|s| s.link.as_ref())
            .map(|l| read(l))
    }

    /// Everything the lab pane draws, at this moment: the settings, and for every generator its
    /// counters (as [`Lab::stats`]) and its lossy link's (as [`Lab::link_stats`]).
    pub fn snapshot(&self) -> LabSnapshot {
        LabSnapshot {
            settings: self.settings.clone(),
            generators: GeneratorKind::ALL
                .into_iter()
                .map(|kind| GeneratorSnapshot {
                    kind,
                    stats: self.stats(kind),
                    link: self.link_stats(kind),
                })
                .collect(),
        }
    }

    /// Tasks still alive, servers' per-connection tasks included.
    pub fn live_tasks(&self) -> usize {
        self.tasks.live()
    }

    /// Stops every generator and waits until each of their tasks has finished (aborting any
    /// that has not after a few seconds).
    pub async fn shutdown(&mut self) {
        self.stop_all();
        let handles = std::mem::take(&mut self.stopping);
        for mut h in handles {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut h).await.is_err() {
                h.abort();
                let _ = h.await;
            }
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.tasks.live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Moves the tasks of a generator whose client ended on its own to the stopping list.
    fn reap(&mut self, kind: GeneratorKind) {
        if let Some(slot) = self.slots.get_mut(&kind) {
            if let Some(run) = slot.run.take() {
                let _ = run.stop.send(true);
                self.stopping.extend(run.handles);
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Dropping the stop senders cancels every task; they end on their own.
        for slot in self.slots.values_mut() {
            if let Some(run) = slot.run.take() {
                let _ = run.stop.send(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_shows_running_generators_and_their_counters() {
        let mut lab = Lab::new(Handle::current());
        lab.set_settings(LabSettings {
            rate_per_sec: 200,
            ..LabSettings::default()
        });
        lab.start(GeneratorKind::UdpEcho).unwrap();
        lab.start(GeneratorKind::UdpLossy).unwrap();
        // Bounded: wait until both have answers back, for at most 3 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut snap = lab.snapshot();
        while tokio::time::Instant::now() < deadline {
            let got = |k| snap.generator(k).is_some_and(|g| g.stats.recv_msgs > 0);
            if got(GeneratorKind::UdpEcho) && got(GeneratorKind::UdpLossy) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            snap = lab.snapshot();
        }
        assert_eq!(snap.settings, *lab.settings());
        assert_eq!(snap.generators.len(), GeneratorKind::ALL.len());
        assert!(snap.any_running());
        for k in [GeneratorKind::UdpEcho, GeneratorKind::UdpLossy] {
            let g = snap.generator(k).unwrap();
            assert!(g.stats.running, "{k:?}");
            assert!(
                g.stats.sent_msgs > 0 && g.stats.recv_msgs > 0,
                "{k:?}: {g:?}"
            );
            assert_eq!(g.stats.last_error, None, "{k:?}");
        }
        let link = snap
            .generator(GeneratorKind::UdpLossy)
            .unwrap()
            .link
            .unwrap();
        assert!(link.to_server.offered > 0 && link.to_server.delivered > 0);
        assert_eq!(snap.generator(GeneratorKind::UdpEcho).unwrap().link, None);
        let idle = snap.generator(GeneratorKind::Dns).unwrap();
        assert_eq!(idle.stats, GeneratorStats::default());

        lab.shutdown().await;
        let after = lab.snapshot();
        assert!(!after.any_running());
        assert_eq!(lab.live_tasks(), 0);
        let echo = after.generator(GeneratorKind::UdpEcho).unwrap();
        assert!(
            echo.stats.recv_msgs
                >= snap
                    .generator(GeneratorKind::UdpEcho)
                    .unwrap()
                    .stats
                    .recv_msgs
        );
    }

    /// Whether sent = received + lost + in flight in `g`'s counters.
    fn adds_up(g: &GeneratorStats) -> bool {
        g.sent_msgs == g.recv_msgs + g.lost + g.in_flight
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn udp_counters_add_up_at_30_percent_loss() {
        let mut lab = Lab::new(Handle::current());
        lab.set_settings(LabSettings {
            rate_per_sec: 200,
            loss_pct: 30.0,
            ..LabSettings::default()
        });
        lab.start(GeneratorKind::UdpLossy).unwrap();
        lab.start(GeneratorKind::UdpEcho).unwrap();
        // Bounded: 2.5 s of traffic, looked at every 10 ms; each look must add up.
        let t0 = tokio::time::Instant::now();
        let (mut saw_in_flight, mut saw_lost) = (false, false);
        while t0.elapsed() < Duration::from_millis(2500) {
            for k in [GeneratorKind::UdpLossy, GeneratorKind::UdpEcho] {
                let g = lab.stats(k);
                assert!(adds_up(&g), "{k:?} while running: {g:?}");
                if k == GeneratorKind::UdpLossy {
                    saw_in_flight |= g.in_flight > 0 && g.lost > 0;
                    saw_lost |= g.lost > 0;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            saw_lost && saw_in_flight,
            "{:?}",
            lab.stats(GeneratorKind::UdpLossy)
        );
        lab.shutdown().await;
        let g = lab.stats(GeneratorKind::UdpLossy);
        assert!(adds_up(&g) && g.in_flight == 0, "stopped: {g:?}");
        let rate = g.lost as f64 / g.sent_msgs as f64;
        assert!(g.sent_msgs > 200 && (0.2..0.4).contains(&rate), "{g:?}");
        let e = lab.stats(GeneratorKind::UdpEcho);
        assert!(adds_up(&e) && e.in_flight == 0 && e.lost == 0, "{e:?}");
    }
}
