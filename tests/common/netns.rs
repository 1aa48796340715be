//! Running commands and living in network namespaces, for the tests that build their own hosts
//! (root only): the kernel differential tests.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};

pub fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Moves the calling thread into a namespace (sockets it then opens live there).
pub fn enter_netns(name: &str) {
    let f = File::open(format!("/run/netns/{name}"))
        .unwrap_or_else(|e| panic!("/run/netns/{name}: {e}"));
    // SAFETY: setns with a valid namespace fd; it affects only the calling thread.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

pub fn in_ns(ns: &str, prog: &str, args: &[&str]) -> String {
    run(Command::new("ip")
        .args(["netns", "exec", ns, prog])
        .args(args))
}

pub fn ip(args: &[&str]) -> String {
    run(Command::new("ip").args(args))
}

pub fn ip_batch(ns: &str, batch: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("batch");
    std::fs::write(&p, batch).unwrap();
    ip(&["-n", ns, "-batch", p.to_str().unwrap()]);
}

pub fn run(cmd: &mut Command) -> String {
    let o = run_out(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn run_out(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

pub fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

/// Whether a namespace test can run here: root, the tools it names, and network namespaces
/// that can be created. Otherwise it says why (a failure in CI, see `require_or_skip`).
pub fn ready(what: &str, tools: &[&str], packages: &str) -> bool {
    if !super::is_root() {
        super::require_or_skip(&format!("{what} needs root (namespaces, nft)"));
        return false;
    }
    for tool in tools {
        if !super::have_tool(tool) {
            super::require_or_skip(&format!(
                "`{tool}` not found (apt-get install -y {packages})"
            ));
            return false;
        }
    }
    let probe = format!("plk-probe-{}", std::process::id());
    let ok = run_out(Command::new("ip").args(["netns", "add", &probe]))
        .status
        .success();
    let _ = run_out(Command::new("ip").args(["netns", "del", &probe]));
    if !ok {
        super::require_or_skip("cannot create network namespaces here");
    }
    ok
}
