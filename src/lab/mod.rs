//! The lab: traffic generators a person starts and stops with keys, to watch what UDP, TCP, ports
//! and firewalls do with traffic. Every generator is a real socket program (servers and a client)
//! running as tokio tasks and talking only to 127.0.0.1, so each concept shows on a machine with
//! no other traffic and needs no extra tools and no root.
//!
//! No terminal code lives here: the TUI pane drives a [`Lab`] through its methods and draws
//! [`LabSnapshot`]s (or [`GeneratorStats`]).
//!
//! The lossy link ([`lossy`]) is a user-space UDP relay that drops, duplicates, delays and
//! reorders datagrams. UDP goes through it as is; TCP goes through it as a user-space TCP stack
//! (smoltcp, [`tcp_lossy`]) whose IP packets ride in the relay's datagrams, so its segments are
//! really lost and really retransmitted without any root privilege.
//!
//! Every server listens on a fixed port of its own, named once in [`ports`], so that rules and
//! filters can name it.
//!
//! The layers, each file using only those above it: the shared values ([`ports`], `kind`,
//! `settings`, `stats`, `tasks`, [`seq`]); the lossy link; the `kit` (pacing, sockets, the one client loop,
//! the one server loop, the spawn wiring); one file per generator on the kit; [`generators`],
//! the dispatch from kind to generator; and the `controller` with the [`Lab`]. This file only
//! declares them and names what the rest of the program uses.

mod controller;
pub mod dns;
pub mod generators;
mod http;
mod kind;
mod kit;
pub mod lossy;
mod port_scan;
pub mod ports;
pub mod seq;
mod settings;
pub(crate) mod smol_stack;
mod snapshot;
mod ssh_like;
mod stats;
mod tasks;
mod tcp_closed;
mod tcp_echo;
pub mod tcp_lossy;
mod udp_closed;
mod udp_echo;
mod udp_lossy;

pub use controller::Lab;
pub use kind::GeneratorKind;
pub use lossy::{DirectionStats, Impairer, LinkConfig, LinkStats};
pub use settings::LabSettings;
pub use snapshot::{GeneratorSnapshot, LabSnapshot};
pub use stats::GeneratorStats;
pub use tasks::{Cancel, TaskCounter};
