//! The one server loop, and the two servers most generators use: a UDP socket that answers
//! each datagram, and a TCP listener with a task per connection.

use std::borrow::Cow;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use crate::lab::tasks::{Cancel, TaskCounter};

pub(crate) trait Server: Send + 'static {
    /// What the server waits for (a datagram, a connection, a timer).
    type Event: Send;

    /// Waits for the next event. Cancel-safe: the servers' signal may come first.
    fn next(&mut self) -> impl Future<Output = Self::Event> + Send;

    /// Serves an event; runs to its end (the signal does not cut an answer short).
    fn handle(&mut self, ev: Self::Event) -> impl Future<Output = ()> + Send;

    /// After the signal: ends what the server started and counts what is final.
    fn finish(self) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async {}
    }
}

/// Serves until `cancel` fires (when the generator's client is done), then finishes.
pub(crate) async fn serve<S: Server>(mut server: S, mut cancel: Cancel) {
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            ev = server.next() => server.handle(ev).await,
        }
    }
    server.finish().await;
}

/// How a UDP server answers a datagram: with these bytes, or not at all.
pub(crate) type Answer = fn(&[u8]) -> Option<Cow<'_, [u8]>>;

/// A UDP server that answers every datagram to whoever sent it.
pub(crate) struct UdpAnswerer {
    sock: UdpSocket,
    buf: Vec<u8>,
    answer: Answer,
}

impl UdpAnswerer {
    /// `max` is the largest datagram it reads whole.
    pub fn new(sock: UdpSocket, max: usize, answer: Answer) -> UdpAnswerer {
        UdpAnswerer {
            sock,
            buf: vec![0u8; max],
            answer,
        }
    }
}

impl Server for UdpAnswerer {
    type Event = io::Result<(usize, SocketAddr)>;

    async fn next(&mut self) -> Self::Event {
        self.sock.recv_from(&mut self.buf).await
    }

    async fn handle(&mut self, ev: Self::Event) {
        if let Ok((n, from)) = ev {
            if let Some(a) = (self.answer)(&self.buf[..n]) {
                let _ = self.sock.send_to(&a, from).await;
            }
        }
    }
}

/// A TCP server: accepts connections and runs `handler` on each as a task of its own; when
/// done, closes the listener and waits for every connection task (which end on the same
/// signal, handed to them).
pub(crate) struct TcpAcceptor<H> {
    listener: TcpListener,
    tasks: TaskCounter,
    cancel: Cancel,
    conns: JoinSet<()>,
    handler: H,
}

impl<H, F> TcpAcceptor<H>
where
    H: Fn(TcpStream, Cancel) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    pub fn new(listener: TcpListener, tasks: TaskCounter, cancel: Cancel, handler: H) -> Self {
        TcpAcceptor {
            listener,
            tasks,
            cancel,
            conns: JoinSet::new(),
            handler,
        }
    }
}

impl<H, F> Server for TcpAcceptor<H>
where
    H: Fn(TcpStream, Cancel) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    /// A new connection, or `None` when a connection task ended (reaped so that they do not
    /// pile up on a long run).
    type Event = Option<TcpStream>;

    async fn next(&mut self) -> Self::Event {
        tokio::select! {
            biased;
            r = self.listener.accept() => r.ok().map(|(s, _)| s),
            Some(_) = self.conns.join_next(), if !self.conns.is_empty() => None,
        }
    }

    async fn handle(&mut self, ev: Self::Event) {
        if let Some(s) = ev {
            let conn = (self.handler)(s, self.cancel.clone());
            self.conns.spawn(self.tasks.tracked(conn));
        }
    }

    async fn finish(self) {
        let TcpAcceptor {
            listener,
            mut conns,
            ..
        } = self;
        drop(listener);
        while conns.join_next().await.is_some() {}
    }
}
