//! UDP echo: numbered datagrams to an echo server; the client tells from the echoes alone which
//! messages were lost and which came back out of order.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{sleep_until, Instant};

use super::kit::{
    send_numbered, udp_client, udp_server, Client, GenCtx, Group, Started, UdpAnswerer,
    LOSS_TIMEOUT,
};
use super::seq::{parse_udp_message, EchoTracker};
use super::stats::{record_error, update, Shared};

/// How long a stopping client waits for answers still in flight.
pub const DRAIN: Duration = Duration::from_millis(500);

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (server, saddr) = udp_server("UDP echo server")?;
    let (sock, local) = udp_client(saddr, "UDP client")?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(saddr);
        s.note = format!("echo server listening on {saddr}");
    });
    let mut g = Group::new(&ctx);
    g.serve(UdpAnswerer::new(server, 65_536, echo));
    Ok(g.client(EchoClient {
        sock,
        tracker: EchoTracker::new(),
        seq: 0,
        buf: vec![0u8; 65_536],
    }))
}

fn echo(d: &[u8]) -> Option<Cow<'_, [u8]>> {
    Some(Cow::Borrowed(d))
}

struct EchoClient {
    sock: UdpSocket,
    tracker: EchoTracker,
    seq: u64,
    buf: Vec<u8>,
}

fn publish_echo(stats: &Shared, t: &EchoTracker) {
    update(stats, |s| {
        s.lost = t.lost;
        s.out_of_order = t.out_of_order;
        s.duplicates = t.duplicates;
    });
}

fn on_udp_reply(stats: &Shared, t: &mut EchoTracker, r: io::Result<usize>, buf: &[u8]) {
    match r {
        Ok(n) => {
            update(stats, |s| {
                s.recv_msgs += 1;
                s.recv_bytes += n as u64;
            });
            match parse_udp_message(&buf[..n]) {
                Some(seq) => {
                    t.on_reply(seq);
                    publish_echo(stats, t);
                }
                None => record_error(stats, "reply is not one of our messages"),
            }
        }
        Err(e) => record_error(stats, format!("receive: {e}")),
    }
}

impl Client for EchoClient {
    type Arrival = io::Result<usize>;

    async fn tick(&mut self, ctx: &GenCtx) {
        let seq = self.seq;
        match send_numbered(&self.sock, &mut self.seq, ctx).await {
            Ok(n) => {
                self.tracker.sent(seq, Instant::now());
                update(&ctx.stats, |s| s.note = format!("sent #{seq} ({n} bytes)"));
            }
            Err(e) => record_error(&ctx.stats, format!("send: {e}")),
        }
        self.tracker.expire(Instant::now(), LOSS_TIMEOUT);
        publish_echo(&ctx.stats, &self.tracker);
    }

    async fn arrival(&mut self) -> io::Result<usize> {
        self.sock.recv(&mut self.buf).await
    }

    async fn on_arrival(&mut self, r: io::Result<usize>, ctx: &GenCtx) {
        on_udp_reply(&ctx.stats, &mut self.tracker, r, &self.buf);
    }

    async fn finish(mut self, ctx: &GenCtx) {
        let deadline = Instant::now() + DRAIN;
        while self.tracker.outstanding() > 0 {
            tokio::select! {
                r = self.sock.recv(&mut self.buf) => {
                    on_udp_reply(&ctx.stats, &mut self.tracker, r, &self.buf);
                }
                _ = sleep_until(deadline) => break,
            }
        }
        self.tracker.finish();
        publish_echo(&ctx.stats, &self.tracker);
        let seq = self.seq;
        update(&ctx.stats, |s| {
            s.note = format!("stopped after {seq} messages")
        });
    }
}
