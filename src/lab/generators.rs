//! The generators: each binds its sockets on 127.0.0.1 when started (so a failure is reported
//! at once) and spawns its server(s) and its client as tokio tasks.
//!
//! Every client stops on the Lab's signal, finishes the message in hand, waits briefly for
//! answers in flight, and then ends; its servers end when it does (they listen to a signal whose
//! sender the client holds), so the last echo is never cut off by its own server closing.

use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{interval, sleep, sleep_until, timeout, Instant, Interval, MissedTickBehavior};

use super::lossy::{run_relay, LinkStats, RelaySockets, UdpReceiver, HOLD_MAX};
use super::seq::{parse_udp_message, tcp_message, udp_message, EchoTracker};
use super::{
    dns, record_error, snapshot, tcp_lossy, update, Cancel, GenCtx, GeneratorKind, LabSettings,
    Shared, Started, TaskCounter,
};

/// An echo not back after this long is lost.
pub const LOSS_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a stopping client waits for answers still in flight.
pub const DRAIN: Duration = Duration::from_millis(500);
/// Connect, read and write deadline of the TCP clients.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Highest rate a generator runs at.
pub const MAX_RATE: u32 = 100_000;

pub(crate) fn start(kind: GeneratorKind, ctx: GenCtx) -> Result<Started, String> {
    match kind {
        GeneratorKind::UdpEcho => udp_echo(ctx),
        GeneratorKind::TcpEchoLong => tcp_echo(ctx, false),
        GeneratorKind::TcpEchoShort => tcp_echo(ctx, true),
        GeneratorKind::TcpClosedPort => tcp_closed_port(ctx),
        GeneratorKind::UdpClosedPort => udp_closed_port(ctx),
        GeneratorKind::HttpLike => http_like(ctx),
        GeneratorKind::Dns => dns::start(ctx),
        GeneratorKind::UdpLossy => udp_lossy(ctx),
        GeneratorKind::TcpLossy => tcp_lossy::start(ctx),
    }
}

pub(crate) fn io_err(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// A non-blocking std UDP socket on 127.0.0.1, ready for tokio.
pub(crate) fn bind_udp(addr: &str) -> io::Result<StdUdpSocket> {
    let s = StdUdpSocket::bind(addr)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn bind_tcp() -> io::Result<TcpListener> {
    let l = StdTcpListener::bind("127.0.0.1:0")?;
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

/// A 127.0.0.1 TCP port with no listener: bound then released at once.
pub fn closed_tcp_port() -> io::Result<SocketAddr> {
    let l = StdTcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

/// A 127.0.0.1 UDP port with no socket: bound then released at once.
pub fn closed_udp_port() -> io::Result<SocketAddr> {
    let s = StdUdpSocket::bind("127.0.0.1:0")?;
    s.local_addr()
}

/// Ticks at the current `rate_per_sec`, following changes to it.
pub(crate) struct Pacer {
    rate: u32,
    interval: Interval,
}

fn rate_interval(rate: u32) -> Interval {
    let mut i = interval(Duration::from_secs(1) / rate);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

impl Pacer {
    pub fn new(settings: &watch::Receiver<LabSettings>) -> Pacer {
        let rate = current_rate(settings);
        Pacer {
            rate,
            interval: rate_interval(rate),
        }
    }

    /// Waits for the next tick (cancel-safe).
    pub async fn tick(&mut self, settings: &watch::Receiver<LabSettings>) {
        let rate = current_rate(settings);
        if rate != self.rate {
            self.rate = rate;
            self.interval = rate_interval(rate);
        }
        self.interval.tick().await;
    }
}

fn current_rate(settings: &watch::Receiver<LabSettings>) -> u32 {
    settings.borrow().rate_per_sec.clamp(1, MAX_RATE)
}

pub(crate) fn current_payload(settings: &watch::Receiver<LabSettings>) -> usize {
    settings.borrow().payload
}

fn set_running(stats: &Shared, running: bool) {
    update(stats, |s| s.running = running);
}

// ---------------------------------------------------------------------------------------------
// UDP echo

fn udp_echo(ctx: GenCtx) -> Result<Started, String> {
    let server = bind_udp("127.0.0.1:0").map_err(io_err("bind UDP echo server"))?;
    let saddr = server.local_addr().map_err(io_err("UDP echo server"))?;
    let client = bind_udp("127.0.0.1:0").map_err(io_err("bind UDP client"))?;
    client
        .connect(saddr)
        .map_err(io_err("connect UDP client"))?;
    let local = client.local_addr().ok();
    let server = UdpSocket::from_std(server).map_err(io_err("UDP echo server"))?;
    let client = UdpSocket::from_std(client).map_err(io_err("UDP client"))?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(saddr);
        s.note = format!("echo server listening on {saddr}");
    });
    let (srv_tx, srv_cancel) = Cancel::new();
    let c = ctx
        .tasks
        .spawn(&ctx.rt, udp_echo_client(client, ctx.clone(), srv_tx));
    let s = ctx
        .tasks
        .spawn(&ctx.rt, udp_echo_server(server, srv_cancel));
    Ok(Started {
        handles: vec![c, s],
        link: None,
    })
}

async fn udp_echo_server(sock: UdpSocket, mut cancel: Cancel) {
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            r = sock.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    let _ = sock.send_to(&buf[..n], from).await;
                }
            }
        }
    }
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

