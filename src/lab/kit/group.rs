//! The one spawn wiring: the group that starts a generator's tasks so that its servers and its
//! lossy link end when its client does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{run_client, Client};
use super::ctx::{GenCtx, Started};
use super::server::{serve, Server};
use crate::lab::lossy::{run_relay, LinkStats, RelaySockets, HOLD_MAX};
use crate::lab::settings::LabSettings;
use crate::lab::tasks::Cancel;

/// A generator's tasks being started: servers and the lossy link first, the client last, which
/// holds the signal they all end on.
pub(crate) struct Group<'a> {
    ctx: &'a GenCtx,
    servers_done: watch::Sender<bool>,
    servers: Cancel,
    handles: Vec<JoinHandle<()>>,
    link: Option<Arc<Mutex<LinkStats>>>,
}

impl<'a> Group<'a> {
    pub fn new(ctx: &'a GenCtx) -> Group<'a> {
        let (servers_done, servers) = Cancel::new();
        Group {
            ctx,
            servers_done,
            servers,
            handles: Vec::new(),
            link: None,
        }
    }

    /// The servers' signal, for what a server starts of its own (connection tasks).
    pub fn servers_signal(&self) -> Cancel {
        self.servers.clone()
    }

    pub fn serve(&mut self, server: impl Server) {
        let h = self
            .ctx
            .tasks
            .spawn(&self.ctx.rt, serve(server, self.servers.clone()));
        self.handles.push(h);
    }

    /// Runs the lossy link on `relay` with the generator's settings and seed; its counters are
    /// returned and kept for the Lab.
    pub fn lossy_link(&mut self, relay: RelaySockets) -> Arc<Mutex<LinkStats>> {
        let link = Arc::new(Mutex::new(LinkStats::default()));
        let h = self.ctx.tasks.spawn(
            &self.ctx.rt,
            run_relay(
                relay,
                self.ctx.settings.clone(),
                self.ctx.seed,
                link.clone(),
                self.servers.clone(),
            ),
        );
        self.handles.push(h);
        self.link = Some(link.clone());
        link
    }

    /// Starts the client, which the Lab's stop signal ends, and with it everything else.
    pub fn client(self, client: impl Client) -> Started {
        let c = self.ctx.tasks.spawn(
            &self.ctx.rt,
            run_client(client, self.ctx.clone(), self.servers_done),
        );
        let mut handles = vec![c];
        handles.extend(self.handles);
        Started {
            handles,
            link: self.link,
        }
    }
}

/// How long a stopping client lets the lossy link empty before its server closes (the link's
/// delay, at most 2 s of it, plus the longest hold and a margin).
pub(crate) fn link_drain(settings: &watch::Receiver<LabSettings>) -> Duration {
    let delay = Duration::from_millis(settings.borrow().delay_ms).min(Duration::from_secs(2));
    delay + HOLD_MAX + Duration::from_millis(200)
}
