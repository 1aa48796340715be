//! TCP echo, two ways: one long connection carrying every message, or a new connection per
//! message (handshake, data, FIN, every time). Same server, same framing; only the client
//! differs.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::kit::{
    connect, current_payload, fmt_addr, open_counted, placed, tcp_server, with_timeout, Client,
    GenCtx, Group, Started, TcpAcceptor,
};
use super::ports;
use super::seq::tcp_message;
use super::stats::{count_sent, record_error, update, Shared};
use super::tasks::Cancel;

pub(crate) fn start(ctx: GenCtx, short: bool) -> Result<Started, String> {
    let (listener, saddr, why) = tcp_server(ports::TCP_ECHO, "TCP echo server")?;
    update(&ctx.stats, |s| {
        s.remote = Some(saddr);
        s.server = placed(saddr, &why);
        s.note = format!("TCP echo on {saddr}{why}");
    });
    let mut g = Group::new(&ctx);
    let acceptor = TcpAcceptor::new(listener, ctx.tasks.clone(), g.servers_signal(), echo_conn);
    g.serve(acceptor);
    Ok(if short {
        g.client(ShortClient {
            addr: saddr,
            seq: 0,
        })
    } else {
        g.client(LongClient {
            addr: saddr,
            conn: None,
            seq: 0,
        })
    })
}

async fn echo_conn(mut s: TcpStream, mut cancel: Cancel) {
    let (mut r, mut w) = s.split();
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::io::copy(&mut r, &mut w) => {
            let _ = w.shutdown().await;
        }
    }
}

/// Writes `msg` and reads its echo: exactly as many bytes on a connection that carries more, or
/// (`last`) up to the server's FIN after our own.
async fn exchange(
    s: &mut TcpStream,
    msg: &[u8],
    stats: &Shared,
    last: bool,
) -> Result<Vec<u8>, String> {
    with_timeout("write", s.write_all(msg)).await?;
    count_sent(stats, msg.len());
    if !last {
        let mut echo = vec![0u8; msg.len()];
        with_timeout("read echo", s.read_exact(&mut echo)).await?;
        return Ok(echo);
    }
    // Half-close: our FIN tells the server the message is complete.
    with_timeout("shutdown", s.shutdown()).await?;
    let mut echo = Vec::with_capacity(msg.len());
    with_timeout("read echo", s.take(1 << 20).read_to_end(&mut echo)).await?;
    Ok(echo)
}

fn count_echo(stats: &Shared, sent: &[u8], echo: &[u8], note: String) {
    if echo == sent {
        update(stats, |s| {
            s.recv_msgs += 1;
            s.recv_bytes += echo.len() as u64;
            s.note = note;
        });
    } else {
        update(stats, |s| s.recv_bytes += echo.len() as u64);
        record_error(stats, "echo differs from what was sent");
    }
}

/// One connection for every message, opened again if it fails.
struct LongClient {
    addr: SocketAddr,
    conn: Option<TcpStream>,
    seq: u64,
}

impl Client for LongClient {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let addr = self.addr;
        if self.conn.is_none() {
            match connect(addr).await {
                Ok(s) => {
                    let local = s.local_addr().ok();
                    update(&ctx.stats, |st| {
                        st.connections += 1;
                        st.local = local;
                        st.note = format!("connected {} → {addr}", fmt_addr(local));
                    });
                    self.conn = Some(s);
                }
                Err(e) => {
                    record_error(&ctx.stats, e);
                    return;
                }
            }
        }
        let Some(s) = self.conn.as_mut() else { return };
        let msg = tcp_message(self.seq, current_payload(&ctx.settings));
        self.seq += 1;
        match exchange(s, &msg, &ctx.stats, false).await {
            Ok(echo) => count_echo(
                &ctx.stats,
                &msg,
                &echo,
                format!(
                    "echo #{} ({} bytes) on the same connection",
                    self.seq - 1,
                    msg.len()
                ),
            ),
            Err(e) => {
                record_error(&ctx.stats, e);
                self.conn = None;
            }
        }
    }

    async fn finish(self, ctx: &GenCtx) {
        if let Some(mut s) = self.conn {
            let _ = timeout(Duration::from_millis(200), s.shutdown()).await;
        }
        let seq = self.seq;
        update(&ctx.stats, |s| {
            s.note = format!("stopped after {seq} messages, connection closed");
        });
    }
}

/// A connection per message: the client's FIN ends the message, the server's ends the echo.
struct ShortClient {
    addr: SocketAddr,
    seq: u64,
}

impl Client for ShortClient {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let Some(mut s) = open_counted(self.addr, &ctx.stats).await else {
            return;
        };
        let local = s.local_addr().ok();
        let msg = tcp_message(self.seq, current_payload(&ctx.settings));
        self.seq += 1;
        let r = exchange(&mut s, &msg, &ctx.stats, true).await;
        match r {
            Ok(echo) => count_echo(
                &ctx.stats,
                &msg,
                &echo,
                format!(
                    "connection #{} from {}: sent {} bytes, echo back, closed",
                    self.seq,
                    fmt_addr(local),
                    msg.len()
                ),
            ),
            Err(e) => record_error(&ctx.stats, e),
        }
    }

    async fn finish(self, ctx: &GenCtx) {
        let seq = self.seq;
        update(&ctx.stats, |s| {
            s.note = format!("stopped after {seq} connections")
        });
    }
}
