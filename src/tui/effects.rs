//! Where the app's effects meet the world: the source and its channel, the `-w` file, the lab's
//! tasks, the resolver and the socket-owner watcher are held here, and every [`Effect`] is
//! carried out here and nowhere else. Answers go back to the app by its methods.

use std::fs::File;
use std::io::BufWriter;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::app::effect::{Effect, LabCmd};
use crate::app::state::{App, PickerItem, SourceKind};
use crate::capture::channel::{self, SourceMsg, SourceStats};
use crate::capture::live;
use crate::capture::write::PcapngWriter;
use crate::lab::Lab;

/// What the event loop owns besides the app.
pub struct World {
    pub stats: Arc<SourceStats>,
    pub rx: mpsc::Receiver<SourceMsg>,
    /// The source has not closed its channel yet.
    pub source_open: bool,
    pub writer: Option<PcapngWriter<BufWriter<File>>>,
    pub owners: Option<crate::procs::Watcher>,
    pub resolver: Option<crate::names::Resolver>,
    pub lab: Lab,
    pub source_handles: Vec<JoinHandle<()>>,
    /// The lab network's thread, when it is the source.
    pub lab_net: Option<crate::capture::lab_net::LabNetHandle>,
}

/// What the loop does after the effects of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Go,
    Quit,
}

impl World {
    pub fn carry_out(&mut self, app: &mut App, effects: Vec<Effect>) -> Next {
        let mut next = Next::Go;
        let mut lab_touched = false;
        for e in effects {
            match e {
                Effect::Quit => next = Next::Quit,
                Effect::SetPaused(p) => self.stats.paused.store(p, Ordering::Relaxed),
                Effect::Capture(name) => {
                    if self.capture(app, vec![name.clone()]) {
                        app.notice = Some(format!("Capturing live on {name}"));
                    }
                }
                Effect::ListInterfaces => app.show_interfaces(
                    live::interfaces()
                        .iter()
                        .map(|i| PickerItem {
                            name: i.name.clone(),
                            up: i.is_up(),
                            addrs: i.ips.iter().map(|n| n.to_string()).collect(),
                        })
                        .collect(),
                ),
                Effect::WriteFile {
                    path,
                    contents,
                    done,
                } => {
                    let r = std::fs::write(&path, contents).map_err(|e| e.to_string());
                    app.file_written(&path, done, r);
                }
                Effect::LoadRules { path, locality } => {
                    let loaded = crate::firewall::Firewall::load(&path, locality);
                    app.rules_loaded(&path.display().to_string(), loaded);
                }
                Effect::Lab(cmd) => {
                    lab_touched = true;
                    self.lab_command(app, cmd);
                }
                Effect::LabNetLink(l) => match &self.lab_net {
                    Some(n) if n.kernel => {
                        app.lab_link = Default::default();
                        app.notice = Some(
                            "The kernel lab's links are not impaired: the comparison follows \
                             each packet across the router, and a loss behind it would read \
                             as the router's drop. --lab without --lab-kernel has the WAN knobs."
                                .into(),
                        );
                    }
                    Some(n) => {
                        let _ = n.cmd.send(crate::capture::lab_net::LabNetCmd::Link(l));
                    }
                    None => {}
                },
                Effect::LabNetwork { scenario, rules } => {
                    self.restart_lab_network(app, &scenario, &rules);
                }
            }
        }
        if lab_touched {
            self.refresh_lab(app);
            self.see_the_lab(app);
        }
        next
    }

    /// The lab's traffic is on loopback: once a generator runs, `lo` is captured too (live
    /// capture elsewhere gains it; the demo gives way to it), when capture is permitted.
    fn see_the_lab(&mut self, app: &mut App) {
        if !app.lab.as_ref().is_some_and(|l| l.any_running()) {
            return;
        }
        let names = match &app.source {
            SourceKind::Live(names) if names.iter().any(|n| n == "lo") => return,
            SourceKind::Live(names) => names.clone(),
            SourceKind::Demo(_) => Vec::new(),
            SourceKind::File(_) | SourceKind::LabNet(_) => return,
        };
        if !live::permitted() {
            return;
        }
        let mut with_lo = names.clone();
        with_lo.push("lo".into());
        if self.capture(app, with_lo) {
            app.notice = Some(if names.is_empty() {
                "The lab's traffic is on loopback: capturing live on lo now (the demo stopped)"
                    .into()
            } else {
                format!(
                    "The lab's traffic is on loopback: capturing on lo too ({} and lo)",
                    names.join(", ")
                )
            });
        }
    }

