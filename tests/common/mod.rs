//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Every capture corpus that exists, the project's own first:
/// - `tests/data/captures/` (in the repository, made by `scripts/make-test-corpus.sh` and
///   `scripts/make-test-truth.sh`): always there;
/// - `../shared/captures/` beside the checkout, when present: an addition, so its absence is
///   no failure. `PACKETLAB_SHARED_CAPTURES=DIR` reads it from DIR instead (a DIR that does not
///   exist, e.g. `/nonexistent`, runs the tests as on a fresh clone).
///
/// Each comes with every capture file in it and `FILE.truth/` beside each (tshark's truth).
/// Without any corpus the calling test cannot run: see [`require`].
pub fn corpus_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("PACKETLAB_SHARED_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/captures"));
    let dirs: Vec<PathBuf> = [own_corpus(), shared]
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    require(
        !dirs.is_empty(),
        "no capture corpus (tests/data/captures is missing)",
    );
    dirs
}

/// The project's own corpus, `tests/data/captures/`.
pub fn own_corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures")
}

/// Every capture file of every corpus ([`corpus_dirs`]), corpus by corpus, each sorted.
pub fn all_capture_files() -> Vec<PathBuf> {
    corpus_dirs().iter().flat_map(capture_files).collect()
}

/// The capture `name` in the first corpus that has it.
pub fn corpus_file(name: &str) -> Option<PathBuf> {
    corpus_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `FILE.truth/`, tshark's truth beside a capture file.
pub fn truth_dir(capture: &std::path::Path) -> PathBuf {
    let file = capture.file_name().unwrap().to_string_lossy();
    capture.with_file_name(format!("{file}.truth"))
}

/// `FILE.truth/NAME` beside a capture file.
pub fn truth_file(capture: &std::path::Path, name: &str) -> PathBuf {
    truth_dir(capture).join(name)
}

/// Whether a test that cannot run without `what` (tshark, a corpus) may go on.
///
/// When `have` is false the test FAILS with a clear message, so that cargo's own summary
/// ("test result: FAILED", the test's name under "failures:") shows it did not run, with or
/// without `--nocapture`. Setting `PACKETLAB_ALLOW_SKIP=1` accepts the skip: this returns
/// false (the test returns early and passes) after printing `SKIPPED: ...`. With `CI=true` the
/// skip is never accepted.
pub fn require(have: bool, what: &str) -> bool {
    if have {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let allowed = std::env::var("PACKETLAB_ALLOW_SKIP").is_ok_and(|v| v == "1");
    if ci || !allowed {
        panic!(
            "NOT RUN: {what}. Install what is missing, or set PACKETLAB_ALLOW_SKIP=1 to accept \
             the skip (not in CI)"
        );
    }
    eprintln!("SKIPPED (PACKETLAB_ALLOW_SKIP=1): {what}");
    false
}

/// [`require`] for tshark: true when it is installed.
pub fn require_tshark() -> bool {
    require(
        have_tool("tshark"),
        "tshark is not installed (apt-get install tshark)",
    )
}

/// Prints why a test is skipped; panics instead when running in CI, where nothing may be skipped.
/// (For needs other than tshark and the corpus: root, tmux, nft...)
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
pub mod screen;
pub mod tmux;
