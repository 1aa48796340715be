//! The lab network: hosts with their own TCP/IP stacks (smoltcp), a router between a LAN and
//! a WAN, switches and a lossy WAN link, all inside packetlab — no privilege, nothing of it
//! in the kernel's network. The ruleset is enforced there: each node runs its own copy
//! through the simulator, and what the simulator says is what happens (a drop is a frame not
//! delivered, a reject the reset or ICMP error the kernel would send, masquerade a
//! translated source). Every frame on a segment is captured, as a capture interface
//! (`lab-lan0`, `lab-wan0`) would see it.
//!
//! Engine code: no terminal, no sockets, no threads; virtual time that the caller advances
//! (`Network::run_until`). The layers, each using those above it: `topology` (names and
//! addresses) and `frame` (bytes); `enforce` (a node's ruleset), `nat`; `apps` (the programs);
//! `host`, `router`; `net` (the network and its events); `scenarios` (which apps each
//! scenario runs); `run` (a scenario run to frames for the engine).

pub mod apps;
pub mod enforce;
pub mod frame;
pub mod host;
pub mod nat;
pub mod net;
pub mod router;
pub mod run;
pub mod scenarios;
pub mod topology;

#[cfg(test)]
mod net_tests;
#[cfg(test)]
mod robust_tests;

pub use net::{Captured, Network};
pub use run::LabRun;