    fn lab_command(&mut self, app: &mut App, cmd: LabCmd) {
        let (kind, r) = match cmd {
            LabCmd::Start(k) => (k, self.lab.start(k)),
            LabCmd::Toggle(k) => (k, self.lab.toggle(k)),
            LabCmd::StopAll => return self.lab.stop_all(),
            LabCmd::Settings(s) => return self.lab.set_settings(s),
        };
        if let Err(e) = r {
            app.errors.push(format!("lab: {}: {e}", kind.name()));
        }
    }

    /// Switches to live capture on `names` without restarting: the old source stops (its
    /// threads see `stop`), a new one feeds the loop. The interfaces keep their order, so the
    /// packets already kept keep their interface names. Returns whether it started.
    fn capture(&mut self, app: &mut App, names: Vec<String>) -> bool {
        let new_stats = Arc::new(SourceStats::default());
        let (tx, new_rx) = mpsc::channel(channel::CHANNEL_BATCHES);
        match live::start(&names, new_stats.clone(), tx) {
            Ok((ifaces, _handles)) => {
                self.stats.stop.store(true, Ordering::Relaxed);
                self.stats = new_stats;
                self.rx = new_rx;
                self.source_open = true;
                if let Some(w) = self.writer.as_mut() {
                    w.learn_interfaces(&ifaces);
                }
                app.capture_started(names, ifaces.iter().map(|i| i.name.clone()).collect());
                true
            }
            Err(e) => {
                app.errors.push(e.to_string());
                false
            }
        }
    }

    /// The app's copy of the lab: settings and every generator's counters.
    pub fn refresh_lab(&self, app: &mut App) {
        app.lab = Some(self.lab.snapshot());
        if let Some(n) = &self.lab_net {
            if let Some(s) = n.summary.lock().ok().and_then(|s| s.clone()) {
                app.lab_net = Some(s);
            }
        }
    }

    /// Another scenario on the lab network: built anew, its first counters shown at once.
    fn restart_lab_network(
        &self,
        app: &mut App,
        name: &str,
        rules: &crate::firewall::model::Ruleset,
    ) {
        let (Some(n), Some(sc)) = (&self.lab_net, crate::scenario::find(name)) else {
            return;
        };
        if n.kernel {
            app.source = crate::app::state::SourceKind::LabNet(sc.name.clone());
            let _ = n.cmd.send(crate::capture::lab_net::LabNetCmd::Scenario {
                name: sc.name.clone(),
                rules: rules.clone(),
            });
            return;
        }
        match crate::vnet::LabRun::new(
            &sc,
            rules,
            std::process::id() as u64,
            crate::capture::Timestamp::now(),
        ) {
            Ok(run) => {
                app.lab_net = Some(run.summary());
                app.source = crate::app::state::SourceKind::LabNet(sc.name.clone());
                let _ = n
                    .cmd
                    .send(crate::capture::lab_net::LabNetCmd::Restart(Box::new(run)));
            }
            Err(e) => app.errors.push(e),
        }
    }

    /// The lab network enforces what the firewall pane shows: after any change to the rules
    /// (a toggle, an edit, a load) it gets the new ruleset.
    pub fn sync_lab_rules(&self, app: &mut App) {
        if !std::mem::take(&mut app.rules_changed) {
            return;
        }
        if let (Some(n), Some(fw)) = (&self.lab_net, &app.engine.firewall) {
            let _ = n.cmd.send(crate::capture::lab_net::LabNetCmd::Rules(
                fw.ruleset.clone(),
            ));
        }
    }

    /// Asks the resolver for the names the app wants, and gives the app the names found so far.
    /// Returns whether they changed.
    pub fn refresh_names(&self, app: &mut App) -> bool {
        let Some(r) = &self.resolver else {
            return false;
        };
        for a in app.addresses_for_names() {
            r.ask(a);
        }
        match r.names_if_changed() {
            Some(names) => {
                app.resolved = names;
                true
            }
            None => false,
        }
    }
}
