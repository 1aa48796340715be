//! A port scan: one TCP connect (the kernel sends the SYN) to every port of
//! [`ports::SCAN_RANGE`] per round, as a scanner's SYN sweep. A few ports of the range are open
//! (the generator's own listeners on [`ports::SCAN_OPEN`], which close what they accept at
//! once); the others are closed, and their kernel answers the SYN with a RST.

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::kit::{Client, GenCtx, Group, Started, TcpAcceptor};
use super::ports;
use super::stats::update;
use super::tasks::Cancel;

/// How long a port may take to answer before it counts as "no answer" (filtered, in a
/// scanner's words); on loopback both answers come at once.
pub const SCAN_TIMEOUT: Duration = Duration::from_millis(300);

fn listen(port: u16) -> io::Result<TcpListener> {
    let l = StdTcpListener::bind(("127.0.0.1", port))?;
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (first, last) = ports::SCAN_RANGE;
    let mut g = Group::new(&ctx);
    let mut taken = Vec::new();
    for port in ports::SCAN_OPEN {
        match listen(port) {
            Ok(l) => {
                let closer = |s: TcpStream, _: Cancel| async move { drop(s) };
                let acceptor = TcpAcceptor::new(l, ctx.tasks.clone(), g.servers_signal(), closer);
                g.serve(acceptor);
            }
            Err(_) => taken.push(port.to_string()),
        }
    }
    let open = ports::SCAN_OPEN.map(|p| p.to_string()).join(", ");
    let taken = if taken.is_empty() {
        String::new()
    } else {
        format!(
            " ({} taken: another program answers there)",
            taken.join(", ")
        )
    };
    update(&ctx.stats, |s| {
        s.server = format!(":{first}-{last}, open {open}{taken}");
        s.note = format!("scanning 127.0.0.1:{first}-{last}; listening on {open}{taken}");
    });
    Ok(g.client(Scanner { round: 0 }))
}

/// What one port said to the SYN.
enum Answer {
    /// SYN-ACK: connected (and closed at once).
    Open,
    /// RST: connection refused.
    Closed,
    /// Nothing in time, or another error.
    Silent,
}

async fn probe(addr: SocketAddr) -> Answer {
    match timeout(SCAN_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            drop(s);
            Answer::Open
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Answer::Closed,
        _ => Answer::Silent,
    }
}

struct Scanner {
    round: u64,
}

impl Client for Scanner {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let (first, last) = ports::SCAN_RANGE;
        let (mut open, mut closed, mut silent) = (Vec::new(), 0u64, 0u64);
        for port in first..=last {
            update(&ctx.stats, |s| s.sent_msgs += 1);
            match probe(SocketAddr::from(([127, 0, 0, 1], port))).await {
                Answer::Open => open.push(port.to_string()),
                Answer::Closed => closed += 1,
                Answer::Silent => silent += 1,
            }
        }
        self.round += 1;
        let round = self.round;
        let n_open = open.len() as u64;
        update(&ctx.stats, |s| {
            s.recv_msgs += n_open + closed;
            s.connections += n_open;
            s.note = format!(
                "round {round}: {n_open} open ({}), {closed} closed",
                open.join(", ")
            );
            if silent > 0 {
                s.note += &format!(", {silent} no answer");
            }
        });
    }

    async fn finish(self, ctx: &GenCtx) {
        let round = self.round;
        update(&ctx.stats, |s| {
            s.note = format!("stopped after {round} rounds");
        });
    }
}
