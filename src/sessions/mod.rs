//! Sessions: who talks to whom, over what, how much, in what state. Engine code: no terminal.

pub mod key;
pub mod names;
pub mod table;
pub mod tcp_state;

pub use key::{Endpoint, Flow, SessionKey, SessionProto};
pub use table::{DirStats, Observed, Owner, Session, SessionTable};
pub use tcp_state::{TcpState, TcpTracker};

#[cfg(test)]
mod tests;