async fn udp_echo_client(sock: UdpSocket, ctx: GenCtx, _servers: watch::Sender<bool>) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let mut t = EchoTracker::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = sock.recv(&mut buf) => on_udp_reply(&ctx.stats, &mut t, r, &buf),
            _ = pacer.tick(&ctx.settings) => {
                let m = udp_message(seq, current_payload(&ctx.settings));
                match sock.send(&m).await {
                    Ok(n) => {
                        t.sent(seq, Instant::now());
                        seq += 1;
                        update(&ctx.stats, |s| {
                            s.sent_msgs += 1;
                            s.sent_bytes += n as u64;
                            s.note = format!("sent #{} ({n} bytes)", seq - 1);
                        });
                    }
                    Err(e) => record_error(&ctx.stats, format!("send: {e}")),
                }
                t.expire(Instant::now(), LOSS_TIMEOUT);
                publish_echo(&ctx.stats, &t);
            }
        }
    }
    let deadline = Instant::now() + DRAIN;
    while t.outstanding() > 0 {
        tokio::select! {
            r = sock.recv(&mut buf) => on_udp_reply(&ctx.stats, &mut t, r, &buf),
            _ = sleep_until(deadline) => break,
        }
    }
    t.finish();
    publish_echo(&ctx.stats, &t);
    update(&ctx.stats, |s| {
        s.running = false;
        s.note = format!("stopped after {seq} messages");
    });
}

// ---------------------------------------------------------------------------------------------
// TCP echo (one long connection, or one connection per message)

fn tcp_echo(ctx: GenCtx, short: bool) -> Result<Started, String> {
    let listener = bind_tcp().map_err(io_err("bind TCP echo server"))?;
    let saddr = listener.local_addr().map_err(io_err("TCP echo server"))?;
    update(&ctx.stats, |s| {
        s.remote = Some(saddr);
        s.note = format!("echo server listening on {saddr}");
    });
    let (srv_tx, srv_cancel) = Cancel::new();
    let c = if short {
        ctx.tasks
            .spawn(&ctx.rt, tcp_short_client(saddr, ctx.clone(), srv_tx))
    } else {
        ctx.tasks
            .spawn(&ctx.rt, tcp_long_client(saddr, ctx.clone(), srv_tx))
    };
    let s = ctx.tasks.spawn(
        &ctx.rt,
        tcp_server(listener, ctx.tasks.clone(), srv_cancel, |s, c| {
            Box::pin(echo_conn(s, c))
        }),
    );
    Ok(Started {
        handles: vec![c, s],
        link: None,
    })
}

type ConnFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Accepts connections until cancelled, one task per connection; on cancel, closes the
/// listener and ends every connection task before returning.
async fn tcp_server(
    listener: TcpListener,
    tasks: TaskCounter,
    mut cancel: Cancel,
    handler: impl Fn(TcpStream, Cancel) -> ConnFuture,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            r = listener.accept() => {
                if let Ok((s, _)) = r {
                    conns.spawn(tasks.tracked(handler(s, cancel.clone())));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
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

async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    match timeout(IO_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(format!("connect {addr}: {e}")),
        Err(_) => Err(format!("connect {addr}: no answer in {IO_TIMEOUT:?}")),
    }
}

async fn with_timeout<T>(
    what: &str,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, String> {
    match timeout(IO_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: timed out")),
    }
}

fn count_sent(stats: &Shared, n: usize) {
    update(stats, |s| {
        s.sent_msgs += 1;
        s.sent_bytes += n as u64;
    });
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

async fn tcp_long_client(addr: SocketAddr, ctx: GenCtx, _servers: watch::Sender<bool>) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let mut conn: Option<TcpStream> = None;
    let mut seq = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = pacer.tick(&ctx.settings) => {}
        }
        if conn.is_none() {
            match connect(addr).await {
                Ok(s) => {
                    let local = s.local_addr().ok();
                    update(&ctx.stats, |st| {
                        st.connections += 1;
                        st.local = local;
                        st.note = format!("connected {} → {addr}", fmt_addr(local));
                    });
                    conn = Some(s);
                }
                Err(e) => {
                    record_error(&ctx.stats, e);
                    continue;
                }
            }
        }
        let Some(s) = conn.as_mut() else { continue };
        let msg = tcp_message(seq, current_payload(&ctx.settings));
        seq += 1;
        let r = async {
            with_timeout("write", s.write_all(&msg)).await?;
            count_sent(&ctx.stats, msg.len());
            let mut echo = vec![0u8; msg.len()];
            with_timeout("read echo", s.read_exact(&mut echo)).await?;
            Ok::<_, String>(echo)
        }
        .await;
        match r {
            Ok(echo) => count_echo(
                &ctx.stats,
                &msg,
                &echo,
                format!(
                    "echo #{} ({} bytes) on the same connection",
                    seq - 1,
                    msg.len()
                ),
            ),
            Err(e) => {
                record_error(&ctx.stats, e);
                conn = None;
            }
        }
    }
    if let Some(mut s) = conn {
        let _ = timeout(Duration::from_millis(200), s.shutdown()).await;
    }
    update(&ctx.stats, |s| {
        s.running = false;
        s.note = format!("stopped after {seq} messages, connection closed");
    });
}

async fn tcp_short_client(addr: SocketAddr, ctx: GenCtx, _servers: watch::Sender<bool>) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = pacer.tick(&ctx.settings) => {}
        }
        let mut s = match connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                record_error(&ctx.stats, e);
                continue;
            }
        };
        let local = s.local_addr().ok();
        update(&ctx.stats, |st| {
            st.connections += 1;
            st.local = local;
        });
        let msg = tcp_message(seq, current_payload(&ctx.settings));
        seq += 1;
        let r = async {
            with_timeout("write", s.write_all(&msg)).await?;
            count_sent(&ctx.stats, msg.len());
            // Half-close: our FIN tells the server the message is complete.
            with_timeout("shutdown", s.shutdown()).await?;
            let mut echo = Vec::with_capacity(msg.len());
            with_timeout("read echo", (&mut s).take(1 << 20).read_to_end(&mut echo)).await?;
            Ok::<_, String>(echo)
        }
        .await;
        match r {
            Ok(echo) => count_echo(
                &ctx.stats,
                &msg,
                &echo,
                format!(
                    "connection #{} from {}: sent {} bytes, echo back, closed",
                    seq,
                    fmt_addr(local),
                    msg.len()
                ),
            ),
            Err(e) => record_error(&ctx.stats, e),
        }
    }
    update(&ctx.stats, |s| {
        s.running = false;
        s.note = format!("stopped after {seq} connections");
    });
}

