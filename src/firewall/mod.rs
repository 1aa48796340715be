//! The firewall simulator: a ruleset (nft syntax, or imported from iptables-save), the kernel's
//! connection tracking, and the verdict each packet gets — with per-rule counters and a trace.
//! Engine code: no terminal.

pub mod analysis;
pub mod atoms;
pub mod clock;
pub mod compile;
pub mod conntrack;
pub mod eval;
pub mod iptables;
pub mod lexer;
pub mod locality;
pub mod model;
pub mod names;
pub mod nft;
pub mod report;
pub mod save;
pub mod services;
pub mod simulator;
pub mod syntax;
pub mod tcp_window;

pub use locality::{parse_local, Locality};
pub use simulator::{bytes_of, extra_of, view_of, Counter, Firewall, Judgement};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod real_world_tests;

#[cfg(test)]
mod stateful_tests;

#[cfg(test)]
mod atoms_tests;

#[cfg(test)]
mod host_tests;

#[cfg(test)]
mod test_packets;
