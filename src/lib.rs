//! packetlab: a terminal packet lab. The library holds the engine (capture, decode, store) that
//! the TUI, the headless printers, the tests and the benchmarks all drive.

pub mod app;
pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod engine;
pub mod explain;
pub mod filter;
pub mod firewall;
pub mod follow;
pub mod headless;
pub mod kernel_lab;
pub mod lab;
pub mod launch;
pub mod names;
pub mod procs;
pub mod run;
pub mod sanitize;
pub mod scenario;
pub mod sessions;
pub mod store;
pub mod throughput;
pub mod tui;
pub mod ui;
pub mod vnet;
