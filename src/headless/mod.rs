//! Headless: the same engine as the TUI, printing instead of drawing (`--print`, `--check`,
//! `--save`), over a capture, live interfaces or the lab network (`lab.rs`).

pub mod drive;
pub mod lab;
pub mod print;
pub mod rules;
