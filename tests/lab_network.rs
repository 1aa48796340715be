//! The lab network, headless and unprivileged: every scenario produces its traffic; the
//! firewall is enforced (SYNs to 22 dropped at the router and sent again with the same
//! sequence number until connect() times out, or, without the rule, an SSH session that
//! carries data); the port scan's findings follow the ruleset; NAT shows the router's address
//! on the WAN. As root the runs are made as `nobody` (runuser), as a student without sudo.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The binary where `nobody` can run it (the build folder may be closed to other users).
/// Copied once per test process: the tests run in parallel, and a binary being written
/// cannot be executed ("text file busy").
fn runnable_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let bin = common::bin();
        if !common::is_root() {
            return bin;
        }
        let dir =
            std::env::temp_dir().join(format!("packetlab-lab-network-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("packetlab");
        std::fs::copy(&bin, &copy).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    })
    .clone()
}

/// Runs packetlab with `args`, as `nobody` when the tests run as root. Returns stdout.
fn lab(args: &[&str]) -> String {
    let bin = runnable_bin();
    let mut cmd = if common::is_root() {
        assert!(
            common::have_tool("runuser"),
            "runuser is needed to run the lab as an unprivileged user"
        );
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "packetlab {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stats(scenario: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--lab", scenario, "--print", "stats", "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(lab(&args).trim()).unwrap()
}

fn packets(scenario: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--lab", scenario, "--print", "packets", "--format", "json"];
    args.extend_from_slice(extra);
    lab(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The counters of the app whose name starts with `app` on `host`.
fn app<'a>(s: &'a Value, host: &str, app: &str) -> &'a Value {
    s["lab"]["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["host"] == host && a["app"].as_str().unwrap().starts_with(app))
        .unwrap_or_else(|| panic!("no app {app} on {host} in {s}"))
}

fn counter(a: &Value, name: &str) -> u64 {
    a["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == name)
        .map_or(0, |c| c[1].as_u64().unwrap())
}

#[test]
fn every_scenario_runs_unprivileged_and_makes_its_traffic() {
    let list = lab(&["--lab", "list"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.len(), 9, "{list}");
    for name in names {
        let s = stats(name, &["--lab-seconds", "6"]);
        let pkts = s["packets"].as_u64().unwrap();
        assert!(pkts >= 20, "{name}: {pkts} packets");
        let apps = s["lab"]["apps"].as_array().unwrap();
        // Some client of the scenario got an answer.
        let answered = apps.iter().any(|a| {
            ["established", "echoed", "replies", "answers", "open"]
                .iter()
                .any(|c| counter(a, c) > 0)
        });
        assert!(answered, "{name}: no client got an answer: {s}");
    }
}

#[test]
fn ssh_syns_are_dropped_at_the_router_retransmitted_and_time_out() {
    let pk = packets("firewall-blocks-ssh", &["--lab-seconds", "8"]);
    let mut by_seq: HashMap<u64, Vec<&Value>> = HashMap::new();
    for p in &pk {
        if p["dport"] == 22 && p["tcp_flags"] == 2 && p["src"] == "192.168.1.10" {
            by_seq
                .entry(p["tcp_seq"].as_u64().unwrap())
                .or_default()
                .push(p);
        }
    }
    assert!(!by_seq.is_empty(), "no SYN to port 22");
    let (seq, syns) = by_seq.iter().max_by_key(|(_, v)| v.len()).unwrap();
    assert!(syns.len() >= 3, "SYN {seq} sent {} times", syns.len());
    for s in syns {
        assert_eq!(s["verdict"], "drop", "{s}");
        assert_eq!(s["chain"], "inet filter forward", "{s}");
        assert_eq!(s["iface"], 0, "seen on lab-lan0 only: {s}");
    }
    assert!(
        !pk.iter().any(|p| p["dport"] == 22 && p["iface"] == 1),
        "a dropped SYN reached the WAN"
    );
    let s = stats("firewall-blocks-ssh", &["--lab-seconds", "8"]);
    let ssh = app(&s, "alice", "ssh");
    assert!(counter(ssh, "timed_out") >= 1, "{ssh}");
    assert_eq!(counter(ssh, "established"), 0, "{ssh}");
    assert!(s["lab"]["router"]["dropped"].as_u64().unwrap() >= 3);
    // The web passes the same router.
    assert!(counter(app(&s, "bob", "http"), "completed") >= 1);
}

fn scenario_rules(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("assets/lab").join(name)).unwrap()
}

/// A copy of `text` without the lines containing `cut`, in a file `nobody` can read.
fn rules_without(text: &str, cut: &str, file: &str) -> PathBuf {
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains(cut)).collect();
    assert!(kept.len() < text.lines().count(), "no line with {cut}");
    let dir = runnable_bin().parent().unwrap().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.join(file);
    std::fs::write(&p, kept.join("\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p
}

#[test]
fn without_the_drop_rule_ssh_is_established_and_carries_data() {
    let rules = rules_without(
        &scenario_rules("firewall-blocks-ssh.nft"),
        "dport 22",
        "no-ssh-drop.nft",
    );
    let r = rules.to_str().unwrap();
    let s = stats("firewall-blocks-ssh", &["--lab-seconds", "8", "--rules", r]);
    let ssh = app(&s, "alice", "ssh");
    assert!(counter(ssh, "established") >= 2, "{ssh}");
    assert!(counter(ssh, "completed") >= 2, "{ssh}");
    assert!(counter(ssh, "bytes_back") > 0, "{ssh}");
    assert_eq!(counter(ssh, "timed_out"), 0, "{ssh}");
    let pk = packets("firewall-blocks-ssh", &["--lab-seconds", "3", "--rules", r]);
    assert!(
        pk.iter()
            .any(|p| p["sport"] == 22 && p["tcp_flags"] == 0x12 && p["verdict"] == "accept"),
        "no SYN-ACK from the server's port 22"
    );
}

fn scan_findings(extra: &[&str]) -> String {
    let mut args = vec!["--lab-seconds", "8"];
    args.extend_from_slice(extra);
    let s = stats("port-scan", &args);
    app(&s, "alice", "port scan")["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_port_scan_sees_what_the_ruleset_makes_of_each_port() {
    // The server listens on 7, 9, 22, 80. The ruleset drops 25, resets 23, and answers 8080
    // with an ICMP port unreachable.
    assert_eq!(
        scan_findings(&[]),
        "open 7,9,22,80; closed 21,23,53,443,3306,8443; filtered 25,8080"
    );
    // Without the drop and the ICMP reject, 25 and 8080 are plainly closed.
    let text = scenario_rules("port-scan.nft");
    let cut: String = text
        .lines()
        .filter(|l| !l.contains("dport 25") && !l.contains("dport 8080"))
        .collect::<Vec<_>>()
        .join("\n");
    let p = rules_without(&cut, "dport 23", "scan-open.nft");
    assert_eq!(
        scan_findings(&["--rules", p.to_str().unwrap()]),
        "open 7,9,22,80; closed 21,23,25,53,443,3306,8080,8443; filtered -"
    );
}

#[test]
fn nat_shows_the_routers_address_on_the_wan() {
    let pk = packets("nat", &["--lab-seconds", "5"]);
    let ip = |p: &Value| p["src"].is_string() && p["ip_proto"].is_number();
    let wan: Vec<&Value> = pk.iter().filter(|p| p["iface"] == 1 && ip(p)).collect();
    let lan: Vec<&Value> = pk.iter().filter(|p| p["iface"] == 0 && ip(p)).collect();
    assert!(wan.len() >= 20 && lan.len() >= 20);
    assert!(
        lan.iter().any(|p| p["src"] == "192.168.1.10")
            && lan.iter().any(|p| p["src"] == "192.168.1.11")
    );
    for p in &wan {
        let (s, d) = (p["src"].as_str().unwrap(), p["dst"].as_str().unwrap());
        assert!(
            !s.starts_with("192.168.") && !d.starts_with("192.168."),
            "{p}"
        );
    }
    assert!(wan.iter().any(|p| p["src"] == "203.0.113.1"));
    assert!(wan.iter().any(|p| p["dst"] == "203.0.113.1"));
}

#[test]
fn a_port_forward_reaches_the_server_inside_through_dnat() {
    let pk = packets("port-forward", &["--lab-seconds", "5"]);
    let tcp = |p: &&Value| p["ip_proto"] == 6;
    let wan: Vec<&Value> = pk.iter().filter(|p| p["iface"] == 1).filter(tcp).collect();
    let lan: Vec<&Value> = pk.iter().filter(|p| p["iface"] == 0).filter(tcp).collect();
    // The client asks the router's port; the router forwards to bob's.
    assert!(wan
        .iter()
        .any(|p| p["dst"] == "203.0.113.1" && p["dport"] == 8080));
    assert!(lan
        .iter()
        .any(|p| p["dst"] == "192.168.1.11" && p["dport"] == 80));
    // bob's answers leave the router as from its own port 8080; nothing private on the WAN.
    assert!(wan
        .iter()
        .any(|p| p["src"] == "203.0.113.1" && p["sport"] == 8080));
    for p in &wan {
        assert!(!p["src"].as_str().unwrap().starts_with("192.168."), "{p}");
    }
    let s = stats("port-forward", &["--lab-seconds", "5"]);
    let http = app(&s, "server", "http →");
    assert!(counter(http, "completed") >= 2, "{http}");
    assert!(counter(app(&s, "bob", "http"), "accepted") >= 2);
}

#[test]
fn udp_loses_over_the_lossy_wan_and_tcp_delivers_in_order() {
    let s = stats("udp-vs-tcp", &["--lab-seconds", "10"]);
    let udp = app(&s, "alice", "udp");
    assert!(counter(udp, "lost") > 0, "{udp}");
    assert!(
        counter(udp, "late") + counter(udp, "duplicates") > 0,
        "{udp}"
    );
    let tcp = app(&s, "alice", "tcp stream");
    let hosts = s["lab"]["hosts"].as_array().unwrap();
    let alice = hosts.iter().find(|h| h["host"] == "alice").unwrap();
    assert!(alice["retransmits"].as_u64().unwrap() > 0, "{alice}");
    // Every byte echoed comes back: what is still in flight is at most the last messages.
    let (sent, back) = (counter(tcp, "bytes_sent"), counter(tcp, "bytes_back"));
    assert!(back > 0 && sent - back <= 20 * 200, "{tcp}");
    assert_eq!(counter(tcp, "reset"), 0);
}

#[test]
fn the_lab_run_writes_its_capture() {
    let dir = runnable_bin().parent().unwrap().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.join("handshake.pcapng");
    let _ = std::fs::remove_file(&file);
    let f = file.to_str().unwrap();
    let s = stats("handshake", &["--lab-seconds", "4", "-w", f]);
    let n = s["packets"].as_u64().unwrap();
    let back: Value = serde_json::from_str(
        String::from_utf8(
            Command::new(common::bin())
                .args(["-r", f, "--print", "stats", "--format", "json"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
    )
    .unwrap();
    assert_eq!(back["packets"].as_u64(), Some(n));
    if common::have_tool("tshark") {
        let o = Command::new("tshark")
            .args(["-r", f, "-T", "fields", "-e", "frame.interface_name"])
            .output()
            .unwrap();
        let names = String::from_utf8_lossy(&o.stdout);
        assert!(names.lines().any(|l| l == "lab-lan0"), "{names}");
        assert!(names.lines().any(|l| l == "lab-wan0"), "{names}");
    }
}
