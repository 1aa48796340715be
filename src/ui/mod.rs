//! Drawing: a pure function of `&App`. No I/O, no locking, nothing decoded here except the rows
//! on screen (their Info text) and the one selected packet's hex.

mod capture_list;
mod detail;
pub mod draw;
mod firewall;
mod graphs;
mod help;
mod hex;
mod lab;
pub(crate) mod lab_net;
pub mod layout;
mod session_detail;
mod sessions;
mod status;
pub mod theme;
pub mod widgets;

pub use draw::render;
