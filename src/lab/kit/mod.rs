//! The kit every generator is built from, so that a generator says only what differs: what its
//! client sends each tick and what it makes of the answers, how its server answers, what it
//! counts.
//!
//! - [`run_client`](client::run_client): the one paced client loop (ticks at the current rate,
//!   stops on the Lab's signal, then lets the client finish what is in flight);
//! - [`serve`](server::serve): the one server loop (serves until its client is done), with the
//!   two servers most generators need, [`UdpAnswerer`] and [`TcpAcceptor`];
//! - [`Group`]: the one spawn wiring (servers and the lossy link end when the client does);
//! - sockets on 127.0.0.1, timeouts and the pacing settings.
//!
//! Counting lives in [`stats`](super::stats), shared with the lossy link, which the kit uses.

mod client;
mod ctx;
mod group;
mod net;
mod pace;
mod server;

pub(crate) use client::{send_numbered, Client};
pub(crate) use ctx::{GenCtx, Started};
pub(crate) use group::{link_drain, Group};
pub use net::IO_TIMEOUT;
pub(crate) use net::{
    bind_udp, connect, fmt_addr, io_err, open_counted, placed, tcp_server, udp_client, udp_server,
    with_timeout,
};
pub(crate) use pace::current_payload;
pub use pace::{LOSS_TIMEOUT, MAX_RATE};
pub(crate) use server::{Server, TcpAcceptor, UdpAnswerer};