fn fmt_addr(a: Option<SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------------
// Closed ports

fn tcp_closed_port(ctx: GenCtx) -> Result<Started, String> {
    let addr = closed_tcp_port().map_err(io_err("find a closed TCP port"))?;
    update(&ctx.stats, |s| {
        s.remote = Some(addr);
        s.note = format!("connecting to {addr}, where nothing listens");
    });
    let c = ctx
        .tasks
        .spawn(&ctx.rt, tcp_closed_client(addr, ctx.clone()));
    Ok(Started {
        handles: vec![c],
        link: None,
    })
}

async fn tcp_closed_client(addr: SocketAddr, ctx: GenCtx) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = pacer.tick(&ctx.settings) => {}
        }
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
    set_running(&ctx.stats, false);
}

fn udp_closed_port(ctx: GenCtx) -> Result<Started, String> {
    let addr = closed_udp_port().map_err(io_err("find a closed UDP port"))?;
    let sock = bind_udp("127.0.0.1:0").map_err(io_err("bind UDP client"))?;
    // Connected: only a connected UDP socket is told about the ICMP error.
    sock.connect(addr).map_err(io_err("connect UDP client"))?;
    let local = sock.local_addr().ok();
    let sock = UdpSocket::from_std(sock).map_err(io_err("UDP client"))?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(addr);
        s.note = format!("sending to {addr}, where nothing listens");
    });
    let c = ctx
        .tasks
        .spawn(&ctx.rt, udp_closed_client(sock, addr, ctx.clone()));
    Ok(Started {
        handles: vec![c],
        link: None,
    })
}

fn count_unreachable(stats: &Shared, e: &io::Error, addr: SocketAddr) {
    update(stats, |s| {
        s.recv_msgs += 1;
        s.errors += 1;
        s.last_error = Some(e.to_string());
        s.note = format!("ICMP port unreachable from {addr}: ECONNREFUSED");
    });
}

async fn udp_closed_client(sock: UdpSocket, addr: SocketAddr, ctx: GenCtx) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let mut buf = vec![0u8; 65_536];
    let mut seq = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = sock.recv(&mut buf) => match r {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    count_unreachable(&ctx.stats, &e, addr);
                }
                Err(e) => record_error(&ctx.stats, format!("receive: {e}")),
                Ok(n) => update(&ctx.stats, |s| {
                    s.recv_bytes += n as u64;
                    s.note = format!("{addr} answered: something listens there now");
                }),
            },
            _ = pacer.tick(&ctx.settings) => {
                let m = udp_message(seq, current_payload(&ctx.settings));
                match sock.send(&m).await {
                    Ok(n) => {
                        seq += 1;
                        count_sent(&ctx.stats, n);
                    }
                    // The error of an earlier datagram, reported on this send (which did not go).
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        count_unreachable(&ctx.stats, &e, addr);
                    }
                    Err(e) => record_error(&ctx.stats, format!("send: {e}")),
                }
            }
        }
    }
    // The error of the last datagram, if it is on its way.
    if let Ok(Err(e)) = timeout(Duration::from_millis(50), sock.recv(&mut buf)).await {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            count_unreachable(&ctx.stats, &e, addr);
        }
    }
    set_running(&ctx.stats, false);
}

// ---------------------------------------------------------------------------------------------
// HTTP-like request/response

/// The body the lab's HTTP server answers `GET /` with.
pub const HTTP_BODY: &str = "hello from the packetlab lab\n";

