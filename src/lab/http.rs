//! HTTP request/response: `GET /` to a tiny HTTP/1.1 server, one connection per request
//! (`Connection: close`), the response checked against its Content-Length.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::kit::{
    open_counted, placed, tcp_server, with_timeout, Client, GenCtx, Group, Started, TcpAcceptor,
    IO_TIMEOUT,
};
use super::ports;
use super::stats::{count_sent, record_error, update};
use super::tasks::Cancel;

/// The body the lab's HTTP server answers `GET /` with.
pub const HTTP_BODY: &str = "hello from the packetlab lab\n";

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (listener, saddr, why) = tcp_server(ports::HTTP, "HTTP server")?;
    update(&ctx.stats, |s| {
        s.remote = Some(saddr);
        s.server = placed(saddr, &why);
        s.note = format!("HTTP server on {saddr}{why}");
    });
    let mut g = Group::new(&ctx);
    let served = Arc::new(AtomicU64::new(0));
    g.serve(TcpAcceptor::new(
        listener,
        ctx.tasks.clone(),
        g.servers_signal(),
        move |s, c| http_conn(s, c, served.clone()),
    ));
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {saddr}\r\nUser-Agent: packetlab-lab\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    Ok(g.client(HttpClient { addr: saddr, req }))
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

struct HttpClient {
    addr: SocketAddr,
    req: Vec<u8>,
}

impl Client for HttpClient {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let req = &self.req;
        let Some(mut s) = open_counted(self.addr, &ctx.stats).await else {
            return;
        };
        let r = async {
            with_timeout("send request", s.write_all(req)).await?;
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
                return;
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

    async fn finish(self, _ctx: &GenCtx) {}
}
