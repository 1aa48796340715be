//! UDP to a closed port: the kernel answers with an ICMP port unreachable, which a connected
//! socket hears as ECONNREFUSED.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::kit::{io_err, placed, send_numbered, udp_client, Client, GenCtx, Group, Started};
use super::ports;
use super::stats::{record_error, update, Shared};

/// A 127.0.0.1 UDP port with no socket: [`ports::CLOSED`], or when a socket holds it, an
/// ephemeral port bound then released at once.
pub fn closed_udp_port() -> io::Result<SocketAddr> {
    if !ports::in_use(true, ports::CLOSED) {
        return Ok(SocketAddr::from(([127, 0, 0, 1], ports::CLOSED)));
    }
    let s = StdUdpSocket::bind("127.0.0.1:0")?;
    s.local_addr()
}

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let addr = closed_udp_port().map_err(io_err("find a closed UDP port"))?;
    let why = if addr.port() == ports::CLOSED {
        String::new()
    } else {
        format!(" (something listens on {})", ports::CLOSED)
    };
    // Connected: only a connected UDP socket is told about the ICMP error.
    let (sock, local) = udp_client(addr, "UDP client")?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(addr);
        s.server = placed(addr, &why);
        s.note = format!("sending to {addr}{why}, where nothing listens");
    });
    Ok(Group::new(&ctx).client(Prober {
        sock,
        addr,
        buf: vec![0u8; 65_536],
        seq: 0,
    }))
}

fn count_unreachable(stats: &Shared, e: &io::Error, addr: SocketAddr) {
    update(stats, |s| {
        s.recv_msgs += 1;
        s.errors += 1;
        s.last_error = Some(e.to_string());
        s.note = format!("ICMP port unreachable from {addr}: ECONNREFUSED");
    });
}

struct Prober {
    sock: UdpSocket,
    addr: SocketAddr,
    buf: Vec<u8>,
    seq: u64,
}

impl Client for Prober {
    type Arrival = io::Result<usize>;

    async fn tick(&mut self, ctx: &GenCtx) {
        match send_numbered(&self.sock, &mut self.seq, ctx).await {
            Ok(_) => {}
            // The error of an earlier datagram, reported on this send (which did not go).
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                count_unreachable(&ctx.stats, &e, self.addr);
            }
            Err(e) => record_error(&ctx.stats, format!("send: {e}")),
        }
    }

    async fn arrival(&mut self) -> io::Result<usize> {
        self.sock.recv(&mut self.buf).await
    }

    async fn on_arrival(&mut self, r: io::Result<usize>, ctx: &GenCtx) {
        let addr = self.addr;
        match r {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                count_unreachable(&ctx.stats, &e, addr);
            }
            Err(e) => record_error(&ctx.stats, format!("receive: {e}")),
            Ok(n) => update(&ctx.stats, |s| {
                s.recv_bytes += n as u64;
                s.note = format!("{addr} answered: something listens there now");
            }),
        }
    }

    async fn finish(mut self, ctx: &GenCtx) {
        // The error of the last datagram, if it is on its way.
        if let Ok(Err(e)) = timeout(Duration::from_millis(50), self.sock.recv(&mut self.buf)).await
        {
            if e.kind() == io::ErrorKind::ConnectionRefused {
                count_unreachable(&ctx.stats, &e, self.addr);
            }
        }
    }
}