fn http_like(ctx: GenCtx) -> Result<Started, String> {
    let listener = bind_tcp().map_err(io_err("bind HTTP server"))?;
    let saddr = listener.local_addr().map_err(io_err("HTTP server"))?;
    update(&ctx.stats, |s| {
        s.remote = Some(saddr);
        s.note = format!("HTTP server listening on {saddr}");
    });
    let (srv_tx, srv_cancel) = Cancel::new();
    let served = Arc::new(AtomicU64::new(0));
    let c = ctx
        .tasks
        .spawn(&ctx.rt, http_client(saddr, ctx.clone(), srv_tx));
    let s = ctx.tasks.spawn(
        &ctx.rt,
        tcp_server(listener, ctx.tasks.clone(), srv_cancel, move |s, c| {
            Box::pin(http_conn(s, c, served.clone()))
        }),
    );
    Ok(Started {
        handles: vec![c, s],
        link: None,
    })
}

/// Reads until the blank line that ends the headers (at most 8 KiB).
async fn read_head(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await?;
        if n == 0 || head.len() > 8192 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// The response to a request head: `GET /` gets the body, anything else a 404 or a 400.
pub fn http_response(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (status, body) = match (parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some("/"), Some(v)) if v.starts_with("HTTP/1.") => ("200 OK", HTTP_BODY),
        (Some(_), Some(_), Some(v)) if v.starts_with("HTTP/1.") => ("404 Not Found", "not here\n"),
        _ => ("400 Bad Request", "bad request\n"),
    };
    format!(
        "HTTP/1.1 {status}\r\nServer: packetlab-lab\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn http_conn(mut s: TcpStream, mut cancel: Cancel, served: Arc<AtomicU64>) {
    let serve = async {
        let head = read_head(&mut s).await?;
        if head.is_empty() {
            return Ok(());
        }
        s.write_all(&http_response(&head)).await?;
        served.fetch_add(1, Ordering::Relaxed);
        s.shutdown().await
    };
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = timeout(IO_TIMEOUT, serve) => {}
    }
}

/// A response's status code, headers (names in lower case) and body.
pub type HttpResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// Status code, headers and body of a whole HTTP/1.1 response.
pub fn parse_http_response(r: &[u8]) -> Option<HttpResponse> {
    let split = r.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&r[..split]).ok()?;
    let body = r[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    let code = status
        .strip_prefix("HTTP/1.")?
        .get(2..)?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    Some((code, headers, body))
}

async fn http_client(addr: SocketAddr, ctx: GenCtx, _servers: watch::Sender<bool>) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: packetlab-lab\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = pacer.tick(&ctx.settings) => {}
        }
        let mut s = match connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                record_error(&ctx.stats, e);
                continue;
            }
        };
        let local = s.local_addr().ok();
        update(&ctx.stats, |st| {
            st.connections += 1;
            st.local = local;
        });
        let r = async {
            with_timeout("send request", s.write_all(&req)).await?;
            count_sent(&ctx.stats, req.len());
            let mut resp = Vec::new();
            with_timeout(
                "read response",
                (&mut s).take(1 << 20).read_to_end(&mut resp),
            )
            .await?;
            Ok::<_, String>(resp)
        }
        .await;
        let resp = match r {
            Ok(resp) => resp,
            Err(e) => {
                record_error(&ctx.stats, e);
                continue;
            }
        };
        update(&ctx.stats, |st| st.recv_bytes += resp.len() as u64);
        match parse_http_response(&resp) {
            Some((code, headers, body)) => {
                let declared = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse::<usize>().ok());
                if declared == Some(body.len()) {
                    update(&ctx.stats, |st| {
                        st.recv_msgs += 1;
                        st.note = format!(
                            "GET / → {code}, {} header lines, {}-byte body",
                            headers.len(),
                            body.len()
                        );
                    });
                } else {
                    record_error(
                        &ctx.stats,
                        format!(
                            "body is {} bytes, Content-Length says {declared:?}",
                            body.len()
                        ),
                    );
                }
            }
            None => record_error(&ctx.stats, "response is not HTTP/1.x"),
        }
    }
    set_running(&ctx.stats, false);
}

// ---------------------------------------------------------------------------------------------
// UDP over the lossy link

