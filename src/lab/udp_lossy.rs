//! UDP over the lossy link: the client sends numbered datagrams through the relay, and the
//! receiving end counts what the link did to them (gaps, late arrivals, duplicates).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{interval, sleep, Instant, Interval};

use super::kit::{
    fmt_addr, io_err, link_drain, send_numbered, udp_client, udp_server, Client, GenCtx, Group,
    Server, Started, LOSS_TIMEOUT,
};
use super::lossy::{LinkStats, RelaySockets, UdpReceiver};
use super::settings::LabSettings;
use super::stats::{read, record_error, update, Shared};

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (rx, rx_addr) = udp_server("UDP server")?;
    let relay = RelaySockets::bind(rx_addr).map_err(io_err("bind lossy link"))?;
    let front = relay.front_addr().map_err(io_err("lossy link"))?;
    let (sock, local) = udp_client(front, "UDP client")?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(front);
        s.note = format!(
            "client {} → lossy link {front} → server {rx_addr}",
            fmt_addr(local)
        );
    });
    let mut g = Group::new(&ctx);
    let link = g.lossy_link(relay);
    g.serve(Receiver {
        sock: rx,
        stats: ctx.stats.clone(),
        settings: ctx.settings.clone(),
        link,
        r: UdpReceiver::default(),
        buf: vec![0u8; 65_536],
        tick: interval(Duration::from_millis(100)),
    });
    Ok(g.client(Sender { sock, seq: 0 }))
}

/// Sends and counts; it hears nothing back (the receiver counts what arrives).
struct Sender {
    sock: UdpSocket,
    seq: u64,
}

impl Client for Sender {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        if let Err(e) = send_numbered(&self.sock, &mut self.seq, ctx).await {
            record_error(&ctx.stats, format!("send: {e}"));
        }
    }

    async fn finish(self, ctx: &GenCtx) {
        // Let what is still inside the link come out before the server closes.
        sleep(link_drain(&ctx.settings)).await;
    }
}

struct Receiver {
    sock: UdpSocket,
    stats: Shared,
    settings: watch::Receiver<LabSettings>,
    link: Arc<Mutex<LinkStats>>,
    r: UdpReceiver,
    buf: Vec<u8>,
    /// When to give up on the datagrams the link has not delivered.
    tick: Interval,
}

enum Event {
    Datagram(std::io::Result<usize>),
    Tick,
}

impl Receiver {
    fn publish(&self) {
        let l = read(&self.link);
        let r = &self.r;
        update(&self.stats, |s| {
            s.recv_msgs = r.msgs;
            s.recv_bytes = r.bytes;
            s.lost = r.tracker.lost;
            s.out_of_order = r.tracker.out_of_order;
            s.duplicates = r.tracker.duplicates;
            s.note = l.summary();
        });
    }
}

impl Server for Receiver {
    type Event = Event;

    async fn next(&mut self) -> Event {
        tokio::select! {
            biased;
            x = self.sock.recv(&mut self.buf) => Event::Datagram(x),
            _ = self.tick.tick() => Event::Tick,
        }
    }

    async fn handle(&mut self, ev: Event) {
        match ev {
            Event::Datagram(Ok(n)) => {
                self.r.on_datagram(&self.buf[..n], Instant::now());
                self.publish();
            }
            Event::Datagram(Err(_)) => {}
            Event::Tick => {
                let wait = LOSS_TIMEOUT + link_drain(&self.settings);
                self.r.tracker.expire(Instant::now(), wait);
                self.publish();
            }
        }
    }

    async fn finish(mut self) {
        // The sender has stopped and the link is drained: whatever did not come is lost.
        let sent = read(&self.stats).sent_msgs;
        self.r.tracker.finish(sent);
        self.publish();
    }
}
