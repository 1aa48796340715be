//! Headless: the same engine as the TUI, printing instead of drawing (`--print`, `--check`,
//! `--save`).

pub mod drive;
pub mod print;
pub mod rules;
