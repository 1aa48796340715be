//! The real binary in a real terminal: tmux runs it on a capture file, keys are sent with
//! `send-keys`, the screen is read with `capture-pane`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

use packetlab::capture::write::PcapngWriter;

fn write_sample(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapngWriter::new(f, vec![]).unwrap();
    for fr in common::frames::sample() {
        w.write(&fr.as_ref()).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn browse_a_capture_file_with_keys() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    let cmd = format!(
        "sh -c '{} -r {} --rules none; echo \"packetlab exited $?\"; stty -a | tr -s \" ;\" \"\\n\" | grep -x -e icanon -e -icanon -e echo -e -echo | tr \"\\n\" \" \"; echo; sleep 30'",
        common::bin().display(),
        cap.display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-{}", std::process::id()), &cmd);
    t.wait_for("Packets (9)");
    t.wait_for(" END ");
    // Follow mode starts on the newest packet; g goes to the first, Down to the DNS query.
    t.keys(&["g", "Down", "Enter"]);
    let s = t.wait_for("Packet 2 detail");
    assert!(
        s.contains("Domain Name System (query)"),
        "detail of the selected packet:\n{s}"
    );
    assert!(s.contains("Query: example.org A"), "{s}");
    assert!(
        s.contains("Hex (71 bytes"),
        "hex view of the selected packet:\n{s}"
    );
    t.keys(&["?"]);
    let s = t.wait_for("? closes");
    assert!(s.contains("pause capture"), "{s}");
    t.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    let s = t.screen();
    assert!(!s.contains("? closes"), "help closed:\n{s}");
    assert!(s.contains("Packet 2 detail"), "detail still open:\n{s}");
    t.keys(&["q"]);
    t.wait_for("packetlab exited");
    // The stty line comes right after: wait for it too.
    let s = t.wait_for("canon");
    assert!(s.contains("packetlab exited 0"), "exit code 0:\n{s}");
    // Back on the normal screen, with the line discipline restored (cooked mode, echo on).
    assert!(!s.contains("Packets (9)"), "alternate screen left:\n{s}");
    assert!(
        s.contains("icanon") && !s.contains("-icanon"),
        "canonical mode restored:\n{s}"
    );
    assert!(
        s.contains("echo") && !s.contains("-echo"),
        "echo restored:\n{s}"
    );
}

#[test]
fn a_corrupt_file_is_reported_and_the_program_keeps_running_then_exits_1() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("cut.pcapng");
    write_sample(&cap);
    // Cut the file in the middle of the last packet.
    let bytes = std::fs::read(&cap).unwrap();
    std::fs::write(&cap, &bytes[..bytes.len() - 20]).unwrap();
    let cmd = format!(
        "sh -c '{} -r {}; echo \"packetlab exited $?\"; sleep 30'",
        common::bin().display(),
        cap.display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-cut-{}", std::process::id()), &cmd);
    let s = t.wait_for("cut short in the middle of packet 9");
    assert!(
        s.contains("Packets (8)"),
        "what was read before the damage is kept:\n{s}"
    );
    t.keys(&["q"]);
    let s = t.wait_for("packetlab exited");
    // The error is said again once the screen is restored, and the exit code tells a script.
    assert!(s.contains("packetlab exited 1"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.starts_with("packetlab: ")
                && l.contains("cut short in the middle of packet 9")),
        "{s}"
    );
}

#[test]
fn the_terminal_is_restored_after_a_panic() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    let cmd = format!(
        "sh -c 'PACKETLAB_TEST_PANIC=1 {} -r {} 2>{}/err; echo \"packetlab exited $?\"; stty -a | tr -s \" ;\" \"\\n\" | grep -x -e icanon -e -icanon -e echo -e -echo | tr \"\\n\" \" \"; echo; sleep 30'",
        common::bin().display(),
        cap.display(),
        dir.path().display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-panic-{}", std::process::id()), &cmd);
    t.wait_for("Packets (9)");
    t.keys(&["F12"]);
    t.wait_for("packetlab exited");
    // The stty line comes right after: wait for it too.
    let s = t.wait_for("canon");
    assert!(
        !s.contains("packetlab exited 0"),
        "a panic is not a clean exit:\n{s}"
    );
    assert!(!s.contains("Packets (9)"), "alternate screen left:\n{s}");
    assert!(
        s.contains("icanon") && !s.contains("-icanon"),
        "canonical mode restored:\n{s}"
    );
    assert!(
        s.contains("echo") && !s.contains("-echo"),
        "echo restored:\n{s}"
    );
    let err = std::fs::read_to_string(dir.path().join("err")).unwrap();
    assert!(
        err.contains("panic requested with F12"),
        "the panic is reported: {err}"
    );
}

#[test]
fn sessions_sort_select_and_jump_to_packets() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    let cmd = format!(
        "sh -c '{} -r {}; echo \"packetlab exited $?\"; sleep 30'",
        common::bin().display(),
        cap.display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-sess-{}", std::process::id()), &cmd);
    t.wait_for("Sessions (3)");
    t.wait_for(" END ");
    // Focus the sessions pane and sort: s eight times reaches "bytes" (biggest first).
    t.keys(&["1", "s", "s", "s", "s", "s", "s", "s", "s"]);
    let s = t.wait_for("sort: bytes");
    let first_row = s.lines().find(|l| l.contains("192.168.1.10")).unwrap_or("");
    assert!(
        first_row.contains("TCP"),
        "the TCP session has the most bytes:\n{s}"
    );
    // The selection stays on its session through a re-sort: g selects the top row. Open its
    // detail, then jump to its packets.
    t.keys(&["g", "Enter"]);
    let s = t.wait_for("Session 1 ");
    assert!(s.contains("State changes"), "{s}");
    t.keys(&["J"]);
    let s = t.wait_for("Packets of session 1 (5 of 9)");
    assert!(
        s.contains("[SYN]") && s.contains("[RST]"),
        "its packets are listed:\n{s}"
    );
    assert!(!s.contains("Who has"), "other packets are not:\n{s}");
    t.keys(&["Escape"]);
    t.wait_for("Packets (9)");
    t.keys(&["q"]);
    let s = t.wait_for("packetlab exited");
    assert!(s.contains("packetlab exited 0"), "{s}");
}

#[test]
fn toggling_a_firewall_rule_changes_counters_and_colours() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    let rules = dir.path().join("rules.nft");
    std::fs::write(
        &rules,
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    \
         ct state established,related accept\n    udp dport 53 counter accept\n    \
         tcp dport 80 ct state new counter accept\n    icmp type echo-request accept\n  }\n}\n",
    )
    .unwrap();
    let cmd = format!(
        "sh -c '{} -r {} --rules {}; echo \"packetlab exited $?\"; sleep 30'",
        common::bin().display(),
        cap.display(),
        rules.display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-fw-{}", std::process::id()), &cmd);
    t.wait_for("8 accepted, 0 dropped, 0 rejected");
    t.wait_for(" END ");
    let s = t.screen();
    let rule6 = |s: &str| {
        s.lines()
            .find(|l| l.contains("   6  tcp dport 80"))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        rule6(&s).contains("[x]") && rule6(&s).contains(" 1 pkts"),
        "rule 6 counted the SYN:\n{s}"
    );
    // Focus the firewall pane, select line 6 (the third rule) and disable it with Space.
    t.keys(&["5", "j", "j", "Space"]);
    let s = t.wait_for("3 accepted, 5 dropped, 0 rejected");
    assert!(
        rule6(&s).contains("[ ]") && rule6(&s).contains(" 0 pkts"),
        "the rule is off and counts nothing:\n{s}"
    );
    // The SYN's verdict cell is now red ("drop" in light red: colour 9, which tmux writes as
    // SGR 38;5;9 or 91).
    let coloured = Command::new("tmux")
        .args(["capture-pane", "-e", "-p", "-t", &t.name])
        .output()
        .unwrap();
    let coloured = String::from_utf8_lossy(&coloured.stdout);
    let syn_line = coloured
        .lines()
        .find(|l| l.contains("51000 → 80 [SYN]"))
        .unwrap();
    assert!(
        syn_line.contains("\x1b[38;5;9mdrop") || syn_line.contains("\x1b[91mdrop"),
        "a red drop verdict: {syn_line:?}"
    );
    // Space again brings the rule back.
    t.keys(&["Space"]);
    t.wait_for("8 accepted, 0 dropped, 0 rejected");
    t.keys(&["q"]);
    let s = t.wait_for("packetlab exited");
    assert!(s.contains("packetlab exited 0"), "{s}");
}

