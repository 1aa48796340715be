//! The lab network in the real TUI, driven in tmux: the firewall-blocks-ssh scenario drops
//! alice's SSH at the router; Space on the drop rule, and within 5 s a new SSH connection is
//! ESTABLISHED in the sessions pane — the firewall is enforced, not only drawn.

mod common;

use std::time::{Duration, Instant};

use common::tmux::Tmux;

/// The line of the focused pane's title (its border is heavy: `┏`).
fn focused(screen: &str) -> String {
    screen
        .lines()
        .flat_map(|l| l.split('┏').skip(1))
        .map(|t| t.split('┓').next().unwrap_or_default().to_string())
        .next()
        .unwrap_or_default()
}

#[test]
fn space_on_the_drop_rule_lets_ssh_through_within_five_seconds() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let cmd = format!(
        "sh -c 'cd /tmp && {} --lab firewall-blocks-ssh; sleep 30'",
        common::bin().display()
    );
    let t = Tmux::start_sized(
        &format!("packetlab-labnet-{}", std::process::id()),
        &cmd,
        140,
        45,
    );
    t.wait_for("Lab network — firewall-blocks-ssh");
    // Blocked first: SYNs to 22 sent again, never answered.
    t.wait_until(10, "a SYN to :22 sent again (✘3)", |s| {
        s.lines()
            .any(|l| l.contains(":22") && l.contains("SYN_SENT ✘3"))
    });
    assert!(
        !t.screen()
            .lines()
            .any(|l| l.contains(":22") && l.contains("ESTABLISHED")),
        "SSH established while the rule drops it:\n{}",
        t.screen()
    );
    // Sessions newest first, then the firewall pane.
    for _ in 0..6 {
        if focused(&t.screen()).starts_with(" Sessions") {
            break;
        }
        t.keys(&["Tab"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        focused(&t.screen()).starts_with(" Sessions"),
        "{}",
        t.screen()
    );
    t.keys(&["S"]);
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
    let s = t.wait_until(5, "the drop rule off", |s| {
        s.lines()
            .any(|l| l.contains("[ ]") && l.contains("dport 22"))
    });
    assert!(toggled.elapsed() < Duration::from_secs(2), "{s}");
    let s = t.wait_until(5, "an SSH session ESTABLISHED", |s| {
        s.lines()
            .any(|l| l.contains(":22") && l.contains("ESTABLISHED"))
    });
    assert!(
        toggled.elapsed() <= Duration::from_secs(5),
        "established after {:?}:\n{s}",
        toggled.elapsed()
    );
    t.keys(&["q"]);
}
