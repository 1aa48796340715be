//! Sockets on 127.0.0.1 and the deadlines of the TCP clients. Every error names what failed,
//! the way the lab pane shows it: "bind UDP client: Address in use".

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::lab::ports::fixed_or_ephemeral;
use crate::lab::stats::{record_error, update, Shared};

/// Connect, read and write deadline of the TCP clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn io_err(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// A non-blocking std UDP socket on 127.0.0.1, ready for tokio.
pub(crate) fn bind_udp(addr: &str) -> io::Result<StdUdpSocket> {
    let s = StdUdpSocket::bind(addr)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Where a server listens, as the lab pane shows it: ":7777", or ":40123 (7777 is taken)".
pub(crate) fn placed(addr: SocketAddr, why: &str) -> String {
    format!(":{}{why}", addr.port())
}

/// A server's UDP socket on 127.0.0.1:`port` (an ephemeral port if it is taken), its address,
/// and why it is not on `port` (see [`fixed_or_ephemeral`]). Must be called inside a tokio
/// runtime.
pub(crate) fn udp_server(
    port: u16,
    what: &'static str,
) -> Result<(UdpSocket, SocketAddr, String), String> {
    let (s, why) = fixed_or_ephemeral(port, bind_udp).map_err(|e| format!("bind {what}: {e}"))?;
    let addr = s.local_addr().map_err(io_err(what))?;
    Ok((UdpSocket::from_std(s).map_err(io_err(what))?, addr, why))
}

/// A client's UDP socket, connected to `to` so that it hears only its server (and the ICMP
/// errors about its own datagrams), and its own address. Must be called inside a tokio runtime.
pub(crate) fn udp_client(
    to: SocketAddr,
    what: &'static str,
) -> Result<(UdpSocket, Option<SocketAddr>), String> {
    let s = bind_udp("127.0.0.1:0").map_err(|e| format!("bind {what}: {e}"))?;
    s.connect(to).map_err(|e| format!("connect {what}: {e}"))?;
    let local = s.local_addr().ok();
    Ok((UdpSocket::from_std(s).map_err(io_err(what))?, local))
}

fn bind_tcp(addr: &str) -> io::Result<StdTcpListener> {
    let l = StdTcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A server's TCP listener on 127.0.0.1:`port` (an ephemeral port if it is taken), its address,
/// and why it is not on `port` (see [`fixed_or_ephemeral`]). Must be called inside a tokio
/// runtime.
pub(crate) fn tcp_server(
    port: u16,
    what: &'static str,
) -> Result<(TcpListener, SocketAddr, String), String> {
    let (l, why) = fixed_or_ephemeral(port, bind_tcp).map_err(|e| format!("bind {what}: {e}"))?;
    let l = TcpListener::from_std(l).map_err(io_err(what))?;
    let addr = l.local_addr().map_err(io_err(what))?;
    Ok((l, addr, why))
}

/// A TCP connection to `addr` within [`IO_TIMEOUT`], without Nagle's delay (every message goes
/// out when written).
pub(crate) async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    match timeout(IO_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(format!("connect {addr}: {e}")),
        Err(_) => Err(format!("connect {addr}: no answer in {IO_TIMEOUT:?}")),
    }
}

/// A connection for one of the generator's messages: counted, with its local address, or its
/// failure recorded (the caller tries again at the next tick).
pub(crate) async fn open_counted(addr: SocketAddr, stats: &Shared) -> Option<TcpStream> {
    let s = match connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            record_error(stats, e);
            return None;
        }
    };
    let local = s.local_addr().ok();
    update(stats, |st| {
        st.connections += 1;
        st.local = local;
    });
    Some(s)
}

pub(crate) async fn with_timeout<T>(
    what: &str,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, String> {
    match timeout(IO_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: timed out")),
    }
}

pub(crate) fn fmt_addr(a: Option<SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_else(|| "?".into())
}
