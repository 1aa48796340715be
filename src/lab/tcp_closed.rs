//! TCP to a closed port: a SYN nobody listens for, answered by the kernel with a RST.

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};

use tokio::net::TcpStream;
use tokio::time::timeout;

use super::kit::{io_err, placed, Client, GenCtx, Group, Started, IO_TIMEOUT};
use super::ports;
use super::stats::{record_error, update};

/// A 127.0.0.1 TCP port with no listener: [`ports::CLOSED`], or when something listens there,
/// an ephemeral port bound then released at once.
pub fn closed_tcp_port() -> io::Result<SocketAddr> {
    if !ports::in_use(false, ports::CLOSED) {
        return Ok(SocketAddr::from(([127, 0, 0, 1], ports::CLOSED)));
    }
    let l = StdTcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

/// " (something listens on 9)" when the closed port is not [`ports::CLOSED`], else "".
fn why_not_closed(addr: SocketAddr) -> String {
    if addr.port() == ports::CLOSED {
        String::new()
    } else {
        format!(" (something listens on {})", ports::CLOSED)
    }
}

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let addr = closed_tcp_port().map_err(io_err("find a closed TCP port"))?;
    let why = why_not_closed(addr);
    update(&ctx.stats, |s| {
        s.remote = Some(addr);
        s.server = placed(addr, &why);
        s.note = format!("connecting to {addr}{why}, where nothing listens");
    });
    Ok(Group::new(&ctx).client(Knocker { addr }))
}

struct Knocker {
    addr: SocketAddr,
}

impl Client for Knocker {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let addr = self.addr;
        // One SYN out; the RST that comes back is the "message received".
        update(&ctx.stats, |s| s.sent_msgs += 1);
        match timeout(IO_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                update(&ctx.stats, |s| {
                    s.recv_msgs += 1;
                    s.errors += 1;
                    s.last_error = Some(e.to_string());
                    s.note = format!("connection refused (RST): nothing listens on {addr}");
                });
            }
            Ok(Err(e)) => record_error(&ctx.stats, format!("connect {addr}: {e}")),
            Ok(Ok(s)) => {
                let local = s.local_addr().ok();
                drop(s);
                update(&ctx.stats, |st| {
                    st.connections += 1;
                    st.local = local;
                    st.note = format!("{addr} accepted: something listens there now");
                });
            }
            Err(_) => record_error(
                &ctx.stats,
                format!("no answer from {addr} in {IO_TIMEOUT:?}: a firewall dropping the SYN?"),
            ),
        }
    }

    async fn finish(self, _ctx: &GenCtx) {}
}
