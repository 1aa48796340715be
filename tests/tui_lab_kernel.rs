//! `--lab-kernel` in the real TUI (root), driven in tmux: the firewall pane's title carries
//! the kernel's agreement; Space on the drop rule loads the change into the kernel's nodes,
//! an SSH connection on the kernel's own sockets becomes ESTABLISHED within 5 s, and the
//! kernel still agrees on every packet; q, or SIGINT from outside, ends the run with no
//! `packetlab-*` namespace of it left.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

/// One run at a time: a start removes the namespaces of runs it takes for dead.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn ready() -> bool {
    if !common::is_root() {
        common::require_or_skip("--lab-kernel needs root (network namespaces)");
        return false;
    }
    for t in ["ip", "nft", "ethtool", "tmux"] {
        if !common::have_tool(t) {
            common::require_or_skip(&format!("{t} is not installed"));
            return false;
        }
    }
    true
}

fn namespaces_of(pid: u32) -> Vec<String> {
    let o = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let prefix = format!("packetlab-{pid}-");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// The focused pane's title (its border is heavy: `┏`).
fn focused(screen: &str) -> String {
    screen
        .lines()
        .flat_map(|l| l.split('┏').skip(1))
        .map(|t| t.split('┓').next().unwrap_or_default().to_string())
        .next()
        .unwrap_or_default()
}

/// Whether a row or title carries the ≠ of a disagreement (the notice explains the mark).
fn differs(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains('≠') && !l.contains("where it differs"))
}

/// The agreement in the firewall pane's title: (agree, compared).
fn agreement(screen: &str) -> Option<(u64, u64)> {
    let t = screen.lines().find_map(|l| {
        let i = l.find("kernel ")?;
        Some(l[i + 7..].to_string())
    })?;
    let nums = t.split_whitespace().next()?;
    let (a, c) = nums.split_once('/')?;
    Some((a.parse().ok()?, c.parse().ok()?))
}

/// Starts the TUI in tmux; the program's PID (it is exec'd by the shell that wrote it).
fn start(name: &str, w: u16, h: u16) -> (Tmux, u32) {
    let pidfile = std::env::temp_dir().join(format!("{name}.pid"));
    let _ = std::fs::remove_file(&pidfile);
    let cmd = format!(
        "sh -c 'echo $$ > {}; exec {} --lab firewall-blocks-ssh --lab-kernel'",
        pidfile.display(),
        common::bin().display()
    );
    let t = Tmux::start_sized(name, &cmd, w, h);
    let t0 = Instant::now();
    let pid = loop {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no pid file");
        std::thread::sleep(Duration::from_millis(50));
    };
    (t, pid)
}

fn wait_gone(pid: u32) {
    let t0 = Instant::now();
    while !namespaces_of(pid).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "left behind: {:?}",
            namespaces_of(pid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_kernel_agrees_in_the_title_and_space_lets_ssh_through_on_the_kernels_sockets() {
    if !ready() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (t, pid) = start(
        &format!("packetlab-kernel-tui-{}", std::process::id()),
        160,
        45,
    );
    t.wait_for("Kernel lab (namespaces packetlab-");
    assert_eq!(namespaces_of(pid).len(), 6, "{:?}", namespaces_of(pid));
    let s = t.wait_until(15, "SYNs to :22 sent again (✘3)", |s| {
        s.lines()
            .any(|l| l.contains(":22") && l.contains("SYN_SENT ✘3"))
    });
    let (a, c) = agreement(&s).expect("an agreement in the firewall pane's title");
    assert!(c >= 5 && a == c, "{a}/{c}:\n{s}");
    assert!(!differs(&s), "a disagreement:\n{s}");
    for _ in 0..6 {
        if focused(&t.screen()).contains(".nft") {
            break;
        }
        t.keys(&["Tab"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(focused(&t.screen()).contains(".nft"), "{}", t.screen());
    // The selected rule is the first; the drop rule is the next.
    t.keys(&["Down"]);
    std::thread::sleep(Duration::from_millis(200));
    t.keys(&["Space"]);
    let toggled = Instant::now();
    t.wait_until(5, "the drop rule off", |s| {
        s.lines()
            .any(|l| l.contains("[ ]") && l.contains("dport 22"))
    });
    let s = t.wait_until(5, "an SSH session ESTABLISHED", |s| {
        s.lines()
            .any(|l| l.contains(":22") && (l.contains("ESTABLISHED") || l.contains("TIME_WAIT")))
    });
    assert!(
        toggled.elapsed() <= Duration::from_secs(5),
        "established after {:?}:\n{s}",
        toggled.elapsed()
    );
    // What came after the change is compared too, and still agrees.
    std::thread::sleep(Duration::from_secs(1));
    let s = t.screen();
    let (a2, c2) = agreement(&s).expect("the agreement");
    assert!(c2 > c && a2 == c2, "{a2}/{c2}:\n{s}");
    assert!(!differs(&s), "a disagreement:\n{s}");
    t.keys(&["q"]);
    wait_gone(pid);
}

#[test]
fn sigint_from_outside_ends_the_tui_and_removes_the_namespaces() {
    if !ready() {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (t, pid) = start(
        &format!("packetlab-kernel-int-{}", std::process::id()),
        120,
        40,
    );
    t.wait_for("Kernel lab (namespaces packetlab-");
    assert_eq!(namespaces_of(pid).len(), 6);
    // SAFETY: kill(2) on the PID of the program this test started (exec'd in its shell).
    let r = unsafe { libc::kill(pid as i32, libc::SIGINT) };
    assert_eq!(r, 0);
    wait_gone(pid);
    drop(t);
}
