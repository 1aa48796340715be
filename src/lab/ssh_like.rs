//! SSH-like login: a server on [`ports::SSH_LIKE`] that greets each connection with a version
//! banner, as an SSH server does, and a client that connects, sends its own banner and a short
//! "login" (a few lines, each answered), and closes; again at every tick. Not SSH (no keys, no
//! encryption): only its shape on the wire, a TCP connection to a port a firewall rule can name
//! (`tcp dport 2222 drop` in the `firewall-blocks-ssh` scenario).

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::kit::{
    open_counted, placed, tcp_server, with_timeout, Client, GenCtx, Group, Started, TcpAcceptor,
    IO_TIMEOUT,
};
use super::ports;
use super::stats::{count_sent, record_error, update};
use super::tasks::Cancel;

/// The server's first line, as an SSH server's version banner (RFC 4253, 4.2).
pub const SERVER_BANNER: &str = "SSH-2.0-packetlab\r\n";
/// The client's banner, its first line.
pub const CLIENT_BANNER: &str = "SSH-2.0-packetlab-client\r\n";
/// The login after the banners: what the client says, and what the server answers.
pub const LOGIN: [(&str, &str); 3] = [
    ("user lab\r\n", "password?\r\n"),
    ("password lab\r\n", "welcome to packetlab\r\n"),
    ("exit\r\n", "bye\r\n"),
];

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (listener, saddr, why) = tcp_server(ports::SSH_LIKE, "SSH-like server")?;
    update(&ctx.stats, |s| {
        s.remote = Some(saddr);
        s.server = placed(saddr, &why);
        s.note = format!("SSH-like server on {saddr}{why}");
    });
    let mut g = Group::new(&ctx);
    let acceptor = TcpAcceptor::new(listener, ctx.tasks.clone(), g.servers_signal(), ssh_conn);
    g.serve(acceptor);
    Ok(g.client(LoginClient {
        addr: saddr,
        logins: 0,
    }))
}

/// The server's answer to one of the client's lines (none to its banner).
pub fn answer(line: &str) -> Option<&'static str> {
    let line = line.trim_end();
    if line.starts_with("SSH-") {
        return None;
    }
    Some(
        LOGIN
            .iter()
            .find(|(q, _)| q.trim_end().split(' ').next() == line.split(' ').next())
            .map_or("?\r\n", |(_, a)| a),
    )
}

async fn ssh_conn(s: TcpStream, mut cancel: Cancel) {
    let serve = async move {
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r).take(64 * 1024);
        w.write_all(SERVER_BANNER.as_bytes()).await?;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                break;
            }
            if let Some(a) = answer(&line) {
                w.write_all(a.as_bytes()).await?;
            }
            if line.trim_end() == "exit" {
                break;
            }
        }
        w.shutdown().await
    };
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = timeout(IO_TIMEOUT, serve) => {}
    }
}

/// A login per tick: connect, banners, the [`LOGIN`] lines, close.
struct LoginClient {
    addr: SocketAddr,
    logins: u64,
}

impl LoginClient {
    async fn login(&mut self, s: TcpStream, ctx: &GenCtx) -> Result<String, String> {
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r).take(64 * 1024);
        let mut line = String::new();
        let mut read_line = async |line: &mut String| {
            line.clear();
            let n = with_timeout("read", r.read_line(line)).await?;
            update(&ctx.stats, |s| {
                s.recv_msgs += 1;
                s.recv_bytes += n as u64;
            });
            Ok::<_, String>(())
        };
        read_line(&mut line).await?;
        if !line.starts_with("SSH-2.0-") {
            return Err(format!("no SSH banner: {:?}", line.trim_end()));
        }
        let banner = line.trim_end().to_string();
        with_timeout("send banner", w.write_all(CLIENT_BANNER.as_bytes())).await?;
        count_sent(&ctx.stats, CLIENT_BANNER.len());
        for (q, a) in LOGIN {
            with_timeout("send", w.write_all(q.as_bytes())).await?;
            count_sent(&ctx.stats, q.len());
            read_line(&mut line).await?;
            if line != a {
                return Err(format!("expected {:?}, got {:?}", a.trim_end(), line));
            }
        }
        let _ = with_timeout("close", w.shutdown()).await;
        Ok(banner)
    }
}

impl Client for LoginClient {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let Some(s) = open_counted(self.addr, &ctx.stats).await else {
            return;
        };
        self.logins += 1;
        let n = self.logins;
        match self.login(s, ctx).await {
            Ok(banner) => update(&ctx.stats, |s| {
                s.note = format!(
                    "login #{n}: banner {banner}, {} lines each way, closed",
                    LOGIN.len() + 1
                );
            }),
            Err(e) => record_error(&ctx.stats, e),
        }
    }

    async fn finish(self, ctx: &GenCtx) {
        let n = self.logins;
        update(&ctx.stats, |s| s.note = format!("stopped after {n} logins"));
    }
}
