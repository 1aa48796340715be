//! The one paced client loop. A generator's client says what it does on a tick, what can
//! arrive between ticks and what it does with it, and how it winds down; the loop does the
//! pacing, the stop signal and the `running` flag.

use std::future::Future;
use std::io;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::ctx::GenCtx;
use super::pace::{current_payload, Pacer};
use crate::lab::seq::udp_message;
use crate::lab::stats::{count_sent, update};

pub(crate) trait Client: Send + 'static {
    /// What can arrive between ticks (a reply, an ICMP error, a timer of the client's own);
    /// `Infallible` for a client that hears back only within its tick.
    type Arrival: Send;

    /// One message: send it and, for a client that waits for its answer, count the answer.
    fn tick(&mut self, ctx: &GenCtx) -> impl Future<Output = ()> + Send;

    /// Waits for the next arrival. Cancel-safe: a tick or the stop signal may come first.
    fn arrival(&mut self) -> impl Future<Output = Self::Arrival> + Send {
        std::future::pending()
    }

    /// Counts an arrival; runs to its end (neither a tick nor the stop cuts it short).
    fn on_arrival(&mut self, _a: Self::Arrival, _ctx: &GenCtx) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// After the stop signal: waits briefly for what is in flight, closes, says how it ended.
    fn finish(self, ctx: &GenCtx) -> impl Future<Output = ()> + Send;
}

/// Runs `client` at the settings' rate until the Lab's stop signal, then lets it finish.
/// `_servers` is the sender of its servers' signal: they end when this returns, so the last
/// answers are never cut off by their own server closing.
pub(crate) async fn run_client<C: Client>(
    mut client: C,
    ctx: GenCtx,
    _servers: watch::Sender<bool>,
) {
    update(&ctx.stats, |s| s.running = true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            a = client.arrival() => client.on_arrival(a, &ctx).await,
            _ = pacer.tick(&ctx.settings) => client.tick(&ctx).await,
        }
    }
    client.finish(&ctx).await;
    update(&ctx.stats, |s| s.running = false);
}

/// What a UDP client sends on a tick: datagram number `*seq` of the current payload, counted
/// and numbered on when it went; an error is the caller's to count (some are the lesson).
pub(crate) async fn send_numbered(
    sock: &UdpSocket,
    seq: &mut u64,
    ctx: &GenCtx,
) -> io::Result<usize> {
    let m = udp_message(*seq, current_payload(&ctx.settings));
    let n = sock.send(&m).await?;
    *seq += 1;
    count_sent(&ctx.stats, n);
    Ok(n)
}