fn udp_lossy(ctx: GenCtx) -> Result<Started, String> {
    let rx = bind_udp("127.0.0.1:0").map_err(io_err("bind UDP server"))?;
    let rx_addr = rx.local_addr().map_err(io_err("UDP server"))?;
    let relay = RelaySockets::bind(rx_addr).map_err(io_err("bind lossy link"))?;
    let front = relay.front_addr().map_err(io_err("lossy link"))?;
    let client = bind_udp("127.0.0.1:0").map_err(io_err("bind UDP client"))?;
    client
        .connect(front)
        .map_err(io_err("connect UDP client"))?;
    let local = client.local_addr().ok();
    let rx = UdpSocket::from_std(rx).map_err(io_err("UDP server"))?;
    let client = UdpSocket::from_std(client).map_err(io_err("UDP client"))?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(front);
        s.note = format!(
            "client {} → lossy link {front} → server {rx_addr}",
            fmt_addr(local)
        );
    });
    let link = Arc::new(std::sync::Mutex::new(LinkStats::default()));
    let (srv_tx, srv_cancel) = Cancel::new();
    let c = ctx
        .tasks
        .spawn(&ctx.rt, udp_lossy_client(client, ctx.clone(), srv_tx));
    let r = ctx.tasks.spawn(
        &ctx.rt,
        run_relay(
            relay,
            ctx.settings.clone(),
            ctx.seed,
            link.clone(),
            srv_cancel.clone(),
        ),
    );
    let s = ctx.tasks.spawn(
        &ctx.rt,
        udp_lossy_receiver(rx, ctx.clone(), link.clone(), srv_cancel),
    );
    Ok(Started {
        handles: vec![c, r, s],
        link: Some(link),
    })
}

/// How long a stopping client lets the lossy link empty before its server closes (the link's
/// delay, at most 2 s of it, plus the longest hold and a margin).
pub(crate) fn link_drain(settings: &watch::Receiver<LabSettings>) -> Duration {
    let delay = Duration::from_millis(settings.borrow().delay_ms).min(Duration::from_secs(2));
    delay + HOLD_MAX + Duration::from_millis(200)
}

async fn udp_lossy_client(sock: UdpSocket, ctx: GenCtx, _servers: watch::Sender<bool>) {
    set_running(&ctx.stats, true);
    let mut stop = ctx.stop.clone();
    let mut pacer = Pacer::new(&ctx.settings);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = pacer.tick(&ctx.settings) => {}
        }
        let m = udp_message(seq, current_payload(&ctx.settings));
        match sock.send(&m).await {
            Ok(n) => {
                seq += 1;
                count_sent(&ctx.stats, n);
            }
            Err(e) => record_error(&ctx.stats, format!("send: {e}")),
        }
    }
    // Let what is still inside the link come out before the server closes.
    sleep(link_drain(&ctx.settings)).await;
    set_running(&ctx.stats, false);
}

async fn udp_lossy_receiver(
    sock: UdpSocket,
    ctx: GenCtx,
    link: Arc<std::sync::Mutex<LinkStats>>,
    mut cancel: Cancel,
) {
    let mut r = UdpReceiver::default();
    let mut buf = vec![0u8; 65_536];
    let mut tick = interval(Duration::from_millis(100));
    let publish = |r: &UdpReceiver| {
        let l = snapshot(&link);
        update(&ctx.stats, |s| {
            s.recv_msgs = r.msgs;
            s.recv_bytes = r.bytes;
            s.lost = r.tracker.lost;
            s.out_of_order = r.tracker.out_of_order;
            s.duplicates = r.tracker.duplicates;
            s.note = l.summary();
        });
    };
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            x = sock.recv(&mut buf) => {
                if let Ok(n) = x {
                    r.on_datagram(&buf[..n], Instant::now());
                    publish(&r);
                }
            }
            _ = tick.tick() => {
                r.tracker.expire(Instant::now(), LOSS_TIMEOUT + link_drain(&ctx.settings));
                publish(&r);
            }
        }
    }
    // The sender has stopped and the link is drained: whatever did not come is lost.
    let sent = snapshot(&ctx.stats).sent_msgs;
    r.tracker.finish(sent);
    publish(&r);
}
