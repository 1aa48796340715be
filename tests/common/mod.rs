//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// `../shared/captures`, or `None` (with the reason printed) on a clone without it. In CI its
/// absence is a failure, not a skip.
pub fn captures_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    if dir.is_dir() {
        return Some(dir);
    }
    require_or_skip(&format!(
        "{} not found (the shared capture corpus)",
        dir.display()
    ));
    None
}

/// Prints why a test is skipped; panics instead when running in CI, where nothing may be skipped.
pub fn require_or_skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("required in CI but missing: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn have_tool(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_packetlab"))
}

/// Every capture file in the corpus (not the truth folders), sorted.
pub fn capture_files(dir: &PathBuf) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            (n.ends_with(".pcap") || n.ends_with(".pcapng")) && p.is_file()
        })
        .collect();
    v.sort();
    v
}

pub mod frames;
pub mod netns;
pub mod tmux;
