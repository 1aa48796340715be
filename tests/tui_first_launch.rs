//! The release binary as a new user meets it, in tmux: no arguments (live capture as root), the
//! four panes with the starter firewall, a rule toggled with Space, a lab generator whose
//! packets appear, 80×24 with a packet open, a too-small terminal, and NO_COLOR.

mod common;

use common::tmux::Tmux;

fn tmux_or_skip() -> bool {
    if !common::have_tool("tmux") {
        common::require_or_skip("tmux is not installed");
        return false;
    }
    true
}

/// The verdict counts in the firewall pane's title ("starter rules: 12 acc 0 drop 1 rej" or
/// "… — 12 accepted, 0 dropped, 1 rejected"), as written.
fn fw_counts(screen: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let at = l.find("starter rules: ").map(|i| i + 15).or_else(|| {
            l.find("starter ruleset")
                .and_then(|i| l[i..].find("— ").map(|j| i + j + 4))
        })?;
        let rest = &l[at..];
        let end = rest.find(" rej").map(|e| e + 4)?;
        Some(rest[..end].to_string())
    })
}

#[test]
fn no_arguments_shows_the_four_panes_and_the_lab_is_seen_and_judged() {
    if !tmux_or_skip() {
        return;
    }
    if !common::is_root() {
        common::require_or_skip("live capture (no arguments) needs root");
        return;
    }
    let cmd = format!("{}; sleep 30", common::bin().display());
    let t = Tmux::start_sized(
        &format!("packetlab-first-{}", std::process::id()),
        &cmd,
        120,
        40,
    );
    let s = t.wait_until(10, "the four panes", |s| {
        s.contains("Sessions (")
            && s.contains(" Lab ")
            && s.contains("Packets (")
            && fw_counts(s).is_some()
    });
    assert!(s.contains("LIVE "), "captures live as root:\n{s}");
    // (b) The lab's first generator (UDP echo): its packets reach the list within 3 s, with lo
    // added to the capture.
    t.keys(&["L", "Enter"]);
    let s = t.wait_until(3, "the lab's packets", |s| {
        s.lines()
            .any(|l| l.contains("127.0.0.1") && l.contains("UDP") && l.contains("Len="))
    });
    assert!(
        s.lines()
            .any(|l| l.contains("LIVE ") && (l.contains(",lo ") || l.contains("LIVE lo "))),
        "lo joined the capture (the status bar names it):\n{s}"
    );
    // (a) Focus the firewall, Space on its first rule (answers accepted by conntrack): the
    // counts in its title change.
    let before = fw_counts(&s).unwrap();
    t.keys(&["5", "g", "Space"]);
    let s = t.wait_until(5, "the counts to change", |s| {
        fw_counts(s).is_some_and(|c| c != before)
    });
    assert!(s.contains("[ ]"), "the rule is shown off:\n{s}");
    t.keys(&["q"]);
}

#[test]
fn at_80x24_an_open_packet_shows_list_detail_and_hex_and_a_tiny_terminal_says_so() {
    if !tmux_or_skip() {
        return;
    }
    let cmd = format!("{} --demo; sleep 30", common::bin().display());
    let t = Tmux::start_sized(
        &format!("packetlab-small-{}", std::process::id()),
        &cmd,
        80,
        24,
    );
    // Enough packets that the list can fill its rows.
    let count = |s: &str| -> u64 {
        s.split("Packets (")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    t.wait_until(15, "6 packets", |s| count(s) >= 6);
    t.keys(&["2", "Enter"]);
    let s = t.wait_until(5, "the detail", |s| {
        s.contains("detail") && s.contains("Hex (")
    });
    let lines: Vec<&str> = s.lines().collect();
    // Rows inside a pane: lines from its title line down to its bottom border.
    let rows_of = |title: &str| -> usize {
        let start = lines
            .iter()
            .position(|l| l.contains(title))
            .unwrap_or_else(|| panic!("{title}:\n{s}"));
        let col = lines[start].find(title).unwrap();
        lines[start + 1..]
            .iter()
            .take_while(|l| {
                let c = l.get(col.saturating_sub(3)..).unwrap_or("");
                !c.starts_with('└') && !c.starts_with('┗') && !l.trim().is_empty()
            })
            .count()
    };
    let list = lines
        .iter()
        .filter(|l| l.starts_with('│') || l.starts_with('┃'))
        .filter(|l| {
            l[3..]
                .split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u64>().is_ok())
        })
        .filter(|l| l.contains("127.0.0.1"))
        .count();
    assert!(list >= 3, "3 packet rows at least:\n{s}");
    assert!(rows_of("detail") >= 3, "3 detail rows at least:\n{s}");
    assert!(rows_of("Hex (") >= 3, "3 hex rows at least:\n{s}");
    t.resize(50, 14);
    t.wait_until(5, "the too-small message", |s| {
        s.contains("terminal too small (50×14; needs 60×15)")
    });
    t.resize(80, 24);
    t.wait_until(5, "the panes again", |s| s.contains("Packets ("));
    t.keys(&["q"]);
}

#[test]
fn no_color_marks_the_selected_row_with_reverse_video() {
    if !tmux_or_skip() {
        return;
    }
    let cmd = format!("NO_COLOR=1 {} --demo; sleep 30", common::bin().display());
    let t = Tmux::start_sized(
        &format!("packetlab-nocolor-{}", std::process::id()),
        &cmd,
        100,
        30,
    );
    t.wait_until(10, "some packets", |s| s.contains("127.0.0.1"));
    // Browse: the selected row stays put while the demo goes on.
    t.keys(&["2", "g", "j"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let e = t.screen_escaped();
    let sel = e
        .lines()
        .find(|l| l.contains("\u{1b}[7m") && l.contains("127.0.0.1"))
        .unwrap_or_else(|| panic!("a reverse-video packet row:\n{e}"));
    // No colour anywhere: no SGR 30–37, 40–47, 90–97, 100–107 or 38/48 sequences.
    let coloured = e.split("\u{1b}[").skip(1).any(|seq| {
        let params = seq.split('m').next().unwrap_or("");
        params.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=37 | 40..=47 | 90..=97 | 100..=107 | 38 | 48)
            )
        })
    });
    assert!(!coloured, "NO_COLOR draws no colour:\n{e}");
    assert!(sel.contains("127.0.0.1"));
    t.keys(&["q"]);
}
