//! UDP over the lossy link: the client sends numbered datagrams through the relay, and the
//! receiving end counts what the link did to them (gaps, late arrivals, duplicates).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{interval, sleep, Instant, Interval};

use super::kit::{
    current_payload, fmt_addr, io_err, link_drain, placed, udp_client, udp_server, Client, GenCtx,
    Group, Server, Started, LOSS_TIMEOUT,
};
use super::lossy::{LinkStats, RelaySockets, UdpReceiver};
use super::ports;
use super::seq::udp_message;
use super::settings::LabSettings;
use super::stats::{read, record_error, update, Shared};

/// When each message went, oldest first, for the receiver to tell an unanswered tail from one
/// still in flight (it sees no gap after the last arrival).
type SendLog = Arc<Mutex<VecDeque<(u64, Instant)>>>;

pub(crate) fn start(ctx: GenCtx) -> Result<Started, String> {
    let (rx, rx_addr, rx_why) = udp_server(ports::UDP_LOSSY_SERVER, "UDP server")?;
    let (relay, link_why) = RelaySockets::bind_front(ports::UDP_LOSSY_LINK, rx_addr)
        .map_err(io_err("bind lossy link"))?;
    let front = relay.front_addr().map_err(io_err("lossy link"))?;
    let (sock, local) = udp_client(front, "UDP client")?;
    update(&ctx.stats, |s| {
        s.local = local;
        s.remote = Some(front);
        s.server = format!(
            "{} via {}",
            placed(rx_addr, &rx_why),
            placed(front, &link_why)
        );
        s.note = format!(
            "client {} → lossy link {front}{link_why} → server {rx_addr}{rx_why}",
            fmt_addr(local)
        );
    });
    let log = SendLog::default();
    let mut g = Group::new(&ctx);
    let link = g.lossy_link(relay);
    g.serve(Receiver {
        sock: rx,
        stats: ctx.stats.clone(),
        settings: ctx.settings.clone(),
        link,
        log: log.clone(),
        r: UdpReceiver::default(),
        buf: vec![0u8; 65_536],
        tick: interval(Duration::from_millis(100)),
    });
    Ok(g.client(Sender { sock, seq: 0, log }))
}

/// Sends and counts; it hears nothing back (the receiver counts what arrives).
struct Sender {
    sock: UdpSocket,
    seq: u64,
    log: SendLog,
}

impl Client for Sender {
    type Arrival = std::convert::Infallible;

    async fn tick(&mut self, ctx: &GenCtx) {
        let seq = self.seq;
        let m = udp_message(seq, current_payload(&ctx.settings));
        let n = m.len() as u64;
        // Counted (sent and in flight, in one step) before it goes: the receiver may count its
        // arrival before this task runs again.
        update(&ctx.stats, |s| {
            s.sent_msgs += 1;
            s.sent_bytes += n;
            s.in_flight += 1;
        });
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((seq, Instant::now()));
        match self.sock.send(&m).await {
            Ok(_) => self.seq += 1,
            Err(e) => {
                // It did not go (and cannot have arrived): uncounted, its number used again.
                self.log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_back();
                update(&ctx.stats, |s| {
                    s.sent_msgs -= 1;
                    s.sent_bytes -= n;
                    s.in_flight = s.in_flight.saturating_sub(1);
                });
                record_error(&ctx.stats, format!("send: {e}"));
            }
        }
    }

    async fn finish(self, ctx: &GenCtx) {
        // Let what is still inside the link come out before the server closes.
        sleep(link_drain(&ctx.settings)).await;
    }
}

struct Receiver {
    sock: UdpSocket,
    stats: Shared,
    settings: watch::Receiver<LabSettings>,
    link: Arc<Mutex<LinkStats>>,
    log: SendLog,
    r: UdpReceiver,
    buf: Vec<u8>,
    /// When to give up on the datagrams the link has not delivered.
    tick: Interval,
}

enum Event {
    Datagram(std::io::Result<usize>),
    Tick,
}

impl Receiver {
    fn publish(&self) {
        let l = read(&self.link);
        let r = &self.r;
        update(&self.stats, |s| {
            // Distinct messages, so that sent = received + lost + in flight (copies the link
            // made count as duplicates).
            s.recv_msgs = r.tracker.unique;
            s.recv_bytes = r.bytes;
            s.lost = r.tracker.lost;
            s.in_flight = r.tracker.in_flight(s.sent_msgs);
            s.out_of_order = r.tracker.out_of_order;
            s.duplicates = r.tracker.duplicates;
            s.note = l.summary();
        });
    }
}

impl Server for Receiver {
    type Event = Event;

    async fn next(&mut self) -> Event {
        tokio::select! {
            biased;
            x = self.sock.recv(&mut self.buf) => Event::Datagram(x),
            _ = self.tick.tick() => Event::Tick,
        }
    }

    async fn handle(&mut self, ev: Event) {
        match ev {
            Event::Datagram(Ok(n)) => {
                self.r.on_datagram(&self.buf[..n], Instant::now());
                self.publish();
            }
            Event::Datagram(Err(_)) => {}
            Event::Tick => {
                let wait = LOSS_TIMEOUT + link_drain(&self.settings);
                let now = Instant::now();
                self.r.tracker.expire(now, wait);
                let mut upto = None;
                {
                    let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
                    while let Some(&(seq, at)) = log.front() {
                        if now.duration_since(at) < wait {
                            break;
                        }
                        upto = Some(seq + 1);
                        log.pop_front();
                    }
                }
                if let Some(upto) = upto {
                    self.r.tracker.expire_unseen(upto);
                }
                self.publish();
            }
        }
    }

    async fn finish(mut self) {
        // The sender has stopped and the link is drained: whatever did not come is lost.
        let sent = read(&self.stats).sent_msgs;
        self.r.tracker.finish(sent);
        self.publish();
    }
}
