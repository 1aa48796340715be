//! UDP echo: numbered datagrams to an echo server; the client tells from the echoes alone which
//! messages were lost and which came back out of order.

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{sleep_until, Instant};

use super::kit::{
    current_payload, placed, udp_client, udp_server, Client, GenCtx, Group, Started, UdpAnswerer,
    LOSS_TIMEOUT,
};
use super::ports;
use super::seq::{parse_udp_message, udp_message, EchoTracker};
use super::stats::{record_error, update, GeneratorStats, Shared};

/// How long a stopping client waits for answers still in flight.
pub const DRAIN: Duration = Duration::from_millis(500);

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (server, saddr, why) = udp_server(ports::UDP_ECHO, "UDP echo server")?;
    let (sock, local) = udp_client(saddr, "UDP client")?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(saddr);
        s.server = placed(saddr, &why);
        s.note = format!("UDP echo on {saddr}{why}");
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

/// Copies the tracker's counts, with `more` in the same lock, so that every copy the pane takes
/// adds up: sent = received (distinct echoes) + lost + in flight.
fn publish_echo(stats: &Shared, t: &EchoTracker, more: impl FnOnce(&mut GeneratorStats)) {
    update(stats, |s| {
        more(s);
        s.recv_msgs = t.unique;
        s.lost = t.lost;
        s.in_flight = t.outstanding() as u64;
        s.out_of_order = t.out_of_order;
        s.duplicates = t.duplicates;
    });
}

fn on_udp_reply(stats: &Shared, t: &mut EchoTracker, r: io::Result<usize>, buf: &[u8]) {
    match r {
        Ok(n) => match parse_udp_message(&buf[..n]) {
            Some(seq) => {
                t.on_reply(seq);
                // Between ticks too, so that at a low rate "in flight" never holds the old.
                t.expire(Instant::now(), LOSS_TIMEOUT);
                publish_echo(stats, t, |s| s.recv_bytes += n as u64);
            }
            None => {
                update(stats, |s| s.recv_bytes += n as u64);
                record_error(stats, "reply is not one of our messages");
            }
        },
        Err(e) => record_error(stats, format!("receive: {e}")),
    }
}

impl Client for EchoClient {
    type Arrival = io::Result<usize>;

    async fn tick(&mut self, ctx: &GenCtx) {
        let seq = self.seq;
        let m = udp_message(seq, current_payload(&ctx.settings));
        // Counted with the tracker, not by `send_numbered`, so that "sent" and "in flight" move
        // in one step.
        let sent = self.sock.send(&m).await;
        if let Err(e) = &sent {
            record_error(&ctx.stats, format!("send: {e}"));
        } else {
            self.seq += 1;
            self.tracker.sent(seq, Instant::now());
        }
        self.tracker.expire(Instant::now(), LOSS_TIMEOUT);
        publish_echo(&ctx.stats, &self.tracker, |s| {
            if let Ok(n) = sent {
                s.sent_msgs += 1;
                s.sent_bytes += n as u64;
                s.note = format!("sent #{seq} ({n} bytes)");
            }
        });
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
        let seq = self.seq;
        publish_echo(&ctx.stats, &self.tracker, |s| {
            s.note = format!("stopped after {seq} messages")
        });
    }
}