#[test]
fn the_program_leaves_when_its_terminal_goes_away() {
    if !common::have_tool("tmux") || !common::have_tool("setsid") {
        common::require_or_skip("tmux or setsid is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    let pidfile = dir.path().join("pid");
    // setsid: no SIGHUP reaches packetlab when the terminal closes, only a dead tty — the case
    // where a TUI may spin forever on it.
    let cmd = format!(
        "setsid -w sh -c 'echo $$ > {}; exec {} -r {}'",
        pidfile.display(),
        common::bin().display(),
        cap.display()
    );
    let name = format!("packetlab-e2e-hup-{}", std::process::id());
    let t = Tmux::start(&name, &cmd);
    t.wait_for("Packets (9)");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    drop(t); // kills the tmux session: the terminal is gone
    let t0 = Instant::now();
    // SAFETY: kill with signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        if t0.elapsed() > Duration::from_secs(5) {
            // SAFETY: the pid is the packetlab this test started; end it before failing.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("packetlab still runs 5 s after its terminal went away");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number after `label` on the screen line that mentions `row`.
fn counter_in(screen: &str, row: &str, label: &str) -> Option<u64> {
    let line = screen.lines().find(|l| l.contains(row))?;
    let rest = &line[line.find(label)? + label.len()..];
    rest.split_whitespace()
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

#[test]
fn lab_udp_vs_tcp_scenario_from_a_key_shows_sessions_and_loss() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    if !common::is_root() {
        common::require_or_skip("needs root to capture the lab's traffic on lo");
        return;
    }
    let cmd = format!(
        "sh -c '{} -i lo; echo \"packetlab exited $?\"; sleep 30'",
        common::bin().display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-lab-{}", std::process::id()), &cmd);
    // The idle lab is one line; L opens it.
    t.wait_for(" Lab ");
    t.keys(&["L"]);
    t.wait_for("Lab — 10 msg/s");
    // Start the first scenario, udp-vs-tcp, with s: UDP and TCP over the lossy link at 50
    // messages a second.
    t.keys(&["s"]);
    t.wait_for("Lab: UDP and TCP over the same lossy");
    t.wait_for("Lab — 50 msg/s");
    std::thread::sleep(Duration::from_secs(4));
    let s = t.screen();
    let udp_lost = counter_in(&s, "UDP over the lossy", "lost").unwrap_or(0);
    let tcp_retx = counter_in(&s, "TCP over the lossy", "retx").unwrap_or(0);
    let tcp_lost = counter_in(&s, "TCP over the lossy", "lost").unwrap_or(0);
    assert!(udp_lost > 0, "UDP loses messages at 10 % loss:\n{s}");
    assert!(tcp_retx > 0, "TCP retransmits instead:\n{s}");
    assert_eq!(tcp_lost, 0, "TCP loses nothing:\n{s}");
    // Their traffic is on lo: the sessions pane lists the lab's UDP sessions, owned by us.
    // The sessions pane, maximised, has room for the process column.
    t.keys(&["1", "z"]);
    let s1 = t.wait_for("Process");
    let sessions = s1
        .lines()
        .filter(|l| l.contains("UDP") && l.contains("127.0.0.1") && l.contains("packetlab("))
        .count();
    assert!(
        sessions >= 2,
        "the lab's sessions appear, with packetlab as their process:\n{s1}"
    );
    t.keys(&["z", "6"]);
    // The counters keep moving.
    std::thread::sleep(Duration::from_secs(2));
    let s2 = t.screen();
    let udp_lost2 = counter_in(&s2, "UDP over the lossy", "lost").unwrap_or(0);
    let retx2 = counter_in(&s2, "TCP over the lossy", "retx").unwrap_or(0);
    assert!(
        udp_lost2 > udp_lost || retx2 > tcp_retx,
        "counters move:\n{s2}"
    );
    t.keys(&["q"]);
    let s = t.wait_for("packetlab exited");
    assert!(s.contains("packetlab exited 0"), "{s}");
}

#[test]
fn display_filter_shrinks_the_list_and_clears() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    let cmd = format!(
        "sh -c '{} -r {}; echo \"packetlab exited $?\"; sleep 30'",
        common::bin().display(),
        cap.display()
    );
    let t = Tmux::start(
        &format!("packetlab-e2e-filter-{}", std::process::id()),
        &cmd,
    );
    t.wait_for("Packets (9)");
    t.wait_for(" END ");
    // Focus the packets, open the filter bar, type a filter.
    t.keys(&["2", "/"]);
    Command::new("tmux")
        .args(["send-keys", "-t", &t.name, "-l", "icmp || dns"])
        .status()
        .unwrap();
    t.wait_for("✔ Enter applies");
    t.keys(&["Enter"]);
    let s = t.wait_for("showing 3 of 9");
    assert!(s.contains("Packets matching icmp || dns (3 of 9)"), "{s}");
    assert!(!s.contains("[SYN]"), "TCP packets are hidden:\n{s}");
    // Clear it: an empty filter shows everything again.
    t.keys(&[
        "/", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "BSpace",
        "BSpace", "BSpace", "BSpace", "Enter",
    ]);
    let s = t.wait_for("Packets (9)");
    assert!(!s.contains("showing"), "{s}");
    t.keys(&["q"]);
    let s = t.wait_for("packetlab exited");
    assert!(s.contains("packetlab exited 0"), "{s}");
}

/// A real-world ruleset loaded as it is: an include, a define, a NAT chain, a rate limit and a
/// rule packetlab cannot simulate. The file loads in full; the unsupported rule is red and
/// counted in the title, the approximate verdicts marked ≈ in the packet list.
#[test]
fn a_partly_supported_ruleset_loads_with_its_banner() {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("sample.pcapng");
    write_sample(&cap);
    std::fs::write(dir.path().join("defs.nft"), "define DNS = 53\n").unwrap();
    let rules = dir.path().join("rules.nft");
    std::fs::write(
        &rules,
        "include \"defs.nft\"\n\
         table ip nat {\n  chain post {\n    type nat hook postrouting priority srcnat;\n    oifname \"wan0\" masquerade\n  }\n}\n\
         table inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop\n    \
         ct state vmap { established : accept, related : accept, invalid : drop }\n    \
         udp dport $DNS limit rate 10/second accept\n    \
         tcp dport 80 osf name \"Linux\" accept\n    icmp type echo-request accept\n  }\n}\n",
    )
    .unwrap();
    let cmd = format!(
        "sh -c '{} -r {} --rules {}; echo \"packetlab exited $?\"; sleep 30'",
        common::bin().display(),
        cap.display(),
        rules.display()
    );
    let t = Tmux::start(&format!("packetlab-e2e-rw-{}", std::process::id()), &cmd);
    let s = t.wait_for("✘ 1 unsupported rule (red): never match here");
    assert!(
        s.contains("≈accept"),
        "the DNS verdict is approximate:\n{s}"
    );
    t.keys(&["5", "z"]);
    let s = t.wait_for("✘ unsupported: 'osf'");
    assert!(s.contains("not simulated"), "the NAT chain is shown:\n{s}");
    assert!(s.contains("≈ modelled"), "the limit is modelled:\n{s}");
    let coloured = Command::new("tmux")
        .args(["capture-pane", "-e", "-p", "-t", &t.name])
        .output()
        .unwrap();
    let coloured = String::from_utf8_lossy(&coloured.stdout);
    let line = coloured.lines().find(|l| l.contains("osf name")).unwrap();
    assert!(
        line.contains("\x1b[38;5;9m") || line.contains("\x1b[91m"),
        "the unsupported rule is red: {line:?}"
    );
    t.keys(&["q"]);
    let s = t.wait_for("packetlab exited");
    assert!(s.contains("packetlab exited 0"), "{s}");
}
